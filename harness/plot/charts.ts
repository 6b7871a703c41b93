/** The benches' charts, from their result JSON. */
import { formatNs } from "../../lib/units.js";
import type { FlushBenchResult } from "../bench/flush.js";
import type { MremapBenchResult } from "../bench/mremap.js";
import type { WindowBenchResult } from "../bench/window.js";
import { lineChart, shortNumber } from "./svg.js";

export function flushChart(r: FlushBenchResult): string {
  const keys = [...new Set(r.rows.map((x) => `${x.targets}|${x.mode}`))];
  return lineChart({
    title: `TLB shootdown latency, p50 (${r.cpus} CPUs, floor ${formatNs(r.floor.p50Ns)})`,
    xLabel: "pages flushed (per page up to 33, full flush above)",
    yLabel: "latency of flush_tlb_mm_range(), p50 (ns)",
    xLog: true,
    yLog: true,
    series: keys.map((k) => {
      const [targets, mode] = k.split("|");
      return {
        name: `${targets} target${targets === "1" ? "" : "s"}, ${mode}`,
        points: r.rows
          .filter((x) => `${x.targets}|${x.mode}` === k)
          .map((x) => [x.pages, x.p50Ns] as [number, number]),
      };
    }),
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
