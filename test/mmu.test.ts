import test from "ava";
import { user_load, user_store } from "../lib/mmu/access.js";
import {
  _PAGE_DIRTY,
  _PAGE_PRESENT,
  _PAGE_RW,
  pte_offset_walk,
  pte_pfn,
} from "../lib/mmu/pgtable.js";
import { flush_tlb_page } from "../lib/mmu/shootdown.js";
import { local_flush_tlb, tlb_lookup, TLB_DIRTY, TLB_WRITE } from "../lib/mmu/tlb.js";
import { SIGSEGV } from "../lib/mm/fault.js";
import { sys_mmap } from "../lib/mm/mmap.js";
import { PAGE_SHIFT } from "../lib/machine/layout.js";
import { solo } from "./helpers/solo.js";

test("a write fault on a shared file mapping maps the page writable and dirty", (t) => {
  const m = solo();
  sys_mmap(m.cpu, m.X, 4 << PAGE_SHIFT, 0);
  t.is(m.pte(m.X), 0, "mmap populates nothing");
  t.is(user_store(m.cpu, m.X, 7), 0);
  const pte = m.pte(m.X);
  t.truthy(pte & _PAGE_PRESENT);
  t.truthy(pte & _PAGE_RW);
  t.truthy(pte & _PAGE_DIRTY);
  t.is(m.frameValue(pte_pfn(pte)), 7);
  const e = tlb_lookup(m.cpu, m.X >>> PAGE_SHIFT);
  t.truthy(e & TLB_WRITE, "TLB caches the write permission");
  t.truthy(e & TLB_DIRTY, "TLB caches the dirty bit");
});

test("the walker sets D on the first write through a clean entry; later writes touch no page table", (t) => {
  const m = solo();
  sys_mmap(m.cpu, m.X, 4 << PAGE_SHIFT, 0);
  user_store(m.cpu, m.X, 1);
  const ptep = pte_offset_walk(m.mem, m.L, m.X);
  // Make the PTE writable but clean and start from an empty TLB.
  Atomics.store(m.mem, ptep, m.pte(m.X) & ~_PAGE_DIRTY);
  local_flush_tlb(m.cpu);
  t.is(user_load(m.cpu, m.X), 1);
  t.falsy(tlb_lookup(m.cpu, m.X >>> PAGE_SHIFT) & TLB_DIRTY, "a read caches D = 0");
  t.falsy(m.pte(m.X) & _PAGE_DIRTY, "a read does not set D");
  t.is(user_store(m.cpu, m.X, 2), 0);
  t.truthy(m.pte(m.X) & _PAGE_DIRTY, "first write: walker set D in the PTE");
  // Clear D behind the TLB's back: a later write must not set it again.
  Atomics.store(m.mem, ptep, m.pte(m.X) & ~_PAGE_DIRTY);
  t.is(user_store(m.cpu, m.X, 3), 0);
  t.falsy(m.pte(m.X) & _PAGE_DIRTY, "later write went through the cached D=1 entry, PTE untouched");
  t.is(m.frameValue(pte_pfn(m.pte(m.X))), 3);
});

test("a stale TLB entry is used after its PTE is cleared, until the TLB is flushed", (t) => {
  const m = solo();
  sys_mmap(m.cpu, m.X, 4 << PAGE_SHIFT, 0);
  user_store(m.cpu, m.X, 1);
  const pfn = pte_pfn(m.pte(m.X));
  Atomics.store(m.mem, pte_offset_walk(m.mem, m.L, m.X), 0); // cleared without a flush
  t.is(user_store(m.cpu, m.X, 9), 0, "the store succeeds through the stale entry");
  t.is(m.frameValue(pfn), 9, "and lands in the old frame");
  t.is(m.pte(m.X), 0, "with no page table recording it");
  flush_tlb_page(m.cpu, m.X);
  t.is(tlb_lookup(m.cpu, m.X >>> PAGE_SHIFT), 0, "flushed");
});

test("a write through a write-protected PTE faults into do_wp_page, which makes it writable and dirty", (t) => {
  const m = solo();
  sys_mmap(m.cpu, m.X, 4 << PAGE_SHIFT, 0);
  t.is(user_load(m.cpu, m.X), 0, "read fault maps the page");
  const pte = m.pte(m.X);
  t.falsy(pte & _PAGE_RW, "shared file mapping with page_mkwrite: read fault maps read-only");
  t.falsy(tlb_lookup(m.cpu, m.X >>> PAGE_SHIFT) & TLB_WRITE);
  t.is(user_store(m.cpu, m.X, 4), 0);
  t.truthy(m.pte(m.X) & _PAGE_RW);
  t.truthy(m.pte(m.X) & _PAGE_DIRTY);
});

test("an access with no VMA is SIGSEGV, delivered as a result", (t) => {
  const m = solo();
  sys_mmap(m.cpu, m.X, 4 << PAGE_SHIFT, 0);
  t.is(user_store(m.cpu, m.Y, 1), SIGSEGV);
  user_load(m.cpu, m.Y);
  t.is(m.cpu.fault, SIGSEGV);
});
