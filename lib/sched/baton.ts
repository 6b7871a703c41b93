/**
 * The CPU side of the explorer's controlled scheduling. A controlled CPU stops before each step
 * (STEP_START, OP, POINT, LOCK, UNLOCK, WAIT), publishes what it is about to do, hands the baton
 * to the scheduler and waits until the scheduler hands it back. One CPU runs at a time, in the
 * order the scheduler picks. IPIs are answered only while the CPU holds the baton: when handed
 * the baton with IPIs pending, the CPU takes the interrupt as a step of its own and stops again
 * at the same place. Every change to shared state is then made by a step the scheduler chose,
 * so a schedule (the list of chosen CPUs) replays exactly. On explorer machines with footprints
 * each step's footprint (lib/sched/footprint.ts) is published before the baton goes back.
 */
import type { Cpu } from "../machine/cpu.js";
import {
  CPU_IPI_PENDING,
  CPU_SCHED_A,
  CPU_SCHED_B,
  CPU_SCHED_KIND,
  CPU_SCHED_STATE,
  CTRL_BATON,
} from "../machine/layout.js";
import { SCHED_RELEASE, SCHED_TO_SCHEDULER } from "../machine/steps.js";

/** Park until the baton is ours (or released); a wait times out only to re-check. */
function wait_for_baton(cpu: Cpu): boolean {
  const mem = cpu.mem;
  const baton = cpu.L.ctrl + CTRL_BATON;
  for (;;) {
    const b = Atomics.load(mem, baton);
    if (b === cpu.id) return true;
    if (b === SCHED_RELEASE) return false;
    Atomics.wait(mem, baton, b, 50);
  }
}

/**
 * Stop before a step: state is SCHED_READY, SCHED_WAITING or SCHED_IDLE. Returns when this CPU
 * may take the step (false: the scheduler released every CPU, the trial is over).
 */
export function sched_yield(cpu: Cpu, state: number, kind: number, a: number, b: number): boolean {
  const mem = cpu.mem;
  const baton = cpu.L.ctrl + CTRL_BATON;
  const fp = cpu.footprint;
  for (;;) {
    if (fp !== null) fp.publish(); // the step that ends here
    mem[cpu.self + CPU_SCHED_KIND] = kind;
    mem[cpu.self + CPU_SCHED_A] = a;
    mem[cpu.self + CPU_SCHED_B] = b;
    // The baton first, the state last: the scheduler takes "baton back and no CPU running" as
    // the end of a step, and may hand the baton out again at once. Stored the other way round,
    // at the start of the body (when every CPU runs until its first stop) one CPU's late "baton
    // back" could overwrite the baton the scheduler had just handed it: it then waited for a
    // baton it already had, and the schedule stalled (seen in about one dpor run in six).
    Atomics.store(mem, baton, SCHED_TO_SCHEDULER);
    Atomics.store(mem, cpu.self + CPU_SCHED_STATE, state);
    Atomics.notify(mem, baton);
    Atomics.notify(mem, cpu.self + CPU_SCHED_STATE); // a scheduler waiting for this CPU to stop
    if (!wait_for_baton(cpu)) {
      if (fp !== null) fp.stop();
      return false;
    }
    if (fp !== null) fp.begin();
    Atomics.store(mem, cpu.self + CPU_SCHED_STATE, 0); // SCHED_RUNNING
    if (Atomics.load(mem, cpu.self + CPU_IPI_PENDING) === 0) return true;
    cpu.serviceIpis(); // the interrupt is a step of its own; then stop at the same place again
  }
}
