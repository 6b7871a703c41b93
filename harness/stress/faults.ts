/**
 * Faults a stress run must survive: noticing a worker that exits, and, for the tests only,
 * causing each kind of fault on purpose.
 *
 * Test hook: TLBRACE_STRESS_FAULT="KIND@SLOT:SLICE[,...]" makes machine slot SLOT (0..M-1) fail
 * in its SLICE-th slice (0-based, counted over the slot's life, across replaced machines):
 *   throw  the last CPU's first racing step becomes an invalid instruction: the CPU throws;
 *   kill   100 ms into the slice, CPU 1's worker thread is terminated: a worker dies;
 *   stall  CPU 0's first racing step waits for a flag nobody signals: the watchdog fires.
 * Each fault is real (the model throws, a thread dies, a machine stalls); only its timing is
 * arranged. Nothing reads the variable unless it is set.
 */
import { NR_SIGNALS } from "../../lib/machine/layout.js";
import { IMG_CPU_TABLE, IMG_CPU_WORDS, IMG_NCPUS, OP_WAIT } from "../../lib/scenarios/image.js";
import type { Machine } from "../machine.js";

export const FAULT_ENV = "TLBRACE_STRESS_FAULT";

export type FaultKind = "throw" | "kill" | "stall";

export interface FaultHook {
  kind: FaultKind;
  slot: number;
  slice: number;
}

export class WorkerDied extends Error {
  constructor(
    readonly cpu: number,
    readonly code: number,
  ) {
    super(`CPU ${cpu}'s worker thread exited (code ${code}) in the middle of a batch`);
  }
}

export interface DeathWatch {
  /** Rejects with WorkerDied when a worker exits before dispose(). Never resolves. */
  died: Promise<never>;
  /** Call before closing the machine on purpose. */
  dispose(): void;
}

export function watchDeaths(m: Machine): DeathWatch {
  let disposed = false;
  let fail: (e: Error) => void = () => undefined;
  const died = new Promise<never>((_, reject) => (fail = reject));
  died.catch(() => undefined); // raced per slice; a death between slices is seen by the next one
  m.onWorkerExit((cpu, code) => {
    // A CPU that throws posts its error and then exits: let that message arrive first.
    setTimeout(() => {
      if (!disposed) fail(new WorkerDied(cpu, code));
    }, 50).unref();
  });
  return { died, dispose: () => (disposed = true) };
}

export function parseFaultHooks(text: string | undefined): FaultHook[] {
  if (text === undefined || text === "") return [];
  return text.split(",").map((part) => {
    const m = /^(throw|kill|stall)@(\d+):(\d+)$/.exec(part.trim());
    if (m === null) throw new Error(`${FAULT_ENV}: "${part}" is not KIND@SLOT:SLICE`);
    return { kind: m[1] as FaultKind, slot: Number(m[2]), slice: Number(m[3]) };
  });
}

/** A copy of a program image with the fault planted (see the header). */
export function faultyImage(image: Int32Array, kind: "throw" | "stall"): Int32Array {
  const img = image.slice();
  const cpu = kind === "throw" ? (img[IMG_NCPUS] as number) - 1 : 0;
  const bodyStart = img[IMG_CPU_TABLE + cpu * IMG_CPU_WORDS + 2] as number;
  if (kind === "throw") img[bodyStart] = 0x7fff;
  else {
    img[bodyStart] = OP_WAIT;
    img[bodyStart + 1] = NR_SIGNALS - 1; // compile() hands out flags from 0: this one is unused
  }
  return img;
}

/** Terminate one CPU's worker `ms` from now, as a thread that dies would. */
export function killWorkerLater(m: Machine, cpu: number, ms: number): void {
  setTimeout(() => m.killWorker(cpu), ms).unref();
}
