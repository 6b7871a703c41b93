/** Terminal tables for run results. */
import type { ResultFile } from "./results.js";
import { formatNs } from "../lib/units.js";

const num = (n: number): string => n.toLocaleString("en-US");

export function table(rows: string[][], alignRight: boolean[] = []): string {
  const widths = rows[0]?.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? "").length))) ?? [];
  return rows
    .map((r) =>
      r
        .map((cell, c) =>
          alignRight[c] ? cell.padStart(widths[c] ?? 0) : cell.padEnd(widths[c] ?? 0),
        )
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

export function formatRun(r: ResultFile): string {
  const delays = Object.entries(r.runs[0]?.delays ?? {})
    .map(([p, d]) => `${p}=${d}`)
    .join(", ");
  const head =
    `${r.scenario} on ${r.cpus} CPUs${r.arch !== undefined ? ` of a modelled ${r.arch}` : ""} (${r.machine.cores} cores, ${r.machine.cpuModel}, Node ${r.machine.node})\n` +
    `params: ${Object.entries(r.params)
      .map(([k, v]) => `${k}=${v}`)
      .join(
        " ",
      )}; delays: ${delays || "none (natural timing)"}; ${offsetsLine(r)}; seed ${r.seed}` +
    (r.partial ? "\nPARTIAL: stopped before the planned trials were run" : "");
  const main = table(
    [
      [
        "kernel",
        "trials",
        "lost writes",
        "faults",
        "trials/s",
        "first lost write",
        "in window",
        "flushes/trial",
      ],
      ...r.runs.map((run) => [
        run.kernel,
        num(run.trials),
        num(run.lostWrites),
        num(run.faults),
        num(run.trialsPerSecond),
        run.firstLostWriteMs === null
          ? "-"
          : `${formatNs(run.firstLostWriteMs * 1e6)} (trial ${num(run.firstLostWriteTrial ?? 0)})`,
        run.window === undefined ? "-" : num(run.window.hits),
        run.flushesPerTrial.toFixed(2),
      ]),
    ],
    [false, true, true, true, true, true, true, true],
  );
  const labels = [...new Set(r.runs.flatMap((run) => Object.keys(run.outcomes)))];
  const forbidden = new Set(r.runs.flatMap((run) => run.forbiddenOutcomes));
  const hist = table(
    [
      ["outcome", "", ...r.runs.map((run) => run.kernel)],
      ...labels.map((l) => [
        l,
        forbidden.has(l) ? "FORBIDDEN" : "",
        ...r.runs.map((run) => num(run.outcomes[l] ?? 0)),
      ]),
    ],
    [false, false, ...r.runs.map(() => true)],
  );
  const verdicts = r.runs.map(verdictLine).join("\n");
  return `${head}\n\n${main}\n\n${hist}\n\n${verdicts}\n`;
}

/** How the start offsets were drawn, for the header. */
function offsetsLine(r: ResultFile): string {
  if (r.offsetMode !== "window") return `start offsets 0-${formatNs(r.offsetMaxNs)} (uniform)`;
  const parts = r.runs.map((run) => {
    const l = run.offsets?.learned?.[run.offsets.learned.length - 1];
    if (l === undefined) return `${run.kernel}: ${run.offsets?.fallback ?? "uniform"}`;
    const again = run.offsets?.relearns ? `, re-learnt ${run.offsets.relearns}x` : "";
    return `${run.kernel}: window ${formatNs(l.openNs)}-${formatNs(l.closeNs)}, racing step at ${formatNs(l.raceNs)}, offsets ${formatNs(l.loNs)} to ${formatNs(l.hiNs)}${again}`;
  });
  return `window-aware start offsets (${parts.join("; ")})`;
}

/**
 * One line per kernel that says what the numbers mean: "0 lost in N trials, M of which put the
 * racing step inside the window" is the evidence a fixed verdict needs.
 */
export function verdictLine(run: ResultFile["runs"][number]): string {
  const lost = run.forbiddenTrials;
  // "lost" only when the forbidden trials are lost writes (not use-after-free accesses, nor
  // countForbidden outcomes such as a store that succeeded after munmap()).
  const what = run.lostWrites > 0 || lost === 0 ? "lost" : "forbidden";
  const w = run.window;
  const cover =
    w === undefined
      ? "the scenario names no window"
      : `${num(w.hits)} of which (${pct(w.hits, w.trials)}) put the racing step inside the window`;
  return `${run.kernel}: ${num(lost)} ${what} in ${num(run.trials)} trials, ${cover}`;
}

const pct = (a: number, b: number): string =>
  b === 0 ? "-" : `${((100 * a) / b).toFixed(a * 1000 < b && a > 0 ? 2 : 1)}%`;
