/**
 * A reusable barrier with a generation counter. Layout: [arrived, generation, parties].
 * The last CPU to arrive resets the count and bumps the generation; the others wait for the
 * generation to move, so a fast CPU re-entering the next round cannot confuse a slow one.
 */
import { WAIT_BARRIER, type Waiter } from "./waiter.js";

const ARRIVED = 0;
const GENERATION = 1;
const PARTIES = 2;

export function barrier_init(mem: Int32Array, b: number, parties: number): void {
  Atomics.store(mem, b + ARRIVED, 0);
  Atomics.store(mem, b + PARTIES, parties);
}

/** Returns true on exactly one CPU per round: the last to arrive. */
export function barrier_wait(w: Waiter, b: number): boolean {
  const mem = w.mem;
  const gen = Atomics.load(mem, b + GENERATION);
  // PARTIES is set once, before the CPUs start: a plain read.
  if (Atomics.add(mem, b + ARRIVED, 1) === (mem[b + PARTIES] as number) - 1) {
    Atomics.store(mem, b + ARRIVED, 0);
    Atomics.add(mem, b + GENERATION, 1);
    w.ringWaiters(b);
    return true;
  }
  w.waitBegin(WAIT_BARRIER, b);
  for (let s = 0; Atomics.load(mem, b + GENERATION) === gen;) s = w.relax(s);
  w.waitEnd();
  return false;
}
