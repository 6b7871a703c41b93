/**
 * The benches' charts, from their result JSON (docs/report.md says how to read each). Built
 * with the small writer in svg.ts; the kernel's own constants mark the lines that explain a
 * shape: the full-flush ceiling (tlb_single_page_flush_ceiling, 33 pages on x86), mremap's
 * LATENCY_LIMIT and the PMD, and the measured ping-pong floor.
 */
import { PAGE_SIZE, PMD_SIZE } from "../../lib/machine/layout.js";
import { LATENCY_LIMIT } from "../../lib/mm/mremap.js";
import { tlb_single_page_flush_ceiling } from "../../lib/mmu/shootdown.js";
import { rateInterval } from "../../lib/stats/intervals.js";
import { BIN_MIN_NS, BINS_PER_DECADE, binLowNs, NR_BINS } from "../../lib/stats/percentiles.js";
import type { FlushBenchResult } from "../bench/flush.js";
import type { MixedBenchResult } from "../bench/mixed.js";
import type { MremapBenchResult } from "../bench/mremap.js";
import type { WindowBenchResult } from "../bench/window.js";
import type { NaturalBenchResult } from "../bench/natural.js";
import type { ScaleBenchResult } from "../bench/scale.js";
import type { MachineInfo } from "../sysinfo.js";
import { formatTime, intervalChart, lineChart, type RefLine, type Series } from "./svg.js";

/** x86 flushes page by page up to this many pages, the whole TLB above. */
export const FULL_FLUSH_CEILING_PAGES = tlb_single_page_flush_ceiling;

const targetsName = (n: number | string): string => `${n} target${String(n) === "1" ? "" : "s"}`;
const sorted = (xs: number[]): number[] => [...new Set(xs)].sort((a, b) => a - b);
const machineText = (m: MachineInfo): string => `${m.cores} cores (${m.cpuModel}), Node ${m.node}`;

/** The bin of a latency histogram whose low edge is `ns` (bins as the result JSON keeps them). */
const binOf = (ns: number): number => Math.round(Math.log10(ns / BIN_MIN_NS) * BINS_PER_DECADE);

/**
 * Histograms as the result keeps them (non-empty bins only) back on one grid: every bin from
 * one below the lowest non-empty bin of any of them to one above the highest, zeros included.
 */
export function fullBins(hists: [number, number][][]): {
  points: [number, number][][];
  end: number;
} {
  const idx = hists.flatMap((h) => h.map(([ns]) => binOf(ns)));
  if (idx.length === 0) return { points: hists.map(() => []), end: binLowNs(1) };
  const lo = Math.max(0, Math.min(...idx) - 1);
  const hi = Math.min(NR_BINS - 1, Math.max(...idx) + 1);
  const points = hists.map((h) => {
    const counts = new Map(h.map(([ns, n]) => [binOf(ns), n]));
    const out: [number, number][] = [];
    for (let b = lo; b <= hi; b++) out.push([binLowNs(b), counts.get(b) ?? 0]);
    return out;
  });
  return { points, end: binLowNs(hi + 1) };
}

export function flushCharts(r: FlushBenchResult): {
  ranges: string;
  targets: string;
  histogram: string;
} {
  const sub = `${r.cpus} CPUs on ${machineText(r.machine)}${r.quick ? ", quick" : ""}${r.partial ? ", PARTIAL" : ""}`;
  const floor: RefLine = {
    axis: "y",
    value: r.floor.p50Ns,
    label: `ping-pong floor, p50 ${formatTime(r.floor.p50Ns)}`,
  };
  const keys = [...new Set(r.rows.map((x) => `${x.targets}|${x.mode}`))];
  const ranges = lineChart({
    title: "TLB shootdown latency against the range flushed, p50",
    subtitle: sub,
    x: { label: "pages flushed", log: true, ticks: sorted(r.rows.map((x) => x.pages)) },
    y: { label: "latency of one flush_tlb_mm_range(), p50", unit: "ns", log: true },
    refs: [
      {
        axis: "x",
        value: FULL_FLUSH_CEILING_PAGES,
        label: `full-flush ceiling: ${FULL_FLUSH_CEILING_PAGES} pages (above: whole TLB)`,
      },
      floor,
    ],
    series: keys.map((k) => {
      const [targets = "", mode] = k.split("|");
      return {
        name: `${targetsName(targets)}, ${mode}`,
        points: r.rows
          .filter((x) => `${x.targets}|${x.mode}` === k)
          .map((x) => [x.pages, x.p50Ns] as [number, number]),
      };
    }),
  });
  const one = r.rows.filter((x) => x.pages === 1);
  const byTargets = (mode: string, f: "p50Ns" | "p99Ns"): [number, number][] =>
    one.filter((x) => x.mode === mode).map((x) => [x.targets, x[f]]);
  const targets = lineChart({
    title: "Shootdown latency against target CPUs, 1 page",
    subtitle: sub,
    x: {
      label: "target CPUs (IPIs per flush)",
      integer: true,
      ticks: sorted(one.map((x) => x.targets)),
    },
    y: { label: "latency of one flush_tlb_mm_range()", unit: "ns", log: true },
    refs: [floor],
    series: [
      { name: "spinning, p50", points: byTargets("spinning", "p50Ns") },
      { name: "spinning, p99", points: byTargets("spinning", "p99Ns") },
      { name: "parked, p50", points: byTargets("parked", "p50Ns") },
      { name: "parked, p99", points: byTargets("parked", "p99Ns") },
    ],
  });
  const hist = r.rows.filter((x) => x.pages === 1 && x.targets === 1);
  const grid = fullBins([...hist.map((x) => x.bins), r.floor.bins]);
  const samples = (n: number): string => `${n.toLocaleString("en-US")} samples`;
  const histogram = lineChart({
    title: `Latency histogram: one target, 1 page (${BINS_PER_DECADE} bins per decade)`,
    subtitle: sub,
    x: { label: "latency", unit: "ns", log: true },
    y: { label: "samples in the bin", unit: "count", log: true, zeroFloor: true },
    series: [
      ...hist.map((x, i) => ({
        name: `${x.mode} target (${samples(x.samples)})`,
        style: "step" as const,
        stepEnd: grid.end,
        points: grid.points[i] ?? [],
      })),
      {
        name: `ping-pong round trip (${samples(r.floor.samples)})`,
        style: "step",
        stepEnd: grid.end,
        points: grid.points[hist.length] ?? [],
      },
    ],
  });
  return { ranges, targets, histogram };
}

/** B/A per variant: the geometric mean, its 95% interval as a band, each pair as a dot. */
export function mixedChart(r: MixedBenchResult): string {
  const pairRatios = (variant: string): number[] => {
    const out: number[] = [];
    for (let p = 0; p < r.pairsPlanned; p++) {
      const a = r.runs.find(
        (x) => x.variant === variant && x.pair === p && x.kernel === r.baseline,
      );
      const b = r.runs.find((x) => x.variant === variant && x.pair === p && x.kernel === variant);
      if (a !== undefined && b !== undefined && a.jobsPerSecond > 0)
        out.push(b.jobsPerSecond / a.jobsPerSecond);
    }
    return out;
  };
  return intervalChart({
    title: `Mixed workload: throughput of each fix B against A = ${r.baseline}`,
    subtitle: `${r.cpus} CPUs on ${machineText(r.machine)}; ${r.runMs} ms per run, runs interleaved A B / B A${r.partial ? ", PARTIAL" : ""}`,
    xLabel: "variant B",
    y: { label: "jobs/s of B / jobs/s of A", unit: "ratio" },
    categories: r.comparisons.map((c) => ({
      name: c.variant,
      estimate: c.ratio,
      low: c.low,
      high: c.high,
      samples: pairRatios(c.variant),
    })),
    estimateName: "B/A, geometric mean",
    bandName: "95% interval (t, over pairs)",
    samplesName: "one A/B pair",
    refs: [{ axis: "y", value: 1, label: "no change (B/A = 1)" }],
  });
}

export function mremapCharts(r: MremapBenchResult): { ops: string; flushes: string } {
  const kernels = [...new Set(r.rows.map((x) => x.kernel))];
  const dirty = r.rows.filter((x) => x.dirty);
  const series = (field: "opsPerSecond" | "flushesPerOp"): Series[] =>
    kernels.map((k) => ({
      name: k,
      points: dirty
        .filter((x) => x.kernel === k)
        .map((x) => [x.pages, x[field]] as [number, number]),
    }));
  const x = { label: "region size, pages", log: true, ticks: sorted(dirty.map((x) => x.pages)) };
  const sub = `2 CPUs (CPU 1 answers the IPIs) on ${machineText(r.machine)}; ${r.msPerConfig} ms per cell${r.partial ? ", PARTIAL" : ""}`;
  return {
    ops: lineChart({
      title: "mremap() of a dirty region: throughput per kernel",
      subtitle: sub,
      x,
      y: { label: "mremap() calls per second", unit: "count", log: true },
      series: series("opsPerSecond"),
    }),
    flushes: lineChart({
      title: "mremap() of a dirty region: TLB flushes per call",
      subtitle: sub,
      x,
      y: { label: "flush_tlb_mm_range() calls per mremap()", log: true },
      refs: [
        {
          axis: "x",
          value: LATENCY_LIMIT / PAGE_SIZE,
          label: `LATENCY_LIMIT: ${LATENCY_LIMIT / PAGE_SIZE} pages`,
        },
        { axis: "x", value: PMD_SIZE / PAGE_SIZE, label: `PMD: ${PMD_SIZE / PAGE_SIZE} pages` },
      ],
      series: series("flushesPerOp"),
    }),
  };
}

export function windowCharts(r: WindowBenchResult): { delay: string; offset: string } {
  const kernels = [...new Set(r.points.map((p) => p.kernel))];
  const sub = `${r.trialsPerPoint.toLocaleString("en-US")} trials per point, ${machineText(r.machine)}; band: 95% interval${r.partial ? "; PARTIAL" : ""}`;
  const chart = (sweep: "delay" | "offset", title: string, xLabel: string, refs: RefLine[]) =>
    lineChart({
      title,
      subtitle: sub,
      x: { label: xLabel, unit: "ns" },
      y: { label: "trials with a forbidden outcome", unit: "percent", zero: true },
      refs,
      series: kernels.map((k) => {
        const pts = r.points.filter((p) => p.kernel === k && p.sweep === sweep);
        return {
          name: k,
          points: pts.map((p) => [p.us * 1000, p.rate * 100] as [number, number]),
          band: pts
            .filter((p) => p.trials > 0)
            .map((p) => {
              const i = rateInterval(p.forbidden, p.trials);
              return [p.us * 1000, i.low * 100, i.high * 100] as [number, number, number];
            }),
        };
      }),
    });
  return {
    delay: chart(
      "delay",
      `${r.scenario}: the race window against the injected delay`,
      `delay injected at ${r.point}`,
      [],
    ),
    offset: chart(
      "offset",
      `${r.scenario}: the race window against the start offset`,
      "CPU 1 starts this long after CPU 0",
      [{ axis: "x", value: 0, label: "both start together" }],
    ),
  };
}

/** bench scale: trials/s against machines, beside the linear scaling of the 1-machine rate. */
export function scaleChart(r: ScaleBenchResult): string {
  const one = r.rows.find((x) => x.machines === 1)?.trialsPerSecond ?? 0;
  const full = r.cores / r.cpus;
  return lineChart({
    title: `Stress scaling: ${r.scenario} on ${r.kernel}`,
    subtitle: `${r.mode ?? "natural"} timing, machines of ${r.cpus} CPUs on ${r.cores} cores; ${r.secondsPerPoint} s per point${r.partial ? ", PARTIAL" : ""}`,
    x: {
      label: "machines running at once",
      integer: true,
      ticks: sorted(r.rows.map((x) => x.machines)),
    },
    y: { label: "trials/s", unit: "count", zero: true },
    refs:
      full >= 1
        ? [{ axis: "x", value: full, label: `machines × ${r.cpus} CPUs = ${r.cores} cores` }]
        : [],
    series: [
      { name: "measured", points: r.rows.map((x) => [x.machines, x.trialsPerSecond]) },
      {
        name: "linear: machines × 1-machine rate",
        points: r.rows.map((x) => [x.machines, x.machines * one]),
      },
    ],
  });
}

/**
 * bench natural: the forbidden rate (for the seed, lost writes) against the size of the mapping,
 * a series per kernel and offsets, and per scan size where the bench swept more than one.
 */
export function naturalChart(r: NaturalBenchResult): string {
  const scenario = r.scenario ?? "mremap-mkclean"; // results written before any other could run
  const scans = new Set(r.rows.map((x) => x.params?.scan)).size > 1;
  const keyOf = (x: NaturalBenchResult["rows"][number]): string =>
    `${x.kernel}|${x.offsets}|${scans ? String(x.params?.scan) : ""}`;
  const keys = [...new Set(r.rows.map(keyOf))];
  const harm = r.harm ?? "a lost write";
  return lineChart({
    title: `${scenario} at natural timing: trials with ${harm} against mapping size`,
    subtitle: `nothing injected, ${r.secondsPerCell} s per cell, ${r.cpus ?? 2} CPUs${r.arch === "arm64" ? " (a modelled arm64)" : ""} on ${machineText(r.machine)}; band: 95% interval${r.partial ? "; PARTIAL" : ""}`,
    x: { label: "pages of the mapping", log: true, ticks: sorted(r.rows.map((x) => x.pages)) },
    y: {
      label: harm === "a lost write" ? "trials that lost the write" : `trials with ${harm}`,
      unit: "percent",
      zero: true,
    },
    series: keys.map((k) => {
      const rows = r.rows.filter((x) => keyOf(x) === k);
      const [kernel, offsets, scan] = k.split("|");
      return {
        name: `${kernel} ${offsets === "window" ? "window-aware" : "uniform"}${scan ? `, scan ${scan}` : ""}`,
        points: rows.map((x) => [x.pages, 100 * x.rate.rate] as [number, number]),
        band: rows.map(
          (x) => [x.pages, 100 * x.rate.low, 100 * x.rate.high] as [number, number, number],
        ),
      };
    }),
  });
}
