/**
 * Per-CPU trace rings in the machine buffer. Each event is (seq, kind, a, b): seq comes from
 * one global counter (CTRL_TRACE_SEQ), so merging the rings by seq gives the order in which the
 * CPUs took their steps. A ring keeps a CPU's last TRACE_ENTRIES events of the trial.
 */
import type { Cpu } from "../machine/cpu.js";
import {
  CPU_TRACE_HEAD,
  CTRL_TRACE_SEQ,
  TRACE_ENTRIES,
  TRACE_WORDS,
  type Layout,
} from "../machine/layout.js";

/** Record one event. Called from Cpu.hook() when HOOK_TRACE is set. */
export function trace_record(cpu: Cpu, kind: number, a: number, b: number): void {
  const mem = cpu.mem;
  const L = cpu.L;
  const seq = Atomics.add(mem, L.ctrl + CTRL_TRACE_SEQ, 1);
  const head = mem[cpu.self + CPU_TRACE_HEAD] as number;
  const at = L.traceOf(cpu.id) + (head % TRACE_ENTRIES) * TRACE_WORDS;
  mem[at] = seq;
  mem[at + 1] = kind;
  mem[at + 2] = a;
  mem[at + 3] = b;
  Atomics.store(mem, cpu.self + CPU_TRACE_HEAD, head + 1);
}

/** Empty every ring and restart the sequence: by CPU 0 before a trial's body. */
export function trace_reset(mem: Int32Array, L: Layout): void {
  Atomics.store(mem, L.ctrl + CTRL_TRACE_SEQ, 0);
  for (let c = 0; c < L.nrCpus; c++) Atomics.store(mem, L.cpu(c) + CPU_TRACE_HEAD, 0);
}

export interface TraceEvent {
  seq: number;
  cpu: number;
  kind: number;
  a: number;
  b: number;
}

/** Keep this trial's trace (CPU 0, after the end barrier): copy every ring and head. */
export function trace_keep(mem: Int32Array, L: Layout): void {
  const size = L.nrCpus * TRACE_ENTRIES * TRACE_WORDS;
  mem.copyWithin(L.traceKept, L.trace, L.trace + size);
  for (let c = 0; c < L.nrCpus; c++)
    mem[L.traceKept + size + c] = Atomics.load(mem, L.cpu(c) + CPU_TRACE_HEAD);
}

/**
 * Every CPU's ring (or the kept copy), merged in global order. Read when the CPUs are at rest.
 */
export function trace_read(mem: Int32Array, L: Layout, kept = false): TraceEvent[] {
  const size = L.nrCpus * TRACE_ENTRIES * TRACE_WORDS;
  const base = kept ? L.traceKept : L.trace;
  const out: TraceEvent[] = [];
  for (let c = 0; c < L.nrCpus; c++) {
    const head = kept
      ? (mem[L.traceKept + size + c] as number)
      : Atomics.load(mem, L.cpu(c) + CPU_TRACE_HEAD);
    const ring = base + c * TRACE_ENTRIES * TRACE_WORDS;
    for (let i = Math.max(0, head - TRACE_ENTRIES); i < head; i++) {
      const at = ring + (i % TRACE_ENTRIES) * TRACE_WORDS;
      out.push({
        seq: mem[at] as number,
        cpu: c,
        kind: mem[at + 1] as number,
        a: mem[at + 2] as number,
        b: mem[at + 3] as number,
      });
    }
  }
  return out.sort((x, y) => x.seq - y.seq);
}
