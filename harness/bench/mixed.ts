/**
 * `tlbrace bench mixed`: what a fix costs a whole workload, not one system call. A
 * kernel-build-like mix runs on every CPU (see mixed-cpu.ts) under the baseline kernel A and
 * each variant B, interleaved in pairs (A B, then B A, so a slow drift of the host cancels),
 * and the throughput ratio B/A is reported with a 95% interval over the pairs. The seed
 * measured its fix on a kernel build: 5m14.048s vs 5m13.888s, no visible change.
 */
import { availableParallelism } from "node:os";
import { Layout } from "../../lib/machine/layout.js";
import { pairedRatioInterval } from "../../lib/stats/intervals.js";
import { barrier_init } from "../../lib/sync/barrier.js";
import { table } from "../format.js";
import { machineInfo, type MachineInfo } from "../sysinfo.js";
import { runBenchWorkers, SILENT, type BenchControl } from "./control.js";
import {
  FILE_PAGES,
  HEAP_PAGES,
  MIXED_MAX_CPUS,
  MREMAP_EVERY,
  SOURCES_PER_JOB,
  WRITEBACK_EVERY,
  type MixedBenchJob,
  type MixedCell,
  type MixedRow,
} from "./mixed-workload.js";
import type { Provenance } from "../results.js";

export const MIXED_BASELINE = "v4.9-rc4";
export const MIXED_VARIANTS = ["5d1904204c99", "remove-latency-limit", "eb66ae030829"];

export interface MixedOptions {
  cpus: number;
  baseline: string;
  variants: string[];
  pairs: number;
  runMs: number;
  quick: boolean;
}

export interface MixedComparison {
  variant: string;
  /** Complete A/B pairs the interval rests on. */
  pairs: number;
  /** Geometric mean of B/A jobs/s over the pairs, with its 95% interval. */
  ratio: number;
  low: number;
  high: number;
  /** The interval holds 1: no cost the pairs can tell from noise. */
  holdsOne: boolean;
  baselineJobsPerSecond: number;
  variantJobsPerSecond: number;
  baselineFlushesPerJob: number;
  variantFlushesPerJob: number;
}

export interface MixedBenchResult {
  schema: 1;
  /** tlbrace's version and commit (docs/outputs.md); absent in results written before. */
  tlbrace?: Provenance;
  bench: "mixed";
  command: string;
  machine: MachineInfo;
  cpus: number;
  quick: boolean;
  /** Stopped by Ctrl-C before every run finished. */
  partial: boolean;
  baseline: string;
  runMs: number;
  pairsPlanned: number;
  startedAt: string;
  workload: {
    filePages: number;
    heapPages: number;
    sourcesPerJob: number;
    mremapEvery: number;
    writebackEvery: number;
  };
  comparisons: MixedComparison[];
  /** Every timed run in the order it ran (pair -1: the uncounted warm-up). */
  runs: MixedRow[];
}

export function defaultMixedCpus(): number {
  return Math.min(MIXED_MAX_CPUS, Math.max(2, availableParallelism()));
}

/** The uncounted first run: the JIT needs about a second before jobs/s settles. */
export const MIXED_WARMUP_MS = 1500;

/** The run order: a warm-up, then per variant `pairs` pairs, A B and B A in turn. */
export function mixedSchedule(o: MixedOptions): MixedCell[] {
  const cells: MixedCell[] = [
    { kernel: o.baseline, variant: "(warm-up)", pair: -1, ms: MIXED_WARMUP_MS },
  ];
  for (const variant of o.variants) {
    for (let pair = 0; pair < o.pairs; pair++) {
      const a: MixedCell = { kernel: o.baseline, variant, pair, ms: o.runMs };
      const b: MixedCell = { kernel: variant, variant, pair, ms: o.runMs };
      cells.push(...(pair % 2 === 0 ? [a, b] : [b, a]));
    }
  }
  return cells;
}

/** Ratios from the complete pairs of each variant. */
export function compareMixed(
  runs: MixedRow[],
  baseline: string,
  variants: string[],
): MixedComparison[] {
  const out: MixedComparison[] = [];
  for (const variant of variants) {
    const a: MixedRow[] = [];
    const b: MixedRow[] = [];
    for (const r of runs) {
      if (r.variant !== variant || r.pair < 0) continue;
      const mate = runs.find(
        (x) => x.variant === variant && x.pair === r.pair && x.kernel !== r.kernel,
      );
      if (mate === undefined || r.kernel !== baseline) continue;
      a.push(r);
      b.push(mate);
    }
    if (a.length < 2) continue;
    const ci = pairedRatioInterval(
      a.map((x) => x.jobsPerSecond),
      b.map((x) => x.jobsPerSecond),
    );
    const sum = (xs: MixedRow[], f: (x: MixedRow) => number): number =>
      xs.reduce((s, x) => s + f(x), 0);
    out.push({
      variant,
      pairs: ci.pairs,
      ratio: ci.ratio,
      low: ci.low,
      high: ci.high,
      holdsOne: ci.low <= 1 && 1 <= ci.high,
      baselineJobsPerSecond: Math.round(sum(a, (x) => x.jobsPerSecond) / a.length),
      variantJobsPerSecond: Math.round(sum(b, (x) => x.jobsPerSecond) / b.length),
      baselineFlushesPerJob: sum(a, (x) => x.flushes) / sum(a, (x) => x.jobs),
      variantFlushesPerJob: sum(b, (x) => x.flushes) / sum(b, (x) => x.jobs),
    });
  }
  return out;
}

const WORKER = new URL("./mixed-cpu.js", import.meta.url);

export async function mixedBench(
  o: MixedOptions,
  command: string,
  ctl: BenchControl = SILENT,
): Promise<MixedBenchResult> {
  const startedAt = new Date().toISOString();
  const cells = mixedSchedule(o);
  const L = new Layout(o.cpus);
  const sab = new SharedArrayBuffer(L.bytes);
  const mem = new Int32Array(sab);
  barrier_init(mem, L.trialBarrier, o.cpus);
  const words = { stop: L.program + 240, go: L.program + 241 };
  ctl.stage(`bench mixed: ${o.cpus} CPUs, ${cells.length} runs of ${o.runMs} ms`);
  const runs = await runBenchWorkers<MixedBenchJob, MixedRow>(
    WORKER,
    Array.from({ length: o.cpus }, (_, id) => ({ sab, nrCpus: o.cpus, id, cells, words })),
    mem,
    words,
    ctl,
    (row, i) =>
      ctl.progress(`  ${row.kernel} (pair ${row.pair + 1} of ${row.variant})`, i + 1, cells.length),
  );
  ctl.done();
  return {
    schema: 1,
    bench: "mixed",
    command,
    machine: machineInfo(),
    cpus: o.cpus,
    quick: o.quick,
    partial: runs.length < cells.length,
    baseline: o.baseline,
    runMs: o.runMs,
    pairsPlanned: o.pairs,
    startedAt,
    workload: {
      filePages: FILE_PAGES,
      heapPages: HEAP_PAGES,
      sourcesPerJob: SOURCES_PER_JOB,
      mremapEvery: MREMAP_EVERY,
      writebackEvery: WRITEBACK_EVERY,
    },
    comparisons: compareMixed(runs, o.baseline, o.variants),
    runs,
  };
}

export function formatMixedBench(r: MixedBenchResult): string {
  const w = r.workload;
  const pct = (x: number): string => `${x >= 1 ? "+" : ""}${((x - 1) * 100).toFixed(1)}%`;
  return (
    `bench mixed: ${r.cpus} CPUs on ${r.machine.cores} cores (${r.machine.cpuModel}), Node ${r.machine.node}; ${r.runMs} ms per run\n` +
    `one job = mmap ${w.heapPages} anonymous pages and write them all, read ${w.sourcesPerJob} file pages, write 1, munmap (mremap first every ${w.mremapEvery}th); CPU 0 writes the ${w.filePages}-page file back every ${w.writebackEvery}th job\n` +
    `runs interleaved A B / B A against ${r.baseline}; ratio = geometric mean of B/A jobs/s over the pairs, 95% t interval\n\n` +
    table(
      [
        [
          "variant B",
          "pairs",
          `A jobs/s`,
          "B jobs/s",
          "B/A",
          "95% interval",
          "cost",
          "flushes/job A",
          "flushes/job B",
        ],
        ...r.comparisons.map((c) => [
          c.variant,
          String(c.pairs),
          c.baselineJobsPerSecond.toLocaleString("en-US"),
          c.variantJobsPerSecond.toLocaleString("en-US"),
          c.ratio.toFixed(3),
          `${c.low.toFixed(3)} .. ${c.high.toFixed(3)}`,
          c.holdsOne ? "none visible" : pct(c.ratio),
          c.baselineFlushesPerJob.toFixed(2),
          c.variantFlushesPerJob.toFixed(2),
        ]),
      ],
      [false, true, true, true, true, false, false, true, true],
    ) +
    (r.runs.some((x) => x.uaf > 0)
      ? `\nuse-after-free seen by the oracle in ${r.runs.filter((x) => x.uaf > 0).length} run(s)`
      : "") +
    (r.partial ? "\nPARTIAL: stopped before every run finished" : "")
  );
}
