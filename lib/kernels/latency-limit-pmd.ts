/**
 * A proposal, not history: "mremap: Increase LATENCY_LIMIT of mremap to reduce the number of TLB
 * shootdowns" (Mel Gorman, linux-mm, 6 June 2018), on top of 5d1904204c99:
 *
 *   -#define LATENCY_LIMIT	(64 * PAGE_SIZE)
 *   +#define LATENCY_LIMIT	(PMD_SIZE)
 *
 * With the seed fix, a dirty extent is flushed before its old PTL is dropped, once per
 * move_ptes() call; moving a whole PMD per call flushes 8 times less. It is not in KERNELS (the
 * history the scenarios' verdicts follow); `tlbrace bench mremap` measures it.
 */
import { PMD_SIZE } from "../machine/layout.js";
import { zap_pte_range } from "../mm/memory.js";
import { k5d1904204c99, make_move_page_tables, move_huge_pmd, move_ptes } from "./5d1904204c99.js";
import type { Kernel } from "./kernel.js";

export const latencyLimitPmd: Kernel = {
  name: "latency-limit-pmd",
  commit: "proposal: mremap LATENCY_LIMIT = PMD_SIZE (Mel Gorman, June 2018)",
  title: "mremap: Increase LATENCY_LIMIT of mremap to reduce the number of TLB shootdowns",
  summary: `${k5d1904204c99.name} with move_ptes() called per PMD instead of per 64 pages`,
  batchedUnmapFlush: true,
  flushBatchedPending: false,
  move_page_tables: make_move_page_tables(move_ptes, move_huge_pmd, PMD_SIZE),
  zap_pte_range,
};
