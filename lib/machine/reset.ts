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

/** The per-trial reset: only what a trial of this scenario can have touched. */
export function machine_reset(cpu: Cpu): void {
  const mem = cpu.mem;
  const L = cpu.L;
  const filePages = mem[L.cfg + CFG_FILE_PAGES] as number;
  mem[L.iSize] = filePages;
  mem.fill(0, L.pmd, L.pmd + NR_PMDS); // PTE tables are cleared when populated again
  mem.fill(0, L.vmas, L.vmas + MAX_VMAS * VMA_WORDS);
  mem[L.iMmap] = 0;
  mem[L.anonVma] = 0;
  mem.fill(0, L.anonVmaRwsem, L.anonVmaRwsem + RWSEM_WORDS);
  mem.fill(0, L.swapLock, L.swapLock + SPINLOCK_WORDS);
  const swapUsed = mem[L.swapHighWater] as number;
  mem.fill(0, L.swapMap, L.swapMap + swapUsed);
  mem.fill(0, L.swapCache, L.swapCache + swapUsed);
  mem[L.swapHighWater] = 0;
  mem.fill(0, L.pageCache, L.pageCache + filePages);
  mem.fill(0, L.backing, L.backing + filePages * FRAME_WORDS); // the file holds zeros
  const highWater = mem[L.highWater] as number;
  mem.fill(0, L.page(ZERO_PFN + 1), L.page(highWater));
  mem[L.freeTop] = 0;
  mem[L.highWater] = ZERO_PFN + 1;
  // The zero page: pinned, never freed, all zeros.
  mem[L.page(ZERO_PFN) + PAGE_REFCOUNT] = 1;
  mem.fill(0, L.frame(ZERO_PFN), L.frame(ZERO_PFN) + FRAME_WORDS);
  mem.fill(0, L.mmapSem, L.mmapSem + RWSEM_WORDS);
  mem.fill(0, L.iMmapRwsem, L.iMmapRwsem + RWSEM_WORDS);
  mem.fill(0, L.treeLock, L.treeLock + SPINLOCK_WORDS);
  mem.fill(0, L.pageTableLock, L.pageTableLock + SPINLOCK_WORDS);
  mem.fill(0, L.zoneLock, L.zoneLock + SPINLOCK_WORDS);
  mem.fill(0, L.ptl, L.ptlOf(NR_PMDS));
  mem.fill(0, L.signals, L.signal(NR_SIGNALS));
  const nprog = mem[L.program + IMG_NCPUS] as number;
  // switch_mm(): every CPU that runs a thread of the process is in mm_cpumask.
  Atomics.store(mem, L.mmCpumask, nprog >= 32 ? -1 : (1 << nprog) - 1);
  for (let c = 0; c < L.nrCpus; c++) {
    mem.fill(REG_UNSET, L.cpu(c) + CPU_REGS, L.cpu(c) + CPU_REGS + NR_REGS);
    mem[L.cpu(c) + CPU_UAF] = 0;
  }
}
