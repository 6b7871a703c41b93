import test from "ava";
import { Worker } from "node:worker_threads";
import { availableParallelism } from "node:os";
import { Layout } from "../lib/machine/layout.js";
import { barrier_init } from "../lib/sync/barrier.js";
import type { SyncJob } from "./fixtures/sync-worker.js";

const WORKER = new URL("./fixtures/sync-worker.js", import.meta.url);

interface Outcome {
  counter: number;
  violations: number;
  parks: number;
  parkTimeouts: number;
}

async function hammer(
  kind: SyncJob["kind"],
  nrCpus: number,
  iterations: number,
  spinLimit: number,
): Promise<Outcome> {
  const L = new Layout(nrCpus);
  const sab = new SharedArrayBuffer(L.bytes);
  const mem = new Int32Array(sab);
  // Scratch words in the program region, which these tests do not use otherwise.
  const [counter, readers, violations, slots, gate] = [
    L.program,
    L.program + 16,
    L.program + 32,
    L.program + 64,
    L.program + 128,
  ];
  const lock = kind === "barrier" ? L.trialBarrier : kind === "rwsem" ? L.mmapSem : L.treeLock;
  if (kind === "barrier") barrier_init(mem, lock, nrCpus);
  const results = await Promise.all(
    Array.from({ length: nrCpus }, (_, id) => {
      const job: SyncJob = {
        sab,
        nrCpus,
        id,
        kind,
        iterations,
        spinLimit,
        lock,
        counter,
        readers,
        violations,
        slots,
        gate,
      };
      const w = new Worker(WORKER, { workerData: job });
      return new Promise<{ parks: number; parkTimeouts: number }>((resolve, reject) => {
        w.once("message", resolve);
        w.once("error", reject);
      });
    }),
  );
  return {
    counter: Atomics.load(mem, counter),
    violations: Atomics.load(mem, violations),
    parks: results.reduce((a, r) => a + r.parks, 0),
    parkTimeouts: results.reduce((a, r) => a + r.parkTimeouts, 0),
  };
}

// More CPUs than cores, and a tiny spin limit so that waiters really park and must be rung.
const OVERSUBSCRIBED = availableParallelism() * 3;

for (const kind of ["spinlock", "mutex"] as const) {
  test.serial(
    `${kind}: mutual exclusion and no lost wake-ups with ${OVERSUBSCRIBED} CPUs on ${availableParallelism()} cores`,
    async (t) => {
      const iterations = 3000;
      const r = await hammer(kind, OVERSUBSCRIBED, iterations, 4);
      t.is(r.counter, OVERSUBSCRIBED * iterations, "no increment lost: the lock excluded");
      t.true(r.parks > 0, "waiters did park, so wake-ups were exercised");
      t.is(r.parkTimeouts, 0, "every parked waiter was rung; none had to time out");
    },
  );
}

test.serial("rw_semaphore: writers exclude readers and each other, no lost wake-ups", async (t) => {
  const iterations = 4000;
  const r = await hammer("rwsem", OVERSUBSCRIBED, iterations, 4);
  t.is(r.counter, OVERSUBSCRIBED * (iterations / 4), "no writer increment lost");
  t.is(r.violations, 0, "no writer ever saw an active reader");
  t.true(r.parks > 0);
  t.is(r.parkTimeouts, 0);
});

test.serial("barrier: reusable across rounds, nobody passes early", async (t) => {
  const r = await hammer("barrier", OVERSUBSCRIBED, 500, 4);
  t.is(r.violations, 0, "after each barrier every CPU saw every other CPU's value of that round");
  t.is(r.parkTimeouts, 0);
});

test.serial("spinlock: two CPUs spinning without parking still exclude", async (t) => {
  const r = await hammer("spinlock", 2, 20000, 1 << 30);
  t.is(r.counter, 40000);
  t.is(r.parks, 0);
});
