/**
 * The page cache of the one shared file and its backing store (mm/filemap.c, reduced).
 * Slots of L.pageCache hold the pfn caching each file index (0: not cached). Lookups are
 * lockless (RCU + speculative reference in the kernel); insertion and deletion hold
 * mapping->tree_lock. The backing store holds FRAME_WORDS words per file page: "the disk".
 */
import type { Cpu } from "../machine/cpu.js";
import {
  FRAME_WORDS,
  MAPPING_FILE,
  PAGE_INDEX,
  PAGE_MAPPING,
  PAGE_REFCOUNT,
} from "../machine/layout.js";
import { spin_lock, spin_unlock } from "../sync/spinlock.js";
import { alloc_page, get_page_unless_zero, put_page } from "./page_alloc.js";
import { lock_page, PageUptodate, PG_uptodate, SetPageFlag, unlock_page } from "./page_flags.js";

export const VM_FAULT_SIGBUS = 0x0002;
export const VM_FAULT_LOCKED = 0x0200;

/** i_size_read() in pages. */
export function file_pages(cpu: Cpu): number {
  return Atomics.load(cpu.mem, cpu.L.iSize);
}

/** find_get_page(): the cached page at `index` with a reference, or 0. */
export function find_get_page(cpu: Cpu, index: number): number {
  const mem = cpu.mem;
  const slot = cpu.L.pageCache + index;
  for (;;) {
    const pfn = Atomics.load(mem, slot);
    if (pfn === 0) return 0;
    if (!get_page_unless_zero(cpu, pfn)) continue; // being freed: look again
    if (Atomics.load(mem, slot) === pfn) return pfn; // still the cached page
    put_page(cpu, pfn);
  }
}

/**
 * add_to_page_cache_lru(): insert a new locked page at `index`. The page cache takes its own
 * reference. Returns false if another page got there first (-EEXIST).
 */
export function add_to_page_cache_lru(cpu: Cpu, pfn: number, index: number): boolean {
  const mem = cpu.mem;
  const L = cpu.L;
  lock_page(cpu, pfn); // __SetPageLocked on a page nobody else can see yet
  Atomics.add(mem, L.page(pfn) + PAGE_REFCOUNT, 1);
  Atomics.store(mem, L.page(pfn) + PAGE_MAPPING, MAPPING_FILE);
  Atomics.store(mem, L.page(pfn) + PAGE_INDEX, index);
  spin_lock(cpu, L.treeLock); // mapping->tree_lock guards the slots
  const ok = Atomics.load(mem, L.pageCache + index) === 0;
  if (ok) Atomics.store(mem, L.pageCache + index, pfn);
  spin_unlock(cpu, L.treeLock);
  if (!ok) {
    Atomics.store(mem, L.page(pfn) + PAGE_MAPPING, 0);
    Atomics.sub(mem, L.page(pfn) + PAGE_REFCOUNT, 1);
    unlock_page(cpu, pfn);
  }
  return ok;
}

/** __delete_from_page_cache(): caller holds mapping->tree_lock. */
export function __delete_from_page_cache(cpu: Cpu, pfn: number): void {
  const mem = cpu.mem;
  const L = cpu.L;
  const index = Atomics.load(mem, L.page(pfn) + PAGE_INDEX);
  Atomics.store(mem, L.pageCache + index, 0);
  Atomics.store(mem, L.page(pfn) + PAGE_MAPPING, 0);
}

/** ->readpage(): read the file page from the backing store into the frame; unlocks the page. */
export function readpage(cpu: Cpu, pfn: number, index: number): void {
  const mem = cpu.mem;
  const from = cpu.L.backing + index * FRAME_WORDS;
  const to = cpu.L.frame(pfn);
  for (let i = 0; i < FRAME_WORDS; i++) Atomics.store(mem, to + i, Atomics.load(mem, from + i));
  SetPageFlag(cpu, pfn, PG_uptodate);
  unlock_page(cpu, pfn);
}

/** ->writepage() I/O: copy the frame out to the backing store. */
export function write_frame_to_backing(cpu: Cpu, pfn: number, index: number): void {
  const mem = cpu.mem;
  const from = cpu.L.frame(pfn);
  const to = cpu.L.backing + index * FRAME_WORDS;
  for (let i = 0; i < FRAME_WORDS; i++) Atomics.store(mem, to + i, Atomics.load(mem, from + i));
}

/** page_cache_read(): allocate, insert and read a page that was not cached. */
export function page_cache_read(cpu: Cpu, index: number): void {
  const pfn = alloc_page(cpu);
  if (add_to_page_cache_lru(cpu, pfn, index)) readpage(cpu, pfn, index);
  put_page(cpu, pfn);
}

/**
 * filemap_fault(): the page at `index`, locked and referenced (VM_FAULT_LOCKED), reading it in
 * if needed. Returns the pfn, or -VM_FAULT_SIGBUS beyond i_size.
 */
export function filemap_fault(cpu: Cpu, index: number): number {
  const mem = cpu.mem;
  for (;;) {
    if (index >= file_pages(cpu)) return -VM_FAULT_SIGBUS;
    const pfn = find_get_page(cpu, index);
    if (pfn === 0) {
      page_cache_read(cpu, index);
      continue;
    }
    lock_page(cpu, pfn);
    // Did it get truncated or invalidated while we slept on the page lock?
    if (Atomics.load(mem, cpu.L.page(pfn) + PAGE_MAPPING) !== MAPPING_FILE) {
      unlock_page(cpu, pfn);
      put_page(cpu, pfn);
      continue;
    }
    if (!PageUptodate(cpu, pfn)) {
      readpage(cpu, pfn, index);
      lock_page(cpu, pfn);
    }
    return pfn;
  }
}

/**
 * do_generic_file_read() for one word: pread(fd, buf, 4, index * PAGE_SIZE + word * 4). At or
 * beyond i_size it reads nothing; the model returns 0.
 */
export function do_generic_file_read(cpu: Cpu, index: number, word: number): number {
  for (;;) {
    if (index >= file_pages(cpu)) return 0;
    const pfn = find_get_page(cpu, index);
    if (pfn === 0) {
      page_cache_read(cpu, index); // page_cache_sync_readahead()
      continue;
    }
    if (!PageUptodate(cpu, pfn)) {
      lock_page(cpu, pfn);
      if (!PageUptodate(cpu, pfn)) readpage(cpu, pfn, index);
      else unlock_page(cpu, pfn);
    }
    const value = Atomics.load(cpu.mem, cpu.L.frame(pfn) + (word & (FRAME_WORDS - 1)));
    put_page(cpu, pfn);
    return value;
  }
}
