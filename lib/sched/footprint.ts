/**
 * Step footprints for the explorer's dpor strategy: which shared words of the modelled machine
 * a controlled step read and wrote. Two steps of different CPUs are independent when neither
 * writes a word the other touches; partial-order reduction only reorders dependent steps.
 *
 * A CPU records its footprint through a tracking view of the machine buffer (a Proxy for plain
 * indexing, and an Atomics whose calls on that view record the word). Only one CPU runs at a time
 * under the explorer, so a step's footprint is everything between taking the baton and handing it
 * back. Words that are only bookkeeping (the scheduler's own words, traces, statistics, the
 * program image, watchdog and parking words) are not tracked: no other CPU's behaviour depends on
 * them. Tracking is slow (a Proxy trap per access), so only explorer machines built with
 * footprints use it; normal runs never see it.
 */
import {
  CPU_FLUSH_ACKS,
  CPU_FLUSH_END,
  CPU_FLUSH_START,
  CPU_IPI_PENDING,
  FOOTPRINT_WORDS,
  FP_COUNT,
  FP_ENTRIES,
  FP_OVERFLOW,
  type Layout,
} from "../machine/layout.js";

/** Entries a step can record before it counts as touching every word. */
export const FP_CAPACITY = FOOTPRINT_WORDS - FP_ENTRIES;

/** 1 for every word whose accesses make steps of different CPUs dependent. */
export function trackedWords(L: Layout): Uint8Array {
  const t = new Uint8Array(L.words);
  // Shared kernel state: locks, barrier, PTLs, signals, cpumask, VMAs, rmap lists, swap, page
  // cache, backing file, struct pages, frame generations, allocator, frames, page tables.
  t.fill(1, L.mmapSem, L.program);
  // The TLBs: each CPU's is touched only by that CPU (shootdowns run on the target), but the
  // footprint of a step that reads its own TLB is what wakes it from a sleep set after an IPI.
  t.fill(1, L.tlb, L.trace);
  // Per CPU, the IPI mailbox and the shootdown request the sender waits on; not the parking,
  // watchdog, scheduler or counter words.
  for (let c = 0; c < L.nrCpus; c++) {
    const b = L.cpu(c);
    t[b + CPU_IPI_PENDING] = 1;
    t[b + CPU_FLUSH_START] = 1;
    t[b + CPU_FLUSH_END] = 1;
    t[b + CPU_FLUSH_ACKS] = 1;
  }
  return t;
}

/**
 * One CPU's recorder. Entries go straight into the CPU's footprint area of the buffer; begin()
 * starts a step, publish() ends it (the scheduler reads the area once the baton is back).
 */
export class FootprintRecorder {
  on = false;
  private serial = 0;
  private n = 0;
  /** Per word: the serial of the step that last touched it, and where its entry is. */
  private readonly seen: Int32Array;
  private readonly at: Int32Array;

  constructor(
    private readonly real: Int32Array,
    private readonly tracked: Uint8Array,
    private readonly base: number,
  ) {
    this.seen = new Int32Array(tracked.length);
    this.at = new Int32Array(tracked.length);
  }

  begin(): void {
    this.serial++;
    this.n = 0;
    this.real[this.base + FP_OVERFLOW] = 0;
    this.on = true;
  }

  /** The step is over: publish its count (0 when nothing was being recorded). */
  publish(): void {
    Atomics.store(this.real, this.base + FP_COUNT, this.on ? this.n : 0);
  }

  stop(): void {
    this.on = false;
  }

  touch(word: number, write: boolean): void {
    if (!this.on || this.tracked[word] !== 1) return;
    const real = this.real;
    if (this.seen[word] === this.serial) {
      if (write) {
        const at = this.at[word] as number;
        if (at >= 0)
          real[this.base + FP_ENTRIES + at] = (real[this.base + FP_ENTRIES + at] as number) | 1;
      }
      return;
    }
    this.seen[word] = this.serial;
    if (this.n >= FP_CAPACITY) {
      this.at[word] = -1;
      real[this.base + FP_OVERFLOW] = 1;
      return;
    }
    this.at[word] = this.n;
    real[this.base + FP_ENTRIES + this.n] = word * 2 + (write ? 1 : 0);
    this.n++;
  }

  touchRange(from: number, to: number, write: boolean): void {
    for (let w = from; w < to; w++) this.touch(w, write);
  }
}

const isIndex = (key: string): boolean => {
  const c = key.charCodeAt(0);
  return c >= 48 && c <= 57;
};

/**
 * A view of `real` that records every indexed access. Methods other than fill and copyWithin
 * throw: an untracked bulk access would make a footprint silently wrong.
 */
export function trackedMemory(real: Int32Array, rec: FootprintRecorder): Int32Array {
  const view: Int32Array = new Proxy(real, {
    get(t, key) {
      if (typeof key === "string") {
        if (isIndex(key)) {
          const i = +key;
          rec.touch(i, false);
          return t[i];
        }
        if (key === "fill") return fill;
        if (key === "copyWithin") return copyWithin;
      }
      const v: unknown = Reflect.get(t, key, t);
      if (typeof v === "function" && key !== "constructor")
        throw new Error(`footprints: mem.${String(key)}() is not tracked`);
      return v;
    },
    set(t, key, value: number) {
      if (typeof key === "string" && isIndex(key)) {
        const i = +key;
        rec.touch(i, true);
        t[i] = value;
        return true;
      }
      throw new Error(`footprints: cannot set mem.${String(key)}`);
    },
  });
  const fill = (v: number, from = 0, to = real.length): Int32Array => {
    rec.touchRange(from, to, true);
    real.fill(v, from, to);
    return view;
  };
  const copyWithin = (target: number, from: number, to = real.length): Int32Array => {
    rec.touchRange(from, to, false);
    rec.touchRange(target, target + (to - from), true);
    real.copyWithin(target, from, to);
    return view;
  };
  return view;
}

type AtomicsLike = typeof Atomics;

/**
 * An Atomics whose operations on `view` record their word and act on `real`. Read-modify-write
 * operations count as writes (a failed compareExchange too: conservative, never unsound).
 */
export function trackedAtomics(
  A: AtomicsLike,
  view: Int32Array,
  real: Int32Array,
  rec: FootprintRecorder,
): AtomicsLike {
  const u = (a: Int32Array, i: number, write: boolean): Int32Array => {
    if (a !== view) return a;
    rec.touch(i, write);
    return real;
  };
  const t = {
    load: (a: Int32Array, i: number) => A.load(u(a, i, false), i),
    store: (a: Int32Array, i: number, v: number) => A.store(u(a, i, true), i, v),
    add: (a: Int32Array, i: number, v: number) => A.add(u(a, i, true), i, v),
    sub: (a: Int32Array, i: number, v: number) => A.sub(u(a, i, true), i, v),
    and: (a: Int32Array, i: number, v: number) => A.and(u(a, i, true), i, v),
    or: (a: Int32Array, i: number, v: number) => A.or(u(a, i, true), i, v),
    xor: (a: Int32Array, i: number, v: number) => A.xor(u(a, i, true), i, v),
    exchange: (a: Int32Array, i: number, v: number) => A.exchange(u(a, i, true), i, v),
    compareExchange: (a: Int32Array, i: number, e: number, v: number) =>
      A.compareExchange(u(a, i, true), i, e, v),
    wait: (a: Int32Array, i: number, v: number, ms?: number) => A.wait(u(a, i, false), i, v, ms),
    notify: (a: Int32Array, i: number, n?: number) => A.notify(a === view ? real : a, i, n),
    isLockFree: (n: number) => A.isLockFree(n),
  };
  return t as unknown as AtomicsLike;
}
