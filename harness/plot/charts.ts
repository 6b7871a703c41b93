/** The benches' charts, from their result JSON. */
import { formatNs } from "../../lib/units.js";
import type { FlushBenchResult } from "../bench/flush.js";
import type { MixedBenchResult } from "../bench/mixed.js";
import type { MremapBenchResult } from "../bench/mremap.js";
import type { WindowBenchResult } from "../bench/window.js";
import type { NaturalBenchResult } from "../bench/natural.js";
import type { ScaleBenchResult } from "../bench/scale.js";
import { lineChart, shortNumber } from "./svg.js";

const targetsName = (n: number | string): string => `${n} target${String(n) === "1" ? "" : "s"}`;

/** The histogram's bins as [bin low edge ns, share of samples %]. */
const shares = (bins: [number, number][], samples: number): [number, number][] =>
  bins.map(([ns, n]) => [ns, (100 * n) / Math.max(1, samples)]);

export function flushCharts(r: FlushBenchResult): {
  ranges: string;
  targets: string;
  histogram: string;
} {
  const keys = [...new Set(r.rows.map((x) => `${x.targets}|${x.mode}`))];
  const ranges = lineChart({
    title: `TLB shootdown latency, p50 (${r.cpus} CPUs, floor ${formatNs(r.floor.p50Ns)})`,
    xLabel: "pages flushed (per page up to 33, full flush above)",
    yLabel: "latency of flush_tlb_mm_range(), p50 (ns)",
    xLog: true,
    yLog: true,
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
    title: `Shootdown latency vs target CPUs (1 page, ${r.cpus} CPUs on ${r.machine.cores} cores)`,
    xLabel: "target CPUs (IPIs per flush)",
    yLabel: "latency of flush_tlb_mm_range() (ns)",
    yLog: true,
    xFormat: (v) => (Number.isInteger(v) ? String(v) : ""),
    series: [
      { name: "spinning, p50", points: byTargets("spinning", "p50Ns") },
      { name: "spinning, p99", points: byTargets("spinning", "p99Ns") },
      { name: "parked, p50", points: byTargets("parked", "p50Ns") },
      { name: "parked, p99", points: byTargets("parked", "p99Ns") },
      {
        name: "ping-pong floor, p50",
        points: byTargets("spinning", "p50Ns").map(([t]) => [t, r.floor.p50Ns]),
      },
    ],
  });
  const hist = r.rows.filter((x) => x.pages === 1 && x.targets === 1);
  const histogram = lineChart({
    title: "Latency histogram: one target, 1 page (10 bins per decade)",
    xLabel: "latency (ns, log scale)",
    yLabel: "share of samples (%)",
    xLog: true,
    xFormat: (v) => formatNs(v),
    series: [
      ...hist.map((x) => ({ name: `${x.mode} target`, points: shares(x.bins, x.samples) })),
      { name: "ping-pong floor", points: shares(r.floor.bins, r.floor.samples) },
    ],
  });
  return { ranges, targets, histogram };
}

export function mixedChart(r: MixedBenchResult): string {
  const series = r.comparisons.map((c) => {
    const ratio = (pair: number): number | undefined => {
      const a = r.runs.find(
        (x) => x.variant === c.variant && x.pair === pair && x.kernel === r.baseline,
      );
      const b = r.runs.find(
        (x) => x.variant === c.variant && x.pair === pair && x.kernel === c.variant,
      );
      return a === undefined || b === undefined ? undefined : b.jobsPerSecond / a.jobsPerSecond;
    };
    const points: [number, number][] = [];
    for (let p = 0; p < r.pairsPlanned; p++) {
      const v = ratio(p);
      if (v !== undefined) points.push([p + 1, v]);
    }
    return {
      name: c.variant, // the ratio and its interval are in the table: the legend is narrow
      points,
    };
  });
  const pairs = Math.max(2, ...series.map((s) => s.points.length));
  return lineChart({
    title: `Mixed workload: throughput of B / ${r.baseline}, per A/B pair (${r.cpus} CPUs)`,
    xLabel: "A/B pair (runs interleaved A B, B A, ...)",
    yLabel: "jobs/s of B / jobs/s of A",
    xFormat: (v) => (Number.isInteger(v) ? String(v) : ""),
    series: [
      ...series,
      {
        name: "no change",
        points: [
          [1, 1],
          [pairs, 1],
        ],
      },
    ],
  });
}

export function mremapCharts(r: MremapBenchResult): { ops: string; flushes: string } {
  const kernels = [...new Set(r.rows.map((x) => x.kernel))];
  const series = (field: "opsPerSecond" | "flushesPerOp") =>
    kernels.map((k) => ({
      name: k,
      points: r.rows
        .filter((x) => x.kernel === k && x.dirty)
        .map((x) => [x.pages, x[field]] as [number, number]),
    }));
  return {
    ops: lineChart({
      title: "mremap() of a dirty region: throughput per kernel",
      xLabel: "region size (pages)",
      yLabel: "mremap operations per second",
      xLog: true,
      yLog: true,
      series: series("opsPerSecond"),
    }),
    flushes: lineChart({
      title: "mremap() of a dirty region: TLB flushes per operation",
      xLabel: "region size (pages)",
      yLabel: "flush_tlb_mm_range() calls per mremap()",
      xLog: true,
      yLog: true,
      series: series("flushesPerOp"),
    }),
  };
}

export function windowCharts(r: WindowBenchResult): { delay: string; offset: string } {
  const kernels = [...new Set(r.points.map((p) => p.kernel))];
  const chart = (sweep: "delay" | "offset", title: string, xLabel: string): string =>
    lineChart({
      title,
      xLabel,
      yLabel: "trials with a forbidden outcome (%)",
      yFormat: (v) => `${shortNumber(v)}%`,
      series: kernels.map((k) => ({
        name: k,
        points: r.points
          .filter((p) => p.kernel === k && p.sweep === sweep)
          .map((p) => [p.us, p.rate * 100] as [number, number]),
      })),
    });
  return {
    delay: chart(
      "delay",
      `${r.scenario}: window against injected delay`,
      `delay at ${r.point} (us)`,
    ),
    offset: chart(
      "offset",
      `${r.scenario}: window against start offset`,
      "CPU 1 starts this long after CPU 0 (us)",
    ),
  };
}

/** bench scale: trials/s against machines, beside the linear scaling of the 1-machine rate. */
export function scaleChart(r: ScaleBenchResult): string {
  const one = r.rows.find((x) => x.machines === 1)?.trialsPerSecond ?? 0;
  return lineChart({
    title: `Stress scaling: ${r.scenario} on ${r.kernel}, ${r.mode ?? "natural"}, machines of ${r.cpus} CPUs on ${r.cores} cores`,
    xLabel: "machines running at once",
    yLabel: "trials/s",
    xFormat: (v) => (Number.isInteger(v) ? String(v) : ""),
    series: [
      { name: "measured", points: r.rows.map((x) => [x.machines, x.trialsPerSecond]) },
      { name: "linear", points: r.rows.map((x) => [x.machines, x.machines * one]) },
    ],
  });
}

/** bench natural: the lost-write rate against the size of the mapping, per kernel and offsets. */
export function naturalChart(r: NaturalBenchResult): string {
  const keys = [...new Set(r.rows.map((x) => `${x.kernel}|${x.offsets}`))];
  return lineChart({
    title: `Seed race at natural timing: lost-write rate against mapping size (${r.secondsPerCell} s per cell)`,
    xLabel: "pages thread 1 has read (log)",
    yLabel: "lost-write trials (%)",
    xLog: true,
    xFormat: (v) => String(v),
    yFormat: (v) => `${+v.toPrecision(3)}`,
    series: keys.map((k) => {
      const [kernel, offsets] = k.split("|");
      return {
        name: `${kernel} ${offsets === "window" ? "window-aware" : "uniform"}`,
        points: r.rows
          .filter((x) => x.kernel === kernel && x.offsets === offsets)
          .map((x) => [x.pages, 100 * x.rate.rate] as [number, number]),
      };
    }),
  });
}
