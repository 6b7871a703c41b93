/**
 * Window-aware start offsets. Instead of sweeping start offsets blindly, learn from a short
 * warm-up where the scenario's window lies after the start barrier (when the window's CPU
 * passes the open and close points, when the racing CPU reaches its racing step), then draw
 * each trial's offset so that the racing step lands across the window and a margin around it.
 * Trials run in chunks; when a chunk puts the racing step inside the window less than half as
 * often as the first chunk after learning did, the timing has drifted and the window is learnt
 * again.
 */
import type { BatchConfig, BatchStats, Machine, WindowSample } from "./machine.js";

/** Trials of a learning batch (uncounted), and the most time it may take. */
export const LEARN_TRIALS = 400;
export const LEARN_MAX_MS = 1500;
/** The margin around the window: an eighth of its width, and at least this much. */
export const MIN_MARGIN_NS = 500;
/** Counted trials run in chunks of at most this long, so drift is seen and acted on. */
export const CHUNK_MS = 1000;
/** A chunk whose hit rate falls below this fraction of the baseline triggers a refinement. */
export const DRIFT_RATIO = 0.5;
/** Refinement under aim: at most this many batches of REFINE_TRIALS (and REFINE_MAX_MS each). */
export const REFINE_ROUNDS = 5;
export const REFINE_TRIALS = 300;
export const REFINE_MAX_MS = 400;
/**
 * A chunk that puts fewer racing steps than this share inside the window is refined again from
 * where the aim stands (at most MAX_LOW_REFINES times a run), whatever the first chunk did.
 */
export const LOW_HIT_SHARE = 0.25;
export const MAX_LOW_REFINES = 3;
/** After refinement, the aimed range spans this share of the window (through the slope). */
export const AIM_SPAN = 1;
/** Offsets stay well inside an Int32 of nanoseconds. */
const LIMIT_NS = 1e9;

/** What a learning batch found: medians over its trials, and the offsets drawn from them. */
export interface LearnedWindow {
  /** Median ns after the start barrier at which the window opened, closed, and the racing step began. */
  openNs: number;
  closeNs: number;
  raceNs: number;
  /** The racing CPU starts loNs..hiNs after the window's CPU (negative: before it). */
  loNs: number;
  hiNs: number;
  /** Learning trials in which the window opened and the racing step was reached. */
  samples: number;
}

/** The offsets a run used, for its result file. */
export interface OffsetsReport {
  mode: "window" | "uniform";
  /** Uniform mode: the largest per-CPU start offset. */
  offsetMaxNs?: number;
  /** Window mode: every learning, in order (the first, then each re-learn). */
  learned?: LearnedWindow[];
  relearns?: number;
  /** Window mode: the offset range at the end, after centring on the trials' coverage. */
  final?: { loNs: number; hiNs: number };
  /** Window mode that fell back to uniform offsets, and why. */
  fallback?: string;
}

/** The q-quantile (0..1) of xs, by nearest rank. */
function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.round(q * (s.length - 1))))] as number;
}

const clamp = (x: number): number => Math.max(-LIMIT_NS, Math.min(LIMIT_NS, Math.round(x)));

/**
 * Turn learning samples into aimed offsets; null if the window never showed. The medians say
 * where the window and the racing step lie in a typical trial (a few trials stall on a park or
 * an IPI; the median ignores them); the racing CPU's start is then drawn so that its racing step
 * lands anywhere across the window, and a margin of an eighth of the window's width (at least
 * MIN_MARGIN_NS) on either side.
 */
export function learnFrom(samples: WindowSample[]): LearnedWindow | null {
  const opened = samples.filter((s) => s.openNs >= 0);
  const raced = samples.filter((s) => s.raceNs >= 0);
  if (opened.length === 0 || raced.length === 0) return null;
  const openNs = quantile(
    opened.map((s) => s.openNs),
    0.5,
  );
  // A window still open when its CPU's body ended closed there: every opened trial has a close.
  const closeNs = quantile(
    opened.map((s) => (s.closeNs >= 0 ? s.closeNs : s.openNs)),
    0.5,
  );
  const raceNs = quantile(
    raced.map((s) => s.raceNs),
    0.5,
  );
  const margin = Math.max(MIN_MARGIN_NS, (closeNs - openNs) / 8);
  return {
    openNs,
    closeNs,
    raceNs,
    loNs: clamp(openNs - raceNs - margin),
    hiNs: clamp(closeNs - raceNs + margin),
    samples: samples.filter((s) => s.openNs >= 0 && s.raceNs >= 0).length,
  };
}

/** One learning batch: every CPU starts at once, and notes when it reaches the window. */
export async function learnWindow(
  machine: Machine,
  base: BatchConfig,
  watchdogMs: number,
): Promise<LearnedWindow | null> {
  const s = await machine.run(
    {
      ...base,
      trials: LEARN_TRIALS,
      durationMs: LEARN_MAX_MS,
      seed: base.seed ^ 0x1ea7,
      offsetMaxNs: 0,
      aim: undefined,
      fixedOffsetNs: undefined,
      trace: false,
      windowTiming: true,
    },
    watchdogMs,
  );
  return learnFrom(s.windowSamples ?? []);
}

/**
 * Where the racing step falls against the window's middle in aimed trials, from their timing
 * samples: the median of raceNs - (openNs + closeNs) / 2 and the median window width; null when
 * no trial both opened the window and reached the racing step.
 */
export function offCentre(samples: WindowSample[]): { offNs: number; widthNs: number } | null {
  const both = samples.filter((s) => s.openNs >= 0 && s.raceNs >= 0);
  if (both.length === 0) return null;
  const close = (s: WindowSample): number => (s.closeNs >= 0 ? s.closeNs : s.openNs);
  return {
    offNs: quantile(
      both.map((s) => s.raceNs - (s.openNs + close(s)) / 2),
      0.5,
    ),
    widthNs: quantile(
      both.map((s) => close(s) - s.openNs),
      0.5,
    ),
  };
}

/**
 * Refine a learning under aim. The learning runs every CPU from one start, and its timing is not
 * an aimed trial's: two CPUs that start together contend for locks and cache lines that an aimed
 * trial's CPUs take one after the other, so the window and the racing path move once the offsets
 * apply (by tens of microseconds where the racing CPU reclaims or migrates first), and they move
 * by more than the offset does (measured: 60 us of racing step against the window for 36 us of
 * offset, on mremap-anon-migrate-move-pages). So run short batches at one offset, each CPU's
 * timing noted as in a learning, and find the offset that puts the racing step in the window's
 * middle by the secant method, the first step taken at slope 1. The range then spans AIM_SPAN of
 * the window as seen through that slope: a window W wide is W / slope wide in offsets.
 */
export async function refineAim(
  machine: Machine,
  base: BatchConfig,
  watchdogMs: number,
  aim: { loNs: number; hiNs: number },
): Promise<{ loNs: number; hiNs: number }> {
  const halfSpan = (aim.hiNs - aim.loNs) / 2;
  let centre = (aim.loNs + aim.hiNs) / 2;
  let prev: { centre: number; offNs: number } | null = null;
  // The response need not be monotonic (a later start can change who waits for whom): keep the
  // offset that came closest, and never step further than the learnt range is wide.
  let best: { centre: number; offNs: number } | null = null;
  let width: number | null = null;
  let slope = 1;
  for (let round = 0; round < REFINE_ROUNDS; round++) {
    const at = clamp(centre);
    const s = await machine.run(
      {
        ...base,
        trials: REFINE_TRIALS,
        durationMs: REFINE_MAX_MS,
        seed: base.seed ^ (0x5eed + round),
        aim: { loNs: at, hiNs: at },
        fixedOffsetNs: undefined,
        trace: false,
        windowTiming: true,
      },
      watchdogMs,
    );
    const c = offCentre(s.windowSamples ?? []);
    if (c === null) break;
    width = c.widthNs;
    if (prev !== null && at !== prev.centre) {
      const k = (c.offNs - prev.offNs) / (at - prev.centre);
      // A flat or falling response is noise, not the racing step's timing: keep the last slope.
      if (k >= 0.25 && k <= 4) slope = k;
    }
    prev = { centre: at, offNs: c.offNs };
    if (best === null || Math.abs(c.offNs) < Math.abs(best.offNs)) best = prev;
    if (Math.abs(c.offNs) <= c.widthNs / 8) break;
    const step = -c.offNs / slope;
    centre = at + Math.max(-2 * halfSpan, Math.min(2 * halfSpan, step));
  }
  const c = clamp(best?.centre ?? centre);
  // The racing step jitters by a few microseconds at one offset, so no margins are added: the
  // range is AIM_SPAN of the window's width, seen through the slope.
  const half = Math.max(
    MIN_MARGIN_NS,
    width === null ? halfSpan / slope : (AIM_SPAN * width) / 2 / slope,
  );
  return { loNs: clamp(c - half), hiNs: clamp(c + half) };
}

/** Add one batch's statistics to a running total (trial numbers and times shift by the total's). */
export function mergeStats(
  total: BatchStats | null,
  s: BatchStats,
  wallBeforeMs: number,
): BatchStats {
  if (total === null) {
    return {
      ...s,
      firstLostMs: s.firstLostMs === null ? null : s.firstLostMs + wallBeforeMs,
      windowSamples: undefined,
    };
  }
  const shift = (a: number | null, b: number | null): number | null =>
    a !== null ? a : b === null ? null : b + total.trials;
  const w =
    total.window !== undefined && s.window !== undefined
      ? {
          hits: total.window.hits + s.window.hits,
          before: total.window.before + s.window.before,
          after: total.window.after + s.window.after,
          missed: total.window.missed + s.window.missed,
        }
      : total.window;
  return {
    trials: total.trials + s.trials,
    lostWrites: total.lostWrites + s.lostWrites,
    faults: total.faults + s.faults,
    useAfterFree: total.useAfterFree + s.useAfterFree,
    firstUafTrial: shift(total.firstUafTrial, s.firstUafTrial),
    forbiddenTrials: total.forbiddenTrials + s.forbiddenTrials,
    outcomes: total.outcomes.map((n, i) => n + (s.outcomes[i] ?? 0)),
    firstLostTrial: shift(total.firstLostTrial, s.firstLostTrial),
    traceKeptTrial: shift(total.traceKeptTrial, s.traceKeptTrial),
    firstLostMs:
      total.firstLostMs !== null
        ? total.firstLostMs
        : s.firstLostMs === null
          ? null
          : s.firstLostMs + wallBeforeMs,
    elapsedMs: total.elapsedMs + s.elapsedMs,
    flushes: total.flushes + s.flushes,
    ipis: total.ipis + s.ipis,
    parks: total.parks + s.parks,
    window: w,
  };
}

export interface AimedRun {
  stats: BatchStats;
  offsets: OffsetsReport;
}

/**
 * Run `base.trials` trials (or `base.durationMs` of them) with window-aware offsets, learning
 * first and again on drift. `firstLostMs` counts from the start, learning included.
 */
export async function runAimed(
  machine: Machine,
  base: BatchConfig,
  watchdogMs: number,
  opts: { onProgress?: (trials: number) => void; stopping?: () => boolean } = {},
): Promise<AimedRun> {
  const t0 = performance.now();
  const learned: LearnedWindow[] = [];
  const first = await learnWindow(machine, base, watchdogMs);
  if (first === null) {
    const s = await machine.run(base, watchdogMs, opts.onProgress);
    return {
      stats: mergeStats(null, s, performance.now() - t0 - s.elapsedMs),
      offsets: {
        mode: "uniform",
        offsetMaxNs: base.offsetMaxNs,
        fallback:
          "in the learning trials the window never opened or the racing step was never reached",
      },
    };
  }
  learned.push(first);
  let aim = await refineAim(machine, base, watchdogMs, { loNs: first.loNs, hiNs: first.hiNs });
  let total: BatchStats | null = null;
  let baseline: number | null = null;
  let relearns = 0;
  let lowRefines = 0;
  let traceKept = false;
  for (let chunk = 0; ; chunk++) {
    const done = total?.trials ?? 0;
    const elapsed = total?.elapsedMs ?? 0;
    if (base.trials > 0 && done >= base.trials) break;
    if (base.trials === 0 && elapsed >= base.durationMs) break;
    if (opts.stopping?.() === true) break;
    // Short chunks first, so that the centring below settles early.
    const chunkMs = chunk < 4 ? CHUNK_MS / 5 : CHUNK_MS;
    const durationMs =
      base.trials > 0 ? chunkMs : Math.max(1, Math.min(chunkMs, base.durationMs - elapsed));
    const wallBefore = performance.now() - t0;
    const s = await machine.run(
      {
        ...base,
        trials: base.trials > 0 ? base.trials - done : 0,
        durationMs: Math.round(durationMs),
        seed: (base.seed ^ Math.imul(chunk + 1, 0x9e3779b9)) | 0,
        aim,
        trace: base.trace === true && !traceKept,
      },
      watchdogMs,
      (n) => opts.onProgress?.(done + n),
    );
    if (s.traceKeptTrial !== null) traceKept = true;
    total = mergeStats(total, s, wallBefore);
    if (s.trials === 0) break;
    aim = recentre(aim, s);
    const rate = (s.window?.hits ?? 0) / s.trials;
    const low = rate < LOW_HIT_SHARE && lowRefines < MAX_LOW_REFINES;
    if (low) lowRefines++;
    if (baseline === null && !low) baseline = rate;
    else if (
      s.trials >= 200 &&
      (low || (baseline !== null && rate < baseline * DRIFT_RATIO)) &&
      opts.stopping?.() !== true
    ) {
      // Drift: find the middle again from where the aim stands, under aim. A learning from one
      // start measures the contended timing that the refinement exists to correct, so it is
      // only the fallback when the aimed trials no longer reach the window at all.
      relearns++;
      baseline = null;
      const refined = await refineAim(machine, base, watchdogMs, aim);
      if (refined.loNs !== aim.loNs || refined.hiNs !== aim.hiNs) aim = refined;
      else {
        const again = await learnWindow(machine, base, watchdogMs);
        if (again !== null) {
          aim = await refineAim(machine, base, watchdogMs, { loNs: again.loNs, hiNs: again.hiNs });
          learned.push(again);
        }
      }
    }
  }
  const stats =
    total ??
    mergeStats(null, await machine.run({ ...base, trials: 0, durationMs: 1 }, watchdogMs), 0);
  return { stats, offsets: { mode: "window", learned, relearns, final: aim } };
}

/**
 * Centre the aim on what the trials did. The timing learnt with every CPU starting at once is
 * not the timing of an aimed trial: a CPU that starts later no longer slows the other down, so
 * the window moves. Racing steps that fell before the window ask for a later start, those after
 * it for an earlier one: the range moves by half its width times the difference of the two
 * shares, and settles where as many fall before as after.
 */
export function recentre(
  aim: { loNs: number; hiNs: number },
  s: Pick<BatchStats, "trials" | "window">,
): { loNs: number; hiNs: number } {
  if (s.window === undefined || s.trials < 100) return aim;
  const shift = Math.round(
    (((s.window.before - s.window.after) / s.trials) * (aim.hiNs - aim.loNs)) / 2,
  );
  return { loNs: clamp(aim.loNs + shift), hiNs: clamp(aim.hiNs + shift) };
}
