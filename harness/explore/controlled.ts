/**
 * The scheduler side of a controlled trial (the CPU side is lib/sched/baton.ts). The main thread
 * starts a one-trial batch with CFG_CONTROLLED, then, synchronously, waits until every CPU that
 * runs a program has stopped before a step, asks a strategy which CPU takes the next step, hands
 * it the baton, and waits for it to stop again. Only one CPU runs at a time.
 *
 * Which CPUs may be chosen (deterministic, from what the steps did):
 *   READY    stopped before a step;
 *   WAITING  in a wait loop, and another CPU has made progress since it last looked.
 * A WAITING or IDLE (done) CPU with an IPI pending answers it at once, in a forced step that is
 * not a choice: a CPU spinning with interrupts enabled takes an IPI as soon as it arrives.
 *
 * With footprints (the dpor strategy, on a machine started with them) the rule for waiters is
 * exact instead: a waiter is enabled once a later step wrote a word its last failed check read.
 * Enabling then only ever comes from a step that is dependent with the re-check, which partial-
 * order reduction needs.
 */
import {
  CPU_STEP,
  CPU_POINT,
  CPU_WAIT_KIND,
  CPU_ERROR,
  FP_COUNT,
  FP_ENTRIES,
  FP_OVERFLOW,
  CPU_IPI_PENDING,
  CPU_SCHED_A,
  CPU_SCHED_B,
  CPU_SCHED_KIND,
  CPU_SCHED_STATE,
  CTRL_BATON,
} from "../../lib/machine/layout.js";
import {
  SCHED_IDLE,
  SCHED_READY,
  SCHED_RELEASE,
  SCHED_RUNNING,
  SCHED_TO_SCHEDULER,
  SCHED_WAITING,
} from "../../lib/machine/steps.js";
import { trace_read, type TraceEvent } from "../../lib/trace/ring.js";
import type { BatchConfig, BatchStats, Machine } from "../machine.js";

/** One scheduling decision. */
export interface Decision {
  /**
   * CPUs that could take the next step: first those that can go on (READY, or IDLE with an IPI
   * to answer), ascending, then those re-checking a wait, the longest-idle first.
   */
  enabled: number[];
  /** How many of `enabled` can go on (the rest are re-checking a wait). */
  nReady: number;
  /** The CPU that took the previous step (-1 at the start). */
  prev: number;
  /** Whether prev could have gone on (READY): choosing another CPU is then a preemption. */
  prevReady: boolean;
  chosen: number;
}

/** Picks the next CPU; `index` counts decisions from 0. */
export type Chooser = (
  index: number,
  enabled: number[],
  prev: number,
  prevReady: boolean,
  nReady: number,
) => number;

/** The shared words one step touched: sorted, with a parallel written flag. */
export interface Footprint {
  /** The step touched more words than its area holds: it counts as touching every word. */
  all: boolean;
  words: Int32Array;
  writes: Uint8Array;
}

/** A step as the dpor strategy sees it. */
export interface StepEvent {
  cpu: number;
  /** An IPI answered at once by a waiting or finished CPU: not a scheduling choice. */
  forced: boolean;
  /** The decision that chose this step, or for a forced step the last decision before it. */
  decision: number;
  fp: Footprint;
}

export interface ControlledOptions {
  /** The machine was started with footprints: read them and use the exact waiter rule. */
  footprints?: boolean;
  /** Called after every step (footprints only). */
  observe?: (ev: StepEvent) => void;
}

/**
 * Whether a and b share a word that a writes, or (`eitherWrites`) that either of them writes.
 * Both word lists are sorted: one merge walk.
 */
function shareWritten(a: Footprint, b: Footprint, eitherWrites: boolean): boolean {
  if (a.all || b.all) return true;
  const x = a.words;
  const y = b.words;
  let i = 0;
  let j = 0;
  while (i < x.length && j < y.length) {
    const u = x[i] as number;
    const v = y[j] as number;
    if (u < v) i++;
    else if (v < u) j++;
    else {
      if (a.writes[i] === 1 || (eitherWrites && b.writes[j] === 1)) return true;
      i++;
      j++;
    }
  }
  return false;
}

/** Whether a and b touch a common word that at least one of them writes. */
export const dependent = (a: Footprint, b: Footprint): boolean => shareWritten(a, b, true);

/** Whether `w` writes a word that `r` read (or touched). */
export const writesInto = (w: Footprint, r: Footprint): boolean => shareWritten(w, r, false);

function readFootprint(mem: Int32Array, at: number): Footprint {
  const n = Atomics.load(mem, at + FP_COUNT);
  const all = mem[at + FP_OVERFLOW] !== 0;
  const entries = mem.slice(at + FP_ENTRIES, at + FP_ENTRIES + n).sort();
  const words = new Int32Array(n);
  const writes = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const e = entries[i] as number;
    words[i] = e >> 1;
    writes[i] = e & 1;
  }
  return { all, words, writes };
}

export interface ControlledTrial {
  decisions: Decision[];
  preemptions: number;
  stats: BatchStats;
  trace: TraceEvent[];
}

export class ScheduleError extends Error {}

/** Steps in one schedule before it is declared a livelock. */
export const MAX_STEPS = 20_000;
const STEP_TIMEOUT_MS = 5_000;

export async function runControlled(
  machine: Machine,
  cfg: BatchConfig,
  controlledCpus: number,
  choose: Chooser,
  opts: ControlledOptions = {},
): Promise<ControlledTrial> {
  const { mem, L } = machine;
  const footprints = opts.footprints === true;
  const observe = opts.observe;
  const baton = L.ctrl + CTRL_BATON;
  const state = (c: number): number => Atomics.load(mem, L.cpu(c) + CPU_SCHED_STATE);
  Atomics.store(mem, baton, SCHED_TO_SCHEDULER);
  for (let c = 0; c < machine.nrCpus; c++)
    Atomics.store(mem, L.cpu(c) + CPU_SCHED_STATE, SCHED_RUNNING);
  const batch = machine.run(
    { ...cfg, trials: 1, durationMs: 0, controlled: true, trace: true },
    60_000,
  );
  let failed: unknown = null;
  batch.catch((e: unknown) => (failed = e));
  /** A CPU threw (its worker set CPU_ERROR): the batch's rejection says what. */
  const cpuThrew = new ScheduleError("a CPU threw during the controlled trial");

  /** Wait until the baton is back and no controlled CPU is running. */
  const settle = (what: string): void => {
    const deadline = performance.now() + STEP_TIMEOUT_MS;
    for (;;) {
      const b = Atomics.load(mem, baton);
      for (let c = 0; c < machine.nrCpus; c++)
        if (Atomics.load(mem, L.cpu(c) + CPU_ERROR) !== 0) throw cpuThrew;
      let running = -1;
      if (b === SCHED_TO_SCHEDULER) {
        for (let c = 0; c < controlledCpus && running < 0; c++)
          if (state(c) === SCHED_RUNNING) running = c;
        if (running < 0) return;
      }
      if (performance.now() > deadline) {
        throw new ScheduleError(
          `${what}: no CPU stopped within ${STEP_TIMEOUT_MS} ms (states ${Array.from({ length: controlledCpus }, (_, c) => state(c)).join(",")}; baton ${Atomics.load(mem, baton)}; ${Array.from({ length: machine.nrCpus }, (_, c) => `CPU ${c}: pc ${Atomics.load(mem, L.cpu(c) + CPU_STEP)}, last point ${Atomics.load(mem, L.cpu(c) + CPU_POINT)}, waits for ${Atomics.load(mem, L.cpu(c) + CPU_WAIT_KIND)}, IPI pending ${Atomics.load(mem, L.cpu(c) + CPU_IPI_PENDING)}`).join("; ")})`,
        );
      }
      // The baton is back but a CPU has not published its stop yet (it stores the baton before
      // its state): wait on that state word, which it notifies. Else wait for the baton.
      if (running >= 0) Atomics.wait(mem, L.cpu(running) + CPU_SCHED_STATE, SCHED_RUNNING, 2);
      else Atomics.wait(mem, baton, b, 2);
    }
  };

  const decisions: Decision[] = [];
  let preemptions = 0;
  try {
    settle("start of the body");
    // Steps taken in total; per CPU, the last step that made progress (anything but a wait
    // re-check that found its condition still false), and when it last began to wait.
    let steps = 0;
    const waitedAt = new Array<number>(controlledCpus).fill(-1);
    const lastProgress = new Array<number>(controlledCpus).fill(-1);
    const lastStep = new Array<number>(controlledCpus).fill(-1);
    // Footprints: each waiter's last failed check, and whether a step has written into it since.
    const waitFp = new Array<Footprint | null>(controlledCpus).fill(null);
    const woken = new Array<boolean>(controlledCpus).fill(false);
    let prev = -1;
    /** Hand the baton to `c` for one step and wait until it stops again. */
    const step = (c: number, interrupt: boolean): void => {
      const before = state(c);
      Atomics.store(mem, L.cpu(c) + CPU_SCHED_STATE, SCHED_RUNNING);
      Atomics.store(mem, baton, c);
      Atomics.notify(mem, baton);
      settle(`step ${steps} of CPU ${c}`);
      const after = state(c);
      lastStep[c] = steps;
      // An answered IPI is progress too: the sender's wait for acks may be over.
      if (interrupt || before !== SCHED_WAITING || after !== SCHED_WAITING) lastProgress[c] = steps;
      if (after === SCHED_WAITING && !interrupt) waitedAt[c] = steps;
      if (footprints) {
        const fp = readFootprint(mem, L.footprintOf(c));
        for (let o = 0; o < controlledCpus; o++) {
          const r = waitFp[o];
          if (!(woken[o] as boolean) && r != null && (o !== c || interrupt) && writesInto(fp, r))
            woken[o] = true;
        }
        if (after === SCHED_WAITING && !interrupt) {
          waitFp[c] = fp;
          woken[c] = false;
        } else if (after !== SCHED_WAITING) waitFp[c] = null;
        observe?.({ cpu: c, forced: interrupt, decision: decisions.length - 1, fp });
      }
      steps++;
    };
    for (;;) {
      if (steps >= MAX_STEPS)
        throw new ScheduleError(
          `livelock: ${MAX_STEPS} steps in one schedule (${describeStops(machine, controlledCpus)}; last choices ${decisions
            .slice(-12)
            .map((d) => `${d.chosen}/[${d.enabled.join(",")}]`)
            .join(" ")})`,
        );
      // A waiting or finished CPU with an IPI pending takes it at once, as a CPU spinning with
      // interrupts enabled does: a forced step, not a choice.
      let forced = -1;
      for (let c = 0; c < controlledCpus && forced < 0; c++) {
        const s = state(c);
        if (
          (s === SCHED_WAITING || s === SCHED_IDLE) &&
          Atomics.load(mem, L.cpu(c) + CPU_IPI_PENDING) !== 0
        )
          forced = c;
      }
      if (forced >= 0) {
        step(forced, true);
        continue;
      }
      const enabled: number[] = [];
      const waiting: number[] = [];
      let idle = 0;
      for (let c = 0; c < controlledCpus; c++) {
        const s = state(c);
        if (s === SCHED_READY) enabled.push(c);
        else if (s === SCHED_WAITING) {
          // Enabled once another CPU has made progress since this one last looked: a re-check
          // that fails is no progress, so two failing waiters cannot keep each other going.
          let moved = false;
          if (footprints) moved = woken[c] as boolean;
          else
            for (let o = 0; o < controlledCpus; o++)
              if (o !== c && (lastProgress[o] as number) > (waitedAt[c] as number)) moved = true;
          if (moved) waiting.push(c);
        } else if (s === SCHED_IDLE) idle++;
      }
      const nReady = enabled.length;
      // Waiters in the order they last stepped, longest first.
      waiting.sort((x, y) => (lastStep[x] as number) - (lastStep[y] as number) || x - y);
      enabled.push(...waiting);
      if (enabled.length === 0) {
        if (idle === controlledCpus) break;
        throw new ScheduleError(
          `deadlock: every CPU waits and none can move (${describeStops(machine, controlledCpus)})`,
        );
      }
      const prevReady = prev >= 0 && state(prev) === SCHED_READY;
      const chosen = choose(decisions.length, enabled, prev, prevReady, nReady);
      if (!enabled.includes(chosen))
        throw new ScheduleError(
          `the schedule picks CPU ${chosen}, which cannot move (enabled: ${enabled.join(",")})`,
        );
      if (prevReady && chosen !== prev) preemptions++;
      decisions.push({ enabled, nReady, prev, prevReady, chosen });
      step(chosen, false);
      prev = chosen;
    }
  } catch (e) {
    Atomics.store(mem, baton, SCHED_RELEASE);
    Atomics.notify(mem, baton);
    const why = await batch.then(
      () => e,
      (be: unknown) => (e === cpuThrew ? be : e),
    );
    throw why;
  }
  Atomics.store(mem, baton, SCHED_RELEASE);
  Atomics.notify(mem, baton);
  const stats = await batch;
  if (failed !== null) throw failed as Error;
  return { decisions, preemptions, stats, trace: trace_read(mem, L) };
}

/** What each controlled CPU stopped before: for error messages. */
export function describeStops(machine: Machine, cpus: number): string {
  const { mem, L } = machine;
  return Array.from({ length: cpus }, (_, c) => {
    const b = L.cpu(c);
    return `CPU ${c}: state ${mem[b + CPU_SCHED_STATE]}, step ${mem[b + CPU_SCHED_KIND]}(${mem[b + CPU_SCHED_A]}, ${mem[b + CPU_SCHED_B]})`;
  }).join("; ");
}
