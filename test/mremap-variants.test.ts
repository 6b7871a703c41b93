/**
 * mremap() on each kernel variant, on one in-thread CPU (solo): how many TLB flushes
 * (flush_tlb_mm_range calls) it makes, and where they fall relative to move_ptes() dropping the
 * old and new PTLs. This is the whole difference between the variants' move_ptes().
 */
import test from "ava";
import { KERNELS, type Kernel } from "../lib/kernels/index.js";
import { PAGE_MAPCOUNT, PAGE_SHIFT, PAGE_SIZE } from "../lib/machine/layout.js";
import {
  P_MOVE_PAGE_TABLES_BEFORE_FLUSH,
  P_MOVE_PTES_BEFORE_CLEAR,
  P_MOVE_PTES_LOCKED,
  P_MOVE_PTES_UNLOCKED,
  P_MOVE_VMA_MOVED,
} from "../lib/machine/points.js";
import { user_load, user_store } from "../lib/mmu/access.js";
import {
  _PAGE_DIRTY,
  _PAGE_RW,
  _PAGE_SOFT_DIRTY,
  pte_lockptr_walk,
  pte_offset_walk,
  pte_pfn,
  pte_present,
} from "../lib/mmu/pgtable.js";
import { tlb_lookup } from "../lib/mmu/tlb.js";
import { SIGSEGV } from "../lib/mm/fault.js";
import { sys_mmap } from "../lib/mm/mmap.js";
import { sys_mremap } from "../lib/mm/mremap.js";
import { spin_is_locked } from "../lib/sync/spinlock.js";
import { solo, type Solo } from "./helpers/solo.js";

const kernel = (name: string): Kernel => {
  const k = KERNELS.find((x) => x.name === name);
  if (k === undefined) throw new Error(`no kernel ${name}`);
  return k;
};

/** One flush_tlb_mm_range() call, as seen when it counts itself. */
interface Flush {
  /** the last named point passed before it */
  after: number;
  oldPtlHeld: boolean;
  newPtlHeld: boolean;
}

interface Trace {
  flushes: Flush[];
  /** cpu.flushes at each named point passed, in order */
  points: [number, number][];
}

/**
 * Record every flush (through the cpu.flushes counter that flush_tlb_mm_range() bumps) with the
 * state of the old and new PTLs at that moment, and cpu.flushes at every named point.
 */
function trace(m: Solo): Trace {
  const cpu = m.cpu;
  const oldPtl = pte_lockptr_walk(m.mem, m.L, m.X);
  const newPtl = pte_lockptr_walk(m.mem, m.L, m.Y);
  const t: Trace = { flushes: [], points: [] };
  let last = -1;
  let count = cpu.flushes;
  Object.defineProperty(cpu, "flushes", {
    configurable: true,
    get: () => count,
    set: (v: number) => {
      count = v;
      t.flushes.push({
        after: last,
        oldPtlHeld: spin_is_locked(m.mem, oldPtl),
        newPtlHeld: spin_is_locked(m.mem, newPtl),
      });
    },
  });
  cpu.point = (id: number): void => {
    last = id;
    t.points.push([id, count]);
  };
  return t;
}

/** cpu.flushes when the trace first passed `point`, or undefined. */
const at = (tr: Trace, point: number): number | undefined =>
  tr.points.find(([p]) => p === point)?.[1];

type Where =
  "under both PTLs" | "under the old PTL only" | "under the new PTL only" | "after both PTLs";

interface Expect {
  /** flushes done by the time move_ptes() dropped the PTLs */
  beforeUnlock: number;
  /** where that flush happened */
  where?: Where;
  /** flushes at the end of move_page_tables() */
  atEnd: number;
}

const OLD: Expect = { beforeUnlock: 0, atEnd: 1 };
/** The seed fix: a dirty PTE is flushed under the old PTL, a clean one at the end. */
const SEED: { dirty: Expect; clean: Expect } = {
  dirty: { beforeUnlock: 1, where: "under the old PTL only", atEnd: 0 },
  clean: OLD,
};
const expectations: Record<string, { dirty: Expect; clean: Expect }> = {
  "v3.14": { dirty: OLD, clean: OLD },
  "1cf35d47712d": { dirty: OLD, clean: OLD },
  "v4.9-rc4": { dirty: OLD, clean: OLD },
  "5d1904204c99": SEED,
  "v4.9": SEED,
  "3ea277194daa": SEED,
  "remove-latency-limit": SEED,
  eb66ae030829: {
    dirty: { beforeUnlock: 1, where: "under both PTLs", atEnd: 0 },
    clean: { beforeUnlock: 1, where: "under both PTLs", atEnd: 0 },
  },
  // One page is less than a PMD: move_ptes() as in eb66ae030829, no PMD move.
  "9f132f7e1455": {
    dirty: { beforeUnlock: 1, where: "under both PTLs", atEnd: 0 },
    clean: { beforeUnlock: 1, where: "under both PTLs", atEnd: 0 },
  },
  "97113eb39fa7": {
    dirty: { beforeUnlock: 1, where: "under both PTLs", atEnd: 0 },
    clean: { beforeUnlock: 1, where: "under both PTLs", atEnd: 0 },
  },
  "5df397dec7c4": {
    dirty: { beforeUnlock: 1, where: "under both PTLs", atEnd: 0 },
    clean: { beforeUnlock: 1, where: "under both PTLs", atEnd: 0 },
  },
};

test("every kernel variant has an expectation here", (t) => {
  t.deepEqual(
    KERNELS.map((k) => k.name),
    Object.keys(expectations),
  );
});

const where = (f: Flush): Where =>
  f.oldPtlHeld && f.newPtlHeld
    ? "under both PTLs"
    : f.oldPtlHeld
      ? "under the old PTL only"
      : f.newPtlHeld
        ? "under the new PTL only"
        : "after both PTLs";

for (const k of KERNELS) {
  for (const dirty of [true, false]) {
    const e = expectations[k.name]?.[dirty ? "dirty" : "clean"];
    const how = e === undefined ? "?" : `${e.beforeUnlock} before unlock, ${e.atEnd} at the end`;
    test(`${k.name}: mremap of a ${dirty ? "dirty" : "clean"} PTE flushes ${how}`, (t) => {
      if (e === undefined) return t.fail("no expectation");
      const m = solo(1);
      m.cpu.kernel = k;
      sys_mmap(m.cpu, m.X, PAGE_SIZE, 0);
      if (dirty) t.is(user_store(m.cpu, m.X, 7), 0);
      else t.is(user_load(m.cpu, m.X), 0);
      const before = m.pte(m.X);
      t.is((before & _PAGE_DIRTY) !== 0, dirty, "the PTE is dirty iff written");
      const pfn = pte_pfn(before);
      t.not(tlb_lookup(m.cpu, m.X >>> PAGE_SHIFT), 0, "a TLB entry for X");

      const tr = trace(m);
      t.is(sys_mremap(m.cpu, m.X, PAGE_SIZE, m.Y), m.Y);

      // cpu.flushes at the named points of move_ptes() and move_page_tables()
      t.is(at(tr, P_MOVE_PTES_LOCKED), 0, "nothing flushed when the PTLs are taken");
      t.is(at(tr, P_MOVE_PTES_UNLOCKED), e.beforeUnlock, "flushes before move_ptes:unlocked");
      t.is(
        at(tr, P_MOVE_PAGE_TABLES_BEFORE_FLUSH),
        e.beforeUnlock,
        "nothing between unlock and the final flush",
      );
      // The move's flushes: those done by move_vma:moved (the old range's munmap comes after).
      t.is(at(tr, P_MOVE_VMA_MOVED), e.beforeUnlock + e.atEnd, "flushes at the end");
      t.true(
        m.cpu.flushes - (e.beforeUnlock + e.atEnd) <= 1,
        "the old range's munmap: at most a flush for the freed page table",
      );
      tr.flushes.slice(0, e.beforeUnlock + e.atEnd).forEach((f, i) => {
        if (i < e.beforeUnlock) {
          t.is<Where | undefined, Where | undefined>(
            where(f),
            e.where,
            `flush ${i} in move_ptes()`,
          );
          t.not(f.after, P_MOVE_PTES_UNLOCKED);
        } else {
          t.is(f.after, P_MOVE_PAGE_TABLES_BEFORE_FLUSH, `flush ${i}: move_page_tables()'s`);
          t.is(where(f), "after both PTLs");
        }
      });

      // The move itself
      t.is(m.pte(m.X), 0, "X is empty");
      const moved = m.pte(m.Y);
      t.true(pte_present(moved));
      t.is(pte_pfn(moved), pfn, "Y maps the same frame");
      t.is(moved & ~_PAGE_SOFT_DIRTY, before & ~_PAGE_SOFT_DIRTY, "same bits");
      t.truthy(moved & _PAGE_SOFT_DIRTY, "move_soft_dirty_pte()");
      t.is(Atomics.load(m.mem, m.L.page(pfn) + PAGE_MAPCOUNT), 1, "still mapped once");
      t.is(tlb_lookup(m.cpu, m.X >>> PAGE_SHIFT), 0, "X's entry was flushed");
      t.is(user_load(m.cpu, m.Y), dirty ? 7 : 0, "the data is at Y");
      t.is(m.pte(m.Y) >>> PAGE_SHIFT, pfn, "without a fault mapping another frame");
      t.is(user_store(m.cpu, m.X, 1), SIGSEGV, "X is unmapped");
    });
  }
}

test("no PTE to move (never touched): no kernel flushes at all in move_ptes()", (t) => {
  for (const k of KERNELS) {
    const m = solo(1);
    m.cpu.kernel = k;
    sys_mmap(m.cpu, m.X, PAGE_SIZE, 0);
    const tr = trace(m);
    t.is(sys_mremap(m.cpu, m.X, PAGE_SIZE, m.Y), m.Y);
    t.is(at(tr, P_MOVE_PTES_LOCKED), undefined, `${k.name}: no PTE table under X: no move_ptes()`);
    t.is(m.cpu.flushes, 0, `${k.name}: no flush`);
    t.is(m.pte(m.Y), 0);
  }
});

// The window v4.9 closes (Aaron Lu's follow-up): the PTE is writable but clean when move_ptes() tests it,
// and another CPU's walker sets D between the test and ptep_get_and_clear() (simulated at
// move_ptes:before_clear with the walker's locked OR).
for (const [name, flushUnderPtl] of [
  ["5d1904204c99", false],
  ["v4.9", true],
  ["remove-latency-limit", true],
  ["eb66ae030829", true],
] as const) {
  test(`${name}: D set by hardware between the dirty test and the clear ${flushUnderPtl ? "still forces the flush under the PTL" : "is missed: the flush comes after the PTL is dropped"}`, (t) => {
    const m = solo(1);
    m.cpu.kernel = kernel(name);
    sys_mmap(m.cpu, m.X, PAGE_SIZE, 0);
    user_store(m.cpu, m.X, 1);
    const ptep = pte_offset_walk(m.mem, m.L, m.X);
    Atomics.store(m.mem, ptep, m.pte(m.X) & ~_PAGE_DIRTY); // writable, clean (e.g. after a test)
    t.truthy(m.pte(m.X) & _PAGE_RW);
    const tr = trace(m);
    const point = m.cpu.point.bind(m.cpu);
    let raced = 0;
    m.cpu.point = (id: number): void => {
      point(id);
      if (id === P_MOVE_PTES_BEFORE_CLEAR) {
        Atomics.or(m.mem, ptep, _PAGE_DIRTY);
        raced++;
      }
    };
    t.is(sys_mremap(m.cpu, m.X, PAGE_SIZE, m.Y), m.Y);
    t.is(raced, 1);
    t.truthy(m.pte(m.Y) & _PAGE_DIRTY, "the moved PTE carries the dirty bit");
    t.is(at(tr, P_MOVE_PTES_UNLOCKED), flushUnderPtl ? 1 : 0);
    t.is(at(tr, P_MOVE_VMA_MOVED), 1, "one flush for the move");
    t.is(tr.flushes[0]?.oldPtlHeld, flushUnderPtl);
  });
}

// LATENCY_LIMIT: up to Mel Gorman's June 2018 patch, move_ptes() moves at most 64 pages at a
// time, so a 128-page move is two extents and a 1024-page one (two PMDs) sixteen; from
// remove-latency-limit on, one move_ptes() per PMD: one extent, then two. The seed fix and its
// successors flush in each move_ptes() that moved a dirty (from eb66ae030829: present) entry.
const extents: [string, number, { moves: number; inMovePtes: number; atEnd: number }][] = [
  ["v4.9-rc4", 128, { moves: 2, inMovePtes: 0, atEnd: 1 }],
  ["5d1904204c99", 128, { moves: 2, inMovePtes: 2, atEnd: 0 }],
  ["v4.9", 128, { moves: 2, inMovePtes: 2, atEnd: 0 }],
  ["3ea277194daa", 128, { moves: 2, inMovePtes: 2, atEnd: 0 }],
  ["remove-latency-limit", 128, { moves: 1, inMovePtes: 1, atEnd: 0 }],
  ["eb66ae030829", 128, { moves: 1, inMovePtes: 1, atEnd: 0 }],
  ["5df397dec7c4", 128, { moves: 1, inMovePtes: 1, atEnd: 0 }],
  ["v4.9-rc4", 1024, { moves: 16, inMovePtes: 0, atEnd: 1 }],
  ["v4.9", 1024, { moves: 16, inMovePtes: 16, atEnd: 0 }],
  ["remove-latency-limit", 1024, { moves: 2, inMovePtes: 2, atEnd: 0 }],
  ["eb66ae030829", 1024, { moves: 2, inMovePtes: 2, atEnd: 0 }],
  // From 9f132f7e1455 a PMD-aligned PMD-sized extent moves by its PMD entry (move_normal_pmd()):
  // no move_ptes() at all, one flush per PMD.
  ["9f132f7e1455", 1024, { moves: 0, inMovePtes: 2, atEnd: 0 }],
  ["97113eb39fa7", 1024, { moves: 0, inMovePtes: 2, atEnd: 0 }],
  ["5df397dec7c4", 1024, { moves: 0, inMovePtes: 2, atEnd: 0 }],
  ["9f132f7e1455", 128, { moves: 1, inMovePtes: 1, atEnd: 0 }],
];
for (const [name, pages, e] of extents) {
  test(`${name}: a dirty ${pages}-page mremap is ${e.moves} move_ptes() calls, flushing ${e.inMovePtes} times in them and ${e.atEnd} at the end`, (t) => {
    const m = solo(pages);
    m.cpu.kernel = kernel(name);
    sys_mmap(m.cpu, m.X, pages * PAGE_SIZE, 0);
    for (let i = 0; i < pages; i++) user_store(m.cpu, m.X + i * PAGE_SIZE, i);
    const tr = trace(m);
    t.is(sys_mremap(m.cpu, m.X, pages * PAGE_SIZE, m.Y), m.Y);
    t.is(
      tr.points.filter(([p]) => p === P_MOVE_PTES_UNLOCKED).length,
      e.moves,
      "move_ptes() calls",
    );
    t.is(at(tr, P_MOVE_PAGE_TABLES_BEFORE_FLUSH), e.inMovePtes);
    t.is(at(tr, P_MOVE_VMA_MOVED), e.inMovePtes + e.atEnd, "the move's flushes");
    for (let i = 0; i < pages; i += 37) {
      t.is(m.pte(m.X + i * PAGE_SIZE), 0);
      t.is(user_load(m.cpu, m.Y + i * PAGE_SIZE), i);
    }
  });
}

// 3ea277194daa (v4.13) added flush_tlb_batched_pending() to move_ptes(), called once both PTLs
// are held: a flush reclaim deferred (mm->tlb_flush_batched) is done before any PTE moves.
for (const k of KERNELS) {
  test(`${k.name}: move_ptes() ${k.flushBatchedPending ? "flushes" : "ignores"} a pending batched reclaim flush`, (t) => {
    const m = solo(1);
    m.cpu.kernel = k;
    sys_mmap(m.cpu, m.X, PAGE_SIZE, 0);
    t.is(user_load(m.cpu, m.X), 0);
    Atomics.store(m.mem, m.L.tlbFlushBatched, 1); // as set_tlb_ubc_flush_pending() leaves it
    const tr = trace(m);
    let pending = -1;
    const point = m.cpu.point.bind(m.cpu);
    m.cpu.point = (id: number): void => {
      point(id);
      if (id === P_MOVE_PTES_LOCKED) pending = Atomics.load(m.mem, m.L.tlbFlushBatched);
    };
    t.is(sys_mremap(m.cpu, m.X, PAGE_SIZE, m.Y), m.Y);
    t.is(at(tr, P_MOVE_PTES_LOCKED), k.flushBatchedPending ? 1 : 0);
    t.is(pending, k.flushBatchedPending ? 0 : 1, "mm->tlb_flush_batched at move_ptes:locked");
    if (k.flushBatchedPending) t.is(where(tr.flushes[0] as Flush), "under both PTLs");
  });
}
