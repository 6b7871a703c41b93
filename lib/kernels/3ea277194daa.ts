/**
 * 3ea277194daa ("mm, mprotect: flush TLB if potentially racing with a parallel reclaim leaving
 * stale TLB entries", Mel Gorman, v4.13; reported by Nadav Amit). Since v4.3 x86 reclaim clears
 * a PTE and defers its flush (lib/mm/tlbbatch.ts). munmap, mprotect, mremap or MADV_FREE that
 * finds that PTE already clear has nothing to flush for it and returns while another CPU still
 * holds a live entry: a write after munmap() (or after mprotect(PROT_READ)) succeeds. The fix:
 * set_tlb_ubc_flush_pending() sets mm->tlb_flush_batched, and zap_pte_range(),
 * change_pte_range(), move_ptes() and madvise_free_pte_range() call flush_tlb_batched_pending()
 * under the PTL, which flushes the whole mm if a batched flush may be pending. mremap is v4.9's
 * with that call in move_ptes() once both PTLs are held (mm/mremap.c at v4.13.9); v4.9.ts's
 * move_ptes() has the call, gated by flushBatchedPending. LATENCY_LIMIT is still 64 pages.
 */
import { zap_pte_range } from "../mm/memory.js";
import { make_move_page_tables } from "./5d1904204c99.js";
import type { Kernel } from "./kernel.js";
import { move_huge_pmd, move_ptes } from "./v4.9.js";

export const k3ea277194daa: Kernel = {
  name: "3ea277194daa",
  commit: "3ea277194daa",
  title:
    "mm, mprotect: flush TLB if potentially racing with a parallel reclaim leaving stale TLB entries",
  summary:
    "zap_pte_range() (and move_ptes, change_pte_range, madvise_free_pte_range) calls flush_tlb_batched_pending() under the PTL: a PTE reclaim cleared without flushing is flushed before the caller relies on it; mremap as v4.9 plus that call in move_ptes()",
  batchedUnmapFlush: true,
  flushBatchedPending: true,
  move_page_tables: make_move_page_tables(move_ptes, move_huge_pmd),
  zap_pte_range,
};
