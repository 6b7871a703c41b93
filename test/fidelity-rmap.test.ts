/**
 * Where the model's rmap helpers now do what v4.9 did (docs/model.md): page_check_address()'s
 * sync argument (mm/rmap.c) and take_rmap_locks()/drop_rmap_locks() taking the rmap lock of the
 * VMA's kind (mm/mremap.c). One in-thread CPU (solo).
 */
import test from "ava";
import { PAGE_SIZE } from "../lib/machine/layout.js";
import { user_load } from "../lib/mmu/access.js";
import { pmd_offset, pte_lockptr_walk, pte_offset_walk } from "../lib/mmu/pgtable.js";
import { __pte_alloc } from "../lib/mm/memory.js";
import { find_vma, sys_mmap, sys_mmap_anon } from "../lib/mm/mmap.js";
import { page_check_address } from "../lib/mm/rmap.js";
import { drop_rmap_locks, take_rmap_locks } from "../lib/mm/rmap_locks.js";
import { spin_is_locked, spin_unlock } from "../lib/sync/spinlock.js";
import { solo, type Solo } from "./helpers/solo.js";

/** The PTL's next ticket: one more for every spin_lock(), held or not any more. */
const tickets = (m: Solo, addr: number): number =>
  Atomics.load(m.mem, pte_lockptr_walk(m.mem, m.L, addr));

/* ------------------------------------------------------- 3. page_check_address(..., sync) */

test("page_check_address(sync = 0): an empty PTE is no match, without taking the PTL", (t) => {
  const m = solo(1);
  sys_mmap(m.cpu, m.X, PAGE_SIZE, 0);
  __pte_alloc(m.cpu, pmd_offset(m.L, m.X));
  const before = tickets(m, m.X);
  t.is(page_check_address(m.cpu, 5, m.X, 0), -1);
  t.is(tickets(m, m.X), before, "the quick unlocked check returned before spin_lock()");
  t.is(page_check_address(m.cpu, 5, m.X, 1), -1);
  t.is(tickets(m, m.X), before + 1, "sync = 1 takes the PTL even for an empty PTE");
  t.false(spin_is_locked(m.mem, pte_lockptr_walk(m.mem, m.L, m.X)), "and drops it");
});

for (const sync of [0, 1]) {
  test(`page_check_address(sync = ${sync}): a present PTE mapping the page is returned under its PTL`, (t) => {
    const m = solo(1);
    sys_mmap(m.cpu, m.X, PAGE_SIZE, 0);
    user_load(m.cpu, m.X);
    const pfn = m.pte(m.X) >>> 12;
    const ptl = pte_lockptr_walk(m.mem, m.L, m.X);
    t.is(page_check_address(m.cpu, pfn, m.X, sync), pte_offset_walk(m.mem, m.L, m.X));
    t.true(spin_is_locked(m.mem, ptl));
    spin_unlock(m.cpu, ptl);
    t.is(page_check_address(m.cpu, pfn + 1, m.X, sync), -1, "another page: no match");
    t.false(spin_is_locked(m.mem, ptl));
  });
}

/* ------------------------------------------------------- 5. take_rmap_locks() */

/** The rwsem's count word: 0 free, -1 held for write. */
const count = (m: Solo, sem: number): number => Atomics.load(m.mem, sem);

test("take_rmap_locks() of a shared file VMA takes i_mmap_rwsem for write, not the anon_vma's", (t) => {
  const m = solo(1);
  sys_mmap(m.cpu, m.X, PAGE_SIZE, 0);
  const vma = find_vma(m.cpu, m.X);
  take_rmap_locks(m.cpu, vma);
  t.is(count(m, m.L.iMmapRwsem), -1, "i_mmap_lock_write(vma->vm_file->f_mapping)");
  t.is(count(m, m.L.anonVmaRwsem), 0, "no vma->anon_vma");
  drop_rmap_locks(m.cpu, vma);
  t.is(count(m, m.L.iMmapRwsem), 0);
  t.is(count(m, m.L.anonVmaRwsem), 0);
});

test("take_rmap_locks() of an anonymous VMA takes anon_vma->rwsem for write, not i_mmap_rwsem", (t) => {
  const m = solo(1);
  sys_mmap_anon(m.cpu, m.X, PAGE_SIZE);
  const vma = find_vma(m.cpu, m.X);
  take_rmap_locks(m.cpu, vma);
  t.is(count(m, m.L.anonVmaRwsem), -1, "anon_vma_lock_write(vma->anon_vma)");
  t.is(count(m, m.L.iMmapRwsem), 0, "no vma->vm_file");
  drop_rmap_locks(m.cpu, vma);
  t.is(count(m, m.L.anonVmaRwsem), 0);
  t.is(count(m, m.L.iMmapRwsem), 0);
});
