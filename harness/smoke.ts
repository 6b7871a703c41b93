/**
 * `tlbrace smoke`: the CI smoke test. For every scenario, with its window widened: the buggy
 * kernel must show the forbidden outcome, and the fixed kernel must show none, with proof that
 * the window was exercised, not skipped: trials that faulted where the buggy kernel lost the
 * write, or trials whose racing step began inside the scenario's window (a fix that makes the
 * racing step wait, as 97113eb39fa7's rmap lock does, neither faults nor loses). On an arch
 * where history says the buggy kernel is clean (x86's batched reclaim flush, see the scenario's
 * archNote), it must show none there, with the same proof.
 */
import { builtinScenarios } from "./scenarios.js";
import { table } from "./format.js";
import { widenDelays } from "./matrix.js";
import { expectedVerdict, fixedKernel } from "../lib/scenarios/verdict.js";
import type { Arch } from "../lib/scenarios/types.js";
import { runScenario } from "./run.js";

export interface SmokeCheck {
  scenario: string;
  kernel: string;
  /** The modelled arch of the check. */
  arch: Arch;
  role: "buggy" | "fixed";
  trials: number;
  /** Trials with a lost write or a use-after-free access. */
  forbidden: number;
  faults: number;
  /** Trials whose racing step began inside the scenario's window (0 if it names none). */
  inWindow: number;
  ok: boolean;
  expectation: string;
}

export interface SmokeOptions {
  buggyTrials: number;
  fixedTrials: number;
  seed: number;
  watchdogMs: number;
  command: string;
  /** Archs to check each scenario on (default: each scenario's own). */
  archs?: Arch[];
}

export async function smoke(opts: SmokeOptions): Promise<SmokeCheck[]> {
  const checks: SmokeCheck[] = [];
  for (const s of builtinScenarios())
    for (const arch of opts.archs ?? [s.arch ?? "x86"]) {
      const delays = widenDelays(s);
      const buggy = s.kernels[0];
      const fixed = fixedKernel(s, arch);
      // Where history says the buggy kernel is clean on this arch, it must stay clean.
      const buggyShows = expectedVerdict(s, buggy, arch) === "forbidden";
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
          arch,
          seed: opts.seed,
          watchdogMs: opts.watchdogMs,
          command: opts.command,
        });
        const run = r.runs[0];
        if (run === undefined) throw new Error(`smoke: no run for ${s.name} on ${kernel}`);
        const forbidden = run.forbiddenTrials;
        const inWindow = run.window?.hits ?? 0;
        const ok =
          role === "buggy" && buggyShows
            ? forbidden > 0
            : forbidden === 0 && (run.faults > 0 || inWindow > 0);
        checks.push({
          scenario: s.name,
          kernel,
          arch,
          role,
          trials: run.trials,
          forbidden,
          faults: run.faults,
          inWindow,
          ok,
          expectation:
            role === "buggy" && buggyShows
              ? "shows the race"
              : role === "buggy"
                ? `none on ${arch}, window reached`
                : "none, window reached",
        });
      }
    }
  return checks;
}

export function formatSmoke(checks: SmokeCheck[]): string {
  return table(
    [
      [
        "scenario",
        "arch",
        "kernel",
        "expected",
        "trials",
        "forbidden",
        "faults",
        "in window",
        "verdict",
      ],
      ...checks.map((c) => [
        c.scenario,
        c.arch,
        c.kernel,
        c.expectation,
        String(c.trials),
        String(c.forbidden),
        String(c.faults),
        String(c.inWindow),
        c.ok ? "PASS" : "FAIL",
      ]),
    ],
    [false, false, false, false, true, true, true, true, false],
  );
}
