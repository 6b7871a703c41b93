/**
 * One modelled machine: a SharedArrayBuffer and one long-lived worker per CPU. Batches of
 * trials are started by bumping the command word; the main thread never takes part in a trial.
 * A watchdog stops a batch that makes no progress and reports what every CPU waits for.
 */
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import {
  CFG_DURATION_MS,
  ARCH_ARM64,
  ARCH_X86,
  CFG_ARCH,
  CFG_FLUSH_CEILING,
  CFG_CONTROLLED,
  CFG_TRACE,
  ST_TRACE_KEPT_TRIAL,
  CFG_KERNEL,
  CFG_NR_CPUS,
  CFG_OFFSET_FIXED,
  CFG_OFFSET_MAX_NS,
  CFG_SEED,
  CFG_SLEEPING_DELAYS,
  CFG_SPIN_LIMIT,
  CFG_TRIALS,
  CMD_EXIT,
  CMD_RUN,
  CPU_FLUSHES,
  CPU_HEARTBEAT,
  CPU_IPIS_SENT,
  CPU_POINT,
  CPU_STEP,
  CPU_WAIT_KIND,
  CPU_WAIT_ON,
  CTRL_CMD,
  CTRL_CMD_SEQ,
  CTRL_STOP,
  F64_BATCH_END_MS,
  F64_BATCH_START_MS,
  F64_DELAYS_MS,
  F64_FIRST_LOST_MS,
  F64_SLOTS,
  Layout,
  NR_OUTCOMES,
  NR_POINTS_MAX,
  ST_FAULTS,
  ST_FIRST_LOST_TRIAL,
  ST_FIRST_UAF_TRIAL,
  ST_FORBIDDEN,
  ST_UAF,
  ST_LOST,
  ST_OUTCOMES,
  ST_TRIALS,
  CFG_OFFSET_MODE,
  CFG_AIM_LO_NS,
  CFG_AIM_HI_NS,
  CFG_WINDOW_TIMING,
  OFFSETS_UNIFORM,
  OFFSETS_WINDOW,
  ST_WIN_AFTER,
  ST_WIN_BEFORE,
  ST_WIN_HITS,
  ST_WIN_MISSED,
  ST_WIN_SAMPLES,
  WIN_SAMPLE_WORDS,
} from "../lib/machine/layout.js";
import { window_of } from "../lib/machine/window.js";
import { POINTS } from "../lib/machine/points.js";
import { barrier_init } from "../lib/sync/barrier.js";
import { WAIT_NAMES, WAIT_DELAY, WAIT_IDLE } from "../lib/sync/waiter.js";
import type { CpuMessage, CpuWorkerData } from "../workers/cpu.js";

export interface BatchConfig {
  kernel: number;
  /** Trials to run; 0 = until durationMs (or stop()). */
  trials: number;
  durationMs: number;
  seed: number;
  offsetMaxNs: number;
  /** Injected delay per point id, in nanoseconds. */
  delaysNs: Map<number, number>;
  spinLimit?: number;
  /**
   * Injected delays sleep instead of spinning (default: when this machine's CPUs outnumber the
   * cores; a fleet of machines that together outnumber them sets it).
   */
  sleepingDelays?: boolean;
  /** tlb_single_page_flush_ceiling of the modelled architecture (default: x86's 33). */
  flushCeiling?: number;
  /** The modelled architecture: batched reclaim flushing is x86's (default: x86). */
  arch?: "x86" | "arm64";
  /** Instead of random offsets: CPU 1 starts this many ns after CPU 0 (negative: before). */
  fixedOffsetNs?: number;
  /** The explorer: a scheduler on the main thread hands a baton at every step of the body. */
  controlled?: boolean;
  /** Record every CPU's steps; keep the first forbidden trial's trace. */
  trace?: boolean;
  /**
   * Window-aware start offsets: the scenario's aimed CPU starts lo..hi ns after the window's CPU
   * (drawn per trial). Replaces the uniform offsets.
   */
  aim?: { loNs: number; hiNs: number };
  /** Note when each trial reaches the window's points (learning where the window lies). */
  windowTiming?: boolean;
}

/** Where each trial's racing step fell against the scenario's window. */
export interface WindowCounts {
  /** Inside the window. */
  hits: number;
  before: number;
  after: number;
  /** The racing step was never reached (the CPU faulted before it). */
  missed: number;
}

/** One trial's window timing, ns after the start barrier (-1: not reached). */
export interface WindowSample {
  openNs: number;
  closeNs: number;
  raceNs: number;
}

export interface BatchStats {
  trials: number;
  lostWrites: number;
  faults: number;
  /** Trials with at least one access through a translation to a freed or reused frame. */
  useAfterFree: number;
  firstUafTrial: number | null;
  /** Trials with a lost write or a use-after-free (a trial with both counts once). */
  forbiddenTrials: number;
  outcomes: number[];
  firstLostTrial: number | null;
  /** Traced batches: the trial whose trace was kept (the first forbidden one). */
  traceKeptTrial: number | null;
  firstLostMs: number | null;
  elapsedMs: number;
  flushes: number;
  ipis: number;
  parks: number;
  /** Present when the scenario names a window. */
  window?: WindowCounts;
  /** Batches with window timing on. */
  windowSamples?: WindowSample[];
}

export interface CpuState {
  cpu: number;
  waiting: string;
  step: number;
  /** Filled in by whoever knows the program: "thread 1 body[1] store". */
  stepName?: string;
  point: string;
  trials: number;
}

export class WatchdogError extends Error {
  constructor(
    readonly timeoutMs: number,
    readonly states: CpuState[],
  ) {
    super(`watchdog: no progress for ${timeoutMs / 1000} s`);
  }
}

export class CpuFailure extends Error {
  constructor(
    readonly cpu: number,
    message: string,
    readonly cpuStack: string,
  ) {
    super(`CPU ${cpu} failed: ${message}`);
  }
}

const WORKER_URL = new URL("../workers/cpu.js", import.meta.url);

export class Machine {
  readonly L: Layout;
  readonly sab: SharedArrayBuffer;
  readonly mem: Int32Array;
  private readonly workers: Worker[] = [];
  private readonly handlers: ((m: CpuMessage) => void)[] = [];
  private closed = false;
  /** Start-offset loop turns per nanosecond, the slowest CPU's (from calibration). */
  spinsPerNs = Infinity;

  private constructor(nrCpus: number) {
    this.L = new Layout(nrCpus);
    this.sab = new SharedArrayBuffer(this.L.bytes);
    this.mem = new Int32Array(this.sab);
    Atomics.store(this.mem, this.L.cfg + CFG_NR_CPUS, nrCpus);
    for (let c = 0; c < nrCpus; c++) {
      Atomics.store(this.mem, this.L.cpu(c) + CPU_WAIT_ON, -1);
      Atomics.store(this.mem, this.L.cpu(c) + CPU_POINT, -1);
    }
    barrier_init(this.mem, this.L.trialBarrier, nrCpus);
  }

  /** Start one worker per CPU and wait until every CPU has calibrated and is idle. */
  static async start(nrCpus: number, opts: { footprints?: boolean } = {}): Promise<Machine> {
    const m = new Machine(nrCpus);
    const footprints = opts.footprints === true;
    await Promise.all(
      Array.from({ length: nrCpus }, (_, id) => {
        const w = new Worker(WORKER_URL, {
          workerData: { sab: m.sab, nrCpus, id, footprints } satisfies CpuWorkerData,
        });
        m.workers.push(w);
        return new Promise<void>((resolve, reject) => {
          w.once("error", reject);
          w.on("message", (msg: CpuMessage) => {
            if (msg.type === "ready") {
              m.spinsPerNs = Math.min(m.spinsPerNs, msg.spinsPerNs);
              resolve();
            }
            for (const h of m.handlers) h(msg);
          });
        });
      }),
    );
    for (const w of m.workers) {
      w.on("error", (err) => {
        for (const h of m.handlers)
          h({ type: "error", cpu: -1, message: err.message, stack: err.stack ?? "" });
      });
    }
    return m;
  }

  get nrCpus(): number {
    return this.L.nrCpus;
  }

  /**
   * Spin turns before a waiting CPU parks: ~100 us of spinning when every CPU has a core of its
   * own (a park and wake costs ~50 us, so parking sooner only slows the trial down), ~5 us when
   * CPUs outnumber cores and a spinner may be keeping the lock holder off its core.
   */
  defaultSpinLimit(): number {
    const ns = this.nrCpus <= availableParallelism() ? 100_000 : 5_000;
    return Math.max(1000, Math.round(ns * this.spinsPerNs));
  }

  /** Load a compiled scenario program image. */
  load(image: Int32Array): void {
    this.mem.set(image, this.L.program);
  }

  /** Ask the running batch to stop after the current trial. */
  stop(): void {
    Atomics.store(this.mem, this.L.ctrl + CTRL_STOP, 1);
  }

  /** Run one batch; resolves with its statistics, rejects on a CPU failure or the watchdog. */
  run(
    cfg: BatchConfig,
    watchdogMs: number,
    onProgress?: (trials: number) => void,
  ): Promise<BatchStats> {
    const { mem, L } = this;
    if (this.closed) return Promise.reject(new Error("machine is closed"));
    Atomics.store(mem, L.cfg + CFG_KERNEL, cfg.kernel);
    Atomics.store(mem, L.cfg + CFG_TRIALS, cfg.trials);
    Atomics.store(mem, L.cfg + CFG_DURATION_MS, cfg.durationMs);
    Atomics.store(mem, L.cfg + CFG_SEED, cfg.seed | 0);
    Atomics.store(mem, L.cfg + CFG_OFFSET_MAX_NS, cfg.fixedOffsetNs ?? cfg.offsetMaxNs);
    Atomics.store(mem, L.cfg + CFG_OFFSET_FIXED, cfg.fixedOffsetNs === undefined ? 0 : 1);
    Atomics.store(mem, L.cfg + CFG_SPIN_LIMIT, cfg.spinLimit ?? this.defaultSpinLimit());
    const sleeping = cfg.sleepingDelays ?? this.nrCpus > availableParallelism();
    Atomics.store(mem, L.cfg + CFG_SLEEPING_DELAYS, sleeping ? 1 : 0);
    Atomics.store(mem, L.cfg + CFG_FLUSH_CEILING, cfg.flushCeiling ?? 0);
    Atomics.store(mem, L.cfg + CFG_ARCH, cfg.arch === "arm64" ? ARCH_ARM64 : ARCH_X86);
    Atomics.store(mem, L.cfg + CFG_CONTROLLED, cfg.controlled === true ? 1 : 0);
    Atomics.store(mem, L.cfg + CFG_TRACE, cfg.trace === true ? 1 : 0);
    Atomics.store(mem, L.cfg + CFG_OFFSET_MODE, cfg.aim ? OFFSETS_WINDOW : OFFSETS_UNIFORM);
    Atomics.store(mem, L.cfg + CFG_AIM_LO_NS, Math.round(cfg.aim?.loNs ?? 0));
    Atomics.store(mem, L.cfg + CFG_AIM_HI_NS, Math.round(cfg.aim?.hiNs ?? 0));
    Atomics.store(mem, L.cfg + CFG_WINDOW_TIMING, cfg.windowTiming === true ? 1 : 0);
    const f64 = new Float64Array(this.sab, 0, F64_SLOTS);
    for (let p = 0; p < NR_POINTS_MAX; p++)
      f64[F64_DELAYS_MS + p] = (cfg.delaysNs.get(p) ?? 0) / 1e6;
    Atomics.store(mem, L.ctrl + CTRL_STOP, 0);
    Atomics.store(mem, L.ctrl + CTRL_CMD, CMD_RUN);

    return new Promise<BatchStats>((resolve, reject) => {
      let done = 0;
      let parks = 0;
      let lastProgress = -1;
      let lastChange = Date.now();
      const finish = (err: Error | null): void => {
        clearInterval(timer);
        this.handlers.length = 0;
        if (err !== null) reject(err);
        else resolve(this.stats(parks));
      };
      const timer = setInterval(
        () => {
          const progress = this.progress();
          onProgress?.(Atomics.load(mem, L.stats + ST_TRIALS));
          if (progress !== lastProgress) {
            lastProgress = progress;
            lastChange = Date.now();
          } else if (Date.now() - lastChange >= watchdogMs) {
            finish(new WatchdogError(watchdogMs, this.cpuStates()));
          }
        },
        Math.min(250, Math.max(10, watchdogMs / 4)),
      );
      this.handlers.push((msg) => {
        if (msg.type === "done") {
          parks += msg.parks;
          if (++done === this.nrCpus) finish(null);
        } else if (msg.type === "error") {
          finish(new CpuFailure(msg.cpu, msg.message, msg.stack));
        }
      });
      Atomics.add(mem, L.ctrl + CTRL_CMD_SEQ, 1);
      for (let c = 0; c < this.nrCpus; c++) Atomics.notify(mem, L.ctrl + CTRL_CMD_SEQ);
    });
  }

  /** Something that moves while the machine makes progress: trials, plus delays being served. */
  private progress(): number {
    let p = Atomics.load(this.mem, this.L.stats + ST_TRIALS);
    for (let c = 0; c < this.nrCpus; c++) {
      p += Atomics.load(this.mem, this.L.cpu(c) + CPU_HEARTBEAT);
    }
    return p;
  }

  private stats(parks: number): BatchStats {
    const { mem, L } = this;
    const f64 = new Float64Array(this.sab, 0, F64_SLOTS);
    let flushes = 0;
    let ipis = 0;
    for (let c = 0; c < this.nrCpus; c++) {
      flushes += Atomics.load(mem, L.cpu(c) + CPU_FLUSHES);
      ipis += Atomics.load(mem, L.cpu(c) + CPU_IPIS_SENT);
    }
    const firstLostTrial = Atomics.load(mem, L.stats + ST_FIRST_LOST_TRIAL);
    const windowed = window_of(mem, L.program).cpu >= 0;
    const window = windowed
      ? {
          hits: Atomics.load(mem, L.stats + ST_WIN_HITS),
          before: Atomics.load(mem, L.stats + ST_WIN_BEFORE),
          after: Atomics.load(mem, L.stats + ST_WIN_AFTER),
          missed: Atomics.load(mem, L.stats + ST_WIN_MISSED),
        }
      : undefined;
    const nSamples = Atomics.load(mem, L.stats + ST_WIN_SAMPLES);
    const windowSamples =
      nSamples > 0
        ? Array.from({ length: nSamples }, (_, i) => {
            const at = L.winSamples + i * WIN_SAMPLE_WORDS;
            return {
              openNs: mem[at] as number,
              closeNs: mem[at + 1] as number,
              raceNs: mem[at + 2] as number,
            };
          })
        : undefined;
    return {
      window,
      windowSamples,
      trials: Atomics.load(mem, L.stats + ST_TRIALS),
      lostWrites: Atomics.load(mem, L.stats + ST_LOST),
      faults: Atomics.load(mem, L.stats + ST_FAULTS),
      useAfterFree: Atomics.load(mem, L.stats + ST_UAF),
      forbiddenTrials: Atomics.load(mem, L.stats + ST_FORBIDDEN),
      firstUafTrial:
        Atomics.load(mem, L.stats + ST_FIRST_UAF_TRIAL) < 0
          ? null
          : Atomics.load(mem, L.stats + ST_FIRST_UAF_TRIAL),
      outcomes: Array.from(
        mem.subarray(L.stats + ST_OUTCOMES, L.stats + ST_OUTCOMES + NR_OUTCOMES),
      ),
      firstLostTrial: firstLostTrial < 0 ? null : firstLostTrial,
      traceKeptTrial:
        Atomics.load(mem, L.stats + ST_TRACE_KEPT_TRIAL) < 0
          ? null
          : Atomics.load(mem, L.stats + ST_TRACE_KEPT_TRIAL),
      firstLostMs: firstLostTrial < 0 ? null : (f64[F64_FIRST_LOST_MS] as number),
      elapsedMs: (f64[F64_BATCH_END_MS] as number) - (f64[F64_BATCH_START_MS] as number),
      flushes,
      ipis,
      parks,
    };
  }

  /** What each CPU is doing now, for the watchdog. */
  cpuStates(): CpuState[] {
    const { mem, L } = this;
    return Array.from({ length: this.nrCpus }, (_, c) => {
      const base = L.cpu(c);
      const kind = Atomics.load(mem, base + CPU_WAIT_KIND);
      const on = Atomics.load(mem, base + CPU_WAIT_ON);
      let waiting = WAIT_NAMES[kind] ?? `wait kind ${kind}`;
      if (kind === WAIT_DELAY) waiting += ` at ${POINTS[on] ?? on}`;
      else if (kind !== 0 && kind !== WAIT_IDLE && on >= 0) waiting += ` on ${L.describe(on)}`;
      const point = Atomics.load(mem, base + CPU_POINT);
      return {
        cpu: c,
        waiting,
        step: Atomics.load(mem, base + CPU_STEP),
        point: POINTS[point] ?? "-",
        trials: Atomics.load(mem, base + CPU_HEARTBEAT),
      };
    });
  }

  /**
   * Call `fn` when a CPU's worker thread exits. A worker that exits without an "error" event
   * (process.exit(), terminate()) would otherwise look like a stall until the watchdog fires.
   */
  onWorkerExit(fn: (cpu: number, code: number) => void): void {
    this.workers.forEach((w, cpu) => w.once("exit", (code) => fn(cpu, code)));
  }

  /** Terminate one CPU's worker thread, as a thread that dies would (stress's fault tests). */
  killWorker(cpu: number): void {
    void this.workers[cpu]?.terminate();
  }

  /** Stop the workers. After a watchdog or a failure they may be stuck: terminate them. */
  async close(force = false): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (force) {
      await Promise.all(this.workers.map((w) => w.terminate()));
      return;
    }
    const exited = this.workers.map((w) => new Promise<void>((r) => w.once("exit", () => r())));
    Atomics.store(this.mem, this.L.ctrl + CTRL_CMD, CMD_EXIT);
    Atomics.add(this.mem, this.L.ctrl + CTRL_CMD_SEQ, 1);
    Atomics.notify(this.mem, this.L.ctrl + CTRL_CMD_SEQ);
    const timeout = new Promise<"timeout">((r) => setTimeout(() => r("timeout"), 2000).unref());
    if ((await Promise.race([Promise.all(exited), timeout])) === "timeout") {
      await Promise.all(this.workers.map((w) => w.terminate()));
    }
  }
}
