/**
 * The init snapshot. When only CPU 0 has init steps, the init runs alone while every other CPU
 * waits at the trial barrier, from the same reset state every trial: its result is the same
 * every time. A program that read its whole 1024-page mapping spends most of its trial there
 * (1024 page faults), so CPU 0 keeps the state an init left behind and, in later trials of the
 * batch, puts it back instead of resetting and running the init again, when that is faster.
 *
 * What an init can change, and what is put back:
 * - the kernel state from mmap_sem up to the program image (locks, PTLs, signals, cpumask,
 *   VMAs, rmap lists, swap, page cache, backing file, struct pages, frame generations, the
 *   allocator, frames, page tables), except the trial barrier, which the waiting CPUs are in;
 * - CPU 0's registers (an init store's result) and TLB: its entries are kept as (slot, entry,
 *   frame generation) and filled again under the TLB generation of the new trial;
 * - CPU 0's shootdown counters: the init's flushes and IPIs are added again, so a trial counts
 *   the same whichever way its init was done.
 * The other CPUs' registers and use-after-free counts are reset as machine_reset() does.
 */
import type { Cpu } from "./cpu.js";
import {
  CPU_REGS,
  CPU_UAF,
  NR_PMDS,
  NR_REGS,
  NR_VPAGES,
  TLB_WORDS,
  TLB_FRAME_GEN,
  TLB_ENTRY,
  TLB_TAG,
} from "./layout.js";
import { REG_UNSET } from "../scenarios/image.js";

export class InitSnapshot {
  /** Kernel state after the init: [mmapSem, trialBarrier) then [after the barrier, program). */
  private readonly state: Int32Array;
  private readonly regs = new Int32Array(NR_REGS);
  /** CPU 0's TLB entries after the init, 4 KiB and huge (see keep_tlb()). */
  private tlb = new Int32Array(0);
  private huge = new Int32Array(0);
  private flushes = 0;
  private ipisSent = 0;
  private readonly lo: number;
  private readonly barrier: number;
  private readonly hi: number;
  private readonly split: number;
  taken = false;

  constructor(cpu: Cpu) {
    const L = cpu.L;
    this.lo = L.mmapSem;
    this.barrier = L.trialBarrier;
    // The PTLs come right after the barrier (lib/machine/layout.ts): its words are skipped.
    this.split = L.ptl;
    this.hi = L.program;
    this.state = new Int32Array(this.barrier - this.lo + (this.hi - this.split));
  }

  /** Keep what the init just did. `flushes` and `ipisSent`: CPU 0's counts during the init. */
  take(cpu: Cpu, flushes: number, ipisSent: number): void {
    const mem = cpu.mem;
    this.state.set(mem.subarray(this.lo, this.barrier), 0);
    this.state.set(mem.subarray(this.split, this.hi), this.barrier - this.lo);
    this.regs.set(mem.subarray(cpu.self + CPU_REGS, cpu.self + CPU_REGS + NR_REGS));
    this.tlb = keep_tlb(mem, cpu.tlbBase, NR_VPAGES, cpu.tlbGen);
    this.huge = keep_tlb(mem, cpu.hugeTlbBase, NR_PMDS, cpu.tlbGen);
    this.flushes = flushes;
    this.ipisSent = ipisSent;
    this.taken = true;
  }

  /**
   * Put the init's result back, on CPU 0, after its local_flush_tlb() of this trial and while
   * every other CPU waits at the barrier.
   */
  restore(cpu: Cpu): void {
    const mem = cpu.mem;
    const L = cpu.L;
    const state = this.state;
    const first = this.barrier - this.lo;
    mem.set(state.subarray(0, first), this.lo);
    mem.set(state.subarray(first), this.split);
    for (let c = 0; c < L.nrCpus; c++) {
      mem.fill(REG_UNSET, L.cpu(c) + CPU_REGS, L.cpu(c) + CPU_REGS + NR_REGS);
      mem[L.cpu(c) + CPU_UAF] = 0;
    }
    mem.set(this.regs, cpu.self + CPU_REGS);
    refill_tlb(mem, cpu.tlbBase, this.tlb, cpu.tlbGen);
    refill_tlb(mem, cpu.hugeTlbBase, this.huge, cpu.tlbGen);
    cpu.flushes += this.flushes;
    cpu.ipisSent += this.ipisSent;
  }
}

/** The live entries (tagged `gen`) of a TLB of `n` slots at `base`: (slot offset, entry, frame gen). */
function keep_tlb(mem: Int32Array, base: number, n: number, gen: number): Int32Array<ArrayBuffer> {
  let live = 0;
  for (let i = base, end = base + n * TLB_WORDS; i < end; i += TLB_WORDS)
    if (mem[i + TLB_TAG] === gen) live++;
  const out = new Int32Array(live * 3);
  let k = 0;
  for (let i = base, end = base + n * TLB_WORDS; i < end; i += TLB_WORDS) {
    if (mem[i + TLB_TAG] !== gen) continue;
    out[k++] = i - base;
    out[k++] = mem[i + TLB_ENTRY] as number;
    out[k++] = mem[i + TLB_FRAME_GEN] as number;
  }
  return out;
}

/** Fill the kept entries back into the TLB at `base`, tagged with this trial's generation. */
function refill_tlb(mem: Int32Array, base: number, kept: Int32Array, gen: number): void {
  for (let k = 0; k < kept.length; k += 3) {
    const i = base + (kept[k] as number);
    mem[i + TLB_TAG] = gen;
    mem[i + TLB_ENTRY] = kept[k + 1] as number;
    mem[i + TLB_FRAME_GEN] = kept[k + 2] as number;
  }
}
