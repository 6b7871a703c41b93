/**
 * Page migration of anonymous pages (mm/migrate.c as of v4.9, reduced to what the races need:
 * migrate_pages() -> unmap_and_move() -> __unmap_and_move() -> try_to_unmap(TTU_MIGRATION),
 * move_to_new_page() -> migrate_page() (migrate_page_move_mapping(), migrate_page_copy()),
 * remove_migration_ptes()). Pages in the swap cache are not migrated here (the kernel moves
 * their swap-cache slot too; no scenario needs it).
 *
 * Migration unmaps without TTU_BATCH_FLUSH, so try_to_unmap_one() flushes each address it
 * clears at once, on x86 as on arm64: the stale TLB entry of an address the rmap walk does not
 * visit (the old address of an mremap() not yet flushed) survives the copy and the free.
 */
import type { Cpu } from "../machine/cpu.js";
import {
  FRAME_WORDS,
  PAGE_INDEX,
  PAGE_REFCOUNT,
  VMA_FLAGS,
  VMA_PAGE_PROT,
  ZERO_PFN,
} from "../machine/layout.js";
import { P_MIGRATE_PAGES_START } from "../machine/points.js";
import {
  is_migration_entry,
  is_write_migration_entry,
  migration_entry_to_pfn,
  mk_pte,
  pmd_offset,
  pte_lockptr,
  pte_mkwrite,
  pte_offset_map,
  pmd_trans_huge,
  _PAGE_ACCESSED,
  _PAGE_PRESENT,
} from "../mmu/pgtable.js";
import { spin_lock, spin_unlock } from "../sync/spinlock.js";
import { WAIT_MUTEX } from "../sync/waiter.js";
import { VM_WRITE, vma_address, vma_field } from "./mmap.js";
import { get_page, get_page_unless_zero, put_page } from "./page_alloc.js";
import {
  ClearPageFlag,
  PageAnon,
  PageDirty,
  PageLocked,
  PageSwapCache,
  page_mapped,
  PG_dirty,
  SetPageFlag,
  trylock_page,
  unlock_page,
} from "./page_flags.js";
import { page_add_anon_rmap, try_to_unmap } from "./rmap.js";
import { alloc_anon_page } from "./swap.js";
import { TTU_MIGRATION } from "./tlbbatch.js";
import { down_read, up_read } from "../sync/rwsem.js";

/**
 * migration_entry_wait(): a fault found a migration entry. Under the PTL, if the entry is still
 * there, take a reference on the page and wait, outside the lock, until the migration unlocks
 * it (wait_on_page_locked); the fault is then retried and finds the new page.
 */
export function migration_entry_wait(cpu: Cpu, addr: number): void {
  const mem = cpu.mem;
  const pmd = Atomics.load(mem, pmd_offset(cpu.L, addr));
  if ((pmd & _PAGE_PRESENT) === 0 || pmd_trans_huge(pmd)) return;
  const ptep = pte_offset_map(cpu.L, pmd, addr);
  const ptl = pte_lockptr(cpu.L, pmd);
  spin_lock(cpu, ptl);
  const pte = Atomics.load(mem, ptep);
  if (!is_migration_entry(pte)) {
    spin_unlock(cpu, ptl);
    return;
  }
  const page = migration_entry_to_pfn(pte);
  // Once the page is unlocked and freed, get_page_unless_zero() fails: nothing to wait for.
  if (!get_page_unless_zero(cpu, page)) {
    spin_unlock(cpu, ptl);
    return;
  }
  spin_unlock(cpu, ptl); // pte_unmap_unlock()
  if (PageLocked(cpu, page)) {
    cpu.waitBegin(WAIT_MUTEX, cpu.L.page(page));
    for (let s = 0; PageLocked(cpu, page);) s = cpu.relax(s); // wait_on_page_locked()
    cpu.waitEnd();
  }
  put_page(cpu, page);
}

/**
 * remove_migration_pte() for each VMA of the anon_vma that covers the page: under the PTL, a
 * migration entry for `old` becomes a PTE for `page` (old, clean; writable if the entry was a
 * write entry and the VMA allows it).
 */
function remove_migration_ptes(cpu: Cpu, old: number, page: number): void {
  const mem = cpu.mem;
  const L = cpu.L;
  const index = Atomics.load(mem, L.page(page) + PAGE_INDEX);
  down_read(cpu, L.anonVmaRwsem); // rmap_walk_anon(): anon_vma_lock_read()
  const n = Atomics.load(mem, L.anonVma);
  for (let i = 0; i < n; i++) {
    const vma = Atomics.load(mem, L.anonVma + 1 + i);
    const addr = vma_address(cpu, vma, index);
    if (addr < 0) continue;
    const pmd = Atomics.load(mem, pmd_offset(L, addr));
    if ((pmd & _PAGE_PRESENT) === 0 || pmd_trans_huge(pmd)) continue; // mm_find_pmd()
    // Peek to check is_swap_pte() before taking ptlock? No, we can race mremap's move_ptes(),
    // which skips anon_vma lock.
    const ptl = pte_lockptr(L, pmd);
    spin_lock(cpu, ptl);
    const ptep = pte_offset_map(L, pmd, addr);
    const entry = Atomics.load(mem, ptep);
    if (is_migration_entry(entry) && migration_entry_to_pfn(entry) === old) {
      get_page(cpu, page);
      let pte = mk_pte(page, vma_field(cpu, vma, VMA_PAGE_PROT)) & ~_PAGE_ACCESSED; // pte_mkold()
      // maybe_mkwrite(): only where the VMA is writable.
      if (is_write_migration_entry(entry) && (vma_field(cpu, vma, VMA_FLAGS) & VM_WRITE) !== 0)
        pte = pte_mkwrite(pte);
      Atomics.store(mem, ptep, pte); // set_pte_at()
      page_add_anon_rmap(cpu, page, index);
    }
    spin_unlock(cpu, ptl);
  }
  up_read(cpu, L.anonVmaRwsem);
}

/**
 * migrate_page(): for an anonymous page with no mapping, migrate_page_move_mapping() only
 * checks that nobody but the migration holds a reference (expected_count = 1), then
 * migrate_page_copy() copies the frame and the flags that matter (dirty, index).
 */
function migrate_page(cpu: Cpu, newpage: number, page: number): boolean {
  const mem = cpu.mem;
  const L = cpu.L;
  if (Atomics.load(mem, L.page(page) + PAGE_REFCOUNT) !== 1) return false; // -EAGAIN
  const from = L.frame(page);
  const to = L.frame(newpage);
  for (let i = 0; i < FRAME_WORDS; i++) Atomics.store(mem, to + i, Atomics.load(mem, from + i));
  Atomics.store(mem, L.page(newpage) + PAGE_INDEX, Atomics.load(mem, L.page(page) + PAGE_INDEX));
  if (PageDirty(cpu, page)) {
    ClearPageFlag(cpu, page, PG_dirty);
    SetPageFlag(cpu, newpage, PG_dirty);
  }
  return true;
}

/**
 * __unmap_and_move() + unmap_and_move(): lock the page, unmap it everywhere into migration
 * entries, copy it, point the entries at the copy (or back at the page if the copy failed),
 * unlock; on success drop the isolation reference, which frees the old page.
 */
function unmap_and_move(cpu: Cpu, page: number): boolean {
  const newpage = alloc_anon_page(cpu); // get_new_page()
  let ok = false;
  if (trylock_page(cpu, page)) {
    if (trylock_page(cpu, newpage)) {
      let page_was_mapped = false;
      if (page_mapped(cpu, page)) {
        try_to_unmap(cpu, page, TTU_MIGRATION);
        page_was_mapped = true;
      }
      if (!page_mapped(cpu, page)) ok = migrate_page(cpu, newpage, page); // move_to_new_page()
      if (page_was_mapped) remove_migration_ptes(cpu, page, ok ? newpage : page);
      unlock_page(cpu, newpage);
    }
    unlock_page(cpu, page);
  }
  put_page(cpu, newpage); // putback_lru_page(newpage) on success, put_new_page() otherwise
  return ok;
}

/**
 * migrate_pages() over the anonymous pages in scan order (lowest frame first, as reclaim scans
 * them), each isolated first (isolate_lru_page takes a reference), at most `nr_to_migrate` of
 * them (0: all): the list move_pages() builds from its arguments, or the batch of at most
 * COMPACT_CLUSTER_MAX pages that compaction isolates before it calls migrate_pages()
 * (mm/compaction.c, v4.9). Returns pages migrated.
 */
export function migrate_pages(cpu: Cpu, nr_to_migrate = 0): number {
  const mem = cpu.mem;
  const L = cpu.L;
  cpu.point(P_MIGRATE_PAGES_START);
  let migrated = 0;
  let isolated = 0;
  const highWater = Atomics.load(mem, L.highWater);
  for (let pfn = ZERO_PFN + 1; pfn < highWater; pfn++) {
    if (Atomics.load(mem, L.page(pfn) + PAGE_REFCOUNT) === 0 || !PageAnon(cpu, pfn)) continue;
    if (PageSwapCache(cpu, pfn)) continue; // not modelled: see the header
    if (nr_to_migrate !== 0 && isolated++ === nr_to_migrate) break;
    if (!get_page_unless_zero(cpu, pfn)) continue; // isolate_lru_page()
    if (unmap_and_move(cpu, pfn)) migrated++;
    put_page(cpu, pfn); // success: the last reference, the old page is freed; else putback
  }
  return migrated;
}
