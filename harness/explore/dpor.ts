/**
 * The dpor strategy: dynamic partial-order reduction with sleep sets, over the explorer's
 * controlled schedules, with no preemption bound. The race rule is Source-DPOR's (Abdulla,
 * Aronis, Jonsson and Sagonas, POPL 2014); sleep sets are Godefroid's (1996).
 *
 * Two steps of different CPUs are dependent when one writes a shared word the other touches
 * (footprints, lib/sched/footprint.ts). Two schedules that differ only in the order of adjacent
 * independent steps reach the same state, so the search runs one schedule per class (Mazurkiewicz
 * trace) of equivalent schedules, plus a few that a sleep set cuts short:
 *
 * - As each step e of CPU p runs, every earlier step j of another CPU that e depends on, and that
 *   happens before e only through that direct dependence, is a race. At the decision before j,
 *   some CPU that can start the reversed order (an initial of the steps from there that do not
 *   happen after j, then e) must be tried; if none is in the backtrack set yet, one is added.
 *   When no CPU can start it by a choice (a forced IPI answer leads), every enabled CPU is added.
 *   (Flanagan and Godefroid's rule, "add p", misses states once sleep sets are on: the fuzz test
 *   in test/dpor.test.ts found one.)
 * - A CPU already explored at a decision sleeps in its later siblings until a step dependent with
 *   the one it would take runs: exploring it there would only repeat an explored class.
 *
 * Preemption bounding is not combined with this: pruning by a bound inside a partial-order
 * reduction is unsound (Coons, Musuvathi and McKinley, OOPSLA 2013). A dpor run that ends within
 * its budget has covered every interleaving of the scenario's steps.
 */
import {
  ScheduleError,
  dependent,
  type Chooser,
  type Footprint,
  type StepEvent,
} from "./controlled.js";

interface Node {
  enabled: number[];
  chosen: number;
  /** CPUs that must be tried at this decision. */
  backtrack: Set<number>;
  /** CPUs tried at this decision so far (the current one included). */
  done: Set<number>;
  /** CPUs asleep here, with the step each would take. */
  sleep: Map<number, Footprint>;
  /** The step each CPU took from here, in the executions so far. */
  taken: Map<number, Footprint>;
}

export class DporSearch {
  private readonly n: number;
  /** The current path: decisions 0 .. nodes.length-1 replay these choices. */
  private nodes: Node[] = [];
  // One execution's state.
  private sleep = new Map<number, Footprint>();
  /** The execution ran into a decision where every enabled CPU sleeps. */
  blocked = false;
  private evCpu: number[] = [];
  private evNode: number[] = [];
  private evForced: boolean[] = [];
  /** Per decision of this execution, the index of the step it chose. */
  private nodeFirst: number[] = [];
  private clocks: Int32Array[] = [];
  private cpuClock: Int32Array[] = [];
  private lastWrite = new Map<number, number>();
  private readsSince = new Map<number, number[]>();
  private allEvents: number[] = [];
  /** Executions that a sleep set cut short, and races found, over the whole search. */
  sleepBlocked = 0;
  races = 0;

  constructor(n: number) {
    this.n = n;
  }

  /** Reset the per-execution state; call before each execution. */
  begin(): void {
    this.sleep = new Map();
    this.blocked = false;
    this.evCpu = [];
    this.evNode = [];
    this.evForced = [];
    this.nodeFirst = [];
    this.clocks = [];
    this.cpuClock = Array.from({ length: this.n }, () => new Int32Array(this.n));
    this.lastWrite = new Map();
    this.readsSince = new Map();
    this.allEvents = [];
  }

  readonly chooser: Chooser = (i, enabled, prev, prevReady) => {
    if (this.blocked) return prevReady && enabled.includes(prev) ? prev : (enabled[0] as number);
    let node = this.nodes[i];
    if (node !== undefined) {
      if (!enabled.includes(node.chosen))
        throw new ScheduleError(
          `dpor: decision ${i} replays CPU ${node.chosen}, which cannot move (enabled ${enabled.join(",")}): the model is not deterministic under control`,
        );
      this.sleep = new Map(node.sleep);
    } else {
      const awake = enabled.filter((c) => !this.sleep.has(c));
      if (awake.length === 0) {
        // Every continuation from here repeats an explored class: finish the trial unrecorded.
        this.blocked = true;
        this.sleepBlocked++;
        return prevReady && enabled.includes(prev) ? prev : (enabled[0] as number);
      }
      const chosen = prevReady && awake.includes(prev) ? prev : (awake[0] as number);
      node = {
        enabled: [...enabled],
        chosen,
        backtrack: new Set([chosen]),
        done: new Set([chosen]),
        sleep: new Map(this.sleep),
        taken: new Map(),
      };
      this.nodes.push(node);
    }
    // Siblings explored before this choice sleep in its subtree (observe() wakes them).
    for (const q of node.done) {
      const fp = node.taken.get(q);
      if (q !== node.chosen && fp !== undefined) this.sleep.set(q, fp);
    }
    return node.chosen;
  };

  /**
   * A race between earlier step j and the step about to run as event k (CPU p, clock `clock`):
   * some CPU that can start the reversal must also be tried at the decision before j. Source-DPOR
   * (Abdulla, Aronis, Jonsson and Sagonas, POPL 2014): v is the steps from that decision on that
   * do not happen after j, then k; its initials are the CPUs whose first step in v has no
   * predecessor in v. If no initial is in the backtrack set yet, one is added.
   */
  private reverse(j: number, k: number, p: number, clock: Int32Array, forced: boolean): void {
    const at = this.evNode[j] as number;
    const node = this.nodes[at];
    if (node === undefined) return;
    this.races++;
    const q = this.evCpu[j] as number;
    const start = this.nodeFirst[at] as number;
    // v: indices of the steps from `start` to k-1 that do not happen after j (j excluded).
    const v: number[] = [];
    for (let i = start; i < k; i++)
      if (i !== j && ((this.clocks[i] as Int32Array)[q] as number) < j + 1) v.push(i);
    const initials = new Set<number>();
    const seen = new Set<number>();
    const hasPred = (c: Int32Array, upto: number): boolean => {
      for (let x = 0; x < upto; x++) {
        const i = v[x] as number;
        if ((c[this.evCpu[i] as number] as number) >= i + 1) return true;
      }
      return false;
    };
    for (let x = 0; x < v.length; x++) {
      const i = v[x] as number;
      const c = this.evCpu[i] as number;
      if (seen.has(c)) continue;
      seen.add(c);
      if (!(this.evForced[i] as boolean) && !hasPred(this.clocks[i] as Int32Array, x))
        initials.add(c);
    }
    if (!seen.has(p) && !forced && !hasPred(clock, v.length)) initials.add(p);
    const usable = node.enabled.filter((c) => initials.has(c));
    if (usable.length === 0) {
      // No CPU can start the reversal by a choice here (a forced IPI answer leads it): try all.
      for (const c of node.enabled) node.backtrack.add(c);
      return;
    }
    if (usable.some((c) => node.backtrack.has(c))) return;
    node.backtrack.add(usable.find((c) => !node.sleep.has(c)) ?? (usable[0] as number));
  }

  /**
   * The step about to run as the next event (CPU p, footprint fp): its races with the steps so
   * far, and its vector clock.
   */
  private analyse(p: number, fp: Footprint, forced: boolean): Int32Array {
    const k = this.evCpu.length;
    // Earlier steps this one depends on.
    const cand = new Set<number>(this.allEvents);
    if (fp.all) for (let j = 0; j < k; j++) cand.add(j);
    else
      for (let i = 0; i < fp.words.length; i++) {
        const w = fp.words[i] as number;
        const lw = this.lastWrite.get(w);
        if (lw !== undefined) cand.add(lw);
        if (fp.writes[i] === 1) for (const r of this.readsSince.get(w) ?? []) cand.add(r);
      }
    const mine = this.cpuClock[p] as Int32Array;
    const clock = Int32Array.from(mine);
    for (const j of cand) {
      if (this.evCpu[j] === p) continue;
      const cj = this.clocks[j] as Int32Array;
      for (let c = 0; c < this.n; c++)
        if ((cj[c] as number) > (clock[c] as number)) clock[c] = cj[c] as number;
    }
    clock[p] = k + 1;
    // A race: a dependent step of another CPU that happens before this one only through the
    // direct dependence (not through p's earlier steps or another dependent step).
    for (const j of cand) {
      const q = this.evCpu[j] as number;
      if (q === p || (mine[q] as number) >= j + 1) continue;
      let through = false;
      for (const j2 of cand)
        if (j2 !== j && ((this.clocks[j2] as Int32Array)[q] as number) >= j + 1) through = true;
      if (!through) this.reverse(j, k, p, clock, forced);
    }
    return clock;
  }

  readonly observe = (ev: StepEvent): void => {
    if (this.blocked) return;
    const k = this.evCpu.length;
    const p = ev.cpu;
    const fp = ev.fp;
    if (!ev.forced) {
      this.nodes[ev.decision]?.taken.set(p, fp);
      this.nodeFirst[ev.decision] = k;
    }
    const clock = this.analyse(p, fp, ev.forced);
    this.clocks.push(clock);
    this.cpuClock[p] = clock;
    this.evCpu.push(p);
    this.evNode.push(ev.decision);
    this.evForced.push(ev.forced);
    if (fp.all) this.allEvents.push(k);
    else
      for (let i = 0; i < fp.words.length; i++) {
        const w = fp.words[i] as number;
        if (fp.writes[i] === 1) {
          this.lastWrite.set(w, k);
          this.readsSince.set(w, []);
        } else {
          const rs = this.readsSince.get(w);
          if (rs === undefined) this.readsSince.set(w, [k]);
          else rs.push(k);
        }
      }
    // Wake the sleepers this step may have changed (or that took an interrupt themselves).
    for (const [q, qfp] of this.sleep) if (q === p || dependent(qfp, fp)) this.sleep.delete(q);
  };

  /** Set up the next execution: false once every backtrack point is explored. */
  advance(): boolean {
    for (let i = this.nodes.length - 1; i >= 0; i--) {
      const node = this.nodes[i] as Node;
      for (const c of node.enabled) {
        if (!node.backtrack.has(c) || node.done.has(c) || node.sleep.has(c)) continue;
        node.done.add(c);
        node.chosen = c;
        this.nodes.length = i + 1;
        return true;
      }
    }
    return false;
  }
}
