/**
 * Reset the machine in place between trials: page tables, VMAs, page cache, file contents,
 * struct pages, locks and flags go back to their initial state. Run by CPU 0 while every other
 * CPU waits at the trial barrier. TLBs are flushed by each CPU itself at the start of a trial.
 */
import type { Cpu } from "./cpu.js";
import {
  CFG_FILE_PAGES,
  CPU_REGS,
  NR_SWAP,
  PAGE_REFCOUNT,
  ZERO_PFN,
  CPU_UAF,
  FRAME_WORDS,
  MAX_FILE_PAGES,
  MAX_VMAS,
  NR_PMDS,
  NR_REGS,
  NR_SIGNALS,
  RWSEM_WORDS,
  SPINLOCK_WORDS,
  VMA_WORDS,
} from "./layout.js";
import { IMG_FILE_PAGES, IMG_NCPUS, REG_UNSET } from "../scenarios/image.js";

/** Everything, including the whole page cache and file: once per batch. */
export function machine_reset_full(cpu: Cpu): void {
  const mem = cpu.mem;
  const L = cpu.L;
  mem.fill(0, L.pageCache, L.pageCache + MAX_FILE_PAGES);
  mem.fill(0, L.backing, L.backing + MAX_FILE_PAGES * FRAME_WORDS);
  mem.fill(0, L.pages, L.freeStack);
  mem[L.highWater] = ZERO_PFN + 1;
  mem[L.swapHighWater] = 0;
  mem.fill(0, L.swapMap, L.swapMap + NR_SWAP);
  mem.fill(0, L.swapCache, L.swapCache + NR_SWAP);
  Atomics.store(mem, L.cfg + CFG_FILE_PAGES, mem[L.program + IMG_FILE_PAGES] as number);
  machine_reset(cpu);
}

/**
 * Zero mem[from, to). A typed array's fill() is a call into the runtime that costs as much as
 * some thirty plain stores, so the short regions of the per-trial reset are cleared in a loop.
 */
function clear(mem: Int32Array, from: number, to: number): void {
  if (to - from > 32) mem.fill(0, from, to);
  else for (let i = from; i < to; i++) mem[i] = 0;
}

/** The per-trial reset: only what a trial of this scenario can have touched. */
export function machine_reset(cpu: Cpu): void {
  const mem = cpu.mem;
  const L = cpu.L;
  const filePages = mem[L.cfg + CFG_FILE_PAGES] as number;
  mem[L.iSize] = filePages;
  clear(mem, L.pmd, L.pmd + NR_PMDS); // PTE tables are cleared when populated again
  for (let p = 0; p < NR_PMDS; p++) mem[L.pgtableOf + p] = p; // each slot owns its own table
  clear(mem, L.vmas, L.vmas + MAX_VMAS * VMA_WORDS);
  mem[L.iMmap] = 0;
  mem[L.anonVma] = 0;
  clear(mem, L.anonVmaRwsem, L.anonVmaRwsem + RWSEM_WORDS);
  clear(mem, L.swapLock, L.swapLock + SPINLOCK_WORDS);
  const swapUsed = mem[L.swapHighWater] as number;
  clear(mem, L.swapMap, L.swapMap + swapUsed);
  clear(mem, L.swapCache, L.swapCache + swapUsed);
  mem[L.swapHighWater] = 0;
  clear(mem, L.pageCache, L.pageCache + filePages);
  clear(mem, L.backing, L.backing + filePages * FRAME_WORDS); // the file holds zeros
  const highWater = mem[L.highWater] as number;
  clear(mem, L.page(ZERO_PFN + 1), L.page(highWater));
  mem[L.freeTop] = 0;
  mem[L.highWater] = ZERO_PFN + 1;
  // The zero page: pinned, never freed, all zeros.
  mem[L.page(ZERO_PFN) + PAGE_REFCOUNT] = 1;
  clear(mem, L.frame(ZERO_PFN), L.frame(ZERO_PFN) + FRAME_WORDS);
  clear(mem, L.mmapSem, L.mmapSem + RWSEM_WORDS);
  clear(mem, L.iMmapRwsem, L.iMmapRwsem + RWSEM_WORDS);
  clear(mem, L.treeLock, L.treeLock + SPINLOCK_WORDS);
  clear(mem, L.pageTableLock, L.pageTableLock + SPINLOCK_WORDS);
  clear(mem, L.zoneLock, L.zoneLock + SPINLOCK_WORDS);
  // The split PTLs and the signal flags sit one per cache line: only their own words are ever
  // written, so only those are cleared (the padding stays zero).
  for (let p = 0; p < NR_PMDS; p++) clear(mem, L.ptlOf(p), L.ptlOf(p) + SPINLOCK_WORDS);
  for (let n = 0; n < NR_SIGNALS; n++) mem[L.signal(n)] = 0;
  const nprog = mem[L.program + IMG_NCPUS] as number;
  // switch_mm(): every CPU that runs a thread of the process is in mm_cpumask.
  Atomics.store(mem, L.mmCpumask, nprog >= 32 ? -1 : (1 << nprog) - 1);
  mem[L.tlbFlushBatched] = 0;
  for (let c = 0; c < L.nrCpus; c++) {
    const regs = L.cpu(c) + CPU_REGS;
    for (let r = regs; r < regs + NR_REGS; r++) mem[r] = REG_UNSET;
    mem[L.cpu(c) + CPU_UAF] = 0;
  }
}
