/**
 * `tlbrace bench trials`: the harness's own speed. Trials/s of every scenario on each kernel it
 * compares, at natural timing on the CPUs the scenario needs; and the per-trial overhead of the
 * harness itself (reset, start barrier, end barrier, oracle), measured as an empty trial.
 */
import { formatNs } from "../../lib/units.js";
import type { ScenarioSpec } from "../../lib/scenarios/types.js";
import { table } from "../format.js";
import { runScenario } from "../run.js";
import { builtinScenarios, findScenario } from "../scenarios.js";
import { machineInfo, type MachineInfo } from "../sysinfo.js";
import { SILENT, type BenchControl } from "./control.js";
import type { Provenance } from "../results.js";

export interface TrialsRow {
  scenario: string;
  kernel: string;
  cpus: number;
  trials: number;
  trialsPerSecond: number;
  nsPerTrial: number;
}

export interface TrialsBenchResult {
  schema: 1;
  /** tlbrace's version and commit (docs/outputs.md); absent in results written before. */
  tlbrace?: Provenance;
  bench: "trials";
  command: string;
  machine: MachineInfo;
  quick: boolean;
  /** Stopped by Ctrl-C before every cell ran. */
  partial: boolean;
  secondsPerCell: number;
  startedAt: string;
  /** An empty 2-CPU trial: what the harness costs per trial by itself. */
  overhead: TrialsRow;
  /**
   * What recording window coverage costs: the seed at 1 page on v4.9-rc4, with and without its
   * window, in alternating runs (medians). Absent in results written before coverage existed.
   */
  coverage?: CoverageCost;
  rows: TrialsRow[];
}

export interface CoverageCost {
  scenario: string;
  kernel: string;
  pairs: number;
  withWindow: number;
  withoutWindow: number;
  /** (without - with) / without, in percent: what the coverage costs in trials/s. */
  costPercent: number;
}

/**
 * Coverage cost: the same scenario with and without its window (so no CPU notes anything),
 * uniform offsets both, alternating A/B so that drift on the host hits both alike.
 */
export async function coverageCost(
  pairs: number,
  seconds: number,
  command: string,
  ctl: BenchControl,
): Promise<CoverageCost> {
  const seed = findScenario("mremap-mkclean");
  const { window: _window, ...bare } = seed;
  void _window;
  const a: number[] = [];
  const b: number[] = [];
  for (let i = 0; i < pairs && !ctl.stopped(); i++) {
    a.push(
      (await measure(seed, ["v4.9-rc4"], 2, seconds, command, ctl)).rows[0]?.trialsPerSecond ?? 0,
    );
    b.push(
      (await measure(bare, ["v4.9-rc4"], 2, seconds, command, ctl)).rows[0]?.trialsPerSecond ?? 0,
    );
  }
  const med = (xs: number[]): number => [...xs].sort((x, y) => x - y)[xs.length >> 1] ?? 0;
  const withWindow = med(a);
  const withoutWindow = med(b);
  return {
    scenario: seed.name,
    kernel: "v4.9-rc4",
    pairs: a.length,
    withWindow,
    withoutWindow,
    costPercent:
      withoutWindow > 0
        ? Math.round(((withoutWindow - withWindow) / withoutWindow) * 1000) / 10
        : 0,
  };
}

/** Two CPUs, no steps: a trial is reset, start barrier, end barrier and the oracle. */
const EMPTY: ScenarioSpec = {
  name: "(empty trial)",
  description: "no steps: the harness's own per-trial cost",
  source: "tlbrace bench trials",
  kernels: ["v4.9-rc4", "5d1904204c99"],
  params: { pages: { description: "pages", default: 1, min: 1, max: 1 } },
  cpus: [
    { name: "cpu 0", init: [], steps: [] },
    { name: "cpu 1", init: [], steps: [] },
  ],
  outcome: [],
  forbidden: [],
  lostWrite: [],
  widen: {},
};

async function measure(
  s: ScenarioSpec,
  kernels: string[],
  cpus: number,
  seconds: number,
  command: string,
  ctl: BenchControl,
): Promise<{ rows: TrialsRow[]; partial: boolean }> {
  const r = await runScenario({
    scenario: s,
    kernels,
    trials: 0,
    durationMs: seconds * 1000,
    cpus,
    params: {},
    delays: new Map(),
    seed: 1,
    // The same blind sweep every cell, so that figures compare across scenarios and versions.
    offsets: "uniform",
    watchdogMs: 10_000,
    command,
    stopRequested: ctl.stopRequested,
  });
  const rows = r.runs.map((run) => ({
    scenario: s.name,
    kernel: run.kernel,
    cpus,
    trials: run.trials,
    trialsPerSecond: run.trialsPerSecond,
    nsPerTrial: run.trialsPerSecond > 0 ? Math.round(1e9 / run.trialsPerSecond) : 0,
  }));
  return { rows, partial: r.partial };
}

/**
 * Every scenario on each of its kernels at the CPUs it needs, and again at `cpus` (default: the
 * core count) when that is more: the extra CPUs run threads of the mm that only answer IPIs.
 */
export async function trialsBench(
  quick: boolean,
  command: string,
  cpus: number,
  ctl: BenchControl = SILENT,
): Promise<TrialsBenchResult> {
  const startedAt = new Date().toISOString();
  const secondsPerCell = quick ? 0.3 : 2;
  const cells: [ScenarioSpec, number][] = [];
  for (const s of builtinScenarios()) {
    cells.push([s, s.cpus.length]);
    if (cpus > s.cpus.length) cells.push([s, cpus]);
  }
  const total = 1 + cells.length;
  ctl.stage(
    `bench trials: the empty trial and ${cells.length} cells, ${secondsPerCell} s per kernel`,
  );
  const empty = await measure(EMPTY, ["v4.9-rc4"], 2, secondsPerCell, command, ctl);
  const [overhead] = empty.rows;
  if (overhead === undefined) throw new Error("bench trials: no overhead run");
  ctl.progress("  (empty trial)", 1, total);
  let partial = empty.partial;
  const rows: TrialsRow[] = [];
  for (const [i, [s, n]] of cells.entries()) {
    if (ctl.stopped()) {
      partial = true;
      break;
    }
    const m = await measure(s, [...s.kernels], n, secondsPerCell, command, ctl);
    rows.push(...m.rows);
    partial ||= m.partial;
    ctl.progress(`  ${s.name}, ${n} CPUs`, i + 2, total);
  }
  ctl.stage(`  window coverage cost: mremap-mkclean with and without its window`);
  const coverage = ctl.stopped()
    ? undefined
    : await coverageCost(quick ? 1 : 5, secondsPerCell, command, ctl);
  ctl.done();
  return {
    schema: 1,
    bench: "trials",
    coverage,
    command,
    machine: machineInfo(),
    quick,
    partial,
    secondsPerCell,
    startedAt,
    overhead,
    rows,
  };
}

export function formatTrialsBench(r: TrialsBenchResult): string {
  return (
    `bench trials: natural timing, ${r.secondsPerCell} s per cell, ${r.machine.cores} cores (${r.machine.cpuModel}), Node ${r.machine.node}\n` +
    `harness overhead (an empty 2-CPU trial: reset, two barriers, oracle): ${formatNs(r.overhead.nsPerTrial)} per trial (${r.overhead.trialsPerSecond.toLocaleString("en-US")} trials/s)\n\n` +
    table(
      [
        ["scenario", "kernel", "CPUs", "trials", "trials/s", "per trial"],
        ...r.rows.map((x) => [
          x.scenario,
          x.kernel,
          String(x.cpus),
          x.trials.toLocaleString("en-US"),
          x.trialsPerSecond.toLocaleString("en-US"),
          formatNs(x.nsPerTrial),
        ]),
      ],
      [false, false, true, true, true, true],
    ) +
    (r.coverage === undefined
      ? ""
      : `\n\nwindow coverage: ${r.coverage.scenario} on ${r.coverage.kernel}, ${r.coverage.withWindow.toLocaleString("en-US")} trials/s recording it, ${r.coverage.withoutWindow.toLocaleString("en-US")} without (median of ${r.coverage.pairs} alternating pairs): costs ${r.coverage.costPercent}%`) +
    (r.partial ? "\nPARTIAL: stopped before every cell ran" : "")
  );
}
