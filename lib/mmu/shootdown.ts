/**
 * TLB shootdown, as arch/x86/mm/tlb.c does it in v4.9: flush_tlb_mm_range() flushes the local
 * TLB (page by page up to tlb_single_page_flush_ceiling pages, else all of it), then sends a
 * flush IPI to every other CPU in mm_cpumask and waits synchronously for every ack
 * (smp_call_function_many(..., wait = 1)). Each CPU has one outstanding request at a time, so
 * the request lives in the initiator's per-CPU block and a target's mailbox is a bitmask of
 * initiators.
 */
import { STEP_IPI_SEND, STEP_IPI_SERVE } from "../machine/steps.js";
import type { Cpu } from "../machine/cpu.js";
import {
  CPU_FLUSH_ACKS,
  CPU_FLUSH_END,
  CPU_FLUSH_START,
  CPU_IPI_PENDING,
  CPU_WORDS,
  PAGE_SHIFT,
  PAGE_SIZE,
} from "../machine/layout.js";
import { WAIT_TLB_ACK } from "../sync/waiter.js";
import { __flush_tlb_single, local_flush_tlb } from "./tlb.js";

export const TLB_FLUSH_ALL = -1;
/** arch/x86/mm/tlb.c: tlb_single_page_flush_ceiling (the default of Cpu.flushCeiling). */
export const tlb_single_page_flush_ceiling = 33;
/**
 * arch/arm64/include/asm/tlbflush.h (v4.9): MAX_TLB_RANGE = 1024 pages. __flush_tlb_range()
 * invalidates page by page (TLBI VAE1IS) up to it, so a 2 MiB range flush stays a range flush.
 */
export const ARM64_MAX_TLB_RANGE_PAGES = 1024;

/** flush_tlb_func(): what a target CPU runs on the IPI. */
export function flush_tlb_func(cpu: Cpu, start: number, end: number): void {
  if (end === TLB_FLUSH_ALL) {
    local_flush_tlb(cpu);
  } else {
    for (let addr = start; addr < end; addr += PAGE_SIZE) __flush_tlb_single(cpu, addr);
  }
}

/** Answer every pending flush IPI, then ack each initiator. Called from every wait. */
export function service_flush_ipis(cpu: Cpu): void {
  const mem = cpu.mem;
  let senders = Atomics.exchange(mem, cpu.self + CPU_IPI_PENDING, 0);
  while (senders !== 0) {
    const bit = senders & -senders;
    senders ^= bit;
    const from = 31 - Math.clz32(bit);
    const req = cpu.percpu + from * CPU_WORDS;
    const start = Atomics.load(mem, req + CPU_FLUSH_START);
    const end = Atomics.load(mem, req + CPU_FLUSH_END);
    if (cpu.hooks !== 0) cpu.hook(STEP_IPI_SERVE, from, ipi_pages(start, end));
    flush_tlb_func(cpu, start, end);
    cpu.ipisServed++;
    if (Atomics.sub(mem, req + CPU_FLUSH_ACKS, 1) === 1) cpu.ring(from);
  }
}

/** native_flush_tlb_others(): IPI every CPU in `mask` but this one and wait for all acks. */
export function flush_tlb_others(cpu: Cpu, mask: number, start: number, end: number): void {
  const mem = cpu.mem;
  const self = cpu.self;
  const targets = mask & ~(1 << cpu.id);
  if (targets === 0) return;
  if (cpu.hooks !== 0) cpu.hook(STEP_IPI_SEND, targets, ipi_pages(start, end));
  Atomics.store(mem, self + CPU_FLUSH_START, start);
  Atomics.store(mem, self + CPU_FLUSH_END, end);
  Atomics.store(mem, self + CPU_FLUSH_ACKS, popcount(targets));
  for (let m = targets; m !== 0;) {
    const bit = m & -m;
    m ^= bit;
    const t = 31 - Math.clz32(bit);
    Atomics.or(mem, cpu.percpu + t * CPU_WORDS + CPU_IPI_PENDING, 1 << cpu.id);
    cpu.ring(t);
    cpu.ipisSent++;
  }
  if (Atomics.load(mem, self + CPU_FLUSH_ACKS) === 0) return;
  cpu.waitBegin(WAIT_TLB_ACK, self + CPU_FLUSH_ACKS);
  for (let s = 0; Atomics.load(mem, self + CPU_FLUSH_ACKS) !== 0;) s = cpu.relax(s);
  cpu.waitEnd();
}

/** A flush's size for traces: pages, or 0 for a full flush. */
const ipi_pages = (start: number, end: number): number =>
  end === TLB_FLUSH_ALL ? 0 : (end - start) >>> PAGE_SHIFT;

function popcount(x: number): number {
  let n = 0;
  for (let m = x; m !== 0; m &= m - 1) n++;
  return n;
}

/** flush_tlb_mm_range(): local flush first, then the others (v4.9 order). */
export function flush_tlb_mm_range(cpu: Cpu, start: number, end: number): void {
  cpu.flushes++;
  let base_pages_to_flush = TLB_FLUSH_ALL;
  if (end !== TLB_FLUSH_ALL) base_pages_to_flush = (end - start) >>> PAGE_SHIFT;
  if (base_pages_to_flush === TLB_FLUSH_ALL || base_pages_to_flush > cpu.flushCeiling) {
    base_pages_to_flush = TLB_FLUSH_ALL;
    local_flush_tlb(cpu);
  } else {
    for (let addr = start; addr < end; addr += PAGE_SIZE) __flush_tlb_single(cpu, addr);
  }
  if (base_pages_to_flush === TLB_FLUSH_ALL) {
    start = 0;
    end = TLB_FLUSH_ALL;
  }
  flush_tlb_others(cpu, Atomics.load(cpu.mem, cpu.L.mmCpumask), start, end);
}

/** flush_tlb_range(vma, start, end): the one mm of the machine. */
export function flush_tlb_range(cpu: Cpu, start: number, end: number): void {
  flush_tlb_mm_range(cpu, start, end);
}

/** flush_tlb_page(vma, addr). */
export function flush_tlb_page(cpu: Cpu, addr: number): void {
  flush_tlb_mm_range(cpu, addr, addr + PAGE_SIZE);
}
