/**
 * Where the model's munmap path now does what the kernel it names did (docs/model.md):
 * free_pgtables() frees empty PTE tables and pte_free_tlb() adds the table's first page to the
 * gather's range (v4.9); the gather's real capacity (MAX_GATHER_BATCH_COUNT batches, not 512
 * pages) and v4.9's pending_page; v3.14's x86 tlb_flush() of the gather's whole range. One
 * in-thread CPU (solo): every flush is local, so its range shows in which TLB entries survive.
 */
import test from "ava";
import { KERNELS, type Kernel } from "../lib/kernels/index.js";
import { PAGE_REFCOUNT, PAGE_SHIFT, PAGE_SIZE, PMD_SIZE } from "../lib/machine/layout.js";
import { user_load, user_store } from "../lib/mmu/access.js";
import { pmd_none, pmd_offset, pte_pfn } from "../lib/mmu/pgtable.js";
import { tlb_lookup } from "../lib/mmu/tlb.js";
import { __pte_alloc } from "../lib/mm/memory.js";
import { sys_mmap, sys_munmap } from "../lib/mm/mmap.js";
import {
  __tlb_remove_page,
  __tlb_remove_page_size,
  MAX_GATHER_BATCH,
  MAX_GATHER_BATCH_COUNT,
  MAX_GATHER_PAGES,
  MMU_GATHER_BUNDLE,
  MmuGather,
  tlb_finish_mmu,
  tlb_gather_mmu,
} from "../lib/mm/tlb_gather.js";
import { solo, type Solo } from "./helpers/solo.js";

const kernel = (name: string): Kernel => {
  const k = KERNELS.find((x) => x.name === name);
  if (k === undefined) throw new Error(`no kernel ${name}`);
  return k;
};
const P = PAGE_SIZE;
const pmdNone = (m: Solo, addr: number): boolean =>
  pmd_none(Atomics.load(m.mem, pmd_offset(m.L, addr)));
const cached = (m: Solo, addr: number): boolean => tlb_lookup(m.cpu, addr >>> PAGE_SHIFT) !== 0;
const refcount = (m: Solo, pfn: number): number =>
  Atomics.load(m.mem, m.L.page(pfn) + PAGE_REFCOUNT);

/* ------------------------------------------------------- 1. free_pgtables() */

for (const name of ["v3.14", "v4.9-rc4"]) {
  test(`${name}: munmap of a range whose PTE table is freed flushes even with no PTE mapped`, (t) => {
    const m = solo(1);
    m.cpu.kernel = kernel(name);
    sys_mmap(m.cpu, m.X, P, 0);
    // A PTE table with no PTE in it (as after a fault whose page was since zapped or moved).
    __pte_alloc(m.cpu, pmd_offset(m.L, m.X));
    t.false(pmdNone(m, m.X));
    sys_munmap(m.cpu, m.X, P);
    t.true(pmdNone(m, m.X), "free_pte_range(): pmd_clear()");
    t.is(m.cpu.flushes, 1, "pte_free_tlb() adjusted the range: tlb_finish_mmu() flushes");
  });
}

test("a PTE table another VMA still uses is kept, and its pages stay out of the flush", (t) => {
  const m = solo(2);
  m.cpu.kernel = kernel("v4.9-rc4");
  sys_mmap(m.cpu, m.X, P, 0);
  sys_mmap(m.cpu, m.X + P, P, 1);
  user_load(m.cpu, m.X);
  user_load(m.cpu, m.X + P);
  sys_munmap(m.cpu, m.X, P);
  t.false(pmdNone(m, m.X), "the VMA above shares the table: ceiling keeps it");
  t.is(m.cpu.flushes, 1);
  t.true(cached(m, m.X + P), "the flush covered X only");
  sys_munmap(m.cpu, m.X + P, P);
  t.true(pmdNone(m, m.X), "the last VMA of the 2 MiB gone: the table is freed");
  t.is(m.cpu.flushes, 2);
});

test("a VMA in the next 2 MiB does not keep this table", (t) => {
  const m = solo(1);
  sys_mmap(m.cpu, m.X, P, 0);
  sys_mmap(m.cpu, m.X + PMD_SIZE + P, P, 0);
  user_load(m.cpu, m.X);
  user_load(m.cpu, m.X + PMD_SIZE + P);
  sys_munmap(m.cpu, m.X, P);
  t.true(pmdNone(m, m.X), "ceiling & PMD_MASK is above X's table");
  t.false(pmdNone(m, m.X + PMD_SIZE), "the next table is the other VMA's");
});

test("v4.9: the freed table adds its first page to the range (pte_free_tlb(tlb, pte, addr))", (t) => {
  // One page at X + 40 pages: the zap alone would flush 1 page; the table's [X, X + 4 KiB)
  // makes it [X, X + 41 pages), above tlb_single_page_flush_ceiling (33): a full flush.
  const m = solo(64);
  m.cpu.kernel = kernel("v4.9-rc4");
  const at = m.X + 40 * P;
  sys_mmap(m.cpu, at, P, 0);
  sys_mmap(m.cpu, m.Y, P, 1);
  user_load(m.cpu, at);
  user_load(m.cpu, m.Y);
  t.true(cached(m, m.Y));
  sys_munmap(m.cpu, at, P);
  t.is(m.cpu.flushes, 1);
  t.false(cached(m, m.Y), "41 pages: flush_tlb_mm_range() flushed everything");
});

test("v4.9: munmap of a dirty page: the forced flush under the PTL, then the freed table's", (t) => {
  const m = solo(1);
  m.cpu.kernel = kernel("v4.9-rc4");
  sys_mmap(m.cpu, m.X, P, 0);
  user_store(m.cpu, m.X, 3);
  sys_munmap(m.cpu, m.X, P);
  t.is(m.cpu.flushes, 2, "zap_pte_range()'s force_flush, then tlb_finish_mmu() for pte_free_tlb()");
});

/* ------------------------------------------------------- 2. the gather's capacity */

test("the gather holds 8 + MAX_GATHER_BATCH_COUNT * MAX_GATHER_BATCH pages (x86_64: 9698)", (t) => {
  t.is(MMU_GATHER_BUNDLE, 8);
  t.is(MAX_GATHER_BATCH, 510, "(PAGE_SIZE - sizeof(struct mmu_gather_batch)) / sizeof(void *)");
  t.is(MAX_GATHER_BATCH_COUNT, 19, "10000UL / MAX_GATHER_BATCH");
  t.is(MAX_GATHER_PAGES, 9698);
  // v3.14 (and v4.10 on): queue, then say whether the gather is now full.
  const tlb = new MmuGather();
  tlb_gather_mmu(tlb, 0, P);
  let full = 0;
  while (!__tlb_remove_page(tlb, 5)) full++;
  t.is(full + 1, MAX_GATHER_PAGES, "the page that fills it is queued, and the caller must flush");
  t.is(tlb.nr, MAX_GATHER_PAGES);
  // v4.9: look for room first; none: the page is not queued.
  const g = new MmuGather();
  tlb_gather_mmu(g, 0, P);
  let queued = 0;
  while (!__tlb_remove_page_size(g, 5)) queued++;
  t.is(queued, MAX_GATHER_PAGES);
  t.is(g.nr, MAX_GATHER_PAGES, "the page that found no room was not queued");
});

for (const name of ["v3.14", "v4.9-rc4"]) {
  test(`${name}: munmap of 1024 clean pages (two PTE tables) is one flush, not one per 512 pages`, (t) => {
    const pages = 1024;
    const m = solo(pages);
    m.cpu.kernel = kernel(name);
    sys_mmap(m.cpu, m.X, pages * P, 0);
    for (let i = 0; i < pages; i++) user_load(m.cpu, m.X + i * P);
    const pfns = Array.from({ length: pages }, (_, i) => pte_pfn(m.pte(m.X + i * P)));
    sys_munmap(m.cpu, m.X, pages * P);
    t.is(m.cpu.flushes, 1, "tlb_finish_mmu() only");
    t.is(pfns.filter((p) => refcount(m, p) !== 1).length, 0, "every PTE's reference dropped");
    t.true(pmdNone(m, m.X) && pmdNone(m, m.X + PMD_SIZE), "both tables freed");
  });
}

/**
 * A gather one page short of full: MAX_GATHER_PAGES - 1 references to `filler` (a page cache
 * page whose count covers them), so that the zap's pages fill it.
 */
function nearlyFull(m: Solo, filler: number, start: number, end: number): MmuGather {
  const tlb = m.cpu.tlb;
  tlb_gather_mmu(tlb, start, end);
  Atomics.add(m.mem, m.L.page(filler) + PAGE_REFCOUNT, MAX_GATHER_PAGES - 1);
  for (let i = 1; i < MAX_GATHER_PAGES; i++) __tlb_remove_page_size(tlb, filler);
  return tlb;
}

test("v4.9: a full gather keeps the page as pending_page, flushes, frees, then queues it", (t) => {
  const m = solo(4);
  const k = kernel("v4.9-rc4");
  m.cpu.kernel = k;
  sys_mmap(m.cpu, m.X, 4 * P, 0);
  for (let i = 0; i < 4; i++) user_load(m.cpu, m.X + i * P);
  const filler = pte_pfn(m.pte(m.X + 3 * P));
  const ref = refcount(m, filler);
  const tlb = nearlyFull(m, filler, m.X, m.X + 3 * P);
  const pmdp = pmd_offset(m.L, m.X);
  t.is(k.zap_pte_range(m.cpu, tlb, pmdp, m.X, m.X + 3 * P), m.X + 3 * P);
  t.is(m.cpu.flushes, 1, "one forced flush, when the second page found no room");
  t.is(refcount(m, filler), ref, "the batch was freed");
  t.is(tlb.nr, 2, "the pending page, then the third, queued after the free");
  t.is(tlb.start, m.X + P, "__tlb_remove_pte_page() adjusted the range for the pending page again");
  t.is(tlb.end, m.X + 3 * P);
  tlb_finish_mmu(m.cpu, tlb);
  t.is(m.cpu.flushes, 2);
});

test("v3.14: a full gather flushes [start, addr) without the page that filled it, then frees it", (t) => {
  // The v3.14 zap_pte_range() breaks out without addr += PAGE_SIZE (a 2014 fix added it): the
  // forced flush stops short of the page that filled the gather, which is freed with the batch.
  const m = solo(4);
  const k = kernel("v3.14");
  m.cpu.kernel = k;
  sys_mmap(m.cpu, m.X, 4 * P, 0);
  for (let i = 0; i < 4; i++) user_load(m.cpu, m.X + i * P);
  const filler = pte_pfn(m.pte(m.X + 3 * P));
  const first = pte_pfn(m.pte(m.X));
  const tlb = nearlyFull(m, filler, m.X, m.X + 3 * P);
  t.is(k.zap_pte_range(m.cpu, tlb, pmd_offset(m.L, m.X), m.X, m.X + 3 * P), m.X + 3 * P);
  t.is(m.cpu.flushes, 1, "one forced flush");
  t.is(refcount(m, first), 1, "X's page went with the batch (the page cache keeps its own)");
  t.true(cached(m, m.X), "its TLB entry was not in [tlb->start, addr) = [X, X)");
  t.is(tlb.rangeStart, m.X, "tlb->start = addr: the rest of the range starts at X again");
  t.is(tlb.nr, 2, "the next two pages");
  tlb_finish_mmu(m.cpu, tlb);
  t.false(cached(m, m.X), "tlb_finish_mmu() flushes [X, end) whole");
});

/* ------------------------------------------------------- 6. v3.14's whole-range flush */

for (const [name, whole] of [
  ["v3.14", true],
  ["v4.9-rc4", false],
] as const) {
  test(`${name}: munmap flushes ${whole ? "the whole unmapped range (x86 tlb_flush(): tlb->start..tlb->end)" : "only what was unmapped"}`, (t) => {
    // A = [X, X + 40 pages) with only its last page mapped; B = the next page keeps the table.
    const m = solo(64);
    m.cpu.kernel = kernel(name);
    sys_mmap(m.cpu, m.X, 40 * P, 0);
    sys_mmap(m.cpu, m.X + 40 * P, P, 40);
    user_load(m.cpu, m.X + 39 * P);
    user_load(m.cpu, m.X + 40 * P);
    sys_munmap(m.cpu, m.X, 40 * P);
    t.false(pmdNone(m, m.X), "B keeps the table");
    t.is(m.cpu.flushes, 1, "one flush either way");
    t.false(cached(m, m.X + 39 * P));
    t.is(
      cached(m, m.X + 40 * P),
      !whole,
      whole ? "40 pages > 33: a full flush drops B's entry" : "1 page: B's entry survives",
    );
  });
}
