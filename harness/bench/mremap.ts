/**
 * `tlbrace bench mremap`: what mremap() costs per kernel variant, for clean and dirty regions
 * of 1 to 4096 pages: operations/s, pages/s, TLB flushes (all of them, and those of
 * move_page_tables(), the move itself) and IPIs per operation. The shape to reproduce from
 * history (the June 2018 linux-mm thread, see docs/kernels.md): the seed fix (5d1904204c99, and
 * v4.9 after it) adds a flush per LATENCY_LIMIT extent (64 pages) of a dirty region, where
 * v4.9-rc4 flushed once; a customer's mremap-heavy microbenchmark lost 30-50%. Removing
 * LATENCY_LIMIT (remove-latency-limit) flushes once per PMD (512 pages), 8x fewer; eb66ae030829
 * flushes for every PMD extent with a present entry, clean or dirty. 9f132f7e1455 moves a whole
 * PMD-aligned PMD by its entry (move_normal_pmd(), "mm: speed up mremap by 20x on large
 * regions"): one flush per PMD and no per-PTE work at all.
 */
import { Layout } from "../../lib/machine/layout.js";
import { barrier_init } from "../../lib/sync/barrier.js";
import { table } from "../format.js";
import { machineInfo, type MachineInfo } from "../sysinfo.js";
import { runBenchWorkers, SILENT, type BenchControl } from "./control.js";
import type { MremapBenchJob, MremapConfig, MremapRow } from "./mremap-cpu.js";
import type { Provenance } from "../results.js";

export const MREMAP_SIZES = [1, 8, 64, 512, 4096];
export const MREMAP_KERNELS = [
  "v4.9-rc4",
  "5d1904204c99",
  "v4.9",
  "remove-latency-limit",
  "eb66ae030829",
  "9f132f7e1455",
];

export interface MremapBenchResult {
  schema: 1;
  /** tlbrace's version and commit (docs/outputs.md); absent in results written before. */
  tlbrace?: Provenance;
  bench: "mremap";
  command: string;
  machine: MachineInfo;
  quick: boolean;
  /** Stopped by Ctrl-C before every cell ran. */
  partial: boolean;
  msPerConfig: number;
  startedAt: string;
  rows: (MremapRow & { opsVsV49rc4: number })[];
}

const WORKER = new URL("./mremap-cpu.js", import.meta.url);

export async function mremapBench(
  quick: boolean,
  command: string,
  ctl: BenchControl = SILENT,
): Promise<MremapBenchResult> {
  const startedAt = new Date().toISOString();
  const msPerConfig = quick ? 60 : 400;
  const configs: MremapConfig[] = [];
  for (const dirty of [false, true]) {
    for (const pages of MREMAP_SIZES)
      for (const kernel of MREMAP_KERNELS) configs.push({ kernel, pages, dirty });
  }
  // An uncounted first cell: JIT warm-up must not land in the first measured one.
  configs.unshift({ ...(configs[0] as MremapConfig) });
  const L = new Layout(2);
  const sab = new SharedArrayBuffer(L.bytes);
  const mem = new Int32Array(sab);
  barrier_init(mem, L.trialBarrier, 2);
  const words = { stop: L.program + 96, go: L.program + 97 };
  ctl.stage(`bench mremap: ${configs.length - 1} cells of ${msPerConfig} ms`);
  const all = await runBenchWorkers<MremapBenchJob, MremapRow>(
    WORKER,
    [0, 1].map((id) => ({ sab, id, configs, msPerConfig, words })),
    mem,
    words,
    ctl,
    (row, i) =>
      ctl.progress(
        `  ${row.kernel}, ${row.pages} pages ${row.dirty ? "dirty" : "clean"}`,
        i + 1,
        configs.length,
      ),
  );
  ctl.done();
  const rows = all.slice(1);
  const base = (r: MremapRow): number =>
    rows.find((x) => x.kernel === "v4.9-rc4" && x.pages === r.pages && x.dirty === r.dirty)
      ?.opsPerSecond ?? 0;
  return {
    schema: 1,
    bench: "mremap",
    command,
    machine: machineInfo(),
    quick,
    partial: all.length < configs.length,
    msPerConfig,
    startedAt,
    rows: rows.map((r) => ({
      ...r,
      opsVsV49rc4: base(r) > 0 ? Math.round((r.opsPerSecond / base(r)) * 100) / 100 : 0,
    })),
  };
}

export function formatMremapBench(r: MremapBenchResult): string {
  return (
    `bench mremap: 2 CPUs (CPU 1 answers the IPIs), ${r.machine.cores} cores (${r.machine.cpuModel}), Node ${r.machine.node}; ${r.msPerConfig} ms per cell\n` +
    `one operation = mremap() of a populated anonymous region between X and Y; clean = zero page (read faults), dirty = written\n` +
    `flushes/op: every flush_tlb_mm_range() of the mremap() call; in the move: those of move_page_tables() (the rest are the old range's munmap)\n\n` +
    table(
      [
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
        ...r.rows.map((x) => [
          x.dirty ? "dirty" : "clean",
          String(x.pages),
          x.kernel,
          x.opsPerSecond.toLocaleString("en-US"),
          x.pagesPerSecond.toLocaleString("en-US"),
          x.flushesPerOp.toFixed(2),
          (x.moveFlushesPerOp ?? x.flushesPerOp).toFixed(2),
          x.ipisPerOp.toFixed(2),
          x.opsVsV49rc4.toFixed(2),
        ]),
      ],
      [false, true, false, true, true, true, true, true, true],
    ) +
    (r.partial ? "\nPARTIAL: stopped before every cell ran" : "")
  );
}
