/**
 * A scenario is data: per-CPU user programs, the parameters they take, the outcome to record
 * (litmus-style), the forbidden outcomes and the verdict each kernel should give. Scenario
 * files (scenarios/*.json) hold exactly this shape; nothing in them is evaluated as code.
 */

/** A number, or "$name" for a parameter. */
export type Arg = number | string;

/** A virtual-address region: "X" (where the file is mapped) or "Y" (where mremap moves it). */
export type Region = "X" | "Y";

export type Step =
  | { op: "mmap"; at: Region; pages: Arg }
  | { op: "mmap_anon"; at: Region; pages: Arg }
  | { op: "mmap_thp"; at: Region; pages: Arg }
  | { op: "madvise_free"; at: Region; pages: Arg }
  | { op: "reclaim" }
  | { op: "reclaim_cluster"; pages: Arg }
  | { op: "munmap"; at: Region; pages: Arg }
  | { op: "mremap"; from: Region; to: Region; pages: Arg }
  | { op: "store"; at: Region; page: Arg; value: Arg; result: string }
  | { op: "load"; at: Region; page: Arg; into: string }
  | { op: "fadvise"; advice: "dontneed" }
  | { op: "pread"; page: Arg; into: string }
  | { op: "ftruncate"; pages: Arg }
  | { op: "alloc"; value: Arg }
  | { op: "signal"; flag: string }
  | { op: "wait"; flag: string };

export const OPS = [
  "mmap",
  "mmap_anon",
  "mmap_thp",
  "madvise_free",
  "reclaim",
  "reclaim_cluster",
  "munmap",
  "mremap",
  "store",
  "load",
  "fadvise",
  "pread",
  "ftruncate",
  "alloc",
  "signal",
  "wait",
] as const;

export interface CpuProgram {
  /** Who this is in the reproducer ("thread 1"). */
  name: string;
  /** Set-up steps run before the start barrier (litmus "init"): not part of the race. */
  init: Step[];
  /** The racing steps, started together after the barrier and the start offsets. */
  steps: Step[];
}

export interface ParamSpec {
  description: string;
  default: number;
  min: number;
  /** A number, or "$other" meaning "less than that parameter". */
  max: number | string;
}

/** One column of the outcome: a register of one CPU. */
export type OutcomeField =
  | { name: string; cpu: number; reg: string; kind: "result" } // ok | SIGSEGV | SIGBUS
  | { name: string; cpu: number; reg: string; kind: "value"; values: number[] };

/**
 * The lost-write oracle for one file location: the stores (in program order, one CPU) that
 * target it and the register that holds the final read-back. A write is lost if the last store
 * that returned ok stored a value other than the one read back.
 */
export interface LostWriteCheck {
  cpu: number;
  stores: string[];
  readback: string;
}

/**
 * "forbidden": the race shows (with the window widened); "clean": it never does; "either": a
 * narrower window than the one the scenario widens is still open (see the scenario's source).
 */
export type Verdict = "forbidden" | "clean" | "either";

export interface ScenarioSpec {
  name: string;
  description: string;
  /** Where the race comes from. */
  source: string;
  /** The kernels it is about: [buggy, fixed]. */
  kernels: [string, string];
  /**
   * Expected verdict on every kernel: "forbidden" (the race shows) before the fixed kernel in
   * history, "clean" from it on, unless overridden here.
   */
  expect?: Record<string, Verdict>;
  params: Record<string, ParamSpec>;
  cpus: CpuProgram[];
  outcome: OutcomeField[];
  /** Outcomes the fixed kernel must never show, as field name -> label. */
  forbidden: Record<string, string | number>[];
  lostWrite: LostWriteCheck[];
  /** Count accesses through translations to freed or reused frames (see lib/mmu/frame_gen.ts). */
  useAfterFree?: boolean;
  /**
   * The MMU's flush granularity: "x86" (default; a range above 33 pages is a full flush) or
   * "arm64" (v4.9: page by page up to 1024 pages).
   */
  arch?: "x86" | "arm64";
  /** Delays that widen the window, for `smoke` and the matrix. */
  widen: Record<string, string>;
}
