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
  /** populate: MAP_POPULATE (fault every page in at mmap time, filling no TLB). */
  | { op: "mmap"; at: Region; pages: Arg; populate?: boolean }
  | { op: "mmap_anon"; at: Region; pages: Arg; populate?: boolean }
  | { op: "mmap_thp"; at: Region; pages: Arg }
  | { op: "madvise_free"; at: Region; pages: Arg }
  /**
   * may_writepage: false is reclaim that may not write dirty pages (sc->may_writepage == 0:
   * vm.laptop_mode, or node reclaim without RECLAIM_WRITE): a dirty page is unmapped and kept,
   * and the TLB flush its unmap deferred waits for the end of the list.
   */
  | { op: "reclaim"; may_writepage?: boolean }
  | { op: "reclaim_cluster"; pages: Arg; may_writepage?: boolean }
  /** pages: at most this many pages in scan order (0 or left out: all), as move_pages() or one
   * compaction batch takes a bounded list. */
  | { op: "migrate"; pages?: Arg }
  | { op: "munmap"; at: Region; pages: Arg }
  | { op: "mremap"; from: Region; to: Region; pages: Arg }
  | { op: "store"; at: Region; page: Arg; value: Arg; result: string }
  | { op: "load"; at: Region; page: Arg; into: string }
  /**
   * The user program reads (or writes `value` to) pages [page, page + pages) of the region in
   * address order, through this CPU's MMU; a fault stops the range. Records no register.
   */
  | {
      op: "touch";
      at: Region;
      page?: Arg;
      pages: Arg;
      access: "read" | "write";
      value?: Arg;
    }
  /** fadvise(fd, page * PAGE_SIZE, pages * PAGE_SIZE, ...): no page = 0, no pages or 0 = to EOF. */
  | { op: "fadvise"; advice: "dontneed"; page?: Arg; pages?: Arg }
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
  "migrate",
  "munmap",
  "mremap",
  "store",
  "load",
  "touch",
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

/** The modelled architectures. */
export type Arch = "x86" | "arm64";
export const ARCHS: readonly Arch[] = ["x86", "arm64"];

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
  /**
   * A trial whose outcome is forbidden counts as a forbidden trial by itself: for races whose
   * harm is an access that should have faulted (a store after munmap() returned), not a lost
   * write or a use-after-free.
   */
  countForbidden?: boolean;
  /** Count accesses through translations to freed or reused frames (see lib/mmu/frame_gen.ts). */
  useAfterFree?: boolean;
  /**
   * The arch on which the race is real, and the arch a run models unless told otherwise: "x86"
   * (default; a range above 33 pages is a full flush; reclaim batches its flush from v4.3 on)
   * or "arm64" (v4.9: page by page up to 1024 pages; no batched reclaim flush before v6.x).
   */
  arch?: Arch;
  /**
   * Expected verdicts on another arch, per kernel, over `expect` and the history rule: e.g.
   * { "x86": { "v4.9-rc4": "clean" } } where x86's batched reclaim flush closes the window.
   */
  expectOn?: Partial<Record<Arch, Record<string, Verdict>>>;
  /** Why the race is real on `arch` and what the other arch answers, in a sentence or two. */
  archNote?: string;
  /** Delays that widen the window, for `smoke` and the matrix. */
  widen: Record<string, string>;
  /** The race window, for window coverage and window-aware start offsets. */
  window?: WindowSpec;
  /**
   * Parameters at which the race is tried at natural timing (`matrix --natural`, `stress
   * --natural`), e.g. a mapping large enough that the move takes a while: { "pages": 1024 }.
   */
  natural?: Record<string, number>;
  /**
   * This scenario is a form of the catalog race named here, not a race of its own: the same
   * race (the same CPU holds the stale entry, the same flush is missing) with a third actor's
   * work done on one of the racing CPUs, where the kernel allows that (direct reclaim in the
   * writing thread's context, its own move_pages() or ftruncate()). Its description says which
   * kernel path makes it legitimate.
   */
  formOf?: string;
  /**
   * The scenario that runs this race on fewer CPUs (a form, or another race that is this one's
   * two-CPU form), for natural-timing runs on a host with fewer cores than this scenario has
   * CPUs: with fewer cores than CPUs, a CPU's steps wait for a core and the race's timing is the
   * scheduler's, not the hardware's.
   */
  fewerCores?: string;
}

/**
 * A race window: on `cpu` (the CPU that runs the kernel path) it opens at the first pass of the
 * named point `open` and closes at the first pass of `close` after it (or when that CPU's steps
 * end); the racing step is step `race.step` of CPU `race.cpu`'s steps. Window-aware start
 * offsets move the start of CPU `aim` (default: the racing CPU) against the window's CPU.
 */
export interface WindowSpec {
  cpu: number;
  open: string;
  close: string;
  race: { cpu: number; step: number };
  aim?: number;
  /** Why these points bound the race, in a sentence. */
  why?: string;
}
