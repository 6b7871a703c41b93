/**
 * What every bench shares with the command line: progress (a bar with an ETA on a TTY, one line
 * per stage elsewhere) and Ctrl-C (finish the current cell, return what was measured, marked
 * partial). Worker-based benches run through runBenchWorkers(): one long-lived worker per CPU,
 * CPU 0 posts each finished row, and a stop word in the machine buffer ends the run between
 * cells, the same cell on every CPU.
 */
import { Worker } from "node:worker_threads";
import { Progress } from "../progress.js";

export interface BenchControl {
  /** A new stage of the bench (a kernel, a sweep): one line of its own when not on a TTY. */
  stage(label: string): void;
  /** `done` of `total` cells finished. */
  progress(label: string, done: number, total: number): void;
  /** True once the user has asked to stop. */
  stopped(): boolean;
  /** Run `fn` when the user asks to stop (at once if already asked). */
  onStop(fn: () => void): void;
  /** Clear the bar. */
  done(): void;
  /** Resolves when the user asks to stop: for benches built on runScenario(). */
  readonly stopRequested?: Promise<void>;
}

/** No progress, no stop: for tests and nested use. */
export const SILENT: BenchControl = {
  stage: () => undefined,
  progress: () => undefined,
  stopped: () => false,
  onStop: () => undefined,
  done: () => undefined,
};

/** Progress on stderr and a stop request that resolves on Ctrl-C. */
export function benchControl(quiet: boolean, stopRequested: Promise<void>): BenchControl {
  const p = new Progress(process.stderr.isTTY, quiet);
  let stopped = false;
  const hooks: (() => void)[] = [];
  void stopRequested.then(() => {
    stopped = true;
    for (const fn of hooks) fn();
  });
  return {
    stage: (label) => p.stage(label),
    progress: (label, done, total) => p.update(label, done, total, 0, "cells"),
    stopped: () => stopped,
    onStop: (fn) => {
      if (stopped) fn();
      else hooks.push(fn);
    },
    done: () => p.done(),
    stopRequested,
  };
}

/** The protocol words a bench worker shares with the main thread (scratch in the program area). */
export interface BenchWords {
  /** Set to 1 by the main thread to stop between cells. */
  stop: number;
  /** CPU 0's decision for the next cell, read by every CPU after the cell barrier. */
  go: number;
}

/** Messages from CPU 0 of a bench. */
export type BenchMessage<Row> = { row: Row } | { info: unknown };

/**
 * Start one worker per job and collect the rows CPU 0 posts, calling `onRow` for each. Resolves
 * once every worker has finished; on a stop request sets the stop word so the workers leave
 * after the current cell.
 */
export async function runBenchWorkers<Job, Row>(
  url: URL,
  jobs: Job[],
  mem: Int32Array,
  words: BenchWords,
  ctl: BenchControl,
  onRow: (row: Row, index: number) => void,
  onInfo: (info: unknown) => void = () => undefined,
): Promise<Row[]> {
  const rows: Row[] = [];
  ctl.onStop(() => Atomics.store(mem, words.stop, 1));
  await Promise.all(
    jobs.map(
      (job, id) =>
        new Promise<void>((resolve, reject) => {
          const w = new Worker(url, { workerData: job });
          w.on("message", (m: BenchMessage<Row>) => {
            if (id !== 0) return;
            if ("row" in m) {
              rows.push(m.row);
              onRow(m.row, rows.length - 1);
            } else onInfo(m.info);
          });
          w.once("error", reject);
          w.once("exit", (code) =>
            code === 0 ? resolve() : reject(new Error(`bench CPU ${id} exited with ${code}`)),
          );
        }),
    ),
  );
  return rows;
}

/** In a worker, before each cell: CPU 0 decides whether the next cell runs. */
export function decideNextCell(mem: Int32Array, words: BenchWords, id: number): void {
  if (id === 0) Atomics.store(mem, words.go, Atomics.load(mem, words.stop) === 0 ? 1 : 0);
}

/** In a worker, after the cell barrier: run the next cell? The same answer on every CPU. */
export const nextCellRuns = (mem: Int32Array, words: BenchWords): boolean =>
  Atomics.load(mem, words.go) === 1;
