/**
 * mm/truncate.c as of v4.9: invalidate_mapping_pages() drops clean, unlocked, unmapped pages
 * that are not under writeback. It never blocks: a locked page is skipped (trylock_page).
 * Truncation (ftruncate) unmaps every mapping of the truncated pages, drops them from the page
 * cache and frees them.
 */
import type { Cpu } from "../machine/cpu.js";
import { P_TRUNCATE_START } from "../machine/points.js";
import { FRAME_WORDS, PAGE_SHIFT, VMA_END, VMA_PGOFF, VMA_START } from "../machine/layout.js";
import { down_write, up_write } from "../sync/rwsem.js";
import { spin_lock, spin_unlock } from "../sync/spinlock.js";
import { __delete_from_page_cache, find_get_page } from "./filemap.js";
import { unmap_vmas } from "./memory.js";
import { vma_field } from "./mmap.js";
import { tlb_finish_mmu, tlb_gather_mmu } from "./tlb_gather.js";
import { page_ref_freeze, page_ref_unfreeze, put_page } from "./page_alloc.js";
import {
  lock_page,
  page_mapped,
  page_mapping,
  PageDirty,
  PageWriteback,
  TestClearPageDirty,
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

/**
 * unmap_mapping_range(mapping, start_index << PAGE_SHIFT, 0, 1): zap every user mapping of file
 * pages from start_index on, in every VMA of i_mmap, under i_mmap_rwsem (write). It takes only
 * PTLs on the way, never mmap_sem: that is why it can run in the middle of someone's mremap().
 */
export function unmap_mapping_range(cpu: Cpu, start_index: number): void {
  const mem = cpu.mem;
  const L = cpu.L;
  down_write(cpu, L.iMmapRwsem); // i_mmap_lock_write()
  const n = Atomics.load(mem, L.iMmap);
  for (let i = 0; i < n; i++) {
    const vma = Atomics.load(mem, L.iMmap + 1 + i);
    const vstart = vma_field(cpu, vma, VMA_START);
    const vend = vma_field(cpu, vma, VMA_END);
    const pgoff = vma_field(cpu, vma, VMA_PGOFF);
    const from = Math.max(vstart, vstart + ((start_index - pgoff) << PAGE_SHIFT));
    if (from >= vend) continue;
    // unmap_mapping_range_vma() -> zap_page_range_single()
    const tlb = cpu.tlb;
    tlb_gather_mmu(tlb, from, vend);
    unmap_vmas(cpu, tlb, vma, from, vend);
    tlb_finish_mmu(cpu, tlb);
  }
  up_write(cpu, L.iMmapRwsem);
}

/** truncate_inode_pages_range() from start_index to the old end of file. */
export function truncate_inode_pages(cpu: Cpu, start_index: number, end_index: number): void {
  const L = cpu.L;
  for (let index = start_index; index < end_index; index++) {
    const pfn = find_get_page(cpu, index);
    if (pfn === 0) continue;
    lock_page(cpu, pfn);
    // wait_on_page_writeback(): writeback completes synchronously in the model.
    if (page_mapping(cpu, pfn) !== 0) {
      // truncate_inode_page(): a racing fault may have mapped it again.
      if (page_mapped(cpu, pfn)) unmap_mapping_range(cpu, index);
      // truncate_complete_page(): cancel_dirty_page(), delete_from_page_cache()
      TestClearPageDirty(cpu, pfn);
      spin_lock(cpu, L.treeLock);
      __delete_from_page_cache(cpu, pfn);
      spin_unlock(cpu, L.treeLock);
      put_page(cpu, pfn); // the page cache's reference
    }
    unlock_page(cpu, pfn);
    put_page(cpu, pfn); // our lookup's reference: the last one frees the frame
  }
}

/**
 * ftruncate(fd, pages << PAGE_SHIFT) to shrink the file: truncate_setsize() ->
 * truncate_pagecache(): unmap, drop the page cache, unmap again (for racing faults); the
 * filesystem then frees the blocks (the backing store beyond i_size reads as zeros). The inode
 * lock (single truncater in every scenario) is not modelled.
 */
export function sys_ftruncate(cpu: Cpu, pages: number): number {
  const mem = cpu.mem;
  const L = cpu.L;
  cpu.point(P_TRUNCATE_START);
  const oldsize = Atomics.load(mem, L.iSize);
  if (pages > oldsize) return -22; // growing the file is not modelled: -EINVAL
  Atomics.store(mem, L.iSize, pages); // i_size_write()
  unmap_mapping_range(cpu, pages);
  truncate_inode_pages(cpu, pages, oldsize);
  unmap_mapping_range(cpu, pages);
  for (let i = pages * FRAME_WORDS; i < oldsize * FRAME_WORDS; i++)
    Atomics.store(mem, L.backing + i, 0);
  return 0;
}
