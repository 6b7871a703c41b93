/**
 * `tlbrace bench natural`: the seed pair (mremap-mkclean on v4.9-rc4 and 5d1904204c99) at
 * natural timing, nothing injected, against the size of the mapping thread 1 has read (1 to
 * 4096 pages) and the start-offset mode (uniform, window-aware). Per cell: trials, lost writes,
 * the rate with a 95% interval, the time to the first lost write, window hits. It answers the
 * seed's "difficult or impossible to hit in practice" with numbers.
 */
import { rateInterval, type RateInterval } from "../../lib/stats/intervals.js";
import { formatNs } from "../../lib/units.js";
import type { LearnedWindow } from "../aim.js";
import { table } from "../format.js";
import { runScenario } from "../run.js";
import { findScenario } from "../scenarios.js";
import { machineInfo, type MachineInfo } from "../sysinfo.js";
import type { BenchControl } from "./control.js";
import type { Provenance } from "../results.js";

export const NATURAL_SIZES = [1, 16, 64, 256, 1024, 4096];
export const NATURAL_MODES = ["uniform", "window"] as const;
export type OffsetMode = (typeof NATURAL_MODES)[number];

export interface NaturalRow {
  pages: number;
  offsets: OffsetMode;
  kernel: string;
  trials: number;
  /** Counted seconds (learning and warm-up excluded). */
  seconds: number;
  trialsPerSecond: number;
  lostWrites: number;
  /** Lost-write trials per trial, with a 95% interval. */
  rate: RateInterval;
  lostPerSecond: number;
  /** Wall time from the start of the kernel's run (learning included) to its first lost write. */
  firstLostWriteMs: number | null;
  windowHits: number;
  /** Window-aware rows: what the first learning found. */
  learned?: LearnedWindow;
  relearns?: number;
}

export interface NaturalBenchResult {
  schema: 1;
  /** tlbrace's version and commit (docs/outputs.md); absent in results written before. */
  tlbrace?: Provenance;
  bench: "natural";
  command: string;
  machine: MachineInfo;
  quick: boolean;
  partial: boolean;
  secondsPerCell: number;
  seed: number;
  startedAt: string;
  rows: NaturalRow[];
}

export interface NaturalOptions {
  quick: boolean;
  seconds: number;
  sizes: number[];
  modes: readonly OffsetMode[];
  seed: number;
  command: string;
}

export async function naturalBench(
  o: NaturalOptions,
  ctl: BenchControl,
): Promise<NaturalBenchResult> {
  const result: NaturalBenchResult = {
    schema: 1,
    bench: "natural",
    command: o.command,
    machine: machineInfo(),
    quick: o.quick,
    partial: false,
    secondsPerCell: o.seconds,
    seed: o.seed,
    startedAt: new Date().toISOString(),
    rows: [],
  };
  const scenario = findScenario("mremap-mkclean");
  const total = o.sizes.length * o.modes.length;
  let done = 0;
  for (const pages of o.sizes) {
    for (const offsets of o.modes) {
      if (ctl.stopped()) break;
      ctl.progress(`${pages} pages, ${offsets} offsets`, done, total);
      const r = await runScenario({
        scenario,
        kernels: [],
        trials: 0,
        durationMs: o.seconds * 1000,
        cpus: 2,
        params: { pages, target: 0 },
        delays: new Map(),
        seed: o.seed,
        offsets,
        watchdogMs: 20_000,
        command: o.command,
        warmupTrials: 500,
        stopRequested: ctl.stopRequested,
      });
      if (r.partial) result.partial = true;
      for (const run of r.runs) {
        const learned = run.offsets?.learned?.[0];
        const row: NaturalRow = {
          pages,
          offsets,
          kernel: run.kernel,
          trials: run.trials,
          seconds: Math.round(run.elapsedMs) / 1000,
          trialsPerSecond: run.trialsPerSecond,
          lostWrites: run.forbiddenTrials,
          rate: rateInterval(run.forbiddenTrials, Math.max(1, run.trials)),
          lostPerSecond:
            run.elapsedMs > 0 ? Math.round((run.forbiddenTrials / run.elapsedMs) * 1e5) / 100 : 0,
          firstLostWriteMs: run.firstLostWriteMs,
          windowHits: run.window?.hits ?? 0,
        };
        if (learned !== undefined) {
          row.learned = learned;
          row.relearns = run.offsets?.relearns ?? 0;
        }
        result.rows.push(row);
      }
      done++;
    }
  }
  ctl.done();
  result.partial ||= ctl.stopped();
  return result;
}

const pct = (x: number): string => (x === 0 ? "0" : `${+(x * 100).toPrecision(3)}%`);

export function formatNaturalBench(r: NaturalBenchResult): string {
  const head =
    `natural timing: mremap-mkclean, nothing injected, ${r.secondsPerCell} s per kernel and cell, 2 CPUs on ${r.machine.cores} cores (${r.machine.cpuModel}), Node ${r.machine.node}, seed ${r.seed}\n` +
    `pages: the mapping thread 1 has read before the race; offsets: uniform (0-2 us blind sweep) or window (learnt, aimed across the window)\n` +
    `rate: lost-write trials per trial with a 95% interval (for 0, the one-sided upper bound); in window: trials whose racing write began inside the window` +
    (r.partial ? "\nPARTIAL: stopped before every cell ran" : "");
  const rows = [
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
    ...r.rows.map((x) => [
      String(x.pages),
      x.offsets,
      x.kernel,
      x.trials.toLocaleString("en-US"),
      x.trialsPerSecond.toLocaleString("en-US"),
      x.lostWrites.toLocaleString("en-US"),
      x.lostWrites === 0
        ? `< ${pct(x.rate.high)}`
        : `${pct(x.rate.rate)} (${pct(x.rate.low)}-${pct(x.rate.high)})`,
      String(x.lostPerSecond),
      x.firstLostWriteMs === null ? "-" : formatNs(x.firstLostWriteMs * 1e6),
      `${x.windowHits.toLocaleString("en-US")} (${pct(x.trials > 0 ? x.windowHits / x.trials : 0)})`,
    ]),
  ];
  return `${head}\n\n${table(rows, [true, false, false, true, true, true, true, true, true, true])}`;
}
