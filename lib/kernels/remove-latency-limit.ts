/**
 * "mremap: Remove LATENCY_LIMIT from mremap to reduce the number of TLB shootdowns" (Mel Gorman,
 * linux-mm, 6 June 2018, <20180606183803.k7qaw2xnbvzshv34@techsingularity.net>; acked by
 * Vlastimil Babka and Michal Hocko; in mmotm 2018-06-14-16-20 as
 * mremap-remove-latency_limit-from-mremap-to-reduce-the-number-of-tlb-shootdowns.patch). No
 * commit hash is known here; mm/mremap.c at v4.19.1 (chens37/linux-4.19.1) has no LATENCY_LIMIT.
 *
 * The patch, against 4.17, only deletes `#define LATENCY_LIMIT (64 * PAGE_SIZE)` and the two
 * lines that clamped each move_ptes() extent to it. An extent now runs to the end of the old
 * address's PMD and of the new address's PMD: with the seed fix's flush before the old PTL is
 * dropped, a dirty region costs one shootdown per PMD (512 pages) instead of one per 64 pages,
 * "a factor of 8 in the ideal case". The thread: a customer's mremap-heavy microbenchmark lost
 * 30-50% with 5d1904204c99; this won much of it back.
 *
 * move_ptes() is v4.13's: v4.9's (clear, then test D; flush after the new PTL is dropped, under
 * the old one) plus 3ea277194daa's flush_tlb_batched_pending() once both PTLs are held. Read
 * from mm/mremap.c at v4.13.9 (kinmax/linux-4.13.19, Makefile 4.13.9), which has that call and
 * still has LATENCY_LIMIT; move_huge_pmd() is v4.9's (mm/huge_memory.c at v4.9 and v4.13.9).
 */
import type { Cpu } from "../machine/cpu.js";
import { PAGE_SIZE } from "../machine/layout.js";
import {
  P_MOVE_PTES_BEFORE_CLEAR,
  P_MOVE_PTES_LOCKED,
  P_MOVE_PTES_UNLOCKED,
} from "../machine/points.js";
import {
  pte_dirty,
  pte_lockptr,
  pte_mksoft_dirty,
  pte_none,
  pte_offset,
  pte_present,
} from "../mmu/pgtable.js";
import { flush_tlb_range } from "../mmu/shootdown.js";
import { zap_pte_range } from "../mm/memory.js";
import { drop_rmap_locks, take_rmap_locks } from "../mm/rmap_locks.js";
import { flush_tlb_batched_pending } from "../mm/tlbbatch.js";
import { spin_lock, spin_unlock } from "../sync/spinlock.js";
import { make_move_page_tables } from "./5d1904204c99.js";
import type { Kernel } from "./kernel.js";
import { move_huge_pmd } from "./v4.9.js";

/**
 * move_ptes() as of v4.13 (mm/mremap.c v4.13.9): caller holds mmap_sem for write. Returns the
 * value it stores in *need_flush.
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
  const old_ptl = pte_lockptr(L, old_pmd);
  spin_lock(cpu, old_ptl);
  const new_ptl = pte_lockptr(L, new_pmd);
  if (new_ptl !== old_ptl) spin_lock(cpu, new_ptl);
  // 3ea277194daa: reclaim may have cleared a PTE here and deferred its flush (PTLs held).
  flush_tlb_batched_pending(cpu);
  cpu.point(P_MOVE_PTES_LOCKED);
  for (; old_addr < old_end; old_addr += PAGE_SIZE, new_addr += PAGE_SIZE) {
    const old_pte = pte_offset(L, old_addr);
    if (pte_none(Atomics.load(mem, old_pte))) continue;
    cpu.point(P_MOVE_PTES_BEFORE_CLEAR); // a hardware D update here is harmless
    let pte = Atomics.exchange(mem, old_pte, 0); // ptep_get_and_clear()
    // If we are remapping a dirty PTE, make sure to flush TLB before we drop the PTL for the
    // old PTE or we may race with page_mkclean(). This check has to be done after we removed
    // the old PTE from page tables or another thread may dirty it after the check and before
    // the removal.
    if (pte_present(pte) && pte_dirty(pte)) force_flush = true;
    pte = pte_mksoft_dirty(pte); // move_pte() is the identity on x86; move_soft_dirty_pte()
    Atomics.store(mem, pte_offset(L, new_addr), pte); // set_pte_at()
  }
  if (new_ptl !== old_ptl) spin_unlock(cpu, new_ptl);
  // Old PTL still held: page_mkclean() cannot look at the old address until this is done.
  if (force_flush) flush_tlb_range(cpu, old_end - len, old_end);
  spin_unlock(cpu, old_ptl); // pte_unmap_unlock()
  cpu.point(P_MOVE_PTES_UNLOCKED);
  if (need_rmap_locks) drop_rmap_locks(cpu, vma);
  return !force_flush;
}

export const removeLatencyLimit: Kernel = {
  name: "remove-latency-limit",
  commit:
    "mmotm 2018-06-14: mremap: Remove LATENCY_LIMIT from mremap to reduce the number of TLB shootdowns",
  title:
    "mremap: Remove LATENCY_LIMIT from mremap to reduce the number of TLB shootdowns (Mel Gorman, June 2018)",
  summary:
    "move_page_tables() calls move_ptes() per PMD extent, not per 64 pages: a dirty region flushes once per PMD, 8x fewer shootdowns; move_ptes() as v4.13 (v4.9's plus flush_tlb_batched_pending())",
  batchedUnmapFlush: true,
  flushBatchedPending: true,
  move_page_tables: make_move_page_tables(move_ptes, move_huge_pmd, null),
  zap_pte_range,
};
