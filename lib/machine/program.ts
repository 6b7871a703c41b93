/**
 * The user side of a CPU: runs the scenario's instructions for this CPU from the program image.
 * Each instruction is a system call or a user load/store; results land in the CPU's registers.
 */
import type { Cpu } from "./cpu.js";
import { CPU_REGS, CPU_STEP, FRAME_WORDS } from "./layout.js";
import { alloc_page } from "../mm/page_alloc.js";
import { sys_ftruncate } from "../mm/truncate.js";
import { user_load, user_store, user_touch } from "../mmu/access.js";
import { fadvise_dontneed } from "../mm/fadvise.js";
import { do_generic_file_read } from "../mm/filemap.js";
import { sys_mmap, sys_mmap_anon, sys_munmap } from "../mm/mmap.js";
import { madvise_free } from "../mm/madvise.js";
import { shrink_page_list } from "../mm/vmscan.js";
import { migrate_pages } from "../mm/migrate.js";
import { sys_mremap } from "../mm/mremap.js";
import {
  INSN_WORDS,
  OP_FADVISE_DONTNEED,
  OP_LOAD,
  OP_MMAP,
  OP_MREMAP,
  OP_MUNMAP,
  OP_PREAD,
  OP_SIGNAL,
  OP_STORE,
  OP_WAIT,
  OP_FTRUNCATE,
  OP_ALLOC,
  OP_MMAP_ANON,
  OP_MADV_FREE,
  OP_RECLAIM,
  OP_MMAP_THP,
  OP_RECLAIM_CLUSTER,
  OP_TOUCH,
  OP_MIGRATE,
} from "../scenarios/image.js";
import { WAIT_SIGNAL } from "../sync/waiter.js";
import { STEP_OP, STEP_RESULT } from "./steps.js";
import { window_race } from "./window.js";

export function run_program(cpu: Cpu, from: number, to: number): void {
  const mem = cpu.mem;
  const L = cpu.L;
  const code = L.program;
  const regs = cpu.self + CPU_REGS;
  const racePc = cpu.racePc;
  for (let pc = from; pc < to; pc += INSN_WORDS) {
    mem[cpu.self + CPU_STEP] = pc;
    if (pc === racePc) window_race(cpu);
    const at = code + pc;
    const a = mem[at + 1] as number;
    const b = mem[at + 2] as number;
    const c = mem[at + 3] as number;
    const op = mem[at] as number;
    if (cpu.hooks !== 0) cpu.hook(STEP_OP, op, pc);
    switch (op) {
      case OP_MMAP:
        sys_mmap(cpu, a, b, c, mem[at + 4] !== 0);
        break;
      case OP_MMAP_ANON:
        sys_mmap_anon(cpu, a, b, false, mem[at + 4] !== 0);
        break;
      case OP_MMAP_THP:
        sys_mmap_anon(cpu, a, b, true);
        break;
      case OP_MADV_FREE:
        madvise_free(cpu, a, b);
        break;
      case OP_RECLAIM:
        shrink_page_list(cpu, 0, b === 0);
        break;
      case OP_MIGRATE:
        migrate_pages(cpu, a);
        break;
      case OP_RECLAIM_CLUSTER:
        shrink_page_list(cpu, a, b === 0);
        break;
      case OP_MUNMAP:
        sys_munmap(cpu, a, b);
        break;
      case OP_MREMAP:
        sys_mremap(cpu, a, b, c);
        break;
      case OP_STORE:
        mem[regs + c] = user_store(cpu, a, b);
        break;
      case OP_LOAD: {
        const v = user_load(cpu, a);
        mem[regs + c] = cpu.fault !== 0 ? -cpu.fault : v;
        break;
      }
      case OP_FADVISE_DONTNEED:
        fadvise_dontneed(cpu, a, b);
        break;
      case OP_TOUCH:
        // Stops at the first fault (the program would die there); no register records it.
        user_touch(cpu, a, b, c !== 0, mem[at + 4] as number);
        break;
      case OP_PREAD:
        mem[regs + c] = do_generic_file_read(cpu, a, b);
        break;
      case OP_FTRUNCATE:
        sys_ftruncate(cpu, a);
        break;
      case OP_ALLOC: {
        // Another owner takes a page from the allocator and fills it: the free list is LIFO,
        // so it gets the frame most recently freed.
        const frame = L.frame(alloc_page(cpu));
        for (let i = 0; i < FRAME_WORDS; i++) Atomics.store(mem, frame + i, a);
        break;
      }
      case OP_SIGNAL: {
        const flag = L.signal(a);
        Atomics.store(mem, flag, 1);
        cpu.ringWaiters(flag);
        break;
      }
      case OP_WAIT: {
        const flag = L.signal(a);
        if (Atomics.load(mem, flag) !== 0) break;
        cpu.waitBegin(WAIT_SIGNAL, flag);
        for (let s = 0; Atomics.load(mem, flag) === 0;) s = cpu.relax(s);
        cpu.waitEnd();
        break;
      }
      default:
        throw new Error(`bad instruction ${mem[at]} at ${pc}`);
    }
    if (cpu.hooks !== 0 && (op === OP_STORE || op === OP_LOAD || op === OP_PREAD))
      cpu.hook(STEP_RESULT, pc, mem[regs + c] as number);
  }
  mem[cpu.self + CPU_STEP] = -1;
}
