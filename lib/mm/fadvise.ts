/**
 * mm/fadvise.c as of v4.9, POSIX_FADV_DONTNEED on the shared file: start writeback of the
 * range (WB_SYNC_NONE), then invalidate_mapping_pages(); if that dropped fewer pages than the
 * range holds, lru_add_drain_all() (nothing to drain in the model) and try once more.
 */
import type { Cpu } from "../machine/cpu.js";
import { P_FADVISE_BEFORE_INVALIDATE, P_FADVISE_START } from "../machine/points.js";
import { file_pages } from "./filemap.js";
import { write_cache_pages } from "./page-writeback.js";
import { invalidate_mapping_pages } from "./truncate.js";

/**
 * fadvise(fd, start_index << PAGE_SHIFT, nr << PAGE_SHIFT, POSIX_FADV_DONTNEED). nr 0 is len 0,
 * to the end of the file: mm/fadvise.c v4.9, "Len == 0 means "as much as possible"", so
 * `if (!len || endbyte < len) endbyte = -1` and end_index covers every page.
 */
export function fadvise_dontneed(cpu: Cpu, start_index: number, nr: number): number {
  cpu.point(P_FADVISE_START);
  const last = file_pages(cpu) - 1;
  const end_index = nr === 0 ? last : Math.min(start_index + nr - 1, last);
  if (end_index < start_index) return 0;
  write_cache_pages(cpu, start_index, end_index); // __filemap_fdatawrite_range()
  cpu.point(P_FADVISE_BEFORE_INVALIDATE);
  let count = invalidate_mapping_pages(cpu, start_index, end_index);
  if (count < end_index - start_index + 1) {
    count = invalidate_mapping_pages(cpu, start_index, end_index);
  }
  return count;
}
