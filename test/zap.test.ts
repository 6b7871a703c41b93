/**
 * zap_pte_range() of each kernel variant (munmap of the shared file mapping), on one in-thread
 * CPU (solo): where the dirty bit goes, when rmap lets go of the page, and that the TLB flush
 * always comes before the free.
 */
import test from "ava";
import { KERNELS, type Kernel } from "../lib/kernels/index.js";
import {
  PAGE_MAPCOUNT,
  PAGE_REFCOUNT,
  PAGE_SHIFT,
  PAGE_SIZE,
  VMA_START,
} from "../lib/machine/layout.js";
import { P_ZAP_PTE_RANGE_BEFORE_FLUSH, P_ZAP_PTE_RANGE_UNLOCKED } from "../lib/machine/points.js";
import { user_load, user_store } from "../lib/mmu/access.js";
import { _PAGE_DIRTY, pte_lockptr_walk, pte_pfn } from "../lib/mmu/pgtable.js";
import { tlb_lookup } from "../lib/mmu/tlb.js";
import { fadvise_dontneed } from "../lib/mm/fadvise.js";
import { SIGSEGV } from "../lib/mm/fault.js";
import { __delete_from_page_cache } from "../lib/mm/filemap.js";
import { unmap_vmas } from "../lib/mm/memory.js";
import { find_vma, sys_mmap, sys_munmap, vma_field } from "../lib/mm/mmap.js";
import { put_page } from "../lib/mm/page_alloc.js";
import { lock_page, PageDirty, TestClearPageDirty, unlock_page } from "../lib/mm/page_flags.js";
import { MmuGather, tlb_finish_mmu, tlb_gather_mmu } from "../lib/mm/tlb_gather.js";
import { spin_is_locked, spin_lock, spin_unlock } from "../lib/sync/spinlock.js";
import { solo, type Solo } from "./helpers/solo.js";

const kernel = (name: string): Kernel => {
  const k = KERNELS.find((x) => x.name === name);
  if (k === undefined) throw new Error(`no kernel ${name}`);
  return k;
};

const mapcount = (m: Solo, pfn: number): number =>
  Atomics.load(m.mem, m.L.page(pfn) + PAGE_MAPCOUNT);
const refcount = (m: Solo, pfn: number): number =>
  Atomics.load(m.mem, m.L.page(pfn) + PAGE_REFCOUNT);
const freeTop = (m: Solo): number => Atomics.load(m.mem, m.L.freeTop);
const gen = (m: Solo, pfn: number): number => Atomics.load(m.mem, m.L.frameGen + pfn);

/** One page mapped at X; dirty: written (PTE dirty); else only read (PTE clean, read-only). */
function mapped(k: Kernel, dirty: boolean): { m: Solo; pfn: number } {
  const m = solo(1);
  m.cpu.kernel = k;
  sys_mmap(m.cpu, m.X, PAGE_SIZE, 0);
  if (dirty) user_store(m.cpu, m.X, 1);
  else user_load(m.cpu, m.X);
  const pfn = pte_pfn(m.pte(m.X));
  return { m, pfn };
}

/**
 * Clean the page flag but leave the PTE dirty, as a racing clear_page_dirty_for_io() would:
 * only zap_pte_range()'s set_page_dirty() can make the page dirty again.
 */
function cleanPageKeepPte(m: Solo, pfn: number): void {
  lock_page(m.cpu, pfn);
  TestClearPageDirty(m.cpu, pfn);
  unlock_page(m.cpu, pfn);
}

/** Snapshots taken at zap_pte_range's two named points. */
interface Seen {
  point: number;
  mapcount: number;
  refcount: number;
  flushes: number;
  freed: boolean;
  tlb: number;
  ptlHeld: boolean;
}

function watchZap(m: Solo, pfn: number): Seen[] {
  const seen: Seen[] = [];
  const top = freeTop(m);
  const ptl = pte_lockptr_walk(m.mem, m.L, m.X);
  m.cpu.point = (id: number): void => {
    if (id !== P_ZAP_PTE_RANGE_BEFORE_FLUSH && id !== P_ZAP_PTE_RANGE_UNLOCKED) return;
    seen.push({
      point: id,
      mapcount: mapcount(m, pfn),
      refcount: refcount(m, pfn),
      flushes: m.cpu.flushes,
      freed: freeTop(m) > top,
      tlb: tlb_lookup(m.cpu, m.X >>> PAGE_SHIFT),
      ptlHeld: spin_is_locked(m.mem, ptl),
    });
  };
  return seen;
}

for (const name of ["v3.14", "1cf35d47712d"]) {
  test(`${name}: munmap of a dirty mapping moves the PTE's dirty bit to the page and unmaps it`, (t) => {
    const { m, pfn } = mapped(kernel(name), true);
    t.truthy(m.pte(m.X) & _PAGE_DIRTY);
    t.is(mapcount(m, pfn), 1);
    cleanPageKeepPte(m, pfn);
    t.false(PageDirty(m.cpu, pfn));
    t.is(sys_munmap(m.cpu, m.X, PAGE_SIZE), 0);
    t.is(m.pte(m.X), 0);
    t.true(PageDirty(m.cpu, pfn), "set_page_dirty() from the zapped PTE");
    t.is(mapcount(m, pfn), 0, "page_remove_rmap()");
    t.is(refcount(m, pfn), 1, "the PTE's reference is dropped; the page cache keeps its own");
    t.is(m.cached(0), pfn);
    // v3.14: tlb_finish_mmu()'s flush only; 1cf35d47712d: the dirty PTE's forced flush, then
    // tlb_finish_mmu()'s for the PTE table free_pgtables() freed (pte_free_tlb()).
    t.is(m.cpu.flushes, name === "v3.14" ? 1 : 2, "flushes");
    t.is(tlb_lookup(m.cpu, m.X >>> PAGE_SHIFT), 0);
    t.is(user_store(m.cpu, m.X, 2), SIGSEGV, "no VMA any more");
    // The dirty data is not lost: writeback writes it.
    t.is(fadvise_dontneed(m.cpu, 0, 1), 1);
    t.is(m.backing(0), 1);
  });
}

test("a clean PTE's zap leaves the page clean", (t) => {
  for (const k of KERNELS) {
    const { m, pfn } = mapped(k, false);
    t.false(PageDirty(m.cpu, pfn), `${k.name}: clean before`);
    sys_munmap(m.cpu, m.X, PAGE_SIZE);
    t.false(PageDirty(m.cpu, pfn), `${k.name}: clean after`);
    t.is(mapcount(m, pfn), 0, `${k.name}: unmapped`);
  }
});

// Where the flush comes relative to the PTL and to page_remove_rmap(), per kernel, for a dirty
// PTE. mapcount is observed at zap_pte_range:before_flush (PTL held, no flush yet).
const zapOrder: {
  kernel: string;
  /** flushes done when the PTL is dropped (zap_pte_range:unlocked) */
  flushedUnderPtl: boolean;
  /** mapcount at zap_pte_range:before_flush */
  mapcountBeforeFlush: number;
}[] = [
  { kernel: "v3.14", flushedUnderPtl: false, mapcountBeforeFlush: 0 },
  { kernel: "1cf35d47712d", flushedUnderPtl: true, mapcountBeforeFlush: 0 },
  { kernel: "v4.9-rc4", flushedUnderPtl: true, mapcountBeforeFlush: 0 },
  { kernel: "5d1904204c99", flushedUnderPtl: true, mapcountBeforeFlush: 0 },
  { kernel: "v4.9", flushedUnderPtl: true, mapcountBeforeFlush: 0 },
  { kernel: "3ea277194daa", flushedUnderPtl: true, mapcountBeforeFlush: 0 },
  { kernel: "remove-latency-limit", flushedUnderPtl: true, mapcountBeforeFlush: 0 },
  { kernel: "eb66ae030829", flushedUnderPtl: true, mapcountBeforeFlush: 0 },
  { kernel: "5df397dec7c4", flushedUnderPtl: true, mapcountBeforeFlush: 1 },
];

for (const o of zapOrder) {
  test(`${o.kernel}: dirty PTE through a tlb gather: rmap ${o.mapcountBeforeFlush === 1 ? "after" : "before"} the flush, flush ${o.flushedUnderPtl ? "under" : "after"} the PTL, free after the flush`, (t) => {
    const { m, pfn } = mapped(kernel(o.kernel), true);
    // Leave the PTE the only reference, so that the zap's put_page() frees the frame.
    lock_page(m.cpu, pfn);
    spin_lock(m.cpu, m.L.treeLock);
    __delete_from_page_cache(m.cpu, pfn);
    spin_unlock(m.cpu, m.L.treeLock);
    unlock_page(m.cpu, pfn);
    put_page(m.cpu, pfn);
    t.is(refcount(m, pfn), 1, "only the PTE holds the page");
    const g = gen(m, pfn);
    const top = freeTop(m);
    const vma = find_vma(m.cpu, m.X);
    t.is(vma_field(m.cpu, vma, VMA_START), m.X);

    const seen = watchZap(m, pfn);
    const tlb = new MmuGather();
    tlb_gather_mmu(tlb, m.X, m.X + PAGE_SIZE);
    unmap_vmas(m.cpu, tlb, vma, m.X, m.X + PAGE_SIZE);
    const [before, unlocked] = seen;
    t.is(seen.length, 2, "one pass through zap_pte_range");
    t.truthy(before);
    t.truthy(unlocked);
    if (before === undefined || unlocked === undefined) return;
    t.is(before.point, P_ZAP_PTE_RANGE_BEFORE_FLUSH);
    t.true(before.ptlHeld, "before_flush: PTL held");
    t.is(before.flushes, 0, "before_flush: nothing flushed yet");
    t.not(before.tlb, 0, "before_flush: the TLB entry is still there");
    t.is(before.refcount, 1, "before_flush: not released");
    t.false(before.freed);
    t.is(before.mapcount, o.mapcountBeforeFlush, "before_flush: mapcount");
    t.true(PageDirty(m.cpu, pfn), "set_page_dirty() from the PTE");

    t.false(unlocked.ptlHeld, "unlocked: PTL dropped");
    t.is(unlocked.flushes, o.flushedUnderPtl ? 1 : 0, "flushes when the PTL is dropped");
    t.is(unlocked.tlb === 0, o.flushedUnderPtl, "TLB entry gone iff flushed");
    t.is(unlocked.mapcount, 0, "rmap removed by the time the PTL is dropped");
    t.false(unlocked.freed, "never freed before the PTL is dropped");

    // After unmap_vmas(), before tlb_finish_mmu():
    t.is(m.cpu.flushes > 0, refcount(m, pfn) === 0, "freed iff flushed");
    t.is(freeTop(m) > top, m.cpu.flushes > 0);
    tlb_finish_mmu(m.cpu, tlb);
    t.is(m.cpu.flushes, 1, "exactly one flush in all");
    t.is(tlb_lookup(m.cpu, m.X >>> PAGE_SHIFT), 0);
    t.is(refcount(m, pfn), 0);
    t.is(freeTop(m), top + 1, "freed");
    t.is(gen(m, pfn), g + 1, "once");
    t.is(mapcount(m, pfn), 0);
  });
}

test("5df397dec7c4: a clean PTE's rmap is removed at once, not delayed", (t) => {
  const { m, pfn } = mapped(kernel("5df397dec7c4"), false);
  const seen = watchZap(m, pfn);
  sys_munmap(m.cpu, m.X, PAGE_SIZE);
  t.is(seen[0]?.point, P_ZAP_PTE_RANGE_BEFORE_FLUSH);
  t.is(seen[0]?.mapcount, 0, "not dirty: page_remove_rmap() under the PTL, before any flush");
  t.is(seen[1]?.flushes, 0, "no forced flush for a clean PTE");
  t.is(m.cpu.flushes, 1, "tlb_finish_mmu() flushes");
  t.is(refcount(m, pfn), 1, "the page cache's reference remains");
});

test("v3.14 vs 1cf35d47712d vs 5df397dec7c4 over 4 dirty pages: mapcount at before_flush", (t) => {
  for (const [name, expect] of [
    ["v3.14", 0],
    ["1cf35d47712d", 0],
    ["5df397dec7c4", 1],
  ] as const) {
    const m = solo(4);
    m.cpu.kernel = kernel(name);
    sys_mmap(m.cpu, m.X, 4 * PAGE_SIZE, 0);
    for (let i = 0; i < 4; i++) user_store(m.cpu, m.X + i * PAGE_SIZE, i);
    const pfns = [0, 1, 2, 3].map((i) => pte_pfn(m.pte(m.X + i * PAGE_SIZE)));
    const at: number[][] = [];
    m.cpu.point = (id: number): void => {
      if (id === P_ZAP_PTE_RANGE_BEFORE_FLUSH) at.push(pfns.map((p) => mapcount(m, p)));
    };
    sys_munmap(m.cpu, m.X, 4 * PAGE_SIZE);
    t.deepEqual(at, [[expect, expect, expect, expect]], name);
    t.deepEqual(
      pfns.map((p) => mapcount(m, p)),
      [0, 0, 0, 0],
      `${name}: all unmapped at the end`,
    );
    t.true(
      pfns.every((p) => PageDirty(m.cpu, p)),
      `${name}: all dirty`,
    );
    // v3.14 flushes once, at tlb_finish_mmu(); the others force a flush under the PTL for the
    // dirty PTEs, and tlb_finish_mmu() flushes again for the freed PTE table.
    t.is(m.cpu.flushes, name === "v3.14" ? 1 : 2, `${name}: flushes`);
  }
});

// munmap of 1024 pages: two full PTE tables. Every page must go back to the page cache's one
// reference. (The gather holds MAX_GATHER_PAGES = 9698 pages, so it does not fill here; a full
// gather is tested in test/fidelity-gather.test.ts.)
const BIG = 1024;
for (const k of KERNELS) {
  test(`${k.name}: munmap of ${BIG} pages (two PTE tables) puts every page once`, (t) => {
    const m = solo(BIG);
    m.cpu.kernel = k;
    sys_mmap(m.cpu, m.X, BIG * PAGE_SIZE, 0);
    for (let i = 0; i < BIG; i++) user_store(m.cpu, m.X + i * PAGE_SIZE, i);
    const pfns = Array.from({ length: BIG }, (_, i) => pte_pfn(m.pte(m.X + i * PAGE_SIZE)));
    const word0 = m.mem[0];
    sys_munmap(m.cpu, m.X, BIG * PAGE_SIZE);
    t.is(m.mem[0], word0, "nothing outside struct page was touched");
    t.is(pfns.filter((p) => mapcount(m, p) !== 0).length, 0, "every page unmapped");
    t.is(
      pfns.filter((p) => refcount(m, p) !== 1).length,
      0,
      "every PTE reference dropped; the page cache keeps one",
    );
    t.true(m.cpu.flushes >= 1);
    t.is(m.cpu.tlb.nr, 0, "the gather is empty");
  });
}
