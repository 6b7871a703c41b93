/** A kernel variant: a named point in history, and the functions that differ there. */
import type { Cpu } from "../machine/cpu.js";
import type { MmuGather } from "../mm/tlb_gather.js";

export interface Kernel {
  /** The name users pass to --kernel. */
  readonly name: string;
  /** The commit (or tag) the variant models. */
  readonly commit: string;
  /** Subject line of that commit, or what the tag is. */
  readonly title: string;
  /** What this variant changes compared with the one before it. */
  readonly summary: string;
  /**
   * 72b252aed506 ("mm: send one IPI per CPU to TLB flush all entries after unmapping pages",
   * Mel Gorman, v4.3): reclaim passes TTU_BATCH_FLUSH and, on an arch that selects
   * ARCH_WANT_BATCHED_UNMAP_TLB_FLUSH (x86; not arm64 before v6.x), try_to_unmap_one() may
   * defer its flush (lib/mm/tlbbatch.ts). False for the variants before v4.3.
   */
  readonly batchedUnmapFlush: boolean;
  /**
   * 3ea277194daa ("mm, mprotect: flush TLB if potentially racing with a parallel reclaim
   * leaving stale TLB entries", Mel Gorman, v4.13): zap_pte_range(), change_pte_range(),
   * move_ptes() and madvise_free_pte_range() call flush_tlb_batched_pending() under the PTL.
   */
  readonly flushBatchedPending: boolean;
  /** mm/mremap.c: move_page_tables() of this version. Returns the length moved. */
  move_page_tables(
    cpu: Cpu,
    vma: number,
    old_addr: number,
    new_vma: number,
    new_addr: number,
    len: number,
    need_rmap_locks: boolean,
  ): number;
  /** mm/memory.c: zap_pte_range() of this version, for [addr, end) in one PTE table. */
  zap_pte_range(cpu: Cpu, tlb: MmuGather, pmdp: number, addr: number, end: number): number;
}

/** The move_ptes() of a version that reports *need_flush (5d1904204c99 and its follow-up). */
export type MovePtes = (
  cpu: Cpu,
  vma: number,
  old_pmd: number,
  old_addr: number,
  old_end: number,
  new_vma: number,
  new_pmd: number,
  new_addr: number,
  need_rmap_locks: boolean,
) => boolean;

/** What a need_flush-era move_huge_pmd() reports (5d1904204c99 and its follow-up). */
export const HUGE_NOT_MOVED = 0;
export const HUGE_MOVED_FLUSHED = 1;
export const HUGE_MOVED_NEED_FLUSH = 2;
export type MoveHugePmd = (
  cpu: Cpu,
  old_addr: number,
  new_addr: number,
  old_end: number,
  old_pmd: number,
  new_pmd: number,
) => number;
