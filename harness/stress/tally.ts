/**
 * The running counts of a stress run, per cell, and the result document built from them at
 * every checkpoint and at the end. Harness errors are kept apart: a failed slice adds nothing
 * to any cell.
 */
import { availableParallelism } from "node:os";
import { Layout } from "../../lib/machine/layout.js";
import type { BatchStats } from "../machine.js";
import { machineInfo } from "../sysinfo.js";
import { provenance } from "../results.js";
import type { Shard } from "./plan.js";
import type { PreparedCell } from "./prepare.js";
import {
  emptyCell,
  finishTotals,
  type CellCounts,
  type HarnessError,
  type Mode,
  type RssSample,
  type ScenarioVersion,
  type StressPlan,
  type StressResult,
} from "./result.js";
import type { Unit } from "./schedule.js";

/** At most this many RSS samples are kept; beyond it every other one is dropped. */
const MAX_RSS_SAMPLES = 240;

export class Tally {
  readonly cells: CellCounts[];
  readonly errors: HarnessError[] = [];
  private readonly rss: RssSample[] = [];
  private readonly t0 = performance.now();
  private readonly cpu0 = process.cpuUsage();
  private readonly startedAt = new Date().toISOString();
  /** tlbrace's version (shards of one campaign must run the same) and commit. */
  private readonly version = provenance();
  droppedTrials = 0;

  constructor(
    private readonly prepared: PreparedCell[],
    private readonly meta: {
      command: string;
      mode: Mode;
      seed: number;
      shard: Shard;
      plan: StressPlan;
      scenarios: ScenarioVersion[];
    },
  ) {
    this.cells = prepared.map((c) => emptyCell(c.scenario.name, c.kernel, c.expected));
    this.sampleRss();
  }

  /** CPU time of every thread of the process since the start, over the wall time. */
  coresBusy(): number {
    const u = process.cpuUsage(this.cpu0);
    const wallUs = this.elapsedMs() * 1000;
    return wallUs > 0 ? Math.round(((u.user + u.system) / wallUs) * 100) / 100 : 0;
  }

  elapsedMs(): number {
    return performance.now() - this.t0;
  }

  add(u: Unit, s: BatchStats): void {
    const c = this.cells[u.cell] as CellCounts;
    const p = this.prepared[u.cell] as PreparedCell;
    if (c.firstForbidden === null && s.forbiddenTrials > 0) {
      const trial = [s.firstLostTrial, s.firstUafTrial].filter((x) => x !== null);
      c.firstForbidden = { seed: u.seed, trial: Math.min(...trial) };
    }
    c.trials += s.trials;
    c.forbiddenTrials += s.forbiddenTrials;
    c.lostWrites += s.lostWrites;
    c.useAfterFree += s.useAfterFree;
    c.faults += s.faults;
    if (s.window !== undefined) c.windowHits = (c.windowHits ?? 0) + s.window.hits;
    c.slices++;
    c.machineMs = Math.round((c.machineMs + s.elapsedMs) * 10) / 10;
    p.outcomeLabels.forEach((label, i) => {
      const n = s.outcomes[i] ?? 0;
      if (n > 0 || p.forbidden[i]) c.outcomes[label] = (c.outcomes[label] ?? 0) + n;
    });
  }

  error(e: Omit<HarnessError, "atMs">, quarantined: boolean): HarnessError {
    const full = { ...e, atMs: Math.round(this.elapsedMs()) };
    this.errors.push(full);
    if (quarantined) {
      const c = this.cells.find((x) => x.scenario === e.scenario && x.kernel === e.kernel);
      if (c !== undefined) c.quarantined = true;
    }
    return full;
  }

  sampleRss(): void {
    this.rss.push({
      atS: Math.round(this.elapsedMs() / 100) / 10,
      rssMiB: Math.round((process.memoryUsage().rss / 2 ** 20) * 10) / 10,
    });
    if (this.rss.length > MAX_RSS_SAMPLES) {
      const kept = this.rss.filter((_, i) => i % 2 === 0 || i === this.rss.length - 1);
      this.rss.splice(0, this.rss.length, ...kept);
    }
  }

  result(status: StressResult["status"]): StressResult {
    const sizes = [...new Set(this.prepared.map((c) => this.meta.plan.cpus ?? c.cpus))].sort(
      (a, b) => a - b,
    );
    const r: StressResult = {
      schema: 1,
      kind: "stress",
      tlbrace: this.version,
      command: this.meta.command,
      machine: machineInfo(),
      startedAt: this.startedAt,
      updatedAt: new Date().toISOString(),
      status,
      partial: status !== "done",
      mode: this.meta.mode,
      seed: this.meta.seed,
      shard: this.meta.shard,
      plan: this.meta.plan,
      scenarios: this.meta.scenarios,
      elapsedMs: Math.round(this.elapsedMs()),
      totals: {
        trials: 0,
        forbiddenTrials: 0,
        harnessErrors: 0,
        contradictions: 0,
        trialsPerSecond: 0,
        droppedTrials: this.droppedTrials,
      },
      cells: this.cells.map((c) => ({
        ...c,
        outcomes: { ...c.outcomes },
        rate: null,
        verdict: "not run",
      })),
      errors: [...this.errors],
      resources: {
        bufferBytes: Object.fromEntries(sizes.map((n) => [String(n), new Layout(n).bytes])),
        rss: [...this.rss],
        coresBusy: this.coresBusy(),
        cores: availableParallelism(),
      },
    };
    finishTotals(r);
    return r;
  }
}
