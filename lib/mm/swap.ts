/**
 * The swap area and the swap cache (mm/swapfile.c, mm/swap_state.c, mm/page_io.c, reduced).
 * A slot's count in swapMap is the PTEs that hold its swap entry plus one while the swap cache
 * holds a page for it; swap_lock guards both maps. Slots are handed out by a bump allocator
 * and not reused within a trial. I/O completes synchronously.
 */
import type { Cpu } from "../machine/cpu.js";
import {
  FRAME_WORDS,
  MAPPING_ANON,
  NR_SWAP,
  PAGE_MAPPING,
  PAGE_PRIVATE,
} from "../machine/layout.js";
import { spin_lock, spin_unlock } from "../sync/spinlock.js";
import { alloc_page, get_page, get_page_unless_zero, put_page } from "./page_alloc.js";
import {
  ClearPageFlag,
  page_mapped,
  PageSwapCache,
  PageWriteback,
  PG_swapcache,
  PG_uptodate,
  SetPageFlag,
  trylock_page,
  unlock_page,
} from "./page_flags.js";
import { set_page_dirty } from "./page-writeback.js";

export class SwapFullError extends Error {}

/** page_private(): the swap slot of a page in the swap cache, or -1. */
export const page_swap_slot = (cpu: Cpu, pfn: number): number =>
  Atomics.load(cpu.mem, cpu.L.page(pfn) + PAGE_PRIVATE) - 1;

/** get_swap_page(): a free slot holding one reference, the swap cache's. */
function get_swap_page(cpu: Cpu): number {
  const mem = cpu.mem;
  const L = cpu.L;
  spin_lock(cpu, L.swapLock);
  const slot = mem[L.swapHighWater] as number;
  if (slot >= NR_SWAP) {
    spin_unlock(cpu, L.swapLock);
    throw new SwapFullError(`out of swap slots (${NR_SWAP})`);
  }
  mem[L.swapHighWater] = slot + 1;
  Atomics.store(mem, L.swapMap + slot, 1);
  spin_unlock(cpu, L.swapLock);
  return slot;
}

/** swap_duplicate(): one more PTE holds the entry. */
export function swap_duplicate(cpu: Cpu, slot: number): void {
  Atomics.add(cpu.mem, cpu.L.swapMap + slot, 1);
}

/** swap_free(): one reference fewer. */
export function swap_free(cpu: Cpu, slot: number): void {
  Atomics.sub(cpu.mem, cpu.L.swapMap + slot, 1);
}

export const swap_count = (cpu: Cpu, slot: number): number =>
  Atomics.load(cpu.mem, cpu.L.swapMap + slot);

/** add_to_swap_cache(): caller holds the page lock. The cache takes a page reference. */
function add_to_swap_cache(cpu: Cpu, pfn: number, slot: number): boolean {
  const mem = cpu.mem;
  const L = cpu.L;
  spin_lock(cpu, L.swapLock);
  const ok = Atomics.load(mem, L.swapCache + slot) === 0;
  if (ok) {
    get_page(cpu, pfn);
    Atomics.store(mem, L.page(pfn) + PAGE_PRIVATE, slot + 1);
    SetPageFlag(cpu, pfn, PG_swapcache);
    Atomics.store(mem, L.swapCache + slot, pfn);
  }
  spin_unlock(cpu, L.swapLock);
  return ok;
}

/** __delete_from_swap_cache(): caller holds swap_lock; drops neither page nor slot reference. */
export function __delete_from_swap_cache(cpu: Cpu, pfn: number): number {
  const mem = cpu.mem;
  const slot = page_swap_slot(cpu, pfn);
  Atomics.store(mem, cpu.L.swapCache + slot, 0);
  Atomics.store(mem, cpu.L.page(pfn) + PAGE_PRIVATE, 0);
  ClearPageFlag(cpu, pfn, PG_swapcache);
  return slot;
}

/** add_to_swap(): give a locked anonymous page a slot; it enters the swap cache dirty. */
export function add_to_swap(cpu: Cpu, pfn: number): void {
  const slot = get_swap_page(cpu);
  if (!add_to_swap_cache(cpu, pfn, slot)) throw new Error(`swap slot ${slot} already cached`);
  set_page_dirty(cpu, pfn);
}

/** swap_writepage() I/O: the frame goes to its slot. */
export function swap_writepage(cpu: Cpu, pfn: number): void {
  const mem = cpu.mem;
  const from = cpu.L.frame(pfn);
  const to = cpu.L.swapData + page_swap_slot(cpu, pfn) * FRAME_WORDS;
  for (let i = 0; i < FRAME_WORDS; i++) Atomics.store(mem, to + i, Atomics.load(mem, from + i));
}

/** lookup_swap_cache(): the page caching `slot`, with a reference, or 0. */
export function lookup_swap_cache(cpu: Cpu, slot: number): number {
  const mem = cpu.mem;
  for (;;) {
    const pfn = Atomics.load(mem, cpu.L.swapCache + slot);
    if (pfn === 0 || !get_page_unless_zero(cpu, pfn)) return 0;
    if (Atomics.load(mem, cpu.L.swapCache + slot) === pfn) return pfn;
    put_page(cpu, pfn);
  }
}

/**
 * read_swap_cache_async() + swap_readpage(): a new page for `slot`, in the swap cache, read
 * from the swap area, with a reference for the caller. Returns 0 if another CPU raced us.
 */
export function swapin_readahead(cpu: Cpu, slot: number): number {
  const mem = cpu.mem;
  const pfn = alloc_anon_page(cpu);
  if (!trylock_page(cpu, pfn) || !add_to_swap_cache(cpu, pfn, slot)) {
    put_page(cpu, pfn);
    return 0;
  }
  swap_duplicate(cpu, slot); // the swap cache's reference on the slot
  const from = cpu.L.swapData + slot * FRAME_WORDS;
  const to = cpu.L.frame(pfn);
  for (let i = 0; i < FRAME_WORDS; i++) Atomics.store(mem, to + i, Atomics.load(mem, from + i));
  SetPageFlag(cpu, pfn, PG_uptodate);
  unlock_page(cpu, pfn);
  return pfn;
}

/** A fresh anonymous page (zeroed): the caller maps it with page_add_new_anon_rmap(). */
export function alloc_anon_page(cpu: Cpu): number {
  const pfn = alloc_page(cpu);
  const frame = cpu.L.frame(pfn);
  for (let i = 0; i < FRAME_WORDS; i++) Atomics.store(cpu.mem, frame + i, 0);
  Atomics.store(cpu.mem, cpu.L.page(pfn) + PAGE_MAPPING, MAPPING_ANON);
  return pfn;
}

/**
 * try_to_free_swap(): a locked page whose slot no PTE references any more (only the swap
 * cache's reference is left) leaves the swap cache; memory now holds the only copy, so the
 * page is dirty (SetPageDirty after delete_from_swap_cache).
 */
export function try_to_free_swap(cpu: Cpu, pfn: number): boolean {
  if (!PageSwapCache(cpu, pfn) || PageWriteback(cpu, pfn)) return false;
  const L = cpu.L;
  spin_lock(cpu, L.swapLock);
  const slot = page_swap_slot(cpu, pfn);
  if (swap_count(cpu, slot) !== 1) {
    spin_unlock(cpu, L.swapLock);
    return false; // page_swapcount(): some PTE still holds the entry
  }
  __delete_from_swap_cache(cpu, pfn);
  swap_free(cpu, slot);
  spin_unlock(cpu, L.swapLock);
  set_page_dirty(cpu, pfn);
  put_page(cpu, pfn); // the swap cache's reference
  return true;
}

/** free_swap_cache(): an unmapped page leaving a gather drops out of the swap cache too. */
export function free_swap_cache(cpu: Cpu, pfn: number): void {
  if (PageSwapCache(cpu, pfn) && !page_mapped(cpu, pfn) && trylock_page(cpu, pfn)) {
    try_to_free_swap(cpu, pfn);
    unlock_page(cpu, pfn);
  }
}

/** free_swap_and_cache(): a PTE's swap entry is gone (zap). */
export function free_swap_and_cache(cpu: Cpu, slot: number): void {
  swap_free(cpu, slot);
  const pfn = lookup_swap_cache(cpu, slot);
  if (pfn === 0) return;
  if (!page_mapped(cpu, pfn) && trylock_page(cpu, pfn)) {
    try_to_free_swap(cpu, pfn);
    unlock_page(cpu, pfn);
  }
  put_page(cpu, pfn);
}
