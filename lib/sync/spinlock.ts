/**
 * spinlock_t as a ticket lock (x86 before qspinlock): fair, FIFO. The kernel's spin_lock()
 * leaves interrupts enabled, so a CPU spinning here still answers TLB-shootdown IPIs (relax()).
 * Layout: [next ticket, owner ticket].
 */
import { LOCK_SPIN, STEP_LOCK, STEP_LOCKED, STEP_UNLOCK } from "../machine/steps.js";
import { WAIT_SPINLOCK, type Waiter } from "./waiter.js";

const NEXT = 0;
const OWNER = 1;

export function spin_lock(w: Waiter, lock: number): void {
  w.step(STEP_LOCK, lock, LOCK_SPIN);
  w.poll();
  const mem = w.mem;
  // Uncontended: take the ticket that is being served, in one atomic. OWNER only grows and
  // never passes NEXT, so if NEXT still equals the OWNER we read (even a stale read), the lock
  // is free and that ticket is ours. Otherwise queue behind the holder as before.
  const owner = mem[lock + OWNER] as number;
  if (Atomics.compareExchange(mem, lock + NEXT, owner, (owner + 1) | 0) === owner) {
    w.step(STEP_LOCKED, lock, LOCK_SPIN);
    return;
  }
  const ticket = Atomics.add(mem, lock + NEXT, 1);
  if (Atomics.load(mem, lock + OWNER) !== ticket) {
    w.waitBegin(WAIT_SPINLOCK, lock);
    for (let s = 0; Atomics.load(mem, lock + OWNER) !== ticket;) s = w.relax(s);
    w.waitEnd();
  }
  w.step(STEP_LOCKED, lock, LOCK_SPIN);
}

export function spin_trylock(w: Waiter, lock: number): boolean {
  const mem = w.mem;
  const owner = Atomics.load(mem, lock + OWNER);
  return Atomics.compareExchange(mem, lock + NEXT, owner, (owner + 1) | 0) === owner;
}

export function spin_unlock(w: Waiter, lock: number): void {
  w.step(STEP_UNLOCK, lock, LOCK_SPIN);
  w.poll();
  const mem = w.mem;
  const owner = (Atomics.add(mem, lock + OWNER, 1) + 1) | 0;
  // Tickets taken beyond ours: somebody queued behind us and may have parked.
  if (Atomics.load(mem, lock + NEXT) !== owner) w.ringWaiters(lock);
}

export function spin_is_locked(mem: Int32Array, lock: number): boolean {
  return Atomics.load(mem, lock + NEXT) !== Atomics.load(mem, lock + OWNER);
}
