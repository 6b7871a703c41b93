/**
 * Page migration (lib/mm/migrate.ts, mm/migrate.c as of v4.9): unmap into migration entries,
 * flushing each cleared address at once (no TTU_BATCH_FLUSH, on x86 too), copy, map the copy,
 * free the old page.
 */
import test from "ava";
import { PAGE_REFCOUNT, PAGE_SHIFT } from "../lib/machine/layout.js";
import { user_load, user_store } from "../lib/mmu/access.js";
import {
  is_migration_entry,
  make_migration_entry,
  pte_offset_walk,
  pte_pfn,
  pte_present,
} from "../lib/mmu/pgtable.js";
import { tlb_lookup } from "../lib/mmu/tlb.js";
import { migrate_pages, migration_entry_wait } from "../lib/mm/migrate.js";
import { sys_mmap_anon } from "../lib/mm/mmap.js";
import { solo } from "./helpers/solo.js";

test("migrate_pages() moves a stored anonymous page: a new frame with the same data, the old one freed, the TLB entry flushed", (t) => {
  const m = solo();
  sys_mmap_anon(m.cpu, m.X, 4 << PAGE_SHIFT);
  t.is(user_store(m.cpu, m.X, 41), 0);
  const old = pte_pfn(m.pte(m.X));
  const flushes = m.cpu.flushes;
  t.is(migrate_pages(m.cpu), 1);
  const pte = m.pte(m.X);
  t.true(pte_present(pte), "remove_migration_ptes() mapped the copy");
  t.not(pte_pfn(pte), old, "at a new frame");
  t.is(m.frameValue(pte_pfn(pte)), 41, "migrate_page_copy() copied the data");
  t.is(Atomics.load(m.mem, m.L.page(old) + PAGE_REFCOUNT), 0, "the old page is freed");
  t.is(m.cpu.flushes, flushes + 1, "try_to_unmap_one() flushed the address at once");
  t.is(tlb_lookup(m.cpu, m.X >>> PAGE_SHIFT), 0);
  t.is(user_load(m.cpu, m.X), 41, "a load after migration reads the copy");
  t.is(user_store(m.cpu, m.X, 42), 0, "and a store goes to it (write migration entry)");
  t.is(m.frameValue(pte_pfn(m.pte(m.X))), 42);
});

test("migration_entry_wait() returns at once when the entry is gone or its page is free", (t) => {
  const m = solo();
  sys_mmap_anon(m.cpu, m.X, 4 << PAGE_SHIFT);
  t.is(user_store(m.cpu, m.X, 1), 0);
  const pfn = pte_pfn(m.pte(m.X));
  // A migration entry for a page that is no longer locked: nothing to wait for.
  const ptep = pte_offset_walk(m.mem, m.L, m.X);
  Atomics.store(m.mem, ptep, make_migration_entry(pfn, true));
  t.true(is_migration_entry(m.pte(m.X)));
  migration_entry_wait(m.cpu, m.X);
  t.is(Atomics.load(m.mem, m.L.page(pfn) + PAGE_REFCOUNT), 1, "the reference it took is dropped");
});
