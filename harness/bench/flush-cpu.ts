/**
 * Worker entry for `tlbrace bench flush`: one CPU of a machine that does nothing but TLB
 * shootdowns. CPU 0 initiates flush_tlb_mm_range() and times each one; the targets answer the
 * IPIs either spinning (polling their mailbox) or parked (Atomics.wait, rung by the sender).
 * CPUs 0 and 1 also measure the physical floor: a cache-line ping-pong round trip.
 */
import { createHistogram } from "node:perf_hooks";
import { parentPort, workerData } from "node:worker_threads";
import { Cpu } from "../../lib/machine/cpu.js";
import {
  CPU_IPI_PENDING,
  CPU_SLEEPING,
  CPU_WORDS,
  Layout,
  PAGE_SIZE,
  PMD_SIZE,
} from "../../lib/machine/layout.js";
import { flush_tlb_mm_range } from "../../lib/mmu/shootdown.js";
import { barrier_wait } from "../../lib/sync/barrier.js";
import {
  binsToPairs,
  countLatency,
  NR_BINS,
  percentiles,
  type Percentiles,
} from "../../lib/stats/percentiles.js";
import { decideNextCell, nextCellRuns, type BenchMessage, type BenchWords } from "./control.js";
import { KERNELS } from "../../lib/kernels/index.js";

export type { Percentiles };

export interface FlushConfig {
  targets: number;
  pages: number;
  mode: "spinning" | "parked";
  /** Samples wanted; fewer when the cell's time budget runs out first (oversubscription). */
  samples: number;
  budgetMs: number;
}

export interface FlushBenchJob {
  sab: SharedArrayBuffer;
  nrCpus: number;
  id: number;
  configs: FlushConfig[];
  pingPongSamples: number;
  words: BenchWords;
}

/** One cell's figures, with its latency histogram as [bin low edge ns, count] pairs. */
export type FlushRow = FlushConfig & Percentiles & { bins: [number, number][] };

/** The ping-pong floor, with its histogram: CPU 0's first message, as `info`. */
export type FlushFloor = Percentiles & { bins: [number, number][] };

const job = workerData as FlushBenchJob;
const mem = new Int32Array(job.sab);
const L = new Layout(job.nrCpus);
const cpu = new Cpu(mem, L, job.id, KERNELS);
const B = L.trialBarrier;
// Scratch words in the program region (this bench runs no user program).
const DONE = L.program;
const PING = L.program + 16;
const ADDR = PMD_SIZE; // the flushed range starts at 2 MiB, as the scenarios' X does
const PARK_SETTLE_MS = 0.05;

/** Cache-line ping-pong between CPUs 0 and 1: the floor of any cross-CPU handshake. */
function pingPong(): FlushFloor | undefined {
  const h = createHistogram();
  const bins = new Uint32Array(NR_BINS);
  if (job.id === 0) {
    for (let i = 0; i < job.pingPongSamples; i++) {
      const t0 = performance.now();
      Atomics.store(mem, PING, 2 * i + 1);
      while (Atomics.load(mem, PING) !== 2 * i + 2);
      const ns = Math.max(1, Math.round((performance.now() - t0) * 1e6));
      h.record(ns);
      countLatency(bins, ns);
    }
    Atomics.store(mem, PING, -1);
    return { ...percentiles(h), bins: binsToPairs(bins) };
  }
  if (job.id === 1) {
    for (;;) {
      const v = Atomics.load(mem, PING);
      if (v === -1) break;
      if ((v & 1) === 1) Atomics.store(mem, PING, v + 1);
    }
  }
  return undefined;
}

function target(mode: FlushConfig["mode"]): void {
  const pending = cpu.self + CPU_IPI_PENDING;
  while (Atomics.load(mem, DONE) === 0) {
    if (Atomics.load(mem, pending) !== 0) cpu.serviceIpis();
    else if (mode === "parked") cpu.sleep(100);
  }
}

function initiator(c: FlushConfig): FlushRow {
  const h = createHistogram();
  const bins = new Uint32Array(NR_BINS);
  const targets = Array.from(
    { length: c.targets },
    (_, i) => L.percpu + (i + 1) * CPU_WORDS + CPU_SLEEPING,
  );
  const until = performance.now() + c.budgetMs;
  for (let i = 0; i < c.samples; i++) {
    // Parked targets: start each shootdown only once every target is asleep again, and give it
    // PARK_SETTLE_MS to be inside Atomics.wait, not just about to call it.
    if (c.mode === "parked") {
      for (const s of targets) while (Atomics.load(mem, s) === 0);
      for (const until = performance.now() + PARK_SETTLE_MS; performance.now() < until;);
    }
    const t0 = performance.now();
    flush_tlb_mm_range(cpu, ADDR, ADDR + c.pages * PAGE_SIZE);
    const ns = Math.max(1, Math.round((performance.now() - t0) * 1e6));
    h.record(ns);
    countLatency(bins, ns);
    if (t0 > until) break;
  }
  Atomics.store(mem, DONE, 1);
  for (let t = 1; t <= c.targets; t++) cpu.ring(t);
  return { ...c, ...percentiles(h), bins: binsToPairs(bins) };
}

barrier_wait(cpu, B);
const floor = pingPong();
if (job.id === 0) parentPort?.postMessage({ info: floor } satisfies BenchMessage<FlushRow>);
for (const c of job.configs) {
  decideNextCell(mem, job.words, job.id);
  if (job.id === 0) {
    Atomics.store(mem, DONE, 0);
    Atomics.store(mem, L.mmCpumask, (1 << (c.targets + 1)) - 1);
  }
  barrier_wait(cpu, B);
  if (!nextCellRuns(mem, job.words)) break;
  if (job.id === 0) parentPort?.postMessage({ row: initiator(c) } satisfies BenchMessage<FlushRow>);
  else if (job.id <= c.targets) target(c.mode);
  barrier_wait(cpu, B);
}
