/**
 * `tlbrace run`: one scenario on one machine, each kernel in turn, the same workers throughout.
 */
import { KERNELS, kernelIndex } from "../lib/kernels/index.js";
import { kernelName } from "./kernel-names.js";
import { MAX_CPUS } from "../lib/machine/layout.js";
import { POINTS, pointId } from "../lib/machine/points.js";
import { compile, ScenarioError } from "../lib/scenarios/compile.js";
import type { ScenarioSpec } from "../lib/scenarios/types.js";
import { trace_read } from "../lib/trace/ring.js";
import { Machine, WatchdogError, type BatchConfig, type BatchStats } from "./machine.js";
import { runAimed, type OffsetsReport } from "./aim.js";
import { IMG_CPU_TABLE, IMG_CPU_WORDS, INSN_WORDS } from "../lib/scenarios/image.js";
import { ARM64_MAX_TLB_RANGE_PAGES, tlb_single_page_flush_ceiling } from "../lib/mmu/shootdown.js";
import type { ResultFile, RunResult } from "./results.js";
import { machineInfo } from "./sysinfo.js";
import { formatNs, parseDuration, UsageError } from "../lib/units.js";

export interface RunOptions {
  scenario: ScenarioSpec;
  /** Kernel names; empty: the pair the scenario compares. */
  kernels: string[];
  /** Trials per kernel, or 0 to run for durationMs per kernel. */
  trials: number;
  durationMs: number;
  cpus: number;
  params: Record<string, number>;
  /** Point name -> delay in ns. */
  delays: Map<string, number>;
  /** The modelled MMU's TLB-flush granularity; default: the scenario's arch, else x86. */
  arch?: "x86" | "arm64";
  seed: number;
  /** Largest per-CPU start offset; undefined: the default (see defaultOffsetMaxNs). */
  offsetMaxNs?: number;
  /** Instead of random offsets: CPU 1 starts this many ns after CPU 0 (the window map). */
  fixedOffsetNs?: number;
  /**
   * "window": window-aware offsets, learnt per kernel (the default when the scenario names a
   * window and no --offset-max is given); "uniform": today's blind sweep of 0..offsetMaxNs.
   */
  offsets?: "window" | "uniform";
  watchdogMs: number;
  command: string;
  /** Each kernel's run begins (window learning included): where its progress stage starts. */
  onKernel?: (kernel: string) => void;
  /** Trials counted so far on `kernel` (every ~250 ms while it runs). */
  onProgress?: (kernel: string, trials: number) => void;
  /** Resolves when the user asks to stop (Ctrl-C): the current batch ends, results are partial. */
  stopRequested?: Promise<void>;
  /**
   * Uncounted trials run first (at most 0.5 s of them) so that JIT compilation does not land in
   * the first kernel's figures. Default 20,000.
   */
  warmupTrials?: number;
  /** Record every CPU's steps and keep the first forbidden trial's trace. */
  trace?: boolean;
}

/** Where a program counter of CPU `cpu` lies in the scenario: its part and step index. */
export function stepAt(
  image: Int32Array,
  cpu: number,
  pc: number,
): { part: "init" | "steps"; i: number } {
  const t = IMG_CPU_TABLE + cpu * IMG_CPU_WORDS;
  const part = pc < (image[t + 1] as number) ? "init" : "steps";
  return { part, i: (pc - (image[part === "init" ? t : t + 2] as number)) / INSN_WORDS };
}

/** "thread 1 steps[1] store" for a program counter of CPU `cpu`, for the watchdog. */
export function stepName(spec: ScenarioSpec, image: Int32Array, cpu: number, pc: number): string {
  const p = spec.cpus[cpu];
  if (p === undefined || pc < 0) return "-";
  const { part, i } = stepAt(image, cpu, pc);
  return `${p.name} ${part}[${i}] ${p[part][i]?.op ?? "?"}`;
}

/** Largest start offset: Int32 nanoseconds, and more than a second sweeps nothing useful. */
export const OFFSET_MAX_LIMIT_NS = 1e9;

/** Start offsets sweep at least 2 us, and the whole of the widest injected delay (up to 1 ms). */
export function defaultOffsetMaxNs(delays: Map<string, number>): number {
  return Math.min(Math.max(2000, ...delays.values()), 1e6);
}

/** "POINT=DURATION" -> [point, ns], with errors that list the valid points. */
export function parseDelay(text: string): [string, number] {
  const eq = text.indexOf("=");
  if (eq < 0)
    throw new UsageError(
      `--delay: "${text}" is not POINT=DURATION (e.g. move_ptes:unlocked=100us)`,
    );
  const point = text.slice(0, eq);
  if (pointId(point) < 0) {
    throw new UsageError(`--delay: unknown point "${point}" (valid: ${POINTS.join(", ")})`);
  }
  const ns = parseDuration(text.slice(eq + 1), `--delay ${point}`);
  if (ns > 60e9) throw new UsageError(`--delay ${point}: at most 60s`);
  return [point, ns];
}

/** The offsets a run uses: window-aware by default where the scenario names a window. */
export function offsetModeFor(
  scenario: ScenarioSpec,
  opts: Pick<RunOptions, "offsets" | "offsetMaxNs" | "fixedOffsetNs">,
): "window" | "uniform" {
  if (opts.offsets === "window") {
    if (scenario.window === undefined)
      throw new UsageError(
        `--offsets window: scenario ${scenario.name} names no window (add "window" to it, or use --offsets uniform)`,
      );
    if (opts.offsetMaxNs !== undefined)
      throw new UsageError(`--offset-max sets uniform offsets: it cannot go with --offsets window`);
    return "window";
  }
  if (opts.offsets === "uniform") return "uniform";
  if (opts.fixedOffsetNs !== undefined || opts.offsetMaxNs !== undefined) return "uniform";
  return scenario.window !== undefined ? "window" : "uniform";
}

/** The kernels to run, by their names now (an old name gives a note on stderr); checked. */
export function resolveKernels(scenario: ScenarioSpec, names: string[]): string[] {
  const list = (names.length > 0 ? names : scenario.kernels).map((k) => kernelName(k));
  for (const k of list) {
    if (kernelIndex(k) < 0) {
      throw new UsageError(
        `unknown kernel "${k}" (valid: ${KERNELS.map((x) => x.name).join(", ")})`,
      );
    }
  }
  return [...new Set(list)];
}

export function checkCpus(scenario: ScenarioSpec, cpus: number): void {
  if (cpus < scenario.cpus.length || cpus > MAX_CPUS) {
    throw new UsageError(
      `--cpus: scenario ${scenario.name} needs at least ${scenario.cpus.length} CPUs and the machine holds at most ${MAX_CPUS}, got ${cpus}`,
    );
  }
}

export async function runScenario(opts: RunOptions): Promise<ResultFile> {
  const { scenario } = opts;
  checkCpus(scenario, opts.cpus);
  const kernels = resolveKernels(scenario, opts.kernels);
  let compiled;
  try {
    compiled = compile(scenario, opts.params);
  } catch (e) {
    if (e instanceof ScenarioError)
      throw new UsageError(e.message.replace(/^(pages|target) /, "--$1: "));
    throw e;
  }
  const offsetMaxNs = opts.offsetMaxNs ?? defaultOffsetMaxNs(opts.delays);
  if (offsetMaxNs > OFFSET_MAX_LIMIT_NS) throw new UsageError(`--offset-max: at most 1s`);
  const offsetMode = offsetModeFor(scenario, opts);
  const delaysNs = new Map([...opts.delays].map(([p, ns]) => [pointId(p), ns]));
  const arch = opts.arch ?? scenario.arch ?? "x86";
  const flushCeiling = arch === "arm64" ? ARM64_MAX_TLB_RANGE_PAGES : tlb_single_page_flush_ceiling;
  const delays = Object.fromEntries([...opts.delays].map(([p, ns]) => [p, formatNs(ns)]));
  const result: ResultFile = {
    schema: 1,
    scenario: scenario.name,
    command: opts.command,
    seed: opts.seed,
    machine: machineInfo(),
    cpus: opts.cpus,
    params: compiled.params,
    arch,
    offsetMaxNs,
    offsetMode,
    startedAt: new Date().toISOString(),
    partial: false,
    runs: [],
  };
  const machine = await Machine.start(opts.cpus);
  let stopping = false;
  void opts.stopRequested?.then(() => {
    stopping = true;
    machine.stop();
  });
  try {
    machine.load(compiled.image);
    const warmup = opts.warmupTrials ?? 20_000;
    if (warmup > 0) {
      await machine.run(
        {
          kernel: kernelIndex(kernels[0] as string),
          trials: warmup,
          durationMs: 500,
          seed: opts.seed ^ 0x5a5a5a5a,
          offsetMaxNs,
          delaysNs,
          flushCeiling,
          arch,
        },
        opts.watchdogMs,
      );
    }
    for (const name of kernels) {
      if (stopping) break;
      const k = kernelIndex(name);
      const batch: BatchConfig = {
        kernel: k,
        trials: opts.trials,
        durationMs: opts.durationMs,
        seed: opts.seed,
        offsetMaxNs,
        delaysNs,
        flushCeiling,
        arch,
        fixedOffsetNs: opts.fixedOffsetNs,
        trace: opts.trace,
      };
      opts.onKernel?.(name);
      const onProgress = (n: number): void => opts.onProgress?.(name, n);
      let s: BatchStats;
      let offsets: OffsetsReport;
      if (offsetMode === "window") {
        ({ stats: s, offsets } = await runAimed(machine, batch, opts.watchdogMs, {
          onProgress,
          stopping: () => stopping,
        }));
      } else {
        s = await machine.run(batch, opts.watchdogMs, onProgress);
        offsets = { mode: "uniform", offsetMaxNs };
      }
      const outcomes: Record<string, number> = {};
      compiled.outcomeLabels.forEach((label, i) => {
        const n = s.outcomes[i] ?? 0;
        if (n > 0 || compiled.forbidden[i]) outcomes[label] = n;
      });
      const run: RunResult = {
        kernel: name,
        commit: (KERNELS[k] as (typeof KERNELS)[number]).commit,
        trials: s.trials,
        lostWrites: s.lostWrites,
        faults: s.faults,
        useAfterFree: s.useAfterFree,
        firstUseAfterFreeTrial: s.firstUafTrial,
        forbiddenTrials: s.forbiddenTrials,
        outcomes,
        forbiddenOutcomes: compiled.outcomeLabels.filter((_, i) => compiled.forbidden[i]),
        trialsPerSecond: s.elapsedMs > 0 ? Math.round((s.trials / s.elapsedMs) * 1000) : 0,
        firstLostWriteMs: s.firstLostMs === null ? null : Math.round(s.firstLostMs * 1000) / 1000,
        firstLostWriteTrial: s.firstLostTrial,
        elapsedMs: Math.round(s.elapsedMs * 10) / 10,
        flushesPerTrial: s.trials > 0 ? round3(s.flushes / s.trials) : 0,
        ipisPerTrial: s.trials > 0 ? round3(s.ipis / s.trials) : 0,
        delays,
        offsets,
      };
      if (s.window !== undefined) run.window = { ...s.window, trials: s.trials };
      if (s.traceKeptTrial !== null)
        run.trace = {
          trial: s.traceKeptTrial,
          events: trace_read(machine.mem, machine.L, true).map((e) => [
            e.seq,
            e.cpu,
            e.kind,
            e.a,
            e.b,
          ]),
        };
      result.runs.push(run);
    }
  } catch (e) {
    await machine.close(true);
    if (e instanceof WatchdogError) {
      for (const st of e.states) st.stepName = stepName(scenario, compiled.image, st.cpu, st.step);
    }
    throw e;
  }
  result.partial = stopping;
  await machine.close();
  return result;
}

const round3 = (x: number): number => Math.round(x * 1000) / 1000;
