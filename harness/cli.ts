#!/usr/bin/env node
/**
 * The tlbrace command line. Exit codes: 0 ok; 1 a check failed (smoke, matrix, stress, merge,
 * explore) or, for run, a kernel the scenario expects clean showed a forbidden outcome; 2 bad
 * input; 3 the watchdog stopped a stuck run; 4 a CPU of the model threw (a bug in the model).
 * Where results go (--out, --json, --out -): harness/results.ts and docs/outputs.md.
 */
import { Command, CommanderError, Help, Option } from "commander";
import { KERNEL_ALIASES, KERNELS } from "../lib/kernels/index.js";
import { ARCHS, type Arch } from "../lib/scenarios/types.js";
import { POINTS } from "../lib/machine/points.js";
import {
  builtinScenarios,
  catalogRaces,
  findScenario,
  loadScenarioFile,
  naturalForm,
} from "./scenarios.js";
import { formatRun, table } from "./format.js";
import { CpuFailure, WatchdogError } from "./machine.js";
import {
  checkOutPath,
  defaultResultPath,
  emitResult,
  jsonOnStdout,
  TLBRACE_VERSION,
  writeFileAtomic,
} from "./results.js";
import { expectedVerdict } from "../lib/scenarios/verdict.js";
import type { ScenarioSpec, Verdict } from "../lib/scenarios/types.js";
import { parseDelay, resolveKernels, runScenario } from "./run.js";
import { formatSmoke, smoke } from "./smoke.js";
import { AIM_UNIFORM_TRIALS, formatMatrix, matrix } from "./matrix.js";
import { defaultFlushCpus, flushBench, formatFlushBench } from "./bench/flush.js";
import { formatMremapBench, mremapBench } from "./bench/mremap.js";
import { BENCH_KERNELS } from "./bench/kernels.js";
import { kernelName } from "./kernel-names.js";
import {
  defaultMixedCpus,
  formatMixedBench,
  MIXED_BASELINE,
  MIXED_VARIANTS,
  mixedBench,
} from "./bench/mixed.js";
import { MIXED_MAX_CPUS } from "./bench/mixed-workload.js";
import { benchControl, type BenchControl } from "./bench/control.js";
import { formatTrialsBench, trialsBench } from "./bench/trials.js";
import { formatScaleBench, scaleBench } from "./bench/scale.js";
import { formatWindowBench, windowBench } from "./bench/window.js";
import {
  flushCharts,
  mixedChart,
  mremapCharts,
  naturalChart,
  windowCharts,
} from "./plot/charts.js";
import {
  formatNaturalBench,
  NATURAL_MODES,
  NATURAL_SEED,
  NATURAL_SIZES,
  naturalBench,
  naturalCells,
  naturalModes,
  naturalScans,
  naturalSizes,
  type OffsetMode,
} from "./bench/natural.js";
import { demo, formatDemo } from "./demo.js";
import { buildReport } from "./report.js";
import { registerExplore } from "./explore/command.js";
import { ScheduleError } from "./explore/controlled.js";
import { Progress } from "./progress.js";
import { registerStress } from "./stress/command.js";
import { availableParallelism } from "node:os";
import { MAX_CPUS } from "../lib/machine/layout.js";
import { parseCount, parseDuration, UsageError } from "../lib/units.js";

const collect = (v: string, prev: string[]): string[] => [...prev, v];
const command = ["tlbrace", ...process.argv.slice(2)].join(" ");

function randomSeed(): number {
  return Math.floor(Math.random() * 0x7fffffff);
}

/** Ctrl-C once: stop after the current trial and write what was counted. Twice: exit now. */
function stopOnSigint(): Promise<void> {
  return new Promise((resolve) => {
    let hits = 0;
    process.on("SIGINT", () => {
      if (++hits > 1) process.exit(130);
      process.stderr.write("\ntlbrace: stopping after the current trial (Ctrl-C again to abort)\n");
      resolve();
    });
  });
}

/**
 * Progress of a run: a stage per kernel, begun when the kernel's run begins (not at its first
 * report, ~250 ms in, which made the first ETA the time since that report: microseconds).
 */
function progressPrinter(
  p: Progress,
  total: number,
  totalMs: number,
): {
  onKernel: (kernel: string) => void;
  onProgress: (kernel: string, trials: number) => void;
} {
  return {
    onKernel: (kernel) => p.stage(`  ${kernel}`),
    onProgress: (kernel, trials) => p.update(`  ${kernel}`, trials, total, totalMs),
  };
}

/** Ctrl-C as a flag to poll between units of work (explore). */
function sigintFlag(): () => boolean {
  let stop = false;
  void stopOnSigint().then(() => (stop = true));
  return () => stop;
}

/** Progress and Ctrl-C for a bench; quiet when the JSON goes to stdout (--json, --out -). */
function benchCtl(o: { json?: boolean; out?: string }): BenchControl {
  return benchControl(jsonOnStdout(o), stopOnSigint());
}

/** The summary on stdout, unless the JSON went there; `result: PATH` when a file was written. */
function summary(o: { json?: boolean; out?: string }, text: string, path: string | null): void {
  if (jsonOnStdout(o)) return;
  process.stdout.write(`${text}\n${path === null ? "" : `\nresult: ${path}\n`}`);
}

/** --arch of matrix and smoke: one arch, or "all" (each scenario on both). */
function parseArchs(a: string | undefined): Arch[] | undefined {
  if (a === undefined) return undefined;
  if (a === "all") return [...ARCHS];
  if (a === "x86" || a === "arm64") return [a];
  throw new UsageError(`--arch: unknown architecture "${a}" (valid: x86, arm64, all)`);
}

function parseArch(a: string | undefined): "x86" | "arm64" | undefined {
  if (a === undefined || a === "x86" || a === "arm64") return a;
  throw new UsageError(`--arch: unknown architecture "${a}" (valid: x86, arm64)`);
}

function parseOffsets(m: string | undefined): "window" | "uniform" | undefined {
  if (m === undefined || m === "window" || m === "uniform") return m;
  throw new UsageError(`--offsets: unknown mode "${m}" (valid: window, uniform)`);
}

const program = new Command();
program
  .name("tlbrace")
  .description(
    "Reproduce Linux TLB-flush races on real parallel hardware: worker threads as CPUs sharing one modelled machine.",
  )
  .version(TLBRACE_VERSION, "-V, --version", "print the version of tlbrace")
  .exitOverride()
  .configureOutput({ outputError: () => undefined })
  .configureHelp({
    // A repeatable option starts from []: its description says what none means, so the help
    // says nothing rather than "(default: [])". Subcommands inherit this.
    optionDescription(this: Help, option: Option): string {
      const text = Help.prototype.optionDescription.call(this, option);
      return Array.isArray(option.defaultValue) && option.defaultValue.length === 0
        ? text.replace(/ ?\(default: \[\]\)$/, "")
        : text;
    },
  });

program
  .command("list")
  .description("list scenarios, kernel variants and named points")
  .option("--json", "print JSON")
  .option(
    "--file <path>",
    "also list the scenario in this file (validated); repeatable",
    collect,
    [],
  )
  .action((o: { json?: boolean; file: string[] }) => {
    const files = o.file.map((f) => ({ f, s: loadScenarioFile(f) }));
    const data = {
      scenarios: [
        ...builtinScenarios().map((s) => ({ s, file: "built-in" })),
        ...files.map(({ f, s }) => ({ s, file: f })),
      ].map(({ s, file }) => ({
        file,
        name: s.name,
        description: s.description,
        cpus: s.cpus.length,
        kernels: s.kernels,
        /** The arch the race is real on (the arch a run models by default). */
        arch: s.arch ?? "x86",
      })),
      kernels: KERNELS.map((k) => ({
        name: k.name,
        commit: k.commit,
        title: k.title,
        summary: k.summary,
      })),
      /** Old kernel names still accepted, and the variant each is now. */
      aliases: Object.fromEntries(Object.entries(KERNEL_ALIASES).map(([a, k]) => [a, k.name])),
      points: [...POINTS],
    };
    if (o.json) return void process.stdout.write(JSON.stringify(data, null, 2) + "\n");
    const out = [
      "Scenarios:",
      table(
        data.scenarios.map((s) => [
          `  ${s.name}`,
          s.file,
          `${s.cpus} CPUs`,
          s.arch,
          `${s.kernels[0]} vs ${s.kernels[1]}`,
          s.description,
        ]),
      ),
      "",
      "Kernels:",
      table(
        data.kernels.map((k) => [
          `  ${k.name}`,
          /^[0-9a-f]{12,40}$/.test(k.commit)
            ? k.commit.slice(0, 12)
            : k.commit.startsWith("v")
              ? `${k.commit} (tag)`
              : `${k.commit.split(":")[0] ?? ""} (no hash)`,
          `${k.title}: ${k.summary}`,
        ]),
      ),
      `Old names: ${Object.entries(data.aliases)
        .map(([a, k]) => `${a} is now ${k}`)
        .join("; ")}`,
      "",
      "Named points (for --delay POINT=DURATION):",
      ...POINTS.map((p) => `  ${p}`),
    ];
    process.stdout.write(out.join("\n") + "\n");
  });

interface RunFlags {
  file?: string;
  arch?: string;
  kernel: string[];
  trials?: string;
  duration?: string;
  cpus?: string;
  pages?: string;
  target?: string;
  delay: string[];
  seed?: string;
  offsetMax?: string;
  offsets?: string;
  watchdog: string;
  trace?: boolean;
  json?: boolean;
  out?: string;
}

program
  .command("run")
  .description("run a scenario on each kernel it compares (or those named) and count lost writes")
  .addHelpText(
    "after",
    [
      "",
      "Prints a table, then a litmus line per kernel:",
      "  Observation <scenario> Never|Sometimes|Always <forbidden> <other> on <kernel>: rate, 95% CI; expected",
      "",
      "Exit status: 1 when a kernel the scenario expects clean (its expect/expectOn, else kernel",
      "history) shows a forbidden outcome (a lost write or a use-after-free); 0 otherwise, whatever",
      "the buggy kernels show; 2 bad input; 3 a stuck run; 4 a bug in the model. So `git bisect run`",
      "and CI steps can use it. See docs/outputs.md.",
    ].join("\n"),
  )
  .argument("[scenario]", "built-in scenario name (see tlbrace list)")
  .option("--file <path>", "run the scenario in this JSON file instead of a built-in one")
  .option(
    "--kernel <name>",
    "kernel variant to run; repeatable (default: the scenario's buggy and fixed pair)",
    collect,
    [],
  )
  .option("--trials <n>", "trials per kernel (default 100000)")
  .option(
    "--duration <time>",
    "run each kernel for this long instead (e.g. 10, 10s, 2m; bare numbers are seconds)",
  )
  .option("--cpus <n>", "CPUs of the modelled machine (default: what the scenario needs)")
  .option("--pages <n>", "size of the mapping in pages (scenario parameter)")
  .option("--target <n>", "the page thread 1 writes (scenario parameter)")
  .option(
    "--delay <point=duration>",
    "hold CPUs at a named point, e.g. move_ptes:unlocked=100us; repeatable",
    collect,
    [],
  )
  .option("--seed <n>", "seed of the start offsets (default: random, printed)")
  .option(
    "--arch <x86|arm64>",
    "TLB-flush granularity of the modelled MMU (default: the scenario's, else x86)",
  )
  .option(
    "--offsets <mode>",
    "start offsets: window (learn where the scenario's window lies and aim the racing step across it; the default when the scenario names a window) or uniform (a blind sweep of 0..--offset-max)",
  )
  .option(
    "--offset-max <time>",
    "uniform offsets: largest per-CPU start offset (default: max(2us, the largest --delay)); implies --offsets uniform",
  )
  .option("--watchdog <seconds>", "stop a run that makes no progress for this long", "10")
  .option(
    "--trace",
    "record every CPU's steps and keep the first forbidden trial's trace per kernel (tlbrace explain draws it)",
  )
  .option(
    "--json",
    "print the result JSON on stdout and nothing else; no file unless --out is given",
  )
  .option(
    "--out <file>",
    "where to write the result JSON, whatever its name; - for stdout (default results/run-<scenario>-<time>.json)",
  )
  .action(async (name: string | undefined, o: RunFlags) => {
    if ((name === undefined) === (o.file === undefined)) {
      throw new UsageError("name a built-in scenario or give --file PATH (one of them)");
    }
    const scenario = o.file !== undefined ? loadScenarioFile(o.file) : findScenario(name as string);
    if (o.trials !== undefined && o.duration !== undefined)
      throw new UsageError("give --trials or --duration, not both");
    const params: Record<string, number> = {};
    if (o.pages !== undefined) params.pages = parseCount(o.pages, "--pages", 0);
    if (o.target !== undefined) params.target = parseCount(o.target, "--target", 0);
    const durationMs =
      o.duration === undefined ? 0 : parseDuration(o.duration, "--duration", "s") / 1e6;
    if (o.duration !== undefined && durationMs < 1)
      throw new UsageError(`--duration: "${o.duration}" is too short`);
    const trials =
      o.duration !== undefined
        ? 0
        : o.trials === undefined
          ? 100_000
          : parseCount(o.trials, "--trials");
    const seed = o.seed === undefined ? randomSeed() : parseCount(o.seed, "--seed", 0, 0x7fffffff);
    const progress = new Progress(process.stderr.isTTY, jsonOnStdout(o));
    checkOutPath(o);
    const watchdogMs = parseDuration(o.watchdog, "--watchdog", "s") / 1e6;
    if (watchdogMs < 100)
      throw new UsageError(`--watchdog: "${o.watchdog}" is too short (at least 0.1s)`);
    const result = await runScenario({
      scenario,
      kernels: o.kernel,
      trials,
      durationMs,
      cpus: o.cpus === undefined ? scenario.cpus.length : parseCount(o.cpus, "--cpus"),
      params,
      delays: new Map(o.delay.map(parseDelay)),
      arch: parseArch(o.arch),
      seed,
      offsetMaxNs:
        o.offsetMax === undefined ? undefined : parseDuration(o.offsetMax, "--offset-max"),
      offsets: parseOffsets(o.offsets),
      watchdogMs,
      command,
      ...progressPrinter(progress, trials, durationMs),
      stopRequested: stopOnSigint(),
      trace: o.trace === true,
    });
    progress.done();
    const { path, result: saved } = emitResult(o, result, () =>
      defaultResultPath("run", scenario.name, new Date(result.startedAt)),
    );
    // What history says of each kernel here; a kernel expected clean that showed a forbidden
    // outcome makes the exit status 1 (git bisect run, CI).
    const expected: Record<string, Verdict> = Object.fromEntries(
      saved.runs.map((r) => [r.kernel, expectedVerdict(scenario, r.kernel, saved.arch)]),
    );
    summary(o, formatRun(saved, expected).trimEnd(), path);
    const unexpected = saved.runs.filter(
      (r) => expected[r.kernel] === "clean" && r.forbiddenTrials > 0,
    );
    for (const r of unexpected)
      process.stderr.write(
        `tlbrace: ${scenario.name} expects ${r.kernel} clean${saved.arch !== undefined ? ` on ${saved.arch}` : ""}, but ${r.forbiddenTrials.toLocaleString("en-US")} of ${r.trials.toLocaleString("en-US")} trials showed a forbidden outcome: exit 1\n`,
      );
    process.exitCode = unexpected.length > 0 ? 1 : 0;
  });

program
  .command("demo")
  .description(
    "what npm start runs: the seed race at natural timing, 1024 pages and 1 page, on the buggy and the fixed kernel, explained",
  )
  .option("--seconds <n>", "seconds per kernel at 1024 pages (a quarter of it at 1 page)", "5")
  .option("--seed <n>", "seed of the start offsets (default: random, printed)")
  .option(
    "--out <file>",
    "where to write the result JSON; - for stdout (default results/demo-mremap-mkclean-<time>.json)",
  )
  .action(async (o: { seconds: string; seed?: string; out?: string }) => {
    const seed = o.seed === undefined ? randomSeed() : parseCount(o.seed, "--seed", 0, 0x7fffffff);
    const seconds = parseCount(o.seconds, "--seconds", 1, 600);
    checkOutPath(o);
    const progress = new Progress(process.stderr.isTTY, jsonOnStdout(o));
    const d = await demo({
      seconds,
      seed,
      command,
      onStage: (label) => progress.stage(label),
      stopRequested: stopOnSigint(),
    });
    progress.done();
    const { path } = emitResult(o, d, () =>
      defaultResultPath("demo", "mremap-mkclean", new Date(d.startedAt)),
    );
    if (!jsonOnStdout(o)) process.stdout.write(`${formatDemo(d, path ?? "-")}\n`);
  });

program
  .command("matrix")
  .description("every scenario on every kernel variant (widened windows), against kernel history")
  .option("--scenario <name>", "only this scenario; repeatable", collect, [])
  .option("--kernel <name>", "only this kernel; repeatable", collect, [])
  .option("--trials <n>", "trials per cell", "2000")
  .option(
    "--natural",
    "no injected delay: window-aware start offsets, each scenario at the parameters its file declares for natural timing (buggy cells may still show nothing)",
  )
  .option(
    "--arch <x86|arm64|all>",
    "modelled arch: one, or all (every scenario on each); default: each scenario's own (the arch its race is real on)",
  )
  .option("--seed <n>", "seed of the start offsets", "1")
  .option("--watchdog <seconds>", "stop a run that makes no progress for this long", "10")
  .option(
    "--cores <n>",
    "--natural: choose each race's form as if the host had this many cores (a race with more CPUs than cores runs as its form for fewer cores); default: this host's",
  )
  .option(
    "--uniform-trials <n>",
    "--natural: trials of the uniform-offsets run beside each race's fixed kernel, for the aim table (0: none)",
    String(AIM_UNIFORM_TRIALS),
  )
  .option(
    "--json",
    "print the result JSON on stdout and nothing else; no file unless --out is given",
  )
  .option(
    "--out <file>",
    "where to write the result JSON; - for stdout (default results/matrix-all-<time>.json)",
  )
  .action(
    async (o: {
      scenario: string[];
      kernel: string[];
      trials: string;
      natural?: boolean;
      arch?: string;
      seed: string;
      watchdog: string;
      cores?: string;
      uniformTrials: string;
      json?: boolean;
      out?: string;
    }) => {
      // Widened, every built-in scenario (a race's forms too: each must give history's verdicts);
      // at natural timing, each race of the catalog once, as the form that fits the host.
      const scenarios =
        o.scenario.length > 0
          ? o.scenario.map(findScenario)
          : o.natural === true
            ? catalogRaces()
            : builtinScenarios();
      if (o.natural !== true && o.cores !== undefined)
        throw new UsageError("--cores chooses the forms of a --natural run: add --natural");
      checkOutPath(o);
      const kernels =
        o.kernel.length === 0 ? KERNELS.map((k) => k.name) : o.kernel.map((k) => kernelName(k));
      for (const k of kernels) {
        if (!KERNELS.some((x) => x.name === k)) {
          throw new UsageError(
            `unknown kernel "${k}" (valid: ${KERNELS.map((x) => x.name).join(", ")})`,
          );
        }
      }
      const result = await matrix({
        scenarios,
        kernels,
        trials: parseCount(o.trials, "--trials"),
        natural: o.natural === true,
        archs: parseArchs(o.arch),
        seed: parseCount(o.seed, "--seed", 0, 0x7fffffff),
        watchdogMs: parseDuration(o.watchdog, "--watchdog", "s") / 1e6,
        command,
        ...(o.cores === undefined ? {} : { cores: parseCount(o.cores, "--cores", 1, 1024) }),
        uniformTrials: parseCount(o.uniformTrials, "--uniform-trials", 0),
        stopRequested: stopOnSigint(),
        onCell: (c) => {
          if (!jsonOnStdout(o))
            process.stderr.write(
              `  ${c.scenario}${c.form !== undefined ? ` as ${c.form}` : ""}${c.arch !== undefined ? ` (${c.arch})` : ""} on ${c.kernel}: ${c.matches ? "ok" : "MISMATCH"}\n`,
            );
        },
      });
      const { path } = emitResult(o, result, () =>
        defaultResultPath("matrix", "all", new Date(result.startedAt)),
      );
      summary(o, formatMatrix(result), path);
      process.exitCode = result.cells.every((c) => c.matches) ? 0 : 1;
    },
  );

program
  .command("smoke")
  .description(
    "CI smoke test: with each window widened, buggy kernels show the race and fixed ones do not, with faults or racing steps in the window as proof",
  )
  .option("--trials <n>", "trials on each fixed kernel", "5000")
  .option("--buggy-trials <n>", "trials on each buggy kernel", "2000")
  .option(
    "--arch <x86|arm64|all>",
    "modelled arch: one, or all (every scenario on each); default: each scenario's own",
  )
  .option("--seed <n>", "seed of the start offsets", "1")
  .option("--watchdog <seconds>", "stop a run that makes no progress for this long", "10")
  .option(
    "--natural",
    "every race of the catalog at natural timing (nothing injected, window-aware offsets, its natural parameters, the form that fits this host's cores); fails only if a fixed kernel shows a forbidden outcome, buggy kernels' rates are printed",
  )
  .option("--seconds <n>", "--natural: seconds on each kernel", "1.5")
  .option("--json", "print the checks as JSON")
  .action(
    async (o: {
      trials: string;
      buggyTrials: string;
      arch?: string;
      seed: string;
      watchdog: string;
      natural?: boolean;
      seconds: string;
      json?: boolean;
    }) => {
      const seconds = Number(o.seconds);
      if (!(seconds > 0 && seconds <= 600))
        throw new UsageError(
          `--seconds: expected a number of seconds from 0 to 600, got "${o.seconds}"`,
        );
      const checks = await smoke({
        ...(o.natural === true ? { natural: { seconds, cores: availableParallelism() } } : {}),
        archs: parseArchs(o.arch),
        fixedTrials: parseCount(o.trials, "--trials"),
        buggyTrials: parseCount(o.buggyTrials, "--buggy-trials"),
        seed: parseCount(o.seed, "--seed", 0, 0x7fffffff),
        watchdogMs: parseDuration(o.watchdog, "--watchdog", "s") / 1e6,
        command,
      });
      const ok = checks.every((c) => c.ok);
      if (o.json)
        process.stdout.write(
          JSON.stringify(
            { ok, ...(o.natural === true ? { natural: true } : {}), checks },
            null,
            2,
          ) + "\n",
        );
      else process.stdout.write(`${formatSmoke(checks)}\n\nsmoke: ${ok ? "PASS" : "FAIL"}\n`);
      process.exitCode = ok ? 0 : 1;
    },
  );

const bench = program
  .command("bench")
  .description(
    "benchmarks of the modelled machine: flush, mremap, mixed, natural, window, trials, scale",
  );
bench
  .command("flush")
  .description(
    "shootdown latency to 1..N-1 targets, 1 to 512 pages, spinning and parked targets, vs a ping-pong floor",
  )
  .option("--cpus <n>", "CPUs of the machine (may exceed the cores, to show oversubscription)")
  .option("--quick", "fewer samples per cell")
  .option(
    "--json",
    "print the result JSON on stdout and nothing else; no file unless --out is given",
  )
  .option(
    "--out <file>",
    "where to write the result JSON, whatever its name; - for stdout; charts go beside it (default results/bench-flush-<time>.json)",
  )
  .action(async (o: { cpus?: string; quick?: boolean; json?: boolean; out?: string }) => {
    const cpus = o.cpus === undefined ? defaultFlushCpus() : parseCount(o.cpus, "--cpus", 2, 32);
    checkOutPath(o);
    const r = await flushBench(cpus, o.quick === true, command, benchCtl(o));
    const { path } = emitResult(
      o,
      r,
      () => defaultResultPath("bench", "flush", new Date(r.startedAt)),
      () => {
        const c = flushCharts(r);
        return { ranges: c.ranges, targets: c.targets, histogram: c.histogram };
      },
    );
    summary(o, formatFlushBench(r), path);
  });

bench
  .command("mremap")
  .description("mremap cost per kernel variant, clean and dirty regions of 1 to 4096 pages")
  .option("--quick", "60 ms per cell instead of 400")
  .option(
    "--json",
    "print the result JSON on stdout and nothing else; no file unless --out is given",
  )
  .option(
    "--out <file>",
    "where to write the result JSON, whatever its name; - for stdout; charts go beside it (default results/bench-mremap-<time>.json)",
  )
  .action(async (o: { quick?: boolean; json?: boolean; out?: string }) => {
    checkOutPath(o);
    const r = await mremapBench(o.quick === true, command, benchCtl(o));
    const { path } = emitResult(
      o,
      r,
      () => defaultResultPath("bench", "mremap", new Date(r.startedAt)),
      () => {
        const c = mremapCharts(r);
        return { flushes: c.flushes, ops: c.ops };
      },
    );
    summary(o, formatMremapBench(r), path);
  });

bench
  .command("trials")
  .description(
    "the harness's own speed: trials/s per scenario and kernel, and the empty-trial overhead",
  )
  .option(
    "--cpus <n>",
    "also run every scenario at this many CPUs, extra ones answering IPIs (default: the core count)",
  )
  .option("--quick", "0.3 s per cell instead of 2")
  .option(
    "--json",
    "print the result JSON on stdout and nothing else; no file unless --out is given",
  )
  .option(
    "--out <file>",
    "where to write the result JSON, whatever its name; - for stdout (default results/bench-trials-<time>.json)",
  )
  .action(async (o: { cpus?: string; quick?: boolean; json?: boolean; out?: string }) => {
    const cpus =
      o.cpus === undefined
        ? Math.max(2, availableParallelism())
        : parseCount(o.cpus, "--cpus", 2, MAX_CPUS);
    checkOutPath(o);
    const r = await trialsBench(o.quick === true, command, cpus, benchCtl(o));
    const { path } = emitResult(o, r, () =>
      defaultResultPath("bench", "trials", new Date(r.startedAt)),
    );
    summary(o, formatTrialsBench(r), path);
  });

bench
  .command("scale")
  .description(
    "stress scaling: trials/s, efficiency, forbidden outcomes/s, cores busy and memory for 1..N machines running at once",
  )
  .argument("[scenario]", "built-in scenario", "mremap-mkclean")
  .option("--kernel <name>", "kernel variant (default: the scenario's first)")
  .option("--machines <n>", "up to this many machines (default: the core count, at least 2)")
  .option("--seconds <n>", "counted seconds per point", "10")
  .option("--warmup <n>", "uncounted seconds each machine runs first", "1")
  .option("--widened", "widen the scenario's windows with its delays (default: natural timing)")
  .option("--quick", "2 s per point, 0.5 s warm-up")
  .option(
    "--json",
    "print the result JSON on stdout and nothing else; no file unless --out is given",
  )
  .option(
    "--out <file>",
    "where to write the result JSON, whatever its name; - for stdout (default results/bench-scale-<time>.json)",
  )
  .action(
    async (
      name: string,
      o: {
        kernel?: string;
        machines?: string;
        seconds: string;
        warmup: string;
        widened?: boolean;
        quick?: boolean;
        json?: boolean;
        out?: string;
      },
    ) => {
      const s = findScenario(name);
      const kernel = resolveKernels(s, [o.kernel ?? s.kernels[0]])[0] as string;
      checkOutPath(o);
      const r = await scaleBench(
        {
          scenario: s,
          kernel,
          mode: o.widened === true ? "widened" : "natural",
          maxMachines:
            o.machines === undefined
              ? Math.max(2, availableParallelism())
              : parseCount(o.machines, "--machines", 1, 64),
          seconds: o.quick === true ? 2 : parseCount(o.seconds, "--seconds", 1, 3600),
          warmupSeconds: o.quick === true ? 0.5 : parseCount(o.warmup, "--warmup", 0, 60),
          command,
        },
        benchCtl(o),
      );
      const { path } = emitResult(o, r, () =>
        defaultResultPath("bench", "scale", new Date(r.startedAt)),
      );
      summary(o, formatScaleBench(r), path);
    },
  );

bench
  .command("window")
  .description(
    "a scenario's race window: forbidden rate against injected delay and against start offset",
  )
  .argument("[scenario]", "built-in scenario", "mremap-mkclean")
  .option("--quick", "150 trials per point instead of 1500")
  .option(
    "--json",
    "print the result JSON on stdout and nothing else; no file unless --out is given",
  )
  .option(
    "--out <file>",
    "where to write the result JSON, whatever its name; - for stdout; charts go beside it (default results/bench-window-<scenario>-<time>.json)",
  )
  .action(async (name: string, o: { quick?: boolean; json?: boolean; out?: string }) => {
    const s = findScenario(name);
    if (s.cpus.length !== 2)
      throw new UsageError(
        `bench window: ${name} has ${s.cpus.length} CPUs; the offset sweep needs a 2-CPU scenario`,
      );
    checkOutPath(o);
    const r = await windowBench(s, o.quick === true, command, benchCtl(o));
    const { path } = emitResult(
      o,
      r,
      () => defaultResultPath("bench", `window-${name}`, new Date(r.startedAt)),
      () => {
        const c = windowCharts(r);
        return { delay: c.delay, offset: c.offset };
      },
    );
    summary(o, formatWindowBench(r, s), path);
  });

interface NaturalFlags {
  scenario?: string;
  file?: string;
  kernel: string[];
  seconds?: string;
  quick?: boolean;
  sizes?: string;
  scan?: string;
  offsets?: string;
  seed: string;
  json?: boolean;
  out?: string;
}

/** "1,16,64" as counts; each bounded by the scenario later, where its range is known. */
function parseList(text: string, what: string): number[] {
  return text.split(",").map((x) => parseCount(x.trim(), what, 0));
}

/** The scenario a bench natural runs: --scenario, --file, or the seed. */
function naturalScenario(o: NaturalFlags): ScenarioSpec {
  if (o.scenario !== undefined && o.file !== undefined)
    throw new UsageError("give --scenario NAME or --file PATH, not both");
  if (o.file !== undefined) return loadScenarioFile(o.file);
  // A race with more CPUs than this host has cores runs as its form for fewer cores (the run
  // says so once its options are known to be good).
  return naturalForm(findScenario(o.scenario ?? NATURAL_SEED), availableParallelism()).scenario;
}

bench
  .command("natural")
  .description(
    "a scenario's race at natural timing (nothing injected; default the seed, mremap-mkclean): forbidden rate, time to the first lost write and window hits against mapping size, scan size and start-offset mode",
  )
  .option("--scenario <name>", `built-in scenario (default ${NATURAL_SEED})`)
  .option("--file <path>", "run the scenario in this JSON file instead of a built-in one")
  .option(
    "--kernel <name>",
    "kernel variant to run; repeatable (default: the scenario's buggy and fixed pair)",
    collect,
    [],
  )
  .option(
    "--seconds <n>",
    "counted seconds per kernel and cell, e.g. 3 or 0.2 (default 3; --quick 0.5)",
  )
  .option("--quick", "0.5 s per kernel and cell")
  .option(
    "--sizes <list>",
    `mapping sizes in pages (the pages parameter), comma-separated, inside the scenario's range (default ${NATURAL_SIZES.join(",")}, those the scenario allows)`,
  )
  .option(
    "--scan <list>",
    "pages reclaim or migration scans (the scan parameter), comma-separated; only for scenarios that have one (default: the scenario's natural scan)",
  )
  .option("--offsets <mode>", "only this start-offset mode: uniform or window (default: both)")
  .option("--seed <n>", "seed of the start offsets", "1")
  .option(
    "--json",
    "print the result JSON on stdout and nothing else; no file unless --out is given",
  )
  .option(
    "--out <file>",
    "where to write the result JSON, whatever its name; - for stdout; charts go beside it (default results/bench-natural-<time>.json, or bench-natural-<scenario>-<time>.json)",
  )
  .action(async (o: NaturalFlags) => {
    const s = naturalScenario(o);
    const kernels = o.kernel.length > 0 ? resolveKernels(s, o.kernel) : [];
    if (o.offsets !== undefined && !(NATURAL_MODES as readonly string[]).includes(o.offsets))
      throw new UsageError(`--offsets: unknown mode "${o.offsets}" (valid: window, uniform)`);
    const modes = naturalModes(s, o.offsets as OffsetMode | undefined);
    const sizes = naturalSizes(
      s,
      o.sizes === undefined ? undefined : parseList(o.sizes, "--sizes"),
    );
    const scans = naturalScans(s, o.scan === undefined ? undefined : parseList(o.scan, "--scan"));
    const cells = naturalCells(s, sizes, scans);
    // Seconds may be a fraction (a short test run); an explicit --seconds wins over --quick.
    const seconds =
      o.seconds !== undefined
        ? parseDuration(o.seconds, "--seconds", "s") / 1e9
        : o.quick === true
          ? 0.5
          : 3;
    if (seconds < 0.05 || seconds > 3600)
      throw new UsageError(`--seconds: "${o.seconds}" is not from 0.05 to 3600`);
    checkOutPath(o);
    if (s.formOf !== undefined && s.formOf === o.scenario)
      process.stderr.write(
        `bench natural: ${o.scenario} runs as ${s.name}, its form for a host with ${availableParallelism()} cores\n`,
      );
    const r = await naturalBench(
      {
        scenario: s,
        kernels,
        quick: o.quick === true,
        seconds,
        cells,
        modes,
        seed: parseCount(o.seed, "--seed", 0, 0x7fffffff),
        command,
      },
      benchCtl(o),
    );
    // The seed keeps the file name it always had; another scenario's name joins it.
    const name = s.name === NATURAL_SEED && o.file === undefined ? "natural" : `natural-${s.name}`;
    const { path } = emitResult(
      o,
      r,
      () => defaultResultPath("bench", name, new Date(r.startedAt)),
      () => ({ rate: naturalChart(r) }),
    );
    summary(o, formatNaturalBench(r), path);
  });

bench
  .command("mixed")
  .description(
    "a kernel-build-like mix on every CPU, A/B interleaved per kernel variant: throughput ratio with a 95% interval",
  )
  .option("--cpus <n>", `CPUs of the machine (default: the core count, at most ${MIXED_MAX_CPUS})`)
  .option(
    "--kernel <name>",
    `variant B to compare with the baseline; repeatable (default: ${MIXED_VARIANTS.join(", ")})`,
    collect,
    [],
  )
  .option("--baseline <name>", "kernel A", MIXED_BASELINE)
  .option("--pairs <n>", "A/B pairs per variant", "10")
  .option("--run <duration>", "length of one timed run, e.g. 1s, 500ms", "1s")
  .option("--quick", "one variant (5d1904204c99), 4 pairs of 250 ms")
  .option(
    "--json",
    "print the result JSON on stdout and nothing else; no file unless --out is given",
  )
  .option(
    "--out <file>",
    "where to write the result JSON, whatever its name; - for stdout; charts go beside it (default results/bench-mixed-<time>.json)",
  )
  .action(
    async (o: {
      cpus?: string;
      kernel: string[];
      baseline: string;
      pairs: string;
      run: string;
      quick?: boolean;
      json?: boolean;
      out?: string;
    }) => {
      const names = BENCH_KERNELS.map((k) => k.name);
      const known = (name: string, flag: string): string => {
        const k = kernelName(name);
        if (!names.includes(k))
          throw new UsageError(`${flag}: unknown kernel "${k}" (valid: ${names.join(", ")})`);
        return k;
      };
      const quick = o.quick === true;
      const variants =
        o.kernel.length > 0
          ? o.kernel.map((k) => known(k, "--kernel"))
          : quick
            ? ["5d1904204c99"]
            : MIXED_VARIANTS;
      const baseline = known(o.baseline, "--baseline");
      if (variants.includes(baseline))
        throw new UsageError(
          `--kernel: ${baseline} is the baseline; compare it with another kernel`,
        );
      checkOutPath(o);
      const r = await mixedBench(
        {
          cpus:
            o.cpus === undefined
              ? defaultMixedCpus()
              : parseCount(o.cpus, "--cpus", 2, MIXED_MAX_CPUS),
          baseline,
          variants,
          pairs: quick && o.pairs === "10" ? 4 : parseCount(o.pairs, "--pairs", 2, 1000),
          runMs: quick && o.run === "1s" ? 250 : parseDuration(o.run, "--run") / 1e6,
          quick,
        },
        command,
        benchCtl(o),
      );
      const { path } = emitResult(
        o,
        r,
        () => defaultResultPath("bench", "mixed", new Date(r.startedAt)),
        () => ({ ratio: mixedChart(r) }),
      );
      summary(o, formatMixedBench(r), path);
    },
  );

registerStress(program);

registerExplore(program, command, sigintFlag);

program
  .command("report")
  .description("gather the latest results (matrix, benches) into one self-contained HTML page")
  .option("--dir <dir>", "where the results are", "results")
  .option("--out <file>", "the page to write", "results/report.html")
  .action((o: { dir: string; out: string }) => {
    const r = buildReport(o.dir);
    writeFileAtomic(o.out, r.html);
    process.stdout.write(`report: ${r.sections} section(s) -> ${o.out}\n`);
  });

program.addOption(new Option("--no-color").hideHelp());

/**
 * 1-3 real command lines per command, shown after its --help (a test checks every command has
 * them). Keyed by the command's path below tlbrace ("" is tlbrace itself).
 */
const EXAMPLES: Record<string, string[]> = {
  "": [
    "tlbrace demo",
    "tlbrace run mremap-mkclean --delay move_ptes:unlocked=100us --trials 20000",
    "tlbrace list",
  ],
  list: ["tlbrace list", "tlbrace list --file my-race.json", "tlbrace list --json"],
  run: [
    "tlbrace run mremap-mkclean --trials 20000",
    "tlbrace run mremap-mkclean --kernel v4.9-rc4 --delay move_ptes:unlocked=100us --out run.json",
    "git bisect run sh -c 'npm run build >/dev/null || exit 125; tlbrace run mremap-mkclean --kernel 5d1904204c99 --delay move_ptes:unlocked=100us --trials 2000 --json >/dev/null'",
  ],
  demo: ["tlbrace demo", "tlbrace demo --seconds 2 --out demo.json"],
  matrix: [
    "tlbrace matrix --trials 500",
    "tlbrace matrix --scenario mremap-mkclean --arch all --json",
  ],
  smoke: ["tlbrace smoke", "tlbrace smoke --arch all --json"],
  bench: ["tlbrace bench flush --quick", "tlbrace bench mremap --quick --out mremap.json"],
  "bench flush": [
    "tlbrace bench flush --quick",
    "tlbrace bench flush --cpus 4 --out flush.json   # charts: flush-ranges.svg, flush-targets.svg, flush-histogram.svg",
  ],
  "bench mremap": [
    "tlbrace bench mremap --quick",
    "tlbrace bench mremap --quick --out mremap.json   # charts: mremap-flushes.svg, mremap-ops.svg",
  ],
  "bench trials": ["tlbrace bench trials --quick", "tlbrace bench trials --quick --json"],
  "bench scale": [
    "tlbrace bench scale --quick",
    "tlbrace bench scale mremap-mkclean --machines 2 --seconds 5 --widened",
  ],
  "bench window": [
    "tlbrace bench window --quick",
    "tlbrace bench window mremap-mkclean --out window.json   # charts: window-delay.svg, window-offset.svg",
  ],
  "bench natural": [
    "tlbrace bench natural --quick",
    "tlbrace bench natural --scenario zap-mkclean --quick",
    "tlbrace bench natural --sizes 1,1024 --offsets window --out natural.json   # chart: natural-rate.svg",
  ],
  "bench mixed": [
    "tlbrace bench mixed --quick",
    "tlbrace bench mixed --kernel 5d1904204c99 --pairs 10 --out mixed.json   # chart: mixed-ratio.svg",
  ],
  stress: [
    "tlbrace stress --duration 30s",
    "tlbrace stress --scenario mremap-mkclean --trials-per-cell 1001 --seed 7",
    "tlbrace stress --shard 0/4 --duration 1h --seed 7 --out shard0.json",
  ],
  merge: ["tlbrace merge shard0.json shard1.json shard2.json shard3.json --out merged.json"],
  explore: [
    "tlbrace explore mremap-mkclean --kernel v4.9-rc4",
    "tlbrace explore mremap-mkclean --kernel 5d1904204c99 --strategy dpor",
  ],
  replay: ["tlbrace replay tlbr1.eyJ2Ijox...   # the whole token explore printed after replay:"],
  explain: [
    "tlbrace run mremap-mkclean --kernel v4.9-rc4 --delay move_ptes:unlocked=100us --trials 2000 --trace --out r.json",
    "tlbrace explain r.json --svg r-trace.svg",
  ],
  report: ["tlbrace report", "tlbrace report --dir results --out results/report.html"],
};

function addExamples(cmd: Command, path: string): void {
  const lines = EXAMPLES[path];
  if (lines !== undefined)
    cmd.addHelpText("after", `\nExamples:\n${lines.map((l) => `  $ ${l}`).join("\n")}`);
  for (const sub of cmd.commands)
    addExamples(sub, path === "" ? sub.name() : `${path} ${sub.name()}`);
}
addExamples(program, "");
program.addHelpText(
  "after",
  `\nExit status: 0 ok; 1 a check failed (run: a kernel the scenario expects clean showed a\nforbidden outcome); 2 bad input; 3 a stuck run; 4 a bug in the model. See docs/outputs.md.`,
);

try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (e instanceof CommanderError) {
    if (e.exitCode === 0 || e.code === "commander.helpDisplayed" || e.code === "commander.version")
      process.exit(0);
    process.stderr.write(`tlbrace: ${e.message.replace(/^error: /, "")}\n`);
    process.exit(2);
  }
  if (e instanceof UsageError) {
    process.stderr.write(`tlbrace: ${e.message}\n`);
    process.exit(2);
  }
  if (e instanceof WatchdogError) {
    process.stderr.write(
      `\ntlbrace: ${e.message}; the run was stopped. What each CPU was doing:\n`,
    );
    for (const s of e.states) {
      process.stderr.write(
        `  CPU ${s.cpu}: ${s.waiting}; in ${s.stepName ?? s.step}; last named point ${s.point}; ${s.trials} trials done\n`,
      );
    }
    process.exit(3);
  }
  if (e instanceof ScheduleError) {
    process.stderr.write(`tlbrace: the controlled schedule stalled: ${e.message}\n`);
    process.exit(3);
  }
  if (e instanceof CpuFailure) {
    process.stderr.write(`tlbrace: ${e.message}\n${e.cpuStack}\n`);
    process.exit(4);
  }
  throw e;
}
process.exit(process.exitCode ?? 0);
