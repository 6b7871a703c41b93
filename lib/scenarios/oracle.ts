/**
 * The oracles, run by CPU 0 after every trial. They read only the user programs' registers
 * (what each store returned, what was read back), never the model's own bookkeeping such as
 * page flags, so a bug in the model cannot hide a lost write.
 */
import { CPU_REGS, CPU_UAF, type Layout } from "../machine/layout.js";
import { SIGSEGV } from "../mm/fault.js";
import {
  FIELD_RESULT,
  IMG_CHECK_WORDS,
  IMG_CHECKS,
  IMG_FIELD_WORDS,
  IMG_FIELDS,
  IMG_NCHECKS,
  IMG_NFIELDS,
  REG_UNSET,
} from "./image.js";

/** The outcome index of the trial just run (see compile.ts for the encoding). */
export function outcome_index(mem: Int32Array, L: Layout): number {
  const img = L.program;
  const n = mem[img + IMG_NFIELDS] as number;
  let idx = 0;
  for (let i = 0; i < n; i++) {
    const f = img + IMG_FIELDS + i * IMG_FIELD_WORDS;
    const v = mem[L.cpu(mem[f] as number) + CPU_REGS + (mem[f + 1] as number)] as number;
    let k: number;
    if (mem[f + 2] === FIELD_RESULT) {
      k = v === 0 ? 0 : v === SIGSEGV ? 1 : 2;
    } else {
      const nv = mem[f + 4] as number;
      k = nv;
      for (let j = 0; j < nv; j++) {
        if (mem[f + 5 + j] === v) {
          k = j;
          break;
        }
      }
    }
    idx += k * (mem[f + 3] as number);
  }
  return idx;
}

/** Number of file locations whose last successful store is absent from the read-back. */
export function lost_writes(mem: Int32Array, L: Layout): number {
  const img = L.program;
  const n = mem[img + IMG_NCHECKS] as number;
  let lost = 0;
  for (let i = 0; i < n; i++) {
    const c = img + IMG_CHECKS + i * IMG_CHECK_WORDS;
    const regs = L.cpu(mem[c] as number) + CPU_REGS;
    const readback = mem[regs + (mem[c + 1] as number)];
    const nstores = mem[c + 2] as number;
    for (let j = nstores - 1; j >= 0; j--) {
      if (mem[regs + (mem[c + 3 + 2 * j] as number)] !== 0) continue; // faulted: nothing stored
      if (mem[c + 4 + 2 * j] !== readback) lost++;
      break;
    }
  }
  return lost;
}

/**
 * Whether an outcome register shows a signal: a store result other than ok, or a load that
 * faulted (the interpreter stores -signal). A fault is the closed window's answer, counted
 * apart from forbidden outcomes.
 */
export function outcome_faulted(mem: Int32Array, L: Layout): boolean {
  const img = L.program;
  const n = mem[img + IMG_NFIELDS] as number;
  for (let i = 0; i < n; i++) {
    const f = img + IMG_FIELDS + i * IMG_FIELD_WORDS;
    const v = mem[L.cpu(mem[f] as number) + CPU_REGS + (mem[f + 1] as number)] as number;
    if (v === REG_UNSET) continue;
    if (mem[f + 2] === FIELD_RESULT ? v !== 0 : v < 0) return true;
  }
  return false;
}

/** Use-after-free accesses in the trial just run, summed over the CPUs (see mmu/frame_gen.ts). */
export function uaf_accesses(mem: Int32Array, L: Layout): number {
  let n = 0;
  for (let c = 0; c < L.nrCpus; c++) n += mem[L.cpu(c) + CPU_UAF] as number;
  return n;
}
