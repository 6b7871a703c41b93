/**
 * A futex-style sleeping lock (Drepper's three states: 0 unlocked, 1 locked, 2 locked with
 * waiters). Spins first, then marks the word contended and parks. Used for lock_page().
 */
import { LOCK_MUTEX, STEP_LOCK, STEP_LOCKED, STEP_UNLOCK } from "../machine/steps.js";
import { WAIT_MUTEX, type Waiter } from "./waiter.js";

export function mutex_lock(w: Waiter, m: number, kind = WAIT_MUTEX): void {
  w.step(STEP_LOCK, m, LOCK_MUTEX);
  w.poll();
  const mem = w.mem;
  if (Atomics.compareExchange(mem, m, 0, 1) === 0) {
    w.step(STEP_LOCKED, m, LOCK_MUTEX);
    return;
  }
  w.waitBegin(kind, m);
  for (let s = 0; ;) {
    if (s < w.spinLimit) {
      if (Atomics.load(mem, m) === 0 && Atomics.compareExchange(mem, m, 0, 1) === 0) break;
    } else if (Atomics.exchange(mem, m, 2) === 0) {
      // Taken while marked contended: our unlock will ring, harmlessly if nobody waits.
      break;
    }
    s = w.relax(s);
  }
  w.waitEnd();
  w.step(STEP_LOCKED, m, LOCK_MUTEX);
}

export function mutex_trylock(w: Waiter, m: number): boolean {
  return Atomics.compareExchange(w.mem, m, 0, 1) === 0;
}

export function mutex_unlock(w: Waiter, m: number): void {
  w.step(STEP_UNLOCK, m, LOCK_MUTEX);
  w.poll();
  if (Atomics.exchange(w.mem, m, 0) === 2) w.ringWaiters(m);
}

export function mutex_is_locked(mem: Int32Array, m: number): boolean {
  return Atomics.load(mem, m) !== 0;
}
