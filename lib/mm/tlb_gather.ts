/**
 * struct mmu_gather (include/asm-generic/tlb.h and mm/memory.c, v4.9; arch/x86/include/asm/tlb.h,
 * v4.9 and v3.14): zap_pte_range() collects the range to flush and the pages to free; the flush
 * must come before the pages are freed. It lives on the zapping CPU's kernel stack, so it is
 * per-CPU state, not shared.
 */
import type { Cpu } from "../machine/cpu.js";
import { P_TLB_FINISH_MMU_FLUSHED } from "../machine/points.js";
import { PAGE_SIZE } from "../machine/layout.js";
import { flush_tlb_mm_range } from "../mmu/shootdown.js";
import type { Kernel } from "../kernels/kernel.js";
import { put_page } from "./page_alloc.js";
import { page_remove_rmap } from "./rmap.js";
import { free_swap_cache } from "./swap.js";

/**
 * The gather's page capacity (include/asm-generic/tlb.h, v4.9; the same in v3.14). The bundled
 * on-stack batch holds MMU_GATHER_BUNDLE pages; when it is full, tlb_next_batch() links a batch
 * of one page, __get_free_pages(GFP_NOWAIT), holding MAX_GATHER_BATCH pointers, up to
 * MAX_GATHER_BATCH_COUNT of them ("10K pages freed at once should be safe even without a
 * preemption point"). After a flush the batches stay allocated and are reused (batch->next), so
 * the capacity stays the same for the whole gather. The model takes every allocation to succeed:
 * the gather is full only when the count is reached.
 */
export const MMU_GATHER_BUNDLE = 8;
/** sizeof(struct mmu_gather_batch) on x86_64: next (8), nr (4), max (4). */
const SIZEOF_MMU_GATHER_BATCH = 16;
/** ((PAGE_SIZE - sizeof(struct mmu_gather_batch)) / sizeof(void *)): 510 on x86_64. */
export const MAX_GATHER_BATCH = (PAGE_SIZE - SIZEOF_MMU_GATHER_BATCH) / 8;
/** (10000UL/MAX_GATHER_BATCH): 19. */
export const MAX_GATHER_BATCH_COUNT = Math.floor(10000 / MAX_GATHER_BATCH);
/** Pages one gather holds before it must flush and free: 8 + 19 * 510 = 9698. */
export const MAX_GATHER_PAGES = MMU_GATHER_BUNDLE + MAX_GATHER_BATCH_COUNT * MAX_GATHER_BATCH;

export class MmuGather {
  /**
   * v3.19+ (fb7332a9fedf, "mmu_gather: move minimal range calculations into generic code"): the
   * range __tlb_adjust_range() grew from what was unmapped; end === 0 means nothing to flush.
   * Before v3.19 the kernel kept only a need_flush bit: here end !== 0 stands for it too.
   */
  start = 0;
  end = 0;
  /** v4.9 tlb->addr: the last address __tlb_adjust_range() was given. */
  addr = 0;
  /**
   * v3.14 to v3.18: tlb->start and tlb->end as tlb_gather_mmu() set them (the unmapped range),
   * which x86's tlb_flush() flushes whole (see tlb_flush_whole_gather_range()).
   */
  rangeStart = 0;
  rangeEnd = 0;
  nr = 0;
  readonly pages = new Int32Array(MAX_GATHER_PAGES);
  /** 5df397dec7c4: pages whose page_remove_rmap() waits for the TLB flush (ENCODED_PAGE_BIT_DELAY_RMAP). */
  readonly delayRmap = new Uint8Array(MAX_GATHER_PAGES);
  delayedRmap = false;
}

/**
 * The kernel variants whose x86 tlb_flush() is `flush_tlb_mm_range(tlb->mm, tlb->start,
 * tlb->end, 0UL)` with tlb->start/end the range tlb_gather_mmu() was given (arch/x86/include/
 * asm/tlb.h and mm/memory.c, v3.14): every flush of the gather covers that whole range, however
 * little of it was mapped. fb7332a9fedf (v3.19) made the generic code track what was unmapped.
 */
const wholeRangeKernels = new WeakSet<Kernel>();

/** Register a kernel variant from before fb7332a9fedf (called by its module, e.g. v3.14). */
export function tlb_flush_whole_gather_range(kernel: Kernel): void {
  wholeRangeKernels.add(kernel);
}

/** tlb_gather_mmu(tlb, mm, start, end). */
export function tlb_gather_mmu(tlb: MmuGather, start: number, end: number): void {
  tlb.rangeStart = start;
  tlb.rangeEnd = end;
  tlb.nr = 0;
  tlb.delayedRmap = false;
  __tlb_reset_range(tlb);
}

function __tlb_reset_range(tlb: MmuGather): void {
  tlb.start = 0x7fffffff; // TASK_SIZE
  tlb.end = 0;
}

/** __tlb_adjust_range() (include/asm-generic/tlb.h, v4.9): the flush must cover [addr, addr + PAGE_SIZE). */
export function __tlb_adjust_range(tlb: MmuGather, addr: number): void {
  if (addr < tlb.start) tlb.start = addr;
  if (addr + PAGE_SIZE > tlb.end) tlb.end = addr + PAGE_SIZE;
  tlb.addr = addr;
}

/** tlb_remove_tlb_entry(): remember that addr must be flushed (v3.14: need_flush = 1). */
export function tlb_remove_tlb_entry(tlb: MmuGather, addr: number): void {
  __tlb_adjust_range(tlb, addr);
}

/**
 * pte_free_tlb(tlb, ptep, address) (include/asm-generic/tlb.h, v4.9): a PTE table is being
 * freed, so the TLB (and the paging-structure caches) must be flushed before it is reused:
 * __tlb_adjust_range(tlb, address), with address the start of the table's 2 MiB, then x86's
 * ___pte_free_tlb() (arch/x86/mm/pgtable.c) queues the table's page with tlb_remove_page(). v3.14
 * sets need_flush instead of adjusting the range. The model's PTE tables are static (one per PMD
 * slot), so no page is queued: only the flush is owed.
 */
export function pte_free_tlb(tlb: MmuGather, addr: number): void {
  __tlb_adjust_range(tlb, addr);
}

/**
 * __tlb_remove_page() as in v3.14 (mm/memory.c) and again from v4.10 on: queue a page to be
 * freed after the flush; true if that filled the gather (tlb_next_batch() failed), and the caller
 * must flush and free before it queues another.
 */
export function __tlb_remove_page(tlb: MmuGather, pfn: number, delay_rmap = false): boolean {
  // A full gather must have been flushed and freed first: anything else is a bug in the caller.
  if (tlb.nr >= MAX_GATHER_PAGES) throw new Error("mmu_gather overflow: batch not flushed");
  tlb.delayRmap[tlb.nr] = delay_rmap ? 1 : 0;
  if (delay_rmap) tlb.delayedRmap = true;
  tlb.pages[tlb.nr++] = pfn;
  return tlb.nr === MAX_GATHER_PAGES;
}

/**
 * __tlb_remove_page() -> __tlb_remove_page_size(tlb, page, PAGE_SIZE) as of v4.9 (mm/memory.c):
 * the room is checked *before* the page is queued: when the active batch is full and
 * tlb_next_batch() fails, it returns true and the page is NOT queued; zap_pte_range() keeps it
 * as its pending_page and queues it with __tlb_remove_pte_page() after the flush.
 */
export function __tlb_remove_page_size(tlb: MmuGather, pfn: number): boolean {
  if (tlb.nr === MAX_GATHER_PAGES) return true;
  tlb.delayRmap[tlb.nr] = 0;
  tlb.pages[tlb.nr++] = pfn;
  return false;
}

/**
 * __tlb_remove_pte_page() (include/asm-generic/tlb.h, v4.9): after the forced flush, queue the
 * pending page, and make the next flush cover the last address adjusted again.
 */
export function __tlb_remove_pte_page(tlb: MmuGather, pfn: number): boolean {
  __tlb_adjust_range(tlb, tlb.addr);
  return __tlb_remove_page_size(tlb, pfn);
}

/** tlb_flush_rmaps(): after the flush, still under the PTL, drop the delayed rmaps. */
export function tlb_flush_rmaps(cpu: Cpu, tlb: MmuGather): void {
  if (!tlb.delayedRmap) return;
  for (let i = 0; i < tlb.nr; i++) {
    if (tlb.delayRmap[i] !== 0) {
      page_remove_rmap(cpu, tlb.pages[i] as number);
      tlb.delayRmap[i] = 0;
    }
  }
  tlb.delayedRmap = false;
}

/**
 * tlb_flush_mmu_tlbonly() (mm/memory.c, v4.9): nothing unmapped since the last flush, nothing to
 * do; else x86's tlb_flush() flushes [tlb->start, tlb->end) and the range starts over. For a
 * kernel registered with tlb_flush_whole_gather_range() (v3.14: tlb_flush_mmu() returns at once
 * without need_flush) the flush covers the range tlb_gather_mmu() was given, which stays.
 */
export function tlb_flush_mmu_tlbonly(cpu: Cpu, tlb: MmuGather): void {
  if (tlb.end === 0) return;
  if (wholeRangeKernels.has(cpu.kernel)) flush_tlb_mm_range(cpu, tlb.rangeStart, tlb.rangeEnd);
  else flush_tlb_mm_range(cpu, tlb.start, tlb.end);
  __tlb_reset_range(tlb);
}

/** tlb_flush_mmu_free() -> free_pages_and_swap_cache(): after the flush, drop the pages. */
export function tlb_flush_mmu_free(cpu: Cpu, tlb: MmuGather): void {
  for (let i = 0; i < tlb.nr; i++) {
    const pfn = tlb.pages[i] as number;
    free_swap_cache(cpu, pfn);
    put_page(cpu, pfn);
  }
  tlb.nr = 0;
}

export function tlb_flush_mmu(cpu: Cpu, tlb: MmuGather): void {
  tlb_flush_mmu_tlbonly(cpu, tlb);
  tlb_flush_mmu_free(cpu, tlb);
}

export function tlb_finish_mmu(cpu: Cpu, tlb: MmuGather): void {
  tlb_flush_mmu(cpu, tlb);
  cpu.point(P_TLB_FINISH_MMU_FLUSHED);
}
