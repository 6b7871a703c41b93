/**
 * M modelled machines running at once, each in its own slot: a slot takes the next slice from
 * the schedule, runs it on a machine of the size the cell needs (kept for the slot's later
 * slices), and hands the counts on. A machine that fails (a CPU throws, a worker dies, the
 * watchdog fires) is reported, closed by force and replaced; the slot goes on.
 */
import { availableParallelism } from "node:os";
import { ST_TRIALS } from "../../lib/machine/layout.js";
import { CpuFailure, Machine, WatchdogError, type BatchStats } from "../machine.js";
import { stepName } from "../run.js";
import {
  faultyImage,
  killWorkerLater,
  watchDeaths,
  WorkerDied,
  type DeathWatch,
  type FaultHook,
} from "./faults.js";
import type { PreparedCell } from "./prepare.js";
import type { HarnessError } from "./result.js";
import type { Unit, WorkSource } from "./schedule.js";

export interface FleetOptions {
  cells: PreparedCell[];
  schedule: WorkSource;
  machines: number;
  /** CPUs per machine; null: the cell's own need. */
  cpus: number | null;
  watchdogMs: number;
  /** A new machine's uncounted first run, in ms (0: none). */
  warmupMs?: number;
  onSlice: (unit: Unit, stats: BatchStats) => void;
  /** A fault; `quarantined` when it was the cell's last chance. */
  onError: (e: Omit<HarnessError, "atMs">, quarantined: boolean) => void;
  stopRequested: Promise<void>;
  faults?: FaultHook[];
}

/** A cell whose slices fail this many times in a row is not run any further. */
export const QUARANTINE_AFTER = 3;

/** Starting a machine (workers, calibration) takes well under a second; give up after this. */
const START_TIMEOUT_MS = 30_000;

interface Live {
  m: Machine;
  watch: DeathWatch;
}

async function startMachine(cpus: number): Promise<Live> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`a ${cpus}-CPU machine did not start in 30 s`)),
      START_TIMEOUT_MS,
    );
  });
  try {
    const m = await Promise.race([Machine.start(cpus), timeout]);
    return { m, watch: watchDeaths(m) };
  } finally {
    clearTimeout(timer);
  }
}

function describe(e: unknown, cell: PreparedCell) {
  if (e instanceof CpuFailure)
    return {
      kind: "cpu-threw" as const,
      cpu: e.cpu < 0 ? null : e.cpu,
      message: `${e.message}${e.cpuStack ? `; ${e.cpuStack.split("\n")[1]?.trim() ?? ""}` : ""}`,
    };
  if (e instanceof WorkerDied)
    return { kind: "worker-died" as const, cpu: e.cpu, message: e.message };
  if (e instanceof WatchdogError) {
    for (const s of e.states) s.stepName = stepName(cell.scenario, cell.image, s.cpu, s.step);
    return { kind: "stall" as const, cpu: null, message: e.message, states: e.states };
  }
  return {
    kind: "harness" as const,
    cpu: null,
    message: e instanceof Error ? e.message : String(e),
  };
}

export async function runFleet(o: FleetOptions): Promise<void> {
  const running = new Set<Machine>();
  let stopping = false;
  void o.stopRequested.then(() => {
    stopping = true;
    for (const m of running) m.stop();
  });
  const failures = new Array<number>(o.cells.length).fill(0);
  // A machine sizes its spinning for its own CPUs alone. When the fleet's threads outnumber the
  // cores, use the short spin a machine uses when oversubscribed by itself (~5 us, then park):
  // a long spinner keeps the CPU it waits for off its core.
  const oversubscribed =
    o.machines * Math.max(...o.cells.map((c) => o.cpus ?? c.cpus)) > availableParallelism();

  const slot = async (id: number): Promise<void> => {
    const machines = new Map<number, Live>();
    let slices = 0;
    try {
      while (!stopping) {
        const u = o.schedule.next(performance.now());
        if (u === null) break;
        const cell = o.cells[u.cell] as PreparedCell;
        const size = o.cpus ?? cell.cpus;
        const hook = o.faults?.find((f) => f.slot === id && f.slice === slices);
        slices++;
        let live = machines.get(size);
        try {
          const fresh = live === undefined;
          if (live === undefined) {
            live = await startMachine(size);
            machines.set(size, live);
          }
          const { m } = live;
          const spinLimit = oversubscribed
            ? Math.max(1000, Math.round(5000 * m.spinsPerNs))
            : undefined;
          if (fresh && (o.warmupMs ?? 0) > 0 && !stopping) {
            // Uncounted: the JIT compiles the trial loop before any trial counts.
            m.load(cell.image);
            running.add(m);
            const warm = m.run(
              { ...cell.batch, seed: u.seed, trials: 0, durationMs: o.warmupMs ?? 0, spinLimit },
              o.watchdogMs,
            );
            warm.catch(() => undefined);
            await Promise.race([warm, live.watch.died]);
            running.delete(m);
          }
          m.load(
            hook?.kind === "throw" || hook?.kind === "stall"
              ? faultyImage(cell.image, hook.kind)
              : cell.image,
          );
          if (hook?.kind === "kill") killWorkerLater(m, 1, 100);
          running.add(m);
          if (stopping) m.stop();
          const batch = m.run(
            {
              ...cell.batch,
              seed: u.seed,
              trials: u.trials,
              durationMs: u.durationMs,
              spinLimit,
            },
            o.watchdogMs,
          );
          batch.catch(() => undefined); // a death wins the race below; the batch then never ends well
          const stats = await Promise.race([batch, live.watch.died]);
          running.delete(m);
          failures[u.cell] = 0;
          o.onSlice(u, stats);
        } catch (e) {
          const trial =
            live === undefined ? null : Atomics.load(live.m.mem, live.m.L.stats + ST_TRIALS);
          if (live !== undefined) {
            running.delete(live.m);
            machines.delete(size);
            live.watch.dispose();
            await live.m.close(true);
          }
          o.schedule.retry(u);
          const quarantined =
            ++(failures[u.cell] as number) >= QUARANTINE_AFTER && !o.schedule.isQuarantined(u.cell);
          if (quarantined) o.schedule.quarantine(u.cell);
          o.onError(
            {
              ...describe(e, cell),
              scenario: cell.scenario.name,
              kernel: cell.kernel,
              seed: u.seed,
              trial,
              slot: id,
            },
            quarantined,
          );
        }
      }
    } finally {
      for (const live of machines.values()) {
        live.watch.dispose();
        await live.m.close();
      }
    }
  };
  await Promise.all(Array.from({ length: o.machines }, (_, i) => slot(i)));
}
