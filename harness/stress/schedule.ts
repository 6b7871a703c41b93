/**
 * Hands out slices of work to the machines. With a trial count per cell the work is a fixed
 * list of chunks (so the shards' totals add up exactly); with a duration it is an endless
 * round-robin over the cells, each slice at most `sliceMs` long and none past the deadline.
 */
import { MAX_ATTEMPTS, type Shard, shardTrials, sliceSeed } from "./plan.js";

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

/** What the fleet takes its slices from (Schedule; bench scale has its own). */
export interface WorkSource {
  next(now: number): Unit | null;
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
  private turn = 0;
  /** Trials dropped with quarantined cells (trial-count mode only). */
  dropped = 0;

  constructor(private readonly o: ScheduleOptions) {
    this.nextSlice = new Array<number>(o.cells).fill(0);
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

  /** The next slice, or null when the work is done (or the deadline is near). */
  next(now: number): Unit | null {
    if (this.o.trialsPerCell !== null) return this.pending.shift() ?? null;
    const left = this.o.deadline - now;
    if (left < MIN_SLICE_MS || this.quarantined.size === this.o.cells) return null;
    for (;;) {
      const c = this.turn++ % this.o.cells;
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
