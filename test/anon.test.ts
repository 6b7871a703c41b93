/**
 * Anonymous memory, swap and reclaim on one in-thread CPU (test/helpers/solo.ts): the zero page
 * and wp_page_copy, shrink_page_list() swap-out and do_swap_page() swap-in, madvise(MADV_FREE),
 * mremap and munmap of swap entries, and the anon_vma list order. The kernel these follow is
 * v4.9 (mm/memory.c, mm/rmap.c, mm/vmscan.c, mm/swapfile.c, mm/madvise.c).
 *
 * The cases at the end were divergences from the kernel found while writing these tests (now
 * fixed in lib/mm/swap.ts, madvise.ts, tlb_gather.ts); each says what the kernel does.
 */
import test from "ava";
import {
  FRAME_WORDS,
  PAGE_INDEX,
  PAGE_MAPCOUNT,
  PAGE_REFCOUNT,
  PAGE_SHIFT,
  VMA_FLAGS,
  ZERO_PFN,
} from "../lib/machine/layout.js";
import { KERNELS } from "../lib/kernels/index.js";
import { user_load, user_store } from "../lib/mmu/access.js";
import {
  _PAGE_ACCESSED,
  _PAGE_DIRTY,
  _PAGE_PRESENT,
  _PAGE_RW,
  PTE_PFN_MASK,
  pte_is_swap,
  pte_pfn,
  pte_to_swp_slot,
  swp_entry_to_pte,
} from "../lib/mmu/pgtable.js";
import { tlb_lookup, TLB_DIRTY, TLB_WRITE } from "../lib/mmu/tlb.js";
import { SIGSEGV } from "../lib/mm/fault.js";
import { madvise_free } from "../lib/mm/madvise.js";
import { copy_vma, find_vma, sys_mmap_anon, sys_munmap, VM_WRITE } from "../lib/mm/mmap.js";
import { sys_mremap } from "../lib/mm/mremap.js";
import { get_page, put_page } from "../lib/mm/page_alloc.js";
import { PageAnon, PageDirty, PageSwapCache, PG_dirty, SetPageFlag } from "../lib/mm/page_flags.js";
import { page_swap_slot } from "../lib/mm/swap.js";
import { shrink_page_list } from "../lib/mm/vmscan.js";
import { down_write, up_write } from "../lib/sync/rwsem.js";
import { solo, type Solo } from "./helpers/solo.js";

const LEN = 4 << PAGE_SHIFT;

const pfnAt = (m: Solo, addr: number): number => pte_pfn(m.pte(addr));
const refcount = (m: Solo, pfn: number): number =>
  Atomics.load(m.mem, m.L.page(pfn) + PAGE_REFCOUNT);
const mapcount = (m: Solo, pfn: number): number =>
  Atomics.load(m.mem, m.L.page(pfn) + PAGE_MAPCOUNT);
const frameGen = (m: Solo, pfn: number): number => Atomics.load(m.mem, m.L.frameGen + pfn);
const swapMap = (m: Solo, slot: number): number => Atomics.load(m.mem, m.L.swapMap + slot);
const swapCache = (m: Solo, slot: number): number => Atomics.load(m.mem, m.L.swapCache + slot);
const swapData = (m: Solo, slot: number): number =>
  Atomics.load(m.mem, m.L.swapData + slot * FRAME_WORDS);
/** Is pfn on the page allocator's free stack? */
function isFree(m: Solo, pfn: number): boolean {
  const top = Atomics.load(m.mem, m.L.freeTop);
  for (let i = 0; i < top; i++) if (Atomics.load(m.mem, m.L.freeStack + i) === pfn) return true;
  return false;
}
/** The anon_vma's VMA slots, in list (tree) order. */
function anonList(m: Solo): number[] {
  const n = Atomics.load(m.mem, m.L.anonVma);
  return Array.from({ length: n }, (_, i) => Atomics.load(m.mem, m.L.anonVma + 1 + i));
}
/**
 * Take VM_WRITE away from the VMA behind the page tables' back (an mprotect() that leaves the
 * PTEs alone): from then on a write *fault* at addr is a SIGSEGV, so a store that succeeds was
 * done by the MMU alone, with no fault taken.
 */
function faultsWouldSegv(m: Solo, addr: number): void {
  const vma = find_vma(m.cpu, addr);
  Atomics.and(m.mem, m.L.vma(vma) + VMA_FLAGS, ~VM_WRITE);
}

/** An anonymous mapping at X whose first page holds `value`. Returns its pfn. */
function storedAnon(m: Solo, value: number): number {
  sys_mmap_anon(m.cpu, m.X, LEN);
  if (user_store(m.cpu, m.X, value) !== 0) throw new Error("store faulted");
  return pfnAt(m, m.X);
}

/* ---------------------------------------------------------------- do_anonymous_page */

test("a load from fresh anonymous memory maps the zero page read-only and reads 0", (t) => {
  const m = solo();
  sys_mmap_anon(m.cpu, m.X, LEN);
  t.is(m.pte(m.X), 0, "mmap populates nothing");
  t.is(user_load(m.cpu, m.X), 0);
  t.is(m.cpu.fault, 0);
  const pte = m.pte(m.X);
  t.is(pte_pfn(pte), ZERO_PFN);
  t.truthy(pte & _PAGE_PRESENT);
  t.falsy(pte & _PAGE_RW, "the zero page is never writable");
  t.falsy(pte & _PAGE_DIRTY);
  t.is(refcount(m, ZERO_PFN), 1, "vm_normal_page() is NULL: no reference taken");
  t.is(mapcount(m, ZERO_PFN), 0, "and no rmap");
  t.falsy(tlb_lookup(m.cpu, m.X >>> PAGE_SHIFT) & TLB_WRITE, "TLB caches it read-only");
});

test("a store to the zero page gets a private copy through wp_page_copy", (t) => {
  const m = solo();
  sys_mmap_anon(m.cpu, m.X, LEN);
  user_load(m.cpu, m.X);
  const flushes = m.cpu.flushes;
  t.is(user_store(m.cpu, m.X, 7), 0);
  const pte = m.pte(m.X);
  const pfn = pte_pfn(pte);
  t.not(pfn, ZERO_PFN);
  t.truthy(pte & _PAGE_RW);
  t.truthy(pte & _PAGE_DIRTY);
  t.is(m.frameValue(pfn), 7);
  t.is(m.frameValue(ZERO_PFN), 0, "the zero page itself was not written");
  t.is(user_load(m.cpu, m.X), 7);
  t.true(PageAnon(m.cpu, pfn));
  t.is(mapcount(m, pfn), 1);
  t.is(refcount(m, pfn), 1, "the PTE's reference");
  t.is(Atomics.load(m.mem, m.L.page(pfn) + PAGE_INDEX), m.X >>> PAGE_SHIFT, "linear index");
  t.is(refcount(m, ZERO_PFN), 1, "the zero page is not put");
  t.is(m.cpu.flushes, flushes + 1, "ptep_clear_flush() of the zero-page translation");
});

test("a store to fresh anonymous memory maps a zeroed private page writable and dirty at once", (t) => {
  const m = solo();
  sys_mmap_anon(m.cpu, m.X, LEN);
  const flushes = m.cpu.flushes;
  const addr = m.X + (1 << PAGE_SHIFT) + 4; // word 1 of page 1
  t.is(user_store(m.cpu, addr, 9), 0);
  const pte = m.pte(addr);
  const pfn = pte_pfn(pte);
  t.not(pfn, ZERO_PFN);
  t.truthy(pte & _PAGE_RW);
  t.truthy(pte & _PAGE_DIRTY);
  t.is(Atomics.load(m.mem, m.L.frame(pfn) + 1), 9);
  t.is(m.frameValue(pfn), 0, "the rest of the page is zeroed");
  t.is(mapcount(m, pfn), 1);
  t.is(m.cpu.flushes, flushes, "nothing was mapped before: nothing to flush");
  const e = tlb_lookup(m.cpu, addr >>> PAGE_SHIFT);
  t.truthy(e & TLB_WRITE);
  t.truthy(e & TLB_DIRTY);
});

/* ---------------------------------------------------------------- reclaim and swap-in */

test("reclaim swaps a stored page out: swap entry, slot data, frame freed, slot held by the PTE only", (t) => {
  const m = solo();
  const pfn = storedAnon(m, 5);
  const gen = frameGen(m, pfn);
  t.is(shrink_page_list(m.cpu), 1);
  const pte = m.pte(m.X);
  t.true(pte_is_swap(pte), "the PTE holds a swap entry");
  t.falsy(pte & _PAGE_PRESENT);
  const slot = pte_to_swp_slot(pte);
  t.is(slot, 0, "first slot of the bump allocator");
  t.is(swapData(m, slot), 5, "swap_writepage() wrote the frame");
  t.is(swapMap(m, slot), 1, "one PTE holds the slot; the swap cache no longer does");
  t.is(swapCache(m, slot), 0, "not in the swap cache");
  t.is(refcount(m, pfn), 0);
  t.is(mapcount(m, pfn), 0);
  t.false(PageSwapCache(m.cpu, pfn));
  t.true(isFree(m, pfn), "frame back on the free stack");
  t.is(frameGen(m, pfn), gen + 1, "free_page() bumped the frame generation");
  t.is(tlb_lookup(m.cpu, m.X >>> PAGE_SHIFT), 0, "try_to_unmap flushed the translation");
});

test("reclaim leaves the zero page and empty PTEs alone", (t) => {
  const m = solo();
  sys_mmap_anon(m.cpu, m.X, LEN);
  user_load(m.cpu, m.X);
  const pte = m.pte(m.X);
  t.is(shrink_page_list(m.cpu), 0);
  t.is(m.pte(m.X), pte);
  t.is(refcount(m, ZERO_PFN), 1);
  t.is(Atomics.load(m.mem, m.L.swapHighWater), 0, "no slot was handed out");
});

test("a load swaps the page back in read-only, and it stays in the swap cache (v4.9 do_swap_page)", (t) => {
  const m = solo();
  storedAnon(m, 5);
  shrink_page_list(m.cpu);
  const slot = pte_to_swp_slot(m.pte(m.X));
  t.is(user_load(m.cpu, m.X), 5);
  t.is(m.cpu.fault, 0);
  const pte = m.pte(m.X);
  t.truthy(pte & _PAGE_PRESENT);
  t.falsy(pte & _PAGE_RW, "a read fault maps it read-only");
  t.falsy(pte & _PAGE_DIRTY);
  const pfn = pte_pfn(pte);
  t.is(m.frameValue(pfn), 5);
  t.is(mapcount(m, pfn), 1);
  // do_swap_page() only calls try_to_free_swap() when swap is full or the VMA is mlocked: after
  // a read fault the page stays in the swap cache, which holds the slot's one reference.
  t.true(PageSwapCache(m.cpu, pfn));
  t.is(page_swap_slot(m.cpu, pfn), slot);
  t.is(swapCache(m, slot), pfn);
  t.is(swapMap(m, slot), 1, "swap_free() dropped the PTE's reference; the cache's remains");
  t.is(refcount(m, pfn), 2, "the PTE's and the swap cache's");
});

test("a store after a read swap-in reuses the page: writable and dirty, same pfn", (t) => {
  const m = solo();
  storedAnon(m, 5);
  shrink_page_list(m.cpu);
  user_load(m.cpu, m.X);
  const pfn = pfnAt(m, m.X);
  t.is(user_store(m.cpu, m.X, 6), 0);
  const pte = m.pte(m.X);
  t.is(pte_pfn(pte), pfn, "only we map it, nobody else holds the slot: no copy");
  t.truthy(pte & _PAGE_RW);
  t.truthy(pte & _PAGE_DIRTY);
  t.is(user_load(m.cpu, m.X), 6);
});

test("a store to a swapped-out page swaps it in writable and dirty at once", (t) => {
  const m = solo();
  storedAnon(m, 5);
  shrink_page_list(m.cpu);
  t.is(user_store(m.cpu, m.X + 4, 8), 0);
  const pte = m.pte(m.X);
  t.truthy(pte & _PAGE_PRESENT);
  t.truthy(pte & _PAGE_RW);
  t.truthy(pte & _PAGE_DIRTY);
  t.is(user_load(m.cpu, m.X), 5, "word 0 came back from swap");
  t.is(user_load(m.cpu, m.X + 4), 8);
});

test("swap out, in and out again keeps the last value stored", (t) => {
  const m = solo();
  storedAnon(m, 5);
  shrink_page_list(m.cpu);
  t.is(user_store(m.cpu, m.X, 6), 0);
  t.is(shrink_page_list(m.cpu), 1);
  t.true(pte_is_swap(m.pte(m.X)));
  t.is(user_load(m.cpu, m.X), 6);
  t.is(shrink_page_list(m.cpu), 1, "a clean swap-cache page is freed without I/O");
  t.is(user_load(m.cpu, m.X), 6);
});

test("reclaim does not free a page someone else holds a reference to", (t) => {
  const m = solo();
  const pfn = storedAnon(m, 5);
  get_page(m.cpu, pfn); // e.g. a get_user_pages() pin
  const gen = frameGen(m, pfn);
  t.is(shrink_page_list(m.cpu), 0, "nothing freed");
  // try_to_unmap() still ran and pageout() wrote the page; only __remove_mapping()'s refcount
  // freeze failed, so the page stays in the swap cache, clean, with its data.
  const pte = m.pte(m.X);
  t.true(pte_is_swap(pte), "unmapped all the same");
  const slot = pte_to_swp_slot(pte);
  t.is(swapData(m, slot), 5);
  t.is(frameGen(m, pfn), gen, "frame not freed");
  t.false(isFree(m, pfn));
  t.is(refcount(m, pfn), 2, "ours and the swap cache's");
  t.is(mapcount(m, pfn), 0);
  t.true(PageSwapCache(m.cpu, pfn));
  t.is(swapCache(m, slot), pfn);
  t.is(swapMap(m, slot), 2, "the PTE's and the swap cache's");
  t.false(PageDirty(m.cpu, pfn), "written back");
  t.is(m.frameValue(pfn), 5);
  // The next fault finds it in the swap cache: no read, same frame.
  t.is(user_load(m.cpu, m.X), 5);
  t.is(pfnAt(m, m.X), pfn);
  t.is(swapMap(m, slot), 1);
  put_page(m.cpu, pfn);
  t.is(refcount(m, pfn), 2, "the PTE's and the swap cache's");
  t.is(shrink_page_list(m.cpu), 1, "once the pin is gone, the page goes");
  t.true(isFree(m, pfn));
  t.is(user_load(m.cpu, m.X), 5);
});

/* ---------------------------------------------------------------- madvise(MADV_FREE) */

test("madvise_free leaves the PTE present and writable but clean and old, and the page clean", (t) => {
  const m = solo();
  const pfn = storedAnon(m, 5);
  SetPageFlag(m.cpu, pfn, PG_dirty); // make the page flag's clearing visible
  const before = m.pte(m.X);
  t.truthy(before & _PAGE_DIRTY);
  t.truthy(before & _PAGE_ACCESSED);
  t.is(madvise_free(m.cpu, m.X, LEN), 0);
  const pte = m.pte(m.X);
  t.is(pte_pfn(pte), pfn);
  t.truthy(pte & _PAGE_PRESENT);
  t.truthy(pte & _PAGE_RW, "still writable: a later write needs no fault");
  t.falsy(pte & _PAGE_DIRTY);
  t.falsy(pte & _PAGE_ACCESSED);
  t.is(pte & ~(_PAGE_DIRTY | _PAGE_ACCESSED), before & ~(_PAGE_DIRTY | _PAGE_ACCESSED));
  t.false(PageDirty(m.cpu, pfn));
  t.is(tlb_lookup(m.cpu, m.X >>> PAGE_SHIFT), 0, "the old dirty translation was flushed");
  t.is(m.frameValue(pfn), 5, "the data is still there until reclaim");
});

test("after madvise_free the walker sets A on a load and D on a store, with no fault", (t) => {
  const m = solo();
  const pfn = storedAnon(m, 5);
  madvise_free(m.cpu, m.X, LEN);
  faultsWouldSegv(m, m.X);
  const flushes = m.cpu.flushes;
  t.is(user_load(m.cpu, m.X), 5);
  t.is(m.cpu.fault, 0);
  t.truthy(m.pte(m.X) & _PAGE_ACCESSED, "a load sets A");
  t.falsy(m.pte(m.X) & _PAGE_DIRTY);
  const e = tlb_lookup(m.cpu, m.X >>> PAGE_SHIFT);
  t.truthy(e & TLB_WRITE, "a freshly filled entry: writable ...");
  t.falsy(e & TLB_DIRTY, "... and clean");
  t.is(user_store(m.cpu, m.X, 6), 0, "no fault (it would have been a SIGSEGV)");
  const pte = m.pte(m.X);
  t.truthy(pte & _PAGE_DIRTY, "the walker set D in the PTE");
  t.is(pte_pfn(pte), pfn, "same page");
  t.is(m.frameValue(pfn), 6);
  t.truthy(tlb_lookup(m.cpu, m.X >>> PAGE_SHIFT) & TLB_DIRTY);
  t.is(m.cpu.flushes, flushes, "no flush either");
});

test("madvise_free skips the zero page and leaves the data of a page written again", (t) => {
  const m = solo();
  sys_mmap_anon(m.cpu, m.X, LEN);
  user_load(m.cpu, m.X); // zero page
  user_store(m.cpu, m.X + (1 << PAGE_SHIFT), 3);
  const zero = m.pte(m.X);
  madvise_free(m.cpu, m.X, LEN);
  t.is(m.pte(m.X), zero, "vm_normal_page() is NULL: untouched");
  t.is(user_store(m.cpu, m.X + (1 << PAGE_SHIFT), 4), 0);
  t.is(shrink_page_list(m.cpu), 1);
  t.is(user_load(m.cpu, m.X + (1 << PAGE_SHIFT)), 4, "a write after MADV_FREE is never lost");
});

/* ---------------------------------------------------------------- mremap and munmap */

for (const kernel of KERNELS) {
  test(`${kernel.name}: mremap moves a swap entry, and a load at the new address swaps the value in`, (t) => {
    const m = solo();
    m.cpu.kernel = kernel;
    storedAnon(m, 5);
    shrink_page_list(m.cpu);
    const entry = m.pte(m.X);
    t.true(pte_is_swap(entry));
    const slot = pte_to_swp_slot(entry);
    t.is(sys_mremap(m.cpu, m.X, LEN, m.Y), m.Y);
    t.is(m.pte(m.X), 0, "X is empty");
    const moved = m.pte(m.Y);
    t.true(pte_is_swap(moved), "Y holds a swap entry ...");
    t.is(pte_to_swp_slot(moved), slot, "... for the same slot");
    // move_soft_dirty_pte() may add the soft-dirty bit; the entry itself is unchanged.
    t.is(moved & PTE_PFN_MASK, entry & PTE_PFN_MASK);
    t.is(swapMap(m, slot), 1, "moved, not duplicated");
    t.is(user_load(m.cpu, m.Y), 5);
    t.is(m.cpu.fault, 0);
    const pfn = pfnAt(m, m.Y);
    t.is(Atomics.load(m.mem, m.L.page(pfn) + PAGE_INDEX), m.X >>> PAGE_SHIFT, "same pgoff");
    t.is(user_load(m.cpu, m.X), 0);
    t.is(m.cpu.fault, SIGSEGV, "X is gone");
  });

  test(`${kernel.name}: munmap of a swapped-out mapping frees its slot (free_swap_and_cache)`, (t) => {
    const m = solo();
    m.cpu.kernel = kernel;
    storedAnon(m, 5);
    shrink_page_list(m.cpu);
    const slot = pte_to_swp_slot(m.pte(m.X));
    t.is(swapMap(m, slot), 1);
    sys_munmap(m.cpu, m.X, LEN);
    t.is(m.pte(m.X), 0);
    t.is(swapMap(m, slot), 0);
    t.is(swapCache(m, slot), 0);
    t.deepEqual(anonList(m), [], "unlink_anon_vmas()");
  });
}

test("munmap of a swapped-out page still in the swap cache frees slot and page", (t) => {
  const m = solo();
  const pfn = storedAnon(m, 5);
  get_page(m.cpu, pfn);
  shrink_page_list(m.cpu); // unmapped and written, kept in the swap cache by our reference
  const slot = pte_to_swp_slot(m.pte(m.X));
  t.is(swapMap(m, slot), 2);
  sys_munmap(m.cpu, m.X, LEN);
  t.is(swapMap(m, slot), 0, "the PTE's reference and, via try_to_free_swap, the cache's");
  t.is(swapCache(m, slot), 0);
  t.false(PageSwapCache(m.cpu, pfn));
  t.is(refcount(m, pfn), 1, "only our pin is left");
  put_page(m.cpu, pfn);
  t.true(isFree(m, pfn));
});

test("munmap of the zero page drops no reference", (t) => {
  const m = solo();
  sys_mmap_anon(m.cpu, m.X, LEN);
  user_load(m.cpu, m.X);
  sys_munmap(m.cpu, m.X, LEN);
  t.is(m.pte(m.X), 0);
  t.is(refcount(m, ZERO_PFN), 1);
  t.false(isFree(m, ZERO_PFN));
});

test("munmap of a present anonymous page frees it", (t) => {
  const m = solo();
  const pfn = storedAnon(m, 5);
  sys_munmap(m.cpu, m.X, LEN);
  t.is(mapcount(m, pfn), 0);
  t.is(refcount(m, pfn), 0);
  t.true(isFree(m, pfn));
});

/* ---------------------------------------------------------------- anon_vma order */

test("copy_vma of an anonymous VMA links the new VMA after the old one (same pgoff goes right)", (t) => {
  const m = solo();
  sys_mmap_anon(m.cpu, m.X, LEN);
  const old = find_vma(m.cpu, m.X);
  t.deepEqual(anonList(m), [old]);
  const pgoff = m.X >>> PAGE_SHIFT;
  down_write(m.cpu, m.L.mmapSem);
  const nv = copy_vma(m.cpu, old, m.Y, LEN, pgoff);
  up_write(m.cpu, m.L.mmapSem);
  t.not(nv, old);
  t.is(Atomics.load(m.mem, m.L.anonVma), 2);
  t.deepEqual(anonList(m), [old, nv], "old VMA first, then the new one");
  t.is(Atomics.load(m.mem, m.L.iMmap), 0, "not in the file's i_mmap");
  // A smaller pgoff goes left of both.
  const low = 1 << PAGE_SHIFT;
  sys_mmap_anon(m.cpu, low, LEN);
  t.deepEqual(anonList(m), [find_vma(m.cpu, low), old, nv]);
});

test("reclaim in the middle of mremap finds the page through the new VMA after the move", (t) => {
  const m = solo();
  const pfn = storedAnon(m, 5);
  const old = find_vma(m.cpu, m.X);
  down_write(m.cpu, m.L.mmapSem);
  const nv = copy_vma(m.cpu, old, m.Y, LEN, m.X >>> PAGE_SHIFT);
  m.cpu.kernel.move_page_tables(m.cpu, old, m.X, nv, m.Y, LEN, false);
  up_write(m.cpu, m.L.mmapSem);
  t.is(pfnAt(m, m.Y), pfn);
  // Both VMAs are on the list; the walk skips the old one (empty PTE) and unmaps at Y.
  t.is(shrink_page_list(m.cpu), 1);
  t.is(m.pte(m.X), 0);
  t.is(m.pte(m.Y) & PTE_PFN_MASK, swp_entry_to_pte(0));
  t.is(user_load(m.cpu, m.Y), 5);
});

/* ---------------------------------------------------------------- divergences from v4.9 */

// BUG (lib/mm/swap.ts try_to_free_swap): it returns false for a mapped page. The kernel's
// try_to_free_swap() has no page_mapped() test (it checks page_swapcount() == 0, i.e. no PTE
// holds the entry; the page_mapped() test belongs to free_swap_and_cache()). Both reuse paths
// call it *after* the page is mapped, so it can never succeed there. v4.9's do_swap_page() calls
// reuse_swap_page() before mapping: count = mapcount 0 + swapcount 1 == 1, so it does
// delete_from_swap_cache() + SetPageDirty() and swap_free() then frees the slot.
test("a write swap-in with nobody else holding the slot takes the page out of the swap cache and frees the slot", (t) => {
  const m = solo();
  storedAnon(m, 5);
  shrink_page_list(m.cpu);
  const slot = pte_to_swp_slot(m.pte(m.X));
  t.is(user_store(m.cpu, m.X, 7), 0);
  const pfn = pfnAt(m, m.X);
  t.false(PageSwapCache(m.cpu, pfn), "delete_from_swap_cache()");
  t.is(swapCache(m, slot), 0);
  t.is(swapMap(m, slot), 0, "slot free");
  t.true(PageDirty(m.cpu, pfn), "SetPageDirty(): the swap copy is gone");
  t.is(refcount(m, pfn), 1, "only the PTE's reference");
});

// Same root cause, do_wp_page() path: v4.9's reuse_swap_page() on a read-swapped-in page
// (mapcount 1 + swapcount 0 == 1) deletes it from the swap cache and dirties it before
// wp_page_reuse(). The model's do_wp_page_anon() reuses but its try_to_free_swap() refuses.
test("a write to a read-swapped-in page takes it out of the swap cache and frees the slot", (t) => {
  const m = solo();
  storedAnon(m, 5);
  shrink_page_list(m.cpu);
  const slot = pte_to_swp_slot(m.pte(m.X));
  user_load(m.cpu, m.X);
  const pfn = pfnAt(m, m.X);
  t.is(user_store(m.cpu, m.X, 7), 0);
  t.false(PageSwapCache(m.cpu, pfn), "delete_from_swap_cache()");
  t.is(swapMap(m, slot), 0, "slot free");
  t.true(PageDirty(m.cpu, pfn));
});

// BUG (lib/mm/madvise.ts + the try_to_free_swap bug above): the model's madvise_free() clears
// PG_dirty and the PTE's D of a page still in the swap cache. v4.9 madvise_free_pte_range()
// does "if (PageSwapCache(page) && !try_to_free_swap(page)) skip" first, so a page whose swap
// copy is stale is never made clean. Here the swap copy holds 5, the page 7: reclaim sees a
// clean swap-cache page, frees it without writing it, and the next load reads the older 5.
// MADV_FREE allows 7 (not reclaimed) or 0 (discarded), never an older value.
test("madvise_free then reclaim never brings back an older swap copy", (t) => {
  const m = solo();
  storedAnon(m, 5);
  shrink_page_list(m.cpu);
  t.is(user_store(m.cpu, m.X, 7), 0); // swapped in for write; page still in the swap cache
  madvise_free(m.cpu, m.X, LEN);
  shrink_page_list(m.cpu);
  const v = user_load(m.cpu, m.X);
  t.true(v === 7 || v === 0, `read ${v}: 7 or 0 allowed, the stale swap copy is not`);
});

// Divergence (lib/mm/tlb_gather.ts tlb_flush_mmu_free): v4.9's mmu_gather frees pages with
// free_pages_and_swap_cache(), whose free_swap_cache() runs try_to_free_swap() on an unmapped
// swap-cache page it can lock. The model only put_page()s, so munmap of a swapped-in page
// leaves page and slot in the swap cache until the next reclaim.
test("munmap of a swapped-in page frees its swap slot and the page (free_pages_and_swap_cache)", (t) => {
  const m = solo();
  storedAnon(m, 5);
  shrink_page_list(m.cpu);
  const slot = pte_to_swp_slot(m.pte(m.X));
  user_load(m.cpu, m.X);
  const pfn = pfnAt(m, m.X);
  sys_munmap(m.cpu, m.X, LEN);
  t.is(swapMap(m, slot), 0);
  t.is(swapCache(m, slot), 0);
  t.true(isFree(m, pfn));
});
