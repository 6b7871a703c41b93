/**
 * 1cf35d47712d ("mm: split 'tlb_flush_mmu()' into tlb flushing and memory freeing parts",
 * Linus Torvalds, v3.15): zap_pte_range() forces the TLB flush for dirty PTEs before dropping
 * the PTL, and frees the pages only after unlocking (lib/mm/memory.ts has that version). mremap
 * is as in v4.9-rc4: this variant closes the zap race and leaves the mremap one open.
 */
import { zap_pte_range } from "../mm/memory.js";
import type { Kernel } from "./kernel.js";
import { move_page_tables } from "./v4.9-rc4.js";

export const k1cf35d47712d: Kernel = {
  name: "1cf35d47712d",
  commit: "1cf35d47712d",
  title: "mm: split 'tlb_flush_mmu()' into tlb flushing and memory freeing parts",
  summary:
    "zap_pte_range() flushes dirty PTEs' TLB entries before dropping the PTL; mremap as v4.9-rc4",
  batchedUnmapFlush: false,
  flushBatchedPending: false,
  move_page_tables,
  zap_pte_range,
};
