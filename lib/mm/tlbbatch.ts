/**
 * Batched unmap TLB flushing (CONFIG_ARCH_WANT_BATCHED_UNMAP_TLB_FLUSH), mm/rmap.c as of v4.9,
 * from 72b252aed506 ("mm: send one IPI per CPU to TLB flush all entries after unmapping pages",
 * Mel Gorman, v4.3), and flush_tlb_batched_pending() from 3ea277194daa ("mm, mprotect: flush
 * TLB if potentially racing with a parallel reclaim leaving stale TLB entries", v4.13; the
 * v4.13 form, with mm->tlb_flush_batched a bool).
 *
 * Reclaim passes TTU_BATCH_FLUSH. When another CPU uses the mm, try_to_unmap_one() clears the
 * PTE without flushing and records the mm's CPUs in current->tlb_ubc; try_to_unmap_flush_dirty()
 * (before pageout, if a cleared PTE was dirty) and try_to_unmap_flush() (before the pages are
 * freed) then flush *every* entry on each of those CPUs. x86 selects the option; arm64 did not
 * until v6.x, so there try_to_unmap_one() always flushes the one page at once.
 *
 * current->tlb_ubc is the reclaiming task's own state: it lives in the Cpu object (the task runs
 * on that CPU for the whole shrink_page_list()), not in shared memory.
 */
import type { Cpu } from "../machine/cpu.js";
import { ARCH_X86 } from "../machine/layout.js";
import { P_TRY_TO_UNMAP_FLUSH_DONE } from "../machine/points.js";
import { flush_tlb_mm_range, flush_tlb_others, TLB_FLUSH_ALL } from "../mmu/shootdown.js";
import { local_flush_tlb } from "../mmu/tlb.js";

/** enum ttu_flags (include/linux/rmap.h, v4.9): the bits the model uses. */
export const TTU_UNMAP = 0;
export const TTU_MIGRATION = 1;
export const TTU_BATCH_FLUSH = 1 << 7;

/** ARCH_WANT_BATCHED_UNMAP_TLB_FLUSH: selected by x86 (arch/x86/Kconfig), not by arm64 in v4.9. */
export const arch_want_batched_unmap_tlb_flush = (cpu: Cpu): boolean =>
  cpu.arch === ARCH_X86 && cpu.kernel.batchedUnmapFlush;

/**
 * should_defer_flush(): true if the TLB flush should be deferred to the end of a batch of unmap
 * operations to reduce IPIs: TTU_BATCH_FLUSH was passed and remote CPUs use the mm.
 */
export function should_defer_flush(cpu: Cpu, flags: number): boolean {
  if (!arch_want_batched_unmap_tlb_flush(cpu)) return false;
  if ((flags & TTU_BATCH_FLUSH) === 0) return false;
  // If remote CPUs need to be flushed then defer batch the flush.
  return (Atomics.load(cpu.mem, cpu.L.mmCpumask) & ~(1 << cpu.id)) !== 0;
}

/**
 * set_tlb_ubc_flush_pending(): after ptep_get_and_clear() under the PTL. From 3ea277194daa on,
 * also mm->tlb_flush_batched = true (after the PTE is cleared: the barrier() in the kernel).
 */
export function set_tlb_ubc_flush_pending(cpu: Cpu, writable: boolean): void {
  cpu.tlbUbcCpumask |= Atomics.load(cpu.mem, cpu.L.mmCpumask);
  cpu.tlbUbcFlushRequired = true;
  if (cpu.kernel.flushBatchedPending) Atomics.store(cpu.mem, cpu.L.tlbFlushBatched, 1);
  // If the PTE was dirty then it's best to assume it's writable. The caller must use
  // try_to_unmap_flush_dirty() or try_to_unmap_flush() before the page is queued for IO.
  if (writable) cpu.tlbUbcWritable = true;
}

/**
 * try_to_unmap_flush(): flush every TLB entry of every CPU in tlb_ubc->cpumask: locally with
 * local_flush_tlb() if this CPU is in it, the others with one flush_tlb_others(TLB_FLUSH_ALL).
 */
export function try_to_unmap_flush(cpu: Cpu): void {
  if (!cpu.tlbUbcFlushRequired) return;
  const mask = cpu.tlbUbcCpumask;
  cpu.flushes++;
  if ((mask & (1 << cpu.id)) !== 0) local_flush_tlb(cpu);
  if ((mask & ~(1 << cpu.id)) !== 0) flush_tlb_others(cpu, mask, 0, TLB_FLUSH_ALL);
  cpu.tlbUbcCpumask = 0;
  cpu.tlbUbcFlushRequired = false;
  cpu.tlbUbcWritable = false;
  cpu.point(P_TRY_TO_UNMAP_FLUSH_DONE);
}

/** try_to_unmap_flush_dirty(): flush iff there are potentially writable TLB entries that can race with IO. */
export function try_to_unmap_flush_dirty(cpu: Cpu): void {
  if (cpu.tlbUbcWritable) try_to_unmap_flush(cpu);
}

/**
 * flush_tlb_batched_pending() (3ea277194daa, mm/rmap.c v4.13): called under the PTL by paths
 * that may find a PTE reclaim cleared without flushing (zap_pte_range, change_pte_range,
 * move_ptes, madvise_free_pte_range). If a batched flush may be pending, flush the whole mm.
 * A no-op before 3ea277194daa, and where the arch does not batch.
 */
export function flush_tlb_batched_pending(cpu: Cpu): void {
  if (!cpu.kernel.flushBatchedPending) return;
  const mem = cpu.mem;
  if (Atomics.load(mem, cpu.L.tlbFlushBatched) !== 0) {
    flush_tlb_mm_range(cpu, 0, TLB_FLUSH_ALL); // flush_tlb_mm()
    Atomics.store(mem, cpu.L.tlbFlushBatched, 0);
  }
}
