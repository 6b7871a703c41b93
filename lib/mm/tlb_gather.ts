/**
 * struct mmu_gather (include/asm-generic/tlb.h, mm/memory.c as of v4.9): zap_pte_range()
 * collects the range to flush and the pages to free; the flush must come before the pages are
 * freed. It lives on the zapping CPU's kernel stack, so it is per-CPU state, not shared.
 */
import type { Cpu } from "../machine/cpu.js";
import { P_TLB_FINISH_MMU_FLUSHED } from "../machine/points.js";
import { PAGE_SIZE } from "../machine/layout.js";
import { flush_tlb_mm_range } from "../mmu/shootdown.js";
import { put_page } from "./page_alloc.js";
import { page_remove_rmap } from "./rmap.js";
import { free_swap_cache } from "./swap.js";

/** MAX_GATHER_BATCH: pages one gather holds before it must flush and free. */
export const MAX_GATHER_BATCH = 512;

export class MmuGather {
  start = 0;
  end = 0;
  nr = 0;
  readonly pages = new Int32Array(MAX_GATHER_BATCH);
  /** 5df397dec7c4: pages whose page_remove_rmap() waits for the TLB flush (ENCODED_PAGE_BIT_DELAY_RMAP). */
  readonly delayRmap = new Uint8Array(MAX_GATHER_BATCH);
  delayedRmap = false;
}

export function tlb_gather_mmu(tlb: MmuGather, start: number, end: number): void {
  tlb.start = start;
  tlb.end = end;
  tlb.nr = 0;
  __tlb_reset_range(tlb);
}

function __tlb_reset_range(tlb: MmuGather): void {
  tlb.start = 0x7fffffff;
  tlb.end = 0;
}

/** tlb_remove_tlb_entry(): remember that addr must be flushed. */
export function tlb_remove_tlb_entry(tlb: MmuGather, addr: number): void {
  if (addr < tlb.start) tlb.start = addr;
  if (addr + PAGE_SIZE > tlb.end) tlb.end = addr + PAGE_SIZE;
}

/** __tlb_remove_page(): queue a page to be freed after the flush; true if the batch is full. */
export function __tlb_remove_page(tlb: MmuGather, pfn: number, delay_rmap = false): boolean {
  // A full batch must have been flushed and freed first: anything else is a bug in the caller.
  if (tlb.nr >= MAX_GATHER_BATCH) throw new Error("mmu_gather overflow: batch not flushed");
  tlb.delayRmap[tlb.nr] = delay_rmap ? 1 : 0;
  if (delay_rmap) tlb.delayedRmap = true;
  tlb.pages[tlb.nr++] = pfn;
  return tlb.nr === MAX_GATHER_BATCH;
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

export function tlb_flush_mmu_tlbonly(cpu: Cpu, tlb: MmuGather): void {
  if (tlb.end === 0) return;
  flush_tlb_mm_range(cpu, tlb.start, tlb.end);
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
