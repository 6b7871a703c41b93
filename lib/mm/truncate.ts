/**
 * mm/truncate.c as of v4.9: invalidate_mapping_pages() drops clean, unlocked, unmapped pages
 * that are not under writeback. It never blocks: a locked page is skipped (trylock_page).
 */
import type { Cpu } from "../machine/cpu.js";
import { spin_lock, spin_unlock } from "../sync/spinlock.js";
import { __delete_from_page_cache, find_get_page } from "./filemap.js";
import { page_ref_freeze, page_ref_unfreeze, put_page } from "./page_alloc.js";
import {
  page_mapped,
  page_mapping,
  PageDirty,
  PageWriteback,
  trylock_page,
  unlock_page,
} from "./page_flags.js";

/**
 * __remove_mapping(): under tree_lock, freeze the refcount at 2 (page cache + our lookup): a
 * racing lookup that holds a reference makes it fail. Then delete from the page cache.
 */
function remove_mapping(cpu: Cpu, pfn: number): number {
  const L = cpu.L;
  spin_lock(cpu, L.treeLock);
  if (!page_ref_freeze(cpu, pfn, 2)) {
    spin_unlock(cpu, L.treeLock);
    return 0;
  }
  if (PageDirty(cpu, pfn)) {
    page_ref_unfreeze(cpu, pfn, 2);
    spin_unlock(cpu, L.treeLock);
    return 0;
  }
  __delete_from_page_cache(cpu, pfn);
  spin_unlock(cpu, L.treeLock);
  page_ref_unfreeze(cpu, pfn, 1); // the lookup's reference remains, dropped by the caller
  return 1;
}

/** invalidate_inode_page(): page locked by the caller. */
export function invalidate_inode_page(cpu: Cpu, pfn: number): number {
  if (page_mapping(cpu, pfn) === 0) return 0;
  if (PageDirty(cpu, pfn) || PageWriteback(cpu, pfn)) return 0;
  if (page_mapped(cpu, pfn)) return 0;
  return remove_mapping(cpu, pfn);
}

/** invalidate_mapping_pages(): returns how many pages were dropped. */
export function invalidate_mapping_pages(cpu: Cpu, start: number, end: number): number {
  let count = 0;
  for (let index = start; index <= end; index++) {
    const pfn = find_get_page(cpu, index);
    if (pfn === 0) continue;
    if (trylock_page(cpu, pfn)) {
      const ret = invalidate_inode_page(cpu, pfn);
      unlock_page(cpu, pfn);
      count += ret;
    }
    put_page(cpu, pfn);
  }
  return count;
}
