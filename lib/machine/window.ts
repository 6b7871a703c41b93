/**
 * Window coverage. A scenario names its race window: the named point where it opens and the
 * one where it closes, on the CPU that runs the kernel path (for the seed: move_ptes() has
 * dropped the PTLs ... move_page_tables() is about to flush the old range), and the racing
 * step of another CPU (the write through the stale TLB entry). Every trial notes, with one
 * shared word, whether the racing step began while the window was open: a fixed kernel's zero
 * then says how many trials really put the racing step inside the window.
 *
 * The window opens at the first pass of its open point in a trial and closes at the first
 * pass of its close point after that, or when its CPU's body ends. The state word
 * (CTRL_WINDOW) is written only by the window's CPU and reset by CPU 0 before the start
 * barrier; the racing CPU only reads it.
 *
 * With window timing on (the harness learning where the window lies), each CPU also notes
 * when, in ns after it left the start barrier, it reached the open and close points and the
 * racing step.
 */
import type { Cpu } from "./cpu.js";
import {
  CPU_WIN_SEEN,
  CPU_WIN_T_CLOSE,
  CPU_WIN_T_OPEN,
  CPU_WIN_T_RACE,
  CTRL_WINDOW,
} from "./layout.js";
import {
  IMG_CPU_TABLE,
  IMG_CPU_WORDS,
  IMG_WIN_CPU,
  IMG_WIN_POINTS,
  IMG_WIN_RACE,
  INSN_WORDS,
} from "../scenarios/image.js";

/** CTRL_WINDOW states, also what CPU_WIN_SEEN holds once the racing step is reached. */
export const WIN_NOT_OPEN = 0;
export const WIN_OPEN = 1;
export const WIN_CLOSED = 2;
/** CPU_WIN_SEEN before the racing step is reached. */
export const WIN_NOT_REACHED = -1;

/** The window as the program image holds it; cpu is -1 when the scenario names none. */
export interface WindowImage {
  cpu: number;
  open: number;
  close: number;
  raceCpu: number;
  raceStep: number;
  aimCpu: number;
}

export function window_of(mem: Int32Array, program: number): WindowImage {
  const cpu = (mem[program + IMG_WIN_CPU] as number) - 1;
  const points = mem[program + IMG_WIN_POINTS] as number;
  const race = mem[program + IMG_WIN_RACE] as number;
  return {
    cpu,
    open: cpu < 0 ? -1 : points & 0xff,
    close: cpu < 0 ? -1 : (points >>> 8) & 0xff,
    raceCpu: cpu < 0 ? -1 : race & 0xff,
    raceStep: (race >>> 8) & 0xfff,
    aimCpu: cpu < 0 ? -1 : (race >>> 20) & 0xff,
  };
}

/** Set this CPU's part of the window for a batch: its points, or the pc of its racing step. */
export function window_setup(cpu: Cpu, timing: boolean): void {
  const w = window_of(cpu.mem, cpu.L.program);
  cpu.winOpen = cpu.id === w.cpu ? w.open : -1;
  cpu.winClose = cpu.id === w.cpu ? w.close : -1;
  const body = cpu.L.program + IMG_CPU_TABLE + w.raceCpu * IMG_CPU_WORDS + 2;
  cpu.racePc =
    w.cpu >= 0 && cpu.id === w.raceCpu ? (cpu.mem[body] as number) + w.raceStep * INSN_WORDS : -1;
  cpu.winTiming = timing && w.cpu >= 0;
}

/** At the start of a trial's body (after the start offset): forget the last trial's notes. */
export function window_begin(cpu: Cpu): void {
  const mem = cpu.mem;
  mem[cpu.self + CPU_WIN_SEEN] = WIN_NOT_REACHED;
  if (cpu.winTiming) {
    mem[cpu.self + CPU_WIN_T_OPEN] = -1;
    mem[cpu.self + CPU_WIN_T_CLOSE] = -1;
    mem[cpu.self + CPU_WIN_T_RACE] = -1;
  }
}

function since_start_ns(cpu: Cpu): number {
  return Math.round((performance.now() - cpu.winT0) * 1e6);
}

/** The window's CPU passes its open point. */
export function window_open(cpu: Cpu): void {
  const state = cpu.L.ctrl + CTRL_WINDOW;
  if (Atomics.load(cpu.mem, state) !== WIN_NOT_OPEN) return;
  Atomics.store(cpu.mem, state, WIN_OPEN);
  if (cpu.winTiming) cpu.mem[cpu.self + CPU_WIN_T_OPEN] = since_start_ns(cpu);
}

/** The window's CPU passes its close point, or ends its body. */
export function window_close(cpu: Cpu): void {
  const state = cpu.L.ctrl + CTRL_WINDOW;
  if (Atomics.load(cpu.mem, state) !== WIN_OPEN) return;
  Atomics.store(cpu.mem, state, WIN_CLOSED);
  if (cpu.winTiming) cpu.mem[cpu.self + CPU_WIN_T_CLOSE] = since_start_ns(cpu);
}

/** The racing CPU is about to take its racing step: note where the window stands. */
export function window_race(cpu: Cpu): void {
  const mem = cpu.mem;
  if (mem[cpu.self + CPU_WIN_SEEN] !== WIN_NOT_REACHED) return; // a loop passes it again
  mem[cpu.self + CPU_WIN_SEEN] = Atomics.load(mem, cpu.L.ctrl + CTRL_WINDOW);
  if (cpu.winTiming) mem[cpu.self + CPU_WIN_T_RACE] = since_start_ns(cpu);
}
