/**
 * A CPU's TLB. One entry per virtual page, tagged with the CPU's TLB generation so that a full
 * flush is one increment. An entry caches the translation, the write permission and the dirty
 * bit, exactly what x86 caches; it stays until this CPU flushes it (locally or on an IPI).
 * Only the owning CPU reads or writes its TLB, so accesses are plain, not atomic.
 *
 * Entry word: pfn << 12 | TLB_DIRTY | TLB_WRITE | TLB_VALID.
 */
import {
  CPU_TLB_GEN,
  HPAGE_PMD_NR,
  NR_PMDS,
  NR_VPAGES,
  PAGE_SHIFT,
  PMD_SHIFT,
  TLB_WORDS,
} from "../machine/layout.js";

const HPAGE_SHIFT = PMD_SHIFT - PAGE_SHIFT;
import type { Cpu } from "../machine/cpu.js";
import { _PAGE_DIRTY, _PAGE_RW } from "./pgtable.js";

export const TLB_VALID = 0x001;
export const TLB_WRITE = _PAGE_RW;
export const TLB_DIRTY = _PAGE_DIRTY;

const TLB_GEN_MAX = 0x3fffffff;

/**
 * The cached translation for virtual page `vpn`, or 0 on a miss: a 4 KiB entry, else a huge
 * entry covering it (its pfn then advanced to the 4 KiB subpage). Notes the slot that hit.
 */
export function tlb_lookup(cpu: Cpu, vpn: number): number {
  const mem = cpu.mem;
  let i = cpu.tlbBase + vpn * TLB_WORDS;
  if (mem[i] === cpu.tlbGen) {
    cpu.tlbSlot = i;
    return mem[i + 1] as number;
  }
  i = cpu.hugeTlbBase + (vpn >>> HPAGE_SHIFT) * TLB_WORDS;
  if (mem[i] === cpu.tlbGen) {
    cpu.tlbSlot = i;
    return (mem[i + 1] as number) + ((vpn & (HPAGE_PMD_NR - 1)) << PAGE_SHIFT);
  }
  return 0;
}

/** Cache a huge translation for the 2 MiB region `pmdIndex`; the entry holds the head pfn. */
export function tlb_fill_huge(cpu: Cpu, pmdIndex: number, entry: number): number {
  const mem = cpu.mem;
  const i = cpu.hugeTlbBase + pmdIndex * TLB_WORDS;
  mem[i] = cpu.tlbGen;
  mem[i + 1] = entry;
  cpu.tlbSlot = i;
  return i;
}

export function tlb_fill(cpu: Cpu, vpn: number, entry: number): void {
  const mem = cpu.mem;
  const i = cpu.tlbBase + vpn * TLB_WORDS;
  mem[i] = cpu.tlbGen;
  mem[i + 1] = entry;
  cpu.tlbSlot = i;
}

/** INVLPG: drop every entry that translates `addr`, a huge one included. */
export function __flush_tlb_single(cpu: Cpu, addr: number): void {
  cpu.mem[cpu.tlbBase + (addr >>> PAGE_SHIFT) * TLB_WORDS] = 0;
  cpu.mem[cpu.hugeTlbBase + (addr >>> PMD_SHIFT) * TLB_WORDS] = 0;
}

/** MOV to CR3: drop every entry of this CPU. */
export function local_flush_tlb(cpu: Cpu): void {
  let gen = cpu.tlbGen + 1;
  if (gen > TLB_GEN_MAX) {
    // Never let a recycled generation revive an entry cached 2^30 flushes ago.
    cpu.mem.fill(0, cpu.tlbBase, cpu.tlbBase + NR_VPAGES * TLB_WORDS);
    cpu.mem.fill(0, cpu.hugeTlbBase, cpu.hugeTlbBase + NR_PMDS * TLB_WORDS);
    gen = 1;
  }
  cpu.tlbGen = gen;
  cpu.mem[cpu.self + CPU_TLB_GEN] = gen;
}
