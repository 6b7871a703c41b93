/** The shape of `tlbrace bench mixed`'s workload and the messages of its workers. */
import type { BenchWords } from "./control.js";

/** The workload's shape: the same for every kernel variant. */
export const FILE_PAGES = 64;
export const HEAP_PAGES = 128;
export const SOURCES_PER_JOB = 8;
export const MREMAP_EVERY = 8;
export const WRITEBACK_EVERY = 4;
/** CPUs the address space has room for: heap and moved heap of each CPU in their own PMDs. */
export const MIXED_MAX_CPUS = 7;

export interface MixedCell {
  kernel: string;
  /** The variant this cell's A/B pair measures, and the pair's number (-1: warm-up). */
  variant: string;
  pair: number;
  ms: number;
}

export interface MixedRow extends MixedCell {
  /** Compile jobs finished, summed over CPUs. */
  jobs: number;
  seconds: number;
  jobsPerSecond: number;
  flushes: number;
  ipis: number;
  /** Use-after-free hits seen by the oracle (a race in the mix itself; expected 0). */
  uaf: number;
}

export interface MixedBenchJob {
  sab: SharedArrayBuffer;
  nrCpus: number;
  id: number;
  cells: MixedCell[];
  words: BenchWords;
}
