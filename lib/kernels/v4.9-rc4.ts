/**
 * mm/mremap.c as of v4.9-rc4, before 5d1904204c99: move_ptes() moves the entries and drops
 * the PTLs; the TLB flush for the old range comes once, at the end of move_page_tables().
 * Between the two, another CPU can still write through a stale writable+dirty entry for the
 * old address, and page_mkclean() can clean the page meanwhile: the write is lost.
 *
 * Read from mm/mremap.c and mm/huge_memory.c at v4.8.17 (raminfp/linux-4.8.0-netfilter_icmp,
 * Makefile 4.8.17), whose move_ptes(), move_page_tables() (LATENCY_LIMIT, 64 pages per
 * move_ptes(); need_flush set by every extent) and move_huge_pmd() match the pre-image of
 * 5d1904204c99's diff as Aaron Lu posted it (linux-mm, 17 Nov 2016).
 */
import type { Cpu } from "../machine/cpu.js";
import { PAGE_SIZE, PMD_MASK, PMD_SIZE } from "../machine/layout.js";
import {
  P_MOVE_PAGE_TABLES_BEFORE_FLUSH,
  P_MOVE_PTES_LOCKED,
  P_MOVE_PTES_UNLOCKED,
} from "../machine/points.js";
import {
  pmd_mksoft_dirty,
  pmd_trans_huge,
  pte_lockptr,
  pte_mksoft_dirty,
  pte_none,
  pte_offset_map,
  ptep_get,
  ptep_get_and_clear,
  set_pte_at,
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
import type { Kernel } from "./kernel.js";

/** move_ptes(): caller holds mmap_sem for write. */
function move_ptes(
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
    let pte = ptep_get_and_clear(mem, old_pte);
    // move_pte() is the identity on x86
    pte = pte_mksoft_dirty(pte); // move_soft_dirty_pte()
    set_pte_at(mem, new_pte, pte);
  }
  if (new_ptl !== old_ptl) spin_unlock(cpu, new_ptl);
  spin_unlock(cpu, old_ptl); // pte_unmap_unlock(): the old PTE is gone, its TLB entries are not
  cpu.point(P_MOVE_PTES_UNLOCKED);
  if (need_rmap_locks) drop_rmap_locks(cpu, vma);
}

/** mm/huge_memory.c: move_huge_pmd() as of v4.9-rc4: no flush here, the caller flushes at the end. */
function move_huge_pmd(
  cpu: Cpu,
  old_addr: number,
  new_addr: number,
  old_end: number,
  old_pmd: number,
  new_pmd: number,
): boolean {
  if (!move_huge_pmd_lock(cpu, old_addr, new_addr, old_end, old_pmd, new_pmd)) return false;
  const pmd = Atomics.exchange(cpu.mem, old_pmd, 0); // pmdp_huge_get_and_clear()
  Atomics.store(cpu.mem, new_pmd, pmd_mksoft_dirty(pmd)); // set_pmd_at()
  spin_unlock(cpu, pmd_lockptr(cpu)); // old and new PMD share the PMD table's lock
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
        if (moved) {
          need_flush = true;
          continue;
        }
      }
      split_huge_pmd(cpu, vma, old_pmd, old_addr);
    }
    pte_alloc(cpu, new_pmd);
    next = (new_addr + PMD_SIZE) & PMD_MASK;
    if (extent > next - new_addr) extent = next - new_addr;
    if (extent > LATENCY_LIMIT) extent = LATENCY_LIMIT;
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
    need_flush = true;
  }
  cpu.point(P_MOVE_PAGE_TABLES_BEFORE_FLUSH);
  if (need_flush) flush_tlb_range(cpu, old_end - len, old_addr);
  return len + old_addr - old_end;
}

export const v4_9_rc4: Kernel = {
  name: "v4.9-rc4",
  commit: "v4.9-rc4",
  title: "Linux 4.9-rc4, before 5d1904204c99",
  summary:
    "move_page_tables() flushes the old range once, after every extent has been moved and every PTL dropped (race with page_mkclean open)",
  batchedUnmapFlush: true,
  flushBatchedPending: false,
  move_page_tables,
  zap_pte_range,
};
