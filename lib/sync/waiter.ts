/**
 * The waiting core every lock is built on: spin first, then park on a per-CPU word.
 *
 * A modelled CPU that waits (for a lock, a TLB-flush ack, a barrier) keeps answering IPIs, as an
 * x86 CPU spinning with interrupts enabled does; otherwise two CPUs that shoot down each other's
 * TLBs while one waits on a lock the other holds would deadlock. So every wait loop calls
 * relax(), which services the CPU's mailbox on every turn.
 *
 * A spin round trip between two cores costs ~150 ns, a futex round trip ~46 us: waiters spin up
 * to spinLimit turns, then park with Atomics.wait on their own CPU_PARK_SEQ word. Whoever makes
 * the awaited condition true (a lock release, an IPI sender, the last barrier arrival) rings the
 * CPUs that wait on that word. The protocol has no lost wake-up:
 *
 *   waiter: SLEEPING = 1; seq = PARK_SEQ; <re-check condition>; <check mailbox>; wait(PARK_SEQ, seq)
 *   ringer: <make condition true>; if (SLEEPING) { PARK_SEQ++; notify(PARK_SEQ) }
 *
 * With sequentially consistent atomics either the waiter's re-check sees the condition, or the
 * ringer sees SLEEPING = 1 and moves PARK_SEQ past the snapshot, so the wait returns at once.
 */
import {
  CPU_IPI_PENDING,
  CPU_PARK_SEQ,
  CPU_SLEEPING,
  CPU_WAIT_KIND,
  CPU_WAIT_ON,
  CPU_WORDS,
} from "../machine/layout.js";
import { HOOK_CONTROLLED, STEP_WAIT } from "../machine/steps.js";

export const WAIT_NONE = 0;
export const WAIT_SPINLOCK = 1;
export const WAIT_MUTEX = 2;
export const WAIT_RWSEM_READ = 3;
export const WAIT_RWSEM_WRITE = 4;
export const WAIT_TLB_ACK = 5;
export const WAIT_BARRIER = 6;
export const WAIT_SIGNAL = 7;
export const WAIT_DELAY = 8;
export const WAIT_IDLE = 9;
export const WAIT_START_OFFSET = 10;

export const WAIT_NAMES: readonly string[] = [
  "running",
  "spin_lock",
  "mutex_lock",
  "down_read",
  "down_write",
  "TLB shootdown acks",
  "barrier",
  "signal from another CPU",
  "injected delay",
  "idle (between runs)",
  "start offset",
];

/** Spin turns before a waiter parks. */
export const DEFAULT_SPIN_LIMIT = 4096;
/** A parked CPU wakes at least this often to re-check (belt and braces, never relied on). */
export const DEFAULT_PARK_TIMEOUT_MS = 50;

export class Waiter {
  readonly mem: Int32Array;
  readonly id: number;
  readonly nrCpus: number;
  /** Offset of this CPU's per-CPU block. */
  readonly self: number;
  /** Offset of CPU 0's per-CPU block. */
  readonly percpu: number;
  spinLimit = DEFAULT_SPIN_LIMIT;
  parkTimeoutMs = DEFAULT_PARK_TIMEOUT_MS;
  /** Times this CPU parked (Atomics.wait), for the benchmarks. */
  parks = 0;
  /** Parks that ended by timeout rather than by a ring: a lost wake-up if the wait was short. */
  parkTimeouts = 0;
  private parkSeq = 0;
  /**
   * HOOK_TRACE | HOOK_CONTROLLED (lib/machine/steps.ts), set for a trial's body only. With no
   * hook, step() costs one field test.
   */
  hooks = 0;

  constructor(mem: Int32Array, percpu: number, nrCpus: number, id: number) {
    this.mem = mem;
    this.id = id;
    this.nrCpus = nrCpus;
    this.percpu = percpu;
    this.self = percpu + id * CPU_WORDS;
  }

  /** A step (STEP_*): recorded into the trace, and a place the explorer may switch CPUs. */
  step(kind: number, a: number, b: number): void {
    if (this.hooks !== 0) this.hook(kind, a, b);
  }

  /** What a step does when hooks are set: the machine's Cpu overrides this. */
  hook(kind: number, a: number, b: number): void {
    void kind;
    void a;
    void b;
  }

  /** Answer pending IPIs. The machine's Cpu overrides this with the TLB shootdown handler. */
  serviceIpis(): void {
    Atomics.store(this.mem, this.self + CPU_IPI_PENDING, 0);
  }

  /**
   * An interrupt window: take pending IPIs now. Lock operations call it on entry and exit, so
   * a CPU answers a shootdown within a few kernel steps, as one with interrupts enabled would.
   * The mailbox test stays an Atomics.load: a plain read of shared memory may be hoisted out of
   * a loop by the JIT, and a CPU that never sees its mailbox again deadlocks its initiator.
   */
  poll(): void {
    if (Atomics.load(this.mem, this.self + CPU_IPI_PENDING) !== 0) this.serviceIpis();
  }

  /** Publish what this CPU is about to wait for (for ringers and for the watchdog). */
  waitBegin(kind: number, on: number): void {
    Atomics.store(this.mem, this.self + CPU_WAIT_ON, on);
    Atomics.store(this.mem, this.self + CPU_WAIT_KIND, kind);
  }

  waitEnd(): void {
    Atomics.store(this.mem, this.self + CPU_SLEEPING, 0);
    Atomics.store(this.mem, this.self + CPU_WAIT_KIND, 0);
    Atomics.store(this.mem, this.self + CPU_WAIT_ON, -1);
  }

  /**
   * One turn of a wait loop: `for (let s = 0; !cond; ) s = w.relax(s);`.
   * Services the mailbox; after spinLimit turns arms the park (the caller re-checks its
   * condition once more), and on the turn after that parks until rung.
   */
  relax(spins: number): number {
    const mem = this.mem;
    if ((this.hooks & HOOK_CONTROLLED) !== 0) {
      // A controlled CPU never spins or parks: each turn is a step that hands the baton back,
      // and the condition is re-checked once another CPU has taken a step.
      this.hook(
        STEP_WAIT,
        Atomics.load(mem, this.self + CPU_WAIT_KIND),
        Atomics.load(mem, this.self + CPU_WAIT_ON),
      );
      return 0;
    }
    if (Atomics.load(mem, this.self + CPU_IPI_PENDING) !== 0) {
      this.serviceIpis();
      return spins < this.spinLimit ? spins : this.spinLimit;
    }
    if (spins < this.spinLimit) return spins + 1;
    if (spins === this.spinLimit) {
      Atomics.store(mem, this.self + CPU_SLEEPING, 1);
      this.parkSeq = Atomics.load(mem, this.self + CPU_PARK_SEQ);
      return spins + 1;
    }
    this.parks++;
    if (
      Atomics.wait(mem, this.self + CPU_PARK_SEQ, this.parkSeq, this.parkTimeoutMs) === "timed-out"
    ) {
      this.parkTimeouts++;
    }
    return this.spinLimit;
  }

  /**
   * Sleep up to `ms` on this CPU's park word, as msleep() does: whoever rings the CPU (an IPI
   * sender) wakes it early; the caller services its mailbox and sleeps again if time is left.
   */
  sleep(ms: number): void {
    const mem = this.mem;
    Atomics.store(mem, this.self + CPU_SLEEPING, 1);
    const seq = Atomics.load(mem, this.self + CPU_PARK_SEQ);
    if (Atomics.load(mem, this.self + CPU_IPI_PENDING) === 0) {
      this.parks++;
      Atomics.wait(mem, this.self + CPU_PARK_SEQ, seq, ms);
    }
    Atomics.store(mem, this.self + CPU_SLEEPING, 0);
  }

  /** Wake `cpu` if it is parked or about to park. */
  ring(cpu: number): void {
    const base = this.percpu + cpu * CPU_WORDS;
    if (Atomics.load(this.mem, base + CPU_SLEEPING) !== 0) {
      Atomics.add(this.mem, base + CPU_PARK_SEQ, 1);
      Atomics.notify(this.mem, base + CPU_PARK_SEQ, 1);
    }
  }

  /** Ring every CPU that waits on `word`. */
  ringWaiters(word: number): void {
    const mem = this.mem;
    for (let c = 0, base = this.percpu; c < this.nrCpus; c++, base += CPU_WORDS) {
      if (Atomics.load(mem, base + CPU_WAIT_ON) === word) this.ring(c);
    }
  }
}
