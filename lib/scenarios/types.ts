/**
 * A scenario is data: per-CPU user programs, the parameters they take, the outcome to record
 * (litmus-style) and the forbidden outcomes. Nothing in it is code.
 */

/** A number, or "$name" for a parameter. */
export type Arg = number | string;

/** A virtual-address region: "X" (where the file is mapped) or "Y" (where mremap moves it). */
export type Region = "X" | "Y";

export type Step =
  | { op: "mmap"; at: Region; pages: Arg }
  | { op: "munmap"; at: Region; pages: Arg }
  | { op: "mremap"; from: Region; to: Region; pages: Arg }
  | { op: "store"; at: Region; page: Arg; value: Arg; result: string }
  | { op: "load"; at: Region; page: Arg; into: string }
  | { op: "fadvise"; advice: "dontneed" }
  | { op: "pread"; page: Arg; into: string }
  | { op: "signal"; flag: string }
  | { op: "wait"; flag: string };

export interface CpuProgram {
  /** Who this is in the reproducer ("thread 1"). */
  name: string;
  /** Set-up steps run before the start barrier (litmus "init"): not part of the race. */
  init: Step[];
  /** The racing steps, started together after the barrier and the start offsets. */
  body: Step[];
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

export interface ScenarioSpec {
  name: string;
  description: string;
  /** Where the race comes from. */
  source: string;
  /** CPUs the scenario needs. */
  cpus: number;
  /** The kernels it compares: [buggy, fixed]. */
  kernels: [string, string];
  params: Record<string, ParamSpec>;
  programs: CpuProgram[];
  outcome: OutcomeField[];
  /** Outcomes the fixed kernel must never show, as field name -> label. */
  forbidden: Record<string, string | number>[];
  lostWrite: LostWriteCheck[];
  /** Delays that widen the window, for `smoke` and `--widened`. */
  widen: Record<string, string>;
}
