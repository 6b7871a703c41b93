/**
 * struct rw_semaphore (mmap_sem, i_mmap_rwsem). Layout: [count, writers waiting, waiters].
 * count: 0 free, n > 0 held by n readers, -1 held by a writer. Readers hold off while a writer
 * waits, as the kernel's rwsem does, so a stream of faults cannot starve mremap().
 */
import { LOCK_READ, LOCK_WRITE, STEP_LOCK, STEP_LOCKED, STEP_UNLOCK } from "../machine/steps.js";
import { WAIT_RWSEM_READ, WAIT_RWSEM_WRITE, type Waiter } from "./waiter.js";

const COUNT = 0;
const WRITERS_WAITING = 1;
const WAITERS = 2;

function tryRead(mem: Int32Array, sem: number): boolean {
  const c = Atomics.load(mem, sem + COUNT);
  return (
    c >= 0 &&
    Atomics.load(mem, sem + WRITERS_WAITING) === 0 &&
    Atomics.compareExchange(mem, sem + COUNT, c, c + 1) === c
  );
}

export function down_read(w: Waiter, sem: number): void {
  w.step(STEP_LOCK, sem, LOCK_READ);
  w.poll();
  const mem = w.mem;
  if (!tryRead(mem, sem)) {
    Atomics.add(mem, sem + WAITERS, 1);
    w.waitBegin(WAIT_RWSEM_READ, sem);
    for (let s = 0; !tryRead(mem, sem);) s = w.relax(s);
    w.waitEnd();
    Atomics.sub(mem, sem + WAITERS, 1);
  }
  w.step(STEP_LOCKED, sem, LOCK_READ);
}

export function down_read_trylock(w: Waiter, sem: number): boolean {
  return tryRead(w.mem, sem);
}

export function up_read(w: Waiter, sem: number): void {
  w.step(STEP_UNLOCK, sem, LOCK_READ);
  w.poll();
  const mem = w.mem;
  if (Atomics.sub(mem, sem + COUNT, 1) === 1 && Atomics.load(mem, sem + WAITERS) !== 0) {
    w.ringWaiters(sem);
  }
}

export function down_write(w: Waiter, sem: number): void {
  w.step(STEP_LOCK, sem, LOCK_WRITE);
  w.poll();
  const mem = w.mem;
  if (Atomics.compareExchange(mem, sem + COUNT, 0, -1) !== 0) {
    Atomics.add(mem, sem + WRITERS_WAITING, 1);
    Atomics.add(mem, sem + WAITERS, 1);
    w.waitBegin(WAIT_RWSEM_WRITE, sem);
    for (let s = 0; Atomics.compareExchange(mem, sem + COUNT, 0, -1) !== 0;) s = w.relax(s);
    w.waitEnd();
    Atomics.sub(mem, sem + WAITERS, 1);
    Atomics.sub(mem, sem + WRITERS_WAITING, 1);
  }
  w.step(STEP_LOCKED, sem, LOCK_WRITE);
}

export function up_write(w: Waiter, sem: number): void {
  w.step(STEP_UNLOCK, sem, LOCK_WRITE);
  w.poll();
  const mem = w.mem;
  Atomics.store(mem, sem + COUNT, 0);
  if (Atomics.load(mem, sem + WAITERS) !== 0) w.ringWaiters(sem);
}

export function rwsem_is_locked(mem: Int32Array, sem: number): boolean {
  return Atomics.load(mem, sem + COUNT) !== 0;
}
