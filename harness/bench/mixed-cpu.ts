/**
 * Worker entry for `tlbrace bench mixed`: one CPU of a machine running a kernel-build-like mix.
 * Every CPU runs "compile jobs" in a loop, as threads of the one modelled mm:
 *   1. mmap an anonymous heap and write every page of it (anonymous write faults, stores);
 *   2. read sources from the shared file mapping (file read faults, page cache hits);
 *   3. write an object file: a store to a file page (write-notify faults after writeback);
 *   4. free the heap: munmap, or every MREMAP_EVERY-th job first mremap it (realloc of a big
 *      buffer) and munmap it at its new place.
 * CPU 0 is also the flusher: every WRITEBACK_EVERY-th job it writes the file back
 * (write_cache_pages -> clear_page_dirty_for_io -> page_mkclean: shootdowns).
 * A cell is one timed run under one kernel variant; CPU 0 times it and ends it.
 */
import { parentPort, workerData } from "node:worker_threads";
import { Cpu } from "../../lib/machine/cpu.js";
import { KERNELS } from "../../lib/kernels/index.js";
import { CPU_UAF, Layout, PAGE_SHIFT, PMD_SIZE } from "../../lib/machine/layout.js";
import { machine_reset_full } from "../../lib/machine/reset.js";
import { local_flush_tlb } from "../../lib/mmu/tlb.js";
import { user_load, user_store } from "../../lib/mmu/access.js";
import { sys_mmap, sys_mmap_anon, sys_munmap } from "../../lib/mm/mmap.js";
import { sys_mremap } from "../../lib/mm/mremap.js";
import { write_cache_pages } from "../../lib/mm/page-writeback.js";
import { IMG_FILE_PAGES, IMG_NCPUS } from "../../lib/scenarios/image.js";
import { barrier_wait } from "../../lib/sync/barrier.js";
import { decideNextCell, nextCellRuns, type BenchMessage } from "./control.js";
import { BENCH_KERNELS } from "./kernels.js";
import {
  FILE_PAGES,
  HEAP_PAGES,
  MREMAP_EVERY,
  SOURCES_PER_JOB,
  WRITEBACK_EVERY,
  type MixedBenchJob,
  type MixedCell,
  type MixedRow,
} from "./mixed-workload.js";

const job = workerData as MixedBenchJob;
const mem = new Int32Array(job.sab);
const L = new Layout(job.nrCpus);
const cpu = new Cpu(mem, L, job.id, KERNELS);
const B = L.trialBarrier;
// Scratch words past the image header (this bench runs no user program).
const END = L.program + 200;
const COUNTS = L.program + 256; // per CPU: jobs, flushes, ipis
const FILE = PMD_SIZE;
const HEAP = (2 + 4 * job.id) * PMD_SIZE;
const MOVED = HEAP + 2 * PMD_SIZE;
const HEAP_LEN = HEAP_PAGES << PAGE_SHIFT;

/** One compile job. */
function compile_job(j: number): void {
  sys_mmap_anon(cpu, HEAP, HEAP_LEN);
  for (let p = 0; p < HEAP_PAGES; p++) user_store(cpu, HEAP + (p << PAGE_SHIFT), j);
  for (let k = 0; k < SOURCES_PER_JOB; k++)
    user_load(cpu, FILE + (((j * SOURCES_PER_JOB + k + 17 * job.id) % FILE_PAGES) << PAGE_SHIFT));
  user_store(cpu, FILE + (((j + 31 * job.id) % FILE_PAGES) << PAGE_SHIFT), j);
  if (j % MREMAP_EVERY === MREMAP_EVERY - 1) {
    sys_mremap(cpu, HEAP, HEAP_LEN, MOVED);
    sys_munmap(cpu, MOVED, HEAP_LEN);
  } else sys_munmap(cpu, HEAP, HEAP_LEN);
  if (job.id === 0 && j % WRITEBACK_EVERY === 0) write_cache_pages(cpu, 0, FILE_PAGES - 1);
}

function run(c: MixedCell): void {
  let jobs = 0;
  if (job.id === 0) {
    const t0 = performance.now();
    const until = t0 + c.ms;
    do compile_job(jobs++);
    while (performance.now() < until);
    Atomics.store(mem, END, 1);
  } else {
    while (Atomics.load(mem, END) === 0) compile_job(jobs++);
  }
  const base = COUNTS + 4 * job.id;
  Atomics.store(mem, base, jobs);
  Atomics.store(mem, base + 1, cpu.flushes);
  Atomics.store(mem, base + 2, cpu.ipisSent);
}

for (const c of job.cells) {
  decideNextCell(mem, job.words, job.id);
  if (job.id === 0) {
    mem[L.program + IMG_FILE_PAGES] = FILE_PAGES;
    mem[L.program + IMG_NCPUS] = job.nrCpus; // every CPU runs a thread of the mm
    machine_reset_full(cpu);
    Atomics.store(mem, END, 0);
    sys_mmap(cpu, FILE, FILE_PAGES << PAGE_SHIFT, 0); // the shared file: MAP_SHARED, pgoff 0
  }
  barrier_wait(cpu, B);
  if (!nextCellRuns(mem, job.words)) break;
  const kernel = BENCH_KERNELS.find((k) => k.name === c.kernel);
  if (kernel === undefined) throw new Error(`unknown kernel ${c.kernel}`);
  cpu.kernel = kernel;
  local_flush_tlb(cpu); // the reset rebuilt the page tables
  cpu.flushes = 0;
  cpu.ipisSent = 0;
  barrier_wait(cpu, B);
  const t0 = performance.now();
  run(c);
  const seconds = (performance.now() - t0) / 1000;
  // Answer shootdowns until every CPU is done: a CPU in the barrier takes IPIs too.
  barrier_wait(cpu, B);
  if (job.id === 0) {
    let jobs = 0;
    let flushes = 0;
    let ipis = 0;
    let uaf = 0;
    for (let i = 0; i < job.nrCpus; i++) {
      jobs += mem[COUNTS + 4 * i] as number;
      flushes += mem[COUNTS + 4 * i + 1] as number;
      ipis += mem[COUNTS + 4 * i + 2] as number;
      uaf += mem[L.cpu(i) + CPU_UAF] as number;
    }
    const row: MixedRow = {
      ...c,
      jobs,
      seconds,
      jobsPerSecond: Math.round(jobs / seconds),
      flushes,
      ipis,
      uaf,
    };
    parentPort?.postMessage({ row } satisfies BenchMessage<MixedRow>);
  }
}
