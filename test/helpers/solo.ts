/**
 * One modelled CPU in the test's own thread, on a fresh machine buffer: for unit tests of the
 * MMU and the kernel paths where no second CPU is needed (mm_cpumask holds only CPU 0, so a
 * shootdown sends no IPI).
 */
import { Cpu } from "../../lib/machine/cpu.js";
import { FRAME_WORDS, Layout } from "../../lib/machine/layout.js";
import { machine_reset_full } from "../../lib/machine/reset.js";
import { pte_offset_walk } from "../../lib/mmu/pgtable.js";
import { regionsFor } from "../../lib/scenarios/compile.js";
import { IMG_FILE_PAGES, IMG_NCPUS } from "../../lib/scenarios/image.js";
import { KERNELS } from "../../lib/kernels/index.js";

export interface Solo {
  cpu: Cpu;
  mem: Int32Array;
  L: Layout;
  X: number;
  Y: number;
  pte(addr: number): number;
  frameValue(pfn: number): number;
  backing(index: number): number;
  cached(index: number): number;
}

export function solo(pages = 4): Solo {
  const L = new Layout(1);
  const mem = new Int32Array(new SharedArrayBuffer(L.bytes));
  mem[L.program + IMG_FILE_PAGES] = pages;
  mem[L.program + IMG_NCPUS] = 1;
  const cpu = new Cpu(mem, L, 0, KERNELS);
  machine_reset_full(cpu);
  const { X, Y } = regionsFor(pages);
  return {
    cpu,
    mem,
    L,
    X,
    Y,
    pte: (addr) => Atomics.load(mem, pte_offset_walk(mem, L, addr)),
    frameValue: (pfn) => Atomics.load(mem, L.frame(pfn)),
    backing: (index) => Atomics.load(mem, L.backing + index * FRAME_WORDS),
    cached: (index) => Atomics.load(mem, L.pageCache + index),
  };
}
