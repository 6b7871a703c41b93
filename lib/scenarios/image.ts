/**
 * The compiled form of a scenario, as the CPUs read it from the PROGRAM region of the machine
 * buffer: a header, a per-CPU table of [init, body) code ranges, the outcome fields, the
 * lost-write checks, then fixed-width instructions.
 */
export const IMG_NCPUS = 0; // CPUs that run a program
export const IMG_FILE_PAGES = 1;
export const IMG_NFIELDS = 2;
export const IMG_NCHECKS = 3;
export const IMG_NOUTCOMES = 4;
/** The race window (lib/machine/window.ts): its CPU + 1 (0: the scenario names no window). */
export const IMG_WIN_CPU = 5;
/** The window's points: open | close << 8. */
export const IMG_WIN_POINTS = 6;
/** The racing step: its CPU | step index << 8 | the CPU whose start moves it << 20. */
export const IMG_WIN_RACE = 7;
export const IMG_CPU_TABLE = 8; // per CPU: initStart, initEnd, bodyStart, bodyEnd
export const IMG_CPU_WORDS = 4;
export const IMG_FIELDS = IMG_CPU_TABLE + 32 * IMG_CPU_WORDS;
export const IMG_FIELD_WORDS = 16; // cpu, reg, kind, stride, nvalues, values...
export const MAX_FIELDS = 8;
export const MAX_FIELD_VALUES = IMG_FIELD_WORDS - 5;
export const IMG_CHECKS = IMG_FIELDS + MAX_FIELDS * IMG_FIELD_WORDS;
export const IMG_CHECK_WORDS = 16; // cpu, readback reg, nstores, (reg, value)...
export const MAX_CHECKS = 4;
export const MAX_CHECK_STORES = (IMG_CHECK_WORDS - 3) >> 1;
/**
 * Outcomes that count as forbidden trials by themselves (a bitmask over outcome indices), for
 * scenarios whose harm is an access that should have faulted (`countForbidden`), not a lost
 * write or a use-after-free.
 */
export const IMG_FORBIDDEN = IMG_CHECKS + MAX_CHECKS * IMG_CHECK_WORDS;
export const IMG_FORBIDDEN_WORDS = 2; // NR_OUTCOMES = 64 bits
export const IMG_CODE = IMG_FORBIDDEN + IMG_FORBIDDEN_WORDS;

export const FIELD_RESULT = 0;
export const FIELD_VALUE = 1;

export const INSN_WORDS = 6; // op, a, b, c, d, e
export const OP_MMAP = 1; // a: addr, b: len (bytes), c: pgoff, d: MAP_POPULATE (0 or 1)
export const OP_MUNMAP = 2; // a: addr, b: len
export const OP_MREMAP = 3; // a: from, b: len, c: to
export const OP_STORE = 4; // a: addr, b: value, c: reg
export const OP_LOAD = 5; // a: addr, c: reg
export const OP_FADVISE_DONTNEED = 6; // a: first file page, b: pages (0: to the end of the file)
export const OP_PREAD = 7; // a: file page, b: word, c: reg
export const OP_SIGNAL = 8; // a: flag number
export const OP_WAIT = 9; // a: flag number
export const OP_FTRUNCATE = 10; // a: new size in pages
export const OP_ALLOC = 11; // a: value the new owner writes into the frame
export const OP_MMAP_ANON = 12; // a: addr, b: len, d: MAP_POPULATE (0 or 1)
export const OP_MADV_FREE = 13; // a: addr, b: len
export const OP_RECLAIM = 14; // b: 1 if !sc->may_writepage (laptop mode)
export const OP_MMAP_THP = 15; // a: addr, b: len
export const OP_RECLAIM_CLUSTER = 16; // a: pages to scan; b: 1 if !sc->may_writepage
export const OP_MIGRATE = 18; // migrate_pages() over the anonymous pages; a: at most this many (0: all)
export const OP_TOUCH = 17; // a: addr of the first page, b: pages, c: 1 to write (0 read), d: value

/** Register contents before the step that sets it has run. */
export const REG_UNSET = -0x80000000;
