/**
 * `tlbrace bench natural`: a scenario's race at natural timing, nothing injected, against the
 * size of its mapping (the `pages` parameter, 1 to 4096 pages where the scenario allows it),
 * the number of pages reclaim or migration scans (`scan`, where the scenario has it) and the
 * start-offset mode (uniform, window-aware), on the scenario's buggy and fixed kernels. Per
 * cell: trials, forbidden trials (lost writes, use-after-free), the rate with a 95% interval,
 * the time to the first lost write, window hits. Without a scenario it is the seed
 * (mremap-mkclean on v4.9-rc4 and 5d1904204c99), where it answers the seed's "difficult or
 * impossible to hit in practice" with numbers.
 */
import { MAX_FILE_PAGES } from "../../lib/machine/layout.js";
import { compile, ScenarioError } from "../../lib/scenarios/compile.js";
import type { Arch, ScenarioSpec } from "../../lib/scenarios/types.js";
import { rateInterval, type RateInterval } from "../../lib/stats/intervals.js";
import { formatNs, UsageError } from "../../lib/units.js";
import type { LearnedWindow } from "../aim.js";
import { table } from "../format.js";
import { runScenario } from "../run.js";
import { machineInfo, type MachineInfo } from "../sysinfo.js";
import type { BenchControl } from "./control.js";
import type { Provenance } from "../results.js";

/** The scenario the bench runs when none is named: the seed race. */
export const NATURAL_SEED = "mremap-mkclean";
export const NATURAL_SIZES = [1, 16, 64, 256, 1024, 4096];
export const NATURAL_MODES = ["uniform", "window"] as const;
export type OffsetMode = (typeof NATURAL_MODES)[number];

export interface NaturalRow {
  pages: number;
  /**
   * Every parameter the cell ran with, `pages` and `scan` included (absent in results written
   * before the bench took any scenario: those ran the seed at { pages, target: 0 }).
   */
  params?: Record<string, number>;
  /** Why a parameter differs from the scenario's natural one (a target past a small mapping). */
  note?: string;
  offsets: OffsetMode;
  kernel: string;
  trials: number;
  /** Counted seconds (learning and warm-up excluded). */
  seconds: number;
  trialsPerSecond: number;
  /** Lost writes (for the seed, one per lost trial). */
  lostWrites: number;
  /**
   * Trials with a forbidden outcome: a lost write, a use-after-free access, or (countForbidden
   * scenarios) the outcome itself. Absent in older results, where lostWrites was this count.
   */
  forbidden?: number;
  /** Trials with a use-after-free access, for scenarios that count them. */
  useAfterFree?: number;
  /** Forbidden trials per trial, with a 95% interval. */
  rate: RateInterval;
  /** Forbidden trials per counted second (for the seed, lost writes per second). */
  lostPerSecond: number;
  /** Wall time from the start of the kernel's run (learning included) to its first lost write. */
  firstLostWriteMs: number | null;
  windowHits: number;
  /** Window-aware rows: what the first learning found. */
  learned?: LearnedWindow;
  relearns?: number;
}

export interface NaturalBenchResult {
  schema: 1;
  /** tlbrace's version and commit (docs/outputs.md); absent in results written before. */
  tlbrace?: Provenance;
  bench: "natural";
  command: string;
  machine: MachineInfo;
  /** The scenario run; absent in results written before any could be: those ran the seed. */
  scenario?: string;
  /** The modelled arch (the scenario's own, else x86) and CPUs of the machine. */
  arch?: Arch;
  cpus?: number;
  /** What counts as a forbidden trial, in words ("a lost write", ...). */
  harm?: string;
  quick: boolean;
  partial: boolean;
  secondsPerCell: number;
  seed: number;
  startedAt: string;
  rows: NaturalRow[];
}

export interface NaturalOptions {
  scenario: ScenarioSpec;
  /** Kernel names; empty: the scenario's [buggy, fixed] pair. */
  kernels: string[];
  quick: boolean;
  seconds: number;
  /** The cells to run, from naturalCells(). */
  cells: NaturalCell[];
  modes: readonly OffsetMode[];
  seed: number;
  command: string;
}

/** One size (and scan) of the sweep: the parameters given to the scenario, and why any moved. */
export interface NaturalCell {
  pages: number;
  scan?: number;
  params: Record<string, number>;
  note?: string;
}

/** The `pages` range a scenario allows: its declared bounds, within the machine's file. */
export function pagesRange(s: ScenarioSpec): { min: number; max: number } | null {
  const p = s.params.pages;
  if (p === undefined) return null;
  return { min: p.min, max: typeof p.max === "number" ? p.max : MAX_FILE_PAGES };
}

/**
 * The sizes to sweep: those asked for, each inside the scenario's range; by default the
 * standard sizes inside it, or (a scenario of one fixed size, such as a huge page) its natural
 * or default size. A scenario without `pages` runs at the one size compile() gives it.
 */
export function naturalSizes(s: ScenarioSpec, asked: number[] | undefined): number[] {
  const range = pagesRange(s);
  if (range === null) {
    if (asked !== undefined)
      throw new UsageError(`--sizes: scenario ${s.name} has no pages parameter`);
    return [1];
  }
  if (asked !== undefined) {
    for (const n of asked)
      if (n < range.min || n > range.max)
        throw new UsageError(
          `--sizes: ${n} is outside what ${s.name} allows (${range.min} to ${range.max} pages)`,
        );
    return asked;
  }
  // The standard sizes the scenario allows, and its own natural size among them.
  const natural = s.natural?.pages;
  const inside = [
    ...new Set([...NATURAL_SIZES, ...(natural === undefined ? [] : [natural])]),
  ].filter((n) => n >= range.min && n <= range.max);
  if (inside.length > 0) return inside.sort((a, b) => a - b);
  return [natural ?? (s.params.pages as { default: number }).default];
}

/**
 * The scan sizes to sweep (reclaim's or migration's batch, `scan`): those asked for, inside
 * the parameter's bounds; by default the scenario's natural one. [undefined]: no scan parameter.
 */
export function naturalScans(s: ScenarioSpec, asked: number[] | undefined): (number | undefined)[] {
  const p = s.params.scan;
  if (p === undefined) {
    if (asked !== undefined)
      throw new UsageError(
        `--scan: scenario ${s.name} has no scan parameter (it has: ${Object.keys(s.params).join(", ") || "none"})`,
      );
    return [undefined];
  }
  if (asked === undefined) return [s.natural?.scan ?? p.default];
  const max = typeof p.max === "number" ? p.max : MAX_FILE_PAGES;
  for (const n of asked)
    if (n < p.min || n > max)
      throw new UsageError(`--scan: ${n} is outside what ${s.name} allows (${p.min} to ${max})`);
  return asked;
}

/** The offset modes: both where the scenario names a window, else uniform only. */
export function naturalModes(s: ScenarioSpec, asked: OffsetMode | undefined): OffsetMode[] {
  if (asked === "window" && s.window === undefined)
    throw new UsageError(
      `--offsets window: scenario ${s.name} names no window (use --offsets uniform)`,
    );
  if (asked !== undefined) return [asked];
  return s.window === undefined ? ["uniform"] : [...NATURAL_MODES];
}

/**
 * The parameters of one cell: the scenario's natural ones, with the swept size and scan over
 * them. A parameter bounded by another ("max": "$pages", e.g. the page thread 1 writes) that
 * the swept size leaves out of range moves to the last value allowed, and the note says so:
 * the natural target of a 1024-page mapping does not exist in a 16-page one.
 */
export function cellParams(
  s: ScenarioSpec,
  pages: number | null,
  scan: number | undefined,
): { params: Record<string, number>; note?: string } {
  const params: Record<string, number> = { ...(s.natural ?? {}) };
  if (pages !== null) params.pages = pages;
  if (scan !== undefined) params.scan = scan;
  const value = (name: string): number => params[name] ?? s.params[name]?.default ?? 0;
  const notes: string[] = [];
  for (const [name, p] of Object.entries(s.params)) {
    if (typeof p.max === "number") continue;
    const bound = p.max.slice(1);
    const limit = value(bound) - 1;
    const v = value(name);
    if (v <= limit || limit < p.min) continue; // in range, or nothing fits: compile() says so
    params[name] = limit;
    notes.push(`${name} ${v} -> ${limit}: it must be below ${bound} (${value(bound)})`);
  }
  return notes.length > 0 ? { params, note: notes.join("; ") } : { params };
}

/**
 * Every cell of the sweep, each compiled once here so that a parameter the scenario refuses is
 * a usage error before anything runs, not after minutes of other cells.
 */
export function naturalCells(
  s: ScenarioSpec,
  sizes: number[],
  scans: (number | undefined)[],
): NaturalCell[] {
  const hasPages = s.params.pages !== undefined;
  const cells: NaturalCell[] = [];
  for (const pages of sizes) {
    for (const scan of scans) {
      const { params, note } = cellParams(s, hasPages ? pages : null, scan);
      try {
        compile(s, params);
      } catch (e) {
        if (!(e instanceof ScenarioError)) throw e;
        const at = Object.entries(params).map(([k, v]) => `${k}=${v}`);
        throw new UsageError(`${s.name} at ${at.join(", ")}: ${e.message}`);
      }
      cells.push({ pages, ...(scan !== undefined ? { scan } : {}), params, note });
    }
  }
  return cells;
}

/** What a forbidden trial of this scenario is, in words, for headers and the chart. */
export function harmOf(s: ScenarioSpec): string {
  if (s.countForbidden === true) return "a forbidden outcome";
  if (s.useAfterFree === true && s.lostWrite.length > 0)
    return "a lost write or a use-after-free access";
  if (s.useAfterFree === true) return "a use-after-free access";
  return "a lost write";
}

export async function naturalBench(
  o: NaturalOptions,
  ctl: BenchControl,
): Promise<NaturalBenchResult> {
  const s = o.scenario;
  const result: NaturalBenchResult = {
    schema: 1,
    bench: "natural",
    command: o.command,
    machine: machineInfo(),
    scenario: s.name,
    arch: s.arch ?? "x86",
    cpus: s.cpus.length,
    harm: harmOf(s),
    quick: o.quick,
    partial: false,
    secondsPerCell: o.seconds,
    seed: o.seed,
    startedAt: new Date().toISOString(),
    rows: [],
  };
  const work = o.cells.flatMap((cell) => o.modes.map((offsets) => ({ cell, offsets })));
  for (const [done, { cell, offsets }] of work.entries()) {
    if (ctl.stopped()) break;
    const scan = cell.scan === undefined ? "" : `, scan ${cell.scan}`;
    ctl.progress(`${cell.pages} pages${scan}, ${offsets} offsets`, done, work.length);
    result.rows.push(...(await naturalCell(o, cell, offsets, ctl, result)));
  }
  ctl.done();
  result.partial ||= ctl.stopped();
  return result;
}

/** One cell on every kernel: a run of the scenario, a row per kernel. */
async function naturalCell(
  o: NaturalOptions,
  cell: NaturalCell,
  offsets: OffsetMode,
  ctl: BenchControl,
  result: NaturalBenchResult,
): Promise<NaturalRow[]> {
  const r = await runScenario({
    scenario: o.scenario,
    kernels: o.kernels,
    trials: 0,
    durationMs: o.seconds * 1000,
    cpus: o.scenario.cpus.length,
    params: cell.params,
    delays: new Map(),
    arch: result.arch,
    seed: o.seed,
    offsets,
    watchdogMs: 20_000,
    command: o.command,
    warmupTrials: 500,
    stopRequested: ctl.stopRequested,
  });
  if (r.partial) result.partial = true;
  return r.runs.map((run) => {
    const learned = run.offsets?.learned?.[0];
    const forbidden = run.forbiddenTrials;
    const row: NaturalRow = {
      pages: cell.pages,
      params: r.params,
      ...(cell.note !== undefined ? { note: cell.note } : {}),
      offsets,
      kernel: run.kernel,
      trials: run.trials,
      seconds: Math.round(run.elapsedMs) / 1000,
      trialsPerSecond: run.trialsPerSecond,
      lostWrites: run.lostWrites,
      forbidden,
      ...(o.scenario.useAfterFree === true ? { useAfterFree: run.useAfterFree ?? 0 } : {}),
      rate: rateInterval(forbidden, Math.max(1, run.trials)),
      lostPerSecond: run.elapsedMs > 0 ? Math.round((forbidden / run.elapsedMs) * 1e5) / 100 : 0,
      firstLostWriteMs: run.firstLostWriteMs,
      windowHits: run.window?.hits ?? 0,
    };
    if (learned !== undefined) {
      row.learned = learned;
      row.relearns = run.offsets?.relearns ?? 0;
    }
    return row;
  });
}

const pct = (x: number): string => (x === 0 ? "0" : `${+(x * 100).toPrecision(3)}%`);
const num = (x: number): string => x.toLocaleString("en-US");

/** Forbidden trials of a row; older results counted lost-write trials in lostWrites. */
export const forbiddenOf = (x: NaturalRow): number => x.forbidden ?? x.lostWrites;

function naturalHead(r: NaturalBenchResult, scans: boolean): string {
  const scenario = r.scenario ?? NATURAL_SEED;
  const arch = r.arch === "arm64" ? ", a modelled arm64" : "";
  const harm = r.harm ?? "a lost write";
  return (
    `natural timing: ${scenario}, nothing injected, ${r.secondsPerCell} s per kernel and cell, ${r.cpus ?? 2} CPUs on ${r.machine.cores} cores (${r.machine.cpuModel})${arch}, Node ${r.machine.node}, seed ${r.seed}\n` +
    `pages: the size of the mapping (the scenario's pages parameter)${scans ? "; scan: the pages reclaim or migration scans" : ""}; offsets: uniform (0-2 us blind sweep) or window (learnt, aimed across the window)\n` +
    `rate: trials with ${harm} per trial, with a 95% interval (for 0, the one-sided upper bound); in window: trials whose racing step began inside the window` +
    (r.partial ? "\nPARTIAL: stopped before every cell ran" : "")
  );
}

export function formatNaturalBench(r: NaturalBenchResult): string {
  const scans = r.rows.some((x) => x.params?.scan !== undefined);
  const uaf = r.rows.some((x) => x.useAfterFree !== undefined);
  const lostOnly = (r.harm ?? "a lost write") === "a lost write";
  const head = [
    "pages",
    ...(scans ? ["scan"] : []),
    "offsets",
    "kernel",
    "trials",
    "trials/s",
    lostOnly ? "lost" : "forbidden",
    ...(uaf ? ["uaf"] : []),
    "rate (95%)",
    lostOnly ? "lost/s" : "forbidden/s",
    "first lost",
    "in window",
  ];
  const rows = r.rows.map((x) => {
    const n = forbiddenOf(x);
    return [
      String(x.pages),
      ...(scans ? [String(x.params?.scan ?? "-")] : []),
      x.offsets,
      x.kernel,
      num(x.trials),
      num(x.trialsPerSecond),
      num(n),
      ...(uaf ? [num(x.useAfterFree ?? 0)] : []),
      n === 0
        ? `< ${pct(x.rate.high)}`
        : `${pct(x.rate.rate)} (${pct(x.rate.low)}-${pct(x.rate.high)})`,
      String(x.lostPerSecond),
      x.firstLostWriteMs === null ? "-" : formatNs(x.firstLostWriteMs * 1e6),
      `${num(x.windowHits)} (${pct(x.trials > 0 ? x.windowHits / x.trials : 0)})`,
    ];
  });
  const right = head.map((h) => !["offsets", "kernel"].includes(h));
  return `${naturalHead(r, scans)}\n\n${table([head, ...rows], right)}${naturalNotes(r)}`;
}

/** The parameters moved for small sizes, each once, under the table. */
function naturalNotes(r: NaturalBenchResult): string {
  const notes = new Set(
    r.rows.flatMap((x) => (x.note === undefined ? [] : [`${x.pages} pages: ${x.note}`])),
  );
  return notes.size === 0 ? "" : `\n\n${[...notes].join("\n")}`;
}
