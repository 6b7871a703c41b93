/**
 * Named points: places in the kernel paths where a race window can be widened
 * (`--delay move_ptes:unlocked=100us`, the model's msleep()), and where the CPU answers IPIs.
 * Kernel code passes the numeric id; the names are the CLI's.
 */
export const POINTS = [
  "move_ptes:locked", // both PTLs taken, nothing moved yet
  "move_ptes:before_clear", // dirty bit tested (5d1904204c99), entry not yet cleared
  "move_ptes:unlocked", // move_ptes() has dropped the PTLs
  "move_page_tables:before_flush", // all extents moved, final range flush not yet done
  "move_vma:moved", // move_page_tables() returned, old range not yet unmapped
  "page_mkclean:done", // clear_page_dirty_for_io(): PTEs cleaned, dirty flag not yet cleared
  "writeback:before_io", // the page is clean and under writeback, frame not yet copied out
  "zap_pte_range:unlocked", // zap_pte_range() dropped the PTL (flush may still be pending)
  "fadvise:before_invalidate", // writeback done, invalidate_mapping_pages() not yet run
  "fadvise:start", // entry of fadvise(POSIX_FADV_DONTNEED), before any writeback
  "zap_pte_range:before_flush", // PTEs cleared (rmap removed unless delayed), PTL held, no flush yet
  "shrink_page_list:start", // reclaim is about to scan the anonymous pages
  "shrink_page_list:unmapped", // try_to_unmap() done, page not yet written to swap
  "tlb_finish_mmu:flushed", // the unmap's mmu_gather has flushed the TLBs and freed its pages
  "do_munmap:start", // munmap() holds mmap_sem for write, nothing unmapped yet
  "try_to_unmap_flush:done", // reclaim's deferred (batched) flush has reached every CPU of the mm
  "migrate_pages:start", // page migration is about to scan the anonymous pages
  "try_to_unmap_one:locked", // the rmap walk found the page's PTE and holds its PTL, nothing cleared
  "try_to_unmap_one:unlocked", // the PTE is cleared (flushed or the flush deferred) and its PTL dropped
  "move_vma:copied", // copy_vma() linked the new VMA into the rmap; no page table moved yet
  "truncate:start", // ftruncate() is about to shrink i_size; nothing unmapped yet
  "zap_pte_range:dirty_cleared", // a dirty file PTE cleared, its TLB flush pending, PTL held
] as const;

export type PointName = (typeof POINTS)[number];

export const P_MOVE_PTES_LOCKED = 0;
export const P_MOVE_PTES_BEFORE_CLEAR = 1;
export const P_MOVE_PTES_UNLOCKED = 2;
export const P_MOVE_PAGE_TABLES_BEFORE_FLUSH = 3;
export const P_MOVE_VMA_MOVED = 4;
export const P_PAGE_MKCLEAN_DONE = 5;
export const P_WRITEBACK_BEFORE_IO = 6;
export const P_ZAP_PTE_RANGE_UNLOCKED = 7;
export const P_FADVISE_BEFORE_INVALIDATE = 8;
export const P_FADVISE_START = 9;
export const P_ZAP_PTE_RANGE_BEFORE_FLUSH = 10;
export const P_SHRINK_PAGE_LIST_START = 11;
export const P_SHRINK_PAGE_LIST_UNMAPPED = 12;
export const P_TLB_FINISH_MMU_FLUSHED = 13;
export const P_DO_MUNMAP_START = 14;
export const P_TRY_TO_UNMAP_FLUSH_DONE = 15;
export const P_MIGRATE_PAGES_START = 16;
export const P_TRY_TO_UNMAP_ONE_LOCKED = 17;
export const P_TRY_TO_UNMAP_ONE_UNLOCKED = 18;
export const P_MOVE_VMA_COPIED = 19;
export const P_TRUNCATE_START = 20;
export const P_ZAP_PTE_RANGE_DIRTY_CLEARED = 21;

export function pointId(name: string): number {
  return (POINTS as readonly string[]).indexOf(name);
}
