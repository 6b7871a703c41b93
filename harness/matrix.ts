/**
 * `tlbrace matrix`: every scenario on every kernel variant, widened by default. The table shows
 * at a glance which fix closes which window, including the ones a fix did not close.
 */
import { KERNELS } from "../lib/kernels/index.js";
import { parseDuration } from "../lib/units.js";
import type { Arch, ScenarioSpec, Verdict } from "../lib/scenarios/types.js";
import { expectedVerdict, verdictMatches } from "../lib/scenarios/verdict.js";
import { table } from "./format.js";
import { runScenario } from "./run.js";
import type { MachineInfo } from "./sysinfo.js";
import { machineInfo } from "./sysinfo.js";
import type { Provenance } from "./results.js";

export interface MatrixCell {
  scenario: string;
  kernel: string;
  /** The modelled arch (absent in older results: the scenario's own). */
  arch?: Arch;
  trials: number;
  lostWrites: number;
  useAfterFree: number;
  /** Trials with a forbidden outcome of any kind (absent in older results: lost + UAF). */
  forbidden?: number;
  faults: number;
  expected: Verdict;
  matches: boolean;
  trialsPerSecond: number;
  delays: Record<string, string>;
  /**
   * Natural timing: a buggy kernel that showed nothing. Its window may be too narrow to hit
   * unwidened, so this is no contradiction (`matches` stays true), as stress's verdict says.
   */
  notShown?: boolean;
  /** The scenario parameters the cell ran at (natural: the scenario's "natural" ones). */
  params?: Record<string, number>;
  /** Window coverage: trials whose racing step began inside the window (absent in older results). */
  window?: { hits: number; trials: number };
  /** "window" or "uniform" start offsets. */
  offsets?: "window" | "uniform";
}

export interface MatrixResult {
  schema: 1;
  /** tlbrace's version and commit (docs/outputs.md); absent in results written before. */
  tlbrace?: Provenance;
  kind: "matrix";
  command: string;
  seed: number;
  machine: MachineInfo;
  natural: boolean;
  trialsPerCell: number;
  startedAt: string;
  partial: boolean;
  cells: MatrixCell[];
}

export interface MatrixOptions {
  scenarios: ScenarioSpec[];
  kernels: string[];
  trials: number;
  natural: boolean;
  /** Archs to run each scenario on (default: each scenario's own). */
  archs?: Arch[];
  seed: number;
  watchdogMs: number;
  command: string;
  stopRequested?: Promise<void>;
  onCell?: (cell: MatrixCell) => void;
}

export function widenDelays(s: ScenarioSpec): Map<string, number> {
  return new Map(
    Object.entries(s.widen).map(([p, d]) => [p, parseDuration(d, `${s.name} widen ${p}`)]),
  );
}

export async function matrix(o: MatrixOptions): Promise<MatrixResult> {
  const result: MatrixResult = {
    schema: 1,
    kind: "matrix",
    command: o.command,
    seed: o.seed,
    machine: machineInfo(),
    natural: o.natural,
    trialsPerCell: o.trials,
    startedAt: new Date().toISOString(),
    partial: false,
    cells: [],
  };
  let stopped = false;
  void o.stopRequested?.then(() => (stopped = true));
  for (const s of o.scenarios)
    for (const arch of o.archs ?? [s.arch ?? "x86"]) {
      if (stopped) break;
      const r = await runScenario({
        arch,
        scenario: s,
        kernels: o.kernels,
        trials: o.trials,
        durationMs: 0,
        cpus: s.cpus.length,
        // At natural timing each scenario runs at the parameters its file declares for it.
        params: o.natural ? { ...(s.natural ?? {}) } : {},
        delays: o.natural ? new Map<string, number>() : widenDelays(s),
        seed: o.seed,
        watchdogMs: o.watchdogMs,
        command: o.command,
        stopRequested: o.stopRequested,
      });
      if (r.partial) stopped = true;
      for (const run of r.runs) {
        const expected = expectedVerdict(s, run.kernel, arch);
        const cell: MatrixCell = {
          scenario: s.name,
          kernel: run.kernel,
          arch,
          trials: run.trials,
          lostWrites: run.lostWrites,
          useAfterFree: run.useAfterFree,
          forbidden: run.forbiddenTrials,
          faults: run.faults,
          expected,
          matches:
            verdictMatches(expected, run.forbiddenTrials) ||
            (o.natural && expected === "forbidden" && run.forbiddenTrials === 0),
          trialsPerSecond: run.trialsPerSecond,
          delays: run.delays,
          params: r.params,
          offsets: r.offsetMode ?? "uniform",
        };
        if (o.natural && expected === "forbidden" && run.forbiddenTrials === 0)
          cell.notShown = true;
        if (run.window !== undefined)
          cell.window = { hits: run.window.hits, trials: run.window.trials };
        result.cells.push(cell);
        o.onCell?.(cell);
      }
    }
  result.partial = stopped;
  return result;
}

function cellText(c: MatrixCell): string {
  const seen =
    c.lostWrites > 0
      ? `${c.lostWrites} lost`
      : c.useAfterFree > 0
        ? `${c.useAfterFree} UAF`
        : (c.forbidden ?? 0) > 0
          ? `${c.forbidden ?? 0} forbidden`
          : `none (${c.faults} flt)`;
  const win = c.window === undefined ? "" : ` [${c.window.hits} in window]`;
  const verdict =
    c.expected === "either"
      ? "(residual)"
      : c.notShown === true
        ? "not shown"
        : c.matches
          ? "ok"
          : "MISMATCH";
  return `${seen}${win} ${verdict}`;
}

export function formatMatrix(m: MatrixResult): string {
  const kernels = KERNELS.map((k) => k.name).filter((k) => m.cells.some((c) => c.kernel === k));
  // One row per scenario and arch ("scenario" alone in results from before the arch column).
  const rows = [...new Set(m.cells.map((c) => `${c.scenario}\t${c.arch ?? ""}`))].map((r) => {
    const [scenario = "", arch = ""] = r.split("\t");
    return { scenario, arch };
  });
  const grid = table([
    ["scenario", "arch", ...kernels],
    ...rows.map(({ scenario: s, arch }) => [
      s,
      arch || "-",
      ...kernels.map((k) => {
        const c = m.cells.find(
          (x) => x.scenario === s && (x.arch ?? "") === arch && x.kernel === k,
        );
        return c === undefined ? "-" : cellText(c);
      }),
    ]),
  ]);
  const mismatches = m.cells.filter((c) => !c.matches);
  return (
    `matrix: ${m.trialsPerCell.toLocaleString("en-US")} trials per cell, ${m.natural ? "natural timing" : "windows widened (each scenario's widen delays)"}, seed ${m.seed}\n` +
    `cell: trials with lost writes, or with use-after-free accesses (UAF), or "none" with the trials that faulted instead; [N in window] = trials whose racing step began inside the scenario's window; ok = as kernel history says; not shown = a buggy kernel that lost nothing at natural timing (no contradiction: its window may be too narrow to hit unwidened); (residual) = a narrower window stays open, either is right\n` +
    (m.natural
      ? `natural timing: no injected delay, window-aware start offsets, each scenario at its declared natural parameters (${[
          ...new Set(
            m.cells.map(
              (c) =>
                `${c.scenario} ${Object.entries(c.params ?? {})
                  .map(([k, v]) => `${k}=${v}`)
                  .join(" ")}`,
            ),
          ),
        ].join("; ")})\n`
      : "") +
    `\n` +
    grid +
    `\n\n${mismatches.length === 0 ? "every cell matches kernel history" : `${mismatches.length} cell(s) contradict kernel history`}` +
    (m.partial ? "\nPARTIAL: stopped early" : "")
  );
}
