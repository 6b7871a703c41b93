/**
 * madvise(MADV_FREE) on private anonymous memory (mm/madvise.c, v4.5+, reduced): the PTEs of
 * exclusively mapped pages are made old and *clean but stay writable*, and the pages clean. A
 * later write sets D again through the hardware walker, with no fault: so afterwards a CPU can
 * hold a writable, clean TLB entry, the precondition of the dirty-bit window in move_ptes().
 */
import type { Cpu } from "../machine/cpu.js";
import { PAGE_MAPCOUNT, PAGE_SIZE, ZERO_PFN } from "../machine/layout.js";
import {
  _PAGE_ACCESSED,
  _PAGE_DIRTY,
  pmd_none,
  pmd_offset,
  pte_lockptr,
  pte_offset_map,
  pte_pfn,
  pte_present,
} from "../mmu/pgtable.js";
import { down_read, up_read } from "../sync/rwsem.js";
import { spin_lock, spin_unlock } from "../sync/spinlock.js";
import {
  ClearPageFlag,
  PageAnon,
  PageSwapCache,
  PG_dirty,
  trylock_page,
  unlock_page,
} from "./page_flags.js";
import { try_to_free_swap } from "./swap.js";
import { tlb_finish_mmu, tlb_gather_mmu, tlb_remove_tlb_entry } from "./tlb_gather.js";

export function madvise_free(cpu: Cpu, start: number, len: number): number {
  const mem = cpu.mem;
  const L = cpu.L;
  const end = start + len;
  down_read(cpu, L.mmapSem);
  const tlb = cpu.tlb;
  tlb_gather_mmu(tlb, start, end);
  for (let addr = start; addr < end;) {
    const next = Math.min(((addr >>> 21) + 1) << 21, end);
    const pmd = Atomics.load(mem, pmd_offset(L, addr));
    if (pmd_none(pmd)) {
      addr = next;
      continue;
    }
    const ptl = pte_lockptr(L, pmd);
    spin_lock(cpu, ptl); // madvise_free_pte_range()
    for (; addr < next; addr += PAGE_SIZE) {
      const ptep = pte_offset_map(L, pmd, addr);
      const ptent = Atomics.load(mem, ptep);
      if (!pte_present(ptent)) continue;
      const page = pte_pfn(ptent);
      if (page === ZERO_PFN || !PageAnon(cpu, page)) continue;
      if (Atomics.load(mem, L.page(page) + PAGE_MAPCOUNT) !== 1) continue; // shared: leave it
      if (!trylock_page(cpu, page)) continue;
      // A page in the swap cache whose slot is still referenced keeps its swap copy: skip it.
      if (PageSwapCache(cpu, page) && !try_to_free_swap(cpu, page)) {
        unlock_page(cpu, page);
        continue;
      }
      ClearPageFlag(cpu, page, PG_dirty);
      unlock_page(cpu, page);
      if ((ptent & (_PAGE_ACCESSED | _PAGE_DIRTY)) !== 0) {
        const old = Atomics.exchange(mem, ptep, 0); // ptep_get_and_clear_full()
        Atomics.store(mem, ptep, old & ~(_PAGE_ACCESSED | _PAGE_DIRTY)); // pte_mkold(pte_mkclean())
        tlb_remove_tlb_entry(tlb, addr);
      }
    }
    spin_unlock(cpu, ptl);
  }
  tlb_finish_mmu(cpu, tlb);
  up_read(cpu, L.mmapSem);
  return 0;
}
