/**
 * The result file (schema 1), documented in the README. Written atomically: a temp file in the
 * same directory, then rename, so a reader never sees half a file.
 */
import { mkdirSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { MachineInfo } from "./sysinfo.js";
import type { OffsetsReport } from "./aim.js";

export interface RunResult {
  kernel: string;
  commit: string;
  trials: number;
  lostWrites: number;
  faults: number;
  /** Trials with at least one use-after-free access (0 unless the scenario checks for them). */
  useAfterFree: number;
  firstUseAfterFreeTrial: number | null;
  /** Trials with a lost write or a use-after-free, each counted once. */
  forbiddenTrials: number;
  outcomes: Record<string, number>;
  forbiddenOutcomes: string[];
  trialsPerSecond: number;
  firstLostWriteMs: number | null;
  firstLostWriteTrial: number | null;
  elapsedMs: number;
  flushesPerTrial: number;
  ipisPerTrial: number;
  delays: Record<string, string>;
  /**
   * Window coverage (scenarios that name a window): of `trials`, how many began the racing step
   * while the window was open (`hits`), before it opened, after it closed, or never reached it.
   */
  window?: { hits: number; trials: number; before: number; after: number; missed: number };
  /** The start offsets this kernel ran with (absent in results written before window-aware offsets). */
  offsets?: OffsetsReport;
  /**
   * With --trace: the steps of the first trial with a forbidden outcome, as
   * [seq, cpu, kind, a, b] (see lib/machine/steps.ts); `tlbrace explain` draws it.
   */
  trace?: { trial: number; events: [number, number, number, number, number][] };
}

export interface ResultFile {
  schema: 1;
  scenario: string;
  command: string;
  seed: number;
  machine: MachineInfo;
  cpus: number;
  params: Record<string, number>;
  /** The modelled arch (absent in older results: the scenario's, else x86). */
  arch?: "x86" | "arm64";
  offsetMaxNs: number;
  /** "window" (window-aware, learnt per kernel: see each run's offsets) or "uniform". Absent in older results: uniform. */
  offsetMode?: "window" | "uniform";
  startedAt: string;
  partial: boolean;
  runs: RunResult[];
}

export function defaultResultPath(kind: string, name: string, when: Date): string {
  const stamp = when.toISOString().replace(/[:.]/g, "-");
  return join("results", `${kind}-${name}-${stamp}.json`);
}

export function writeJsonAtomic(path: string, data: unknown): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(data, null, 2) + "\n");
  renameSync(tmp, path);
}
