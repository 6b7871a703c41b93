/**
 * mm/mremap.c after 5d1904204c99 ("mremap: fix race between mremap() and page cleanning",
 * Aaron Lu, v4.9-rc5): move_ptes() notes whether any moved entry was dirty and, if so, flushes
 * the old range *before dropping the old PTL*, so page_mkclean(), which must take that PTL to
 * look at the old address, cannot finish while a stale dirty entry survives. Otherwise it sets
 * need_flush and the one range flush at the end of move_page_tables() remains.
 *
 * The diff against v4.9-rc4.ts is the commit's diff. Two windows stay open (see the catalog):
 * the dirty bit is tested *before* ptep_get_and_clear(), and the flush comes after the *new*
 * PTL is dropped (CVE-2018-18281, closed by eb66ae030829).
 *
 * Read as v4.9's mm/mremap.c and mm/huge_memory.c (pengdonglin137/linux-4.9) with Aaron Lu's
 * follow-up undone: that follow-up's diff (linux-mm, 29 Nov 2016) is against this version
 * (mm/mremap.c 6ccecc03f56a, mm/huge_memory.c eff3de359d50) and only moves the dirty test.
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
  pmd_dirty,
  pmd_mksoft_dirty,
  pmd_present,
  pmd_trans_huge,
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
import {
  alloc_new_pmd,
  get_old_pmd,
  LATENCY_LIMIT,
  move_huge_pmd_lock,
  pte_alloc,
  split_huge_pmd,
} from "../mm/mremap.js";
import { pmd_lockptr } from "../mm/huge_memory.js";
import { drop_rmap_locks, take_rmap_locks } from "../mm/rmap_locks.js";
import { spin_lock, spin_unlock } from "../sync/spinlock.js";
import { zap_pte_range } from "../mm/memory.js";
import {
  HUGE_MOVED_FLUSHED,
  HUGE_MOVED_NEED_FLUSH,
  HUGE_NOT_MOVED,
  type Kernel,
  type MoveHugePmd,
  type MovePtes,
} from "./kernel.js";

/** move_ptes(): caller holds mmap_sem for write. Returns the value it stores in *need_flush. */
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
  cpu.point(P_MOVE_PTES_LOCKED);
  for (; old_addr < old_end; old_pte++, old_addr += PAGE_SIZE, new_pte++, new_addr += PAGE_SIZE) {
    if (pte_none(ptep_get(mem, old_pte))) continue;
    // We are remapping a dirty PTE, make sure to flush TLB before we drop the PTL for the old
    // PTE or we may race with page_mkclean().
    const cur = ptep_get(mem, old_pte);
    if (pte_present(cur) && pte_dirty(cur)) force_flush = true;
    // The window: a CPU with a writable, still clean entry can set D right here.
    cpu.point(P_MOVE_PTES_BEFORE_CLEAR);
    let pte = ptep_get_and_clear(mem, old_pte);
    // move_pte() is the identity on x86
    pte = pte_mksoft_dirty(pte); // move_soft_dirty_pte()
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

/**
 * mm/huge_memory.c: move_huge_pmd() as of 5d1904204c99: like move_ptes(), flush a dirty huge
 * PMD before dropping the PMD lock; report need_flush otherwise.
 */
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
  const cur = Atomics.load(cpu.mem, old_pmd);
  const force_flush = pmd_present(cur) && pmd_dirty(cur);
  const pmd = Atomics.exchange(cpu.mem, old_pmd, 0); // pmdp_huge_get_and_clear()
  Atomics.store(cpu.mem, new_pmd, pmd_mksoft_dirty(pmd)); // set_pmd_at()
  if (force_flush) flush_tlb_range(cpu, old_addr, old_addr + PMD_SIZE);
  spin_unlock(cpu, pmd_lockptr(cpu));
  return force_flush ? HUGE_MOVED_FLUSHED : HUGE_MOVED_NEED_FLUSH;
}

/**
 * move_page_tables() as of 5d1904204c99 (and of v4.9 and v4.13), over the move_ptes() given: the
 * final range flush happens only if some extent did not flush for itself. Each move_ptes() call
 * covers at most `latency_limit` bytes (LATENCY_LIMIT, 64 pages), or, with null (Mel Gorman's
 * "mremap: Remove LATENCY_LIMIT...", June 2018), the whole extent: up to the end of the old
 * address's PMD and of the new address's PMD.
 */
export const make_move_page_tables = (
  move_ptes: MovePtes,
  move_huge_pmd: MoveHugePmd,
  latency_limit: number | null = LATENCY_LIMIT,
): Kernel["move_page_tables"] =>
  function move_page_tables(
    cpu: Cpu,
    vma: number,
    old_addr: number,
    new_vma: number,
    new_addr: number,
    len: number,
    need_rmap_locks: boolean,
  ): number {
    const old_end = old_addr + len;
    let need_flush = false;
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
          if (moved === HUGE_MOVED_NEED_FLUSH) need_flush = true;
          if (moved !== HUGE_NOT_MOVED) continue;
        }
        split_huge_pmd(cpu, vma, old_pmd, old_addr);
      }
      pte_alloc(cpu, new_pmd);
      next = (new_addr + PMD_SIZE) & PMD_MASK;
      if (extent > next - new_addr) extent = next - new_addr;
      if (latency_limit !== null && extent > latency_limit) extent = latency_limit;
      if (
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
        )
      ) {
        need_flush = true;
      }
    }
    cpu.point(P_MOVE_PAGE_TABLES_BEFORE_FLUSH);
    if (need_flush) flush_tlb_range(cpu, old_end - len, old_addr);
    return len + old_addr - old_end;
  };

export const k5d1904204c99: Kernel = {
  name: "5d1904204c99",
  commit: "5d1904204c99596b50a700f092fe49d78edba400",
  title: "mremap: fix race between mremap() and page cleanning",
  summary:
    "move_ptes() flushes before dropping the old PTL if any moved PTE was dirty (tested before ptep_get_and_clear); need_flush otherwise",
  batchedUnmapFlush: true,
  flushBatchedPending: false,
  move_page_tables: make_move_page_tables(move_ptes, move_huge_pmd),
  zap_pte_range,
};
