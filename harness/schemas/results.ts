/**
 * The JSON Schemas of result files, one per kind, written against the harness's result
 * interfaces: build.ts's obj<T>() makes the compiler check that every schema names exactly
 * its interface's keys, optional where the interface says so, with values of the right type.
 *
 * Every object is closed (additionalProperties: false). `tlbrace`, the provenance every result
 * may carry ({ version, commit }), is optional (older results lack it), and a plain version
 * string in stress results written before it was an object.
 */
import { POINTS } from "../../lib/machine/points.js";
import type { RateInterval } from "../../lib/stats/intervals.js";
import type { Percentiles } from "../../lib/stats/percentiles.js";
import { ARCHS, type Verdict } from "../../lib/scenarios/types.js";
import { NAME, VERDICTS } from "../../lib/scenarios/validate.js";
import type { LearnedWindow, OffsetsReport } from "../aim.js";
import type { FlushBenchResult } from "../bench/flush.js";
import type { MixedBenchResult, MixedComparison } from "../bench/mixed.js";
import type { MixedRow } from "../bench/mixed-workload.js";
import type { MremapBenchResult } from "../bench/mremap.js";
import type { NaturalBenchResult, NaturalRow, OffsetMode } from "../bench/natural.js";
import type { ScaleBenchResult, ScaleRow } from "../bench/scale.js";
import type { SeedBenchRow } from "../bench/seed.js";
import type { CoverageCost, TrialsBenchResult, TrialsRow } from "../bench/trials.js";
import type { WindowBenchResult, WindowPoint } from "../bench/window.js";
import type { DemoResult } from "../demo.js";
import type { ExploreResult, Strategy, Violation } from "../explore/explore.js";
import type { CpuState } from "../machine.js";
import type { MatrixAim, MatrixCell, MatrixResult } from "../matrix.js";
import type { Provenance, ResultFile, RunResult } from "../results.js";
import type { SmokeCheck } from "../smoke.js";
import type { Shard } from "../stress/plan.js";
import type {
  CellSummary,
  CellVerdict,
  ErrorKind,
  HarnessError,
  Mode,
  RssSample,
  ScenarioVersion,
  StressPlan,
  StressResult,
} from "../stress/result.js";
import type { MachineInfo } from "../sysinfo.js";
import {
  anyOf,
  arr,
  bool,
  describe,
  enumAll,
  enumOf,
  int,
  isoDate,
  lit,
  map,
  nullable,
  num,
  obj,
  older,
  opt,
  str,
  tuple,
  type AnySchema,
  type Schema,
} from "./build.js";
import { kernelNames } from "./scenario.js";

// ---------------------------------------------------------------------------------------------
// Shapes no interface names: the seed bench (npm run bench), smoke --json, the acceptance file.

/** `npm run bench` (harness/bench/main.ts): the seed scenario's speed and natural rates. */
export interface SeedBenchResult {
  schema: 1;
  bench: "seed";
  command: string;
  machine: MachineInfo;
  startedAt: string;
  rows: SeedBenchRow[];
}

/** `tlbrace smoke --json` on stdout (smoke writes no file). */
export interface SmokeOutput {
  ok: boolean;
  /** `smoke --natural`: the races at natural timing (absent: widened). */
  natural?: boolean;
  checks: SmokeCheck[];
}

/** A matrix cell as the acceptance runs recorded it, with the command that ran it. */
export type AcceptanceCell = Omit<MatrixCell, "arch" | "forbidden"> & {
  command: string;
  seed: number;
};

/**
 * results/reference/acceptance-*.json: cells of separate `matrix` runs gathered by hand, each
 * with its command (no command writes this kind; it is kept as evidence).
 */
export interface AcceptanceResult {
  schema: 1;
  kind: "acceptance";
  machine: MachineInfo;
  note: string;
  cells: AcceptanceCell[];
}

// ---------------------------------------------------------------------------------------------
// Pieces shared by several kinds.

const count = (): Schema<number> => int(0);
const rate = (): Schema<number> => num(0);
const ms = (): Schema<number> => num(0);
const text = (): Schema<string> => str({ minLength: 1 });
const scenarioName = (): Schema<string> => str({ pattern: NAME });

const kernel = (): Schema<string> =>
  describe("a kernel variant (or an old name of one)", enumOf(kernelNames()));
const arch = enumAll<(typeof ARCHS)[number]>()(["x86", "arm64"]);
const verdict = enumAll<Verdict>()(VERDICTS);
const mode = enumAll<Mode>()(["widened", "natural"]);
const offsetsMode = enumAll<"window" | "uniform">()(["window", "uniform"]);

/** Formatted delays per named point ("100.0 us"). */
const delays = (): Schema<Record<string, string>> => map(text(), enumOf(POINTS));
const params = (): Schema<Record<string, number>> => map(int());
const outcomes = (): Schema<Record<string, number>> => map(count());

const machine = obj<MachineInfo>()({ node: text(), cpuModel: str(), cores: int(1) });

/** Who wrote a result: tlbrace's version and, run from a git checkout, the commit. */
const provenance = describe(
  "the tlbrace that wrote this result: its version and, run from a git checkout, the commit",
  obj<Provenance>()({ version: text(), commit: opt(str({ pattern: /^[0-9a-f]{40,64}$/ })) }),
);
/** Every result may carry `tlbrace` (optional; not every writer records it yet). */
const extra = { tlbrace: opt(provenance) };

const rateInterval = obj<RateInterval>()({
  events: count(),
  trials: count(),
  rate: num(0, 1),
  low: num(0, 1),
  high: num(0, 1),
  method: enumAll<RateInterval["method"]>()(["wilson", "clopper-pearson"]),
});

const learned = obj<LearnedWindow>()({
  openNs: num(),
  closeNs: num(),
  raceNs: num(),
  loNs: num(),
  hiNs: num(),
  samples: count(),
});

/** A [seq, cpu, kind, a, b] step of a kept trace (lib/machine/steps.ts). */
const traceEvent = tuple<[number, number, number, number, number]>(
  int(),
  int(),
  int(),
  int(),
  int(),
);

// ---------------------------------------------------------------------------------------------
// run (and demo, which holds two run results)

const offsetsReport = obj<OffsetsReport>()({
  mode: offsetsMode,
  offsetMaxNs: opt(num(0)),
  learned: opt(arr(learned)),
  relearns: opt(count()),
  final: opt(obj<{ loNs: number; hiNs: number }>()({ loNs: num(), hiNs: num() })),
  fallback: opt(text()),
});

const runResult = obj<RunResult>()({
  kernel: kernel(),
  commit: text(),
  trials: count(),
  lostWrites: count(),
  faults: count(),
  // Absent in results written before use-after-free was counted.
  useAfterFree: older(count()),
  firstUseAfterFreeTrial: older(nullable(count())),
  forbiddenTrials: older(count()),
  outcomes: outcomes(),
  forbiddenOutcomes: arr(text()),
  trialsPerSecond: rate(),
  firstLostWriteMs: nullable(ms()),
  firstLostWriteTrial: nullable(count()),
  elapsedMs: ms(),
  flushesPerTrial: num(0),
  ipisPerTrial: num(0),
  delays: delays(),
  window: opt(
    obj<NonNullable<RunResult["window"]>>()({
      hits: count(),
      trials: count(),
      before: count(),
      after: count(),
      missed: count(),
    }),
  ),
  offsets: opt(offsetsReport),
  trace: opt(obj<NonNullable<RunResult["trace"]>>()({ trial: count(), events: arr(traceEvent) })),
});

// ResultFile may gain `tlbrace` (another part of the program adds it): Omit keeps this schema
// compiling whether it has yet or not, and `extra` describes it.
const resultFile = obj<Omit<ResultFile, "tlbrace">>()(
  {
    schema: lit(1),
    scenario: scenarioName(),
    command: text(),
    seed: int(),
    machine,
    cpus: int(1),
    params: params(),
    arch: opt(arch),
    offsetMaxNs: num(0),
    offsetMode: opt(offsetsMode),
    startedAt: isoDate(),
    partial: bool(),
    runs: arr(runResult),
  },
  extra,
);

const demo = obj<Omit<DemoResult, "tlbrace">>()(
  {
    schema: lit(1),
    kind: lit("demo"),
    command: text(),
    seed: int(),
    startedAt: isoDate(),
    large: resultFile,
    small: resultFile,
  },
  extra,
);

// ---------------------------------------------------------------------------------------------
// matrix, smoke, acceptance

const matrixCellProps = {
  scenario: scenarioName(),
  kernel: kernel(),
  trials: count(),
  lostWrites: count(),
  useAfterFree: count(),
  faults: count(),
  expected: verdict,
  matches: bool(),
  trialsPerSecond: rate(),
  delays: delays(),
  notShown: opt(bool()),
  params: opt(params()),
  window: opt(obj<{ hits: number; trials: number }>()({ hits: count(), trials: count() })),
  offsets: opt(offsetsMode),
  form: opt(scenarioName()),
  timing: opt(obj<{ windowNs: number; raceNs: number }>()({ windowNs: num(), raceNs: num() })),
  stalled: opt(text()),
};

const hitsOf = (): Schema<{ hits: number; trials: number }> =>
  obj<{ hits: number; trials: number }>()({ hits: count(), trials: count() });

const matrixAim = obj<MatrixAim>()({
  scenario: scenarioName(),
  form: opt(scenarioName()),
  arch,
  kernel: kernel(),
  window: hitsOf(),
  uniform: hitsOf(),
});

const matrixCell = obj<MatrixCell>()({
  ...matrixCellProps,
  arch: opt(arch),
  forbidden: opt(count()),
});

const matrix = obj<Omit<MatrixResult, "tlbrace">>()(
  {
    schema: lit(1),
    kind: lit("matrix"),
    command: text(),
    seed: int(),
    machine,
    natural: bool(),
    trialsPerCell: count(),
    startedAt: isoDate(),
    partial: bool(),
    cells: arr(matrixCell),
    cores: opt(int(1)),
    forms: opt(map(text())),
    aim: opt(arr(matrixAim)),
  },
  extra,
);

const smoke = obj<SmokeOutput>()(
  {
    ok: bool(),
    checks: arr(
      obj<SmokeCheck>()({
        scenario: scenarioName(),
        kernel: kernel(),
        arch,
        role: enumAll<SmokeCheck["role"]>()(["buggy", "fixed"]),
        trials: count(),
        forbidden: count(),
        faults: count(),
        inWindow: count(),
        ok: bool(),
        expectation: text(),
        form: opt(scenarioName()),
        stalled: opt(text()),
      }),
    ),
    natural: opt(bool()),
  },
  extra,
);

const acceptance = obj<AcceptanceResult>()(
  {
    schema: lit(1),
    kind: lit("acceptance"),
    machine,
    note: text(),
    cells: arr(obj<AcceptanceCell>()({ ...matrixCellProps, command: text(), seed: int() }), {
      minItems: 1,
    }),
  },
  extra,
);

// ---------------------------------------------------------------------------------------------
// stress (checkpoints, final files and merged files)

const shard = obj<Shard>()({ index: count(), count: int(1) });

const cellSummary = obj<CellSummary>()({
  scenario: scenarioName(),
  kernel: kernel(),
  expected: verdict,
  trials: count(),
  forbiddenTrials: count(),
  lostWrites: count(),
  useAfterFree: count(),
  faults: count(),
  outcomes: outcomes(),
  slices: count(),
  machineMs: ms(),
  firstForbidden: nullable(
    obj<{ seed: number; trial: number }>()({ seed: count(), trial: count() }),
  ),
  quarantined: bool(),
  windowHits: opt(count()),
  rate: nullable(rateInterval),
  verdict: enumAll<CellVerdict>()([
    "ok",
    "either",
    "CONTRADICTS",
    "not shown (natural timing)",
    "not run",
  ]),
});

const cpuState = obj<CpuState>()({
  cpu: count(),
  waiting: str(),
  step: int(),
  stepName: opt(str()),
  point: str(),
  trials: count(),
});

const harnessError = obj<HarnessError>()({
  kind: enumAll<ErrorKind>()(["cpu-threw", "worker-died", "stall", "harness"]),
  scenario: scenarioName(),
  kernel: kernel(),
  seed: count(),
  trial: nullable(count()),
  slot: count(),
  cpu: nullable(count()),
  message: str(),
  states: opt(arr(cpuState)),
  atMs: ms(),
  shard: opt(text()),
});

const plan = obj<StressPlan>()({
  machines: int(1),
  machinesByCpus: opt(map(int(1), str({ pattern: /^\d+$/ }))),
  cpus: nullable(int(1)),
  durationMs: nullable(ms()),
  trialsPerCell: nullable(int(1)),
  sliceMs: ms(),
  chunkTrials: int(1),
  checkpointMs: ms(),
  watchdogMs: ms(),
  warmupMs: opt(ms()),
});

const stress = obj<Omit<StressResult, "tlbrace">>()(
  {
    schema: lit(1),
    kind: lit("stress"),
    command: text(),
    machine,
    startedAt: isoDate(),
    updatedAt: isoDate(),
    status: enumAll<StressResult["status"]>()(["running", "done", "stopped"]),
    partial: bool(),
    mode,
    seed: count(),
    shard,
    plan,
    scenarios: arr(
      obj<ScenarioVersion>()({
        name: scenarioName(),
        version: str({ pattern: /^[0-9a-f]{16}$/ }),
        cpus: int(1),
        delays: delays(),
      }),
    ),
    elapsedMs: ms(),
    totals: obj<StressResult["totals"]>()({
      trials: count(),
      forbiddenTrials: count(),
      harnessErrors: count(),
      contradictions: count(),
      trialsPerSecond: rate(),
      droppedTrials: count(),
    }),
    cells: arr(cellSummary),
    errors: arr(harnessError),
    resources: obj<StressResult["resources"]>()({
      bufferBytes: map(int(1), str({ pattern: /^\d+$/ })),
      rss: arr(obj<RssSample>()({ atS: num(0), rssMiB: num(0) })),
      coresBusy: opt(num(0)),
      cores: opt(int(1)),
    }),
    merged: opt(
      arr(
        obj<NonNullable<StressResult["merged"]>[number]>()({
          file: text(),
          shard,
          seed: count(),
          startedAt: isoDate(),
          partial: bool(),
        }),
      ),
    ),
  },
  {
    // Required here: merge refuses shards of different versions. A version string in files
    // written before the provenance object.
    tlbrace: anyOf<string | Provenance>(text(), provenance),
  },
);

// ---------------------------------------------------------------------------------------------
// explore

const explore = obj<Omit<ExploreResult, "tlbrace">>()(
  {
    schema: lit(1),
    kind: lit("explore"),
    command: text(),
    machine,
    startedAt: older(isoDate()),
    scenario: scenarioName(),
    kernel: kernel(),
    commit: text(),
    strategy: enumAll<Strategy>()(["dfs", "dpor", "pct", "random"]),
    bound: count(),
    depth: count(),
    seed: int(),
    params: params(),
    cpus: int(1),
    schedules: count(),
    elapsedMs: ms(),
    schedulesPerSecond: rate(),
    exhaustive: bool(),
    sleepBlocked: opt(count()),
    races: opt(count()),
    perBound: arr(tuple<[number, number]>(count(), count())),
    maxSteps: count(),
    partial: bool(),
    outcomes: opt(outcomes()),
    violations: opt(count()),
    violation: nullable(
      obj<Violation>()({
        schedule: int(1),
        preemptions: count(),
        steps: count(),
        lostWrites: count(),
        useAfterFree: count(),
        outcome: text(),
        token: str({ pattern: /^tlbr\d+\.[A-Za-z0-9_-]+$/ }),
        trace: arr(traceEvent),
      }),
    ),
  },
  extra,
);

// ---------------------------------------------------------------------------------------------
// bench: flush, mremap, mixed, natural, window, trials, scale, seed

const bins = arr(tuple<[number, number]>(num(0), count()));
const percentileProps = {
  samples: count(),
  p50Ns: num(0),
  p90Ns: num(0),
  p99Ns: num(0),
  p999Ns: num(0),
  maxNs: num(0),
  meanNs: num(0),
};

const benchFlush = obj<Omit<FlushBenchResult, "tlbrace">>()(
  {
    schema: lit(1),
    bench: lit("flush"),
    command: text(),
    machine,
    cpus: int(1),
    quick: bool(),
    partial: bool(),
    startedAt: isoDate(),
    floor: obj<Percentiles & { bins: [number, number][] }>()({ ...percentileProps, bins }),
    rows: arr(
      obj<FlushBenchResult["rows"][number]>()({
        ...percentileProps,
        bins,
        targets: count(),
        pages: int(1),
        mode: enumAll<FlushBenchResult["rows"][number]["mode"]>()(["spinning", "parked"]),
        budgetMs: ms(),
        p50OverFloor: num(0),
      }),
    ),
  },
  extra,
);

const benchMremap = obj<Omit<MremapBenchResult, "tlbrace">>()(
  {
    schema: lit(1),
    bench: lit("mremap"),
    command: text(),
    machine,
    quick: bool(),
    partial: bool(),
    msPerConfig: ms(),
    startedAt: isoDate(),
    rows: arr(
      obj<MremapBenchResult["rows"][number]>()({
        kernel: kernel(),
        pages: int(1),
        dirty: bool(),
        ops: count(),
        seconds: num(0),
        opsPerSecond: rate(),
        pagesPerSecond: rate(),
        flushesPerOp: num(0),
        moveFlushesPerOp: opt(num(0)),
        ipisPerOp: num(0),
        opsVsV49rc4: num(0),
      }),
    ),
  },
  extra,
);

const benchMixed = obj<Omit<MixedBenchResult, "tlbrace">>()(
  {
    schema: lit(1),
    bench: lit("mixed"),
    command: text(),
    machine,
    cpus: int(1),
    quick: bool(),
    partial: bool(),
    baseline: kernel(),
    runMs: ms(),
    pairsPlanned: count(),
    startedAt: isoDate(),
    workload: obj<MixedBenchResult["workload"]>()({
      filePages: int(1),
      heapPages: int(1),
      sourcesPerJob: int(1),
      mremapEvery: int(1),
      writebackEvery: int(1),
    }),
    comparisons: arr(
      obj<MixedComparison>()({
        variant: kernel(),
        pairs: count(),
        ratio: num(0),
        low: num(0),
        high: num(0),
        holdsOne: bool(),
        baselineJobsPerSecond: rate(),
        variantJobsPerSecond: rate(),
        baselineFlushesPerJob: num(0),
        variantFlushesPerJob: num(0),
      }),
    ),
    runs: arr(
      obj<MixedRow>()({
        kernel: kernel(),
        variant: anyOf<string>(kernel(), lit("(warm-up)")),
        pair: int(-1),
        ms: ms(),
        jobs: count(),
        seconds: num(0),
        jobsPerSecond: rate(),
        flushes: count(),
        ipis: count(),
        uaf: count(),
      }),
    ),
  },
  extra,
);

const benchNatural = obj<Omit<NaturalBenchResult, "tlbrace">>()(
  {
    schema: lit(1),
    bench: lit("natural"),
    command: text(),
    machine,
    // Absent in results written before the bench took any scenario: those ran the seed.
    scenario: opt(scenarioName()),
    arch: opt(arch),
    cpus: opt(int(1)),
    harm: opt(text()),
    quick: bool(),
    partial: bool(),
    secondsPerCell: num(0),
    seed: int(),
    startedAt: isoDate(),
    rows: arr(
      obj<NaturalRow>()({
        pages: int(1),
        params: opt(params()),
        note: opt(text()),
        offsets: enumAll<OffsetMode>()(["uniform", "window"]),
        kernel: kernel(),
        trials: count(),
        seconds: num(0),
        trialsPerSecond: rate(),
        lostWrites: count(),
        forbidden: opt(count()),
        useAfterFree: opt(count()),
        rate: rateInterval,
        lostPerSecond: rate(),
        firstLostWriteMs: nullable(ms()),
        windowHits: count(),
        learned: opt(learned),
        relearns: opt(count()),
      }),
    ),
  },
  extra,
);

const benchWindow = obj<Omit<WindowBenchResult, "tlbrace">>()(
  {
    schema: lit(1),
    bench: lit("window"),
    command: text(),
    machine,
    scenario: scenarioName(),
    point: enumOf<string>(POINTS),
    quick: bool(),
    partial: bool(),
    trialsPerPoint: count(),
    startedAt: isoDate(),
    points: arr(
      obj<WindowPoint>()({
        kernel: kernel(),
        sweep: enumAll<WindowPoint["sweep"]>()(["delay", "offset"]),
        us: num(),
        trials: count(),
        forbidden: count(),
        rate: num(0, 1),
      }),
    ),
  },
  extra,
);

const trialsRow = obj<TrialsRow>()({
  scenario: text(), // "(empty trial)" for the overhead row
  kernel: kernel(),
  cpus: int(1),
  trials: count(),
  trialsPerSecond: rate(),
  nsPerTrial: num(0),
});

const benchTrials = obj<Omit<TrialsBenchResult, "tlbrace">>()(
  {
    schema: lit(1),
    bench: lit("trials"),
    command: text(),
    machine,
    quick: bool(),
    partial: bool(),
    secondsPerCell: num(0),
    startedAt: isoDate(),
    overhead: trialsRow,
    coverage: opt(
      obj<CoverageCost>()({
        scenario: scenarioName(),
        kernel: kernel(),
        pairs: count(),
        withWindow: rate(),
        withoutWindow: rate(),
        costPercent: num(),
      }),
    ),
    rows: arr(trialsRow),
  },
  extra,
);

const benchScale = obj<Omit<ScaleBenchResult, "tlbrace">>()(
  {
    schema: lit(1),
    bench: lit("scale"),
    command: text(),
    machine,
    startedAt: isoDate(),
    partial: bool(),
    scenario: scenarioName(),
    kernel: kernel(),
    mode: opt(mode),
    cpus: int(1),
    cores: int(1),
    secondsPerPoint: num(0),
    warmupSeconds: num(0),
    bufferBytes: int(1),
    rows: arr(
      obj<ScaleRow>()({
        machines: int(1),
        threads: int(1),
        trials: count(),
        seconds: num(0),
        trialsPerSecond: rate(),
        efficiency: num(0),
        forbidden: opt(count()),
        forbiddenPerSecond: opt(rate()),
        coresBusy: num(0),
        rssMiB: num(0),
        harnessErrors: count(),
      }),
    ),
  },
  extra,
);

const benchSeed = obj<SeedBenchResult>()(
  {
    schema: lit(1),
    bench: lit("seed"),
    command: text(),
    machine,
    startedAt: isoDate(),
    rows: arr(
      obj<SeedBenchRow>()({
        pages: int(1),
        kernel: kernel(),
        delays: text(),
        trials: count(),
        seconds: num(0),
        trialsPerSecond: rate(),
        lostWrites: count(),
        lostWriteRate: num(0, 1),
        faults: count(),
        firstLostWriteMs: nullable(ms()),
        flushesPerTrial: num(0),
      }),
    ),
  },
  extra,
);

// ---------------------------------------------------------------------------------------------

/** Every result kind with its schema and what it is; see kinds.ts for how a file's kind is told. */
export const RESULT_SCHEMAS = {
  run: { schema: resultFile, title: "tlbrace run result" },
  demo: { schema: demo, title: "tlbrace demo result" },
  matrix: { schema: matrix, title: "tlbrace matrix result" },
  smoke: { schema: smoke, title: "tlbrace smoke --json output" },
  acceptance: { schema: acceptance, title: "tlbrace acceptance evidence (hand-gathered)" },
  stress: { schema: stress, title: "tlbrace stress or merge result" },
  explore: { schema: explore, title: "tlbrace explore result" },
  "bench-flush": { schema: benchFlush, title: "tlbrace bench flush result" },
  "bench-mremap": { schema: benchMremap, title: "tlbrace bench mremap result" },
  "bench-mixed": { schema: benchMixed, title: "tlbrace bench mixed result" },
  "bench-natural": { schema: benchNatural, title: "tlbrace bench natural result" },
  "bench-window": { schema: benchWindow, title: "tlbrace bench window result" },
  "bench-trials": { schema: benchTrials, title: "tlbrace bench trials result" },
  "bench-scale": { schema: benchScale, title: "tlbrace bench scale result" },
  "bench-seed": { schema: benchSeed, title: "npm run bench (seed) result" },
} as const satisfies Record<string, { schema: AnySchema; title: string }>;
