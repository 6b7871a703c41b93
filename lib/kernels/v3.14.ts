/**
 * Linux v3.14, before 1cf35d47712d: zap_pte_range() moves a dirty PTE's dirty bit to the page
 * and drops the PTL; the TLB flush comes later (tlb_finish_mmu(), or when the gather batch is
 * full). Meanwhile page_mkclean() finds no PTE, writeback cleans the page, and a write through
 * another CPU's stale entry lands in a page the kernel believes clean. mremap is as in
 * v4.9-rc4 (one range flush at the end of move_page_tables()).
 */
import type { Cpu } from "../machine/cpu.js";
import { PAGE_SIZE } from "../machine/layout.js";
import { P_ZAP_PTE_RANGE_BEFORE_FLUSH, P_ZAP_PTE_RANGE_UNLOCKED } from "../machine/points.js";
import { pte_dirty, pte_lockptr, pte_offset, pte_pfn } from "../mmu/pgtable.js";
import { zap_pte_special } from "../mm/memory.js";
import { PageAnon } from "../mm/page_flags.js";
import { set_page_dirty } from "../mm/page-writeback.js";
import { page_remove_rmap } from "../mm/rmap.js";
import {
  __tlb_remove_page,
  type MmuGather,
  tlb_flush_mmu,
  tlb_remove_tlb_entry,
} from "../mm/tlb_gather.js";
import { spin_lock, spin_unlock } from "../sync/spinlock.js";
import type { Kernel } from "./kernel.js";
import { move_page_tables } from "./v4.9-rc4.js";

/** zap_pte_range() as of v3.14. */
export function zap_pte_range(
  cpu: Cpu,
  tlb: MmuGather,
  pmdp: number,
  addr: number,
  end: number,
): number {
  const mem = cpu.mem;
  const ptl = pte_lockptr(cpu.L, pmdp);
  for (;;) {
    // again:
    let force_flush = false;
    spin_lock(cpu, ptl);
    for (; addr !== end; addr += PAGE_SIZE) {
      const ptep = pte_offset(cpu.L, addr);
      let ptent = Atomics.load(mem, ptep);
      if (zap_pte_special(cpu, tlb, ptep, addr, ptent)) continue;
      const page = pte_pfn(ptent);
      ptent = Atomics.exchange(mem, ptep, 0); // ptep_get_and_clear_full()
      tlb_remove_tlb_entry(tlb, addr);
      if (!PageAnon(cpu, page) && pte_dirty(ptent)) set_page_dirty(cpu, page);
      page_remove_rmap(cpu, page);
      force_flush = __tlb_remove_page(tlb, page);
      if (force_flush) {
        addr += PAGE_SIZE;
        break;
      }
    }
    cpu.point(P_ZAP_PTE_RANGE_BEFORE_FLUSH);
    spin_unlock(cpu, ptl); // the PTE is gone, the dirty bit is in the page, the TLB is not flushed
    cpu.point(P_ZAP_PTE_RANGE_UNLOCKED);
    // mmu_gather ran out of room to batch pages: flush and free outside the PTL, then go on
    // with the rest of the range, if any.
    if (!force_flush) break;
    tlb_flush_mmu(cpu, tlb);
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
