/**
 * `tlbrace bench window`: the race window of a scenario on its buggy and fixed kernels. The
 * forbidden-outcome rate against the delay injected at the scenario's first widening point
 * (0 to 200 us), and against a fixed start offset of CPU 1 relative to CPU 0 (with the window
 * widened): where the window lies and how wide it is, and that the fixed kernel stays at zero.
 */
import { parseDuration } from "../../lib/units.js";
import type { ScenarioSpec } from "../../lib/scenarios/types.js";
import { table } from "../format.js";
import { widenDelays } from "../matrix.js";
import { runScenario } from "../run.js";
import { machineInfo, type MachineInfo } from "../sysinfo.js";
import { SILENT, type BenchControl } from "./control.js";
import type { Provenance } from "../results.js";

export const WINDOW_DELAYS_US = [0, 5, 10, 25, 50, 100, 150, 200];
export const WINDOW_OFFSETS_US = [-100, -50, -20, -10, 0, 10, 20, 50, 100];

export interface WindowPoint {
  kernel: string;
  sweep: "delay" | "offset";
  /** Injected delay (sweep "delay") or CPU 1's start offset (sweep "offset"), in us. */
  us: number;
  trials: number;
  forbidden: number;
  rate: number;
}

export interface WindowBenchResult {
  schema: 1;
  /** tlbrace's version and commit (docs/outputs.md); absent in results written before. */
  tlbrace?: Provenance;
  bench: "window";
  command: string;
  machine: MachineInfo;
  scenario: string;
  point: string;
  quick: boolean;
  /** Stopped by Ctrl-C before every point ran. */
  partial: boolean;
  trialsPerPoint: number;
  startedAt: string;
  points: WindowPoint[];
}

export async function windowBench(
  s: ScenarioSpec,
  quick: boolean,
  command: string,
  ctl: BenchControl = SILENT,
): Promise<WindowBenchResult> {
  const startedAt = new Date().toISOString();
  const trials = quick ? 150 : 1500;
  const widen = widenDelays(s);
  const [point] = [...widen.keys()];
  if (point === undefined) throw new Error(`${s.name} has no widening point`);
  const points: WindowPoint[] = [];
  const total = WINDOW_DELAYS_US.length + WINDOW_OFFSETS_US.length;
  let done = 0;
  let partial = false;
  ctl.stage(`bench window: ${s.name}, ${total} points x ${s.kernels.length} kernels`);
  const run = async (
    sweep: WindowPoint["sweep"],
    us: number,
    delays: Map<string, number>,
    fixedOffsetNs?: number,
  ): Promise<void> => {
    const r = await runScenario({
      scenario: s,
      kernels: [...s.kernels],
      trials,
      durationMs: 0,
      cpus: s.cpus.length,
      params: {},
      delays,
      seed: 1,
      watchdogMs: 10_000,
      command,
      fixedOffsetNs,
      warmupTrials: 200,
      stopRequested: ctl.stopRequested,
    });
    if (r.partial) partial = true;
    ctl.progress(`  ${sweep} ${us} us`, ++done, total);
    for (const x of r.runs) {
      points.push({
        kernel: x.kernel,
        sweep,
        us,
        trials: x.trials,
        forbidden: x.forbiddenTrials,
        rate: x.forbiddenTrials / x.trials,
      });
    }
  };
  for (const us of WINDOW_DELAYS_US) {
    if (ctl.stopped()) break;
    const delays = new Map(widen);
    if (us === 0) delays.delete(point);
    else delays.set(point, us * 1000);
    await run("delay", us, delays);
  }
  for (const us of WINDOW_OFFSETS_US) {
    if (ctl.stopped()) break;
    await run("offset", us, widen, us * 1000);
  }
  ctl.done();
  return {
    schema: 1,
    bench: "window",
    command,
    machine: machineInfo(),
    scenario: s.name,
    point,
    quick,
    partial: partial || done < total,
    trialsPerPoint: trials,
    startedAt,
    points,
  };
}

export function formatWindowBench(r: WindowBenchResult, s: ScenarioSpec): string {
  const [buggy, fixed] = s.kernels;
  const row = (sweep: WindowPoint["sweep"], us: number): string[] => {
    const at = (k: string): WindowPoint | undefined =>
      r.points.find((p) => p.sweep === sweep && p.us === us && p.kernel === k);
    const fmt = (p: WindowPoint | undefined): string =>
      p === undefined ? "-" : `${(p.rate * 100).toFixed(1)}% (${p.forbidden})`;
    return [
      sweep === "delay" ? `${us} us` : `${us > 0 ? "+" : ""}${us} us`,
      fmt(at(buggy)),
      fmt(at(fixed)),
    ];
  };
  const widen = Object.entries(s.widen)
    .map(([p, d]) => `${p}=${parseDuration(d, "widen") / 1000} us`)
    .join(", ");
  return (
    `bench window: ${r.scenario}, ${r.trialsPerPoint.toLocaleString("en-US")} trials per point, ${r.machine.cores} cores\n\n` +
    `forbidden-outcome rate against the delay injected at ${r.point} (other widening delays kept):\n` +
    table(
      [
        ["delay", buggy, fixed],
        ...[...new Set(r.points.filter((p) => p.sweep === "delay").map((p) => p.us))].map((us) =>
          row("delay", us),
        ),
      ],
      [true, true, true],
    ) +
    `\n\nforbidden-outcome rate against CPU 1's start offset relative to CPU 0 (widened: ${widen}):\n` +
    table(
      [
        ["CPU 1 starts", buggy, fixed],
        ...[...new Set(r.points.filter((p) => p.sweep === "offset").map((p) => p.us))].map((us) =>
          row("offset", us),
        ),
      ],
      [true, true, true],
    ) +
    (r.partial ? "\nPARTIAL: stopped before every point ran" : "")
  );
}
