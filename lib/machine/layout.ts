/**
 * The modelled machine's memory map: every piece of shared state lives at a fixed word offset
 * in one SharedArrayBuffer, viewed as an Int32Array. Kernel code addresses state by these
 * offsets; nothing is shared any other way.
 */

export const PAGE_SHIFT = 12;
export const PAGE_SIZE = 1 << PAGE_SHIFT;
export const PTRS_PER_PTE = 512;
export const PMD_SHIFT = 21;
export const PMD_SIZE = 1 << PMD_SHIFT;
export const PMD_MASK = ~(PMD_SIZE - 1);
/** Number of PMD entries in the one mm: 32 x 2 MiB = 64 MiB of user address space. */
export const NR_PMDS = 32;
export const TASK_SIZE = NR_PMDS * PMD_SIZE;
export const NR_VPAGES = TASK_SIZE >>> PAGE_SHIFT;
/** A transparent huge page: one PMD entry, HPAGE_PMD_NR contiguous frames. */
export const HPAGE_PMD_NR = 512;

/** A page frame holds a few words: the value written there is what the oracles look at. */
export const FRAME_WORDS = 4;
export const NR_FRAMES = 8192;
/** Size of the one shared file, in pages. */
export const MAX_FILE_PAGES = 4096;
export const MAX_CPUS = 32;
export const MAX_VMAS = 16;
export const NR_REGS = 16;
export const NR_SIGNALS = 16;
export const NR_OUTCOMES = 64;
export const PROGRAM_WORDS = 4096;

/** struct page, one per frame. */
export const PAGE_FLAGS = 0; // PG_* bits, atomic bit ops
export const PAGE_LOCK = 1; // lock_page(): a futex mutex (PG_locked)
export const PAGE_MAPCOUNT = 2; // _mapcount + 1 (0 = unmapped), changed under the PTL
export const PAGE_REFCOUNT = 3; // _refcount
export const PAGE_MAPPING = 4; // 0 none, MAPPING_FILE
export const PAGE_INDEX = 5; // index in the file, or linear index for anon pages
export const PAGE_PRIVATE = 6; // swap slot + 1 while the page is in the swap cache
export const PAGE_WORDS = 8;
export const MAPPING_FILE = 1;
export const MAPPING_ANON = 2;
/** The shared zero page, mapped read-only by read faults on anonymous memory. */
export const ZERO_PFN = 1;
/** Swap slots (4 KiB each) of the modelled swap area. */
export const NR_SWAP = 4096;

/** struct vm_area_struct, MAX_VMAS slots, guarded by mmap_sem. */
export const VMA_START = 0;
export const VMA_END = 1;
export const VMA_PGOFF = 2;
export const VMA_FLAGS = 3; // 0 = free slot
export const VMA_PAGE_PROT = 4;
export const VMA_FILE = 5; // 1: maps the shared file; 0: anonymous (vm_file == NULL)
export const VMA_WORDS = 8;

/** Per-CPU block. */
export const CPU_IPI_PENDING = 0; // bitmask of CPUs with a flush request for us
export const CPU_PARK_SEQ = 1; // rung by whoever needs this CPU; Atomics.wait target
export const CPU_SLEEPING = 2; // 1 while armed to park
export const CPU_WAIT_KIND = 3; // what the CPU waits for (WAIT_*), for the watchdog
export const CPU_WAIT_ON = 4; // the word it waits on
export const CPU_FLUSH_START = 5; // this CPU's outstanding shootdown request
export const CPU_FLUSH_END = 6;
export const CPU_FLUSH_ACKS = 7; // acks still owed to this CPU
export const CPU_STEP = 8; // program counter of the user program
export const CPU_POINT = 9; // last named point passed
export const CPU_HEARTBEAT = 10; // trials run by this CPU
export const CPU_TLB_GEN = 11; // current TLB tag (a full flush bumps it)
export const CPU_FLUSHES = 12; // shootdowns initiated
export const CPU_IPIS_SENT = 13;
export const CPU_IPIS_SERVED = 14;
export const CPU_ERROR = 15; // nonzero once the CPU threw
export const CPU_UAF = 48; // accesses through stale translations to freed/reused frames, this trial
export const CPU_SCHED_STATE = 49; // controlled runs: SCHED_* state, written by the CPU
export const CPU_SCHED_KIND = 50; // controlled runs: the step the CPU waits to take (STEP_*)
export const CPU_SCHED_A = 51;
export const CPU_SCHED_B = 52;
export const CPU_TRACE_HEAD = 53; // events recorded into this CPU's trace ring this trial
/**
 * Window coverage (see lib/machine/window.ts). The racing CPU notes the window's state when it
 * reaches its racing step (WIN_NOT_REACHED until then); with window timing on, the CPUs note
 * when, in ns after the start barrier, they reached the window's points (-1: not reached).
 */
export const CPU_WIN_SEEN = 54;
export const CPU_WIN_T_OPEN = 55;
export const CPU_WIN_T_CLOSE = 56;
export const CPU_WIN_T_RACE = 57;
export const CPU_REGS = 16; // NR_REGS result registers of the user program
export const CPU_WORDS = 64;

/**
 * The TLB: one entry per virtual page, tagged with the CPU's TLB generation. TLB_FRAME_GEN is
 * not hardware state: it is the oracle's note of the frame's generation when the entry was
 * filled (see lib/mmu/frame_gen.ts).
 */
export const TLB_TAG = 0;
export const TLB_ENTRY = 1;
export const TLB_FRAME_GEN = 2;
export const TLB_WORDS = 4;

/** A CPU's trace ring: TRACE_ENTRIES events of TRACE_WORDS words (seq, kind, a, b). */
export const TRACE_ENTRIES = 512;
export const TRACE_WORDS = 4;

/** Control words (main thread <-> CPUs). */
export const CTRL_CMD_SEQ = 0;
export const CTRL_CMD = 1;
export const CTRL_DONE_SEQ = 2;
export const CTRL_STOP = 3;
export const CTRL_CONTINUE = 4; // CPU 0's decision for the next trial
/** Controlled runs (the explorer): the CPU holding the baton, SCHED_TO_SCHEDULER, or SCHED_RELEASE. */
export const CTRL_BATON = 5;
/** Traces: the global sequence number of trace events (Atomics.add). */
export const CTRL_TRACE_SEQ = 6;
/** The scenario's race window in this trial: WIN_CLOSED_YET, WIN_OPEN or WIN_CLOSED. */
export const CTRL_WINDOW = 7;
export const CTRL_WORDS = 8;

/**
 * Controlled runs with footprints (the explorer's dpor strategy): per CPU, the shared words its
 * last step touched: [count, overflow, entries...], an entry being word * 2 + (1 if written).
 * A step that touches more words than fit sets overflow and counts as touching every word.
 */
export const FOOTPRINT_WORDS = 1024;
export const FP_COUNT = 0;
export const FP_OVERFLOW = 1;
export const FP_ENTRIES = 2;

/** Window timing: per trial, [t_open, t_close, t_race] in ns after the start barrier. */
export const WIN_SAMPLE_WORDS = 3;
export const NR_WIN_SAMPLES = 4096;
export const CMD_RUN = 1;
export const CMD_EXIT = 2;

/** Configuration of a batch, written by the harness before CMD_RUN. */
export const CFG_KERNEL = 0;
export const CFG_TRIALS = 1; // 0 = until duration
export const CFG_DURATION_MS = 2;
export const CFG_SEED = 3;
export const CFG_OFFSET_MAX_NS = 4;
export const CFG_NR_CPUS = 5;
export const CFG_SPIN_LIMIT = 6;
export const CFG_FILE_PAGES = 7; // i_size of the shared file, in pages
export const CFG_SLEEPING_DELAYS = 8; // 1: injected delays park (CPUs outnumber cores)
export const CFG_FLUSH_CEILING = 9; // tlb_single_page_flush_ceiling of the modelled arch (0: x86's 33)
export const CFG_OFFSET_FIXED = 10; // 1: CPU 1 starts CFG_OFFSET_MAX_NS (signed) after CPU 0, every trial
export const CFG_CONTROLLED = 11; // 1: the explorer's scheduler hands a baton at every step
export const CFG_TRACE = 12; // 1: every CPU records its steps into its trace ring
export const CFG_OFFSET_MODE = 13; // OFFSETS_UNIFORM or OFFSETS_WINDOW
export const CFG_AIM_LO_NS = 14; // window-aware offsets: the racing CPU starts lo..hi ns after
export const CFG_AIM_HI_NS = 15; // the window's CPU (before it where negative)
export const CFG_WINDOW_TIMING = 16; // 1: note when each CPU reaches the window's points (learning)
export const CFG_ARCH = 17; // the modelled architecture: ARCH_X86 or ARCH_ARM64
export const CFG_WORDS = 24;
export const ARCH_X86 = 0;
export const ARCH_ARM64 = 1;
export const OFFSETS_UNIFORM = 0;
export const OFFSETS_WINDOW = 1;
export const NR_POINTS_MAX = 24;

/** Statistics of the current batch, kept by CPU 0. */
export const ST_TRIALS = 0;
export const ST_LOST = 1;
export const ST_FAULTS = 2;
export const ST_FIRST_LOST_TRIAL = 3; // -1 until the first lost write
export const ST_UAF = 4; // trials with at least one use-after-free access
export const ST_FIRST_UAF_TRIAL = 5; // -1 until the first
export const ST_FORBIDDEN = 6; // trials with a lost write or a use-after-free access (counted once)
export const ST_TRACE_KEPT_TRIAL = 7; // traced runs: the trial whose trace was kept, -1 if none
/** Window coverage: where the racing step fell (see lib/machine/window.ts). */
export const ST_WIN_BEFORE = 8; // before the window opened
export const ST_WIN_HITS = 9; // inside the window
export const ST_WIN_AFTER = 10; // after it closed
export const ST_WIN_MISSED = 11; // the racing step was never reached (a fault before it)
export const ST_WIN_SAMPLES = 12; // window timing: samples written to Layout.winSamples
export const ST_OUTCOMES = 16;
export const ST_WORDS = ST_OUTCOMES + NR_OUTCOMES;

/** Float64 slots at the start of the buffer. */
export const F64_BATCH_START_MS = 0;
export const F64_FIRST_LOST_MS = 1;
export const F64_BATCH_END_MS = 2;
export const F64_DELAYS_MS = 8; // NR_POINTS_MAX slots: injected delay per named point
export const F64_SLOTS = F64_DELAYS_MS + NR_POINTS_MAX;

/** Lock and word sizes. */
export const SPINLOCK_WORDS = 2; // ticket lock: next, owner
export const RWSEM_WORDS = 3; // count (-1 writer, n readers), writers waiting, waiters
export const BARRIER_WORDS = 4; // arrived, generation, parties

function alloc(state: { next: number }, words: number, align = 1): number {
  const at = Math.ceil(state.next / align) * align;
  state.next = at + words;
  return at;
}

/** Word offsets of every region, for a machine of `nrCpus` CPUs. */
export class Layout {
  readonly nrCpus: number;
  readonly ctrl: number;
  readonly cfg: number;
  readonly stats: number;
  readonly percpu: number;
  /** mm->mmap_sem (rw_semaphore): guards the VMAs. */
  readonly mmapSem: number;
  /** mapping->i_mmap_rwsem: guards the file's i_mmap list. */
  readonly iMmapRwsem: number;
  /** mapping->tree_lock (spinlock): guards the page cache. */
  readonly treeLock: number;
  /** mm->page_table_lock (spinlock): guards PMD population. */
  readonly pageTableLock: number;
  /** zone->lock (spinlock): guards the page allocator's free list. */
  readonly zoneLock: number;
  readonly trialBarrier: number;
  /** Split PTLs: one ticket spinlock per PTE table (i.e. per PMD entry). */
  readonly ptl: number;
  /** Flags user programs signal and wait on. */
  readonly signals: number;
  readonly mmCpumask: number;
  /** mm->tlb_flush_batched (3ea277194daa): set by a deferred reclaim flush, cleared by flush_tlb_batched_pending(). */
  readonly tlbFlushBatched: number;
  readonly vmas: number;
  /** The file's i_mmap: count, then VMA slot numbers in tree order. */
  readonly iMmap: number;
  /** anon_vma->rwsem: guards the anon_vma list that rmap walks of anonymous pages read. */
  readonly anonVmaRwsem: number;
  /** The anon_vma's VMAs: count, then VMA slot numbers in tree order (same rule as i_mmap). */
  readonly anonVma: number;
  /** swap_lock (spinlock): guards swapMap and the swap cache. */
  readonly swapLock: number;
  /** Per swap slot: references (PTEs holding the entry, plus 1 for the swap cache). */
  readonly swapMap: number;
  /** Per swap slot: the pfn caching it (the swap cache), 0 if none. */
  readonly swapCache: number;
  /** The swap area's contents: FRAME_WORDS per slot. */
  readonly swapData: number;
  /** Swap slots handed out so far (a bump allocator; slots are not reused within a trial). */
  readonly swapHighWater: number;
  readonly pageCache: number;
  readonly backing: number;
  readonly pages: number;
  /** The file's i_size in pages (truncate changes it), guarded by the inode lock. */
  readonly iSize: number;
  /** Oracle-only: per frame, a generation bumped each time the frame is freed. */
  readonly frameGen: number;
  readonly freeTop: number;
  readonly highWater: number;
  readonly freeStack: number;
  readonly frames: number;
  readonly pmd: number;
  /** Per PMD slot, the PTE table it owns (see pmd_populate() in lib/mmu/pgtable.ts). */
  readonly pgtableOf: number;
  readonly pte: number;
  readonly program: number;
  readonly tlb: number;
  /** Per CPU, one TLB entry per PMD for huge (2 MiB) translations. */
  readonly hugeTlb: number;
  /** Per CPU, the trace ring (see lib/trace/ring.ts). */
  readonly trace: number;
  /** A copy of every ring and head, kept from the first forbidden trial of a traced batch. */
  readonly traceKept: number;
  /** Per CPU, the footprint of its last controlled step (FOOTPRINT_WORDS each). */
  readonly footprint: number;
  /** Window timing samples, written by CPU 0 (bookkeeping: never part of a footprint). */
  readonly winSamples: number;
  readonly words: number;
  readonly bytes: number;

  constructor(nrCpus: number) {
    if (!Number.isInteger(nrCpus) || nrCpus < 1 || nrCpus > MAX_CPUS) {
      throw new RangeError(`nrCpus must be 1..${MAX_CPUS}, got ${nrCpus}`);
    }
    this.nrCpus = nrCpus;
    const s = { next: F64_SLOTS * 2 };
    this.ctrl = alloc(s, CTRL_WORDS, 16);
    this.cfg = alloc(s, CFG_WORDS, 16);
    this.stats = alloc(s, ST_WORDS, 16);
    // Each CPU's block on its own cache lines: the mailbox is polled constantly.
    this.percpu = alloc(s, nrCpus * CPU_WORDS, 16);
    this.mmapSem = alloc(s, RWSEM_WORDS, 16);
    this.iMmapRwsem = alloc(s, RWSEM_WORDS, 16);
    this.treeLock = alloc(s, SPINLOCK_WORDS, 16);
    this.pageTableLock = alloc(s, SPINLOCK_WORDS, 16);
    this.zoneLock = alloc(s, SPINLOCK_WORDS, 16);
    this.trialBarrier = alloc(s, BARRIER_WORDS, 16);
    this.ptl = alloc(s, NR_PMDS * 16, 16); // one cache line per PTL
    this.signals = alloc(s, NR_SIGNALS * 16, 16);
    this.mmCpumask = alloc(s, 1, 16);
    this.tlbFlushBatched = alloc(s, 1, 16);
    this.vmas = alloc(s, MAX_VMAS * VMA_WORDS, 16);
    this.iMmap = alloc(s, 1 + MAX_VMAS, 16);
    this.anonVmaRwsem = alloc(s, RWSEM_WORDS, 16);
    this.anonVma = alloc(s, 1 + MAX_VMAS, 16);
    this.swapLock = alloc(s, SPINLOCK_WORDS, 16);
    this.swapMap = alloc(s, NR_SWAP, 16);
    this.swapCache = alloc(s, NR_SWAP, 16);
    this.swapData = alloc(s, NR_SWAP * FRAME_WORDS, 16);
    this.swapHighWater = alloc(s, 1, 16);
    this.pageCache = alloc(s, MAX_FILE_PAGES, 16);
    this.backing = alloc(s, MAX_FILE_PAGES * FRAME_WORDS, 16);
    this.pages = alloc(s, NR_FRAMES * PAGE_WORDS, 16);
    this.iSize = alloc(s, 1, 16);
    this.frameGen = alloc(s, NR_FRAMES, 16);
    this.freeTop = alloc(s, 1, 16);
    this.highWater = alloc(s, 1, 16);
    this.freeStack = alloc(s, NR_FRAMES, 16);
    this.frames = alloc(s, NR_FRAMES * FRAME_WORDS, 16);
    this.pmd = alloc(s, NR_PMDS, 16);
    this.pgtableOf = alloc(s, NR_PMDS, 16);
    this.pte = alloc(s, NR_PMDS * PTRS_PER_PTE, 16);
    this.program = alloc(s, PROGRAM_WORDS, 16);
    this.tlb = alloc(s, nrCpus * NR_VPAGES * TLB_WORDS, 16);
    this.hugeTlb = alloc(s, nrCpus * NR_PMDS * TLB_WORDS, 16);
    this.trace = alloc(s, nrCpus * TRACE_ENTRIES * TRACE_WORDS, 16);
    this.traceKept = alloc(s, nrCpus * TRACE_ENTRIES * TRACE_WORDS + MAX_CPUS, 16);
    this.footprint = alloc(s, nrCpus * FOOTPRINT_WORDS, 16);
    this.winSamples = alloc(s, NR_WIN_SAMPLES * WIN_SAMPLE_WORDS, 16);
    this.words = s.next;
    this.bytes = this.words * 4;
  }

  cpu(id: number): number {
    return this.percpu + id * CPU_WORDS;
  }
  /** The split PTL of PTE table `table` (ptlock_ptr() of the table page). */
  ptlOf(table: number): number {
    return this.ptl + table * 16;
  }
  signal(n: number): number {
    return this.signals + n * 16;
  }
  vma(slot: number): number {
    return this.vmas + slot * VMA_WORDS;
  }
  page(pfn: number): number {
    return this.pages + pfn * PAGE_WORDS;
  }
  frame(pfn: number): number {
    return this.frames + pfn * FRAME_WORDS;
  }
  footprintOf(cpu: number): number {
    return this.footprint + cpu * FOOTPRINT_WORDS;
  }
  traceOf(cpu: number): number {
    return this.trace + cpu * TRACE_ENTRIES * TRACE_WORDS;
  }
  hugeTlbOf(cpu: number): number {
    return this.hugeTlb + cpu * NR_PMDS * TLB_WORDS;
  }
  tlbOf(cpu: number): number {
    return this.tlb + cpu * NR_VPAGES * TLB_WORDS;
  }

  /** A human name for a word, for the watchdog ("mmap_sem", "ptl[3]", "page_lock[pfn 5]"). */
  describe(word: number): string {
    const ranges: [number, number, string, number][] = [
      [this.mmapSem, RWSEM_WORDS, "mmap_sem", 0],
      [this.iMmapRwsem, RWSEM_WORDS, "i_mmap_rwsem", 0],
      [this.anonVmaRwsem, RWSEM_WORDS, "anon_vma->rwsem", 0],
      [this.swapLock, SPINLOCK_WORDS, "swap_lock", 0],
      [this.treeLock, SPINLOCK_WORDS, "mapping->tree_lock", 0],
      [this.pageTableLock, SPINLOCK_WORDS, "mm->page_table_lock", 0],
      [this.zoneLock, SPINLOCK_WORDS, "zone->lock", 0],
      [this.trialBarrier, BARRIER_WORDS, "trial barrier", 0],
      [this.ptl, NR_PMDS * 16, "ptl", 16],
      [this.signals, NR_SIGNALS * 16, "signal", 16],
      [this.pages, NR_FRAMES * PAGE_WORDS, "page_lock[pfn", PAGE_WORDS],
      [this.percpu, this.nrCpus * CPU_WORDS, "tlb ack of cpu", CPU_WORDS],
    ];
    for (const [at, len, name, stride] of ranges) {
      if (word >= at && word < at + len) {
        if (stride === 0) return name;
        const i = Math.floor((word - at) / stride);
        return name.endsWith("[pfn") ? `${name} ${i}]` : `${name}[${i}]`;
      }
    }
    return `word ${word}`;
  }
}
