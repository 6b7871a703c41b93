/** The command line of `tlbrace explore`, `tlbrace replay` and `tlbrace explain`. */
import { readFileSync } from "node:fs";
import type { Command } from "commander";
import { KERNELS } from "../../lib/kernels/index.js";
import { Layout } from "../../lib/machine/layout.js";
import { compile } from "../../lib/scenarios/compile.js";
import type { ScenarioSpec } from "../../lib/scenarios/types.js";
import { formatNs, parseCount, parseDuration, UsageError } from "../../lib/units.js";
import { kernelName, renameResultKernels } from "../kernel-names.js";
import { Progress } from "../progress.js";
import type { ResultFile } from "../results.js";
import {
  checkOutPath,
  defaultResultPath,
  emitResult,
  jsonOnStdout,
  writeFileAtomic,
} from "../results.js";
import { resolveKernels } from "../run.js";
import { findScenario, loadScenarioFile } from "../scenarios.js";
import { runControlled } from "./controlled.js";
import {
  explainRows,
  explainSvg,
  explainText,
  packTrace,
  unpackTrace,
  type PackedEvent,
} from "./explain.js";
import {
  controlledMachine,
  explore,
  outcomeLabel,
  type ExploreResult,
  type Strategy,
} from "./explore.js";
import { prefixChooser } from "./strategies.js";
import { decodeChoices, decodeToken, kernelFingerprint, scenarioFingerprint } from "./token.js";

const STRATEGIES: Strategy[] = ["dfs", "dpor", "pct", "random"];

/** The table for a trace of scenario s. */
function table(
  s: ScenarioSpec,
  params: Record<string, number>,
  events: PackedEvent[],
  all: boolean,
): { text: string; svg: (title: string) => string } {
  const compiled = compile(s, params);
  const rows = explainRows(
    unpackTrace(events),
    s,
    compiled.image,
    new Layout(s.cpus.length),
    compiled.params,
    all,
  );
  const names = s.cpus.map((c) => c.name);
  return { text: explainText(rows, names), svg: (title) => explainSvg(rows, names, title) };
}

function scenarioOf(name: string, file: string | undefined): ScenarioSpec {
  if (file !== undefined) {
    const s = loadScenarioFile(file);
    if (s.name !== name) throw new UsageError(`--file holds scenario "${s.name}", not "${name}"`);
    return s;
  }
  return findScenario(name);
}

export function registerExplore(
  program: Command,
  command: string,
  sigintFlag: () => () => boolean,
): void {
  program
    .command("explore")
    .description(
      "run a scenario one CPU at a time in chosen orders (dfs, dpor, pct, random) and report the first violation",
    )
    .argument("[scenario]", "built-in scenario name")
    .option("--file <path>", "explore the scenario in this JSON file")
    .requiredOption("--kernel <name>", "kernel variant to explore")
    .option(
      "--strategy <dfs|dpor|pct|random>",
      "search strategy: dfs (preemption-bounded, fewest preemptions first), dpor (every interleaving, partial-order reduced, no bound), pct, random",
      "dfs",
    )
    .option("--bound <P>", "dfs: at most P preemptions per schedule (dpor has no bound)", "2")
    .option("--depth <D>", "pct: bug depth (D-1 priority change points)", "2")
    .option(
      "--budget <N|duration>",
      "stop after N schedules or this long (e.g. 5000, 30s); dfs and dpor default: none, pct/random: 10000",
    )
    .option("--seed <n>", "seed of pct and random", "1")
    .option(
      "--keep-going",
      "go on after the first violation: count every schedule's outcome (the first violation is shown)",
    )
    .option("--pages <n>", "scenario parameter pages")
    .option("--target <n>", "scenario parameter target")
    .option("--arch <x86|arm64>", "TLB-flush granularity (default: the scenario's, else x86)")
    .option(
      "--json",
      "print the result JSON on stdout and nothing else; no file unless --out is given",
    )
    .option(
      "--out <file>",
      "where to write the result JSON, whatever its name; - for stdout (default results/explore-<scenario>-<kernel>-<time>.json)",
    )
    .action(
      async (
        name: string | undefined,
        o: {
          file?: string;
          kernel: string;
          strategy: string;
          bound: string;
          depth: string;
          budget?: string;
          seed: string;
          keepGoing?: boolean;
          pages?: string;
          target?: string;
          arch?: string;
          json?: boolean;
          out?: string;
        },
      ) => {
        if ((name === undefined) === (o.file === undefined))
          throw new UsageError("name a built-in scenario or give --file PATH (one of them)");
        const s = o.file !== undefined ? loadScenarioFile(o.file) : findScenario(name as string);
        const kernel = resolveKernels(s, [o.kernel])[0] as string;
        if (!STRATEGIES.includes(o.strategy as Strategy))
          throw new UsageError(`--strategy: "${o.strategy}" (valid: ${STRATEGIES.join(", ")})`);
        if (o.arch !== undefined && o.arch !== "x86" && o.arch !== "arm64")
          throw new UsageError(`--arch: unknown architecture "${o.arch}" (valid: x86, arm64)`);
        const strategy = o.strategy as Strategy;
        let budgetSchedules = strategy === "dfs" || strategy === "dpor" ? 0 : 10_000;
        let budgetMs = 0;
        if (o.budget !== undefined) {
          if (/^\d+$/.test(o.budget.trim())) {
            budgetSchedules = parseCount(o.budget, "--budget");
          } else {
            budgetSchedules = 0;
            budgetMs = parseDuration(o.budget, "--budget") / 1e6;
          }
        }
        const params: Record<string, number> = {};
        if (o.pages !== undefined) params.pages = parseCount(o.pages, "--pages", 0);
        if (o.target !== undefined) params.target = parseCount(o.target, "--target", 0);
        checkOutPath(o);
        const progress = new Progress(process.stderr.isTTY, jsonOnStdout(o));
        progress.stage(`explore ${s.name} on ${kernel}: ${strategy}`);
        const r = await explore({
          scenario: s,
          kernel,
          strategy,
          bound: parseCount(o.bound, "--bound", 0, 20),
          depth: parseCount(o.depth, "--depth", 1, 10),
          budgetSchedules,
          budgetMs,
          seed: parseCount(o.seed, "--seed", 0, 0x7fffffff),
          params,
          arch: o.arch,
          keepGoing: o.keepGoing === true,
          command,
          onProgress: (n) =>
            progress.update("  schedules", n, budgetSchedules, budgetMs, "schedules"),
          stopRequested: sigintFlag(),
        });
        progress.done();
        const { path } = emitResult(o, r, () =>
          defaultResultPath("explore", `${s.name}-${kernel}`, new Date(r.startedAt)),
        );
        if (!jsonOnStdout(o)) process.stdout.write(`${formatExplore(r, s)}\n\nresult: ${path}\n`);
        if (r.violation !== null) process.exitCode = 1;
      },
    );

  program
    .command("replay")
    .description("rerun the exact interleaving of a replay token and show its outcome and trace")
    .argument("<token>", "the token explore printed")
    .option("--file <path>", "the scenario file, for a scenario that is not built in")
    .option("--all", "show every step, not only the ones that matter")
    .option("--json", "print the outcome and trace as JSON")
    .action(async (token: string, o: { file?: string; all?: boolean; json?: boolean }) => {
      const t = decodeToken(token);
      const s = scenarioOf(t.s, o.file);
      if (scenarioFingerprint(s) !== t.sh)
        throw new UsageError(
          `replay token: scenario "${t.s}" has changed since the token was made (fingerprint ${scenarioFingerprint(s)}, token ${t.sh}); explore it again`,
        );
      const kernel = KERNELS.find((k) => k.name === kernelName(t.k));
      if (kernel === undefined) throw new UsageError(`replay token: unknown kernel "${t.k}"`);
      if (kernelFingerprint(kernel) !== t.kh)
        throw new UsageError(
          `replay token: kernel "${t.k}" has changed since the token was made; explore it again`,
        );
      if (t.n !== s.cpus.length)
        throw new UsageError(`replay token: ${t.n} CPUs, the scenario has ${s.cpus.length}`);
      const choices = decodeChoices(t.x);
      const footprints = t.f === 1;
      const { machine, compiled, cfg } = await controlledMachine(s, t.p, t.k, t.a, footprints);
      let r;
      try {
        r = await runControlled(machine, cfg, t.n, prefixChooser(choices), { footprints });
      } finally {
        await machine.close();
      }
      if (
        r.decisions.length !== choices.length ||
        r.decisions.some((d, i) => d.chosen !== choices[i])
      )
        throw new UsageError(
          "replay token: the schedule no longer applies to this scenario and kernel",
        );
      const out = {
        scenario: s.name,
        kernel: t.k,
        steps: r.decisions.length,
        preemptions: r.preemptions,
        lostWrites: r.stats.lostWrites,
        useAfterFree: r.stats.useAfterFree,
        outcome: outcomeLabel(compiled, r.stats.outcomes),
        trace: packTrace(r.trace),
      };
      if (o.json) {
        process.stdout.write(JSON.stringify(out) + "\n");
        return;
      }
      process.stdout.write(
        `replay ${s.name} on ${t.k}: ${out.steps} steps, ${out.preemptions} preemptions\n` +
          `outcome ${out.outcome}: ${out.lostWrites} lost write(s), ${out.useAfterFree} use-after-free\n\n` +
          `${table(s, t.p, out.trace, o.all === true).text}\n`,
      );
    });

  program
    .command("explain")
    .description("draw a kept trace as the seed's table: a column per CPU, steps in global order")
    .argument("<result>", "a result file of explore, or of run --trace")
    .option(
      "--trial <n>",
      "the trial whose trace to draw (run --trace keeps the first forbidden one per kernel)",
    )
    .option("--kernel <name>", "the kernel whose trace to draw (run results with several)")
    .option("--file <path>", "the scenario file, for a scenario that is not built in")
    .option("--all", "show every step, not only the ones that matter")
    .option("--svg <file>", "also write the table as SVG")
    .action(
      (
        file: string,
        o: { trial?: string; kernel?: string; file?: string; all?: boolean; svg?: string },
      ) => {
        let data: unknown;
        try {
          data = JSON.parse(readFileSync(file, "utf8"));
        } catch (e) {
          throw new UsageError(`${file}: ${(e as Error).message}`);
        }
        const pick = pickTrace(
          renameResultKernels(data), // a result file naming a variant by an old name
          o.trial === undefined ? undefined : parseCount(o.trial, "--trial", 0),
          o.kernel === undefined ? undefined : kernelName(o.kernel),
        );
        const s = scenarioOf(pick.scenario, o.file);
        const t = table(s, pick.params, pick.events, o.all === true);
        process.stdout.write(`${pick.title}\n\n${t.text}\n`);
        if (o.svg !== undefined) writeFileAtomic(o.svg, t.svg(pick.title));
      },
    );
}

interface PickedTrace {
  scenario: string;
  params: Record<string, number>;
  title: string;
  events: PackedEvent[];
}

function pickTrace(
  data: unknown,
  trial: number | undefined,
  kernel: string | undefined,
): PickedTrace {
  const d = data as Partial<ExploreResult> & Partial<ResultFile>;
  if (d.kind === "explore") {
    const v = d.violation;
    if (v === null || v === undefined)
      throw new UsageError("this exploration found no violation: there is no trace to draw");
    if (trial !== undefined && trial !== v.schedule)
      throw new UsageError(`--trial: the violation is schedule ${v.schedule}`);
    return {
      scenario: d.scenario as string,
      params: d.params as Record<string, number>,
      title: `${d.scenario} on ${d.kernel}: schedule ${v.schedule} (${v.preemptions} preemptions), outcome ${v.outcome}`,
      events: v.trace,
    };
  }
  if (d.schema !== 1 || !Array.isArray(d.runs)) throw new UsageError("not a tlbrace result file");
  const kept = d.runs.filter(
    (r) => r.trace !== undefined && (kernel === undefined || r.kernel === kernel),
  );
  if (kept.length === 0)
    throw new UsageError(
      "no kept trace in this file: run with --trace, and a trace is kept only for a trial with a forbidden outcome",
    );
  const run = trial === undefined ? kept[0] : kept.find((r) => r.trace?.trial === trial);
  if (run?.trace === undefined)
    throw new UsageError(
      `--trial: no kept trace for trial ${trial}; kept: ${kept.map((r) => `${r.kernel} trial ${r.trace?.trial}`).join(", ")}`,
    );
  return {
    scenario: d.scenario as string,
    params: d.params as Record<string, number>,
    title: `${d.scenario} on ${run.kernel}: trial ${run.trace.trial}, the first with a forbidden outcome`,
    events: run.trace.events,
  };
}

/** The violation's table as SVG, for the report. */
export function violationSvg(r: ExploreResult, s: ScenarioSpec): string {
  const v = r.violation;
  if (v === null) return "";
  return table(s, r.params, v.trace, false).svg(
    `${r.scenario} on ${r.kernel}: the schedule that lost the write (${v.preemptions} preemptions)`,
  );
}

/**
 * The first kept trace of a run result (run --trace keeps the first forbidden trial per kernel)
 * as the explain table's SVG, for the report; null when the result keeps no trace or names a
 * scenario that is not built in.
 */
export function keptTraceSvg(data: unknown): string | null {
  try {
    const pick = pickTrace(data, undefined, undefined);
    return table(findScenario(pick.scenario), pick.params, pick.events, false).svg(pick.title);
  } catch (e) {
    if (e instanceof UsageError) return null;
    throw e;
  }
}

export function formatExplore(r: ExploreResult, s: ScenarioSpec): string {
  let head =
    `explore ${r.scenario} on ${r.kernel}: ${r.strategy}` +
    (r.strategy === "dfs"
      ? `, at most ${r.bound} preemptions`
      : r.strategy === "dpor"
        ? ", every interleaving, partial-order reduced"
        : r.strategy === "pct"
          ? `, depth ${r.depth}, seed ${r.seed}`
          : `, seed ${r.seed}`) +
    `\n${r.schedules.toLocaleString("en-US")} schedules in ${formatNs(r.elapsedMs * 1e6)} (${r.schedulesPerSecond.toLocaleString("en-US")} schedules/s), longest ${r.maxSteps} steps` +
    (r.perBound.length > 0
      ? `; per bound: ${r.perBound.map(([b, n]) => `${b}: ${n}`).join(", ")}`
      : "") +
    (r.sleepBlocked !== undefined
      ? `; ${r.sleepBlocked.toLocaleString("en-US")} cut short by sleep sets, ${r.races?.toLocaleString("en-US")} races`
      : "");
  const v = r.violation;
  if (r.outcomes !== undefined) {
    const tally = Object.entries(r.outcomes)
      .sort((a, b) => b[1] - a[1])
      .map(([label, n]) => `${label}: ${n.toLocaleString("en-US")}`)
      .join(", ");
    head += `\noutcomes (schedules): ${tally}`;
  }
  if (v !== null && r.violations !== undefined && r.violations > 1)
    head += `\n${r.violations.toLocaleString("en-US")} schedules with a forbidden outcome${r.exhaustive ? ", search complete" : ""}; the first:`;
  if (v === null) {
    if (r.strategy === "dfs" && r.exhaustive)
      return `${head}\nno violation within bound ${r.bound}: every schedule of ${r.scenario} with at most ${r.bound} preemptions was run on ${r.kernel}, exhaustively, and none lost a write or used a freed page`;
    if (r.strategy === "dpor" && r.exhaustive)
      return `${head}\nno violation in any interleaving: every class of equivalent schedules of ${r.scenario} (any number of preemptions) was run on ${r.kernel}, exhaustively, and none lost a write or used a freed page`;
    return `${head}\nno violation in ${r.schedules.toLocaleString("en-US")} schedules${r.strategy === "dfs" || r.strategy === "dpor" ? ` (the budget ran out before the ${r.strategy === "dfs" ? "bound" : "search"} was covered: not exhaustive)` : " (a sample, not a proof)"}${r.partial ? "\nPARTIAL: stopped early" : ""}`;
  }
  return (
    `${head}\nVIOLATION in schedule ${v.schedule}, with ${v.preemptions} preemption${v.preemptions === 1 ? "" : "s"}: ` +
    `${v.lostWrites > 0 ? `${v.lostWrites} lost write(s)` : ""}${v.lostWrites > 0 && v.useAfterFree > 0 ? ", " : ""}${v.useAfterFree > 0 ? "use-after-free" : ""} (outcome ${v.outcome})\n\n` +
    `${table(s, r.params, v.trace, false).text}\n\nreplay: tlbrace replay ${v.token}`
  );
}
