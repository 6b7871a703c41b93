/**
 * "mremap: Remove LATENCY_LIMIT from mremap to reduce the number of TLB shootdowns" (Mel Gorman,
 * linux-mm, 6 June 2018, <20180606183803.k7qaw2xnbvzshv34@techsingularity.net>; acked by
 * Vlastimil Babka and Michal Hocko; in mmotm 2018-06-14-16-20 as
 * mremap-remove-latency_limit-from-mremap-to-reduce-the-number-of-tlb-shootdowns.patch). No
 * commit hash is known here; mm/mremap.c at v4.19.1 (chens37/linux-4.19.1) has no LATENCY_LIMIT.
 *
 * The patch, against 4.17, only deletes `#define LATENCY_LIMIT (64 * PAGE_SIZE)` and the two
 * lines that clamped each move_ptes() extent to it. An extent now runs to the end of the old
 * address's PMD and of the new address's PMD: with the seed fix's flush before the old PTL is
 * dropped, a dirty region costs one shootdown per PMD (512 pages) instead of one per 64 pages,
 * "a factor of 8 in the ideal case". The thread: a customer's mremap-heavy microbenchmark lost
 * 30-50% with 5d1904204c99; this won much of it back.
 *
 * move_ptes() is v4.13's: v4.9's (clear, then test D; flush after the new PTL is dropped, under
 * the old one) plus 3ea277194daa's flush_tlb_batched_pending() once both PTLs are held, which
 * lib/kernels/v4.9.ts has, gated by the kernel's flushBatchedPending. Read
 * from mm/mremap.c at v4.13.9 (kinmax/linux-4.13.19, Makefile 4.13.9), which has that call and
 * still has LATENCY_LIMIT; move_huge_pmd() is v4.9's (mm/huge_memory.c at v4.9 and v4.13.9).
 */
import { zap_pte_range } from "../mm/memory.js";
import { make_move_page_tables } from "./5d1904204c99.js";
import type { Kernel } from "./kernel.js";
import { move_huge_pmd, move_ptes } from "./v4.9.js";

export const removeLatencyLimit: Kernel = {
  name: "remove-latency-limit",
  commit:
    "mmotm 2018-06-14: mremap: Remove LATENCY_LIMIT from mremap to reduce the number of TLB shootdowns",
  title:
    "mremap: Remove LATENCY_LIMIT from mremap to reduce the number of TLB shootdowns (Mel Gorman, June 2018)",
  summary:
    "move_page_tables() calls move_ptes() per PMD extent, not per 64 pages: a dirty region flushes once per PMD, 8x fewer shootdowns; move_ptes() as v4.13 (v4.9's plus flush_tlb_batched_pending())",
  batchedUnmapFlush: true,
  flushBatchedPending: true,
  move_page_tables: make_move_page_tables(move_ptes, move_huge_pmd, null),
  zap_pte_range,
};
