/**
 * Modelled machines running at once, a phase at a time: the schedule's phase names a machine
 * size and how many run at once, and each of that many slots takes the phase's next slice, runs
 * it on a machine of that size (kept for the slot's later slices), and hands the counts on. The
 * next phase starts when every slot has ended this one. A machine that fails (a CPU throws, a
 * worker dies, the watchdog fires) is reported, closed by force and replaced; the slot goes on.
 */
import { availableParallelism } from "node:os";
import { ST_TRIALS } from "../../lib/machine/layout.js";
import { CpuFailure, Machine, WatchdogError, type BatchStats } from "../machine.js";
import { stepName } from "../run.js";
import { DRIFT_RATIO, learnWindow, refineAim } from "../aim.js";
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
import type { Phase, Unit, WorkSource } from "./schedule.js";

export interface FleetOptions {
  cells: PreparedCell[];
  /** The phases of work: which cells, on machines of which size, how many at once. */
  schedule: WorkSource;
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
  /**
   * Window-aware offsets learnt on this machine, per cell index, with the hit rate of the first
   * slice that used them (null until then); a slice below half of it re-learns.
   */
  aims: Map<number, { aim: { loNs: number; hiNs: number }; baseline: number | null }>;
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
    return { m, watch: watchDeaths(m), aims: new Map() };
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

/** One of the machines running at once: it keeps a machine of each size it has run. */
interface Slot {
  id: number;
  machines: Map<number, Live>;
  /** Slices taken over the slot's life, across phases and replaced machines. */
  slices: number;
}

export async function runFleet(o: FleetOptions): Promise<void> {
  const running = new Set<Machine>();
  let stopping = false;
  void o.stopRequested.then(() => {
    stopping = true;
    for (const m of running) m.stop();
  });
  const failures = new Array<number>(o.cells.length).fill(0);
  const cores = availableParallelism();

  /** Run the phase's slices on one slot until the phase is over. */
  const drain = async (slot: Slot, phase: Phase): Promise<void> => {
    const size = phase.cpus;
    // A machine sizes its spinning and its delays for its own CPUs alone. When the phase's
    // threads outnumber the cores, every machine uses the short spin (~5 us, then park) and
    // sleeping delays a machine uses when oversubscribed by itself: a spinner keeps the CPU it
    // waits for off its core.
    const oversubscribed = phase.machines * size > cores;
    while (!stopping) {
      const u = phase.next(performance.now());
      if (u === null) break;
      const cell = o.cells[u.cell] as PreparedCell;
      const hook = o.faults?.find((f) => f.slot === slot.id && f.slice === slot.slices);
      slot.slices++;
      let live = slot.machines.get(size);
      try {
        const fresh = live === undefined;
        if (live === undefined) {
          live = await startMachine(size);
          slot.machines.set(size, live);
        }
        const { m } = live;
        const spinLimit = oversubscribed
          ? Math.max(1000, Math.round(5000 * m.spinsPerNs))
          : undefined;
        const sleepingDelays = oversubscribed ? true : undefined;
        if (fresh && (o.warmupMs ?? 0) > 0 && !stopping) {
          // Uncounted: the JIT compiles the trial loop before any trial counts.
          m.load(cell.image);
          running.add(m);
          const warm = m.run(
            {
              ...cell.batch,
              seed: u.seed,
              trials: 0,
              durationMs: o.warmupMs ?? 0,
              spinLimit,
              sleepingDelays,
            },
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
        const base = {
          ...cell.batch,
          seed: u.seed,
          trials: u.trials,
          durationMs: u.durationMs,
          spinLimit,
          sleepingDelays,
        };
        let aimed = cell.aimed ? live.aims.get(u.cell) : undefined;
        if (cell.aimed && aimed === undefined && !stopping) {
          const learning = learnWindow(m, base, o.watchdogMs);
          learning.catch(() => undefined);
          const learned = await Promise.race([learning, live.watch.died]);
          if (learned !== null) {
            const refining = refineAim(m, base, o.watchdogMs, learned);
            refining.catch(() => undefined);
            const aim = await Promise.race([refining, live.watch.died]);
            aimed = { aim, baseline: null };
            live.aims.set(u.cell, aimed);
          }
        }
        const batch = m.run({ ...base, aim: aimed?.aim }, o.watchdogMs);
        batch.catch(() => undefined); // a death wins the race below; the batch then never ends well
        const stats = await Promise.race([batch, live.watch.died]);
        if (aimed !== undefined && stats.trials > 0) {
          const rate = (stats.window?.hits ?? 0) / stats.trials;
          if (aimed.baseline === null) aimed.baseline = rate;
          else if (rate < aimed.baseline * DRIFT_RATIO) live.aims.delete(u.cell); // drifted: learn again
        }
        running.delete(m);
        failures[u.cell] = 0;
        o.onSlice(u, stats);
      } catch (e) {
        const trial =
          live === undefined ? null : Atomics.load(live.m.mem, live.m.L.stats + ST_TRIALS);
        if (live !== undefined) {
          running.delete(live.m);
          slot.machines.delete(size);
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
            slot: slot.id,
          },
          quarantined,
        );
      }
    }
  };

  const slots: Slot[] = [];
  try {
    while (!stopping) {
      const phase = o.schedule.nextPhase(performance.now());
      if (phase === null) break;
      while (slots.length < phase.machines)
        slots.push({ id: slots.length, machines: new Map(), slices: 0 });
      await Promise.all(slots.slice(0, phase.machines).map((s) => drain(s, phase)));
    }
  } finally {
    for (const s of slots) {
      for (const live of s.machines.values()) {
        live.watch.dispose();
        await live.m.close();
      }
    }
  }
}
