/**
 * `tlbrace bench trials`: the harness's own speed. Trials/s of every scenario on each kernel it
 * compares, at natural timing on the CPUs the scenario needs; and the per-trial overhead of the
 * harness itself (reset, start barrier, end barrier, oracle), measured as an empty trial.
 */
import { formatNs } from "../../lib/units.js";
import type { ScenarioSpec } from "../../lib/scenarios/types.js";
import { table } from "../format.js";
import { runScenario } from "../run.js";
import { builtinScenarios } from "../scenarios.js";
import { machineInfo, type MachineInfo } from "../sysinfo.js";

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
  bench: "trials";
  command: string;
  machine: MachineInfo;
  quick: boolean;
  secondsPerCell: number;
  startedAt: string;
  /** An empty 2-CPU trial: what the harness costs per trial by itself. */
  overhead: TrialsRow;
  rows: TrialsRow[];
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
  seconds: number,
  command: string,
): Promise<TrialsRow[]> {
  const r = await runScenario({
    scenario: s,
    kernels,
    trials: 0,
    durationMs: seconds * 1000,
    cpus: s.cpus.length,
    params: {},
    delays: new Map(),
    seed: 1,
    watchdogMs: 10_000,
    command,
  });
  return r.runs.map((run) => ({
    scenario: s.name,
    kernel: run.kernel,
    cpus: s.cpus.length,
    trials: run.trials,
    trialsPerSecond: run.trialsPerSecond,
    nsPerTrial: run.trialsPerSecond > 0 ? Math.round(1e9 / run.trialsPerSecond) : 0,
  }));
}

export async function trialsBench(quick: boolean, command: string): Promise<TrialsBenchResult> {
  const startedAt = new Date().toISOString();
  const secondsPerCell = quick ? 0.3 : 2;
  const [overhead] = await measure(EMPTY, ["v4.9-rc4"], secondsPerCell, command);
  if (overhead === undefined) throw new Error("bench trials: no overhead run");
  const rows: TrialsRow[] = [];
  for (const s of builtinScenarios())
    rows.push(...(await measure(s, [...s.kernels], secondsPerCell, command)));
  return {
    schema: 1,
    bench: "trials",
    command,
    machine: machineInfo(),
    quick,
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
    )
  );
}
