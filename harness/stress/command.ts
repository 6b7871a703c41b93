/**
 * `tlbrace stress` and `tlbrace merge`. Exit codes: 0 every cell agrees with its expected
 * verdict; 1 a cell contradicts it; 2 bad input, an unwritable result file at the start, a
 * final result that could not be written, or files merge refuses.
 */
import type { Command } from "commander";
import { availableParallelism } from "node:os";
import { MAX_CPUS } from "../../lib/machine/layout.js";
import { ScenarioError } from "../../lib/scenarios/compile.js";
import type { ScenarioSpec } from "../../lib/scenarios/types.js";
import { parseCount, parseDuration, UsageError } from "../../lib/units.js";
import { defaultResultPath, emitResult, jsonOnStdout, resultOutput, stamp } from "../results.js";
import { canRedraw } from "../progress.js";
import {
  builtinScenarios,
  catalogRaces,
  findScenario,
  loadScenarioFile,
  naturalForm,
} from "../scenarios.js";
import { Checkpointer } from "./checkpoint.js";
import { FAULT_ENV, parseFaultHooks } from "./faults.js";
import { QUARANTINE_AFTER, runFleet } from "./fleet.js";
import { checkpointLine, formatError, formatStress, liveLines, machinesText } from "./format.js";
import { LiveView } from "./live.js";
import { mergeNote, mergeResults } from "./merge.js";
import { buildCells, machineClasses, parseShard, type Shard } from "./plan.js";
import { prepareCells, scenarioVersion } from "./prepare.js";
import type { Mode, StressPlan } from "./result.js";
import { Schedule } from "./schedule.js";
import { Tally } from "./tally.js";
import { kernelName } from "../kernel-names.js";

const collect = (v: string, prev: string[]): string[] => [...prev, v];
const command = (): string => ["tlbrace", ...process.argv.slice(2)].join(" ");

interface StressFlags {
  scenario: string[];
  file: string[];
  kernel: string[];
  allKernels?: boolean;
  duration?: string;
  trialsPerCell?: string;
  machines?: string;
  cpus?: string;
  natural?: boolean;
  widened?: boolean;
  checkpoint: string;
  slice: string;
  shard: string;
  seed?: string;
  watchdog: string;
  warmup: string;
  out?: string;
  json?: boolean;
}

/**
 * SIGINT or SIGTERM once: stop after the current trial on every machine and write what was
 * counted, marked partial. A second signal exits at once (the last checkpoint stays).
 */
function stopOnSignals(warn: (line: string) => void): Promise<void> {
  return new Promise((resolve) => {
    let hits = 0;
    for (const sig of ["SIGINT", "SIGTERM"] as const) {
      process.on(sig, () => {
        if (++hits > 1) process.exit(sig === "SIGINT" ? 130 : 143);
        warn(`tlbrace: ${sig}: stopping after the current trials (again to abort)`);
        resolve();
      });
    }
  });
}

function durationMs(text: string, what: string, minMs: number): number {
  const ms = parseDuration(text, what, "s") / 1e6;
  if (ms < minMs) throw new UsageError(`${what}: "${text}" is too short (at least ${minMs} ms)`);
  return ms;
}

/**
 * The scenarios a campaign rotates through: those named, else every built-in one (widened: the
 * races' forms too, each with its own verdicts); at natural timing, every race of the catalog as
 * the form that fits this host's cores (naturalForm), so each cell's name says which form ran.
 */
/**
 * Natural timing is the product's claim, so it is the default wherever it can be honest: when
 * every scenario the campaign would run at natural timing has a core for each of its CPUs.
 * Elsewhere a CPU would wait for a core in the middle of its window, so the default is to widen.
 */
export function defaultMode(o: StressFlags, cores = availableParallelism()): Mode {
  const need = Math.max(...selectScenarios(o, "natural", cores).map((s) => s.cpus.length));
  return need <= cores ? "natural" : "widened";
}

function selectScenarios(
  o: StressFlags,
  mode: Mode,
  cores = availableParallelism(),
): ScenarioSpec[] {
  const files = o.file.map((f) => loadScenarioFile(f));
  const named = o.scenario.map(findScenario);
  if (named.length > 0 || files.length > 0) return [...named, ...files];
  if (mode === "widened") return builtinScenarios();
  return catalogRaces().map((race) => naturalForm(race, cores).scenario);
}

async function stress(flags: StressFlags): Promise<void> {
  // --out - is --json: the JSON on stdout, no file (and so no checkpoints).
  const o: StressFlags = jsonOnStdout(flags) ? { ...flags, json: true } : flags;
  if (o.natural && o.widened) throw new UsageError("give --natural or --widened, not both");
  if (o.duration !== undefined && o.trialsPerCell !== undefined)
    throw new UsageError("give --duration or --trials-per-cell, not both");
  const mode: Mode = o.natural ? "natural" : o.widened ? "widened" : defaultMode(o);
  const scenarios = selectScenarios(o, mode);
  const cells = buildCells(
    scenarios,
    o.kernel.map((k) => kernelName(k)),
    o.allKernels === true,
  );
  const need = Math.max(...scenarios.map((s) => s.cpus.length));
  const cpus = o.cpus === undefined ? null : parseCount(o.cpus, "--cpus", 2, MAX_CPUS);
  if (cpus !== null && cpus < need)
    throw new UsageError(`--cpus: a selected scenario needs ${need} CPUs, got ${cpus}`);
  const shard: Shard = parseShard(o.shard);
  const trialsPerCell =
    o.trialsPerCell === undefined ? null : parseCount(o.trialsPerCell, "--trials-per-cell");
  const classes = machineClasses(
    cells.map((c) => cpus ?? c.scenario.cpus.length),
    availableParallelism(),
    o.machines === undefined ? null : parseCount(o.machines, "--machines", 1, 1024),
  );
  const plan: StressPlan = {
    machines: Math.max(...classes.map((c) => c.machines)),
    machinesByCpus: Object.fromEntries(classes.map((c) => [String(c.cpus), c.machines])),
    cpus,
    durationMs: trialsPerCell === null ? durationMs(o.duration ?? "1m", "--duration", 100) : null,
    trialsPerCell,
    sliceMs: durationMs(o.slice, "--slice", 20),
    chunkTrials: 5000,
    checkpointMs: durationMs(o.checkpoint, "--checkpoint", 100),
    watchdogMs: durationMs(o.watchdog, "--watchdog", 100),
    warmupMs: o.warmup.trim() === "0" ? 0 : durationMs(o.warmup, "--warmup", 1),
  };
  const seed =
    o.seed === undefined
      ? Math.floor(Math.random() * 0x7fffffff)
      : parseCount(o.seed, "--seed", 0, 0x7fffffff);
  const faults = parseFaultHooks(process.env[FAULT_ENV]);
  let prepared;
  try {
    prepared = prepareCells(cells, mode);
  } catch (e) {
    if (e instanceof ScenarioError) throw new UsageError(e.message);
    throw e;
  }
  const tally = new Tally(prepared, {
    command: command(),
    mode,
    seed,
    shard,
    plan,
    scenarios: scenarios.map((s) => scenarioVersion(s, mode)),
  });
  const tag = shard.count > 1 ? `shard${shard.index}of${shard.count}` : "all";
  // The result file, rewritten at every checkpoint; none with --json alone or --out -.
  const path = resultOutput(o, () => defaultResultPath("stress", tag, new Date())).path;
  const live = new LiveView(canRedraw(process.stderr) && !o.json);
  const say = (line: string): void => live.print(line);
  const quietSay = (line: string): void => {
    if (!o.json) say(line);
  };
  const out = path === null ? null : new Checkpointer(path, say);
  out?.first(stamp(tally.result("running")));
  quietSay(
    `stress: ${cells.length} cells on ${machinesText(plan)}, ${mode}, seed ${seed}, shard ${shard.index}/${shard.count}${path === null ? "" : ` -> ${path}`}`,
  );

  const stopRequested = stopOnSignals(say);
  let stopped = false;
  void stopRequested.then(() => (stopped = true));
  const schedule = new Schedule({
    cells: cells.length,
    classes,
    seed,
    shard,
    trialsPerCell,
    chunkTrials: plan.chunkTrials,
    sliceMs: plan.sliceMs,
    deadline: performance.now() + (plan.durationMs ?? 0),
  });
  const checkpoint = setInterval(() => {
    if (out === null || path === null) return;
    const r = stamp(tally.result("running"));
    const ok = out.write(r);
    if (!live.enabled) quietSay(checkpointLine(r, path, ok));
  }, plan.checkpointMs);
  const redraw = setInterval(
    () => live.draw(liveLines(tally.result("running"), plan.durationMs)),
    1000,
  );
  const rss = setInterval(() => tally.sampleRss(), 5000);
  try {
    await runFleet({
      cells: prepared,
      schedule,
      watchdogMs: plan.watchdogMs,
      warmupMs: plan.warmupMs ?? 0,
      stopRequested,
      faults,
      onSlice: (u, s) => tally.add(u, s),
      onError: (e, quarantined) => {
        say(formatError(tally.error(e, quarantined)));
        if (quarantined)
          say(
            `tlbrace: ${e.scenario} on ${e.kernel} failed ${QUARANTINE_AFTER} times in a row: not run any further`,
          );
      },
    });
  } finally {
    clearInterval(checkpoint);
    clearInterval(redraw);
    clearInterval(rss);
    live.clear();
  }
  tally.sampleRss();
  tally.droppedTrials = schedule.dropped;
  const result = stamp(tally.result(stopped ? "stopped" : "done"));
  const written = out === null || out.write(result, true);
  if (o.json) process.stdout.write(JSON.stringify(result, null, 2) + "\n");
  else
    process.stdout.write(`${formatStress(result)}\n\nresult: ${written ? path : "NOT WRITTEN"}\n`);
  process.exitCode = !written ? 2 : result.totals.contradictions > 0 ? 1 : 0;
}

export function registerStress(program: Command): void {
  program
    .command("stress")
    .description(
      "every core busy: M machines rotating through scenario x kernel cells, surviving faults, shardable across hosts",
    )
    .option("--scenario <name>", "a built-in scenario; repeatable (default: all)", collect, [])
    .option("--file <path>", "also the scenario in this file; repeatable", collect, [])
    .option(
      "--kernel <name>",
      "only the cells of this kernel; repeatable (default: each scenario's buggy and fixed pair)",
      collect,
      [],
    )
    .option("--all-kernels", "every kernel variant on every scenario, as tlbrace matrix does")
    .option(
      "--duration <time>",
      "how long to run (default 1m; e.g. 60s, 1h; bare numbers are seconds)",
    )
    .option("--trials-per-cell <n>", "run exactly this many trials per cell, over all shards")
    .option(
      "--machines <n>",
      "machines running at once, for each machine size (default: floor(cores / CPUs), or one per core when a machine has more CPUs than cores)",
    )
    .option("--cpus <n>", "CPUs per machine (default: what each scenario needs)")
    .option(
      "--widened",
      "widen every window with the scenario's delays (the default where a scenario has more CPUs than the host has cores)",
    )
    .option(
      "--natural",
      "no injected delays, window-aware offsets, each race at its natural parameters as the form that fits the host's cores (the default where every one fits): buggy kernels may then show nothing",
    )
    .option("--checkpoint <time>", "write the counts to the result file this often", "30s")
    .option("--slice <time>", "run one cell this long before rotating to the next", "2s")
    .option(
      "--warmup <time>",
      "each new machine first runs its cell this long, uncounted, so the JIT has compiled the trial loop (0: none)",
      "1s",
    )
    .option("--shard <I/N>", "run shard I (0-based) of N of the campaign", "0/1")
    .option("--seed <n>", "campaign seed (default: random, saved)")
    .option("--watchdog <seconds>", "a machine making no progress this long has stalled", "10")
    .option(
      "--out <file>",
      "result file, rewritten at each checkpoint, whatever its name; - for stdout at the end (default results/stress-<shard>-<time>.json)",
    )
    .option(
      "--json",
      "print the result JSON on stdout and nothing else; no file (no checkpoints) unless --out is given",
    )
    .action(stress);

  program
    .command("merge")
    .description("combine the stress results of a campaign's shards into one, with per-cell rates")
    .argument("<files...>", "shard result files")
    .option(
      "--out <file>",
      "merged result file, whatever its name; - for stdout (default results/stress-merged-<time>.json)",
    )
    .option(
      "--json",
      "print the merged JSON on stdout and nothing else; no file unless --out is given",
    )
    .action((files: string[], o: { out?: string; json?: boolean }) => {
      const r = mergeResults(files, command());
      let path: string | null;
      try {
        ({ path } = emitResult(o, r, () => defaultResultPath("stress", "merged", new Date())));
      } catch (e) {
        if (e instanceof UsageError) throw new UsageError(`--out ${e.message}`);
        throw e;
      }
      if (!jsonOnStdout(o))
        process.stdout.write(`${mergeNote(r)}\n${formatStress(r)}\n\nresult: ${path}\n`);
      process.exitCode = r.totals.contradictions > 0 ? 1 : 0;
    });
}
