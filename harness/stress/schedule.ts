/**
 * Hands out slices of work to the machines, a phase at a time. The cells are grouped into
 * classes by the size of machine they run on; a phase is one class's turn, with that class's
 * machine count, and gives each of its cells about one slice. With a trial count per cell the
 * work is a fixed list of chunks (so the shards' totals add up exactly); with a duration it is
 * an endless round-robin over the cells, each slice at most `sliceMs` long and none past the
 * deadline.
 */
import { MAX_ATTEMPTS, type MachineClass, type Shard, shardTrials, sliceSeed } from "./plan.js";

export interface Unit {
  cell: number;
  /** The slice's number within its cell on this shard (its seed derives from it). */
  slice: number;
  attempt: number;
  seed: number;
  /** Trials to run, or 0 to run for durationMs. */
  trials: number;
  durationMs: number;
}

export interface ScheduleOptions {
  cells: number;
  /** The cells grouped by machine size (plan.machineClasses); every cell in exactly one. */
  classes: MachineClass[];
  seed: number;
  shard: Shard;
  /** Trials per cell over the whole campaign (all shards), or null to run until the deadline. */
  trialsPerCell: number | null;
  /** Trials per chunk when trialsPerCell is set. */
  chunkTrials: number;
  sliceMs: number;
  /** performance.now() at which to stop handing out work, when running for a duration. */
  deadline: number;
}

/** Machines of one size running at once, taking slices until the phase is over. */
export interface Phase {
  cpus: number;
  machines: number;
  /** The phase's next slice, or null when it is over. */
  next(now: number): Unit | null;
}

/** What the fleet takes its work from (Schedule; bench scale has its own). */
export interface WorkSource {
  /**
   * The next phase, or null when the work is done (or the deadline is near). The fleet asks
   * only once every slice of the last phase has ended, so its retries are already queued.
   */
  nextPhase(now: number): Phase | null;
  retry(u: Unit): void;
  quarantine(cell: number): void;
  isQuarantined(cell: number): boolean;
}

/** A slice shorter than this is not worth a batch start. */
const MIN_SLICE_MS = 20;

export class Schedule implements WorkSource {
  private readonly pending: Unit[] = [];
  private readonly nextSlice: number[];
  private readonly quarantined = new Set<number>();
  /** Round-robin position within each class (duration mode). */
  private readonly turns: number[];
  private phaseTurn = 0;
  /** Trials dropped with quarantined cells (trial-count mode only). */
  dropped = 0;

  constructor(private readonly o: ScheduleOptions) {
    this.nextSlice = new Array<number>(o.cells).fill(0);
    this.turns = new Array<number>(o.classes.length).fill(0);
    const seen = o.classes.flatMap((c) => c.cells).sort((a, b) => a - b);
    if (seen.length !== o.cells || seen.some((c, i) => c !== i))
      throw new Error("Schedule: the classes must hold every cell exactly once");
    if (o.trialsPerCell === null) return;
    // Interleave the cells' chunks, so a stopped run has touched every cell.
    const left = Array.from({ length: o.cells }, (_, c) =>
      shardTrials(o.trialsPerCell as number, o.shard, c),
    );
    while (left.some((n) => n > 0)) {
      left.forEach((n, c) => {
        if (n === 0) return;
        const trials = Math.min(n, o.chunkTrials);
        left[c] = n - trials;
        this.pending.push(this.unit(c, 0, trials, 0));
      });
    }
  }

  private unit(cell: number, attempt: number, trials: number, durationMs: number): Unit {
    const slice = this.nextSlice[cell] as number;
    this.nextSlice[cell] = slice + 1;
    const seed = sliceSeed(this.o.seed, this.o.shard, this.o.cells, cell, slice, attempt);
    return { cell, slice, attempt, seed, trials, durationMs };
  }

  /**
   * The next class with work, in turn. A phase gives out one slice per live cell of its class,
   * rounded up to a multiple of the class's machines so no machine idles at the phase's end.
   */
  nextPhase(now: number): Phase | null {
    const { classes, trialsPerCell } = this.o;
    if (trialsPerCell === null && this.o.deadline - now < MIN_SLICE_MS) return null;
    for (let tries = 0; tries < classes.length; tries++) {
      const k = this.phaseTurn++ % classes.length;
      const cls = classes[k] as MachineClass;
      const live = cls.cells.filter((c) => !this.quarantined.has(c)).length;
      if (live === 0) continue;
      if (trialsPerCell !== null && !this.pending.some((u) => cls.cells.includes(u.cell))) continue;
      const quota = Math.ceil(live / cls.machines) * cls.machines;
      let given = 0;
      return {
        cpus: cls.cpus,
        machines: cls.machines,
        next: (t: number): Unit | null => {
          if (given >= quota) return null;
          const u = trialsPerCell === null ? this.nextTimed(k, t) : this.nextChunk(cls);
          if (u !== null) given++;
          return u;
        },
      };
    }
    return null;
  }

  /** The class's next pending chunk (a retried one first). */
  private nextChunk(cls: MachineClass): Unit | null {
    const i = this.pending.findIndex((u) => cls.cells.includes(u.cell));
    return i < 0 ? null : (this.pending.splice(i, 1)[0] as Unit);
  }

  /** The class's next live cell in turn, for a slice cut at the deadline. */
  private nextTimed(k: number, now: number): Unit | null {
    const cls = this.o.classes[k] as MachineClass;
    const left = this.o.deadline - now;
    if (left < MIN_SLICE_MS || cls.cells.every((c) => this.quarantined.has(c))) return null;
    for (;;) {
      const turn = this.turns[k] as number;
      this.turns[k] = turn + 1;
      const c = cls.cells[turn % cls.cells.length] as number;
      if (!this.quarantined.has(c)) return this.unit(c, 0, 0, Math.min(this.o.sliceMs, left));
    }
  }

  /**
   * A slice whose machine failed: its trials are run again (trial-count mode) with a new seed,
   * up to MAX_ATTEMPTS times; after that they are dropped.
   */
  retry(u: Unit): void {
    if (this.o.trialsPerCell === null || this.quarantined.has(u.cell)) return;
    if (u.attempt + 1 >= MAX_ATTEMPTS) {
      this.dropped += u.trials;
      return;
    }
    const seed = sliceSeed(this.o.seed, this.o.shard, this.o.cells, u.cell, u.slice, u.attempt + 1);
    this.pending.unshift({ ...u, attempt: u.attempt + 1, seed });
  }

  /** Stop running a cell that keeps failing; returns the trials it will not get. */
  quarantine(cell: number): number {
    this.quarantined.add(cell);
    let dropped = 0;
    for (let i = this.pending.length - 1; i >= 0; i--) {
      const u = this.pending[i] as Unit;
      if (u.cell === cell) {
        dropped += u.trials;
        this.pending.splice(i, 1);
      }
    }
    this.dropped += dropped;
    return dropped;
  }

  isQuarantined(cell: number): boolean {
    return this.quarantined.has(cell);
  }
}
