/**
 * A modelled CPU: the one door through which kernel and user code reach the machine.
 * Each worker thread owns one Cpu. It answers TLB-shootdown IPIs whenever it waits, at every
 * named point and between user instructions, and it can be held at a named point for an
 * injected delay (the model's msleep()).
 */
import {
  ARCH_X86,
  CFG_SLEEPING_DELAYS,
  F64_DELAYS_MS,
  F64_SLOTS,
  CPU_FLUSHES,
  CPU_IPI_PENDING,
  CPU_IPIS_SENT,
  CPU_IPIS_SERVED,
  CPU_POINT,
  CPU_TLB_GEN,
  NR_POINTS_MAX,
  type Layout,
} from "./layout.js";
import { Waiter, WAIT_DELAY } from "../sync/waiter.js";
import { service_flush_ipis } from "../mmu/shootdown.js";
import { MmuGather } from "../mm/tlb_gather.js";
import type { Kernel } from "../kernels/kernel.js";
import { sched_yield } from "../sched/baton.js";
import { trace_record } from "../trace/ring.js";
import { window_close, window_open } from "./window.js";
import type { FootprintRecorder } from "../sched/footprint.js";
import {
  HOOK_CONTROLLED,
  HOOK_TRACE,
  SCHED_READY,
  SCHED_WAITING,
  STEP_POINT,
  STEP_WAIT,
  yieldsAt,
} from "./steps.js";

export class Cpu extends Waiter {
  readonly L: Layout;
  readonly tlbBase: number;
  readonly hugeTlbBase: number;
  tlbGen = 1;
  /** The TLB slot the last lookup hit (for the use-after-free oracle). */
  tlbSlot = 0;
  /** tlb_single_page_flush_ceiling: x86 flushes page by page up to 33 pages, all above. */
  flushCeiling = 33;
  /** The modelled architecture (ARCH_X86 or ARCH_ARM64), set per batch. */
  arch = ARCH_X86;
  /**
   * current->tlb_ubc (struct tlbflush_unmap_batch, lib/mm/tlbbatch.ts): the CPUs a deferred
   * reclaim flush must reach, whether one is required, and whether a cleared PTE was dirty.
   */
  tlbUbcCpumask = 0;
  tlbUbcFlushRequired = false;
  tlbUbcWritable = false;
  /**
   * page_check_address()'s *ptlp: the PTL it took, of the table it found the PTE in (kernel-stack
   * state of the rmap walk; the caller unlocks it).
   */
  rmapPtl = -1;
  /** The signal the last user load raised (0: none). */
  fault = 0;
  flushes = 0;
  ipisSent = 0;
  ipisServed = 0;
  /** Injected delay per named point, in milliseconds (0: none). */
  readonly delayMs = new Float64Array(NR_POINTS_MAX);
  /**
   * The kernel variants this CPU can run, told by whoever starts it (the CPU worker passes the
   * registry, lib/kernels/index.ts): the door does not import the registry itself.
   */
  readonly kernels: readonly Kernel[];
  /** The kernel variant this CPU runs (set per batch from kernels, by CFG_KERNEL). */
  kernel: Kernel;
  /** The zap path's mmu_gather: kernel-stack state of this CPU. */
  readonly tlb = new MmuGather();
  /** Explorer machines with footprints: records the words each controlled step touches. */
  footprint: FootprintRecorder | null = null;
  /** Window coverage (lib/machine/window.ts): this CPU's window points, -1 if not its window. */
  winOpen = -1;
  winClose = -1;
  /** The program counter of this CPU's racing step, -1 if it has none. */
  racePc = -1;
  /** Window timing on (learning): note when the window's points are reached. */
  winTiming = false;
  /** performance.now() when this CPU left the start barrier (window timing). */
  winT0 = 0;
  /** Clock for delays; performance.now in a worker, replaceable in tests. */
  now: () => number = () => performance.now();

  constructor(mem: Int32Array, L: Layout, id: number, kernels: readonly Kernel[]) {
    super(mem, L.percpu, L.nrCpus, id);
    this.L = L;
    const first = kernels[0];
    if (first === undefined) throw new RangeError("a CPU needs at least one kernel variant");
    this.kernels = kernels;
    this.kernel = first;
    this.tlbBase = L.tlbOf(id);
    this.hugeTlbBase = L.hugeTlbOf(id);
    mem[this.self + CPU_TLB_GEN] = this.tlbGen;
  }

  override serviceIpis(): void {
    service_flush_ipis(this);
  }

  /** A step with hooks set: record it, and under the explorer stop for the baton. */
  override hook(kind: number, a: number, b: number): void {
    // Under the explorer a step is recorded when the CPU takes it: once it holds the baton.
    if ((this.hooks & HOOK_CONTROLLED) !== 0 && yieldsAt(kind)) {
      sched_yield(this, kind === STEP_WAIT ? SCHED_WAITING : SCHED_READY, kind, a, b);
    }
    if ((this.hooks & HOOK_TRACE) !== 0) trace_record(this, kind, a, b);
  }

  /** Injected delays sleep instead of spinning (set when CPUs outnumber cores). */
  sleepingDelays = false;

  /** Read the batch's injected delays (milliseconds, Float64 slots of the buffer). */
  loadDelays(): void {
    this.sleepingDelays = Atomics.load(this.mem, this.L.cfg + CFG_SLEEPING_DELAYS) !== 0;
    const f64 = new Float64Array(this.mem.buffer, 0, F64_SLOTS);
    for (let i = 0; i < NR_POINTS_MAX; i++) this.delayMs[i] = f64[F64_DELAYS_MS + i] as number;
  }

  /** A named point: answer IPIs, then hold here for the injected delay, if any. */
  point(id: number): void {
    const mem = this.mem;
    if (this.hooks !== 0) this.hook(STEP_POINT, id, 0);
    mem[this.self + CPU_POINT] = id;
    if (id === this.winOpen) window_open(this);
    else if (id === this.winClose) window_close(this);
    // An interrupt window. A plain read, unlike poll()'s: a point is straight-line kernel code,
    // never a wait loop of its own (waits go through relax(), whose read stays atomic), and the
    // paths around it make Atomics calls, which V8 cannot move a load across. A point inside
    // move_ptes() runs once per moved PTE, where the kernel takes interrupts for free, and an
    // Atomics.load (a ~10 ns builtin call) there was a quarter of a moved PTE's cost in the model.
    if (mem[this.self + CPU_IPI_PENDING] !== 0) this.serviceIpis();
    const ms = this.delayMs[id] as number;
    if (ms !== 0) this.delay(ms, id);
  }

  /** Busy-wait `ms`, answering IPIs, as a CPU in msleep() still takes interrupts. */
  delay(ms: number, point: number): void {
    const mem = this.mem;
    this.waitBegin(WAIT_DELAY, point);
    const until = this.now() + ms;
    for (let now = this.now(); now < until; now = this.now()) {
      if (Atomics.load(mem, this.self + CPU_IPI_PENDING) !== 0) this.serviceIpis();
      // With more CPUs than cores a spinning delay would keep another CPU off its core: sleep,
      // as msleep() does; an IPI sender's ring wakes us to answer it.
      else if (this.sleepingDelays) this.sleep(until - now);
    }
    this.waitEnd();
  }

  /** Publish this CPU's counters (shootdowns, IPIs) for the harness. */
  publishCounters(): void {
    const mem = this.mem;
    Atomics.store(mem, this.self + CPU_FLUSHES, this.flushes);
    Atomics.store(mem, this.self + CPU_IPIS_SENT, this.ipisSent);
    Atomics.store(mem, this.self + CPU_IPIS_SERVED, this.ipisServed);
  }
}
