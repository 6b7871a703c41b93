/**
 * Page reclaim of anonymous pages (mm/vmscan.c shrink_page_list() as of v4.9, reduced to what
 * the races need): give the page a swap slot, unmap it from every PTE (try_to_unmap with
 * TTU_BATCH_FLUSH), flush the deferred TLB entries if a cleared PTE was dirty
 * (try_to_unmap_flush_dirty) and write it to swap, take it out of the swap cache and put it on
 * the free list; after the scan, try_to_unmap_flush() and only then free the list. Each step
 * that can fail keeps the page, as the kernel does. On an arch without batched unmap flushing
 * (arm64 before v6.x) try_to_unmap_one() flushes each page itself and the flush calls here do
 * nothing.
 */
import type { Cpu } from "../machine/cpu.js";
import { PAGE_REFCOUNT, ZERO_PFN } from "../machine/layout.js";
import { P_SHRINK_PAGE_LIST_START, P_SHRINK_PAGE_LIST_UNMAPPED } from "../machine/points.js";
import { spin_lock, spin_unlock } from "../sync/spinlock.js";
import {
  get_page_unless_zero,
  page_ref_freeze,
  page_ref_unfreeze,
  put_page,
} from "./page_alloc.js";
import {
  ClearPageFlag,
  page_mapped,
  PageAnon,
  PageDirty,
  PageHead,
  PageSwapCache,
  PageWriteback,
  PG_writeback,
  SetPageFlag,
  TestClearPageDirty,
  trylock_page,
  unlock_page,
} from "./page_flags.js";
import { split_huge_page } from "./huge_memory.js";
import { try_to_unmap } from "./rmap.js";
import {
  try_to_unmap_flush,
  try_to_unmap_flush_dirty,
  TTU_BATCH_FLUSH,
  TTU_UNMAP,
} from "./tlbbatch.js";
import { __delete_from_swap_cache, add_to_swap, swap_free, swap_writepage } from "./swap.js";

/**
 * Reclaim one isolated anonymous page (we hold a reference). Returns true if it may be freed:
 * out of the swap cache, our reference the last one (the kernel's free_pages list).
 */
function shrink_page(cpu: Cpu, pfn: number, may_writepage: boolean): boolean {
  if (!trylock_page(cpu, pfn)) return false;
  if (PageWriteback(cpu, pfn)) {
    unlock_page(cpu, pfn);
    return false;
  }
  // A THP is split first: its PMDs become PTE tables, its tails pages of their own (reclaimed
  // as the scan reaches them).
  if (PageHead(cpu, pfn)) split_huge_page(cpu, pfn);
  if (!PageSwapCache(cpu, pfn)) add_to_swap(cpu, pfn);
  if (page_mapped(cpu, pfn) && try_to_unmap(cpu, pfn, TTU_UNMAP | TTU_BATCH_FLUSH)) {
    unlock_page(cpu, pfn); // still mapped somewhere: keep
    return false;
  }
  cpu.point(P_SHRINK_PAGE_LIST_UNMAPPED);
  if (PageDirty(cpu, pfn)) {
    // if (!sc->may_writepage) goto keep_locked; (v4.9: laptop mode, node reclaim without
    // RECLAIM_WRITE). The PTEs are gone, the page stays dirty in the swap cache, and the TLB
    // flush try_to_unmap_one() deferred waits for try_to_unmap_flush() at the end of the list.
    if (!may_writepage) {
      unlock_page(cpu, pfn);
      return false;
    }
    // Page is dirty. Flush the TLB if a writable entry potentially exists to avoid CPU writes
    // after IO starts and then write it out here.
    try_to_unmap_flush_dirty(cpu);
    // pageout(): clear_page_dirty_for_io() (no PTEs left to clean), then swap_writepage()
    if (TestClearPageDirty(cpu, pfn)) {
      SetPageFlag(cpu, pfn, PG_writeback);
      swap_writepage(cpu, pfn);
      ClearPageFlag(cpu, pfn, PG_writeback); // end_page_writeback()
    }
  }
  // __remove_mapping() on the swap cache: freeze at 2 (swap cache + ours), else keep.
  const L = cpu.L;
  spin_lock(cpu, L.swapLock);
  if (!page_ref_freeze(cpu, pfn, 2)) {
    spin_unlock(cpu, L.swapLock);
    unlock_page(cpu, pfn);
    return false;
  }
  if (PageDirty(cpu, pfn)) {
    page_ref_unfreeze(cpu, pfn, 2); // redirtied meanwhile: keep
    spin_unlock(cpu, L.swapLock);
    unlock_page(cpu, pfn);
    return false;
  }
  const slot = __delete_from_swap_cache(cpu, pfn);
  swap_free(cpu, slot); // swapcache_free()
  spin_unlock(cpu, L.swapLock);
  page_ref_unfreeze(cpu, pfn, 1); // only our reference is left
  unlock_page(cpu, pfn);
  return true;
}

/** The free_pages list of one shrink_page_list() call: pages freed after the final flush. */
const free_pages = new Int32Array(64);

/**
 * Reclaim anonymous pages in scan order (lowest frame first: the modelled inactive list), at
 * most `nr_to_scan` of them (0: all). `may_writepage` is sc->may_writepage (!laptop_mode in
 * try_to_free_pages() and kswapd, v4.9). Returns pages freed.
 */
export function shrink_page_list(cpu: Cpu, nr_to_scan = 0, may_writepage = true): number {
  const mem = cpu.mem;
  const L = cpu.L;
  cpu.point(P_SHRINK_PAGE_LIST_START);
  let nr_reclaimed = 0;
  let nr_free = 0;
  let scanned = 0;
  const highWater = Atomics.load(mem, L.highWater);
  for (let pfn = ZERO_PFN + 1; pfn < highWater; pfn++) {
    if (Atomics.load(mem, L.page(pfn) + PAGE_REFCOUNT) === 0 || !PageAnon(cpu, pfn)) continue;
    if (nr_to_scan !== 0 && scanned++ === nr_to_scan) break;
    // shrink_inactive_list(): if (!sc->may_writepage) isolate_mode |= ISOLATE_CLEAN, and
    // __isolate_lru_page() leaves a page with PG_dirty or PG_writeback on the list.
    if (!may_writepage && (PageDirty(cpu, pfn) || PageWriteback(cpu, pfn))) continue;
    if (!get_page_unless_zero(cpu, pfn)) continue; // isolate_lru_page()
    if (PageAnon(cpu, pfn) && shrink_page(cpu, pfn, may_writepage)) {
      // More pages than the model's scans ever take: free the full list first, after the
      // flush, as the kernel would free a longer one.
      if (nr_free === free_pages.length) nr_free = free_page_list(cpu, nr_free);
      free_pages[nr_free++] = pfn; // list_add(&page->lru, &free_pages)
      nr_reclaimed++;
    } else {
      put_page(cpu, pfn); // putback
    }
  }
  free_page_list(cpu, nr_free);
  return nr_reclaimed;
}

/** try_to_unmap_flush(), then free_hot_cold_page_list(): drop the last reference of each. */
function free_page_list(cpu: Cpu, nr: number): number {
  try_to_unmap_flush(cpu);
  for (let i = 0; i < nr; i++) put_page(cpu, free_pages[i] as number);
  return 0;
}
