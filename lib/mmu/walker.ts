/**
 * The hardware page walker. On a TLB miss, or on a write through an entry whose cached dirty
 * bit is clear, the CPU walks the page tables and sets Accessed (and Dirty for a write) with a
 * locked read-modify-write of the PTE: here an Atomics.compareExchange. If the PTE changed
 * under it, it walks again; if the PTE is not present, or not writable for a write, the access
 * faults. The walker takes no lock: it races with everything that holds the PTL.
 */
import type { Cpu } from "../machine/cpu.js";
import { HPAGE_PMD_NR, PAGE_SHIFT, PMD_SHIFT } from "../machine/layout.js";
import {
  _PAGE_ACCESSED,
  _PAGE_DIRTY,
  _PAGE_PRESENT,
  _PAGE_PSE,
  _PAGE_RW,
  PTE_PFN_MASK,
  pmd_offset,
  pte_offset_map,
} from "./pgtable.js";
import { note_frame_gen, note_frame_gen_slot } from "./frame_gen.js";
import { TLB_VALID, tlb_fill, tlb_fill_huge } from "./tlb.js";

/** Walk for `addr`; on success fill the TLB and return the entry, else return 0 (fault). */
export function walk(cpu: Cpu, addr: number, write: boolean): number {
  const mem = cpu.mem;
  const L = cpu.L;
  const pmdp = pmd_offset(L, addr);
  const pmd = Atomics.load(mem, pmdp);
  if ((pmd & _PAGE_PRESENT) === 0) return 0;
  if ((pmd & _PAGE_PSE) !== 0) return walk_huge(cpu, pmdp, addr, write);
  const ptep = pte_offset_map(L, pmd, addr);
  for (;;) {
    const pte = Atomics.load(mem, ptep);
    if ((pte & _PAGE_PRESENT) === 0) return 0;
    if (write && (pte & _PAGE_RW) === 0) return 0;
    const want = pte | _PAGE_ACCESSED | (write ? _PAGE_DIRTY : 0);
    if (want !== pte && Atomics.compareExchange(mem, ptep, pte, want) !== pte) continue;
    const entry = (want & PTE_PFN_MASK) | (want & (_PAGE_RW | _PAGE_DIRTY)) | TLB_VALID;
    tlb_fill(cpu, addr >>> PAGE_SHIFT, entry);
    note_frame_gen(cpu, addr >>> PAGE_SHIFT, want >>> PAGE_SHIFT);
    return entry;
  }
}

/**
 * A huge PMD maps 2 MiB: A/D are set on the PMD entry itself, and the TLB caches one huge
 * entry for the whole region. Returns the entry translated for addr's 4 KiB subpage.
 */
function walk_huge(cpu: Cpu, pmdp: number, addr: number, write: boolean): number {
  const mem = cpu.mem;
  for (;;) {
    const pmd = Atomics.load(mem, pmdp);
    if ((pmd & _PAGE_PRESENT) === 0 || (pmd & _PAGE_PSE) === 0) return 0; // changed: walk again via fault
    if (write && (pmd & _PAGE_RW) === 0) return 0;
    const want = pmd | _PAGE_ACCESSED | (write ? _PAGE_DIRTY : 0);
    if (want !== pmd && Atomics.compareExchange(mem, pmdp, pmd, want) !== pmd) continue;
    const head = want >>> PAGE_SHIFT;
    const entry = (want & PTE_PFN_MASK) | (want & (_PAGE_RW | _PAGE_DIRTY)) | TLB_VALID;
    const slot = tlb_fill_huge(cpu, addr >>> PMD_SHIFT, entry);
    note_frame_gen_slot(cpu, slot, head);
    return entry + (((addr >>> PAGE_SHIFT) & (HPAGE_PMD_NR - 1)) << PAGE_SHIFT);
  }
}
