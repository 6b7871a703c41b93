/**
 * Worker entry for `tlbrace bench mremap`: CPU 0 mremaps a populated anonymous region back and
 * forth between X and Y under each kernel variant; CPU 1, another thread of the mm, answers the
 * shootdown IPIs. Counts what each mremap costs: time, TLB flushes, IPIs.
 */
import { parentPort, workerData } from "node:worker_threads";
import { KERNELS, type Kernel } from "../../lib/kernels/index.js";
import { BENCH_KERNELS } from "./kernels.js";
import { Cpu } from "../../lib/machine/cpu.js";
import { CPU_IPI_PENDING, Layout, PAGE_SHIFT } from "../../lib/machine/layout.js";
import { machine_reset_full } from "../../lib/machine/reset.js";
import { user_load, user_store } from "../../lib/mmu/access.js";
import { sys_mmap_anon } from "../../lib/mm/mmap.js";
import { sys_mremap } from "../../lib/mm/mremap.js";
import { regionsFor } from "../../lib/scenarios/compile.js";
import { IMG_FILE_PAGES, IMG_NCPUS } from "../../lib/scenarios/image.js";
import { barrier_wait } from "../../lib/sync/barrier.js";
import { decideNextCell, nextCellRuns, type BenchMessage, type BenchWords } from "./control.js";

export interface MremapConfig {
  kernel: string;
  pages: number;
  dirty: boolean;
}

export interface MremapRow extends MremapConfig {
  ops: number;
  seconds: number;
  opsPerSecond: number;
  pagesPerSecond: number;
  /** Every flush_tlb_mm_range() of the mremap() call, per call. */
  flushesPerOp: number;
  /**
   * Those of move_page_tables(), the move itself; the rest are the old range's do_munmap()
   * (zap and page-table free). Absent in results written before it was counted.
   */
  moveFlushesPerOp?: number;
  ipisPerOp: number;
}

export interface MremapBenchJob {
  sab: SharedArrayBuffer;
  id: number;
  configs: MremapConfig[];
  msPerConfig: number;
  words: BenchWords;
}

const job = workerData as MremapBenchJob;
const mem = new Int32Array(job.sab);
const L = new Layout(2);
const cpu = new Cpu(mem, L, job.id, KERNELS);
const B = L.trialBarrier;
const DONE = L.program + 64; // scratch beyond the image header this bench writes

function measure(c: MremapConfig): MremapRow {
  const kernel = BENCH_KERNELS.find((k) => k.name === c.kernel);
  if (kernel === undefined) throw new Error(`unknown kernel ${c.kernel}`);
  // The same variant, its move_page_tables() counting its own flushes.
  let moveFlushes = 0;
  cpu.kernel = {
    ...kernel,
    move_page_tables(...args: Parameters<Kernel["move_page_tables"]>): number {
      const before = cpu.flushes;
      const moved = kernel.move_page_tables(...args);
      moveFlushes += cpu.flushes - before;
      return moved;
    },
  };
  mem[L.program + IMG_FILE_PAGES] = 1;
  mem[L.program + IMG_NCPUS] = 2; // both CPUs run threads of the mm: mm_cpumask = {0, 1}
  machine_reset_full(cpu);
  const { X, Y } = regionsFor(c.pages);
  const len = c.pages << PAGE_SHIFT;
  sys_mmap_anon(cpu, X, len);
  // Populate: a write maps a private page writable and dirty; a read maps the zero page clean.
  for (let p = 0; p < c.pages; p++) {
    if (c.dirty) user_store(cpu, X + (p << PAGE_SHIFT), p);
    else user_load(cpu, X + (p << PAGE_SHIFT));
  }
  cpu.flushes = 0;
  cpu.ipisSent = 0;
  moveFlushes = 0;
  let ops = 0;
  let at = X;
  const t0 = performance.now();
  const until = t0 + job.msPerConfig;
  let now = t0;
  do {
    const to = at === X ? Y : X;
    sys_mremap(cpu, at, len, to);
    at = to;
    ops++;
    if ((ops & 7) === 0) now = performance.now();
  } while (now < until || ops < 8);
  const seconds = (performance.now() - t0) / 1000;
  return {
    ...c,
    ops,
    seconds,
    opsPerSecond: Math.round(ops / seconds),
    pagesPerSecond: Math.round((ops * c.pages) / seconds),
    flushesPerOp: cpu.flushes / ops,
    moveFlushesPerOp: moveFlushes / ops,
    ipisPerOp: cpu.ipisSent / ops,
  };
}

for (const c of job.configs) {
  decideNextCell(mem, job.words, job.id);
  if (job.id === 0) Atomics.store(mem, DONE, 0);
  barrier_wait(cpu, B);
  if (!nextCellRuns(mem, job.words)) break;
  if (job.id === 0) {
    const row = measure(c);
    Atomics.store(mem, DONE, 1);
    parentPort?.postMessage({ row } satisfies BenchMessage<MremapRow>);
  } else {
    const pending = cpu.self + CPU_IPI_PENDING;
    while (Atomics.load(mem, DONE) === 0) if (Atomics.load(mem, pending) !== 0) cpu.serviceIpis();
  }
  barrier_wait(cpu, B);
}
