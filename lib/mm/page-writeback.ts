/**
 * mm/page-writeback.c as of v4.9: set_page_dirty(), clear_page_dirty_for_io() and the
 * write_cache_pages() loop that writeback (and fadvise) runs over the file's dirty pages.
 * Writeback I/O completes synchronously in the model: end_page_writeback() runs before
 * write_cache_pages() moves on.
 */
import type { Cpu } from "../machine/cpu.js";
import { PAGE_MAPPING, MAPPING_FILE, PAGE_INDEX } from "../machine/layout.js";
import { P_WRITEBACK_BEFORE_IO } from "../machine/points.js";
import { find_get_page, write_frame_to_backing } from "./filemap.js";
import { put_page } from "./page_alloc.js";
import {
  ClearPageFlag,
  lock_page,
  PageDirty,
  PageWriteback,
  PG_dirty,
  PG_writeback,
  SetPageFlag,
  TestClearPageDirty,
  TestSetPageFlag,
  unlock_page,
} from "./page_flags.js";
import { page_mkclean } from "./rmap.js";

/** set_page_dirty() (__set_page_dirty_nobuffers): true if the page was clean before. */
export function set_page_dirty(cpu: Cpu, pfn: number): boolean {
  return !TestSetPageFlag(cpu, pfn, PG_dirty);
}

/**
 * clear_page_dirty_for_io(): page locked. Clean every PTE first (page_mkclean), moving their
 * dirty bits into the page; only then clear the page's own dirty flag. "We basically use the
 * page 'master dirty bit' as a serialization point."
 */
export function clear_page_dirty_for_io(cpu: Cpu, pfn: number): boolean {
  if (page_mkclean(cpu, pfn) !== 0) set_page_dirty(cpu, pfn);
  return TestClearPageDirty(cpu, pfn);
}

/** ->writepage(): set_page_writeback, unlock, I/O, end_page_writeback. */
function writepage(cpu: Cpu, pfn: number): void {
  SetPageFlag(cpu, pfn, PG_writeback);
  unlock_page(cpu, pfn);
  cpu.point(P_WRITEBACK_BEFORE_IO);
  write_frame_to_backing(cpu, pfn, Atomics.load(cpu.mem, cpu.L.page(pfn) + PAGE_INDEX));
  ClearPageFlag(cpu, pfn, PG_writeback); // end_page_writeback()
}

/** write_cache_pages() with WB_SYNC_NONE over file pages [start, end]. Returns pages written. */
export function write_cache_pages(cpu: Cpu, start: number, end: number): number {
  let written = 0;
  for (let index = start; index <= end; index++) {
    const pfn = find_get_page(cpu, index);
    if (pfn === 0) continue;
    if (!PageDirty(cpu, pfn)) {
      put_page(cpu, pfn); // not tagged PAGECACHE_TAG_DIRTY
      continue;
    }
    lock_page(cpu, pfn);
    if (
      Atomics.load(cpu.mem, cpu.L.page(pfn) + PAGE_MAPPING) !== MAPPING_FILE || // truncated
      !PageDirty(cpu, pfn) || // someone wrote it back already
      PageWriteback(cpu, pfn) || // WB_SYNC_NONE does not wait
      !clear_page_dirty_for_io(cpu, pfn)
    ) {
      unlock_page(cpu, pfn);
      put_page(cpu, pfn);
      continue;
    }
    writepage(cpu, pfn);
    written++;
    put_page(cpu, pfn);
  }
  return written;
}
