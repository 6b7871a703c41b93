/** Terminal text for stress runs: rates with intervals, the per-cell table, progress lines. */
import type { RateInterval } from "../../lib/stats/intervals.js";
import { formatNs } from "../../lib/units.js";
import { table } from "../format.js";
import type { HarnessError, StressPlan, StressResult } from "./result.js";

const num = (n: number): string => n.toLocaleString("en-US");

/** 3.2M, 41k, 950. */
export function compact(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(n >= 1e7 ? 0 : 1)}M`;
  if (n >= 1e4) return `${(n / 1e3).toFixed(0)}k`;
  return String(n);
}

/** Two significant digits: 0.48, 0.0030, then 9.4e-7 below 0.001. */
const sci = (x: number): string =>
  x === 0 ? "0" : x >= 1e-3 ? x.toPrecision(2) : x.toExponential(1);

/**
 * "0 in 3.2M trials: rate < 9.4e-7 at 95%" for nothing seen (the one-sided bound is what a
 * "fixed" verdict may quote); "0.48 (0.45 to 0.51)" otherwise, the Wilson 95% interval.
 */
export function formatRate(r: RateInterval | null): string {
  if (r === null) return "-";
  if (r.events === 0)
    return `0 in ${compact(r.trials)} trial${r.trials === 1 ? "" : "s"}: rate < ${sci(r.high)} at 95%`;
  return `${sci(r.rate)} (${sci(r.low)} to ${sci(r.high)})`;
}

const EXPECTED = {
  forbidden: "shows the race",
  clean: "never",
  either: "either (residual)",
};

/** "1 machine of 2 CPUs, then 2 of 3 CPUs", or "M machine(s) of C CPUs" in older results. */
export function machinesText(plan: StressPlan): string {
  const by = Object.entries(plan.machinesByCpus ?? {});
  if (by.length === 0)
    return `${plan.machines} machine(s) of ${plan.cpus ?? "each scenario's"} CPUs`;
  return by
    .map(
      ([cpus, m], i) =>
        `${m}${i === 0 ? (m === 1 ? " machine" : " machines") : ""} of ${cpus} CPUs`,
    )
    .join(", then ");
}

export function formatStress(r: StressResult): string {
  const head =
    `stress: ${r.cells.length} cells, ${r.mode === "widened" ? "windows widened" : "natural timing"}, ` +
    `${machinesText(r.plan)}, ` +
    (r.merged !== undefined
      ? `${r.merged.length} shard runs merged, `
      : `shard ${r.shard.index}/${r.shard.count}, seed ${r.seed}, `) +
    formatNs(r.elapsedMs * 1e6) +
    (r.partial ? `\nPARTIAL: ${r.status === "stopped" ? "stopped early" : "a checkpoint"}` : "");
  const rows = [
    [
      "scenario",
      "kernel",
      "trials",
      "in window",
      "forbidden",
      "rate (95% interval)",
      "expected",
      "verdict",
    ],
    ...r.cells.map((c) => [
      c.scenario,
      c.kernel,
      num(c.trials),
      c.windowHits === undefined ? "-" : num(c.windowHits),
      num(c.forbiddenTrials),
      formatRate(c.rate),
      EXPECTED[c.expected],
      c.verdict === "ok" ? "OK" : c.verdict + (c.quarantined ? " (quarantined)" : ""),
    ]),
  ];
  const t = r.totals;
  const lines = [
    head,
    "",
    table(rows, [false, false, true, true, true]),
    "",
    `${num(t.trials)} trials (${num(t.trialsPerSecond)}/s), ${num(t.forbiddenTrials)} forbidden; ` +
      `harness errors: ${t.harnessErrors} (not counted as outcomes)` +
      (t.droppedTrials > 0 ? `; ${num(t.droppedTrials)} planned trials dropped` : ""),
  ];
  if (r.resources.coresBusy !== undefined)
    lines.push(
      `cores busy: ${r.resources.coresBusy.toFixed(2)} of ${r.resources.cores ?? "?"} (CPU time of every thread over wall time)`,
    );
  if (r.cells.some((c) => c.verdict === "not shown (natural timing)"))
    lines.push(
      "not shown (natural timing): a buggy kernel's window is too narrow to hit unwidened; no contradiction",
    );
  lines.push(
    t.contradictions === 0
      ? "every cell agrees with its expected verdict"
      : `${t.contradictions} cell(s) CONTRADICT their expected verdict`,
  );
  return lines.join("\n");
}

/** One line per fault, for stderr; a stall adds a line per CPU. */
export function formatError(e: HarnessError): string {
  const where = `${e.scenario} on ${e.kernel}, seed ${e.seed}, trial ${e.trial ?? "-"}, machine ${e.slot}`;
  const kind = {
    "cpu-threw": "a CPU threw",
    "worker-died": "a worker died",
    stall: "machine stalled",
    harness: "harness error",
  }[e.kind];
  let s = `tlbrace: ${kind} (${where}): ${e.message}; machine replaced, run goes on`;
  for (const st of e.states ?? [])
    s += `\n  CPU ${st.cpu}: ${st.waiting}; in ${st.stepName ?? st.step}; last named point ${st.point}; ${st.trials} trials done`;
  return s;
}

/** The non-TTY progress line, once per checkpoint. */
export function checkpointLine(r: StressResult, path: string, ok: boolean): string {
  const forbidden = r.cells.filter((c) => c.forbiddenTrials > 0).length;
  return (
    `checkpoint ${formatNs(r.elapsedMs * 1e6)}: ${num(r.totals.trials)} trials ` +
    `(${num(r.totals.trialsPerSecond)}/s), ${num(r.totals.forbiddenTrials)} forbidden in ${forbidden} cell(s), ` +
    `${r.totals.harnessErrors} harness error(s) -> ${ok ? path : "NOT WRITTEN"}`
  );
}

/** The live TTY view: a header and a line per cell. */
export function liveLines(r: StressResult, totalMs: number | null): string[] {
  const head =
    `stress ${formatNs(r.elapsedMs * 1e6)}${totalMs === null ? "" : ` of ${formatNs(totalMs * 1e6)}`}: ` +
    `${num(r.totals.trials)} trials, ${num(r.totals.trialsPerSecond)}/s, ` +
    (r.resources.coresBusy !== undefined
      ? `${r.resources.coresBusy.toFixed(2)} cores busy, `
      : "") +
    `${r.totals.harnessErrors} harness error(s)`;
  const rows = r.cells.map((c) => [
    `  ${c.scenario}`,
    c.kernel,
    num(c.trials),
    `${num(c.forbiddenTrials)} forbidden`,
    // Mid-run only a fixed kernel's loss is final; a buggy one may still lose later.
    c.expected === "clean" && c.forbiddenTrials > 0 ? "CONTRADICTS" : "",
  ]);
  return [head, ...table(rows, [false, false, true, true]).split("\n")];
}
