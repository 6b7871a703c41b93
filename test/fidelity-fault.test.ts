/**
 * Where the model's fault path now does what x86 v4.9 did (docs/model.md): handle_pte_fault()
 * on a present PTE goes through x86's ptep_set_access_flags(), which writes the PTE only for a
 * write fault that changes it, and flush_tlb_fix_spurious_fault() is a no-op on x86. One
 * in-thread CPU (solo).
 */
import test from "ava";
import { PAGE_SHIFT, PAGE_SIZE } from "../lib/machine/layout.js";
import { user_load, user_store } from "../lib/mmu/access.js";
import { _PAGE_ACCESSED, _PAGE_DIRTY, _PAGE_RW, pte_offset_walk } from "../lib/mmu/pgtable.js";
import { TLB_VALID, tlb_fill, tlb_lookup, TLB_WRITE } from "../lib/mmu/tlb.js";
import { FAULT_FLAG_WRITE, handle_mm_fault } from "../lib/mm/memory.js";
import { find_vma, sys_mmap } from "../lib/mm/mmap.js";
import { solo } from "./helpers/solo.js";

test("a spurious write fault (the PTE is already writable and dirty) flushes nothing on x86", (t) => {
  const m = solo(1);
  sys_mmap(m.cpu, m.X, PAGE_SIZE, 0);
  t.is(user_store(m.cpu, m.X, 1), 0);
  const pte = m.pte(m.X);
  t.truthy(pte & _PAGE_RW && pte & _PAGE_DIRTY && pte & _PAGE_ACCESSED);
  // A stale read-only TLB entry for the page (as another CPU's do_wp_page() leaves behind).
  tlb_fill(m.cpu, m.X >>> PAGE_SHIFT, ((pte >>> PAGE_SHIFT) << PAGE_SHIFT) | TLB_VALID);
  t.falsy(tlb_lookup(m.cpu, m.X >>> PAGE_SHIFT) & TLB_WRITE);
  const flushes = m.cpu.flushes;
  t.is(user_store(m.cpu, m.X, 2), 0, "#PF, nothing to change, retry");
  t.is(m.cpu.flushes, flushes, "flush_tlb_fix_spurious_fault() is a no-op on x86");
  t.is(m.pte(m.X), pte, "ptep_set_access_flags() found nothing to change");
  t.is(m.frameValue(pte >>> PAGE_SHIFT), 2);
});

test("a read fault on a present PTE does not write it (x86 leaves A to the hardware)", (t) => {
  const m = solo(1);
  sys_mmap(m.cpu, m.X, PAGE_SIZE, 0);
  user_load(m.cpu, m.X);
  const ptep = pte_offset_walk(m.mem, m.L, m.X);
  const old = m.pte(m.X) & ~_PAGE_ACCESSED;
  Atomics.store(m.mem, ptep, old);
  t.is(handle_mm_fault(m.cpu, find_vma(m.cpu, m.X), m.X, 0), 0);
  t.is(m.pte(m.X), old, "ptep_set_access_flags(..., dirty = 0) changed but did not write");
  t.is(m.cpu.flushes, 0);
});

test("a write fault on a writable clean PTE makes it dirty and young, with no flush", (t) => {
  const m = solo(1);
  sys_mmap(m.cpu, m.X, PAGE_SIZE, 0);
  user_store(m.cpu, m.X, 1);
  const ptep = pte_offset_walk(m.mem, m.L, m.X);
  const clean = m.pte(m.X) & ~(_PAGE_DIRTY | _PAGE_ACCESSED);
  Atomics.store(m.mem, ptep, clean);
  const flushes = m.cpu.flushes;
  t.is(handle_mm_fault(m.cpu, find_vma(m.cpu, m.X), m.X, FAULT_FLAG_WRITE), 0);
  t.truthy(m.pte(m.X) & _PAGE_DIRTY, "written: changed and dirty");
  t.truthy(m.pte(m.X) & _PAGE_ACCESSED);
  t.is(m.cpu.flushes, flushes, "x86's ptep_set_access_flags() does not flush");
});
