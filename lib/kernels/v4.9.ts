/**
 * Linux 4.9: mm/mremap.c and mm/huge_memory.c with Aaron Lu's follow-up to 5d1904204c99,
 * "[PATCH update] mremap: move_ptes: check pte dirty after its removal" (suggested by Linus
 * Torvalds, linux-mm, 29 Nov 2016, <ccf33e20-5126-15c5-a036-918d7a94344b@intel.com>): test the
 * dirty bit of the value ptep_get_and_clear() returned, not of the PTE before it. A CPU with a
 * writable, clean entry can set D between a test and the clear; once the entry is cleared,
 * nobody can. The commit hash was not found in the sources at hand; the patch is in Linux 4.9
 * final, so the variant is named for the release.
 *
 * Read from mm/mremap.c and mm/huge_memory.c at v4.9 (pengdonglin137/linux-4.9, Makefile 4.9.0;
 * its mm/huge_memory.c is blob d4a6e4001512, the patch's post-image): move_ptes() clears, then
 * tests; the flush is still after the new PTL is dropped, under the old one; else *need_flush.
 * move_page_tables() is 5d1904204c99's: LATENCY_LIMIT (64 pages) per move_ptes(), the final
 * range flush only if some extent did not flush for itself.
 */
import type { Cpu } from "../machine/cpu.js";
import { PAGE_SIZE, PMD_SIZE } from "../machine/layout.js";
import {
  P_MOVE_PTES_BEFORE_CLEAR,
  P_MOVE_PTES_LOCKED,
  P_MOVE_PTES_UNLOCKED,
} from "../machine/points.js";
import {
  pmd_dirty,
  pmd_mksoft_dirty,
  pmd_present,
  pte_dirty,
  pte_lockptr,
  pte_mksoft_dirty,
  pte_none,
  pte_offset_map,
  ptep_get,
  ptep_get_and_clear,
  set_pte_at,
  pte_present,
} from "../mmu/pgtable.js";
import { flush_tlb_range } from "../mmu/shootdown.js";
import { zap_pte_range } from "../mm/memory.js";
import { drop_rmap_locks, take_rmap_locks } from "../mm/rmap_locks.js";
import { spin_lock, spin_unlock } from "../sync/spinlock.js";
import { flush_tlb_batched_pending } from "../mm/tlbbatch.js";
import { make_move_page_tables } from "./5d1904204c99.js";
import {
  HUGE_MOVED_FLUSHED,
  HUGE_MOVED_NEED_FLUSH,
  HUGE_NOT_MOVED,
  type Kernel,
} from "./kernel.js";
import { move_huge_pmd_lock } from "../mm/mremap.js";
import { pmd_lockptr } from "../mm/huge_memory.js";

/**
 * move_ptes(): caller holds mmap_sem for write. Returns the value it stores in *need_flush. The
 * v4.13 move_ptes() of 3ea277194daa and remove-latency-limit is this one plus the
 * flush_tlb_batched_pending() call, which the kernel flag gates.
 */
export function move_ptes(
  cpu: Cpu,
  vma: number,
  old_pmd: number,
  old_addr: number,
  old_end: number,
  _new_vma: number,
  new_pmd: number,
  new_addr: number,
  need_rmap_locks: boolean,
): boolean {
  const mem = cpu.mem;
  const L = cpu.L;
  let force_flush = false;
  const len = old_end - old_addr;
  if (need_rmap_locks) take_rmap_locks(cpu, vma);
  // We don't have to worry about the ordering of src and dst pte locks because exclusive
  // mmap_sem prevents deadlock.
  // The tables the PMDs point at: neither moves while mmap_sem is held for write.
  const old_pmdval = Atomics.load(mem, old_pmd);
  const new_pmdval = Atomics.load(mem, new_pmd);
  let old_pte = pte_offset_map(L, old_pmdval, old_addr);
  let new_pte = pte_offset_map(L, new_pmdval, new_addr);
  const old_ptl = pte_lockptr(L, old_pmdval);
  spin_lock(cpu, old_ptl);
  const new_ptl = pte_lockptr(L, new_pmdval);
  if (new_ptl !== old_ptl) spin_lock(cpu, new_ptl);
  // From 3ea277194daa (v4.13, mm/mremap.c v4.13.9) on: reclaim may have cleared a PTE here and
  // deferred its flush (both PTLs held). A no-op before that commit (kernel.flushBatchedPending).
  flush_tlb_batched_pending(cpu);
  cpu.point(P_MOVE_PTES_LOCKED);
  for (; old_addr < old_end; old_pte++, old_addr += PAGE_SIZE, new_pte++, new_addr += PAGE_SIZE) {
    if (pte_none(ptep_get(mem, old_pte))) continue;
    cpu.point(P_MOVE_PTES_BEFORE_CLEAR); // a hardware D update here is harmless
    let pte = ptep_get_and_clear(mem, old_pte);
    // If we are remapping a dirty PTE, make sure to flush TLB before we drop the PTL for the
    // old PTE or we may race with page_mkclean(). This check has to be done after we removed
    // the old PTE from page tables or another thread may dirty it after the check and before
    // the removal.
    if (pte_present(pte) && pte_dirty(pte)) force_flush = true;
    pte = pte_mksoft_dirty(pte); // move_pte() is the identity on x86; move_soft_dirty_pte()
    set_pte_at(mem, new_pte, pte);
  }
  if (new_ptl !== old_ptl) spin_unlock(cpu, new_ptl);
  // Old PTL still held: page_mkclean() cannot look at the old address until this is done.
  if (force_flush) flush_tlb_range(cpu, old_end - len, old_end);
  spin_unlock(cpu, old_ptl); // pte_unmap_unlock()
  cpu.point(P_MOVE_PTES_UNLOCKED);
  if (need_rmap_locks) drop_rmap_locks(cpu, vma);
  return !force_flush;
}

/** mm/huge_memory.c: move_huge_pmd() as of v4.9, with the same follow-up: test the cleared PMD. */
export function move_huge_pmd(
  cpu: Cpu,
  old_addr: number,
  new_addr: number,
  old_end: number,
  old_pmd: number,
  new_pmd: number,
): number {
  if (!move_huge_pmd_lock(cpu, old_addr, new_addr, old_end, old_pmd, new_pmd))
    return HUGE_NOT_MOVED;
  const pmd = Atomics.exchange(cpu.mem, old_pmd, 0); // pmdp_huge_get_and_clear()
  const force_flush = pmd_present(pmd) && pmd_dirty(pmd);
  Atomics.store(cpu.mem, new_pmd, pmd_mksoft_dirty(pmd)); // set_pmd_at()
  if (force_flush) flush_tlb_range(cpu, old_addr, old_addr + PMD_SIZE);
  spin_unlock(cpu, pmd_lockptr(cpu));
  return force_flush ? HUGE_MOVED_FLUSHED : HUGE_MOVED_NEED_FLUSH;
}

export const v4_9: Kernel = {
  name: "v4.9",
  commit: "v4.9",
  title: 'Linux 4.9, with "mremap: move_ptes: check pte dirty after its removal" (Aaron Lu)',
  summary:
    "move_ptes() tests the dirty bit of the value ptep_get_and_clear() returned; flush still after the new PTL is dropped",
  batchedUnmapFlush: true,
  flushBatchedPending: false,
  move_page_tables: make_move_page_tables(move_ptes, move_huge_pmd),
  zap_pte_range,
};
