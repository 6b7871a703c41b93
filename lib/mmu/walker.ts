/**
 * The hardware page walker. On a TLB miss, or on a write through an entry whose cached dirty
 * bit is clear, the CPU walks the page tables and sets Accessed (and Dirty for a write) with a
 * locked read-modify-write of the PTE: here an Atomics.compareExchange. If the PTE changed
 * under it, it walks again; if the PTE is not present, or not writable for a write, the access
 * faults. The walker takes no lock: it races with everything that holds the PTL.
 */
import type { Cpu } from "../machine/cpu.js";
import { PAGE_SHIFT } from "../machine/layout.js";
import {
  _PAGE_ACCESSED,
  _PAGE_DIRTY,
  _PAGE_PRESENT,
  _PAGE_RW,
  PTE_PFN_MASK,
  pmd_offset,
  pte_offset,
} from "./pgtable.js";
import { note_frame_gen } from "./frame_gen.js";
import { TLB_VALID, tlb_fill } from "./tlb.js";

/** Walk for `addr`; on success fill the TLB and return the entry, else return 0 (fault). */
export function walk(cpu: Cpu, addr: number, write: boolean): number {
  const mem = cpu.mem;
  const L = cpu.L;
  const pmd = Atomics.load(mem, pmd_offset(L, addr));
  if ((pmd & _PAGE_PRESENT) === 0) return 0;
  const ptep = pte_offset(L, addr);
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
