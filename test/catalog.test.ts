/**
 * The catalog's verdicts from real parallel runs: for every built-in scenario, with its window
 * widened, the buggy kernel shows the forbidden outcome and the fixed kernel never does and
 * faults instead. Then `tlbrace matrix --json` on the seed race. Every test runs trials, so
 * every test is serial: the race needs the cores to itself.
 */
import test from "ava";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { widenDelays } from "../harness/matrix.js";
import { runScenario, type RunOptions } from "../harness/run.js";
import { builtinScenarios } from "../harness/scenarios.js";
import { KERNELS } from "../lib/kernels/index.js";
import type { ScenarioSpec } from "../lib/scenarios/types.js";
import { fixedKernel } from "../lib/scenarios/verdict.js";

// smoke, which CI runs after the tests, checks every scenario again (its own buggy and fixed
// trials); these are the verdicts as tests, kept short.
const BUGGY_TRIALS = 500;
const FIXED_TRIALS = 500;

const opts = (s: ScenarioSpec, kernel: string, trials: number): RunOptions => ({
  scenario: s,
  kernels: [kernel],
  trials,
  durationMs: 0,
  cpus: s.cpus.length,
  params: {},
  delays: widenDelays(s),
  seed: 7,
  watchdogMs: 10_000,
  command: "test",
  warmupTrials: 0,
});

const scenarios = builtinScenarios();

const fixedOf: Record<string, string> = {
  "mremap-mkclean": "5d1904204c99",
  "mremap-mkclean-3cpu": "5d1904204c99",
  "mremap-truncate-uaf": "eb66ae030829",
  // 1cf35d47712d narrows the zap window but leaves page_remove_rmap() before the flush
  "zap-mkclean": "5df397dec7c4",
  "zap-mkclean-rmap": "5df397dec7c4",
  "reclaim-munmap-batched": "3ea277194daa",
  "mremap-pmd-migrate-uaf": "97113eb39fa7",
};

test("the catalog holds the seed's scenarios, each with a widening delay and a fix", (t) => {
  const names = scenarios.map((s) => s.name);
  for (const name of Object.keys(fixedOf)) t.true(names.includes(name), name);
  t.is(new Set(names).size, names.length, "names are unique");
  for (const s of scenarios) {
    t.true(widenDelays(s).size > 0, `${s.name} widens its window`);
    t.not(fixedKernel(s), s.kernels[0], `${s.name}: the fixed kernel is not the buggy one`);
  }
});

test("fixedKernel: the first kernel from the scenario's fix on that history says is clean", (t) => {
  for (const [name, fixed] of Object.entries(fixedOf)) {
    const s = scenarios.find((x) => x.name === name);
    t.is(s === undefined ? undefined : fixedKernel(s), fixed, name);
  }
});

for (const s of scenarios) {
  const buggy = s.kernels[0];
  const fixed = fixedKernel(s);

  test.serial(
    `${s.name}: widened, ${buggy} shows the forbidden outcome within ${BUGGY_TRIALS} trials`,
    async (t) => {
      const r = await runScenario(opts(s, buggy, BUGGY_TRIALS));
      const run = r.runs[0];
      if (run === undefined) return t.fail("no run");
      t.is(run.kernel, buggy);
      t.is(run.trials, BUGGY_TRIALS);
      const forbidden = run.forbiddenTrials;
      t.log(
        `${buggy}: ${run.lostWrites} lost, ${run.useAfterFree} UAF, ${run.faults} faults, ${run.elapsedMs} ms`,
      );
      t.true(forbidden > 0, `${buggy} showed nothing in ${run.trials} trials`);
      if (s.useAfterFree === true) t.true(run.useAfterFree > 0, "the race is a use-after-free");
      else if (s.countForbidden === true) t.is(run.lostWrites, 0, "the harm is the outcome itself");
      else t.true(run.lostWrites > 0, "the race is a lost write");
      const forbiddenSeen = run.forbiddenOutcomes.reduce((n, o) => n + (run.outcomes[o] ?? 0), 0);
      t.true(forbiddenSeen > 0, "the litmus view shows a forbidden outcome too");
      t.is(
        Object.values(run.outcomes).reduce((a, b) => a + b, 0),
        run.trials,
        "every trial has an outcome",
      );
    },
  );

  test.serial(
    `${s.name}: widened, ${fixed} shows none in ${FIXED_TRIALS} trials, and the window was reached`,
    async (t) => {
      const r = await runScenario(opts(s, fixed, FIXED_TRIALS));
      const run = r.runs[0];
      if (run === undefined) return t.fail("no run");
      t.is(run.kernel, fixed);
      t.is(run.trials, FIXED_TRIALS);
      t.log(
        `${fixed}: ${run.lostWrites} lost, ${run.useAfterFree} UAF, ${run.faults} faults, ${run.elapsedMs} ms`,
      );
      t.is(run.lostWrites, 0);
      t.is(run.useAfterFree, 0);
      t.is(run.forbiddenTrials, 0);
      for (const o of run.forbiddenOutcomes) t.is(run.outcomes[o], 0, o);
      // Evidence the window was exercised: the racing access faulted where the buggy kernel lost
      // it, or (a fix that makes the racing step wait, as 97113eb39fa7's rmap lock does) the
      // racing step began inside the window.
      t.true(
        run.faults > 0 || (run.window?.hits ?? 0) > 0,
        `the window was exercised: ${run.faults} faults, ${run.window?.hits ?? 0} in window`,
      );
    },
  );
}

const CLI = fileURLToPath(new URL("../harness/cli.js", import.meta.url));

test.serial(
  "tlbrace matrix --json: one cell per kernel, the documented keys, matching history",
  (t) => {
    const dir = mkdtempSync(join(tmpdir(), "tlbrace-matrix-"));
    try {
      const out = join(dir, "m.json");
      const args = [
        CLI,
        "matrix",
        "--scenario",
        "mremap-mkclean",
        "--kernel",
        "v4.9-rc4",
        "--kernel",
        "5d1904204c99",
        "--trials",
        "300",
        "--json",
        "--out",
        out,
      ];
      const r = spawnSync(process.execPath, args, { encoding: "utf8", timeout: 120_000 });
      t.is(r.status, 0, r.stderr);
      const printed = JSON.parse(r.stdout) as { cells?: unknown };
      const saved = JSON.parse(readFileSync(out, "utf8")) as { cells?: unknown };
      t.deepEqual(printed, saved, "stdout and --out hold the same document");
      const cells = saved.cells as Record<string, unknown>[];
      t.true(Array.isArray(cells));
      t.deepEqual(
        cells.map((c) => c.kernel),
        ["v4.9-rc4", "5d1904204c99"],
      );
      const required = [
        "scenario",
        "kernel",
        "trials",
        "lostWrites",
        "useAfterFree",
        "faults",
        "expected",
        "matches",
      ];
      for (const c of cells) {
        const k = String(c.kernel);
        for (const key of required) t.true(Object.hasOwn(c, key), `${k}: key ${key}`);
        t.is(c.scenario, "mremap-mkclean");
        t.is(c.trials, 300);
        for (const key of ["lostWrites", "useAfterFree", "faults"]) {
          t.true(Number.isInteger(c[key]) && (c[key] as number) >= 0, `${k}: ${key} is a count`);
        }
        t.is(c.matches, true, `${k}: matches kernel history`);
      }
      t.like(cells[0], { expected: "forbidden", useAfterFree: 0 });
      t.true((cells[0]?.lostWrites as number) > 0, "v4.9-rc4 lost writes");
      t.like(cells[1], { expected: "clean", lostWrites: 0, useAfterFree: 0 });
      t.true(KERNELS.some((k) => k.name === cells[1]?.kernel));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
