/**
 * mm/memory.c as of v4.9 (the paths the catalog's races run through): page faults on the shared
 * file mapping (handle_pte_fault, do_shared_fault, do_wp_page) and unmapping
 * (zap_pte_range with the v3.15+ forced flush of dirty PTEs under the PTL).
 */
import { migration_entry_wait } from "./migrate.js";
import { flush_tlb_batched_pending } from "./tlbbatch.js";
import type { Cpu } from "../machine/cpu.js";
import {
  FRAME_WORDS,
  PAGE_MAPCOUNT,
  PAGE_SIZE,
  PMD_SIZE,
  PTRS_PER_PTE,
  VMA_FLAGS,
  VMA_PAGE_PROT,
  ZERO_PFN,
} from "../machine/layout.js";
import {
  P_ZAP_PTE_RANGE_BEFORE_FLUSH,
  P_ZAP_PTE_RANGE_DIRTY_CLEARED,
  P_ZAP_PTE_RANGE_UNLOCKED,
} from "../machine/points.js";
import {
  mk_pte,
  _PAGE_PRESENT,
  _PAGE_PSE,
  pmd_none,
  pmd_offset,
  pmd_trans_huge,
  pte_dirty,
  pte_lockptr,
  pte_mkdirty,
  pte_mkwrite,
  pte_mkyoung,
  pte_none,
  pte_offset_map,
  ptep_get,
  ptep_get_and_clear,
  pmd_populate,
  pte_pfn,
  pte_present,
  pte_to_swp_slot,
  is_migration_entry,
  pte_write,
} from "../mmu/pgtable.js";
import { spin_lock, spin_unlock } from "../sync/spinlock.js";
import { filemap_fault } from "./filemap.js";
import { linear_page_index, vma_field, vma_is_anonymous } from "./mmap.js";
import {
  do_huge_pmd_anonymous_page,
  pmd_lockptr,
  transhuge_vma_suitable,
  VM_HUGEPAGE,
  zap_huge_pmd,
} from "./huge_memory.js";
import { get_page, put_page } from "./page_alloc.js";
import {
  lock_page,
  page_mapped,
  page_mapping,
  PageAnon,
  PageSwapCache,
  trylock_page,
  unlock_page,
} from "./page_flags.js";
import { set_page_dirty } from "./page-writeback.js";
import {
  page_add_anon_rmap,
  page_add_file_rmap,
  page_add_new_anon_rmap,
  page_remove_rmap,
  ptep_clear_flush,
} from "./rmap.js";
import {
  alloc_anon_page,
  free_swap_and_cache,
  lookup_swap_cache,
  page_swap_slot,
  swap_count,
  swap_free,
  swapin_readahead,
  try_to_free_swap,
} from "./swap.js";
import {
  __tlb_remove_page_size,
  __tlb_remove_pte_page,
  type MmuGather,
  tlb_flush_mmu_free,
  tlb_flush_mmu_tlbonly,
  tlb_remove_tlb_entry,
} from "./tlb_gather.js";

export const FAULT_FLAG_WRITE = 0x01;
export const VM_FAULT_SIGBUS = 0x0002;
export const VM_FAULT_WRITE = 0x0008;
export const VM_FAULT_SIGSEGV = 0x0040;
export const VM_FAULT_NOPAGE = 0x0100;
export const VM_FAULT_LOCKED = 0x0200;
export const VM_FAULT_ERROR = VM_FAULT_SIGBUS | VM_FAULT_SIGSEGV;

/**
 * __pte_alloc(): populate an empty PMD with a PTE table under mm->page_table_lock. The model
 * gives the slot the table it owns (L.pgtableOf, see pmd_populate()); populating clears it.
 */
export function __pte_alloc(cpu: Cpu, pmdp: number): void {
  const mem = cpu.mem;
  const L = cpu.L;
  spin_lock(cpu, L.pageTableLock);
  if (pmd_none(Atomics.load(mem, pmdp))) {
    // The table is unreachable until the PMD points at it: plain stores, then the atomic
    // store of the PMD publishes them (smp_wmb() before pmd_populate() in the kernel).
    const table = mem[L.pgtableOf + (pmdp - L.pmd)] as number;
    const ptes = L.pte + table * PTRS_PER_PTE;
    mem.fill(0, ptes, ptes + PTRS_PER_PTE);
    Atomics.store(mem, pmdp, pmd_populate(table));
  }
  spin_unlock(cpu, L.pageTableLock);
}

/* ---------------------------------------------------------------- unmapping */

/**
 * The cases every zap_pte_range() version handles the same way: an empty PTE (nothing to do),
 * a swap entry (free_swap_and_cache), the zero page (vm_normal_page() is NULL: no rmap, no
 * reference). Returns true if the PTE needs no more work.
 */
export function zap_pte_special(
  cpu: Cpu,
  tlb: MmuGather,
  ptep: number,
  addr: number,
  ptent: number,
): boolean {
  if (pte_none(ptent)) return true;
  if (!pte_present(ptent)) {
    Atomics.store(cpu.mem, ptep, 0); // pte_clear_not_present_full()
    // free_swap_and_cache() returns at once for a non_swap_entry() such as a migration entry.
    if (!is_migration_entry(ptent)) free_swap_and_cache(cpu, pte_to_swp_slot(ptent));
    return true;
  }
  if (pte_pfn(ptent) === ZERO_PFN) {
    Atomics.exchange(cpu.mem, ptep, 0);
    tlb_remove_tlb_entry(tlb, addr);
    return true;
  }
  return false;
}

/**
 * zap_pte_range() for addresses [addr, end) inside one PTE table, as in v3.15+ (after
 * 1cf35d47712d) through v4.9 (mm/memory.c, v4.9): a dirty file PTE forces the TLB flush *before
 * the PTL is dropped*, so that page_mkclean(), which needs the PTL, cannot clean the page while
 * another CPU still writes through a stale entry. Pages are freed only after the flush. When the
 * gather has no room (__tlb_remove_page() returns true, MAX_GATHER_PAGES queued), v4.9 keeps the
 * page as pending_page, flushes and frees, then queues it. lib/kernels/v3.14.ts has the version
 * before.
 */
export function zap_pte_range(
  cpu: Cpu,
  tlb: MmuGather,
  pmdp: number,
  addr: number,
  end: number,
): number {
  const mem = cpu.mem;
  const pmd = Atomics.load(mem, pmdp);
  const ptl = pte_lockptr(cpu.L, pmd);
  let force_flush = false;
  let pending_page = -1;
  for (;;) {
    // again:
    spin_lock(cpu, ptl);
    // 3ea277194daa (v4.13): reclaim may have cleared a PTE here and deferred its flush; a
    // no-op before that commit (cpu.kernel.flushBatchedPending) and on arm64.
    flush_tlb_batched_pending(cpu);
    let ptep = pte_offset_map(cpu.L, pmd, addr); // pte_offset_map_lock(), then pte++
    for (; addr !== end; ptep++, addr += PAGE_SIZE) {
      let ptent = ptep_get(mem, ptep);
      if (pte_none(ptent)) continue;
      if (zap_pte_special(cpu, tlb, ptep, addr, ptent)) continue;
      const page = pte_pfn(ptent);
      ptent = ptep_get_and_clear(mem, ptep); // ptep_get_and_clear_full()
      tlb_remove_tlb_entry(tlb, addr);
      if (!PageAnon(cpu, page) && pte_dirty(ptent)) {
        force_flush = true;
        set_page_dirty(cpu, page);
        cpu.point(P_ZAP_PTE_RANGE_DIRTY_CLEARED);
      }
      page_remove_rmap(cpu, page);
      if (__tlb_remove_page_size(tlb, page)) {
        force_flush = true;
        pending_page = page;
        addr += PAGE_SIZE;
        break;
      }
    }
    // The page is already invisible to rmap: page_mkclean() skips an unmapped page without
    // taking this PTL, so the window between page_remove_rmap() and the flush stays open
    // (closed in 2022 by 5df397dec7c4, lib/kernels/5df397dec7c4.ts).
    cpu.point(P_ZAP_PTE_RANGE_BEFORE_FLUSH);
    // Do the actual TLB flush before dropping ptl
    if (force_flush) tlb_flush_mmu_tlbonly(cpu, tlb);
    spin_unlock(cpu, ptl);
    cpu.point(P_ZAP_PTE_RANGE_UNLOCKED);
    // If we forced a TLB flush (either due to running out of batch buffers or because we needed
    // to flush dirty TLB entries before releasing the ptl), free the batched memory too.
    // Restart if we didn't do everything.
    if (!force_flush) break;
    force_flush = false;
    tlb_flush_mmu_free(cpu, tlb);
    if (pending_page >= 0) {
      __tlb_remove_pte_page(tlb, pending_page); // remove the page with new size
      pending_page = -1;
    }
    if (addr === end) break;
  }
  return addr;
}

/** unmap_vmas() -> unmap_page_range() -> zap_pmd_range(), for one VMA's [start, end). */
export function unmap_vmas(
  cpu: Cpu,
  tlb: MmuGather,
  _vma: number,
  start: number,
  end: number,
): void {
  for (let addr = start; addr < end;) {
    const next = Math.min(((addr >>> 21) + 1) << 21, end); // pmd_addr_end()
    const pmdp = pmd_offset(cpu.L, addr);
    const pmd = Atomics.load(cpu.mem, pmdp);
    if (pmd_trans_huge(pmd)) {
      // zap_pmd_range(): a whole huge PMD goes at once; a part of one would be split first
      if (next - addr !== PMD_SIZE) throw new Error("munmap of part of a huge PMD is not modelled");
      zap_huge_pmd(cpu, tlb, pmdp, addr);
    } else if (!pmd_none(pmd)) cpu.kernel.zap_pte_range(cpu, tlb, pmdp, addr, next);
    addr = next;
  }
}

/* ---------------------------------------------------------------- faults */

/**
 * ptep_set_access_flags() for x86 (arch/x86/mm/pgtable.c, v4.9). "On x86, the accessed and dirty
 * bits are tracked by hardware. However, do_wp_page calls this function to also make the pte
 * writeable at the same time the dirty bit is set. In that case we do actually need to write the
 * PTE." So it writes the PTE only if the entry changed *and* `dirty` (a write fault), flushes
 * nothing, and returns whether the entry changed (the generic version would flush).
 */
export function ptep_set_access_flags(
  cpu: Cpu,
  ptep: number,
  entry: number,
  dirty: boolean,
): boolean {
  const changed = Atomics.load(cpu.mem, ptep) !== entry; // !pte_same(*ptep, entry)
  if (changed && dirty) Atomics.store(cpu.mem, ptep, entry); // *ptep = entry; pte_update()
  return changed;
}

/**
 * flush_tlb_fix_spurious_fault(vma, address): a no-op on x86 (arch/x86/include/asm/pgtable.h,
 * v4.9; the generic one in include/asm-generic/pgtable.h is flush_tlb_page()). The #PF already
 * dropped this CPU's entry for the address (lib/mmu/access.ts), and no other CPU is flushed.
 */
export function flush_tlb_fix_spurious_fault(_cpu: Cpu, _addr: number): void {
  // nothing to do on x86
}

/** do_page_mkwrite() with filemap_page_mkwrite(): returns with the page locked and dirty. */
function do_page_mkwrite(cpu: Cpu, page: number): number {
  lock_page(cpu, page);
  if (page_mapping(cpu, page) === 0) {
    unlock_page(cpu, page); // truncated meanwhile: retry the fault
    return VM_FAULT_NOPAGE;
  }
  set_page_dirty(cpu, page);
  return VM_FAULT_LOCKED;
}

/** alloc_set_pte(): map `page` at addr under the PTL if the PTE is still empty. */
function alloc_set_pte(cpu: Cpu, vma: number, addr: number, page: number, write: boolean): number {
  const mem = cpu.mem;
  const pmdp = pmd_offset(cpu.L, addr);
  if (pmd_none(Atomics.load(mem, pmdp))) __pte_alloc(cpu, pmdp);
  const pmd = Atomics.load(mem, pmdp);
  const ptl = pte_lockptr(cpu.L, pmd);
  const ptep = pte_offset_map(cpu.L, pmd, addr);
  spin_lock(cpu, ptl);
  if (!pte_none(Atomics.load(mem, ptep))) {
    spin_unlock(cpu, ptl);
    return VM_FAULT_NOPAGE; // someone else mapped it first
  }
  let entry = mk_pte(page, vma_field(cpu, vma, VMA_PAGE_PROT));
  if (write) entry = pte_mkwrite(pte_mkdirty(entry)); // maybe_mkwrite(pte_mkdirty(entry))
  page_add_file_rmap(cpu, page);
  Atomics.store(mem, ptep, entry); // set_pte_at()
  spin_unlock(cpu, ptl);
  return 0;
}

/** do_read_fault(): map the page read-only (write-notify), first write goes to do_wp_page. */
function do_read_fault(cpu: Cpu, vma: number, addr: number): number {
  const page = filemap_fault(cpu, linear_page_index(cpu, vma, addr));
  if (page < 0) return -page;
  const ret = alloc_set_pte(cpu, vma, addr, page, false);
  unlock_page(cpu, page);
  if (ret !== 0) put_page(cpu, page); // else the PTE keeps the fault's reference
  return ret;
}

/** do_shared_fault(): a write fault on an empty PTE of a shared file mapping. */
function do_shared_fault(cpu: Cpu, vma: number, addr: number): number {
  const page = filemap_fault(cpu, linear_page_index(cpu, vma, addr));
  if (page < 0) return -page;
  // ->page_mkwrite exists: the backing fs wants to know the page becomes writable.
  unlock_page(cpu, page);
  const tmp = do_page_mkwrite(cpu, page);
  if ((tmp & (VM_FAULT_ERROR | VM_FAULT_NOPAGE)) !== 0) {
    put_page(cpu, page);
    return tmp;
  }
  const ret = alloc_set_pte(cpu, vma, addr, page, true);
  if (ret !== 0) {
    unlock_page(cpu, page);
    put_page(cpu, page);
    return ret;
  }
  set_page_dirty(cpu, page);
  unlock_page(cpu, page);
  return ret;
}

/**
 * do_wp_page() -> wp_page_shared() -> wp_page_reuse(): a write to a write-protected PTE of a
 * shared file mapping. Called with the PTL held; drops it for ->page_mkwrite, re-takes it and
 * re-checks the PTE, then makes it writable and dirty. This is how a *recorded* write
 * re-dirties a page that writeback cleaned.
 */
function do_wp_page(cpu: Cpu, ptep: number, ptl: number, orig_pte: number): number {
  const mem = cpu.mem;
  const page = pte_pfn(orig_pte); // vm_normal_page()
  get_page(cpu, page);
  spin_unlock(cpu, ptl);
  const tmp = do_page_mkwrite(cpu, page);
  if ((tmp & (VM_FAULT_ERROR | VM_FAULT_NOPAGE)) !== 0) {
    put_page(cpu, page);
    return tmp;
  }
  spin_lock(cpu, ptl);
  if (Atomics.load(mem, ptep) !== orig_pte) {
    // Someone changed the PTE meanwhile; the MMU will tell us if it still needs a fault.
    unlock_page(cpu, page);
    spin_unlock(cpu, ptl);
    put_page(cpu, page);
    return 0;
  }
  // wp_page_reuse():
  const entry = pte_mkwrite(pte_mkdirty(pte_mkyoung(orig_pte)));
  ptep_set_access_flags(cpu, ptep, entry, true);
  spin_unlock(cpu, ptl);
  set_page_dirty(cpu, page);
  unlock_page(cpu, page);
  put_page(cpu, page);
  return VM_FAULT_WRITE;
}

/* ---------------------------------------------------------------- anonymous memory */

/**
 * do_anonymous_page(): a read maps the zero page read-only; a write maps a fresh zeroed page,
 * writable and dirty.
 */
function do_anonymous_page(cpu: Cpu, vma: number, addr: number, write: boolean): number {
  const mem = cpu.mem;
  const pmdp = pmd_offset(cpu.L, addr);
  if (pmd_none(Atomics.load(mem, pmdp))) __pte_alloc(cpu, pmdp);
  const pmd = Atomics.load(mem, pmdp);
  const ptl = pte_lockptr(cpu.L, pmd);
  const ptep = pte_offset_map(cpu.L, pmd, addr);
  const prot = vma_field(cpu, vma, VMA_PAGE_PROT);
  const page = write ? alloc_anon_page(cpu) : ZERO_PFN;
  spin_lock(cpu, ptl);
  if (!pte_none(Atomics.load(mem, ptep))) {
    spin_unlock(cpu, ptl);
    if (write) put_page(cpu, page);
    return 0;
  }
  let entry = mk_pte(page, prot); // the zero page: pte_mkspecial(), read-only
  if (write) {
    page_add_new_anon_rmap(cpu, page, linear_page_index(cpu, vma, addr));
    entry = pte_mkwrite(pte_mkdirty(entry));
  }
  Atomics.store(mem, ptep, entry); // set_pte_at()
  spin_unlock(cpu, ptl);
  return 0;
}

/**
 * do_swap_page(): the PTE holds a swap entry. Find the page in the swap cache or read it in,
 * map it (writable and dirty at once for a write if nobody else holds the slot), and drop the
 * PTE's reference on the slot.
 */
function do_swap_page(
  cpu: Cpu,
  vma: number,
  addr: number,
  ptep: number,
  ptl: number,
  orig_pte: number,
  write: boolean,
): number {
  const mem = cpu.mem;
  if (is_migration_entry(orig_pte)) {
    // non_swap_entry(): wait for the migration to finish, then the fault is retried.
    migration_entry_wait(cpu, addr);
    return 0;
  }
  const slot = pte_to_swp_slot(orig_pte);
  let page = lookup_swap_cache(cpu, slot);
  if (page === 0) page = swapin_readahead(cpu, slot);
  if (page === 0) return 0; // raced with another swap-in: retry
  lock_page(cpu, page);
  spin_lock(cpu, ptl);
  if (Atomics.load(mem, ptep) !== orig_pte) {
    spin_unlock(cpu, ptl);
    unlock_page(cpu, page);
    put_page(cpu, page);
    return 0;
  }
  let pte = mk_pte(page, vma_field(cpu, vma, VMA_PAGE_PROT));
  // reuse_swap_page(): no other mapping, no other PTE holding the slot.
  const reuse = write && !page_mapped(cpu, page) && swap_count(cpu, slot) <= 2;
  if (reuse) pte = pte_mkwrite(pte_mkdirty(pte));
  page_add_anon_rmap(cpu, page, linear_page_index(cpu, vma, addr));
  Atomics.store(mem, ptep, pte); // set_pte_at(); our page reference is now the PTE's
  swap_free(cpu, slot);
  if (reuse) try_to_free_swap(cpu, page);
  spin_unlock(cpu, ptl);
  unlock_page(cpu, page);
  return 0;
}

/**
 * wp_page_copy(): a write to the zero page or to a shared anonymous page gets a private copy.
 * The old translation is cleared and flushed before the new one is set (ptep_clear_flush).
 */
function wp_page_copy(
  cpu: Cpu,
  vma: number,
  addr: number,
  ptep: number,
  ptl: number,
  orig_pte: number,
): number {
  const mem = cpu.mem;
  spin_unlock(cpu, ptl);
  const old = pte_pfn(orig_pte);
  const page = alloc_anon_page(cpu);
  for (let i = 0; i < FRAME_WORDS; i++) {
    Atomics.store(mem, cpu.L.frame(page) + i, Atomics.load(mem, cpu.L.frame(old) + i));
  }
  spin_lock(cpu, ptl);
  if (Atomics.load(mem, ptep) !== orig_pte) {
    spin_unlock(cpu, ptl);
    put_page(cpu, page);
    return 0;
  }
  ptep_clear_flush(cpu, addr, ptep);
  page_add_new_anon_rmap(cpu, page, linear_page_index(cpu, vma, addr));
  Atomics.store(
    mem,
    ptep,
    pte_mkwrite(pte_mkdirty(mk_pte(page, vma_field(cpu, vma, VMA_PAGE_PROT)))),
  );
  if (old !== ZERO_PFN) page_remove_rmap(cpu, old);
  spin_unlock(cpu, ptl);
  if (old !== ZERO_PFN) put_page(cpu, old);
  return VM_FAULT_WRITE;
}

/** do_wp_page() for a private anonymous mapping: reuse an exclusive page, else copy. */
function do_wp_page_anon(
  cpu: Cpu,
  vma: number,
  addr: number,
  ptep: number,
  ptl: number,
  orig_pte: number,
): number {
  const mem = cpu.mem;
  const page = pte_pfn(orig_pte);
  if (page !== ZERO_PFN && trylock_page(cpu, page)) {
    // reuse_swap_page(): only we map it and no other PTE holds its swap slot.
    const slot = PageSwapCache(cpu, page) ? page_swap_slot(cpu, page) : -1;
    const reuse =
      Atomics.load(mem, cpu.L.page(page) + PAGE_MAPCOUNT) === 1 &&
      (slot < 0 || swap_count(cpu, slot) <= 1);
    if (reuse) {
      // wp_page_reuse()
      ptep_set_access_flags(cpu, ptep, pte_mkwrite(pte_mkdirty(pte_mkyoung(orig_pte))), true);
      spin_unlock(cpu, ptl);
      try_to_free_swap(cpu, page);
      unlock_page(cpu, page);
      return VM_FAULT_WRITE;
    }
    unlock_page(cpu, page);
  }
  return wp_page_copy(cpu, vma, addr, ptep, ptl, orig_pte);
}

/**
 * handle_mm_fault() -> handle_pte_fault() (mm/memory.c, v4.9). Caller holds mmap_sem for read.
 * On a present PTE: under the PTL, a write to a read-only PTE goes to do_wp_page(); otherwise
 * the PTE gets young (and dirty for a write) through x86's ptep_set_access_flags(), which writes
 * it only for a write fault, and an unchanged PTE after a write fault is a spurious fault, whose
 * flush is a no-op on x86.
 */
export function handle_mm_fault(cpu: Cpu, vma: number, addr: number, flags: number): number {
  const mem = cpu.mem;
  const write = (flags & FAULT_FLAG_WRITE) !== 0;
  const anon = vma_is_anonymous(cpu, vma);
  const pmdp = pmd_offset(cpu.L, addr);
  const pmd = Atomics.load(mem, pmdp);
  if ((pmd & _PAGE_PSE) !== 0) {
    // A huge PMD: being split (not present) or write-protected. Wait for the PMD lock and
    // let the access retry; a write to a read-only huge PMD (do_huge_pmd_wp_page) is not modelled.
    if ((pmd & _PAGE_PRESENT) !== 0 && write)
      throw new Error("do_huge_pmd_wp_page() is not modelled");
    spin_lock(cpu, pmd_lockptr(cpu));
    spin_unlock(cpu, pmd_lockptr(cpu));
    return 0;
  }
  if (
    pmd_none(pmd) &&
    anon &&
    write &&
    (vma_field(cpu, vma, VMA_FLAGS) & VM_HUGEPAGE) !== 0 &&
    transhuge_vma_suitable(cpu, vma, addr)
  ) {
    return do_huge_pmd_anonymous_page(cpu, vma, addr);
  }
  // pte_offset_map() and pte_lockptr() of the table the PMD pointed at when read.
  const ptep = pmd_none(pmd) ? -1 : pte_offset_map(cpu.L, pmd, addr);
  const ptl = pmd_none(pmd) ? -1 : pte_lockptr(cpu.L, pmd);
  const orig_pte = pmd_none(pmd) ? 0 : Atomics.load(mem, ptep);
  if (pte_none(orig_pte)) {
    if (anon) return do_anonymous_page(cpu, vma, addr, write);
    // do_fault(): the mapping is shared, so writes go to do_shared_fault()
    return write ? do_shared_fault(cpu, vma, addr) : do_read_fault(cpu, vma, addr);
  }
  if (!pte_present(orig_pte)) return do_swap_page(cpu, vma, addr, ptep, ptl, orig_pte, write);
  spin_lock(cpu, ptl);
  if (Atomics.load(mem, ptep) !== orig_pte) {
    spin_unlock(cpu, ptl);
    return 0; // pte_same() failed: retry the access
  }
  let entry = orig_pte;
  if (write) {
    if (!pte_write(entry)) {
      return anon
        ? do_wp_page_anon(cpu, vma, addr, ptep, ptl, orig_pte)
        : do_wp_page(cpu, ptep, ptl, orig_pte);
    }
    entry = pte_mkdirty(entry);
  }
  entry = pte_mkyoung(entry);
  if (!ptep_set_access_flags(cpu, ptep, entry, write)) {
    // This is needed only for protection faults but the arch code is not yet telling us if this
    // is a protection fault or not. This still avoids useless tlb flushes for .text page faults
    // with threads.
    if (write) flush_tlb_fix_spurious_fault(cpu, addr);
  }
  spin_unlock(cpu, ptl);
  return 0;
}
