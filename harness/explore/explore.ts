/**
 * `tlbrace explore`: the same CPU code on the same workers, one CPU at a time, in orders chosen
 * by a strategy (dfs, pct, random). Reports schedules explored and either the first violation
 * (with its trace and replay token) or what was covered without one.
 */
import { KERNELS, type Kernel } from "../../lib/kernels/index.js";
import {
  ARM64_MAX_TLB_RANGE_PAGES,
  tlb_single_page_flush_ceiling,
} from "../../lib/mmu/shootdown.js";
import { compile, type Compiled } from "../../lib/scenarios/compile.js";
import type { ScenarioSpec } from "../../lib/scenarios/types.js";
import type { TraceEvent } from "../../lib/trace/ring.js";
import { Machine, type BatchConfig } from "../machine.js";
import { machineInfo, type MachineInfo } from "../sysinfo.js";
import { runControlled, type ControlledTrial } from "./controlled.js";
import { DporSearch } from "./dpor.js";
import { packTrace, type PackedEvent } from "./explain.js";
import { nextPrefix, pctChooser, prefixChooser, randomChooser, rng } from "./strategies.js";
import { encodeChoices, encodeToken, kernelFingerprint, scenarioFingerprint } from "./token.js";
import type { Provenance } from "../results.js";

export type Strategy = "dfs" | "dpor" | "pct" | "random";

export interface ExploreOptions {
  scenario: ScenarioSpec;
  kernel: string;
  strategy: Strategy;
  /** dfs: the preemption bound P (dpor has none). */
  bound: number;
  /** pct: the bug depth d. */
  depth: number;
  /** Stop after this many schedules (0: no limit) or this long (0: no limit). */
  budgetSchedules: number;
  budgetMs: number;
  seed: number;
  params: Record<string, number>;
  arch?: "x86" | "arm64";
  command: string;
  /** Go on after the first violation, counting every schedule's outcome. */
  keepGoing?: boolean;
  onProgress?: (schedules: number) => void;
  stopRequested?: () => boolean;
}

export interface Violation {
  /** 1-based: the schedule that showed it. */
  schedule: number;
  preemptions: number;
  steps: number;
  lostWrites: number;
  useAfterFree: number;
  outcome: string;
  token: string;
  trace: PackedEvent[];
}

export interface ExploreResult {
  schema: 1;
  /** tlbrace's version and commit (docs/outputs.md); absent in results written before. */
  tlbrace?: Provenance;
  kind: "explore";
  command: string;
  machine: MachineInfo;
  /** When the exploration started (ISO 8601); absent in results written before it was kept. */
  startedAt: string;
  scenario: string;
  kernel: string;
  commit: string;
  strategy: Strategy;
  bound: number;
  depth: number;
  seed: number;
  params: Record<string, number>;
  cpus: number;
  schedules: number;
  elapsedMs: number;
  schedulesPerSecond: number;
  /**
   * dfs: every schedule with at most `bound` preemptions was run; dpor: every class of
   * equivalent schedules was (no budget cut either short).
   */
  exhaustive: boolean;
  /** dpor: executions a sleep set cut short, and races that added backtrack points. */
  sleepBlocked?: number;
  races?: number;
  /** dfs: schedules per preemption bound completed, [bound, schedules]. */
  perBound: [number, number][];
  /** Steps in the longest schedule. */
  maxSteps: number;
  partial: boolean;
  /**
   * Schedules per final outcome (label as in `run`). Absent in results written before the
   * tally existed (the reference explorations of issue 5's first round).
   */
  outcomes?: Record<string, number>;
  /** Schedules with a forbidden outcome (more than 1 only with keepGoing); absent as above. */
  violations?: number;
  /** The first violation found. */
  violation: Violation | null;
}

export function findKernel(name: string): Kernel {
  const k = KERNELS.find((x) => x.name === name);
  if (k === undefined) throw new Error(`unknown kernel ${name}`);
  return k;
}

/** A machine loaded with the scenario, ready for controlled trials. */
export async function controlledMachine(
  s: ScenarioSpec,
  params: Record<string, number>,
  kernel: string,
  arch: "x86" | "arm64" | undefined,
  footprints = false,
): Promise<{ machine: Machine; compiled: Compiled; cfg: BatchConfig }> {
  const compiled = compile(s, params);
  const machine = await Machine.start(s.cpus.length, { footprints });
  machine.load(compiled.image);
  const a = arch ?? s.arch ?? "x86";
  const cfg: BatchConfig = {
    kernel: KERNELS.findIndex((k) => k.name === kernel),
    trials: 1,
    durationMs: 0,
    seed: 1,
    offsetMaxNs: 0,
    delaysNs: new Map(), // widening delays mean nothing when one CPU runs at a time
    flushCeiling: a === "arm64" ? ARM64_MAX_TLB_RANGE_PAGES : tlb_single_page_flush_ceiling,
    arch: a,
  };
  return { machine, compiled, cfg };
}

export function outcomeLabel(compiled: Compiled, outcomes: number[]): string {
  const i = outcomes.findIndex((n) => n > 0);
  return compiled.outcomeLabels[i] ?? "?";
}

export async function explore(o: ExploreOptions): Promise<ExploreResult> {
  const s = o.scenario;
  const kernel = findKernel(o.kernel);
  const footprints = o.strategy === "dpor";
  const { machine, compiled, cfg } = await controlledMachine(
    s,
    o.params,
    o.kernel,
    o.arch,
    footprints,
  );
  let sleepBlocked: number | undefined;
  let races: number | undefined;
  const n = s.cpus.length;
  const startedAt = new Date().toISOString();
  const t0 = performance.now();
  let schedules = 0;
  let maxSteps = 0;
  let violation: Violation | null = null;
  let exhaustive = false;
  let partial = false;
  const perBound: [number, number][] = [];
  const random = rng(o.seed);
  const outOfBudget = (): boolean =>
    (o.budgetSchedules > 0 && schedules >= o.budgetSchedules) ||
    (o.budgetMs > 0 && performance.now() - t0 >= o.budgetMs) ||
    (o.stopRequested?.() ?? false);
  const outcomes: Record<string, number> = {};
  let violations = 0;
  const check = (r: ControlledTrial): boolean => {
    schedules++;
    maxSteps = Math.max(maxSteps, r.decisions.length);
    o.onProgress?.(schedules);
    const label = outcomeLabel(compiled, r.stats.outcomes);
    outcomes[label] = (outcomes[label] ?? 0) + 1;
    if (r.stats.forbiddenTrials === 0) return false;
    violations++;
    if (violation !== null) return false; // keepGoing: the first one is kept
    const choices = r.decisions.map((d) => d.chosen);
    violation = {
      schedule: schedules,
      preemptions: r.preemptions,
      steps: r.decisions.length,
      lostWrites: r.stats.lostWrites,
      useAfterFree: r.stats.useAfterFree,
      outcome: outcomeLabel(compiled, r.stats.outcomes),
      token: encodeToken({
        v: 1,
        s: s.name,
        sh: scenarioFingerprint(s),
        k: kernel.name,
        kh: kernelFingerprint(kernel),
        p: compiled.params,
        n,
        a: o.arch ?? s.arch ?? "x86",
        ...(footprints ? { f: 1 as const } : {}),
        x: encodeChoices(choices),
      }),
      trace: packTrace(r.trace),
    };
    return o.keepGoing !== true;
  };
  try {
    if (o.strategy === "dfs") {
      exhaustive = true;
      search: for (let bound = 0; bound <= o.bound; bound++) {
        let prefix: number[] | null = [];
        const tried: Set<number>[] = [];
        let inBound = 0;
        while (prefix !== null) {
          if (outOfBudget()) {
            exhaustive = false;
            partial = o.stopRequested?.() ?? false;
            break search;
          }
          const r = await runControlled(machine, cfg, n, prefixChooser(prefix));
          inBound++;
          if (check(r)) break search;
          prefix = nextPrefix(r.decisions, tried, bound);
        }
        perBound.push([bound, inBound]);
      }
      if (violation !== null && o.keepGoing !== true) exhaustive = false;
    } else if (o.strategy === "dpor") {
      const d = new DporSearch(n);
      exhaustive = true;
      do {
        if (outOfBudget()) {
          exhaustive = false;
          partial = o.stopRequested?.() ?? false;
          break;
        }
        d.begin();
        const r = await runControlled(machine, cfg, n, d.chooser, {
          footprints: true,
          observe: d.observe,
        });
        // A run a sleep set cut short is still a real run: its outcome counts too.
        if (check(r)) break;
      } while (d.advance());
      if (violation !== null && o.keepGoing !== true) exhaustive = false;
      sleepBlocked = d.sleepBlocked;
      races = d.races;
    } else {
      // k for PCT: the length of a default (non-preemptive) schedule.
      const first = await runControlled(machine, cfg, n, prefixChooser([]));
      if (!check(first)) {
        const k = first.decisions.length;
        while (!outOfBudget()) {
          const choose =
            o.strategy === "pct" ? pctChooser(n, k, o.depth, random) : randomChooser(random);
          if (check(await runControlled(machine, cfg, n, choose))) break;
        }
        partial = o.stopRequested?.() ?? false;
      }
    }
  } finally {
    await machine.close();
  }
  const elapsedMs = performance.now() - t0;
  return {
    schema: 1,
    kind: "explore",
    command: o.command,
    machine: machineInfo(),
    startedAt,
    scenario: s.name,
    kernel: kernel.name,
    commit: kernel.commit,
    strategy: o.strategy,
    bound: o.bound,
    depth: o.depth,
    seed: o.seed,
    params: compiled.params,
    cpus: n,
    schedules,
    elapsedMs: Math.round(elapsedMs),
    schedulesPerSecond: Math.round((schedules / elapsedMs) * 1000),
    exhaustive,
    ...(sleepBlocked !== undefined ? { sleepBlocked, races } : {}),
    perBound,
    maxSteps,
    partial,
    outcomes,
    violations,
    violation,
  };
}

export type { TraceEvent };
