/**
 * Linux v3.14, before 1cf35d47712d: zap_pte_range() moves a dirty PTE's dirty bit to the page
 * and drops the PTL; the TLB flush comes later (tlb_finish_mmu(), or when the gather batch is
 * full). Meanwhile page_mkclean() finds no PTE, writeback cleans the page, and a write through
 * another CPU's stale entry lands in a page the kernel believes clean. mremap is as in
 * v4.9-rc4 (one range flush at the end of move_page_tables()).
 *
 * zap_pte_range() read from mm/memory.c at v3.14.1 (nadavitay/linux-3.14.1, Makefile 3.14.1):
 * pte_unmap_unlock() first, then `if (force_flush) tlb_flush_mmu(tlb)`.
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
  tlb_flush_mmu,
  tlb_flush_whole_gather_range,
  tlb_remove_tlb_entry,
} from "../mm/tlb_gather.js";
import { spin_lock, spin_unlock } from "../sync/spinlock.js";
import type { Kernel } from "./kernel.js";
import { move_page_tables } from "./v4.9-rc4.js";

/**
 * zap_pte_range() as of v3.14 (mm/memory.c, v3.14). When __tlb_remove_page() reports the gather
 * full (MAX_GATHER_PAGES), it flushes [tlb->start, addr) and frees after the PTL is dropped, then
 * goes on from addr with the rest of the range.
 */
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
  for (;;) {
    // again:
    let force_flush = false;
    spin_lock(cpu, ptl);
    let ptep = pte_offset_map(cpu.L, pmd, addr); // pte_offset_map_lock(), then pte++
    for (; addr !== end; ptep++, addr += PAGE_SIZE) {
      let ptent = ptep_get(mem, ptep);
      if (pte_none(ptent)) continue;
      if (zap_pte_special(cpu, tlb, ptep, addr, ptent)) continue;
      const page = pte_pfn(ptent);
      ptent = ptep_get_and_clear(mem, ptep); // ptep_get_and_clear_full()
      tlb_remove_tlb_entry(tlb, addr);
      if (!PageAnon(cpu, page) && pte_dirty(ptent)) {
        set_page_dirty(cpu, page);
        cpu.point(P_ZAP_PTE_RANGE_DIRTY_CLEARED);
      }
      page_remove_rmap(cpu, page);
      force_flush = __tlb_remove_page(tlb, page);
      // v3.14 breaks out without addr += PAGE_SIZE (added by "zap_pte_range: update addr when
      // forcing flush after TLB batching faiure", 2014): the flush below stops short of this
      // page, which is freed with the batch.
      if (force_flush) break;
    }
    cpu.point(P_ZAP_PTE_RANGE_BEFORE_FLUSH);
    spin_unlock(cpu, ptl); // the PTE is gone, the dirty bit is in the page, the TLB is not flushed
    cpu.point(P_ZAP_PTE_RANGE_UNLOCKED);
    // mmu_gather ran out of room to batch pages, we break out of the PTE lock to avoid doing the
    // potential expensive TLB invalidate and page-free while holding it.
    if (!force_flush) break;
    // Flush the TLB just for the previous segment, then update the range to be the remaining
    // TLB range (x86's tlb_flush() flushes the gather's [start, end), tlb_gather.ts).
    const old_end = tlb.rangeEnd;
    tlb.rangeEnd = addr;
    tlb_flush_mmu(cpu, tlb);
    tlb.rangeStart = addr;
    tlb.rangeEnd = old_end;
    if (addr === end) break;
  }
  return addr;
}

export const v3_14: Kernel = {
  name: "v3.14",
  commit: "v3.14",
  title: "Linux 3.14, before 1cf35d47712d",
  summary:
    "zap_pte_range() drops the PTL before the TLB flush (race with page_mkclean open); mremap as v4.9-rc4",
  batchedUnmapFlush: false,
  flushBatchedPending: false,
  move_page_tables,
  zap_pte_range,
};

// x86's tlb_flush() in v3.14 (arch/x86/include/asm/tlb.h): flush_tlb_mm_range(tlb->mm,
// tlb->start, tlb->end, 0UL), the range tlb_gather_mmu() was given, whatever was mapped in it.
tlb_flush_whole_gather_range(v3_14);
