/**
 * The worker entry: turns this thread into one CPU of a modelled machine. It lives for the
 * whole run, parks between batches, and runs the trial loop on each CMD_RUN.
 */
import { parentPort, workerData } from "node:worker_threads";
import { Cpu } from "../lib/machine/cpu.js";
import {
  CMD_EXIT,
  CPU_ERROR,
  CPU_IPI_PENDING,
  CTRL_CMD,
  CTRL_CMD_SEQ,
  CTRL_STOP,
  Layout,
} from "../lib/machine/layout.js";
import { run_batch } from "../lib/machine/trial.js";
import { WAIT_IDLE } from "../lib/sync/waiter.js";
import {
  FootprintRecorder,
  trackedAtomics,
  trackedMemory,
  trackedWords,
} from "../lib/sched/footprint.js";
import { KERNELS } from "../lib/kernels/index.js";

export interface CpuWorkerData {
  sab: SharedArrayBuffer;
  nrCpus: number;
  id: number;
  /** Explorer machines for the dpor strategy: record each controlled step's footprint. */
  footprints?: boolean;
}

export type CpuMessage =
  | { type: "ready"; cpu: number; spinsPerNs: number }
  | { type: "done"; cpu: number; parks: number }
  | { type: "error"; cpu: number; message: string; stack: string };

const { sab, nrCpus, id, footprints } = workerData as CpuWorkerData;
const port = parentPort;
if (port === null) throw new Error("workers/cpu.js must run as a worker thread");
const L = new Layout(nrCpus);
const real = new Int32Array(sab);
let mem: Int32Array = real;
let recorder: FootprintRecorder | null = null;
if (footprints === true) {
  // This thread's kernel code then reaches the buffer only through a view that records each
  // access; Atomics is replaced for this thread alone so atomic accesses are recorded too.
  recorder = new FootprintRecorder(real, trackedWords(L), L.footprintOf(id));
  mem = trackedMemory(real, recorder);
  Object.defineProperty(globalThis, "Atomics", {
    value: trackedAtomics(Atomics, mem, real, recorder),
    writable: true,
    configurable: true,
  });
}
const cpu = new Cpu(mem, L, id, KERNELS);
cpu.footprint = recorder;

/** How many turns of the start-offset loop fit in a nanosecond on this core. */
function calibrate(): number {
  const pending = cpu.self + CPU_IPI_PENDING;
  let best = 0;
  for (let round = 0; round < 5; round++) {
    const n = 200_000;
    const t0 = performance.now();
    let x = 0;
    for (let i = 0; i < n; i++) x += Atomics.load(mem, pending);
    const ns = (performance.now() - t0) * 1e6;
    if (x === 0 && ns > 0) best = Math.max(best, n / ns);
  }
  return best > 0 ? best : 1;
}

const spinsPerNs = calibrate();
port.postMessage({ type: "ready", cpu: id, spinsPerNs } satisfies CpuMessage);

let seq = 0;
for (;;) {
  cpu.waitBegin(WAIT_IDLE, L.ctrl + CTRL_CMD_SEQ);
  while (Atomics.load(mem, L.ctrl + CTRL_CMD_SEQ) === seq)
    Atomics.wait(mem, L.ctrl + CTRL_CMD_SEQ, seq, 1000);
  cpu.waitEnd();
  seq = Atomics.load(mem, L.ctrl + CTRL_CMD_SEQ);
  if (Atomics.load(mem, L.ctrl + CTRL_CMD) === CMD_EXIT) break;
  try {
    run_batch(cpu, spinsPerNs);
    port.postMessage({ type: "done", cpu: id, parks: cpu.parks } satisfies CpuMessage);
  } catch (e) {
    const err = e instanceof Error ? e : new Error(String(e));
    Atomics.store(mem, cpu.self + CPU_ERROR, 1);
    Atomics.store(mem, L.ctrl + CTRL_STOP, 1);
    port.postMessage({
      type: "error",
      cpu: id,
      message: err.message,
      stack: err.stack ?? "",
    } satisfies CpuMessage);
    break;
  }
}
