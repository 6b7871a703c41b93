/** Terminal tables for run results. */
import type { ResultFile, RunResult } from "./results.js";
import type { Verdict } from "../lib/scenarios/types.js";
import { rateInterval } from "../lib/stats/intervals.js";
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

/**
 * `expected`: the verdict history gives each kernel (see expectedVerdict); with it, a litmus
 * line per kernel ends the output.
 */
export function formatRun(r: ResultFile, expected?: Record<string, Verdict>): string {
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
  const litmus =
    expected === undefined
      ? ""
      : `\n${r.runs.map((run) => litmusLine(r.scenario, run, expected[run.kernel])).join("\n")}\n`;
  return `${head}\n\n${main}\n\n${hist}\n\n${verdicts}\n${litmus}`;
}

/** Never / Sometimes / Always, as herd7 says whether a test's condition was observed. */
export function observation(forbidden: number, trials: number): "Never" | "Sometimes" | "Always" {
  return forbidden === 0 ? "Never" : forbidden >= trials ? "Always" : "Sometimes";
}

/** A rate as a percentage with 3 significant digits: 47.7%, 0.0312%, 0%. */
export function ratePct(x: number): string {
  const p = 100 * x;
  if (p === 0) return "0%";
  if (p < 1e-4) return `${p.toExponential(2)}%`;
  return `${+p.toPrecision(3)}%`;
}

/**
 * A litmus-style summary of one kernel's run, in herd7's form and then the rest:
 * `Observation mremap-mkclean Sometimes 477 523 on v4.9-rc4: rate 47.7%, 95% CI [44.6%, 50.8%]; expected forbidden`.
 * The counts are the trials with a forbidden outcome (lost write or use-after-free) and the
 * others; the interval is Wilson's, or the one-sided exact upper bound when none was seen.
 * "UNEXPECTED" marks a kernel expected clean that was not (what makes `run` exit 1).
 */
export function litmusLine(scenario: string, run: RunResult, expected?: Verdict): string {
  const bad = run.forbiddenTrials;
  const head = `Observation ${scenario} ${observation(bad, run.trials)} ${bad} ${run.trials - bad} on ${run.kernel}`;
  const tail =
    expected === undefined
      ? ""
      : `; expected ${expected}${expected === "clean" && bad > 0 ? ", UNEXPECTED" : ""}`;
  if (run.trials === 0) return `${head}: no trials${tail}`;
  const ci = rateInterval(bad, run.trials);
  return `${head}: rate ${ratePct(ci.rate)}, 95% CI [${ratePct(ci.low)}, ${ratePct(ci.high)}]${tail}`;
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
