/**
 * The seed benchmark: harness speed (trials/s) for both kernels at 2 CPUs, 1 page and 1024
 * pages; the natural-timing lost-write rate; time to the first lost write, natural and widened.
 */
import { findScenario } from "../scenarios.js";
import { table } from "../format.js";
import { runScenario } from "../run.js";
import { machineInfo } from "../sysinfo.js";

export interface SeedBenchRow {
  pages: number;
  kernel: string;
  delays: string;
  trials: number;
  seconds: number;
  trialsPerSecond: number;
  lostWrites: number;
  lostWriteRate: number;
  faults: number;
  firstLostWriteMs: number | null;
  flushesPerTrial: number;
}

export async function seedBench(secondsPerCell: number, seed: number): Promise<SeedBenchRow[]> {
  const rows: SeedBenchRow[] = [];
  const cells: [number, Map<string, number>][] = [
    [1, new Map<string, number>()],
    [1024, new Map<string, number>()],
    [1, new Map<string, number>([["move_ptes:unlocked", 100_000]])],
  ];
  for (const [pages, delays] of cells) {
    const r = await runScenario({
      scenario: findScenario("mremap-mkclean"),
      kernels: [],
      trials: 0,
      durationMs: secondsPerCell * 1000,
      cpus: 2,
      params: { pages, target: 0 },
      delays,
      seed,
      watchdogMs: 10_000,
      command: "npm run bench",
      warmupTrials: 2000,
    });
    for (const run of r.runs) {
      rows.push({
        pages,
        kernel: run.kernel,
        delays:
          Object.entries(run.delays)
            .map(([p, d]) => `${p}=${d}`)
            .join(",") || "none",
        trials: run.trials,
        seconds: run.elapsedMs / 1000,
        trialsPerSecond: run.trialsPerSecond,
        lostWrites: run.lostWrites,
        lostWriteRate: run.trials > 0 ? run.lostWrites / run.trials : 0,
        faults: run.faults,
        firstLostWriteMs: run.firstLostWriteMs,
        flushesPerTrial: run.flushesPerTrial,
      });
    }
  }
  return rows;
}

export function formatSeedBench(rows: SeedBenchRow[]): string {
  const m = machineInfo();
  return (
    `seed benchmark: mremap-mkclean, 2 CPUs on ${m.cores} cores (${m.cpuModel}), Node ${m.node}, target page 0, start offsets 0-2 us (widened: 0-100 us)\n\n` +
    table(
      [
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
        ...rows.map((r) => [
          String(r.pages),
          r.kernel,
          r.delays,
          r.trials.toLocaleString("en-US"),
          r.trialsPerSecond.toLocaleString("en-US"),
          String(r.lostWrites),
          r.lostWriteRate === 0 ? "0" : r.lostWriteRate.toExponential(2),
          r.firstLostWriteMs === null ? "-" : `${r.firstLostWriteMs.toFixed(1)} ms`,
          r.flushesPerTrial.toFixed(2),
        ]),
      ],
      [true, false, false, true, true, true, true, true, true],
    )
  );
}
