/**
 * The trial loop every CPU runs for a batch. Per trial:
 *
 *   CPU 0 resets the machine        | others wait      -- barrier --
 *   every CPU flushes its TLB and runs its init steps   -- barrier (precise start) --
 *   every CPU spins its start offset, then runs its body -- barrier --
 *   CPU 0 runs the oracles and counts the outcome
 *
 * The start offsets differ per CPU and per trial (a hash of seed, trial and CPU) so that, over
 * many trials, the racing steps of the CPUs slide across each other and sweep the window
 * (litmus7's timebase mode does the same after a precise start).
 */
import type { Cpu } from "./cpu.js";
import {
  CFG_DURATION_MS,
  CFG_ARCH,
  CFG_FLUSH_CEILING,
  CFG_KERNEL,
  CFG_OFFSET_FIXED,
  CFG_CONTROLLED,
  CFG_TRACE,
  ST_TRACE_KEPT_TRIAL,
  CFG_OFFSET_MAX_NS,
  CFG_OFFSET_MODE,
  CFG_AIM_LO_NS,
  CFG_AIM_HI_NS,
  CFG_WINDOW_TIMING,
  CPU_WIN_SEEN,
  CPU_WIN_T_OPEN,
  CPU_WIN_T_CLOSE,
  CPU_WIN_T_RACE,
  CTRL_WINDOW,
  NR_WIN_SAMPLES,
  OFFSETS_WINDOW,
  ST_WIN_AFTER,
  ST_WIN_BEFORE,
  ST_WIN_HITS,
  ST_WIN_MISSED,
  ST_WIN_SAMPLES,
  WIN_SAMPLE_WORDS,
  CFG_SEED,
  CFG_SPIN_LIMIT,
  CFG_TRIALS,
  CPU_HEARTBEAT,
  CPU_IPI_PENDING,
  CTRL_CONTINUE,
  CTRL_STOP,
  F64_BATCH_END_MS,
  F64_BATCH_START_MS,
  F64_FIRST_LOST_MS,
  F64_SLOTS,
  ST_FAULTS,
  ST_FIRST_LOST_TRIAL,
  ST_FIRST_UAF_TRIAL,
  ST_FORBIDDEN,
  ST_UAF,
  ST_LOST,
  ST_OUTCOMES,
  ST_TRIALS,
  ST_WORDS,
} from "./layout.js";
import { run_program } from "./program.js";
import { InitSnapshot } from "./snapshot.js";
import { HOOK_CONTROLLED, HOOK_TRACE, SCHED_IDLE, STEP_END, STEP_START } from "./steps.js";
import { sched_yield } from "../sched/baton.js";
import { trace_keep, trace_reset } from "../trace/ring.js";
import { machine_reset, machine_reset_full } from "./reset.js";
import { local_flush_tlb } from "../mmu/tlb.js";
import { tlb_single_page_flush_ceiling } from "../mmu/shootdown.js";
import { IMG_CPU_TABLE, IMG_CPU_WORDS, IMG_FORBIDDEN, IMG_NCPUS } from "../scenarios/image.js";
import { lost_writes, outcome_index, outcome_faulted, uaf_accesses } from "../scenarios/oracle.js";
import { barrier_wait } from "../sync/barrier.js";
import { DEFAULT_SPIN_LIMIT, WAIT_START_OFFSET } from "../sync/waiter.js";
import {
  window_begin,
  window_close,
  window_of,
  window_setup,
  WIN_CLOSED,
  WIN_NOT_OPEN,
  WIN_OPEN,
} from "./window.js";

/** A well-mixed 32-bit hash of (seed, trial, cpu): the start offset's randomness. */
export function offset_hash(seed: number, trial: number, cpu: number): number {
  let h =
    Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^
    Math.imul(trial, 0xc2b2ae35) ^
    Math.imul(cpu + 1, 0x27d4eb2f);
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d);
  h ^= h >>> 15;
  h = Math.imul(h, 0x846ca68b);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * This CPU's start offset for a trial, in ns: a draw in [0, max] per CPU, less the smallest
 * draw of the trial. Only offsets *between* CPUs sweep the window; subtracting the minimum
 * keeps every one of them and spares the trial a delay that all CPUs would spend together.
 */
export function start_offset_ns(
  seed: number,
  trial: number,
  cpu: number,
  nprog: number,
  maxNs: number,
): number {
  let min = Infinity;
  for (let c = 0; c < nprog; c++) min = Math.min(min, offset_hash(seed, trial, c) % (maxNs + 1));
  const mine = offset_hash(seed, trial, cpu) % (maxNs + 1);
  return cpu < nprog ? mine - min : 0;
}

/** Spin `spins` turns, answering IPIs: the start offset. */
function spin_offset(cpu: Cpu, spins: number): void {
  const mem = cpu.mem;
  const pending = cpu.self + CPU_IPI_PENDING;
  cpu.waitBegin(WAIT_START_OFFSET, -1);
  for (let i = 0; i < spins; i++) {
    if (Atomics.load(mem, pending) !== 0) cpu.serviceIpis();
  }
  cpu.waitEnd();
}

/** How CPU 0 brings about the state after the init (see snapshot.ts). */
const INIT_RUN = 0;
const INIT_TRY_RESTORE = 1;
const INIT_RESTORE = 2;

/** Window timing: keep this trial's [t_open, t_close, t_race] while there is room. */
function window_sample(
  mem: Int32Array,
  samples: number,
  st: number,
  winCpu: number,
  raceCpu: number,
): void {
  const n = mem[st + ST_WIN_SAMPLES] as number;
  if (n >= NR_WIN_SAMPLES) return;
  const at = samples + n * WIN_SAMPLE_WORDS;
  mem[at] = mem[winCpu + CPU_WIN_T_OPEN] as number;
  mem[at + 1] = mem[winCpu + CPU_WIN_T_CLOSE] as number;
  mem[at + 2] = mem[raceCpu + CPU_WIN_T_RACE] as number;
  mem[st + ST_WIN_SAMPLES] = n + 1;
}

/** Run one batch of trials on this CPU. `spinsPerNs` calibrates the start offsets. */
export function run_batch(cpu: Cpu, spinsPerNs: number): void {
  const mem = cpu.mem;
  const L = cpu.L;
  const cfg = L.cfg;
  const leader = cpu.id === 0;
  cpu.flushes = 0;
  cpu.ipisSent = 0;
  cpu.ipisServed = 0;
  cpu.parks = 0;
  cpu.parkTimeouts = 0;
  cpu.loadDelays();
  cpu.flushCeiling = Atomics.load(mem, cfg + CFG_FLUSH_CEILING) || tlb_single_page_flush_ceiling;
  const kernel = cpu.kernels[Atomics.load(mem, cfg + CFG_KERNEL)];
  if (kernel === undefined) throw new RangeError("CFG_KERNEL names no kernel this CPU was given");
  cpu.kernel = kernel;
  cpu.arch = Atomics.load(mem, cfg + CFG_ARCH);
  cpu.tlbUbcCpumask = 0;
  cpu.tlbUbcFlushRequired = false;
  cpu.tlbUbcWritable = false;
  cpu.spinLimit = Atomics.load(mem, cfg + CFG_SPIN_LIMIT) || DEFAULT_SPIN_LIMIT;
  const trials = Atomics.load(mem, cfg + CFG_TRIALS);
  const durationMs = Atomics.load(mem, cfg + CFG_DURATION_MS);
  const seed = Atomics.load(mem, cfg + CFG_SEED);
  const offsetMaxNs = Atomics.load(mem, cfg + CFG_OFFSET_MAX_NS);
  const offsetFixed = Atomics.load(mem, cfg + CFG_OFFSET_FIXED) !== 0;
  const controlled = Atomics.load(mem, cfg + CFG_CONTROLLED) !== 0;
  const traced = Atomics.load(mem, cfg + CFG_TRACE) !== 0;
  // Window-aware offsets: the aimed CPU starts aimLo..aimHi ns after the window's CPU.
  const aimed = Atomics.load(mem, cfg + CFG_OFFSET_MODE) === OFFSETS_WINDOW;
  const aimLo = Atomics.load(mem, cfg + CFG_AIM_LO_NS);
  const aimSpan = Math.max(0, Atomics.load(mem, cfg + CFG_AIM_HI_NS) - aimLo);
  const win = window_of(mem, L.program);
  const windowed = win.cpu >= 0;
  const winTiming = windowed && Atomics.load(mem, cfg + CFG_WINDOW_TIMING) !== 0;
  window_setup(cpu, winTiming);
  const raceSeen = windowed ? L.cpu(win.raceCpu) + CPU_WIN_SEEN : 0;
  // The steps of a trial's body report to the trace and, under the explorer, to the scheduler.
  const hooks = (traced ? HOOK_TRACE : 0) | (controlled ? HOOK_CONTROLLED : 0);
  const nprog = mem[L.program + IMG_NCPUS] as number;
  const hasProgram = cpu.id < nprog;
  const t = L.program + IMG_CPU_TABLE + cpu.id * IMG_CPU_WORDS;
  const initFrom = mem[t] as number;
  const initTo = mem[t + 1] as number;
  const bodyFrom = mem[t + 2] as number;
  const bodyTo = mem[t + 3] as number;
  const B = L.trialBarrier;
  let othersInit = false;
  let anyInit = false;
  for (let c = 0; c < (mem[L.program + IMG_NCPUS] as number); c++) {
    const tc = L.program + IMG_CPU_TABLE + c * IMG_CPU_WORDS;
    if (mem[tc] === mem[tc + 1]) continue;
    anyInit = true;
    if (c > 0) othersInit = true;
  }
  // CPU 0 alone runs an init: keep its result and put it back when that is faster (snapshot.ts).
  // Not under the explorer, whose tracked view of memory has no bulk copy.
  const snapshotting = leader && !othersInit && anyInit && !controlled;
  const snap = snapshotting ? new InitSnapshot(cpu) : null;
  let initWay = INIT_RUN;
  let initMs = 0;
  const ctrl = L.ctrl;
  const st = L.stats;
  const f64 = new Float64Array(mem.buffer, 0, F64_SLOTS);
  let t0 = 0;
  let firstLost = -1;

  if (leader) {
    mem.fill(0, st, st + ST_WORDS);
    mem[st + ST_FIRST_LOST_TRIAL] = -1;
    mem[st + ST_FIRST_UAF_TRIAL] = -1;
    mem[st + ST_TRACE_KEPT_TRIAL] = -1;
    f64[F64_FIRST_LOST_MS] = -1;
    machine_reset_full(cpu);
    t0 = performance.now();
    f64[F64_BATCH_START_MS] = performance.timeOrigin + t0;
  }
  for (let trial = 0; ; trial++) {
    if (leader) {
      let go = Atomics.load(mem, ctrl + CTRL_STOP) === 0 && (trials === 0 || trial < trials);
      if (go && durationMs > 0 && (trial & 15) === 0 && performance.now() - t0 >= durationMs)
        go = false;
      Atomics.store(mem, ctrl + CTRL_CONTINUE, go ? 1 : 0);
      if (go && trial > 0 && initWay === INIT_RUN) machine_reset(cpu);
      if (go && hooks !== 0) trace_reset(mem, L);
      Atomics.store(mem, ctrl + CTRL_WINDOW, WIN_NOT_OPEN);
    }
    local_flush_tlb(cpu); // the new trial starts with an empty TLB on every CPU
    if (othersInit) {
      barrier_wait(cpu, B);
      if (Atomics.load(mem, ctrl + CTRL_CONTINUE) === 0) break;
      if (hasProgram) run_program(cpu, initFrom, initTo);
    } else if (leader && Atomics.load(mem, ctrl + CTRL_CONTINUE) !== 0) {
      if (initWay === INIT_RESTORE) (snap as InitSnapshot).restore(cpu);
      else if (snap !== null && initWay === INIT_TRY_RESTORE) {
        // Trial 2 times the restore: from trial 3 on, the faster of the two ways.
        const t = performance.now();
        snap.restore(cpu);
        initWay = performance.now() - t < initMs ? INIT_RESTORE : INIT_RUN;
      } else if (snap !== null && trial === 1) {
        // Trial 1 (after a plain reset, as every later trial) runs the init, timed, and keeps
        // its result.
        const flushes = cpu.flushes;
        const ipisSent = cpu.ipisSent;
        const t = performance.now();
        run_program(cpu, initFrom, initTo);
        initMs = performance.now() - t;
        snap.take(cpu, cpu.flushes - flushes, cpu.ipisSent - ipisSent);
        initWay = INIT_TRY_RESTORE;
      } else run_program(cpu, initFrom, initTo);
    }
    // A CPU that waited out a long init may have parked, and a parked CPU takes tens of us to
    // wake: after an init, one barrier wakes every CPU and the next one, which all CPUs reach
    // spinning, is the precise start. The explorer has no start to make precise.
    if (anyInit && !controlled) barrier_wait(cpu, B);
    barrier_wait(cpu, B); // the precise start
    if (Atomics.load(mem, ctrl + CTRL_CONTINUE) === 0) break;
    if (winTiming) cpu.winT0 = performance.now();
    window_begin(cpu);
    if (controlled) {
      // No start offsets: the scheduler alone decides who runs.
    } else if (offsetFixed) {
      // The window map: CPU 1 starts offsetMaxNs after CPU 0 (before it, if negative).
      const d = cpu.id === 1 ? offsetMaxNs : cpu.id === 0 ? -offsetMaxNs : 0;
      if (d > 0) spin_offset(cpu, Math.round(d * spinsPerNs));
    } else if (aimed) {
      // One draw per trial, the same on every CPU: a positive one delays the aimed CPU, a
      // negative one the window's CPU.
      const d = aimLo + (offset_hash(seed, trial, 0) % (aimSpan + 1));
      if (d > 0 && cpu.id === win.aimCpu) spin_offset(cpu, Math.round(d * spinsPerNs));
      else if (d < 0 && cpu.id === win.cpu) spin_offset(cpu, Math.round(-d * spinsPerNs));
    } else if (offsetMaxNs > 0) {
      spin_offset(
        cpu,
        Math.round(start_offset_ns(seed, trial, cpu.id, nprog, offsetMaxNs) * spinsPerNs),
      );
    }
    if (hasProgram && hooks !== 0) {
      cpu.hooks = hooks;
      cpu.hook(STEP_START, 0, 0);
      run_program(cpu, bodyFrom, bodyTo);
      cpu.hook(STEP_END, 0, 0);
      // Done, but still a CPU of the mm: answer IPIs when the scheduler says, until released.
      if (controlled) while (sched_yield(cpu, SCHED_IDLE, STEP_END, 0, 0));
      cpu.hooks = 0;
    } else if (hasProgram) run_program(cpu, bodyFrom, bodyTo);
    if (cpu.winOpen >= 0) window_close(cpu); // the window closes at the latest with its CPU's body
    mem[cpu.self + CPU_HEARTBEAT] = trial + 1;
    barrier_wait(cpu, B);
    if (leader) {
      const oi = outcome_index(mem, L);
      const o = st + ST_OUTCOMES + oi;
      mem[o] = (mem[o] as number) + 1;
      // countForbidden scenarios: the outcome alone is the harm (a store that should have faulted).
      const refused = ((mem[L.program + IMG_FORBIDDEN + (oi >>> 5)] as number) >>> (oi & 31)) & 1;
      const lost = lost_writes(mem, L);
      if (lost !== 0) {
        mem[st + ST_LOST] = (mem[st + ST_LOST] as number) + lost;
        if (firstLost < 0) {
          firstLost = trial;
          mem[st + ST_FIRST_LOST_TRIAL] = trial;
          f64[F64_FIRST_LOST_MS] = performance.now() - t0;
        }
      }
      if (outcome_faulted(mem, L)) mem[st + ST_FAULTS] = (mem[st + ST_FAULTS] as number) + 1;
      const uaf = uaf_accesses(mem, L);
      if (lost !== 0 || uaf !== 0 || refused !== 0) {
        mem[st + ST_FORBIDDEN] = (mem[st + ST_FORBIDDEN] as number) + 1;
        if (traced && mem[st + ST_TRACE_KEPT_TRIAL] === -1) {
          trace_keep(mem, L);
          mem[st + ST_TRACE_KEPT_TRIAL] = trial;
        }
      }
      if (uaf !== 0) {
        mem[st + ST_UAF] = (mem[st + ST_UAF] as number) + 1;
        if (mem[st + ST_FIRST_UAF_TRIAL] === -1) mem[st + ST_FIRST_UAF_TRIAL] = trial;
      }
      if (windowed) {
        const seen = mem[raceSeen] as number;
        const slot =
          seen === WIN_OPEN
            ? ST_WIN_HITS
            : seen === WIN_NOT_OPEN
              ? ST_WIN_BEFORE
              : seen === WIN_CLOSED
                ? ST_WIN_AFTER
                : ST_WIN_MISSED;
        mem[st + slot] = (mem[st + slot] as number) + 1;
        if (winTiming)
          window_sample(mem, L.winSamples, st, L.cpu(win.cpu), raceSeen - CPU_WIN_SEEN);
      }
      Atomics.store(mem, st + ST_TRIALS, trial + 1);
    }
  }
  cpu.publishCounters();
  if (leader) f64[F64_BATCH_END_MS] = performance.timeOrigin + performance.now();
}
