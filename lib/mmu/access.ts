/**
 * User-mode loads and stores: what the CPU does for one instruction. They go through the TLB;
 * a store through a cached writable+dirty entry touches no page table at all, which is the
 * whole race: nothing records that write. A store through a writable but clean entry makes the
 * walker set D in the PTE first. Anything else walks, and a walk that fails raises #PF, which
 * also drops this CPU's entry for the address (as x86 does on a page fault).
 */
import type { Cpu } from "../machine/cpu.js";
import { CPU_IPI_PENDING, FRAME_WORDS, PAGE_SHIFT, PAGE_SIZE } from "../machine/layout.js";
import { __do_page_fault } from "../mm/fault.js";
import { FAULT_FLAG_WRITE } from "../mm/memory.js";
import { __flush_tlb_single, TLB_DIRTY, TLB_WRITE, tlb_lookup } from "./tlb.js";
import { check_frame_gen } from "./frame_gen.js";
import { walk } from "./walker.js";
import {
  pmd_offset,
  pte_offset_map,
  _PAGE_DIRTY,
  _PAGE_PRESENT,
  _PAGE_PSE,
  _PAGE_RW,
} from "./pgtable.js";
import { HOOK_TRACE, STEP_STALE_HIT } from "../machine/steps.js";

const word = (addr: number): number => (addr >>> 2) & (FRAME_WORDS - 1);

/** A store of `value` at user address addr. Returns 0, or the signal the store raised. */
export function user_store(cpu: Cpu, addr: number, value: number): number {
  const mem = cpu.mem;
  const vpn = addr >>> PAGE_SHIFT;
  for (;;) {
    if (Atomics.load(mem, cpu.self + CPU_IPI_PENDING) !== 0) cpu.serviceIpis(); // IRQs on
    let e = tlb_lookup(cpu, vpn);
    if (e === 0 || (e & TLB_WRITE) === 0) {
      e = e === 0 ? walk(cpu, addr, true) : 0; // a read-only entry faults without a walk
    } else if ((e & TLB_DIRTY) === 0) {
      e = walk(cpu, addr, true); // set D in the PTE (locked RMW), then cache D = 1
    } else if ((cpu.hooks & HOOK_TRACE) !== 0 && !pte_backs(cpu, addr, e)) {
      cpu.hook(STEP_STALE_HIT, vpn, e >>> PAGE_SHIFT); // the write nothing will record
    }
    if (e !== 0) {
      check_frame_gen(cpu, e >>> PAGE_SHIFT);
      Atomics.store(mem, cpu.L.frame(e >>> PAGE_SHIFT) + word(addr), value);
      return 0;
    }
    // #PF: the CPU drops its own entries for addr. That is why x86 makes
    // flush_tlb_fix_spurious_fault() a no-op (lib/mm/memory.ts): a fault that finds nothing to
    // change retries with a walk, and no other CPU is flushed.
    __flush_tlb_single(cpu, addr);
    const sig = __do_page_fault(cpu, addr, FAULT_FLAG_WRITE);
    if (sig !== 0) return sig;
  }
}

/**
 * Traces only: does the page table still back a writable, dirty TLB entry (a present, writable,
 * dirty PTE for the same frame)? A huge mapping is taken as backed.
 */
function pte_backs(cpu: Cpu, addr: number, e: number): boolean {
  const pmd = Atomics.load(cpu.mem, pmd_offset(cpu.L, addr));
  if ((pmd & _PAGE_PRESENT) === 0) return false;
  if ((pmd & _PAGE_PSE) !== 0) return true;
  const pte = Atomics.load(cpu.mem, pte_offset_map(cpu.L, pmd, addr));
  const want = _PAGE_PRESENT | _PAGE_RW | _PAGE_DIRTY;
  return (pte & want) === want && pte >>> PAGE_SHIFT === e >>> PAGE_SHIFT;
}

/** A load from user address addr. Returns the value; a fault sets cpu.fault to the signal. */
export function user_load(cpu: Cpu, addr: number): number {
  const mem = cpu.mem;
  const vpn = addr >>> PAGE_SHIFT;
  cpu.fault = 0;
  for (;;) {
    if (Atomics.load(mem, cpu.self + CPU_IPI_PENDING) !== 0) cpu.serviceIpis();
    let e = tlb_lookup(cpu, vpn);
    if (e === 0) e = walk(cpu, addr, false);
    if (e !== 0) {
      check_frame_gen(cpu, e >>> PAGE_SHIFT);
      return Atomics.load(mem, cpu.L.frame(e >>> PAGE_SHIFT) + word(addr));
    }
    __flush_tlb_single(cpu, addr);
    const sig = __do_page_fault(cpu, addr, 0);
    if (sig !== 0) {
      cpu.fault = sig;
      return 0;
    }
  }
}

/**
 * The user program reads (or writes `value` to) `pages` pages from addr on, in address order:
 * one user_load or user_store per page, so each fills this CPU's TLB and takes its faults as a
 * single access does. The first fault ends the range: a real program would die of the signal
 * there, so no later page is touched. Returns 0 or that signal. It cannot hang: at most `pages`
 * accesses, each of which ends in a value or a signal.
 */
export function user_touch(
  cpu: Cpu,
  addr: number,
  pages: number,
  write: boolean,
  value: number,
): number {
  for (let i = 0; i < pages; i++) {
    const at = addr + i * PAGE_SIZE;
    if (write) {
      const sig = user_store(cpu, at, value);
      if (sig !== 0) return sig;
    } else {
      user_load(cpu, at);
      if (cpu.fault !== 0) return cpu.fault;
    }
  }
  return 0;
}
