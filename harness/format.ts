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
    `${r.scenario} on ${r.cpus} CPUs (${r.machine.cores} cores, ${r.machine.cpuModel}, Node ${r.machine.node})\n` +
    `params: ${Object.entries(r.params)
      .map(([k, v]) => `${k}=${v}`)
      .join(
        " ",
      )}; delays: ${delays || "none (natural timing)"}; start offsets 0-${formatNs(r.offsetMaxNs)}; seed ${r.seed}` +
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
        run.flushesPerTrial.toFixed(2),
      ]),
    ],
    [false, true, true, true, true, true, true],
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
  return `${head}\n\n${main}\n\n${hist}\n`;
}
