/**
 * The steps a CPU reports through Waiter.step(): what traces record and where the explorer's
 * scheduler may switch CPUs. Normal runs pay one field test per step (hooks === 0).
 */

/** Waiter.hooks bits. */
export const HOOK_TRACE = 1;
export const HOOK_CONTROLLED = 2;

export const STEP_START = 0; // the body begins
export const STEP_OP = 1; // a user operation (a: op code, b: address or argument)
export const STEP_POINT = 2; // a named point of a kernel function (a: point id)
export const STEP_LOCK = 3; // about to take a lock (a: lock word, b: 0 spin, 1 mutex, 2 read, 3 write)
export const STEP_LOCKED = 4; // took it (trace only)
export const STEP_UNLOCK = 5; // about to release a lock (a: lock word, b: as STEP_LOCK)
export const STEP_WAIT = 6; // a turn of a wait loop (a: WAIT_* kind, b: the word waited on)
export const STEP_IPI_SEND = 7; // flush_tlb_others() sends (a: target mask, b: pages, 0 = all) (trace only)
export const STEP_IPI_SERVE = 8; // flush_tlb_func() on this CPU (a: start vpn, b: pages, 0 = all) (trace only)
export const STEP_STALE_HIT = 9; // a store through a TLB entry the page table no longer backs (a: vpn, b: pfn) (trace only)
export const STEP_END = 10; // the body is done
export const STEP_RESULT = 11; // a user operation returned (a: op code, b: its result) (trace only)

export const STEP_NAMES: readonly string[] = [
  "start",
  "op",
  "point",
  "lock",
  "locked",
  "unlock",
  "wait",
  "ipi-send",
  "ipi-serve",
  "stale-tlb-hit",
  "end",
  "result",
];

/** Steps at which a controlled CPU hands the baton back (the others are recorded only). */
export const yieldsAt = (kind: number): boolean =>
  kind === STEP_START ||
  kind === STEP_OP ||
  kind === STEP_POINT ||
  kind === STEP_LOCK ||
  kind === STEP_UNLOCK ||
  kind === STEP_WAIT;

export const LOCK_SPIN = 0;
export const LOCK_MUTEX = 1;
export const LOCK_READ = 2;
export const LOCK_WRITE = 3;

/** A controlled CPU's state, as the scheduler sees it (CPU_SCHED_STATE). */
export const SCHED_RUNNING = 0; // holds the baton, or has not reached its body yet
export const SCHED_READY = 1; // stopped before a step, can take it
export const SCHED_WAITING = 2; // in a wait loop: can only make progress after another CPU's step
export const SCHED_IDLE = 3; // body done; runs again only to answer IPIs

/** CTRL_BATON values besides a CPU id. */
export const SCHED_TO_SCHEDULER = -1;
export const SCHED_RELEASE = -2;
