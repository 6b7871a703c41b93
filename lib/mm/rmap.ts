/**
 * Reverse mapping for the shared file (mm/rmap.c as of v4.9): page_mkclean() walks every
 * shared VMA of i_mmap that covers the page and cleans and write-protects its PTE. It can
 * only find the PTE where the page tables say the page is: after move_ptes() moved X to Y, a
 * stale TLB entry for X on another CPU is invisible to it.
 */
import type { Cpu } from "../machine/cpu.js";
import {
  PAGE_FLAGS,
  PAGE_INDEX,
  PAGE_MAPCOUNT,
  PAGE_PRIVATE,
  VMA_FLAGS,
} from "../machine/layout.js";
import {
  P_PAGE_MKCLEAN_DONE,
  P_TRY_TO_UNMAP_ONE_LOCKED,
  P_TRY_TO_UNMAP_ONE_UNLOCKED,
} from "../machine/points.js";
import {
  _PAGE_PRESENT,
  pmd_offset,
  pmd_trans_huge,
  pte_dirty,
  pte_lockptr,
  pte_mkclean,
  pte_offset_map,
  pte_pfn,
  pte_present,
  pte_wrprotect,
  pte_write,
  swp_entry_to_pte,
  make_migration_entry,
} from "../mmu/pgtable.js";
import { flush_tlb_page } from "../mmu/shootdown.js";
import { down_read, up_read } from "../sync/rwsem.js";
import { spin_lock, spin_unlock } from "../sync/spinlock.js";
import { VM_SHARED, vma_address, vma_field } from "./mmap.js";
import { page_mapped, PG_dirty } from "./page_flags.js";
import { put_page } from "./page_alloc.js";
import { set_tlb_ubc_flush_pending, should_defer_flush, TTU_MIGRATION } from "./tlbbatch.js";

/** page_add_file_rmap(): caller holds the PTL of the PTE being set. */
export function page_add_file_rmap(cpu: Cpu, pfn: number): void {
  Atomics.add(cpu.mem, cpu.L.page(pfn) + PAGE_MAPCOUNT, 1);
}

/** page_remove_rmap(): caller holds the PTL of the PTE being cleared. */
export function page_remove_rmap(cpu: Cpu, pfn: number): void {
  Atomics.sub(cpu.mem, cpu.L.page(pfn) + PAGE_MAPCOUNT, 1);
}

/** ptep_clear_flush(): clear the PTE and, if it was accessible, shoot down that address. */
export function ptep_clear_flush(cpu: Cpu, addr: number, ptep: number): number {
  const pte = Atomics.exchange(cpu.mem, ptep, 0);
  if ((pte & _PAGE_PRESENT) !== 0) flush_tlb_page(cpu, addr);
  return pte;
}

/**
 * page_check_address(page, mm, addr, &ptl, sync) -> __page_check_address() (mm/rmap.c, v4.9):
 * if the PTE for addr maps pfn, return it with its PTL held, else -1. mm_find_pmd() first: no
 * PMD, or a huge one, is no PTE. With sync = 0 it makes a quick unlocked check and returns
 * without the PTL if the PTE is not present ("may perform a racy check to avoid the page table
 * lock"); with sync = 1 it takes the PTL even when the PTE looks empty: that is what makes
 * page_mkclean() (page_mkclean_one() passes 1) wait for a move_ptes() that holds the old PTL.
 * try_to_unmap_one() passes PageTransCompound(page) in v4.9: 0 for an order-0 page. `sync`
 * defaults to 1, the model's behaviour before it had the parameter; callers should pass it.
 */
export function page_check_address(cpu: Cpu, pfn: number, addr: number, sync: number): number {
  const mem = cpu.mem;
  const pmdp = pmd_offset(cpu.L, addr);
  const pmde = Atomics.load(mem, pmdp);
  if ((pmde & _PAGE_PRESENT) === 0 || pmd_trans_huge(pmde)) return -1; // mm_find_pmd()
  const ptep = pte_offset_map(cpu.L, pmde, addr);
  // Make a quick check before getting the lock
  if (sync === 0 && !pte_present(Atomics.load(mem, ptep))) return -1;
  const ptl = pte_lockptr(cpu.L, pmde);
  spin_lock(cpu, ptl);
  const pte = Atomics.load(mem, ptep);
  if (pte_present(pte) && pte_pfn(pte) === pfn) {
    // *ptlp = ptl: the lock of the table found, which stays the one held even if the table
    // moves to another PMD meanwhile (move_normal_pmd()).
    cpu.rmapPtl = ptl;
    return ptep;
  }
  spin_unlock(cpu, ptl);
  return -1;
}

/** page_mkclean_one(): returns 1 if it cleaned a PTE. */
function page_mkclean_one(cpu: Cpu, pfn: number, addr: number): number {
  const ptep = page_check_address(cpu, pfn, addr, 1);
  if (ptep < 0) return 0;
  const ptl = cpu.rmapPtl; // held
  let ret = 0;
  const pte = Atomics.load(cpu.mem, ptep);
  if (pte_dirty(pte) || pte_write(pte)) {
    let entry = ptep_clear_flush(cpu, addr, ptep);
    entry = pte_wrprotect(entry);
    entry = pte_mkclean(entry);
    Atomics.store(cpu.mem, ptep, entry); // set_pte_at()
    ret = 1;
  }
  spin_unlock(cpu, ptl);
  return ret;
}

/**
 * page_mkclean(): page locked by the caller. rmap_walk_file() under i_mmap_rwsem (read), over
 * the VMAs of i_mmap that cover the page's index, in tree order; !VM_SHARED VMAs are skipped
 * (invalid_mkclean_vma). Returns how many PTEs were cleaned.
 */
export function page_mkclean(cpu: Cpu, pfn: number): number {
  const mem = cpu.mem;
  const L = cpu.L;
  if (!page_mapped(cpu, pfn)) return 0;
  const index = Atomics.load(mem, L.page(pfn) + PAGE_INDEX);
  let cleaned = 0;
  down_read(cpu, L.iMmapRwsem); // i_mmap_lock_read()
  const n = Atomics.load(mem, L.iMmap);
  for (let i = 0; i < n; i++) {
    const vma = Atomics.load(mem, L.iMmap + 1 + i);
    const addr = vma_address(cpu, vma, index);
    if (addr < 0) continue; // vma_interval_tree_foreach()
    if ((vma_field(cpu, vma, VMA_FLAGS) & VM_SHARED) === 0) continue;
    cleaned += page_mkclean_one(cpu, pfn, addr);
  }
  up_read(cpu, L.iMmapRwsem);
  cpu.point(P_PAGE_MKCLEAN_DONE);
  return cleaned;
}

/* ------------------------------------------------------------ anonymous pages */

/** page_add_new_anon_rmap(): a fresh anonymous page gets its first mapping. */
export function page_add_new_anon_rmap(cpu: Cpu, pfn: number, index: number): void {
  Atomics.store(cpu.mem, cpu.L.page(pfn) + PAGE_INDEX, index);
  Atomics.store(cpu.mem, cpu.L.page(pfn) + PAGE_MAPCOUNT, 1);
}

/** page_add_anon_rmap(): one more mapping of an anonymous page (swap-in). */
export function page_add_anon_rmap(cpu: Cpu, pfn: number, index: number): void {
  Atomics.store(cpu.mem, cpu.L.page(pfn) + PAGE_INDEX, index);
  Atomics.add(cpu.mem, cpu.L.page(pfn) + PAGE_MAPCOUNT, 1);
}

/**
 * try_to_unmap_one() (mm/rmap.c, v4.9) for an anonymous page in the swap cache: clear the PTE
 * and flush this address, or, when should_defer_flush() says so (x86 reclaim with other CPUs in
 * the mm), clear it without flushing and leave the flush to try_to_unmap_flush(); move its
 * dirty bit to the page; leave the swap entry in its place. Runs under the PTL.
 */
function try_to_unmap_one(cpu: Cpu, pfn: number, addr: number, flags: number): void {
  // v4.9 passes PageTransCompound(page) as sync: 0 for the model's order-0 pages, so an
  // already-clear PTE is skipped without taking the PTL.
  const ptep = page_check_address(cpu, pfn, addr, 0);
  if (ptep < 0) return;
  const ptl = cpu.rmapPtl; // held
  cpu.point(P_TRY_TO_UNMAP_ONE_LOCKED);
  // Nuke the page table entry.
  let pteval: number;
  if (should_defer_flush(cpu, flags)) {
    // We clear the PTE but do not flush so potentially a remote CPU could still be writing to
    // the page. If the entry was previously clean then the architecture must guarantee that a
    // clear->dirty transition on a cached TLB entry is written through and traps if the PTE
    // is unmapped (lib/mmu/access.ts: the walker's D update faults on a cleared PTE).
    pteval = Atomics.exchange(cpu.mem, ptep, 0); // ptep_get_and_clear()
    set_tlb_ubc_flush_pending(cpu, pte_dirty(pteval));
  } else {
    pteval = ptep_clear_flush(cpu, addr, ptep);
  }
  // Move the dirty bit to the physical page now the pte is gone.
  if (pte_dirty(pteval)) set_page_dirty_anon(cpu, pfn);
  if ((flags & TTU_MIGRATION) !== 0) {
    // Store the pfn of the page in a special migration pte. do_swap_page() will wait until the
    // migration pte is removed and then restart fault handling.
    Atomics.store(cpu.mem, ptep, make_migration_entry(pfn, pte_write(pteval))); // set_pte_at()
  } else {
    const slot = Atomics.load(cpu.mem, cpu.L.page(pfn) + PAGE_PRIVATE) - 1;
    Atomics.add(cpu.mem, cpu.L.swapMap + slot, 1); // swap_duplicate()
    Atomics.store(cpu.mem, ptep, swp_entry_to_pte(slot)); // set_pte_at(swp_pte)
  }
  page_remove_rmap(cpu, pfn);
  spin_unlock(cpu, ptl); // pte_unmap_unlock()
  cpu.point(P_TRY_TO_UNMAP_ONE_UNLOCKED);
  put_page(cpu, pfn); // the mapping's reference
}

/**
 * try_to_unmap(page, flags) -> rmap_walk_anon(): every VMA of the anon_vma that covers the
 * page, in tree order (old VMA before the new one during mremap), under anon_vma->rwsem (read).
 * Returns whether the page is still mapped.
 */
export function try_to_unmap(cpu: Cpu, pfn: number, flags: number): boolean {
  const mem = cpu.mem;
  const L = cpu.L;
  const index = Atomics.load(mem, L.page(pfn) + PAGE_INDEX);
  down_read(cpu, L.anonVmaRwsem); // anon_vma_lock_read()
  const n = Atomics.load(mem, L.anonVma);
  for (let i = 0; i < n && page_mapped(cpu, pfn); i++) {
    const vma = Atomics.load(mem, L.anonVma + 1 + i);
    const addr = vma_address(cpu, vma, index);
    if (addr < 0) continue;
    try_to_unmap_one(cpu, pfn, addr, flags);
  }
  up_read(cpu, L.anonVmaRwsem);
  return page_mapped(cpu, pfn);
}

/** SetPageDirty for an anonymous page (no mapping to account it to). */
function set_page_dirty_anon(cpu: Cpu, pfn: number): void {
  Atomics.or(cpu.mem, cpu.L.page(pfn) + PAGE_FLAGS, PG_dirty);
}
