/**
 * A CPU's TLB. One entry per virtual page, tagged with the CPU's TLB generation so that a full
 * flush is one increment. An entry caches the translation, the write permission and the dirty
 * bit, exactly what x86 caches; it stays until this CPU flushes it (locally or on an IPI).
 * Only the owning CPU reads or writes its TLB, so accesses are plain, not atomic.
 *
 * Entry word: pfn << 12 | TLB_DIRTY | TLB_WRITE | TLB_VALID.
 */
import { NR_VPAGES, TLB_WORDS, CPU_TLB_GEN, PAGE_SHIFT } from "../machine/layout.js";
import type { Cpu } from "../machine/cpu.js";
import { _PAGE_DIRTY, _PAGE_RW } from "./pgtable.js";

export const TLB_VALID = 0x001;
export const TLB_WRITE = _PAGE_RW;
export const TLB_DIRTY = _PAGE_DIRTY;

const TLB_GEN_MAX = 0x3fffffff;

/** The cached entry for virtual page `vpn`, or 0 on a miss. */
export function tlb_lookup(cpu: Cpu, vpn: number): number {
  const mem = cpu.mem;
  const i = cpu.tlbBase + vpn * TLB_WORDS;
  return mem[i] === cpu.tlbGen ? (mem[i + 1] as number) : 0;
}

export function tlb_fill(cpu: Cpu, vpn: number, entry: number): void {
  const mem = cpu.mem;
  const i = cpu.tlbBase + vpn * TLB_WORDS;
  mem[i] = cpu.tlbGen;
  mem[i + 1] = entry;
}

/** INVLPG: drop the entry for one address. */
export function __flush_tlb_single(cpu: Cpu, addr: number): void {
  cpu.mem[cpu.tlbBase + (addr >>> PAGE_SHIFT) * TLB_WORDS] = 0;
}

/** MOV to CR3: drop every entry of this CPU. */
export function local_flush_tlb(cpu: Cpu): void {
  let gen = cpu.tlbGen + 1;
  if (gen > TLB_GEN_MAX) {
    // Never let a recycled generation revive an entry cached 2^30 flushes ago.
    cpu.mem.fill(0, cpu.tlbBase, cpu.tlbBase + NR_VPAGES * TLB_WORDS);
    gen = 1;
  }
  cpu.tlbGen = gen;
  cpu.mem[cpu.self + CPU_TLB_GEN] = gen;
}
