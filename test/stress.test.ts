import test, { type ExecutionContext } from "ava";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { KERNELS } from "../lib/kernels/index.js";
import { rateInterval } from "../lib/stats/intervals.js";
import { findScenario } from "../harness/scenarios.js";
import { formatRate, liveLines } from "../harness/stress/format.js";
import { LiveView } from "../harness/stress/live.js";
import {
  buildCells,
  defaultMachines,
  machineClasses,
  parseShard,
  shardTrials,
  sliceSeed,
  type MachineClass,
  type Shard,
} from "../harness/stress/plan.js";
import { cellVerdict, type StressResult } from "../harness/stress/result.js";
import { Schedule, type Phase, type Unit } from "../harness/stress/schedule.js";

const CLI = fileURLToPath(new URL("../harness/cli.js", import.meta.url));
const tmp = (): string => mkdtempSync(join(tmpdir(), "tlbrace-stress-"));
const read = (path: string): StressResult => JSON.parse(readFileSync(path, "utf8")) as StressResult;

interface Ran {
  status: number | null;
  stdout: string;
  stderr: string;
}

function tlbrace(args: string[], env: Record<string, string> = {}): Ran {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    encoding: "utf8",
    timeout: 60_000,
    env: { ...process.env, ...env },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Exit 1 exactly when some cell contradicts its verdict (the counts are random; this is not). */
function exitMatches(t: ExecutionContext, r: Ran, res: StressResult): void {
  t.is(r.status, res.totals.contradictions > 0 ? 1 : 0, r.stderr);
}

/**
 * Start a stress run; once `ready(stderr so far)` holds, call `act`; resolve with the exit code,
 * stdout and stderr. Every wait is bounded: the child is killed after 60 s.
 */
function during(
  args: string[],
  ready: (stderr: string) => boolean,
  act: (child: ReturnType<typeof spawn>, stderr: () => string) => void | Promise<void>,
): Promise<Ran> {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  let acted = false;
  const killer = setTimeout(() => child.kill("SIGKILL"), 60_000);
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr.on("data", (d: Buffer) => {
    stderr += d.toString();
    if (!acted && ready(stderr)) {
      acted = true;
      void act(child, () => stderr);
    }
  });
  return new Promise((resolve) =>
    child.once("exit", (status) => {
      clearTimeout(killer);
      resolve({ status, stdout, stderr });
    }),
  );
}

/** Checkpoint lines that report counted trials ("checkpoint 1.2 s: 1,344 trials"). */
const countedCheckpoints = (stderr: string): number =>
  stderr.split("\n").filter((l) => /^checkpoint .*: [1-9][\d,]* trials/.test(l)).length;

// ---- the plan: pure, deterministic ----

test("parseShard: I/N, 0-based; anything else is bad input", (t) => {
  t.deepEqual(parseShard("2/3"), { index: 2, count: 3 });
  t.deepEqual(parseShard("0/1"), { index: 0, count: 1 });
  for (const bad of ["3/3", "1/0", "-1/3", "1", "a/b", "1/3/5"])
    t.throws(() => parseShard(bad), { message: /--shard: .* is not I\/N/ }, bad);
});

test("buildCells: each scenario's pair; --kernel filters; --all-kernels runs every variant", (t) => {
  const mk = findScenario("mremap-mkclean");
  const zap = findScenario("zap-mkclean");
  const names = (cells: ReturnType<typeof buildCells>): string[] =>
    cells.map((c) => `${c.scenario.name}/${c.kernel}`);
  t.deepEqual(names(buildCells([mk, zap], [])), [
    "mremap-mkclean/v4.9-rc4",
    "mremap-mkclean/5d1904204c99",
    "zap-mkclean/v3.14",
    "zap-mkclean/1cf35d47712d",
  ]);
  t.deepEqual(names(buildCells([mk, zap], ["v3.14"])), ["zap-mkclean/v3.14"]);
  t.is(buildCells([mk], [], true).length, KERNELS.length);
  t.deepEqual(names(buildCells([mk, zap], ["5df397dec7c4"], true)), [
    "mremap-mkclean/5df397dec7c4",
    "zap-mkclean/5df397dec7c4",
  ]);
  t.throws(() => buildCells([mk], ["v3.14"]), { message: /no selected scenario compares v3\.14/ });
  t.throws(() => buildCells([mk], ["v9"]), { message: /unknown kernel "v9"/ });
  t.throws(() => buildCells([mk, mk], []), { message: /appears twice/ });
});

test("shardTrials: shards' shares of every cell add up exactly, and differ by at most one", (t) => {
  for (let count = 1; count <= 7; count++) {
    for (const total of [0, 1, 2, 6, 7, 1001, 12_345]) {
      for (let cell = 0; cell < 9; cell++) {
        const shares = Array.from({ length: count }, (_, index) =>
          shardTrials(total, { index, count }, cell),
        );
        t.is(
          shares.reduce((a, b) => a + b, 0),
          total,
        );
        t.true(Math.max(...shares) - Math.min(...shares) <= 1);
      }
    }
  }
});

test("sliceSeed: every shard, cell, slice and retry gets its own 32-bit seed", (t) => {
  const seeds = new Set<number>();
  let n = 0;
  for (let index = 0; index < 3; index++)
    for (let cell = 0; cell < 16; cell++)
      for (let slice = 0; slice < 100; slice++)
        for (let attempt = 0; attempt < 2; attempt++) {
          const s = sliceSeed(42, { index, count: 3 }, 16, cell, slice, attempt);
          t.true(Number.isInteger(s) && s >= 0 && s <= 0xffffffff);
          seeds.add(s);
          n++;
        }
  t.is(seeds.size, n);
  t.not(
    sliceSeed(1, { index: 0, count: 1 }, 4, 0, 0),
    sliceSeed(2, { index: 0, count: 1 }, 4, 0, 0),
  );
  t.not(
    sliceSeed(1, { index: 0, count: 1 }, 4, 0, 0),
    sliceSeed(1, { index: 0, count: 2 }, 4, 0, 0),
  );
});

/** One class of every cell, one machine at a time. */
const oneClass = (cells: number): MachineClass[] => [
  { cpus: 2, machines: 1, cells: Array.from({ length: cells }, (_, c) => c) },
];

/** Every unit of every phase (trial-count mode ends; a duration schedule would not). */
function drain(s: Schedule): { phase: Phase; units: Unit[] }[] {
  const out: { phase: Phase; units: Unit[] }[] = [];
  for (let p = s.nextPhase(0); p !== null; p = s.nextPhase(0)) {
    const units: Unit[] = [];
    for (let u = p.next(0); u !== null; u = p.next(0)) units.push(u);
    out.push({ phase: p, units });
  }
  return out;
}

test("Schedule (trials per cell): chunks cover the shard's share; retry reruns with a new seed; quarantine drops the rest", (t) => {
  const shard: Shard = { index: 1, count: 3 };
  const o = {
    cells: 3,
    classes: oneClass(3),
    seed: 9,
    shard,
    trialsPerCell: 40_001,
    chunkTrials: 5000,
    sliceMs: 1000,
    deadline: 0,
  };
  const units = drain(new Schedule(o)).flatMap((p) => p.units);
  for (let c = 0; c < 3; c++) {
    const mine = units.filter((u) => u.cell === c);
    t.is(
      mine.reduce((a, u) => a + u.trials, 0),
      shardTrials(40_001, shard, c),
    );
    t.true(mine.every((u) => u.trials > 0 && u.trials <= 5000 && u.durationMs === 0));
    t.is(new Set(mine.map((u) => u.seed)).size, mine.length);
  }
  t.deepEqual(
    units.slice(0, 3).map((u) => u.cell),
    [0, 1, 2],
    "cells interleaved",
  );

  const again = new Schedule(o);
  const phase = again.nextPhase(0) as Phase;
  const first = phase.next(0) as Unit;
  again.retry(first);
  const retried = phase.next(0) as Unit;
  t.is(retried.cell, first.cell);
  t.is(retried.trials, first.trials);
  t.is(retried.attempt, 1);
  t.not(retried.seed, first.seed);
  const left = shardTrials(40_001, shard, 0) - first.trials;
  t.is(again.quarantine(0), left, "the retried chunk was already taken");
  t.true(again.isQuarantined(0));
  for (let u = phase.next(0); u !== null; u = phase.next(0)) t.not(u.cell, 0);
  t.false(
    drain(again).some((p) => p.units.some((u) => u.cell === 0)),
    "no quarantined cell in later phases",
  );
});

test("Schedule (duration): round-robin slices, none past the deadline, quarantined cells skipped", (t) => {
  const s = new Schedule({
    cells: 3,
    classes: oneClass(3),
    seed: 1,
    shard: { index: 0, count: 1 },
    trialsPerCell: null,
    chunkTrials: 5000,
    sliceMs: 500,
    deadline: 1000,
  });
  const p = s.nextPhase(0) as Phase;
  const a = [p.next(0), p.next(0), p.next(0)] as Unit[];
  t.is(p.next(0), null, "one slice per cell in a phase");
  const b = (s.nextPhase(0) as Phase).next(0) as Unit;
  t.deepEqual(
    [...a, b].map((u) => [u.cell, u.slice]),
    [
      [0, 0],
      [1, 0],
      [2, 0],
      [0, 1],
    ],
  );
  t.true([...a, b].every((u) => u.trials === 0 && u.durationMs === 500));
  const q = s.nextPhase(800) as Phase;
  t.is((q.next(800) as Unit).durationMs, 200, "cut at the deadline");
  t.is(q.next(990), null, "too close to the deadline");
  t.is(s.nextPhase(990), null, "no phase that close to the deadline");
  s.quarantine(2);
  const r = s.nextPhase(0) as Phase;
  const cells = [r.next(0), r.next(0), r.next(0)].map((u) => u?.cell);
  t.false(cells.includes(2));
});

test("machineClasses: one machine per core for machines with more CPUs than cores; floor(cores / CPUs) otherwise; --machines for all", (t) => {
  t.is(defaultMachines(2, 2), 1);
  t.is(defaultMachines(2, 3), 2, "a 3-CPU machine on 2 cores sleeps in its delays");
  t.is(defaultMachines(64, 3), 21);
  t.is(defaultMachines(1, 2), 1);
  const sizes = [3, 3, 2, 2, 3];
  t.deepEqual(machineClasses(sizes, 2, null), [
    { cpus: 3, machines: 2, cells: [0, 1, 4] },
    { cpus: 2, machines: 1, cells: [2, 3] },
  ]);
  t.deepEqual(
    machineClasses(sizes, 2, 4).map((c) => c.machines),
    [4, 4],
  );
});

test("Schedule (classes): phases take turns by machine size, each fills its machines, and the shards' totals stay exact", (t) => {
  const classes = machineClasses([3, 2, 3, 2, 3], 2, null);
  const shard: Shard = { index: 0, count: 2 };
  const s = new Schedule({
    cells: 5,
    classes,
    seed: 3,
    shard,
    trialsPerCell: 23_000,
    chunkTrials: 5000,
    sliceMs: 1000,
    deadline: 0,
  });
  const phases = drain(s);
  t.deepEqual(
    phases.slice(0, 2).map((p) => [p.phase.cpus, p.phase.machines, p.units.map((u) => u.cell)]),
    [
      [3, 2, [0, 2, 4, 0]],
      [2, 1, [1, 3]],
    ],
    "the 3-CPU phase gives 4 slices (a multiple of its 2 machines); the 2-CPU phase one per cell",
  );
  for (const p of phases) {
    const cls = classes.find((c) => c.cpus === p.phase.cpus) as MachineClass;
    t.true(p.units.every((u) => cls.cells.includes(u.cell)));
  }
  for (let c = 0; c < 5; c++)
    t.is(
      phases
        .flatMap((p) => p.units)
        .filter((u) => u.cell === c)
        .reduce((a, u) => a + u.trials, 0),
      shardTrials(23_000, shard, c),
    );
  t.throws(
    () =>
      new Schedule({
        ...{
          cells: 2,
          seed: 1,
          shard,
          trialsPerCell: null,
          chunkTrials: 1,
          sliceMs: 1,
          deadline: 1,
        },
        classes: oneClass(1),
      }),
    { message: /every cell exactly once/ },
  );
});

test("cellVerdict: fixed kernels must stay clean; buggy ones must lose when widened, not at natural timing", (t) => {
  t.is(cellVerdict("clean", 1000, 0, "widened"), "ok");
  t.is(cellVerdict("clean", 1000, 1, "widened"), "CONTRADICTS");
  t.is(cellVerdict("clean", 1000, 1, "natural"), "CONTRADICTS");
  t.is(cellVerdict("forbidden", 1000, 5, "widened"), "ok");
  t.is(cellVerdict("forbidden", 1000, 0, "widened"), "CONTRADICTS");
  t.is(cellVerdict("forbidden", 1000, 0, "natural"), "not shown (natural timing)");
  t.is(cellVerdict("either", 1000, 0, "widened"), "either");
  t.is(cellVerdict("either", 1000, 7, "widened"), "either");
  t.is(cellVerdict("clean", 0, 0, "widened"), "not run");
});

test("formatRate: zero counts quote the one-sided 95% bound; others the Wilson interval", (t) => {
  t.is(formatRate(rateInterval(0, 3_200_000)), "0 in 3.2M trials: rate < 9.4e-7 at 95%");
  t.is(formatRate(rateInterval(0, 500)), "0 in 500 trials: rate < 0.0060 at 95%");
  t.is(formatRate(rateInterval(0, 1)), "0 in 1 trial: rate < 0.95 at 95%");
  t.is(formatRate(rateInterval(477, 1000)), "0.48 (0.45 to 0.51)");
  t.is(formatRate(rateInterval(3, 250_000)), "1.2e-5 (4.1e-6 to 3.5e-5)");
  t.is(formatRate(null), "-");
});

// ---- the command: real machines ----

const CELLS = ["--scenario", "mremap-mkclean", "--scenario", "zap-mkclean"];

let shardDir: string | undefined;
/** Three shards and one unsharded run of the same cells, trials and seed (run once). */
function shardRuns(t: ExecutionContext): string {
  if (shardDir !== undefined) return shardDir;
  const dir = tmp();
  const base = [...CELLS, "--trials-per-cell", "1001", "--seed", "7", "--json"];
  for (const [name, extra] of [
    ["s0", ["--shard", "0/3"]],
    ["s1", ["--shard", "1/3"]],
    ["s2", ["--shard", "2/3"]],
    ["all", []],
  ] as const) {
    const out = join(dir, `${name}.json`);
    const r = tlbrace(["stress", "--widened", ...base, ...extra, "--out", out]);
    t.is(r.stderr, "", "--json: nothing on stderr");
    const res = read(out);
    t.deepEqual(JSON.parse(r.stdout), res);
    exitMatches(t, r, res);
  }
  shardDir = dir;
  return dir;
}

test.serial(
  "machines of two sizes take turns, each size with its own count; every trial is counted once",
  (t) => {
    const dir = tmp();
    const out = join(dir, "mixed.json");
    const r = tlbrace([
      "stress",
      "--widened",
      "--scenario",
      "mremap-mkclean",
      "--scenario",
      "mremap-truncate-uaf",
      "--trials-per-cell",
      "2500",
      "--seed",
      "5",
      "--out",
      out,
    ]);
    const res = read(out);
    exitMatches(t, r, res);
    const cores = availableParallelism();
    t.deepEqual(res.plan.machinesByCpus, {
      "2": defaultMachines(cores, 2),
      "3": defaultMachines(cores, 3),
    });
    t.is(res.plan.machines, Math.max(defaultMachines(cores, 2), defaultMachines(cores, 3)));
    t.true(res.cells.every((c) => c.trials === 2500));
    t.is(res.totals.harnessErrors, 0);
    t.regex(
      r.stdout,
      new RegExp(
        `${defaultMachines(cores, 2)} machines? of 2 CPUs, then ${defaultMachines(cores, 3)} of 3 CPUs`,
      ),
    );
    const forced = tlbrace([
      "stress",
      "--widened",
      "--scenario",
      "mremap-truncate-uaf",
      "--trials-per-cell",
      "1000",
      "--machines",
      "3",
      "--out",
      join(dir, "forced.json"),
    ]);
    const f = read(join(dir, "forced.json"));
    exitMatches(t, forced, f);
    t.deepEqual(f.plan.machinesByCpus, { "3": 3 });
    t.true(f.cells.every((c) => c.trials === 1000));
  },
);

test.serial("three shards merged equal one unsharded run in totals; rates carry intervals", (t) => {
  const dir = shardRuns(t);
  const shards = ["s0", "s1", "s2"].map((n) => join(dir, `${n}.json`));
  const out = join(dir, "merged.json");
  const r = tlbrace(["merge", ...shards, "--out", out, "--json"]);
  const m = read(out);
  t.deepEqual(JSON.parse(r.stdout), m);
  exitMatches(t, r, m);
  const all = read(join(dir, "all.json"));
  const parts = shards.map(read);
  t.deepEqual(
    m.cells.map((c) => [c.scenario, c.kernel, c.trials]),
    all.cells.map((c) => [c.scenario, c.kernel, c.trials]),
  );
  t.true(m.cells.every((c) => c.trials === 1001));
  t.is(m.totals.trials, all.totals.trials);
  t.is(m.totals.trials, 4 * 1001);
  parts.forEach((p, i) =>
    p.cells.forEach((c, ci) => t.is(c.trials, shardTrials(1001, { index: i, count: 3 }, ci))),
  );
  m.cells.forEach((c, ci) => {
    t.is(
      c.forbiddenTrials,
      parts.reduce((s, p) => s + (p.cells[ci]?.forbiddenTrials ?? 0), 0),
    );
    t.deepEqual(c.rate, rateInterval(c.forbiddenTrials, c.trials));
    t.true(c.rate !== null && c.rate.low <= c.rate.rate && c.rate.rate <= c.rate.high);
  });
  t.false(m.partial);
  t.deepEqual(
    m.merged?.map((x) => x.shard.index),
    [0, 1, 2],
  );
  // Every shard ran its own seeds: no slice seed is shared (the first forbidden's seed differs).
  const firsts = parts
    .flatMap((p) => p.cells.map((c) => c.firstForbidden?.seed))
    .filter((s) => s !== undefined);
  t.is(new Set(firsts).size, firsts.length);

  const text = tlbrace(["merge", ...shards, "--out", join(dir, "merged2.json")]);
  t.regex(text.stdout, /^merged 3 file\(s\): shard\(s\) 0, 1, 2 of 3\n/);
  t.regex(text.stdout, /rate \(95% interval\)/);
  for (const c of m.cells) {
    // 1 - 0.05^(1/1001) = 0.00299: the one-sided bound of a clean cell.
    if (c.forbiddenTrials === 0)
      t.true(text.stdout.includes("0 in 1001 trials: rate < 0.0030 at 95%"));
    else t.true(text.stdout.includes(formatRate(c.rate)));
  }
  const missing = tlbrace([
    "merge",
    shards[0] as string,
    shards[2] as string,
    "--out",
    join(dir, "m3.json"),
    "--json",
  ]);
  t.true(read(join(dir, "m3.json")).partial, "a missing shard makes the merge partial");
  t.true((JSON.parse(missing.stdout) as StressResult).totals.trials < 4 * 1001);
});

test.serial("merge refuses files that are not shards of one campaign: one line, exit 2", (t) => {
  const dir = shardRuns(t);
  const s0 = join(dir, "s0.json");
  const s1 = read(join(dir, "s1.json"));
  const variant = (name: string, f: (r: StressResult) => void): string => {
    const r = structuredClone(s1);
    f(r);
    const p = join(dir, `${name}.json`);
    writeFileSync(p, JSON.stringify(r));
    return p;
  };
  const cases: [string, RegExp][] = [
    [variant("schema", (r) => ((r as { schema: number }).schema = 2)), /has schema 2, .* has 1/],
    [variant("version", (r) => (r.tlbrace = "9.9.9")), /has tlbrace version 9\.9\.9/],
    [variant("mode", (r) => (r.mode = "natural")), /has mode natural, .* has widened/],
    [
      variant(
        "scenario",
        (r) => ((r.scenarios[0] as { version: string }).version = "0000000000000000"),
      ),
      /has scenarios mremap-mkclean@0000000000000000/,
    ],
    [variant("cells", (r) => r.cells.pop()), /has cells .*: not shards of one campaign/],
    [variant("count", (r) => (r.shard = { index: 1, count: 4 })), /has shard count 4, .* has 3/],
    [join(dir, "s0.json"), /shard 0\/3 seed 7 appears twice/],
    [join(dir, "merged.json"), /already a merged file/],
  ];
  writeFileSync(join(dir, "junk.json"), "{ not json");
  cases.push([join(dir, "junk.json"), /not valid JSON/]);
  for (const [other, want] of cases) {
    const out = join(dir, "refused.json");
    const r = tlbrace(["merge", s0, other, "--out", out]);
    t.is(r.status, 2, other);
    t.regex(r.stderr, /^tlbrace: merge: [^\n]+\n$/, "one line");
    t.regex(r.stderr, want);
    t.false(existsSync(out));
  }
});

test.serial(
  "faults: a CPU that throws, a worker that dies and a stall are reported, replaced, and the run goes on",
  (t) => {
    const dir = tmp();
    const out = join(dir, "faults.json");
    // Slices alternate between the two cells: 1 (fixed kernel) throws, 2 (buggy) loses a worker,
    // 4 (buggy) stalls; the successful slice 3 in between keeps any cell from quarantine.
    const r = tlbrace(
      [
        "stress",
        "--widened",
        "--scenario",
        "mremap-mkclean",
        "--duration",
        "5s",
        "--slice",
        "300ms",
        "--watchdog",
        "1s",
        "--seed",
        "3",
        "--json",
        "--out",
        out,
      ],
      { TLBRACE_STRESS_FAULT: "throw@0:1,kill@0:2,stall@0:4" },
    );
    const res = read(out);
    exitMatches(t, r, res);
    t.is(res.status, "done");
    t.deepEqual(
      res.errors.map((e) => [e.kind, e.kernel]),
      [
        ["cpu-threw", "5d1904204c99"],
        ["worker-died", "v4.9-rc4"],
        ["stall", "v4.9-rc4"],
      ],
    );
    for (const e of res.errors) {
      t.is(e.scenario, "mremap-mkclean");
      t.true(Number.isInteger(e.seed) && Number.isInteger(e.trial), JSON.stringify(e));
    }
    t.regex(res.errors[0]?.message ?? "", /bad instruction/);
    t.is(res.errors[1]?.cpu, 1);
    const stall = res.errors[2]?.states ?? [];
    t.is(stall.length, 2);
    t.regex(stall[0]?.waiting ?? "", /signal/);
    t.is(res.totals.harnessErrors, 3);
    t.true(
      res.cells.every((c) => c.trials > 0 && !c.quarantined),
      "both cells ran on",
    );
    t.is(
      res.totals.trials,
      res.cells.reduce((s, c) => s + c.trials, 0),
    );
    t.regex(
      r.stderr,
      /a CPU threw \(mremap-mkclean on 5d1904204c99, seed \d+, trial \d+, machine 0\)/,
    );
    t.regex(r.stderr, /a worker died \(mremap-mkclean on v4\.9-rc4, seed \d+, trial \d+/);
    t.regex(r.stderr, /machine stalled .*\n {2}CPU 0: signal from another CPU/);
  },
);

test.serial("with --trials-per-cell a failed slice is run again: the totals stay exact", (t) => {
  const dir = tmp();
  const out = join(dir, "exact.json");
  const r = tlbrace(
    [
      "stress",
      "--widened",
      "--scenario",
      "mremap-mkclean",
      "--trials-per-cell",
      "12k",
      "--seed",
      "3",
      "--out",
      out,
    ],
    { TLBRACE_STRESS_FAULT: "kill@0:1" },
  );
  const res = read(out);
  exitMatches(t, r, res);
  t.deepEqual(
    res.errors.map((e) => e.kind),
    ["worker-died"],
  );
  t.deepEqual(
    res.cells.map((c) => c.trials),
    [12_000, 12_000],
  );
  t.is(res.totals.droppedTrials, 0);
});

test.serial("a cell that keeps failing is quarantined; the others run on", (t) => {
  const dir = tmp();
  const out = join(dir, "q.json");
  const r = tlbrace(
    [
      "stress",
      "--widened",
      "--scenario",
      "mremap-mkclean",
      "--duration",
      "3s",
      "--slice",
      "200ms",
      "--warmup",
      "0",
      "--seed",
      "3",
      "--out",
      out,
    ],
    { TLBRACE_STRESS_FAULT: "throw@0:1,throw@0:3,throw@0:5" },
  );
  const res = read(out);
  exitMatches(t, r, res);
  const [buggy, fixed] = res.cells;
  t.true(fixed?.quarantined);
  t.is(fixed?.trials, 0);
  t.is(fixed?.verdict, "not run");
  t.false(buggy?.quarantined);
  t.true((buggy?.slices ?? 0) > 3, "the buggy cell kept running");
  t.regex(r.stderr, /5d1904204c99 failed 3 times in a row: not run any further/);
  t.regex(r.stdout, /not run \(quarantined\)/);
});

for (const sig of ["SIGINT", "SIGTERM"] as const) {
  test.serial(
    `${sig} mid-run: stops cleanly, writes the final counts marked partial`,
    async (t) => {
      const dir = tmp();
      const out = join(dir, "sig.json");
      let before = 0;
      const r = await during(
        [
          "stress",
          "--widened",
          "--scenario",
          "mremap-mkclean",
          "--duration",
          "60s",
          "--checkpoint",
          "200ms",
          "--slice",
          "300ms",
          "--seed",
          "4",
          "--out",
          out,
        ],
        (err) => countedCheckpoints(err) >= 2,
        (child) => {
          before = read(out).totals.trials;
          child.kill(sig);
        },
      );
      const res = read(out);
      exitMatches(t, r, res);
      t.is(res.status, "stopped");
      t.true(res.partial);
      t.true(before > 0);
      t.true(res.totals.trials >= before, "nothing counted was lost");
      t.regex(r.stderr, new RegExp(`${sig}: stopping`));
      t.regex(r.stdout, /PARTIAL: stopped early/);
      t.regex(r.stdout, /rate \(95% interval\)/);
    },
  );
}

test.serial("an unwritable result path: exit 2 at the start, before any machine runs", (t) => {
  const dir = tmp();
  writeFileSync(join(dir, "file"), "");
  const r = tlbrace([
    "stress",
    "--widened",
    "--scenario",
    "mremap-mkclean",
    "--duration",
    "1s",
    "--out",
    join(dir, "file", "r.json"),
  ]);
  t.is(r.status, 2);
  t.regex(
    r.stderr,
    /^tlbrace: --out .*r\.json: cannot write the result file: (ENOTDIR|EEXIST)[^\n]*\n$/,
  );
  t.is(r.stdout, "");
});

test.serial(
  "a checkpoint that cannot be written is reported; counting goes on; the final write still lands",
  async (t) => {
    const dir = tmp();
    const sub = join(dir, "d");
    const out = join(sub, "r.json");
    const r = await during(
      [
        "stress",
        "--widened",
        "--scenario",
        "mremap-mkclean",
        "--duration",
        "4s",
        "--checkpoint",
        "200ms",
        "--slice",
        "300ms",
        "--seed",
        "5",
        "--out",
        out,
      ],
      (err) => countedCheckpoints(err) >= 2,
      async (_, stderr) => {
        rmSync(sub, { recursive: true });
        writeFileSync(sub, ""); // the directory becomes a file: even root cannot write into it
        const until = Date.now() + 20_000;
        while (!/checkpoint to .* failed/.test(stderr()) && Date.now() < until)
          await new Promise((res) => setTimeout(res, 50));
        rmSync(sub);
        mkdirSync(sub);
      },
    );
    t.regex(
      r.stderr,
      /tlbrace: checkpoint to .*r\.json failed: (ENOTDIR|EEXIST)[^\n]*; still counting, will try again/,
    );
    t.regex(r.stderr, /checkpoint [^\n]*-> NOT WRITTEN/);
    const res = read(out);
    exitMatches(t, r, res);
    t.is(res.status, "done");
    t.regex(r.stdout, new RegExp(`${res.totals.trials.toLocaleString("en-US")} trials`));
  },
);

test.serial("a final write that fails: exit 2, and the counts are still on stdout", async (t) => {
  const dir = tmp();
  const sub = join(dir, "d");
  const r = await during(
    [
      "stress",
      "--widened",
      "--scenario",
      "mremap-mkclean",
      "--duration",
      "2s",
      "--checkpoint",
      "200ms",
      "--slice",
      "300ms",
      "--seed",
      "6",
      "--out",
      join(sub, "r.json"),
    ],
    (err) => countedCheckpoints(err) >= 1,
    () => {
      rmSync(sub, { recursive: true });
      writeFileSync(sub, "");
    },
  );
  t.is(r.status, 2);
  t.regex(
    r.stderr,
    /the final result could not be written to .*r\.json: [A-Z]+.*; the counts are in the table on stdout/,
  );
  t.regex(r.stdout, /mremap-mkclean +v4\.9-rc4 +[\d,]+ +[\d,]+ /);
  t.regex(r.stdout, /result: NOT WRITTEN/);
});

test.serial(
  "verdicts: a widened run that agrees with history exits 0; a scenario whose expectation the race contradicts exits 1",
  (t) => {
    const dir = tmp();
    // The 3-CPU variant sleeps in its delays, so its window stays wide even on a busy host.
    const ok = tlbrace([
      "stress",
      "--widened",
      "--scenario",
      "mremap-mkclean-3cpu",
      "--trials-per-cell",
      "600",
      "--seed",
      "8",
      "--out",
      join(dir, "ok.json"),
    ]);
    const okRes = read(join(dir, "ok.json"));
    exitMatches(t, ok, okRes);
    t.deepEqual(
      okRes.cells.map((c) => [c.kernel, c.expected]),
      [
        ["v4.9-rc4", "forbidden"],
        ["5d1904204c99", "clean"],
      ],
    );
    t.is(okRes.cells[1]?.forbiddenTrials, 0, "the fix holds");
    t.is(ok.status, okRes.cells[0]?.forbiddenTrials === 0 ? 1 : 0);

    // The same race in a file that claims the buggy kernel is clean: its losses contradict that.
    const spec = structuredClone(findScenario("mremap-mkclean-3cpu"));
    spec.name = "claims-v4.9-is-clean";
    spec.expect = { "v4.9-rc4": "clean" };
    const file = join(dir, "claims.json");
    writeFileSync(file, JSON.stringify(spec));
    const bad = tlbrace([
      "stress",
      "--widened",
      "--file",
      file,
      "--kernel",
      "v4.9-rc4",
      "--trials-per-cell",
      "600",
      "--seed",
      "8",
      "--out",
      join(dir, "bad.json"),
    ]);
    const badRes = read(join(dir, "bad.json"));
    exitMatches(t, bad, badRes);
    const [cell] = badRes.cells;
    t.is(cell?.expected, "clean");
    t.true((cell?.forbiddenTrials ?? 0) > 0, "the widened race lost writes");
    t.is(cell?.verdict, "CONTRADICTS");
    t.is(bad.status, 1);
    t.regex(bad.stdout, /1 cell\(s\) CONTRADICT their expected verdict/);
  },
);

test.serial(
  "--natural: a buggy kernel that shows nothing is no contradiction, and the table says why",
  (t) => {
    const dir = tmp();
    const r = tlbrace([
      "stress",
      "--scenario",
      "mremap-mkclean",
      "--natural",
      "--trials-per-cell",
      "20k",
      "--seed",
      "9",
      "--out",
      join(dir, "n.json"),
    ]);
    const res = read(join(dir, "n.json"));
    exitMatches(t, r, res);
    t.is(res.mode, "natural");
    t.deepEqual(res.scenarios[0]?.delays, {});
    const [buggy] = res.cells;
    for (const c of res.cells)
      t.true(
        (c.windowHits ?? 0) > 0,
        `${c.kernel}: window-aware offsets put racing steps in the window`,
      );
    if (buggy?.forbiddenTrials === 0) {
      t.is(buggy.verdict, "not shown (natural timing)");
      t.regex(r.stdout, /not shown \(natural timing\): a buggy kernel's window is too narrow/);
    } else t.is(buggy?.verdict, "ok");
    t.is(r.status, res.cells[1]?.forbiddenTrials === 0 ? 0 : 1);
  },
);

test("the live view redraws its block in place: elapsed, trials, trials/s, cores busy, forbidden per cell", (t) => {
  const dir = tmp();
  const out = join(dir, "live.json");
  const r = tlbrace([
    "stress",
    "--widened",
    "--scenario",
    "zap-mkclean",
    "--duration",
    "2s",
    "--warmup",
    "0",
    "--seed",
    "5",
    "--out",
    out,
  ]);
  const res = read(out);
  exitMatches(t, r, res);
  const busy = res.resources.coresBusy ?? -1;
  t.true(busy > 0.5 && busy <= (res.resources.cores ?? 1) + 0.5, `cores busy ${busy}`);
  t.regex(r.stdout, /cores busy: \d+\.\d\d of \d+/);
  const lines = liveLines(res, 2000);
  t.regex(
    lines[0] ?? "",
    /^stress .* of 2\.00 s: [\d,]+ trials, [\d,]+\/s, \d+\.\d\d cores busy, 0 harness error/,
  );
  t.is(lines.length, 1 + res.cells.length);
  for (const c of res.cells)
    t.true(
      lines.some((l) => l.includes(c.scenario) && l.includes(c.kernel) && l.includes("forbidden")),
      `a line for ${c.scenario} on ${c.kernel}`,
    );
  let text = "";
  const term = { columns: 40, write: (s: string) => (text += s) };
  const live = new LiveView(true, term);
  live.draw(["first line", "second line that is much longer than forty columns wide"]);
  live.draw(["redrawn"]);
  live.print("a fault line");
  live.draw(["again"]);
  t.is(
    text,
    "first line\nsecond line that is much longer than fo\n" +
      "\x1b[2A\x1b[Jredrawn\n" +
      "\x1b[1A\x1b[Ja fault line\n" +
      "again\n",
  );
  let off = "";
  new LiveView(false, { write: (s: string) => (off += s) }).draw(["x"]);
  t.is(off, "", "no live view off a TTY");
});
