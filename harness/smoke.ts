/**
 * `tlbrace smoke`: the CI smoke test. For every scenario, with its window widened: the buggy
 * kernel must lose writes, and the fixed kernel must lose none and fault instead (proof that
 * the window was exercised, not skipped).
 */
import { builtinScenarios } from "./scenarios.js";
import { table } from "./format.js";
import { parseDuration } from "../lib/units.js";
import { runScenario } from "./run.js";

export interface SmokeCheck {
  scenario: string;
  kernel: string;
  role: "buggy" | "fixed";
  trials: number;
  lostWrites: number;
  faults: number;
  ok: boolean;
  expectation: string;
}

export interface SmokeOptions {
  buggyTrials: number;
  fixedTrials: number;
  seed: number;
  watchdogMs: number;
  command: string;
}

export async function smoke(opts: SmokeOptions): Promise<SmokeCheck[]> {
  const checks: SmokeCheck[] = [];
  for (const s of builtinScenarios()) {
    const delays = new Map(
      Object.entries(s.widen).map(([p, d]) => [p, parseDuration(d, `${s.name} widen ${p}`)]),
    );
    const [buggy, fixed] = s.kernels;
    for (const [kernel, role, trials] of [
      [buggy, "buggy", opts.buggyTrials],
      [fixed, "fixed", opts.fixedTrials],
    ] as const) {
      const r = await runScenario({
        scenario: s,
        kernels: [kernel],
        trials,
        durationMs: 0,
        cpus: s.cpus.length,
        params: {},
        delays,
        seed: opts.seed,
        watchdogMs: opts.watchdogMs,
        command: opts.command,
      });
      const run = r.runs[0];
      if (run === undefined) throw new Error(`smoke: no run for ${s.name} on ${kernel}`);
      const ok = role === "buggy" ? run.lostWrites > 0 : run.lostWrites === 0 && run.faults > 0;
      checks.push({
        scenario: s.name,
        kernel,
        role,
        trials: run.trials,
        lostWrites: run.lostWrites,
        faults: run.faults,
        ok,
        expectation: role === "buggy" ? "loses writes" : "loses none, faults instead",
      });
    }
  }
  return checks;
}

export function formatSmoke(checks: SmokeCheck[]): string {
  return table(
    [
      ["scenario", "kernel", "expected", "trials", "lost writes", "faults", "verdict"],
      ...checks.map((c) => [
        c.scenario,
        c.kernel,
        c.expectation,
        String(c.trials),
        String(c.lostWrites),
        String(c.faults),
        c.ok ? "PASS" : "FAIL",
      ]),
    ],
    [false, false, false, true, true, true, false],
  );
}
