/**
 * `tlbrace matrix`: every scenario on every kernel variant, widened by default. The table shows
 * at a glance which fix closes which window, including the ones a fix did not close.
 */
import { KERNELS } from "../lib/kernels/index.js";
import { parseDuration } from "../lib/units.js";
import type { Arch, ScenarioSpec, Verdict } from "../lib/scenarios/types.js";
import { expectedVerdict, fixedKernel, verdictMatches } from "../lib/scenarios/verdict.js";
import { formatNs } from "../lib/units.js";
import { table } from "./format.js";
import { runScenario } from "./run.js";
import { WatchdogError } from "./machine.js";
import { naturalForm } from "./scenarios.js";
import type { MachineInfo } from "./sysinfo.js";
import { machineInfo } from "./sysinfo.js";
import type { Provenance } from "./results.js";

export interface MatrixCell {
  scenario: string;
  kernel: string;
  /** The modelled arch (absent in older results: the scenario's own). */
  arch?: Arch;
  trials: number;
  lostWrites: number;
  useAfterFree: number;
  /** Trials with a forbidden outcome of any kind (absent in older results: lost + UAF). */
  forbidden?: number;
  faults: number;
  expected: Verdict;
  matches: boolean;
  trialsPerSecond: number;
  delays: Record<string, string>;
  /**
   * Natural timing: a buggy kernel that showed nothing. Its window may be too narrow to hit
   * unwidened, so this is no contradiction (`matches` stays true), as stress's verdict says.
   */
  notShown?: boolean;
  /** The scenario parameters the cell ran at (natural: the scenario's "natural" ones). */
  params?: Record<string, number>;
  /** Window coverage: trials whose racing step began inside the window (absent in older results). */
  window?: { hits: number; trials: number };
  /** "window" or "uniform" start offsets. */
  offsets?: "window" | "uniform";
  /**
   * Natural timing on a host with fewer cores than the race has CPUs: the form that ran instead
   * (a scenario whose `formOf` is this race, or the race's two-CPU twin), by name.
   */
  form?: string;
  /**
   * Natural timing: what the kernel's first window learning measured with every CPU starting at
   * once: the window's width and when the racing step began after its CPU's start (the path the
   * racing CPU runs before it; a path longer than the window cannot fit in it).
   */
  timing?: { windowNs: number; raceNs: number };
  /** Natural timing: the run stopped making progress (the watchdog's words and where). */
  stalled?: string;
}

/**
 * Aim quality at natural timing, per race: on its fixed kernel, the share of trials whose racing
 * step began inside the window with window-aware offsets (the matrix's own cell) and with the
 * blind uniform sweep (a shorter run beside it).
 */
export interface MatrixAim {
  scenario: string;
  form?: string;
  arch: Arch;
  kernel: string;
  window: { hits: number; trials: number };
  uniform: { hits: number; trials: number };
}

export interface MatrixResult {
  schema: 1;
  /** tlbrace's version and commit (docs/outputs.md); absent in results written before. */
  tlbrace?: Provenance;
  kind: "matrix";
  command: string;
  seed: number;
  machine: MachineInfo;
  natural: boolean;
  trialsPerCell: number;
  startedAt: string;
  partial: boolean;
  cells: MatrixCell[];
  /** Natural timing: the cores the forms were chosen for (absent in older results). */
  cores?: number;
  /** Natural timing: which program each race ran, and why (race name -> one line). */
  forms?: Record<string, string>;
  /** Natural timing: aim quality per race (absent in older results). */
  aim?: MatrixAim[];
}

export interface MatrixOptions {
  scenarios: ScenarioSpec[];
  kernels: string[];
  trials: number;
  natural: boolean;
  /** Archs to run each scenario on (default: each scenario's own). */
  archs?: Arch[];
  seed: number;
  watchdogMs: number;
  command: string;
  /** Natural timing: the host's cores, which choose each race's form (see naturalForm). */
  cores?: number;
  /** Natural timing: trials of the uniform run beside each race's fixed kernel (0: none). */
  uniformTrials?: number;
  stopRequested?: Promise<void>;
  onCell?: (cell: MatrixCell) => void;
}

/** Trials of the uniform-offsets run that measures each race's aim beside the matrix. */
export const AIM_UNIFORM_TRIALS = 2000;

export function widenDelays(s: ScenarioSpec): Map<string, number> {
  return new Map(
    Object.entries(s.widen).map(([p, d]) => [p, parseDuration(d, `${s.name} widen ${p}`)]),
  );
}

export async function matrix(o: MatrixOptions): Promise<MatrixResult> {
  const result: MatrixResult = {
    schema: 1,
    kind: "matrix",
    command: o.command,
    seed: o.seed,
    machine: machineInfo(),
    natural: o.natural,
    trialsPerCell: o.trials,
    startedAt: new Date().toISOString(),
    partial: false,
    cells: [],
  };
  let stopped = false;
  void o.stopRequested?.then(() => (stopped = true));
  const cores = o.cores ?? result.machine.cores;
  if (o.natural) {
    result.cores = cores;
    result.forms = {};
    result.aim = [];
  }
  for (const race of o.scenarios)
    for (const arch of o.archs ?? [race.arch ?? "x86"]) {
      if (stopped) break;
      // At natural timing a race whose CPUs outnumber the cores runs as its form for fewer cores.
      const nf = o.natural ? naturalForm(race, cores) : undefined;
      const s = nf?.scenario ?? race;
      if (nf !== undefined && result.forms !== undefined) result.forms[race.name] = nf.why;
      // At natural timing each kernel runs on machines of its own, so that a stuck run (a buggy
      // kernel's livelock: CVE-2022-41222's lost migration entry is one) costs only its cell.
      const runs: { kernel: string; window?: { hits: number; trials: number } }[] = [];
      for (const kernels of o.natural ? o.kernels.map((k) => [k]) : [o.kernels]) {
        if (stopped) break;
        let r;
        try {
          r = await runScenario({
            arch,
            scenario: s,
            kernels,
            trials: o.trials,
            durationMs: 0,
            cpus: s.cpus.length,
            // At natural timing each scenario runs at the parameters its file declares for it.
            params: o.natural ? { ...(s.natural ?? {}) } : {},
            delays: o.natural ? new Map<string, number>() : widenDelays(s),
            seed: o.seed,
            watchdogMs: o.watchdogMs,
            command: o.command,
            stopRequested: o.stopRequested,
          });
        } catch (e) {
          if (!o.natural || !(e instanceof WatchdogError)) throw e;
          const cell = stalledCell(race, s, kernels[0] as string, arch, e, nf?.form);
          result.cells.push(cell);
          o.onCell?.(cell);
          continue;
        }
        if (r.partial) stopped = true;
        for (const run of r.runs) {
          runs.push(run);
          const expected = expectedVerdict(s, run.kernel, arch);
          const cell: MatrixCell = {
            scenario: race.name,
            kernel: run.kernel,
            arch,
            trials: run.trials,
            lostWrites: run.lostWrites,
            useAfterFree: run.useAfterFree,
            forbidden: run.forbiddenTrials,
            faults: run.faults,
            expected,
            matches:
              verdictMatches(expected, run.forbiddenTrials) ||
              (o.natural && expected === "forbidden" && run.forbiddenTrials === 0),
            trialsPerSecond: run.trialsPerSecond,
            delays: run.delays,
            params: r.params,
            offsets: r.offsetMode ?? "uniform",
          };
          if (o.natural && expected === "forbidden" && run.forbiddenTrials === 0)
            cell.notShown = true;
          if (run.window !== undefined)
            cell.window = { hits: run.window.hits, trials: run.window.trials };
          if (nf?.form !== undefined) cell.form = nf.form;
          const learned = run.offsets?.learned?.[0];
          if (o.natural && learned !== undefined)
            cell.timing = { windowNs: learned.closeNs - learned.openNs, raceNs: learned.raceNs };
          result.cells.push(cell);
          o.onCell?.(cell);
        }
      }
      if (o.natural && !stopped && (o.uniformTrials ?? AIM_UNIFORM_TRIALS) > 0 && s.window)
        result.aim?.push(await aimBeside(o, race, s, arch, runs, nf?.form));
    }
  result.partial = stopped;
  return result;
}

/**
 * A natural-timing run that stopped making progress: no verdict, but a finding. A kernel history
 * calls buggy may livelock where its race lets it (a migration entry left behind that a fault
 * waits on forever); one that history calls clean must not, so there the stall is a mismatch.
 */
function stalledCell(
  race: ScenarioSpec,
  s: ScenarioSpec,
  kernel: string,
  arch: Arch,
  e: WatchdogError,
  form: string | undefined,
): MatrixCell {
  const expected = expectedVerdict(s, kernel, arch);
  const where = e.states
    .filter((st) => st.stepName !== undefined && st.stepName !== "-")
    .map((st) => `CPU ${st.cpu} in ${st.stepName}`)
    .join(", ");
  return {
    scenario: race.name,
    kernel,
    arch,
    trials: 0,
    lostWrites: 0,
    useAfterFree: 0,
    forbidden: 0,
    faults: 0,
    expected,
    matches: expected !== "clean",
    trialsPerSecond: 0,
    delays: {},
    params: { ...(s.natural ?? {}) },
    ...(form === undefined ? {} : { form }),
    stalled: `${e.message}${where === "" ? "" : `: ${where}`}`,
  };
}

/**
 * The race's fixed kernel once more, with uniform offsets (the blind 0..2 us sweep), beside the
 * window-aware cell: how much the aim adds to the share of trials with the racing step inside the
 * window.
 */
async function aimBeside(
  o: MatrixOptions,
  race: ScenarioSpec,
  s: ScenarioSpec,
  arch: Arch,
  runs: { kernel: string; window?: { hits: number; trials: number } }[],
  form: string | undefined,
): Promise<MatrixAim> {
  const kernel = fixedKernel(s, arch);
  const aimed = runs.find((x) => x.kernel === kernel)?.window;
  const trials = o.uniformTrials ?? AIM_UNIFORM_TRIALS;
  const u = await runScenario({
    arch,
    scenario: s,
    kernels: [kernel],
    trials: Math.min(trials, o.trials),
    durationMs: 0,
    cpus: s.cpus.length,
    params: { ...(s.natural ?? {}) },
    delays: new Map<string, number>(),
    offsets: "uniform",
    seed: o.seed,
    watchdogMs: o.watchdogMs,
    command: o.command,
    stopRequested: o.stopRequested,
  });
  const uw = u.runs[0]?.window;
  return {
    scenario: race.name,
    ...(form === undefined ? {} : { form }),
    arch,
    kernel,
    window: { hits: aimed?.hits ?? 0, trials: aimed?.trials ?? 0 },
    uniform: { hits: uw?.hits ?? 0, trials: uw?.trials ?? 0 },
  };
}

function cellText(c: MatrixCell): string {
  if (c.stalled !== undefined) return `STALLED ${c.matches ? "(buggy: livelock)" : "MISMATCH"}`;
  const seen =
    c.lostWrites > 0
      ? `${c.lostWrites} lost`
      : c.useAfterFree > 0
        ? `${c.useAfterFree} UAF`
        : (c.forbidden ?? 0) > 0
          ? `${c.forbidden ?? 0} forbidden`
          : `none (${c.faults} flt)`;
  const win = c.window === undefined ? "" : ` [${c.window.hits} in window]`;
  const verdict =
    c.expected === "either"
      ? "(residual)"
      : c.notShown === true
        ? c.timing === undefined
          ? "not shown"
          : `not shown: window ${formatNs(c.timing.windowNs)}, path ${formatNs(c.timing.raceNs)}`
        : c.matches
          ? "ok"
          : "MISMATCH";
  return `${seen}${win} ${verdict}`;
}

const pctOf = (x: { hits: number; trials: number }): string =>
  x.trials === 0 ? "-" : `${((100 * x.hits) / x.trials).toFixed(1)}%`;

/** The aim table of a natural-timing matrix: window-aware against uniform, per race. */
export function formatAim(m: MatrixResult): string {
  if (m.aim === undefined || m.aim.length === 0) return "";
  return (
    `aim: the share of the fixed kernel's trials whose racing step began inside the window\n\n` +
    table([
      ["scenario", "ran as", "arch", "fixed kernel", "window-aware", "uniform"],
      ...m.aim.map((a) => [
        a.scenario,
        a.form ?? "as written",
        a.arch,
        a.kernel,
        `${pctOf(a.window)} of ${a.window.trials.toLocaleString("en-US")}`,
        `${pctOf(a.uniform)} of ${a.uniform.trials.toLocaleString("en-US")}`,
      ]),
    ])
  );
}

export function formatMatrix(m: MatrixResult): string {
  const kernels = KERNELS.map((k) => k.name).filter((k) => m.cells.some((c) => c.kernel === k));
  // One row per scenario and arch ("scenario" alone in results from before the arch column).
  const rows = [...new Set(m.cells.map((c) => `${c.scenario}\t${c.arch ?? ""}`))].map((r) => {
    const [scenario = "", arch = ""] = r.split("\t");
    return { scenario, arch };
  });
  const grid = table([
    ["scenario", "arch", ...kernels],
    ...rows.map(({ scenario: s, arch }) => [
      s,
      arch || "-",
      ...kernels.map((k) => {
        const c = m.cells.find(
          (x) => x.scenario === s && (x.arch ?? "") === arch && x.kernel === k,
        );
        return c === undefined ? "-" : cellText(c);
      }),
    ]),
  ]);
  const mismatches = m.cells.filter((c) => !c.matches);
  return (
    `matrix: ${m.trialsPerCell.toLocaleString("en-US")} trials per cell, ${m.natural ? "natural timing" : "windows widened (each scenario's widen delays)"}, seed ${m.seed}\n` +
    `cell: trials with lost writes, or with use-after-free accesses (UAF), or "none" with the trials that faulted instead; [N in window] = trials whose racing step began inside the scenario's window; ok = as kernel history says; not shown = a buggy kernel that lost nothing at natural timing (no contradiction: its window may be too narrow to hit unwidened); (residual) = a narrower window stays open, either is right\n` +
    (m.natural && m.forms !== undefined && Object.keys(m.forms).length > 0
      ? `forms (${m.cores ?? "?"} cores): ${Object.entries(m.forms)
          .map(([race, why]) => `${race} ${why}`)
          .join("; ")}\n`
      : "") +
    (m.natural
      ? `natural timing: no injected delay, window-aware start offsets, each scenario at its declared natural parameters (${[
          ...new Set(
            m.cells.map(
              (c) =>
                `${c.scenario} ${Object.entries(c.params ?? {})
                  .map(([k, v]) => `${k}=${v}`)
                  .join(" ")}`,
            ),
          ),
        ].join("; ")})\n`
      : "") +
    `\n` +
    grid +
    `\n\n${mismatches.length === 0 ? "every cell matches kernel history" : `${mismatches.length} cell(s) contradict kernel history`}` +
    m.cells
      .filter((c) => c.stalled !== undefined)
      .map((c) => `\nstalled: ${c.scenario} on ${c.kernel} (${c.stalled ?? ""})`)
      .join("") +
    (m.aim !== undefined && m.aim.length > 0 ? `\n\n${formatAim(m)}` : "") +
    (m.partial ? "\nPARTIAL: stopped early" : "")
  );
}
