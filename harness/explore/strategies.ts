/**
 * Search strategies over controlled schedules.
 *
 * dfs: iterative preemption bounding (CHESS, loom): every schedule with at most P preemptions,
 *   for P = 0, 1, ..., bound, each explored depth-first by replaying a prefix of choices and
 *   then running each CPU until it stops being able to (the non-preemptive default). A switch
 *   away from a CPU that could go on is a preemption; a switch away from one that waits or is
 *   done is free. Schedules with fewer preemptions are re-run at higher bounds.
 * pct: probabilistic concurrency testing (Burckhardt et al., ASPLOS 2010): random distinct
 *   priorities, d-1 priority change points drawn from the first k steps; the highest-priority
 *   enabled CPU runs. A bug of depth d shows with probability >= 1/(n k^(d-1)) per schedule.
 * When no CPU can go on, the waiters re-check in the scheduler's order (longest idle first) under
 * every strategy but random: dfs does not branch there. Which waiter re-checks first then never
 * varies, a reduction that can miss orders of waiters on the same sleeping lock.
 * random: a uniform choice among the enabled CPUs at every step.
 */
import type { Chooser, Decision } from "./controlled.js";

/** A small seeded PRNG (mulberry32): explorations repeat for a seed. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * The non-preemptive default: keep running the previous CPU while it can go on, else the lowest
 * that can go on (enabled lists those first: two waiters re-checking in turn would otherwise
 * starve the CPU they wait for).
 */
const keepGoing = (enabled: number[], prev: number, prevReady: boolean): number =>
  prevReady && enabled.includes(prev) ? prev : (enabled[0] as number);

/** Follow `prefix`, then the non-preemptive default. */
export function prefixChooser(prefix: readonly number[]): Chooser {
  return (i, enabled, prev, prevReady) =>
    i < prefix.length ? (prefix[i] as number) : keepGoing(enabled, prev, prevReady);
}

/**
 * The next prefix of a preemption-bounded depth-first search after an execution with these
 * decisions, or null when the bound's tree is done. `tried[i]` is the set of CPUs already run
 * at decision i under the current prefix (kept by the caller across executions).
 */
export function nextPrefix(
  decisions: Decision[],
  tried: Set<number>[],
  bound: number,
): number[] | null {
  // Preemptions before each decision.
  const before: number[] = [];
  let p = 0;
  for (const d of decisions) {
    before.push(p);
    if (d.prevReady && d.chosen !== d.prev) p++;
  }
  for (let i = decisions.length - 1; i >= 0; i--) {
    const d = decisions[i] as Decision;
    // When no CPU can go on, the waiters re-check in the scheduler's order: not a branch point.
    if (d.nReady === 0) continue;
    const done = tried[i] ?? new Set<number>([d.chosen]);
    done.add(d.chosen);
    tried[i] = done;
    for (const c of d.enabled) {
      if (done.has(c)) continue;
      const cost = d.prevReady && c !== d.prev ? 1 : 0;
      if ((before[i] as number) + cost > bound) continue;
      done.add(c);
      tried.length = i + 1;
      return [...decisions.slice(0, i).map((x) => x.chosen), c];
    }
  }
  return null;
}

/** PCT for n CPUs, about k steps, depth d. */
export function pctChooser(n: number, k: number, d: number, random: () => number): Chooser {
  // Priorities d .. d+n-1, shuffled; change point j lowers the running CPU to priority d-1-j.
  const prio = Array.from({ length: n }, (_, i) => d + i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [prio[i], prio[j]] = [prio[j] as number, prio[i] as number];
  }
  const change = new Map<number, number>();
  for (let j = 0; j < d - 1; j++) change.set(1 + Math.floor(random() * Math.max(1, k)), d - 1 - j);
  // The highest-priority enabled CPU (a waiter whose wait may be over counts); when only
  // waiters are left they re-check in the scheduler's order.
  const highest = (enabled: number[], nReady: number): number => {
    if (nReady === 0) return enabled[0] as number;
    let best = enabled[0] as number;
    for (const c of enabled) if ((prio[c] as number) > (prio[best] as number)) best = c;
    return best;
  };
  return (i, enabled, _prev, _prevReady, nReady) => {
    const best = highest(enabled, nReady);
    const lower = change.get(i);
    if (lower === undefined) return best;
    prio[best] = lower;
    return highest(enabled, nReady);
  };
}

export function randomChooser(random: () => number): Chooser {
  return (_i, enabled) => enabled[Math.floor(random() * enabled.length)] as number;
}
