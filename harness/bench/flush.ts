/**
 * `tlbrace bench flush`: shootdown latency, initiator to 1..N-1 targets, for ranges of 1, 8,
 * 33, 34, 64 and 512 pages (x86 flushes page by page up to 33, everything above), with
 * spinning and with parked targets, and a cache-line ping-pong floor measured on the same
 * workers. Percentiles come from node:perf_hooks histograms (HDR-style).
 */
import { availableParallelism } from "node:os";
import { Layout } from "../../lib/machine/layout.js";
import { barrier_init } from "../../lib/sync/barrier.js";
import { formatNs } from "../../lib/units.js";
import { table } from "../format.js";
import { machineInfo, type MachineInfo } from "../sysinfo.js";
import { runBenchWorkers, SILENT, type BenchControl } from "./control.js";
import type { FlushBenchJob, FlushConfig, FlushFloor, FlushRow } from "./flush-cpu.js";
import type { Provenance } from "../results.js";

export const FLUSH_RANGES = [1, 8, 33, 34, 64, 512];

export interface FlushBenchResult {
  schema: 1;
  /** tlbrace's version and commit (docs/outputs.md); absent in results written before. */
  tlbrace?: Provenance;
  bench: "flush";
  command: string;
  machine: MachineInfo;
  cpus: number;
  quick: boolean;
  /** Stopped by Ctrl-C before every cell ran. */
  partial: boolean;
  startedAt: string;
  floor: FlushFloor;
  rows: (FlushRow & { p50OverFloor: number })[];
}

const WORKER = new URL("./flush-cpu.js", import.meta.url);

export async function flushBench(
  cpus: number,
  quick: boolean,
  command: string,
  ctl: BenchControl = SILENT,
): Promise<FlushBenchResult> {
  const startedAt = new Date().toISOString();
  const spinSamples = quick ? 1000 : 20_000;
  const parkSamples = quick ? 100 : 2_000;
  // A cell stops at its budget: with more CPUs than cores a spinning target may hold its core
  // for a whole timeslice (4 ms), and 20,000 such flushes would take minutes.
  const budgetMs = quick ? 100 : 1000;
  const configs: FlushConfig[] = [];
  for (let targets = 1; targets < cpus; targets++) {
    for (const pages of FLUSH_RANGES) {
      configs.push({ targets, pages, mode: "spinning", samples: spinSamples, budgetMs });
      configs.push({ targets, pages, mode: "parked", samples: parkSamples, budgetMs });
    }
  }
  const L = new Layout(cpus);
  const sab = new SharedArrayBuffer(L.bytes);
  const mem = new Int32Array(sab);
  barrier_init(mem, L.trialBarrier, cpus);
  const words = { stop: L.program + 32, go: L.program + 33 };
  let floor: FlushFloor | undefined;
  ctl.stage(`bench flush: ${cpus} CPUs, ${configs.length} cells`);
  const rows = await runBenchWorkers<FlushBenchJob, FlushRow>(
    WORKER,
    Array.from({ length: cpus }, (_, id) => ({
      sab,
      nrCpus: cpus,
      id,
      configs,
      pingPongSamples: quick ? 2000 : 50_000,
      words,
    })),
    mem,
    words,
    ctl,
    (row, i) =>
      ctl.progress(
        `  ${row.targets} target(s), ${row.pages} pages, ${row.mode}`,
        i + 1,
        configs.length,
      ),
    (info) => (floor = info as FlushFloor),
  );
  ctl.done();
  if (floor === undefined) throw new Error("bench flush: CPU 0 reported no floor");
  const floorP50 = Math.max(1, floor.p50Ns);
  return {
    schema: 1,
    bench: "flush",
    command,
    machine: machineInfo(),
    cpus,
    quick,
    partial: rows.length < configs.length,
    startedAt,
    floor,
    rows: rows.map((r) => ({ ...r, p50OverFloor: Math.round((r.p50Ns / floorP50) * 10) / 10 })),
  };
}

export function defaultFlushCpus(): number {
  return Math.max(2, availableParallelism());
}

export function formatFlushBench(r: FlushBenchResult): string {
  const f = r.floor;
  return (
    `bench flush: ${r.cpus} CPUs on ${r.machine.cores} cores (${r.machine.cpuModel}), Node ${r.machine.node}${r.quick ? ", quick" : ""}\n` +
    `floor (cache-line ping-pong round trip, CPUs 0 and 1): p50 ${formatNs(f.p50Ns)}, p99 ${formatNs(f.p99Ns)}, max ${formatNs(f.maxNs)} over ${f.samples.toLocaleString("en-US")} round trips\n` +
    `latency of one flush_tlb_mm_range() on CPU 0: local flush, IPIs, every ack\n\n` +
    table(
      [
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
        ...r.rows.map((x) => [
          String(x.targets),
          String(x.pages),
          x.pages > 33 ? "full" : "per page",
          x.mode,
          x.samples.toLocaleString("en-US"),
          formatNs(x.p50Ns),
          formatNs(x.p90Ns),
          formatNs(x.p99Ns),
          formatNs(x.p999Ns),
          formatNs(x.maxNs),
          `${x.p50OverFloor}x`,
        ]),
      ],
      [true, true, false, false, true, true, true, true, true, true, true],
    ) +
    (r.partial ? "\nPARTIAL: stopped before every cell ran" : "")
  );
}
