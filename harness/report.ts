/**
 * `tlbrace report`: the latest result of each kind under results/ gathered into one
 * self-contained results/report.html: charts inline (SVG), the tables, and the machine and
 * command behind each.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { FlushBenchResult } from "./bench/flush.js";
import { formatFlushBench } from "./bench/flush.js";
import type { MremapBenchResult } from "./bench/mremap.js";
import { formatMremapBench } from "./bench/mremap.js";
import type { TrialsBenchResult } from "./bench/trials.js";
import { formatTrialsBench } from "./bench/trials.js";
import type { WindowBenchResult } from "./bench/window.js";
import { formatMatrix, type MatrixResult } from "./matrix.js";
import { formatScaleBench, type ScaleBenchResult } from "./bench/scale.js";
import { flushCharts, mixedChart, mremapCharts, scaleChart, windowCharts } from "./plot/charts.js";
import { formatStress } from "./stress/format.js";
import type { StressResult } from "./stress/result.js";
import { formatMixedBench, type MixedBenchResult } from "./bench/mixed.js";
import { renameResultKernels } from "./kernel-names.js";
import { findScenario } from "./scenarios.js";
import { formatWindowBench } from "./bench/window.js";
import { formatExplore, violationSvg } from "./explore/command.js";
import type { ExploreResult } from "./explore/explore.js";

const esc = (s: string): string =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/**
 * The newest result of a kind in dir: `<kind>-<ISO timestamp>.json` as the commands name them, or
 * `<kind>.json` and `<kind>-<label>.json` as the reference results are named.
 */
function latest(dir: string, prefix: string): string | undefined {
  if (!existsSync(dir)) return undefined;
  const f = readdirSync(dir)
    .filter((n) => n.endsWith(".json") && (n.startsWith(`${prefix}-`) || n === `${prefix}.json`))
    .sort()
    .pop();
  return f === undefined ? undefined : join(dir, f);
}

interface Section {
  title: string;
  file: string;
  command: string;
  machine: string;
  charts: string[];
  text: string;
}

const machineLine = (m: { node: string; cpuModel: string; cores: number }): string =>
  `${m.cores} cores, ${m.cpuModel}, Node ${m.node}`;

export function buildReport(dir: string): { html: string; sections: number } {
  const sections: Section[] = [];
  // Result files may name a variant by an old name (KERNEL_ALIASES).
  const read = <T>(f: string): T => renameResultKernels(JSON.parse(readFileSync(f, "utf8")) as T);
  const m = latest(dir, "matrix");
  if (m !== undefined) {
    const r = read<MatrixResult>(m);
    sections.push({
      title: "The matrix: every scenario on every kernel",
      file: m,
      command: r.command,
      machine: machineLine(r.machine),
      charts: [],
      text: formatMatrix(r),
    });
  }
  const f = latest(dir, "bench-flush");
  if (f !== undefined) {
    const r = read<FlushBenchResult>(f);
    sections.push({
      title: "TLB shootdown latency",
      file: f,
      command: r.command,
      machine: machineLine(r.machine),
      charts: Object.values(flushCharts(r)),
      text: formatFlushBench(r),
    });
  }
  const mr = latest(dir, "bench-mremap");
  if (mr !== undefined) {
    const r = read<MremapBenchResult>(mr);
    const c = mremapCharts(r);
    sections.push({
      title: "What each fix costs mremap()",
      file: mr,
      command: r.command,
      machine: machineLine(r.machine),
      charts: [c.flushes, c.ops],
      text: formatMremapBench(r),
    });
  }
  const mx = latest(dir, "bench-mixed");
  if (mx !== undefined) {
    const r = read<MixedBenchResult>(mx);
    sections.push({
      title: "What each fix costs a mixed workload",
      file: mx,
      command: r.command,
      machine: machineLine(r.machine),
      charts: [mixedChart(r)],
      text: formatMixedBench(r),
    });
  }
  const w = latest(dir, "bench-window");
  if (w !== undefined) {
    const r = read<WindowBenchResult>(w);
    const c = windowCharts(r);
    sections.push({
      title: `The race window of ${r.scenario}`,
      file: w,
      command: r.command,
      machine: machineLine(r.machine),
      charts: [c.delay, c.offset],
      text: formatWindowBench(r, findScenario(r.scenario)),
    });
  }
  const ex = latest(dir, "explore");
  if (ex !== undefined) {
    const r = read<ExploreResult>(ex);
    const spec = findScenario(r.scenario);
    sections.push({
      title: `The explorer: ${r.scenario} on ${r.kernel}`,
      file: ex,
      command: r.command,
      machine: machineLine(r.machine),
      charts: r.violation === null ? [] : [violationSvg(r, spec)],
      text: formatExplore(r, spec),
    });
  }
  const t = latest(dir, "bench-trials");
  if (t !== undefined) {
    const r = read<TrialsBenchResult>(t);
    sections.push({
      title: "The harness's own speed",
      file: t,
      command: r.command,
      machine: machineLine(r.machine),
      charts: [],
      text: formatTrialsBench(r),
    });
  }
  const sc = latest(dir, "bench-scale");
  if (sc !== undefined) {
    const r = read<ScaleBenchResult>(sc);
    sections.push({
      title: "How stress scales with machines",
      file: sc,
      command: r.command,
      machine: machineLine(r.machine),
      charts: [scaleChart(r)],
      text: formatScaleBench(r),
    });
  }
  const st = latest(dir, "stress");
  if (st !== undefined) {
    const r = read<StressResult>(st);
    sections.push({
      title: `A stress campaign: ${r.cells.length} cells`,
      file: st,
      command: r.command,
      machine: machineLine(r.machine),
      charts: [],
      text: formatStress(r),
    });
  }
  const body = sections
    .map(
      (s) => `<section><h2>${esc(s.title)}</h2>
<p class="meta">command: <code>${esc(s.command)}</code><br>machine: ${esc(s.machine)}<br>file: <code>${esc(s.file)}</code></p>
${s.charts.join("\n")}
<pre>${esc(s.text)}</pre></section>`,
    )
    .join("\n");
  const html = `<!doctype html>
<html><head><meta charset="utf-8"><title>tlbrace report</title>
<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}pre{font-size:12px;overflow-x:auto;background:#f7f7f7;padding:.8em}.meta{color:#555;font-size:13px}svg{display:block;margin:1em 0}</style>
</head><body><h1>tlbrace report</h1>
<p>The latest result of each kind under <code>${esc(dir)}</code>, generated ${new Date().toISOString()}.</p>
${sections.length === 0 ? "<p>No results yet: run <code>tlbrace matrix</code> or a <code>tlbrace bench</code> first.</p>" : body}
</body></html>
`;
  return { html, sections: sections.length };
}
