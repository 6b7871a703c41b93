/**
 * The PMD-move era of mremap (lib/kernels/9f132f7e1455.ts, 97113eb39fa7.ts, move_normal_pmd()
 * in lib/mm/mremap.ts, v5.10.13): a PMD-aligned, PMD-sized extent moves by its PMD entry, the
 * PTE table and its lock with it. On one in-thread CPU (solo), so each step is deterministic;
 * the race itself runs on real threads in the catalog tests (mremap-pmd-migrate-uaf).
 */
import test from "ava";
import { KERNELS, type Kernel } from "../lib/kernels/index.js";
import { PAGE_SIZE, PTRS_PER_PTE } from "../lib/machine/layout.js";
import { user_load, user_store } from "../lib/mmu/access.js";
import {
  pmd_index,
  pmd_offset,
  pmd_pgtable,
  pte_lockptr_walk,
  pte_offset_walk,
} from "../lib/mmu/pgtable.js";
import { sys_mmap_anon } from "../lib/mm/mmap.js";
import { sys_mremap } from "../lib/mm/mremap.js";
import { page_check_address } from "../lib/mm/rmap.js";
import { spin_is_locked, spin_unlock } from "../lib/sync/spinlock.js";
import { solo, type Solo } from "./helpers/solo.js";

const kernel = (name: string): Kernel => {
  const k = KERNELS.find((x) => x.name === name);
  if (k === undefined) throw new Error(`no kernel ${name}`);
  return k;
};

const PMD_PAGES = PTRS_PER_PTE;
const pmdOf = (m: Solo, addr: number): number => Atomics.load(m.mem, pmd_offset(m.L, addr));
const ownerOf = (m: Solo, addr: number): number =>
  Atomics.load(m.mem, m.L.pgtableOf + pmd_index(addr));

/** A 512-page anonymous mapping at X (one PMD, PMD-aligned) with page 3 written. */
function mapped(name: string): { m: Solo; pfn: number } {
  const m = solo(PMD_PAGES);
  m.cpu.kernel = kernel(name);
  sys_mmap_anon(m.cpu, m.X, PMD_PAGES * PAGE_SIZE);
  user_store(m.cpu, m.X + 3 * PAGE_SIZE, 41);
  return { m, pfn: m.pte(m.X + 3 * PAGE_SIZE) >>> 12 };
}

for (const name of ["9f132f7e1455", "97113eb39fa7", "5df397dec7c4"]) {
  test(`${name}: a PMD-sized mremap moves the PTE table itself; the old slot gets the spare table`, (t) => {
    const { m, pfn } = mapped(name);
    const pmd = pmdOf(m, m.X);
    const table = pmd_pgtable(pmd);
    const spare = ownerOf(m, m.Y);
    t.not(table, spare);
    t.is(sys_mremap(m.cpu, m.X, PMD_PAGES * PAGE_SIZE, m.Y), m.Y);
    t.is(pmdOf(m, m.X), 0, "the old PMD is cleared");
    t.is(pmdOf(m, m.Y), pmd, "the new PMD holds the old entry: the same table");
    t.is(ownerOf(m, m.Y), table);
    t.is(ownerOf(m, m.X), spare, "ownership swapped: every slot still owns one table");
    t.is(m.pte(m.Y + 3 * PAGE_SIZE) >>> 12, pfn);
    t.is(user_load(m.cpu, m.Y + 3 * PAGE_SIZE), 41);
  });
}

test("eb66ae030829: the same mremap moves PTE by PTE into the new slot's own table", (t) => {
  const { m, pfn } = mapped("eb66ae030829");
  const table = pmd_pgtable(pmdOf(m, m.X));
  const own = ownerOf(m, m.Y);
  t.is(sys_mremap(m.cpu, m.X, PMD_PAGES * PAGE_SIZE, m.Y), m.Y);
  t.is(pmd_pgtable(pmdOf(m, m.Y)), own, "pte_alloc() gave the new PMD its own table");
  t.not(own, table);
  t.is(ownerOf(m, m.X), table, "no ownership changes");
  t.is(m.pte(m.Y + 3 * PAGE_SIZE) >>> 12, pfn);
});

test("CVE-2022-41222's mechanism on 9f132f7e1455: a walker's PTE and PTL, found through the old PMD, now belong to the new address", (t) => {
  const { m, pfn } = mapped("9f132f7e1455");
  const ptep = page_check_address(m.cpu, pfn, m.X + 3 * PAGE_SIZE, 0);
  t.true(ptep >= 0, "the rmap walk found the page at the old address");
  const ptl = m.cpu.rmapPtl;
  t.true(spin_is_locked(m.mem, ptl));
  // move_normal_pmd() takes the PMD lock only, so the move completes with the PTL still held.
  t.is(sys_mremap(m.cpu, m.X, PMD_PAGES * PAGE_SIZE, m.Y), m.Y);
  t.is(ptep, pte_offset_walk(m.mem, m.L, m.Y + 3 * PAGE_SIZE), "the walker's pte now maps Y");
  t.is(ptl, pte_lockptr_walk(m.mem, m.L, m.Y), "and its lock is the new address's PTL");
  t.true(spin_is_locked(m.mem, ptl));
  spin_unlock(m.cpu, ptl);
});

/** anon_vma->rwsem's count word at the moment of each flush during the mremap. */
function rwsemAtFlushes(m: Solo): number[] {
  const seen: number[] = [];
  let count = m.cpu.flushes;
  Object.defineProperty(m.cpu, "flushes", {
    configurable: true,
    get: () => count,
    set: (v: number) => {
      count = v;
      seen.push(Atomics.load(m.mem, m.L.anonVmaRwsem));
    },
  });
  return seen;
}

for (const [name, held] of [
  ["9f132f7e1455", false],
  ["97113eb39fa7", true],
] as const) {
  test(`${name}: the PMD move ${held ? "holds" : "does not take"} anon_vma->rwsem for write`, (t) => {
    const { m } = mapped(name);
    const seen = rwsemAtFlushes(m);
    t.is(sys_mremap(m.cpu, m.X, PMD_PAGES * PAGE_SIZE, m.Y), m.Y);
    // The first flush is move_normal_pmd()'s, made under the PMD lock.
    t.true(seen.length >= 1);
    t.is(seen[0], held ? -1 : 0, "rwsem count at move_normal_pmd()'s flush (-1: write-held)");
  });
}
