/**
 * eb66ae030829 ("mremap: properly flush TLB before releasing the page", Linus Torvalds,
 * reported by Jann Horn, CVE-2018-18281, Oct 2018, v4.19): move_ptes() flushes whenever it
 * moved any *present* entry, and does so before dropping *either* PTL; the need_flush logic and
 * the final range flush of move_page_tables() are gone.
 *
 * Read from mm/mremap.c and mm/huge_memory.c at v4.19.1 (chens37/linux-4.19.1, Makefile 4.19.1):
 * no LATENCY_LIMIT (Mel Gorman's June 2018 patch, remove-latency-limit.ts, came first), so one
 * move_ptes() per PMD extent and, for a region with present entries, one flush per PMD;
 * move_ptes() calls flush_tlb_batched_pending() once both PTLs are held (3ea277194daa, v4.13).
 */
import type { Cpu } from "../machine/cpu.js";
import { PAGE_SIZE, PMD_MASK, PMD_SIZE } from "../machine/layout.js";
import {
  P_MOVE_PAGE_TABLES_BEFORE_FLUSH,
  P_MOVE_PTES_BEFORE_CLEAR,
  P_MOVE_PTES_LOCKED,
  P_MOVE_PTES_UNLOCKED,
} from "../machine/points.js";
import {
  pmd_mksoft_dirty,
  pmd_present,
  pmd_trans_huge,
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
import {
  alloc_new_pmd,
  get_old_pmd,
  move_huge_pmd_lock,
  pte_alloc,
  split_huge_pmd,
} from "../mm/mremap.js";
import { pmd_lockptr } from "../mm/huge_memory.js";
import { drop_rmap_locks, take_rmap_locks } from "../mm/rmap_locks.js";
import { flush_tlb_batched_pending } from "../mm/tlbbatch.js";
import { spin_lock, spin_unlock } from "../sync/spinlock.js";
import type { Kernel } from "./kernel.js";

/** move_ptes(): caller holds mmap_sem for write. */
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
): void {
  const mem = cpu.mem;
  const L = cpu.L;
  let force_flush = false;
  const len = old_end - old_addr;
  if (need_rmap_locks) take_rmap_locks(cpu, vma);
  // The tables the PMDs point at: neither moves while mmap_sem is held for write.
  const old_pmdval = Atomics.load(mem, old_pmd);
  const new_pmdval = Atomics.load(mem, new_pmd);
  let old_pte = pte_offset_map(L, old_pmdval, old_addr);
  let new_pte = pte_offset_map(L, new_pmdval, new_addr);
  const old_ptl = pte_lockptr(L, old_pmdval);
  spin_lock(cpu, old_ptl);
  const new_ptl = pte_lockptr(L, new_pmdval);
  if (new_ptl !== old_ptl) spin_lock(cpu, new_ptl);
  // 3ea277194daa: reclaim may have cleared a PTE here and deferred its flush (PTLs held).
  flush_tlb_batched_pending(cpu);
  cpu.point(P_MOVE_PTES_LOCKED);
  for (; old_addr < old_end; old_pte++, old_addr += PAGE_SIZE, new_pte++, new_addr += PAGE_SIZE) {
    if (pte_none(ptep_get(mem, old_pte))) continue;
    cpu.point(P_MOVE_PTES_BEFORE_CLEAR);
    let pte = ptep_get_and_clear(mem, old_pte);
    // If we are remapping a valid PTE, make sure to flush TLB before we drop the PTL for the
    // PTE. NOTE! Both old and new PTL matter: the old one for racing with page_mkclean(), the
    // new one to make sure the physical page stays valid until the TLB entry for the old
    // mapping has been flushed.
    if (pte_present(pte)) force_flush = true;
    pte = pte_mksoft_dirty(pte); // move_pte() is the identity on x86; move_soft_dirty_pte()
    set_pte_at(mem, new_pte, pte);
  }
  if (force_flush) flush_tlb_range(cpu, old_end - len, old_end);
  if (new_ptl !== old_ptl) spin_unlock(cpu, new_ptl);
  spin_unlock(cpu, old_ptl);
  cpu.point(P_MOVE_PTES_UNLOCKED);
  if (need_rmap_locks) drop_rmap_locks(cpu, vma);
}

/** mm/huge_memory.c: move_huge_pmd() as of eb66ae030829: flush a present PMD before unlocking. */
export function move_huge_pmd(
  cpu: Cpu,
  old_addr: number,
  new_addr: number,
  old_end: number,
  old_pmd: number,
  new_pmd: number,
): boolean {
  if (!move_huge_pmd_lock(cpu, old_addr, new_addr, old_end, old_pmd, new_pmd)) return false;
  const pmd = Atomics.exchange(cpu.mem, old_pmd, 0); // pmdp_huge_get_and_clear()
  const force_flush = pmd_present(pmd);
  Atomics.store(cpu.mem, new_pmd, pmd_mksoft_dirty(pmd)); // set_pmd_at()
  if (force_flush) flush_tlb_range(cpu, old_addr, old_addr + PMD_SIZE);
  spin_unlock(cpu, pmd_lockptr(cpu));
  return true;
}

export function move_page_tables(
  cpu: Cpu,
  vma: number,
  old_addr: number,
  new_vma: number,
  new_addr: number,
  len: number,
  need_rmap_locks: boolean,
): number {
  const old_end = old_addr + len;
  let extent = 0;
  for (; old_addr < old_end; old_addr += extent, new_addr += extent) {
    let next = (old_addr + PMD_SIZE) & PMD_MASK;
    extent = next - old_addr;
    if (extent > old_end - old_addr) extent = old_end - old_addr;
    const old_pmd = get_old_pmd(cpu, old_addr);
    if (old_pmd < 0) continue;
    const new_pmd = alloc_new_pmd(cpu, new_addr);
    if (pmd_trans_huge(Atomics.load(cpu.mem, old_pmd))) {
      if (extent === PMD_SIZE) {
        if (need_rmap_locks) take_rmap_locks(cpu, vma);
        const moved = move_huge_pmd(cpu, old_addr, new_addr, old_end, old_pmd, new_pmd);
        if (need_rmap_locks) drop_rmap_locks(cpu, vma);
        if (moved) continue;
      }
      split_huge_pmd(cpu, vma, old_pmd, old_addr);
    }
    pte_alloc(cpu, new_pmd);
    next = (new_addr + PMD_SIZE) & PMD_MASK;
    if (extent > next - new_addr) extent = next - new_addr; // no LATENCY_LIMIT since June 2018
    move_ptes(
      cpu,
      vma,
      old_pmd,
      old_addr,
      old_addr + extent,
      new_vma,
      new_pmd,
      new_addr,
      need_rmap_locks,
    );
  }
  cpu.point(P_MOVE_PAGE_TABLES_BEFORE_FLUSH); // no final flush: every move_ptes() flushed itself
  return len + old_addr - old_end;
}

export const eb66ae030829: Kernel = {
  name: "eb66ae030829",
  commit: "eb66ae030829605d61fbef1909ce310e29f78821",
  title: "mremap: properly flush TLB before releasing the page",
  summary:
    "move_ptes() flushes if any present PTE moved, before dropping either PTL; no need_flush, no final flush; one move_ptes() per PMD extent",
  batchedUnmapFlush: true,
  flushBatchedPending: true,
  move_page_tables,
  zap_pte_range,
};
