/**
 * ftruncate(), the allocator and the use-after-free oracle, on one in-thread CPU (solo).
 */
import test from "ava";
import { KERNELS, type Kernel } from "../lib/kernels/index.js";
import {
  CPU_UAF,
  FRAME_WORDS,
  PAGE_MAPCOUNT,
  PAGE_REFCOUNT,
  PAGE_SHIFT,
} from "../lib/machine/layout.js";
import { P_ZAP_PTE_RANGE_UNLOCKED } from "../lib/machine/points.js";
import { user_load, user_store } from "../lib/mmu/access.js";
import { note_frame_gen } from "../lib/mmu/frame_gen.js";
import { _PAGE_DIRTY, pte_offset_walk, pte_pfn } from "../lib/mmu/pgtable.js";
import { local_flush_tlb, tlb_fill, tlb_lookup } from "../lib/mmu/tlb.js";
import { fadvise_dontneed } from "../lib/mm/fadvise.js";
import { SIGBUS } from "../lib/mm/fault.js";
import { do_generic_file_read, file_pages } from "../lib/mm/filemap.js";
import { sys_mmap, sys_munmap } from "../lib/mm/mmap.js";
import { alloc_page, free_page, put_page } from "../lib/mm/page_alloc.js";
import { PageDirty } from "../lib/mm/page_flags.js";
import { sys_ftruncate } from "../lib/mm/truncate.js";
import { solo, type Solo } from "./helpers/solo.js";

const PAGES = 4;
const LEN = PAGES << PAGE_SHIFT;

const at = (m: Solo, page: number): number => m.X + (page << PAGE_SHIFT);
const freeTop = (m: Solo): number => Atomics.load(m.mem, m.L.freeTop);
const gen = (m: Solo, pfn: number): number => Atomics.load(m.mem, m.L.frameGen + pfn);
const uaf = (m: Solo): number => Atomics.load(m.mem, m.L.cpu(0) + CPU_UAF);
const mapcount = (m: Solo, pfn: number): number =>
  Atomics.load(m.mem, m.L.page(pfn) + PAGE_MAPCOUNT);
const refcount = (m: Solo, pfn: number): number =>
  Atomics.load(m.mem, m.L.page(pfn) + PAGE_REFCOUNT);

/** A 4-page file mapped at X, written back once (10..13), then dirtied again (20..23). */
function mappedDirtyFile(kernel: Kernel): { m: Solo; pfns: number[] } {
  const m = solo(PAGES);
  m.cpu.kernel = kernel;
  sys_mmap(m.cpu, m.X, LEN, 0);
  for (let i = 0; i < PAGES; i++) user_store(m.cpu, at(m, i), 10 + i);
  fadvise_dontneed(m.cpu, 0, PAGES); // 10..13 reach the file; PTEs cleaned and write-protected
  for (let i = 0; i < PAGES; i++) user_store(m.cpu, at(m, i), 20 + i); // do_wp_page: dirty again
  const pfns = [0, 1, 2, 3].map((i) => pte_pfn(m.pte(at(m, i))));
  return { m, pfns };
}

for (const kernel of KERNELS) {
  test(`${kernel.name}: ftruncate(0) of a mapped, dirty 4-page file unmaps, drops and frees every page`, (t) => {
    const { m, pfns } = mappedDirtyFile(kernel);
    t.is(new Set(pfns).size, PAGES, "four distinct frames");
    for (let i = 0; i < PAGES; i++) {
      const pfn = pfns[i] as number;
      t.truthy(m.pte(at(m, i)) & _PAGE_DIRTY, `page ${i}: PTE dirty`);
      t.true(PageDirty(m.cpu, pfn), `page ${i}: page dirty`);
      t.is(mapcount(m, pfn), 1);
      t.is(refcount(m, pfn), 2, "page cache + PTE");
      t.is(m.cached(i), pfn);
      t.is(m.backing(i), 10 + i, "the first values were written back");
    }
    t.is(do_generic_file_read(m.cpu, 2, 0), 22, "pread sees the page cache");
    const top = freeTop(m);
    const gens = pfns.map((p) => gen(m, p));

    t.is(sys_ftruncate(m.cpu, 0), 0);

    t.is(file_pages(m.cpu), 0, "i_size is 0");
    t.is(freeTop(m), top + PAGES, "all four frames went back to the free stack");
    for (let i = 0; i < PAGES; i++) {
      const pfn = pfns[i] as number;
      t.is(m.pte(at(m, i)), 0, `page ${i}: PTE cleared`);
      t.is(m.cached(i), 0, `page ${i}: out of the page cache`);
      t.is(mapcount(m, pfn), 0, `page ${i}: unmapped`);
      t.is(refcount(m, pfn), 0, `page ${i}: no reference left`);
      t.false(PageDirty(m.cpu, pfn), `page ${i}: cancel_dirty_page()`);
      t.is(gen(m, pfn), (gens[i] as number) + 1, `page ${i}: freed exactly once`);
      t.is(m.backing(i), 0, `page ${i}: blocks beyond i_size freed`);
      t.is(do_generic_file_read(m.cpu, i, 0), 0, `page ${i}: pread beyond i_size reads nothing`);
    }
    const freed = new Set<number>();
    for (let i = 0; i < PAGES; i++) freed.add(m.mem[m.L.freeStack + top + i] as number);
    t.deepEqual(freed, new Set(pfns), "the free stack holds exactly these frames");
    t.is(uaf(m), 0, "no access went through a stale translation");

    // The VMA is still there, the page is not: a load faults with SIGBUS, not SIGSEGV.
    t.is(tlb_lookup(m.cpu, m.X >>> PAGE_SHIFT), 0, "truncation flushed the local TLB");
    t.is(user_load(m.cpu, at(m, 1)), 0);
    t.is(m.cpu.fault, SIGBUS);
    t.is(user_store(m.cpu, at(m, 3), 5), SIGBUS);
    t.is(freeTop(m), top + PAGES, "the faults allocated nothing");
  });
}

test("ftruncate can only shrink: growing the file is -EINVAL and changes nothing", (t) => {
  const m = solo(PAGES);
  sys_mmap(m.cpu, m.X, LEN, 0);
  user_store(m.cpu, m.X, 1);
  t.is(sys_ftruncate(m.cpu, PAGES + 1), -22);
  t.is(file_pages(m.cpu), PAGES);
  t.is(user_load(m.cpu, m.X), 1);
});

test("ftruncate to 2 pages keeps pages 0-1 mapped and frees pages 2-3", (t) => {
  const { m, pfns } = mappedDirtyFile(KERNELS[0] as Kernel);
  const top = freeTop(m);
  t.is(sys_ftruncate(m.cpu, 2), 0);
  t.is(file_pages(m.cpu), 2);
  t.is(freeTop(m), top + 2);
  for (const i of [0, 1]) {
    t.is(pte_pfn(m.pte(at(m, i))), pfns[i] as number, `page ${i} still mapped`);
    t.is(m.cached(i), pfns[i] as number);
    t.is(user_load(m.cpu, at(m, i)), 20 + i);
  }
  for (const i of [2, 3]) {
    t.is(m.pte(at(m, i)), 0);
    t.is(m.cached(i), 0);
    t.is(user_load(m.cpu, at(m, i)), 0);
    t.is(m.cpu.fault, SIGBUS);
  }
});

test("the allocator is LIFO: alloc after free returns the most recently freed frame", (t) => {
  const m = solo(PAGES);
  const a = alloc_page(m.cpu);
  const b = alloc_page(m.cpu);
  const c = alloc_page(m.cpu);
  t.not(a, 0, "pfn 0 is never handed out");
  t.is(new Set([a, b, c]).size, 3);
  t.is(refcount(m, a), 1);
  free_page(m.cpu, a);
  put_page(m.cpu, c); // the last reference: frees c
  t.is(freeTop(m), 2);
  t.is(alloc_page(m.cpu), c, "c was freed last");
  t.is(alloc_page(m.cpu), a);
  t.is(freeTop(m), 0);
  const d = alloc_page(m.cpu);
  t.false([a, b, c].includes(d), "an empty free stack takes a new frame from the high water mark");
  t.is(refcount(m, d), 1);
  t.false(PageDirty(m.cpu, d), "a fresh page is clean");
});

test("free_page bumps the frame generation; put_page of a shared page does not", (t) => {
  const m = solo(PAGES);
  const p = alloc_page(m.cpu);
  const g = gen(m, p);
  Atomics.add(m.mem, m.L.page(p) + PAGE_REFCOUNT, 1); // get_page
  put_page(m.cpu, p);
  t.is(gen(m, p), g, "still referenced: not freed");
  put_page(m.cpu, p);
  t.is(gen(m, p), g + 1, "freed");
  t.is(alloc_page(m.cpu), p, "reused at once (LIFO)");
  t.is(gen(m, p), g + 1, "allocation does not bump it");
});

test("use-after-free oracle: an entry that outlives truncate's free is counted, and reads the new owner's data", (t) => {
  const m = solo(1);
  m.cpu.kernel = KERNELS.find((k) => k.name === "v4.9-rc4") as Kernel;
  sys_mmap(m.cpu, m.X, 1 << PAGE_SHIFT, 0);
  t.is(user_store(m.cpu, m.X, 1), 0, "write fault fills a writable, dirty TLB entry");
  const vpn = m.X >>> PAGE_SHIFT;
  const entry = tlb_lookup(m.cpu, vpn);
  const pfn = entry >>> PAGE_SHIFT;
  t.not(entry, 0);
  t.is(pfn, pte_pfn(m.pte(m.X)));
  t.is(uaf(m), 0, "a fresh entry counts nothing");
  t.is(user_load(m.cpu, m.X), 1);
  t.is(uaf(m), 0, "a TLB hit on a live frame counts nothing");

  // In solo mode truncation flushes our own TLB: the dirty PTE forces the flush under the PTL
  // (v3.15+). Put the entry back right after that flush and before the page is freed: the
  // stale entry of another CPU whose flush has not come yet (mremap-truncate-uaf).
  const genBefore = gen(m, pfn);
  let refilled = 0;
  m.cpu.point = (id: number): void => {
    if (id !== P_ZAP_PTE_RANGE_UNLOCKED || refilled > 0) return;
    t.is(m.cpu.flushes, 1, "the forced flush came before the PTL was dropped");
    t.is(tlb_lookup(m.cpu, vpn), 0, "and took the entry");
    t.is(gen(m, pfn), genBefore, "not freed yet: the page cache still holds it");
    tlb_fill(m.cpu, vpn, entry);
    note_frame_gen(m.cpu, vpn, pfn);
    refilled++;
  };
  t.is(sys_ftruncate(m.cpu, 0), 0);
  t.is(refilled, 1, "the zap passed zap_pte_range:unlocked with a present PTE");
  t.is(m.cpu.flushes, 1, "no flush after the free");
  t.is(gen(m, pfn), genBefore + 1, "truncate freed the frame");
  t.is(tlb_lookup(m.cpu, vpn), entry, "the stale entry survived");

  // Another owner gets the frame (LIFO) and fills it, as the scenario's alloc step does.
  t.is(alloc_page(m.cpu), pfn);
  for (let i = 0; i < FRAME_WORDS; i++) Atomics.store(m.mem, m.L.frame(pfn) + i, 2989);
  t.is(user_load(m.cpu, m.X), 2989, "the stale entry reads the new owner's data");
  t.is(m.cpu.fault, 0, "and no fault says so");
  t.is(uaf(m), 1, "the oracle counted the access");
  t.is(user_store(m.cpu, m.X, 7), 0, "a store through it succeeds too");
  t.is(m.frameValue(pfn), 7, "and corrupts the new owner's frame");
  t.is(uaf(m), 2, "counted again");

  // Once flushed, the access faults: nothing more is counted.
  local_flush_tlb(m.cpu);
  t.is(user_load(m.cpu, m.X), 0);
  t.is(m.cpu.fault, SIGBUS);
  t.is(uaf(m), 2);
});

test("use-after-free oracle: a writable stale entry counts every store into the freed frame", (t) => {
  const m = solo(1);
  sys_mmap(m.cpu, m.X, 1 << PAGE_SHIFT, 0);
  t.is(user_store(m.cpu, m.X, 1), 0);
  const pfn = pte_pfn(m.pte(m.X));
  // Simulate an unflushed zap by hand: clear the PTE, drop its rmap and reference, then drop
  // the page cache's reference too, so that put_page() frees the frame. No TLB flush at all.
  Atomics.store(m.mem, pte_offset_walk(m.mem, m.L, m.X), 0);
  Atomics.sub(m.mem, m.L.page(pfn) + PAGE_MAPCOUNT, 1);
  put_page(m.cpu, pfn);
  Atomics.store(m.mem, m.L.pageCache, 0);
  t.is(freeTop(m), 0);
  put_page(m.cpu, pfn);
  t.is(freeTop(m), 1, "freed");
  t.is(user_store(m.cpu, m.X, 2), 0, "the store succeeds through the stale entry");
  t.is(m.frameValue(pfn), 2, "into the freed frame");
  t.is(user_store(m.cpu, m.X, 3), 0);
  t.is(uaf(m), 2, "each access counts");
});

test("use-after-free oracle: the same frame, freed and reused, through a fresh entry is not counted", (t) => {
  const m = solo(1);
  sys_mmap(m.cpu, m.X, 1 << PAGE_SHIFT, 0);
  t.is(user_store(m.cpu, m.X, 4), 0);
  const pfn = pte_pfn(m.pte(m.X));
  const g = gen(m, pfn);
  sys_munmap(m.cpu, m.X, 1 << PAGE_SHIFT);
  t.is(fadvise_dontneed(m.cpu, 0, 1), 1, "written back, unmapped and clean: dropped");
  t.is(gen(m, pfn), g + 1, "the frame was freed");
  sys_mmap(m.cpu, m.X, 1 << PAGE_SHIFT, 0);
  t.is(user_load(m.cpu, m.X), 4, "read back from the file");
  t.is(pte_pfn(m.pte(m.X)), pfn, "into the same frame (LIFO)");
  t.is(user_store(m.cpu, m.X, 5), 0);
  t.is(uaf(m), 0, "the entry was filled after the free");
});
