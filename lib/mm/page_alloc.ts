/**
 * The page allocator (mm/page_alloc.c, reduced): a free stack of frames under zone->lock, and
 * struct page reference counting (get_page/put_page). pfn 0 is never handed out, so a zero
 * word can mean "no page" everywhere.
 */
import type { Cpu } from "../machine/cpu.js";
import {
  HPAGE_PMD_NR,
  NR_FRAMES,
  PAGE_FLAGS,
  PAGE_INDEX,
  PAGE_LOCK,
  PAGE_MAPCOUNT,
  PAGE_MAPPING,
  PAGE_REFCOUNT,
} from "../machine/layout.js";
import { spin_lock, spin_unlock } from "../sync/spinlock.js";
import { bump_frame_gen, unify_frame_gens } from "../mmu/frame_gen.js";

/** PG_head (lib/mm/page_flags.ts); repeated here to keep the allocator free of page-flag imports. */
const PG_HEAD = 1 << 5;

export class OutOfMemoryError extends Error {}

/** alloc_page(): a fresh page with one reference, unlocked, clean, unmapped. */
export function alloc_page(cpu: Cpu): number {
  const mem = cpu.mem;
  const L = cpu.L;
  spin_lock(cpu, L.zoneLock); // zone->lock guards freeTop, highWater and the free stack
  let pfn: number;
  const top = mem[L.freeTop] as number;
  if (top > 0) {
    pfn = mem[L.freeStack + top - 1] as number;
    mem[L.freeTop] = top - 1;
  } else {
    pfn = mem[L.highWater] as number;
    if (pfn >= NR_FRAMES) {
      spin_unlock(cpu, L.zoneLock);
      throw new OutOfMemoryError(`out of page frames (${NR_FRAMES})`);
    }
    mem[L.highWater] = pfn + 1;
  }
  spin_unlock(cpu, L.zoneLock);
  const page = L.page(pfn);
  // The page is ours alone until its first reference is set: plain stores, published by the
  // atomic store of the count (set_page_refcounted()), as a speculative get_page_unless_zero()
  // reads the count first.
  mem[page + PAGE_FLAGS] = 0;
  mem[page + PAGE_LOCK] = 0;
  mem[page + PAGE_MAPCOUNT] = 0;
  mem[page + PAGE_MAPPING] = 0;
  mem[page + PAGE_INDEX] = 0;
  Atomics.store(mem, page + PAGE_REFCOUNT, 1);
  return pfn;
}

/**
 * __free_pages(): back on the free stack (LIFO: the next allocation reuses it). A compound
 * page's head frees all HPAGE_PMD_NR frames.
 */
export function free_page(cpu: Cpu, pfn: number): void {
  const mem = cpu.mem;
  const L = cpu.L;
  const nr = (Atomics.load(mem, L.page(pfn) + PAGE_FLAGS) & PG_HEAD) !== 0 ? HPAGE_PMD_NR : 1;
  Atomics.and(mem, L.page(pfn) + PAGE_FLAGS, ~PG_HEAD); // alloc_page() resets the rest
  spin_lock(cpu, L.zoneLock);
  for (let i = nr - 1; i >= 0; i--) {
    bump_frame_gen(cpu, pfn + i); // oracle only
    const top = mem[L.freeTop] as number;
    mem[L.freeStack + top] = pfn + i;
    mem[L.freeTop] = top + 1;
  }
  spin_unlock(cpu, L.zoneLock);
}

/**
 * alloc_pages(order 9): HPAGE_PMD_NR contiguous frames, zeroed, as one compound page whose
 * head holds the reference count, flags and mapcount. Taken above the high-water mark so that
 * the frames are contiguous (the free stack holds single frames).
 */
export function alloc_huge_page(cpu: Cpu): number {
  const mem = cpu.mem;
  const L = cpu.L;
  spin_lock(cpu, L.zoneLock);
  const head = mem[L.highWater] as number;
  if (head + HPAGE_PMD_NR > NR_FRAMES) {
    spin_unlock(cpu, L.zoneLock);
    throw new OutOfMemoryError(`out of page frames for a huge page (${NR_FRAMES})`);
  }
  mem[L.highWater] = head + HPAGE_PMD_NR;
  spin_unlock(cpu, L.zoneLock);
  mem.fill(0, L.page(head), L.page(head + HPAGE_PMD_NR));
  mem.fill(0, L.frame(head), L.frame(head + HPAGE_PMD_NR)); // clear_huge_page(); not yet visible
  unify_frame_gens(cpu, head, HPAGE_PMD_NR);
  Atomics.store(mem, L.page(head) + PAGE_FLAGS, PG_HEAD);
  Atomics.store(mem, L.page(head) + PAGE_REFCOUNT, 1);
  return head;
}

export function get_page(cpu: Cpu, pfn: number): void {
  Atomics.add(cpu.mem, cpu.L.page(pfn) + PAGE_REFCOUNT, 1);
}

/** get_page_unless_zero(): a speculative reference that fails on a page being freed. */
export function get_page_unless_zero(cpu: Cpu, pfn: number): boolean {
  const mem = cpu.mem;
  const ref = cpu.L.page(pfn) + PAGE_REFCOUNT;
  for (let c = Atomics.load(mem, ref); c !== 0; c = Atomics.load(mem, ref)) {
    if (Atomics.compareExchange(mem, ref, c, c + 1) === c) return true;
  }
  return false;
}

export function put_page(cpu: Cpu, pfn: number): void {
  if (Atomics.sub(cpu.mem, cpu.L.page(pfn) + PAGE_REFCOUNT, 1) === 1) free_page(cpu, pfn);
}

/** page_ref_freeze(): take the count from `count` to 0 if nobody else holds a reference. */
export function page_ref_freeze(cpu: Cpu, pfn: number, count: number): boolean {
  return Atomics.compareExchange(cpu.mem, cpu.L.page(pfn) + PAGE_REFCOUNT, count, 0) === count;
}

export function page_ref_unfreeze(cpu: Cpu, pfn: number, count: number): void {
  Atomics.store(cpu.mem, cpu.L.page(pfn) + PAGE_REFCOUNT, count);
}
