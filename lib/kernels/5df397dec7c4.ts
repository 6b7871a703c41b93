/**
 * 5df397dec7c4 ("mm: delay page_remove_rmap() until after the TLB has been flushed", Linus
 * Torvalds, Nov 2022): zap_pte_range() keeps a dirty file page visible to rmap until the TLB
 * flush is done. Before it, page_remove_rmap() ran before the forced flush, and page_mkclean()
 * returns at once for an unmapped page without taking the PTL, so writeback could clean the
 * page while another CPU still wrote through a stale, dirty TLB entry: the narrow window that
 * 1cf35d47712d left open. mremap is as in 97113eb39fa7.
 *
 * Read from mm/memory.c and mm/mremap.c at v6.2.1 (daniellucs2002/linux-6.2.1-customized,
 * Makefile 6.2.1; 5df397dec7c4 is in v6.2): zap_pte_range() has delay_rmap and
 * tlb_flush_rmaps(); move_ptes() is eb66ae030829's (flush_tlb_batched_pending() under both PTLs,
 * flush before either PTL is dropped), with no LATENCY_LIMIT; move_page_tables() moves a
 * PMD-aligned, PMD-sized extent with move_pgt_entry(NORMAL_PMD, ..., true): move_normal_pmd()
 * under the rmap locks, as 97113eb39fa7 left it (lib/kernels/97113eb39fa7.ts).
 */
import type { Cpu } from "../machine/cpu.js";
import { PAGE_SIZE } from "../machine/layout.js";
import {
  P_ZAP_PTE_RANGE_BEFORE_FLUSH,
  P_ZAP_PTE_RANGE_DIRTY_CLEARED,
  P_ZAP_PTE_RANGE_UNLOCKED,
} from "../machine/points.js";
import {
  pte_dirty,
  pte_lockptr,
  pte_offset_map,
  pte_pfn,
  pte_none,
  ptep_get,
  ptep_get_and_clear,
} from "../mmu/pgtable.js";
import { zap_pte_special } from "../mm/memory.js";
import { PageAnon } from "../mm/page_flags.js";
import { set_page_dirty } from "../mm/page-writeback.js";
import { page_remove_rmap } from "../mm/rmap.js";
import {
  __tlb_remove_page,
  type MmuGather,
  tlb_flush_mmu_free,
  tlb_flush_mmu_tlbonly,
  tlb_flush_rmaps,
  tlb_remove_tlb_entry,
} from "../mm/tlb_gather.js";
import { spin_lock, spin_unlock } from "../sync/spinlock.js";
import { move_page_tables } from "./97113eb39fa7.js";
import type { Kernel } from "./kernel.js";
import { flush_tlb_batched_pending } from "../mm/tlbbatch.js";

/** zap_pte_range() as of 5df397dec7c4, for a file mapping. */
export function zap_pte_range(
  cpu: Cpu,
  tlb: MmuGather,
  pmdp: number,
  addr: number,
  end: number,
): number {
  const mem = cpu.mem;
  const pmd = Atomics.load(cpu.mem, pmdp);
  const ptl = pte_lockptr(cpu.L, pmd);
  let force_flush = false;
  for (;;) {
    // again:
    spin_lock(cpu, ptl);
    flush_tlb_batched_pending(cpu); // 3ea277194daa
    let ptep = pte_offset_map(cpu.L, pmd, addr); // pte_offset_map_lock(), then pte++
    for (; addr !== end; ptep++, addr += PAGE_SIZE) {
      let ptent = ptep_get(mem, ptep);
      if (pte_none(ptent)) continue;
      if (zap_pte_special(cpu, tlb, ptep, addr, ptent)) continue;
      const page = pte_pfn(ptent);
      ptent = ptep_get_and_clear(mem, ptep); // ptep_get_and_clear_full()
      tlb_remove_tlb_entry(tlb, addr);
      let delay_rmap = false;
      if (!PageAnon(cpu, page) && pte_dirty(ptent)) {
        set_page_dirty(cpu, page);
        delay_rmap = true; // tlb_delay_rmap(tlb)
        force_flush = true;
        cpu.point(P_ZAP_PTE_RANGE_DIRTY_CLEARED);
      }
      if (!delay_rmap) page_remove_rmap(cpu, page);
      if (__tlb_remove_page(tlb, page, delay_rmap)) {
        force_flush = true;
        addr += PAGE_SIZE;
        break;
      }
    }
    cpu.point(P_ZAP_PTE_RANGE_BEFORE_FLUSH); // a dirty page is still mapped for rmap here
    // Do the actual TLB flush before dropping ptl
    if (force_flush) {
      tlb_flush_mmu_tlbonly(cpu, tlb);
      tlb_flush_rmaps(cpu, tlb);
    }
    spin_unlock(cpu, ptl);
    cpu.point(P_ZAP_PTE_RANGE_UNLOCKED);
    if (!force_flush) break;
    force_flush = false;
    tlb_flush_mmu_free(cpu, tlb);
    if (addr === end) break;
  }
  return addr;
}

export const k5df397dec7c4: Kernel = {
  name: "5df397dec7c4",
  commit: "5df397dec7c4c08c23bd14f162f1228836faa4ce",
  title: "mm: delay page_remove_rmap() until after the TLB has been flushed",
  summary:
    "zap_pte_range() removes a dirty file page's rmap only after the TLB flush; mremap as 97113eb39fa7",
  batchedUnmapFlush: true,
  flushBatchedPending: true,
  move_page_tables,
  zap_pte_range,
};
