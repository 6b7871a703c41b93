/**
 * Transparent huge pages on one in-thread CPU: the huge fault and the huge TLB entry,
 * move_huge_pmd() per kernel, split by reclaim, and the flush granularity that decides whether
 * a stale huge entry for the old address survives the split (x86: full flush; arm64: range).
 */
import test from "ava";
import { KERNELS } from "../lib/kernels/index.js";
import { CPU_UAF, HPAGE_PMD_NR, PAGE_SHIFT, PMD_SHIFT } from "../lib/machine/layout.js";
import { P_MOVE_PAGE_TABLES_BEFORE_FLUSH } from "../lib/machine/points.js";
import { user_load, user_store } from "../lib/mmu/access.js";
import { _PAGE_DIRTY, _PAGE_PSE, _PAGE_RW, pte_is_swap, pte_pfn } from "../lib/mmu/pgtable.js";
import { ARM64_MAX_TLB_RANGE_PAGES } from "../lib/mmu/shootdown.js";
import { tlb_lookup } from "../lib/mmu/tlb.js";
import { sys_mmap_anon } from "../lib/mm/mmap.js";
import { sys_mremap } from "../lib/mm/mremap.js";
import { shrink_page_list } from "../lib/mm/vmscan.js";
import { solo, type Solo } from "./helpers/solo.js";

const LEN = HPAGE_PMD_NR << PAGE_SHIFT;
const pmd = (m: Solo, addr: number): number => Atomics.load(m.mem, m.L.pmd + (addr >>> PMD_SHIFT));

function thp(kernel = "v4.9-rc4"): Solo {
  const m = solo(HPAGE_PMD_NR);
  m.cpu.kernel = KERNELS.find((k) => k.name === kernel) ?? m.cpu.kernel;
  sys_mmap_anon(m.cpu, m.X, LEN, true);
  return m;
}

test("a write fault in a VM_HUGEPAGE mapping maps a huge PMD; the TLB caches one huge entry", (t) => {
  const m = thp();
  t.is(user_store(m.cpu, m.X + 5 * 4096, 7), 0);
  const p = pmd(m, m.X);
  t.truthy(p & _PAGE_PSE, "huge PMD");
  t.truthy(p & _PAGE_RW);
  t.truthy(p & _PAGE_DIRTY);
  // Another subpage hits the same huge entry: its pfn is head + 9.
  t.is(user_load(m.cpu, m.X + 9 * 4096), 0);
  t.is(tlb_lookup(m.cpu, (m.X >>> PAGE_SHIFT) + 9) >>> PAGE_SHIFT, (p >>> PAGE_SHIFT) + 9);
  t.is(Atomics.load(m.mem, m.L.frame((p >>> PAGE_SHIFT) + 5)), 7);
});

for (const k of KERNELS) {
  test(`${k.name}: mremap moves the huge PMD whole (move_huge_pmd), flushing as that version does`, (t) => {
    const m = thp(k.name);
    user_store(m.cpu, m.X, 1);
    const head = pmd(m, m.X) >>> PAGE_SHIFT;
    let flushesBeforeEnd = -1;
    const orig = m.cpu.point.bind(m.cpu);
    m.cpu.point = (id: number) => {
      if (id === P_MOVE_PAGE_TABLES_BEFORE_FLUSH) flushesBeforeEnd = m.cpu.flushes;
      orig(id);
    };
    const before = m.cpu.flushes;
    t.is(sys_mremap(m.cpu, m.X, LEN, m.Y), m.Y);
    t.is(pmd(m, m.X), 0);
    t.is(pmd(m, m.Y) >>> PAGE_SHIFT, head, "same huge page at Y");
    t.truthy(pmd(m, m.Y) & _PAGE_PSE);
    const early = flushesBeforeEnd - before;
    // v4.9-rc4 (and the kernels before it) flush at the end; the fixes flush the dirty PMD
    // under the PMD lock inside move_huge_pmd().
    const idx = KERNELS.indexOf(k);
    t.is(early, idx >= KERNELS.findIndex((x) => x.name === "5d1904204c99") ? 1 : 0);
    t.is(user_load(m.cpu, m.Y), 1);
  });
}

for (const [arch, ceiling, survives] of [
  ["x86", 33, false],
  ["arm64", ARM64_MAX_TLB_RANGE_PAGES, true],
] as const) {
  test(`${arch}: reclaim splits the moved THP and pages a subpage out; the stale entry for X ${survives ? "survives" : "is flushed"}`, (t) => {
    const m = thp("v4.9-rc4");
    m.cpu.flushCeiling = ceiling;
    user_store(m.cpu, m.X, 1);
    let entryAfterReclaim = -1;
    let storeThroughStale = -1;
    const orig = m.cpu.point.bind(m.cpu);
    m.cpu.point = (id: number) => {
      if (id === P_MOVE_PAGE_TABLES_BEFORE_FLUSH) {
        t.is(shrink_page_list(m.cpu, 1), 1, "the head subpage was swapped out and freed");
        t.is(pmd(m, m.Y) & _PAGE_PSE, 0, "the huge PMD at Y was split into a PTE table");
        t.true(pte_is_swap(m.pte(m.Y)), "subpage 0 at Y is a swap entry");
        t.not(pte_pfn(m.pte(m.Y + 4096)), 0, "subpage 1 is still mapped by a PTE");
        entryAfterReclaim = tlb_lookup(m.cpu, m.X >>> PAGE_SHIFT);
        if (entryAfterReclaim !== 0) storeThroughStale = user_store(m.cpu, m.X, 2);
      }
      orig(id);
    };
    sys_mremap(m.cpu, m.X, LEN, m.Y);
    t.is(entryAfterReclaim !== 0, survives);
    if (survives) {
      t.is(storeThroughStale, 0, "the write through the stale huge entry succeeded");
      t.is(Atomics.load(m.mem, m.L.cpu(0) + CPU_UAF), 1, "into a freed frame: a use-after-free");
      t.is(user_load(m.cpu, m.Y), 1, "swap-in brings back 1: the 2 was lost");
    }
  });
}
