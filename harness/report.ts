/**
 * `tlbrace report`: one self-contained HTML page (results/report.html) from a directory of
 * result files: the latest result of each kind, chosen by its `startedAt` (not its file name),
 * with a table of contents, each result's date, command, machine and tlbrace version, its
 * figures as HTML tables and its charts inline (SVG). Every kind a command writes has a
 * section: run, demo, matrix, explore, stress, the acceptance summary, and each bench (flush,
 * mremap, mixed, natural, window, trials, scale, seed); a kind it does not know still gets a
 * section that points at the file. docs/report.md says how to read it.
 *
 * A missing directory, or one without a result, is a UsageError: one line, exit 2.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { KERNELS } from "../lib/kernels/index.js";
import type { ScenarioSpec, Verdict } from "../lib/scenarios/types.js";
import { expectedVerdict, verdictMatches } from "../lib/scenarios/verdict.js";
import { parseDuration, UsageError } from "../lib/units.js";
import type { FlushBenchResult } from "./bench/flush.js";
import type { MixedBenchResult } from "./bench/mixed.js";
import type { MremapBenchResult } from "./bench/mremap.js";
import type { NaturalBenchResult } from "./bench/natural.js";
import type { ScaleBenchResult } from "./bench/scale.js";
import type { SeedBenchRow } from "./bench/seed.js";
import type { TrialsBenchResult } from "./bench/trials.js";
import type { WindowBenchResult, WindowPoint } from "./bench/window.js";
import type { DemoResult } from "./demo.js";
import { keptTraceSvg, violationSvg } from "./explore/command.js";
import type { ExploreResult } from "./explore/explore.js";
import { verdictLine } from "./format.js";
import { renameResultKernels } from "./kernel-names.js";
import type { MatrixCell, MatrixResult } from "./matrix.js";
import {
  FULL_FLUSH_CEILING_PAGES,
  flushCharts,
  mixedChart,
  mremapCharts,
  naturalChart,
  scaleChart,
  windowCharts,
} from "./plot/charts.js";
import { formatTime } from "./plot/svg.js";
import type { ResultFile, RunResult } from "./results.js";
import { findScenario } from "./scenarios.js";
import { formatRate, machinesText } from "./stress/format.js";
import type { StressResult } from "./stress/result.js";
import type { MachineInfo } from "./sysinfo.js";

type Json = Record<string, unknown>;

const esc = (s: string): string =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
const num = (n: number | undefined): string => (n ?? 0).toLocaleString("en-US");
const pct = (a: number, b: number): string =>
  b === 0 ? "-" : `${+((100 * a) / b).toPrecision(a === 0 ? 1 : 3)}%`;

/**
 * The kind of a result file from its content: `bench <name>` for a bench, the `kind` field
 * (matrix, explore, demo, stress, acceptance), "run" for `tlbrace run`'s results; null for a
 * JSON file that is no tlbrace result.
 */
export function kindOf(data: unknown): string | null {
  if (typeof data !== "object" || data === null || Array.isArray(data)) return null;
  const d = data as Json;
  if (d.schema !== 1) return null;
  if (typeof d.bench === "string") return `bench ${d.bench}`;
  if (typeof d.kind === "string") return d.kind;
  if (typeof d.scenario === "string" && Array.isArray(d.runs)) return "run";
  return null;
}

export interface FoundResult {
  file: string;
  kind: string;
  data: Json;
  /** When the result was started. */
  date: Date;
  /** Where the date comes from: the result's startedAt, else the file name, else its mtime. */
  dateFrom: "startedAt" | "file name" | "file time";
}

/** A timestamp as the commands put it in file names: 2026-11-27T16-25-01-699Z. */
const NAME_STAMP = /(\d{4}-\d\d-\d\d)T(\d\d)-(\d\d)-(\d\d)-(\d{3})Z/;

function dateOf(file: string, d: Json): Pick<FoundResult, "date" | "dateFrom"> {
  if (typeof d.startedAt === "string") {
    const t = new Date(d.startedAt);
    if (!Number.isNaN(t.getTime())) return { date: t, dateFrom: "startedAt" };
  }
  const m = NAME_STAMP.exec(file);
  if (m !== null) {
    const t = new Date(`${m[1]}T${m[2]}:${m[3]}:${m[4]}.${m[5]}Z`);
    if (!Number.isNaN(t.getTime())) return { date: t, dateFrom: "file name" };
  }
  return { date: statSync(file).mtime, dateFrom: "file time" };
}

/**
 * Every result file directly in `dir` (not below it), with its kind and date, and the JSON
 * files that are not results. A missing or unreadable directory is a UsageError.
 */
export function findResults(dir: string): {
  found: FoundResult[];
  skipped: { file: string; why: string }[];
} {
  let names: string[];
  try {
    if (!statSync(dir).isDirectory()) throw new UsageError(`report: ${dir} is not a directory`);
    names = readdirSync(dir);
  } catch (e) {
    if (e instanceof UsageError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    throw new UsageError(
      code === "ENOENT"
        ? `report: no results directory "${dir}": run tlbrace demo, run, matrix or a bench first, or name one with --dir`
        : `report: cannot read "${dir}": ${code ?? String(e)}`,
    );
  }
  const found: FoundResult[] = [];
  const skipped: { file: string; why: string }[] = [];
  for (const n of names.filter((x) => x.endsWith(".json")).sort()) {
    const file = join(dir, n);
    let data: unknown;
    try {
      if (!statSync(file).isFile()) continue;
      data = JSON.parse(readFileSync(file, "utf8"));
    } catch (e) {
      skipped.push({ file, why: `not readable JSON (${(e as Error).message})` });
      continue;
    }
    const kind = kindOf(data);
    if (kind === null) {
      skipped.push({ file, why: "not a tlbrace result (no schema 1, bench, kind or runs)" });
      continue;
    }
    // Result files may name a variant by an old name (KERNEL_ALIASES).
    const d = renameResultKernels(data as Json);
    found.push({ file, kind, data: d, ...dateOf(file, d) });
  }
  return { found, skipped };
}

/** The latest result of each kind by date (the file name breaks a tie), and how many older. */
export function latestByKind(
  found: FoundResult[],
): Map<string, { latest: FoundResult; older: number }> {
  const out = new Map<string, { latest: FoundResult; older: number }>();
  for (const f of found) {
    const cur = out.get(f.kind);
    if (cur === undefined) {
      out.set(f.kind, { latest: f, older: 0 });
      continue;
    }
    const newer =
      f.date.getTime() > cur.latest.date.getTime() ||
      (f.date.getTime() === cur.latest.date.getTime() && f.file > cur.latest.file);
    out.set(f.kind, { latest: newer ? f : cur.latest, older: cur.older + 1 });
  }
  return out;
}

// ---- HTML pieces ------------------------------------------------------------------------

/** A cell: text (escaped) or raw HTML, with a class (num: right-aligned figures). */
type Cell = string | { html?: string; text?: string; cls?: string };

function cellHtml(c: Cell, tag: "td" | "th", numeric: boolean): string {
  const o = typeof c === "string" ? { text: c } : c;
  const cls = [numeric ? "num" : "", o.cls ?? ""].filter((x) => x !== "").join(" ");
  const body = o.html ?? esc(o.text ?? "");
  return `<${tag}${cls === "" ? "" : ` class="${cls}"`}>${body}</${tag}>`;
}

/** An HTML table; `numeric[i]` right-aligns column i. Wide tables scroll inside the page. */
function table(
  head: string[],
  rows: Cell[][],
  numeric: boolean[] = [],
  caption?: string,
  cls?: string,
): string {
  return (
    `<div class="wide"><table${cls === undefined ? "" : ` class="${cls}"`}>` +
    (caption === undefined ? "" : `<caption>${esc(caption)}</caption>`) +
    `<thead><tr>${head.map((h, i) => cellHtml(h, "th", numeric[i] === true)).join("")}</tr></thead>` +
    `<tbody>${rows.map((r) => `<tr>${r.map((c, i) => cellHtml(c, "td", numeric[i] === true)).join("")}</tr>`).join("\n")}</tbody>` +
    `</table></div>`
  );
}

const p = (text: string, cls?: string): string =>
  `<p${cls === undefined ? "" : ` class="${cls}"`}>${esc(text)}</p>`;
const list = (items: string[]): string =>
  items.length === 0 ? "" : `<ul>${items.map((i) => `<li>${esc(i)}</li>`).join("")}</ul>`;
const partial = (b: unknown, what = "stopped before every cell ran"): string =>
  b === true ? p(`PARTIAL: ${what}`, "warn") : "";
const h3 = (text: string): string => `<h3>${esc(text)}</h3>`;

function scenarioOrNull(name: string): ScenarioSpec | null {
  try {
    return findScenario(name);
  } catch {
    return null;
  }
}

// ---- one section per kind ---------------------------------------------------------------

interface Rendered {
  title: string;
  body: string;
  charts: string[];
}

const machineLine = (m: MachineInfo | undefined): string =>
  m === undefined ? "-" : `${m.cores} cores, ${m.cpuModel}, Node ${m.node}`;

/**
 * What the scenario expects of a run's kernel and whether the run agrees: a buggy kernel that
 * showed nothing at natural timing is "not shown" (its window may be too narrow to hit), not a
 * contradiction, as matrix and stress say.
 */
function runVerdict(r: ResultFile, run: RunResult): [Cell, Cell] {
  const spec = scenarioOrNull(r.scenario);
  let expected: Verdict;
  try {
    if (spec === null) return ["-", "-"];
    expected = expectedVerdict(spec, run.kernel, r.arch);
  } catch {
    return ["-", "-"];
  }
  const natural = Object.keys(run.delays ?? {}).length === 0;
  const seen = run.forbiddenTrials;
  const verdict: Cell =
    expected === "either"
      ? { text: "either (residual)", cls: "muted" }
      : verdictMatches(expected, seen)
        ? { text: "ok", cls: "ok" }
        : expected === "forbidden" && natural
          ? { text: "not shown (natural timing)", cls: "muted" }
          : { text: "CONTRADICTS", cls: "bad" };
  return [EXPECTED[expected] ?? expected, verdict];
}

function runTables(r: ResultFile): string {
  const main = table(
    [
      "kernel",
      "trials",
      "lost writes",
      "faults",
      "trials/s",
      "first lost write",
      "in window",
      "flushes/trial",
      "expected",
      "verdict",
    ],
    r.runs.map((run) => [
      run.kernel,
      num(run.trials),
      num(run.lostWrites),
      num(run.faults),
      num(run.trialsPerSecond),
      run.firstLostWriteMs === null
        ? "-"
        : `${formatTime(run.firstLostWriteMs * 1e6)} (trial ${num(run.firstLostWriteTrial ?? 0)})`,
      run.window === undefined
        ? "-"
        : `${num(run.window.hits)} (${pct(run.window.hits, run.trials)})`,
      run.flushesPerTrial.toFixed(2),
      ...runVerdict(r, run),
    ]),
    [false, true, true, true, true, true, true, true, false, false],
  );
  const labels = [...new Set(r.runs.flatMap((run) => Object.keys(run.outcomes)))];
  const forbidden = new Set(r.runs.flatMap((run) => run.forbiddenOutcomes));
  const outcomes = table(
    ["outcome", "forbidden", ...r.runs.map((run) => run.kernel)],
    labels.map((l) => [
      l,
      forbidden.has(l) ? { text: "FORBIDDEN", cls: "bad" } : "",
      ...r.runs.map((run) => num(run.outcomes[l] ?? 0)),
    ]),
    [false, false, ...r.runs.map(() => true)],
    "trials per final outcome",
  );
  return main + outcomes + list(r.runs.map((run) => verdictLine(run)));
}

function runHead(r: ResultFile): string {
  const delays = Object.entries(r.runs[0]?.delays ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(", ");
  const params = Object.entries(r.params ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(" ");
  return (
    p(
      `${r.scenario} on ${r.cpus} CPUs${r.arch !== undefined ? ` of a modelled ${r.arch}` : ""}; params: ${params || "defaults"}; delays: ${delays || "none (natural timing)"}; start offsets: ${r.offsetMode === "window" ? "window-aware (learnt per kernel)" : `uniform 0-${formatTime(r.offsetMaxNs)}`}; seed ${r.seed}`,
    ) + partial(r.partial, "stopped before the planned trials were run")
  );
}

function renderRun(d: Json): Rendered {
  const r = d as unknown as ResultFile;
  const trace = keptTraceSvg(r);
  return {
    title: `A run: ${r.scenario}`,
    body: runHead(r) + runTables(r),
    charts: trace === null ? [] : [trace],
  };
}

function renderDemo(d: Json): Rendered {
  const r = d as unknown as DemoResult;
  const part = (f: ResultFile | undefined, what: string): string =>
    f === undefined
      ? ""
      : h3(`${what}: ${f.params.pages ?? "?"} page${f.params.pages === 1 ? "" : "s"}`) +
        runHead(f) +
        runTables(f);
  return {
    title: "The demo: the seed race at natural timing",
    body:
      p(
        'The seed race of Linux commit 5d1904204c99 ("mremap: fix race between mremap() and page cleanning"), on the kernel before the fix and the fix itself, at natural timing: nothing injected. First with a mapping a program has read (the window is wide), then at 1 page, the seed\'s own setting.',
      ) +
      part(r.large, "A mapping the program has read") +
      part(r.small, "The seed's own setting"),
    charts: [],
  };
}

function matrixCell(c: MatrixCell | undefined): Cell {
  if (c === undefined) return { text: "-", cls: "muted" };
  const seen =
    c.lostWrites > 0
      ? `${num(c.lostWrites)} lost`
      : c.useAfterFree > 0
        ? `${num(c.useAfterFree)} UAF`
        : (c.forbidden ?? 0) > 0
          ? `${num(c.forbidden)} forbidden`
          : `none (${num(c.faults)} flt)`;
  const win = c.window === undefined ? "" : `${num(c.window.hits)} in window, `;
  const [verdict, cls] =
    c.expected === "either"
      ? ["(residual)", "muted"]
      : c.notShown === true
        ? ["not shown", "muted"]
        : c.matches
          ? ["ok", "ok"]
          : ["MISMATCH", "bad"];
  return { html: `${esc(seen)}<br><small>${esc(win)}${esc(verdict)}</small>`, cls };
}

function renderMatrix(d: Json): Rendered {
  const m = d as unknown as MatrixResult;
  const kernels = KERNELS.map((k) => k.name).filter((k) => m.cells.some((c) => c.kernel === k));
  for (const c of m.cells) if (!kernels.includes(c.kernel)) kernels.push(c.kernel);
  const rows = [...new Set(m.cells.map((c) => `${c.scenario}\t${c.arch ?? ""}`))].map((r) => {
    const [scenario = "", arch = ""] = r.split("\t");
    return { scenario, arch };
  });
  const mismatches = m.cells.filter((c) => !c.matches).length;
  const params = [
    ...new Set(
      m.cells.map(
        (c) =>
          `${c.scenario} ${Object.entries(c.params ?? {})
            .map(([k, v]) => `${k}=${v}`)
            .join(" ")}`,
      ),
    ),
  ].join("; ");
  return {
    title:
      m.cells.length === 1
        ? `The matrix: ${m.cells[0]?.scenario} on ${m.cells[0]?.kernel}`
        : "The matrix: every scenario on every kernel",
    body:
      p(
        `${num(m.trialsPerCell)} trials per cell, ${m.natural ? "natural timing (no injected delay, window-aware start offsets, each scenario at its declared natural parameters)" : "windows widened (each scenario's widen delays)"}, seed ${m.seed}.`,
      ) +
      (m.natural ? p(`parameters: ${params}`, "note") : "") +
      p(
        'A cell: trials with lost writes, or with use-after-free accesses (UAF), or "none" with the trials that faulted instead (flt); N in window: trials whose racing step began inside the scenario\'s window; ok: as kernel history says; not shown: a buggy kernel that lost nothing at natural timing (its window may be too narrow to hit unwidened: no contradiction); (residual): a narrower window stays open, either is right.',
        "note",
      ) +
      table(
        ["scenario", "arch", ...kernels],
        rows.map(({ scenario, arch }) => [
          scenario,
          arch || "-",
          ...kernels.map((k) =>
            matrixCell(
              m.cells.find(
                (x) => x.scenario === scenario && (x.arch ?? "") === arch && x.kernel === k,
              ),
            ),
          ),
        ]),
        [],
        undefined,
        "matrix",
      ) +
      p(
        mismatches === 0
          ? "Every cell matches kernel history."
          : `${mismatches} cell(s) contradict kernel history.`,
        mismatches === 0 ? "good" : "warn",
      ) +
      partial(m.partial, "stopped early"),
    charts: [],
  };
}

function renderExplore(d: Json): Rendered {
  const r = d as unknown as ExploreResult;
  const how =
    r.strategy === "dfs"
      ? `dfs, at most ${r.bound} preemptions per schedule`
      : r.strategy === "dpor"
        ? "dpor: every interleaving, partial-order reduced"
        : r.strategy === "pct"
          ? `pct, depth ${r.depth}, seed ${r.seed}`
          : `random, seed ${r.seed}`;
  const stats = table(
    [
      "strategy",
      "schedules",
      "time",
      "schedules/s",
      "longest",
      "per preemption bound",
      ...(r.sleepBlocked !== undefined ? ["cut short by sleep sets", "races"] : []),
      "exhaustive",
    ],
    [
      [
        how,
        num(r.schedules),
        formatTime(r.elapsedMs * 1e6),
        num(r.schedulesPerSecond),
        `${r.maxSteps} steps`,
        r.perBound.length > 0 ? r.perBound.map(([b, n]) => `${b}: ${num(n)}`).join(", ") : "-",
        ...(r.sleepBlocked !== undefined ? [num(r.sleepBlocked), num(r.races)] : []),
        r.exhaustive ? "yes" : "no",
      ],
    ],
    [
      false,
      true,
      true,
      true,
      true,
      false,
      ...(r.sleepBlocked !== undefined ? [true, true] : []),
      false,
    ],
  );
  const v = r.violation;
  let verdict: string;
  if (v !== null)
    verdict =
      `VIOLATION in schedule ${num(v.schedule)}, with ${v.preemptions} preemption${v.preemptions === 1 ? "" : "s"}: ` +
      [
        v.lostWrites > 0 ? `${v.lostWrites} lost write(s)` : "",
        v.useAfterFree > 0 ? "use-after-free" : "",
      ]
        .filter((x) => x !== "")
        .join(", ") +
      ` (outcome ${v.outcome})` +
      (r.violations !== undefined && r.violations > 1
        ? `; ${num(r.violations)} schedules with a forbidden outcome${r.exhaustive ? ", search complete" : ""}`
        : "");
  else if (r.exhaustive)
    verdict =
      r.strategy === "dpor"
        ? `No violation in any interleaving: every class of equivalent schedules of ${r.scenario} was run on ${r.kernel}, exhaustively.`
        : `No violation within bound ${r.bound}: every schedule with at most ${r.bound} preemptions was run on ${r.kernel}, exhaustively.`;
  else
    verdict = `No violation in ${num(r.schedules)} schedules (${r.strategy === "dfs" || r.strategy === "dpor" ? "the budget ran out first: not exhaustive" : "a sample, not a proof"}).`;
  const outcomes =
    r.outcomes === undefined
      ? ""
      : table(
          ["final outcome", "schedules"],
          Object.entries(r.outcomes)
            .sort((a, b) => b[1] - a[1])
            .map(([l, n]) => [l, num(n)]),
          [false, true],
        );
  const spec = scenarioOrNull(r.scenario);
  const charts = v !== null && spec !== null ? [violationSvg(r, spec)] : [];
  return {
    title: `The explorer: ${r.scenario} on ${r.kernel}`,
    body:
      stats +
      p(verdict, v === null ? "good" : "warn") +
      outcomes +
      (v === null
        ? ""
        : p("The schedule that lost the write is drawn below. To rerun it exactly:") +
          `<p><code class="token">tlbrace replay ${esc(v.token)}</code></p>` +
          (spec === null
            ? p(
                `(${r.scenario} is not a built-in scenario: draw it with tlbrace explain --file)`,
                "note",
              )
            : "")) +
      partial(r.partial, "stopped early"),
    charts,
  };
}

const EXPECTED: Record<string, string> = {
  forbidden: "shows the race",
  clean: "never",
  either: "either (residual)",
};

function renderStress(d: Json): Rendered {
  const r = d as unknown as StressResult;
  const t = r.totals;
  const notes: string[] = [
    `${num(t.trials)} trials (${num(t.trialsPerSecond)}/s), ${num(t.forbiddenTrials)} forbidden; harness errors: ${t.harnessErrors} (not counted as outcomes)` +
      (t.droppedTrials > 0 ? `; ${num(t.droppedTrials)} planned trials dropped` : ""),
  ];
  if (r.resources?.coresBusy !== undefined)
    notes.push(
      `cores busy: ${r.resources.coresBusy.toFixed(2)} of ${r.resources.cores ?? "?"} (CPU time of every thread over wall time)`,
    );
  if (r.cells.some((c) => c.verdict === "not shown (natural timing)"))
    notes.push(
      "not shown (natural timing): a buggy kernel's window is too narrow to hit unwidened; no contradiction",
    );
  const errors =
    r.errors.length === 0
      ? ""
      : table(
          ["kind", "scenario", "kernel", "seed", "trial", "message"],
          r.errors
            .slice(0, 50)
            .map((e) => [
              e.kind,
              e.scenario,
              e.kernel,
              String(e.seed),
              String(e.trial ?? "-"),
              e.message,
            ]),
          [false, false, false, true, true, false],
          `harness errors${r.errors.length > 50 ? ` (the first 50 of ${r.errors.length})` : ""}`,
        );
  return {
    title: `A stress campaign: ${r.cells.length} cells`,
    body:
      p(
        `${r.mode === "widened" ? "Windows widened" : "Natural timing"}, ${machinesText(r.plan)}, ` +
          (r.merged !== undefined
            ? `${r.merged.length} shard runs merged, `
            : `shard ${r.shard.index}/${r.shard.count}, seed ${r.seed}, `) +
          `${formatTime(r.elapsedMs * 1e6)}; status: ${r.status}.`,
      ) +
      partial(r.partial, r.status === "stopped" ? "stopped early" : "a checkpoint") +
      table(
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
        r.cells.map((c) => [
          c.scenario,
          c.kernel,
          num(c.trials),
          c.windowHits === undefined ? "-" : num(c.windowHits),
          num(c.forbiddenTrials),
          formatRate(c.rate),
          EXPECTED[c.expected] ?? c.expected,
          {
            text: c.verdict === "ok" ? "OK" : c.verdict + (c.quarantined ? " (quarantined)" : ""),
            cls: c.verdict === "CONTRADICTS" ? "bad" : c.verdict === "ok" ? "ok" : "muted",
          },
        ]),
        [false, false, true, true, true, false, false, false],
      ) +
      list(notes) +
      p(
        t.contradictions === 0
          ? "Every cell agrees with its expected verdict."
          : `${t.contradictions} cell(s) CONTRADICT their expected verdict.`,
        t.contradictions === 0 ? "good" : "warn",
      ) +
      errors,
    charts: [],
  };
}

interface AcceptanceResult {
  note?: string;
  cells: (MatrixCell & { command?: string; seed?: number })[];
}

function renderAcceptance(d: Json): Rendered {
  const r = d as unknown as AcceptanceResult;
  const bad = r.cells.filter((c) => !c.matches).length;
  return {
    title: "Acceptance: each scenario on its fixed kernel",
    body:
      (r.note === undefined ? "" : p(r.note)) +
      table(
        [
          "scenario",
          "kernel",
          "trials",
          "lost writes",
          "UAF",
          "faults",
          "expected",
          "verdict",
          "delays",
          "command",
        ],
        r.cells.map((c) => [
          c.scenario,
          c.kernel,
          num(c.trials),
          num(c.lostWrites),
          num(c.useAfterFree),
          num(c.faults),
          EXPECTED[c.expected] ?? c.expected,
          c.matches ? { text: "ok", cls: "ok" } : { text: "MISMATCH", cls: "bad" },
          Object.entries(c.delays ?? {})
            .map(([k, v]) => `${k}=${v}`)
            .join(", "),
          { html: c.command === undefined ? "-" : `<code>${esc(c.command)}</code>` },
        ]),
        [false, false, true, true, true, true, false, false, false, false],
      ) +
      p(
        bad === 0 ? "Every cell is as expected." : `${bad} cell(s) contradict.`,
        bad === 0 ? "good" : "warn",
      ),
    charts: [],
  };
}

function renderFlush(d: Json): Rendered {
  const r = d as unknown as FlushBenchResult;
  const f = r.floor;
  const c = flushCharts(r);
  return {
    title: "TLB shootdown latency (bench flush)",
    body:
      p(
        `${r.cpus} CPUs${r.quick ? ", quick" : ""}. The latency of one flush_tlb_mm_range() on CPU 0: local flush, IPIs, every ack. Per page up to ${FULL_FLUSH_CEILING_PAGES} pages, a full flush above (tlb_single_page_flush_ceiling).`,
      ) +
      p(
        `Floor (a cache-line ping-pong round trip between CPUs 0 and 1): p50 ${formatTime(f.p50Ns)}, p99 ${formatTime(f.p99Ns)}, max ${formatTime(f.maxNs)} over ${num(f.samples)} round trips.`,
      ) +
      table(
        [
          "targets",
          "pages",
          "flush",
          "targets are",
          "samples",
          "p50",
          "p90",
          "p99",
          "p99.9",
          "max",
          "p50 / floor",
        ],
        r.rows.map((x) => [
          String(x.targets),
          String(x.pages),
          x.pages > FULL_FLUSH_CEILING_PAGES ? "full" : "per page",
          x.mode,
          num(x.samples),
          formatTime(x.p50Ns),
          formatTime(x.p90Ns),
          formatTime(x.p99Ns),
          formatTime(x.p999Ns),
          formatTime(x.maxNs),
          `${x.p50OverFloor}x`,
        ]),
        [true, true, false, false, true, true, true, true, true, true, true],
      ) +
      partial(r.partial),
    charts: [c.ranges, c.targets, c.histogram],
  };
}

function renderMremap(d: Json): Rendered {
  const r = d as unknown as MremapBenchResult;
  const c = mremapCharts(r);
  return {
    title: "What each fix costs mremap() (bench mremap)",
    body:
      p(
        `2 CPUs (CPU 1 answers the IPIs), ${r.msPerConfig} ms per cell. One operation: mremap() of a populated anonymous region between two addresses; clean = zero page (read faults), dirty = written. flushes/op: every flush_tlb_mm_range() of the call; in the move: those of move_page_tables() (the rest are the old range's munmap).`,
      ) +
      table(
        [
          "region",
          "pages",
          "kernel",
          "ops/s",
          "pages/s",
          "flushes/op",
          "in the move",
          "IPIs/op",
          "ops/s vs v4.9-rc4",
        ],
        r.rows.map((x) => [
          x.dirty ? "dirty" : "clean",
          String(x.pages),
          x.kernel,
          num(x.opsPerSecond),
          num(x.pagesPerSecond),
          x.flushesPerOp.toFixed(2),
          (x.moveFlushesPerOp ?? x.flushesPerOp).toFixed(2),
          x.ipisPerOp.toFixed(2),
          x.opsVsV49rc4.toFixed(2),
        ]),
        [false, true, false, true, true, true, true, true, true],
      ) +
      partial(r.partial),
    charts: [c.flushes, c.ops],
  };
}

function renderMixed(d: Json): Rendered {
  const r = d as unknown as MixedBenchResult;
  const w = r.workload;
  const cost = (x: number): string => `${x >= 1 ? "+" : ""}${((x - 1) * 100).toFixed(1)}%`;
  return {
    title: "What each fix costs a mixed workload (bench mixed)",
    body:
      p(
        `${r.cpus} CPUs, ${r.runMs} ms per run. One job: mmap ${w.heapPages} anonymous pages and write them all, read ${w.sourcesPerJob} file pages, write 1, munmap (mremap first every ${w.mremapEvery}th); CPU 0 writes the ${w.filePages}-page file back every ${w.writebackEvery}th job. Runs interleaved A B / B A against A = ${r.baseline}; B/A: the geometric mean of B/A jobs/s over the pairs, with its 95% t interval.`,
      ) +
      table(
        [
          "variant B",
          "pairs",
          "A jobs/s",
          "B jobs/s",
          "B/A",
          "95% interval",
          "cost",
          "flushes/job A",
          "flushes/job B",
        ],
        r.comparisons.map((c) => [
          c.variant,
          String(c.pairs),
          num(c.baselineJobsPerSecond),
          num(c.variantJobsPerSecond),
          c.ratio.toFixed(3),
          `${c.low.toFixed(3)} to ${c.high.toFixed(3)}`,
          c.holdsOne ? "none visible" : cost(c.ratio),
          c.baselineFlushesPerJob.toFixed(2),
          c.variantFlushesPerJob.toFixed(2),
        ]),
        [false, true, true, true, true, true, false, true, true],
      ) +
      (r.runs.some((x) => x.uaf > 0)
        ? p(
            `use-after-free seen by the oracle in ${r.runs.filter((x) => x.uaf > 0).length} run(s)`,
            "warn",
          )
        : "") +
      partial(r.partial, "stopped before every run finished"),
    charts: [mixedChart(r)],
  };
}

function renderNatural(d: Json): Rendered {
  const r = d as unknown as NaturalBenchResult;
  const pc = (x: number): string => (x === 0 ? "0" : `${+(x * 100).toPrecision(3)}%`);
  return {
    title: "The seed race at natural timing (bench natural)",
    body:
      p(
        `mremap-mkclean, nothing injected, ${r.secondsPerCell} s per kernel and cell, 2 CPUs, seed ${r.seed}. pages: the mapping thread 1 has read before the race; offsets: uniform (a blind 0-2 µs sweep) or window (learnt, aimed across the window); rate: lost-write trials per trial with a 95% interval (for 0, the one-sided upper bound); in window: trials whose racing write began inside the window.`,
      ) +
      partial(r.partial) +
      table(
        [
          "pages",
          "offsets",
          "kernel",
          "trials",
          "trials/s",
          "lost",
          "rate (95%)",
          "lost/s",
          "first lost",
          "in window",
        ],
        r.rows.map((x) => [
          String(x.pages),
          x.offsets,
          x.kernel,
          num(x.trials),
          num(x.trialsPerSecond),
          num(x.lostWrites),
          x.lostWrites === 0
            ? `< ${pc(x.rate.high)}`
            : `${pc(x.rate.rate)} (${pc(x.rate.low)} to ${pc(x.rate.high)})`,
          String(x.lostPerSecond),
          x.firstLostWriteMs === null ? "-" : formatTime(x.firstLostWriteMs * 1e6),
          `${num(x.windowHits)} (${pc(x.trials > 0 ? x.windowHits / x.trials : 0)})`,
        ]),
        [true, false, false, true, true, true, true, true, true, true],
      ),
    charts: [naturalChart(r)],
  };
}

function renderWindow(d: Json): Rendered {
  const r = d as unknown as WindowBenchResult;
  const kernels = [...new Set(r.points.map((x) => x.kernel))];
  const spec = scenarioOrNull(r.scenario);
  const sweep = (s: WindowPoint["sweep"], head: string): string => {
    const us = [...new Set(r.points.filter((x) => x.sweep === s).map((x) => x.us))];
    return table(
      [head, ...kernels],
      us.map((u) => [
        s === "delay" ? `${u} µs` : `${u > 0 ? "+" : ""}${u} µs`,
        ...kernels.map((k) => {
          const x = r.points.find((q) => q.sweep === s && q.us === u && q.kernel === k);
          return x === undefined ? "-" : `${(x.rate * 100).toFixed(1)}% (${num(x.forbidden)})`;
        }),
      ]),
      [true, ...kernels.map(() => true)],
    );
  };
  const widen =
    spec === null
      ? "the scenario's widen delays"
      : Object.entries(spec.widen)
          .map(([pt, dl]) => `${pt}=${parseDuration(dl, "widen") / 1000} µs`)
          .join(", ");
  const c = windowCharts(r);
  return {
    title: `The race window of ${r.scenario} (bench window)`,
    body:
      p(`${num(r.trialsPerPoint)} trials per point; a cell: forbidden-outcome rate (trials).`) +
      h3(`Against the delay injected at ${r.point} (other widening delays kept)`) +
      sweep("delay", "delay") +
      h3(`Against CPU 1's start offset relative to CPU 0 (widened: ${widen})`) +
      sweep("offset", "CPU 1 starts") +
      partial(r.partial, "stopped before every point ran"),
    charts: [c.delay, c.offset],
  };
}

function renderTrials(d: Json): Rendered {
  const r = d as unknown as TrialsBenchResult;
  return {
    title: "The harness's own speed (bench trials)",
    body:
      p(
        `Natural timing, ${r.secondsPerCell} s per cell. Harness overhead (an empty 2-CPU trial: reset, two barriers, oracle): ${formatTime(r.overhead.nsPerTrial)} per trial (${num(r.overhead.trialsPerSecond)} trials/s).`,
      ) +
      table(
        ["scenario", "kernel", "CPUs", "trials", "trials/s", "per trial"],
        r.rows.map((x) => [
          x.scenario,
          x.kernel,
          String(x.cpus),
          num(x.trials),
          num(x.trialsPerSecond),
          formatTime(x.nsPerTrial),
        ]),
        [false, false, true, true, true, true],
      ) +
      (r.coverage === undefined
        ? ""
        : p(
            `Window coverage: ${r.coverage.scenario} on ${r.coverage.kernel}, ${num(r.coverage.withWindow)} trials/s recording it, ${num(r.coverage.withoutWindow)} without (median of ${r.coverage.pairs} alternating pairs): it costs ${r.coverage.costPercent}%.`,
          )) +
      partial(r.partial),
    charts: [],
  };
}

function renderScale(d: Json): Rendered {
  const r = d as unknown as ScaleBenchResult;
  const races = r.rows.every((x) => x.forbiddenPerSecond !== undefined);
  return {
    title: `How stress scales with machines (bench scale): ${r.scenario} on ${r.kernel}`,
    body:
      p(
        `${(r.mode ?? "natural") === "widened" ? "Windows widened" : "Natural timing"}, machines of ${r.cpus} CPUs on ${r.cores} cores; ${r.secondsPerPoint} s per point after a ${r.warmupSeconds} s warm-up; ${(r.bufferBytes / 2 ** 20).toFixed(2)} MiB buffer per machine. Efficiency: trials/s over (machines × the 1-machine rate); cores busy: the process's CPU time over wall time.`,
      ) +
      table(
        [
          "machines",
          "threads",
          "trials",
          "trials/s",
          "efficiency",
          ...(races ? ["forbidden", "forbidden/s"] : []),
          "cores busy",
          "RSS",
          "errors",
        ],
        r.rows.map((x) => [
          String(x.machines),
          `${x.threads}${x.threads > r.cores ? " (>cores)" : ""}`,
          num(x.trials),
          num(x.trialsPerSecond),
          `${Math.round(x.efficiency * 100)}%`,
          ...(races ? [num(x.forbidden), num(x.forbiddenPerSecond)] : []),
          x.coresBusy.toFixed(2),
          `${x.rssMiB} MiB`,
          String(x.harnessErrors),
        ]),
        [true, true, true, true, true, ...(races ? [true, true] : []), true, true, true],
      ) +
      partial(r.partial, "stopped early"),
    charts: [scaleChart(r)],
  };
}

function renderSeed(d: Json): Rendered {
  const rows = (d.rows ?? []) as SeedBenchRow[];
  return {
    title: "The seed benchmark (npm run bench)",
    body:
      p(
        "mremap-mkclean on 2 CPUs, target page 0, start offsets 0-2 µs (widened: 0-100 µs): harness speed and the natural lost-write rate.",
      ) +
      table(
        [
          "pages",
          "kernel",
          "delay",
          "trials",
          "trials/s",
          "lost writes",
          "lost-write rate",
          "first lost write",
          "flushes/trial",
        ],
        rows.map((x) => [
          String(x.pages),
          x.kernel,
          x.delays,
          num(x.trials),
          num(x.trialsPerSecond),
          num(x.lostWrites),
          x.lostWriteRate === 0 ? "0" : x.lostWriteRate.toExponential(2),
          x.firstLostWriteMs === null ? "-" : formatTime(x.firstLostWriteMs * 1e6),
          x.flushesPerTrial.toFixed(2),
        ]),
        [true, false, false, true, true, true, true, true, true],
      ),
    charts: [],
  };
}

/** Sections in page order; a kind not listed here comes after them, by name. */
const RENDERERS: [string, (d: Json) => Rendered][] = [
  ["demo", renderDemo],
  ["run", renderRun],
  ["matrix", renderMatrix],
  ["explore", renderExplore],
  ["stress", renderStress],
  ["acceptance", renderAcceptance],
  ["bench flush", renderFlush],
  ["bench mremap", renderMremap],
  ["bench mixed", renderMixed],
  ["bench natural", renderNatural],
  ["bench window", renderWindow],
  ["bench trials", renderTrials],
  ["bench scale", renderScale],
  ["bench seed", renderSeed],
];

/** The kinds the report has a section for. */
export const REPORT_KINDS = RENDERERS.map(([k]) => k);

function renderUnknown(kind: string): Rendered {
  return {
    title: `Results of kind "${kind}"`,
    body: p(
      "This version of tlbrace report has no section for this kind of result; the file below holds it.",
      "note",
    ),
    charts: [],
  };
}

// ---- the page ---------------------------------------------------------------------------

const dateText = (d: Date): string =>
  d
    .toISOString()
    .replace("T", " ")
    .replace(/\.\d+Z$/, " UTC");

function provenanceText(d: Json): string | null {
  const t = d.tlbrace;
  if (typeof t === "string") return `tlbrace ${t}`;
  if (typeof t === "object" && t !== null) {
    const o = t as { version?: unknown; commit?: unknown };
    if (typeof o.version === "string")
      return `tlbrace ${o.version}${typeof o.commit === "string" ? `, commit ${o.commit.slice(0, 12)}` : ""}`;
  }
  return null;
}

function machineOf(d: Json): MachineInfo | undefined {
  const m = (d.machine ?? (d.large as Json | undefined)?.machine) as MachineInfo | undefined;
  return m !== undefined && typeof m.cores === "number" ? m : undefined;
}

const slug = (kind: string): string => kind.replace(/[^A-Za-z0-9]+/g, "-").toLowerCase();

export interface Report {
  html: string;
  /** Sections shown: one per kind. */
  sections: number;
  /** The kinds shown, in page order, with the file shown for each. */
  shown: { kind: string; id: string; file: string; title: string }[];
}

/**
 * The page for the results in `dir`: the latest result of each kind. Throws a UsageError (the
 * CLI's one line and exit 2) when `dir` is missing or holds no result.
 */
export function buildReport(dir: string, now: Date = new Date()): Report {
  const { found, skipped } = findResults(dir);
  if (found.length === 0)
    throw new UsageError(
      `report: no results in "${dir}"${skipped.length > 0 ? ` (${skipped.length} JSON file(s), none a tlbrace result)` : ""}: run tlbrace demo, run, matrix or a bench first, or name a directory with --dir`,
    );
  const latest = latestByKind(found);
  const order = [
    ...REPORT_KINDS.filter((k) => latest.has(k)),
    ...[...latest.keys()].filter((k) => !REPORT_KINDS.includes(k)).sort(),
  ];
  const shown: Report["shown"] = [];
  const sections = order.map((kind) => {
    const { latest: f, older } = latest.get(kind) as { latest: FoundResult; older: number };
    const render = RENDERERS.find(([k]) => k === kind)?.[1];
    const r = render === undefined ? renderUnknown(kind) : render(f.data);
    const id = slug(kind);
    shown.push({ kind, id, file: f.file, title: r.title });
    const when = `${dateText(f.date)}${f.dateFrom === "startedAt" ? "" : ` (from the ${f.dateFrom}: the result records no startedAt)`}`;
    const meta: [string, string][] = [
      ["kind", esc(kind)],
      ["started", esc(when)],
      [
        "command",
        typeof f.data.command === "string"
          ? `<code>${esc(f.data.command)}</code>`
          : "not recorded (see the table)",
      ],
      ["machine", esc(machineLine(machineOf(f.data)))],
      ...(provenanceText(f.data) === null
        ? []
        : ([["written by", esc(provenanceText(f.data) as string)]] as [string, string][])),
      ["file", `<code>${esc(f.file)}</code>`],
      ...(older > 0
        ? ([
            [
              "older",
              `${older} older result${older === 1 ? "" : "s"} of this kind in the directory (not shown)`,
            ],
          ] as [string, string][])
        : []),
    ];
    return `<section id="${id}">
<h2>${esc(r.title)}</h2>
<table class="meta"><tbody>${meta.map(([k, v]) => `<tr><th scope="row">${k}</th><td>${v}</td></tr>`).join("")}</tbody></table>
${r.body}
${r.charts.map((c) => `<figure class="chart">${c}</figure>`).join("\n")}
<p class="top"><a href="#contents">contents</a></p>
</section>`;
  });
  if (skipped.length > 0) {
    shown.push({ kind: "skipped", id: "not-shown", file: "", title: "Files not shown" });
    sections.push(`<section id="not-shown">
<h2>Files not shown</h2>
${table(
  ["file", "why"],
  skipped.map((s) => [{ html: `<code>${esc(s.file)}</code>` }, s.why]),
)}
<p class="top"><a href="#contents">contents</a></p>
</section>`);
  }
  const toc = shown
    .map((s) => {
      const f = found.find((x) => x.file === s.file);
      return `<li><a href="#${s.id}">${esc(s.title)}</a>${f === undefined ? "" : ` <span class="toc-meta">${esc(s.kind)}, ${esc(dateText(f.date))}</span>`}</li>`;
    })
    .join("\n");
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>tlbrace report</title>
<style>
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;max-width:1180px;margin:2em auto;padding:0 1em;color:#111}
h1{font-size:1.7em;margin-bottom:.2em}
h2{margin-top:2.2em;border-bottom:1px solid #ccc;padding-bottom:.2em}
h3{margin:1.4em 0 .3em;font-size:1.05em}
nav ol{padding-left:1.4em}
nav li{margin:.15em 0}
.toc-meta{color:#666;font-size:12px}
.wide{overflow-x:auto;max-width:100%}
table{border-collapse:collapse;margin:.7em 0;font-size:13px}
caption{text-align:left;color:#555;padding:.2em 0}
th,td{border:1px solid #ccc;padding:.22em .55em;text-align:left;vertical-align:top}
thead th{background:#f0f0f0;position:sticky;top:0}
.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
table.meta{font-size:13px;margin:.3em 0 1em}
table.meta th,table.meta td{border:none;padding:.05em .8em .05em 0;background:none}
table.meta th{color:#666;font-weight:normal;white-space:nowrap}
td.ok{background:#eaf6ea}
td.bad{background:#fbdada;font-weight:bold}
td.muted{color:#777}
p.warn{color:#a00;font-weight:bold}
p.good{color:#161}
p.note{color:#555;font-size:13px}
code{font-size:12px;overflow-wrap:anywhere}
code.token{display:block;background:#f6f6f6;padding:.4em .6em}
td small{color:#555}
table.matrix{table-layout:fixed;width:100%;font-size:12px}
table.matrix th:first-child{width:13.5em}
table.matrix th{overflow-wrap:anywhere}
table.matrix th:nth-child(2){width:3.5em}
tbody td:first-child{white-space:nowrap}
figure.chart{margin:1.2em 0;overflow-x:auto}
figure.chart svg{max-width:100%;height:auto;display:block}
p.top{font-size:12px}
</style>
</head><body>
<h1>tlbrace report</h1>
<p>The latest result of each kind in <code>${esc(dir)}</code> (latest by the time it started), ${found.length} result file${found.length === 1 ? "" : "s"} read; generated ${esc(dateText(now))}. How to read each section and chart: docs/report.md.</p>
<nav id="contents" aria-label="Contents"><h2>Contents</h2><ol>
${toc}
</ol></nav>
${sections.join("\n")}
</body></html>
`;
  return { html, sections: order.length, shown };
}
