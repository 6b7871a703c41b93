/**
 * Transparent huge pages (mm/huge_memory.c as of v4.9, anonymous only): the huge fault, zap of
 * a huge PMD, and the split of a huge PMD and of its compound page (as reclaim does before
 * paging a THP out). The PMD lock is the split ptlock of the (one) PMD table: L.pageTableLock,
 * the lock __pte_alloc() also takes. move_huge_pmd() differs per version: see lib/kernels/.
 */
import type { Cpu } from "../machine/cpu.js";
import {
  HPAGE_PMD_NR,
  MAPPING_ANON,
  PAGE_FLAGS,
  PAGE_INDEX,
  PAGE_MAPCOUNT,
  PAGE_MAPPING,
  PAGE_REFCOUNT,
  PAGE_SHIFT,
  PMD_SIZE,
  PTRS_PER_PTE,
  VMA_END,
  VMA_PAGE_PROT,
  VMA_START,
} from "../machine/layout.js";
import {
  _PAGE_ACCESSED,
  _PAGE_DIRTY,
  _PAGE_PRESENT,
  _PAGE_PSE,
  _PAGE_RW,
  pmd_populate,
  mk_pte,
  pmd_offset,
} from "../mmu/pgtable.js";
import { flush_tlb_range } from "../mmu/shootdown.js";
import { down_read, up_read } from "../sync/rwsem.js";
import { spin_lock, spin_unlock } from "../sync/spinlock.js";
import { linear_page_index, vma_address, vma_field } from "./mmap.js";
export { VM_HUGEPAGE } from "./mmap.js";
import { alloc_huge_page } from "./page_alloc.js";
import { PageDirty, PG_dirty, PG_head, PG_uptodate } from "./page_flags.js";
import { page_remove_rmap } from "./rmap.js";
import { __tlb_remove_page, type MmuGather } from "./tlb_gather.js";

export const HPAGE_PMD_SIZE = PMD_SIZE;

/** The PMD lock (pmd_lock()). */
export const pmd_lockptr = (cpu: Cpu): number => cpu.L.pageTableLock;

/** Whether a huge page fits the VMA at addr's 2 MiB region (transhuge_vma_suitable()). */
export function transhuge_vma_suitable(cpu: Cpu, vma: number, addr: number): boolean {
  const haddr = addr & ~(HPAGE_PMD_SIZE - 1);
  return (
    haddr >= vma_field(cpu, vma, VMA_START) &&
    haddr + HPAGE_PMD_SIZE <= vma_field(cpu, vma, VMA_END)
  );
}

/** do_huge_pmd_anonymous_page() for a write: a zeroed huge page, mapped writable and dirty. */
export function do_huge_pmd_anonymous_page(cpu: Cpu, vma: number, addr: number): number {
  const mem = cpu.mem;
  const haddr = addr & ~(HPAGE_PMD_SIZE - 1);
  const pmdp = pmd_offset(cpu.L, haddr);
  const head = alloc_huge_page(cpu);
  Atomics.store(mem, cpu.L.page(head) + PAGE_MAPPING, MAPPING_ANON);
  spin_lock(cpu, pmd_lockptr(cpu));
  if (Atomics.load(mem, pmdp) !== 0) {
    spin_unlock(cpu, pmd_lockptr(cpu));
    Atomics.store(mem, cpu.L.page(head) + PAGE_REFCOUNT, 0);
    return 0; // someone populated it meanwhile: retry
  }
  // page_add_new_anon_rmap(page, vma, haddr, true): the compound mapcount lives on the head.
  Atomics.store(mem, cpu.L.page(head) + PAGE_INDEX, linear_page_index(cpu, vma, haddr));
  Atomics.store(mem, cpu.L.page(head) + PAGE_MAPCOUNT, 1);
  const entry =
    mk_pte(head, vma_field(cpu, vma, VMA_PAGE_PROT)) |
    _PAGE_PSE |
    _PAGE_RW |
    _PAGE_DIRTY |
    _PAGE_ACCESSED;
  Atomics.store(mem, pmdp, entry); // set_pmd_at()
  spin_unlock(cpu, pmd_lockptr(cpu));
  return 0;
}

/** zap_huge_pmd(): unmap a whole huge PMD; the page is freed after the gather's flush. */
export function zap_huge_pmd(cpu: Cpu, tlb: MmuGather, pmdp: number, addr: number): void {
  spin_lock(cpu, pmd_lockptr(cpu));
  const orig = Atomics.exchange(cpu.mem, pmdp, 0); // pmdp_huge_get_and_clear_full()
  if ((orig & _PAGE_PSE) !== 0) {
    // tlb_remove_pmd_tlb_entry(): the flush must cover the whole 2 MiB.
    if (addr < tlb.start) tlb.start = addr;
    if (addr + HPAGE_PMD_SIZE > tlb.end) tlb.end = addr + HPAGE_PMD_SIZE;
    const head = orig >>> PAGE_SHIFT;
    page_remove_rmap(cpu, head);
    __tlb_remove_page(tlb, head);
  }
  spin_unlock(cpu, pmd_lockptr(cpu));
}

/**
 * __split_huge_pmd() under the PMD lock: pmdp_invalidate() (the PMD not present, then a flush of
 * its whole 2 MiB range: on x86, 512 pages is above tlb_single_page_flush_ceiling, so every CPU
 * of the mm flushes everything), then a PTE table mapping the 512 subpages, write permission
 * kept, dirtiness moved to the page.
 */
export function __split_huge_pmd(cpu: Cpu, vma: number, pmdp: number, haddr: number): void {
  const mem = cpu.mem;
  const L = cpu.L;
  spin_lock(cpu, pmd_lockptr(cpu));
  const old = Atomics.load(mem, pmdp);
  if ((old & (_PAGE_PSE | _PAGE_PRESENT)) !== (_PAGE_PSE | _PAGE_PRESENT)) {
    spin_unlock(cpu, pmd_lockptr(cpu));
    return;
  }
  const head = old >>> PAGE_SHIFT;
  Atomics.store(mem, pmdp, old & ~_PAGE_PRESENT); // pmdp_invalidate(): pmd_mknotpresent()
  flush_tlb_range(cpu, haddr, haddr + HPAGE_PMD_SIZE); // flush_pmd_tlb_range()
  if ((old & _PAGE_DIRTY) !== 0) Atomics.or(mem, L.page(head) + PAGE_FLAGS, PG_dirty);
  const prot = vma_field(cpu, vma, VMA_PAGE_PROT) | (old & (_PAGE_RW | _PAGE_ACCESSED));
  // The deposited table (pgtable_trans_huge_withdraw()): the one the slot owns.
  const table = mem[L.pgtableOf + (pmdp - L.pmd)] as number;
  const ptes = L.pte + table * PTRS_PER_PTE;
  for (let i = 0; i < HPAGE_PMD_NR; i++) mem[ptes + i] = mk_pte(head + i, prot);
  // The subpages are each mapped once now; the head's compound mapcount becomes its own.
  for (let i = 1; i < HPAGE_PMD_NR; i++) Atomics.add(mem, L.page(head + i) + PAGE_MAPCOUNT, 1);
  Atomics.store(mem, pmdp, pmd_populate(table));
  spin_unlock(cpu, pmd_lockptr(cpu));
}

/**
 * split_huge_page() of a locked, referenced THP, as reclaim does before paging it out: split
 * every PMD that maps it (unmap_page(): the anon rmap walk, old VMA first), then make the
 * tails pages of their own (__split_huge_page()), each holding its PTE's reference.
 */
export function split_huge_page(cpu: Cpu, head: number): void {
  const mem = cpu.mem;
  const L = cpu.L;
  const index = Atomics.load(mem, L.page(head) + PAGE_INDEX);
  down_read(cpu, L.anonVmaRwsem);
  const n = Atomics.load(mem, L.anonVma);
  for (let i = 0; i < n; i++) {
    const vma = Atomics.load(mem, L.anonVma + 1 + i);
    const haddr = vma_address(cpu, vma, index);
    if (haddr < 0) continue;
    const pmdp = pmd_offset(L, haddr);
    if (Atomics.load(mem, pmdp) >>> PAGE_SHIFT === head) __split_huge_pmd(cpu, vma, pmdp, haddr);
  }
  up_read(cpu, L.anonVmaRwsem);
  const flags = (PageDirty(cpu, head) ? PG_dirty : 0) | PG_uptodate;
  for (let i = 1; i < HPAGE_PMD_NR; i++) {
    const t = L.page(head + i);
    Atomics.store(mem, t + PAGE_MAPPING, MAPPING_ANON);
    Atomics.store(mem, t + PAGE_INDEX, index + i);
    Atomics.store(mem, t + PAGE_FLAGS, flags);
    Atomics.store(mem, t + PAGE_REFCOUNT, Atomics.load(mem, t + PAGE_MAPCOUNT)); // its PTE's reference
  }
  Atomics.and(mem, L.page(head) + PAGE_FLAGS, ~PG_head);
}
