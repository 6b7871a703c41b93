/**
 * `tlbrace bench scale`: how stress scales with machines. For M = 1 .. max, M independent
 * machines of C CPUs run one scenario x kernel cell at once (the stress fleet, natural timing
 * or widened windows, each machine warmed up first), and the bench reports trials/s, the
 * efficiency against M times one machine's rate, forbidden outcomes per second (the races a
 * campaign finds), how many cores the process kept busy (CPU time over wall time) and its
 * resident memory. Past the point where machines x CPUs reaches the core count, the threads
 * share cores: every trial ends in a barrier, so a CPU that waits for one off its core waits a
 * timeslice, and trials/s falls instead of rising; and a window only stays open while both
 * racing CPUs hold a core, so more trials need not mean more races.
 */
import { availableParallelism } from "node:os";
import { Layout } from "../../lib/machine/layout.js";
import type { ScenarioSpec } from "../../lib/scenarios/types.js";
import { table } from "../format.js";
import { machineInfo, type MachineInfo } from "../sysinfo.js";
import { runFleet } from "../stress/fleet.js";
import { buildCells, sliceSeed } from "../stress/plan.js";
import { prepareCells } from "../stress/prepare.js";
import type { Mode } from "../stress/result.js";
import type { Phase, Unit, WorkSource } from "../stress/schedule.js";
import { SILENT, type BenchControl } from "./control.js";
import type { Provenance } from "../results.js";

export interface ScaleRow {
  machines: number;
  /** Threads of the model: machines x CPUs. */
  threads: number;
  trials: number;
  seconds: number;
  trialsPerSecond: number;
  /** trialsPerSecond / (machines x the 1-machine rate). */
  efficiency: number;
  /** Trials with a forbidden outcome (absent in results written before it was counted). */
  forbidden?: number;
  /** Forbidden trials per second of wall time: how fast a campaign finds the race. */
  forbiddenPerSecond?: number;
  /** CPU time of every thread over wall time, during the counted part. */
  coresBusy: number;
  rssMiB: number;
  harnessErrors: number;
}

export interface ScaleBenchResult {
  schema: 1;
  /** tlbrace's version and commit (docs/outputs.md); absent in results written before. */
  tlbrace?: Provenance;
  bench: "scale";
  command: string;
  machine: MachineInfo;
  startedAt: string;
  partial: boolean;
  scenario: string;
  kernel: string;
  /** Natural timing or the scenario's widened windows (absent in older results: natural). */
  mode?: Mode;
  cpus: number;
  cores: number;
  secondsPerPoint: number;
  warmupSeconds: number;
  /** SharedArrayBuffer bytes of one machine. */
  bufferBytes: number;
  rows: ScaleRow[];
}

export interface ScaleOptions {
  scenario: ScenarioSpec;
  kernel: string;
  mode: Mode;
  maxMachines: number;
  seconds: number;
  warmupSeconds: number;
  command: string;
}

/** One cell, one phase of M machines, slices until told to stop; remembers which slices count. */
class ScaleWork implements WorkSource {
  private slice = 0;
  private started = false;
  /** performance.now() from which slices count (Infinity: still warming up). */
  countFrom = Infinity;
  deadline = Infinity;
  readonly counted = new Set<Unit>();

  constructor(
    private readonly cpus: number,
    private readonly machines: number,
  ) {}

  nextPhase(): Phase | null {
    if (this.started) return null;
    this.started = true;
    return { cpus: this.cpus, machines: this.machines, next: (now) => this.next(now) };
  }

  private next(now: number): Unit | null {
    if (now >= this.deadline) return null;
    const u: Unit = {
      cell: 0,
      slice: this.slice,
      attempt: 0,
      seed: sliceSeed(1, { index: 0, count: 1 }, 1, 0, this.slice++),
      trials: 0,
      durationMs: SLICE_MS,
    };
    if (now >= this.countFrom) this.counted.add(u);
    return u;
  }
  retry(): void {}
  quarantine(): void {}
  isQuarantined(): boolean {
    return false;
  }
}

const SLICE_MS = 200;

async function point(
  o: ScaleOptions,
  machines: number,
  stop: Promise<void>,
): Promise<Omit<ScaleRow, "efficiency">> {
  const cells = prepareCells(buildCells([o.scenario], [o.kernel]), o.mode);
  const work = new ScaleWork(o.scenario.cpus.length, machines);
  let trials = 0;
  let forbidden = 0;
  let errors = 0;
  // The clock starts once every machine has warmed up and run one slice; only slices handed
  // out after that count.
  let t0 = 0;
  let cpu0 = process.cpuUsage();
  const firstDone = new Set<number>();
  await runFleet({
    cells,
    schedule: work,
    watchdogMs: 10_000,
    warmupMs: o.warmupSeconds * 1000,
    stopRequested: stop,
    onSlice: (u, s) => {
      if (work.counted.has(u)) {
        trials += s.trials;
        forbidden += s.forbiddenTrials;
      }
      if (t0 !== 0) return;
      firstDone.add(u.slice);
      if (firstDone.size === machines) {
        t0 = performance.now();
        cpu0 = process.cpuUsage();
        work.countFrom = t0;
        work.deadline = t0 + o.seconds * 1000;
      }
    },
    onError: () => errors++,
  });
  const wallMs = t0 === 0 ? 0 : performance.now() - t0;
  const u = process.cpuUsage(cpu0);
  return {
    machines,
    threads: machines * o.scenario.cpus.length,
    trials,
    seconds: Math.round(wallMs) / 1000,
    trialsPerSecond: wallMs > 0 ? Math.round((trials / wallMs) * 1000) : 0,
    forbidden,
    forbiddenPerSecond: wallMs > 0 ? Math.round((forbidden / wallMs) * 1000) : 0,
    coresBusy: wallMs > 0 ? Math.round(((u.user + u.system) / (wallMs * 1000)) * 100) / 100 : 0,
    rssMiB: Math.round((process.memoryUsage().rss / 2 ** 20) * 10) / 10,
    harnessErrors: errors,
  };
}

export async function scaleBench(
  o: ScaleOptions,
  ctl: BenchControl = SILENT,
): Promise<ScaleBenchResult> {
  const startedAt = new Date().toISOString();
  const rows: ScaleRow[] = [];
  let partial = false;
  ctl.stage(
    `bench scale: ${o.scenario.name} on ${o.kernel}, ${o.mode}, 1..${o.maxMachines} machines of ${o.scenario.cpus.length} CPUs, ${o.seconds} s each after a ${o.warmupSeconds} s warm-up`,
  );
  let stopNow: () => void = () => undefined;
  const stop = new Promise<void>((r) => (stopNow = r));
  const poll = setInterval(() => {
    if (ctl.stopped()) stopNow();
  }, 100);
  try {
    for (let m = 1; m <= o.maxMachines; m++) {
      if (ctl.stopped()) {
        partial = true;
        break;
      }
      const r = await point(o, m, stop);
      const one = rows[0]?.trialsPerSecond ?? r.trialsPerSecond;
      rows.push({
        ...r,
        efficiency: one > 0 ? Math.round((r.trialsPerSecond / (m * one)) * 100) / 100 : 0,
      });
      ctl.progress(`  ${m} machine(s)`, m, o.maxMachines);
      if (ctl.stopped()) partial = true;
    }
  } finally {
    clearInterval(poll);
  }
  ctl.done();
  return {
    schema: 1,
    bench: "scale",
    command: o.command,
    machine: machineInfo(),
    startedAt,
    partial,
    scenario: o.scenario.name,
    kernel: o.kernel,
    mode: o.mode,
    cpus: o.scenario.cpus.length,
    cores: availableParallelism(),
    secondsPerPoint: o.seconds,
    warmupSeconds: o.warmupSeconds,
    bufferBytes: new Layout(o.scenario.cpus.length).bytes,
    rows,
  };
}

export function formatScaleBench(r: ScaleBenchResult): string {
  const timing = (r.mode ?? "natural") === "widened" ? "windows widened" : "natural timing";
  // Results written before forbidden outcomes were counted have no such column.
  const races = r.rows.every((x) => x.forbiddenPerSecond !== undefined);
  const count = (n: number | undefined): string => (n ?? 0).toLocaleString("en-US");
  return (
    `bench scale: ${r.scenario} on ${r.kernel}, ${timing}, machines of ${r.cpus} CPUs on ${r.cores} cores; ${r.secondsPerPoint} s per point after a ${r.warmupSeconds} s warm-up; ${(r.bufferBytes / 2 ** 20).toFixed(2)} MiB buffer per machine\n\n` +
    table(
      [
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
        ...r.rows.map((x) => [
          String(x.machines),
          `${x.threads}${x.threads > r.cores ? " (>cores)" : ""}`,
          count(x.trials),
          count(x.trialsPerSecond),
          `${Math.round(x.efficiency * 100)}%`,
          ...(races ? [count(x.forbidden), count(x.forbiddenPerSecond)] : []),
          x.coresBusy.toFixed(2),
          `${x.rssMiB} MiB`,
          String(x.harnessErrors),
        ]),
      ],
      [true, true, true, true, true, ...(races ? [true, true] : []), true, true, true],
    ) +
    "\n\nefficiency: trials/s over (machines x the 1-machine rate)" +
    (races ? "; forbidden/s: trials with a forbidden outcome per second (races found)" : "") +
    "; cores busy: the process's CPU time over wall time" +
    (r.partial ? "\nPARTIAL: stopped early" : "")
  );
}
