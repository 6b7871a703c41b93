/**
 * The stress result file (schema 1, kind "stress"): counts per cell, harness errors apart from
 * outcomes, and each cell's rate with its 95% interval and its verdict. Checkpoints, final
 * files and merged files all have this shape.
 */
import type { Verdict } from "../../lib/scenarios/types.js";
import { rateInterval, type RateInterval } from "../../lib/stats/intervals.js";
import type { CpuState } from "../machine.js";
import type { MachineInfo } from "../sysinfo.js";
import type { Provenance } from "../results.js";
import type { Shard } from "./plan.js";

export type Mode = "widened" | "natural";

/** ok: as history says; either: a residual window, any count is right; CONTRADICTS: see below. */
export type CellVerdict =
  "ok" | "either" | "CONTRADICTS" | "not shown (natural timing)" | "not run";

export interface CellCounts {
  scenario: string;
  kernel: string;
  expected: Verdict;
  trials: number;
  /** Trials with a lost write or a use-after-free, each counted once. */
  forbiddenTrials: number;
  lostWrites: number;
  useAfterFree: number;
  faults: number;
  outcomes: Record<string, number>;
  slices: number;
  /** Machine time spent on this cell, summed over machines. */
  machineMs: number;
  /** Where the first forbidden outcome was seen: the slice's seed and the trial in it. */
  firstForbidden: { seed: number; trial: number } | null;
  /** Stopped after repeated harness errors. */
  quarantined: boolean;
  /**
   * Trials whose racing step began inside the scenario's window (scenarios that name one;
   * absent in results written before window coverage).
   */
  windowHits?: number;
}

export interface CellSummary extends CellCounts {
  /** Forbidden trials per trial with a 95% interval; null when no trial ran. */
  rate: RateInterval | null;
  verdict: CellVerdict;
}

export type ErrorKind = "cpu-threw" | "worker-died" | "stall" | "harness";

export interface HarnessError {
  kind: ErrorKind;
  scenario: string;
  kernel: string;
  /** The slice's seed and the trial (counted from 0 in the slice) that was running. */
  seed: number;
  trial: number | null;
  /** Which of the run's machines (0..M-1) and which of its CPUs. */
  slot: number;
  cpu: number | null;
  message: string;
  /** For a stall: what each CPU was waiting for. */
  states?: CpuState[];
  /** ms from the start of the run. */
  atMs: number;
  /** Host this came from (merged files). */
  shard?: string;
}

export interface ScenarioVersion {
  name: string;
  /** First 16 hex digits of the SHA-256 of the scenario's canonical JSON. */
  version: string;
  cpus: number;
  /** The delays used, formatted ({} at natural timing). */
  delays: Record<string, string>;
}

export interface StressPlan {
  /** The most machines running at once. */
  machines: number;
  /**
   * Machines at once for each machine size (CPUs); the sizes take turns. Absent in results
   * written before sizes took turns, where every size ran `machines` machines.
   */
  machinesByCpus?: Record<string, number>;
  /** CPUs per machine, or null: each cell on a machine of the size its scenario needs. */
  cpus: number | null;
  durationMs: number | null;
  trialsPerCell: number | null;
  sliceMs: number;
  chunkTrials: number;
  checkpointMs: number;
  watchdogMs: number;
  /** Each new machine runs its first cell this long, uncounted, before it counts (JIT warm-up). */
  warmupMs?: number;
}

export interface RssSample {
  atS: number;
  rssMiB: number;
}

export interface StressResult {
  schema: 1;
  kind: "stress";
  /**
   * The version of tlbrace (package.json) that wrote it and, from a git checkout, its commit
   * (docs/outputs.md). Files written before: the version alone, as a string.
   */
  tlbrace: Provenance | string;
  command: string;
  machine: MachineInfo;
  startedAt: string;
  updatedAt: string;
  /** running: a checkpoint; done: ran to the end; stopped: SIGINT/SIGTERM (partial). */
  status: "running" | "done" | "stopped";
  partial: boolean;
  mode: Mode;
  seed: number;
  shard: Shard;
  plan: StressPlan;
  scenarios: ScenarioVersion[];
  elapsedMs: number;
  totals: {
    trials: number;
    forbiddenTrials: number;
    harnessErrors: number;
    contradictions: number;
    trialsPerSecond: number;
    /** Planned trials never run because their cell was quarantined. */
    droppedTrials: number;
  };
  cells: CellSummary[];
  errors: HarnessError[];
  resources: {
    /** SharedArrayBuffer bytes of one machine, per CPU count used. */
    bufferBytes: Record<string, number>;
    rss: RssSample[];
    /**
     * The process's CPU time (user + system, every thread) over the elapsed time: how many cores
     * the run kept busy. Absent in merged results.
     */
    coresBusy?: number;
    /** Cores of this host (os.availableParallelism()). */
    cores?: number;
  };
  /** Set by `tlbrace merge`: the files merged, one per shard run. */
  merged?: { file: string; shard: Shard; seed: number; startedAt: string; partial: boolean }[];
}

/**
 * A cell's verdict. A fixed kernel ("clean") showing a forbidden outcome is a regression; a
 * buggy kernel ("forbidden") that never lost over a widened run is a broken reproducer. At
 * natural timing the window may be too narrow to hit, so the latter is no contradiction.
 */
export function cellVerdict(
  expected: Verdict,
  trials: number,
  forbidden: number,
  mode: Mode,
): CellVerdict {
  if (trials === 0) return "not run";
  if (expected === "either") return "either";
  if (expected === "clean") return forbidden === 0 ? "ok" : "CONTRADICTS";
  if (forbidden > 0) return "ok";
  return mode === "natural" ? "not shown (natural timing)" : "CONTRADICTS";
}

export function summarizeCell(c: CellCounts, mode: Mode): CellSummary {
  return {
    ...c,
    rate: c.trials > 0 ? rateInterval(c.forbiddenTrials, c.trials) : null,
    verdict: cellVerdict(c.expected, c.trials, c.forbiddenTrials, mode),
  };
}

/** Recompute totals, rates and verdicts from the cells' counts. */
export function finishTotals(r: StressResult): void {
  r.cells = r.cells.map((c) => summarizeCell(c, r.mode));
  const trials = r.cells.reduce((s, c) => s + c.trials, 0);
  r.totals = {
    trials,
    forbiddenTrials: r.cells.reduce((s, c) => s + c.forbiddenTrials, 0),
    harnessErrors: r.errors.length,
    contradictions: r.cells.filter((c) => c.verdict === "CONTRADICTS").length,
    trialsPerSecond: r.elapsedMs > 0 ? Math.round((trials / r.elapsedMs) * 1000) : 0,
    droppedTrials: r.totals.droppedTrials,
  };
}

export function emptyCell(scenario: string, kernel: string, expected: Verdict): CellCounts {
  return {
    scenario,
    kernel,
    expected,
    trials: 0,
    forbiddenTrials: 0,
    lostWrites: 0,
    useAfterFree: 0,
    faults: 0,
    outcomes: {},
    slices: 0,
    machineMs: 0,
    firstForbidden: null,
    quarantined: false,
  };
}

/** Add b's counts into a (same cell). */
export function addCounts(a: CellCounts, b: CellCounts): void {
  a.trials += b.trials;
  a.forbiddenTrials += b.forbiddenTrials;
  a.lostWrites += b.lostWrites;
  a.useAfterFree += b.useAfterFree;
  a.faults += b.faults;
  a.slices += b.slices;
  a.machineMs = Math.round((a.machineMs + b.machineMs) * 10) / 10;
  for (const [k, n] of Object.entries(b.outcomes)) a.outcomes[k] = (a.outcomes[k] ?? 0) + n;
  a.firstForbidden ??= b.firstForbidden;
  a.quarantined ||= b.quarantined;
  if (b.windowHits !== undefined) a.windowHits = (a.windowHits ?? 0) + b.windowHits;
}
