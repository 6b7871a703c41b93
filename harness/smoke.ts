/**
 * `tlbrace smoke`: the CI smoke test. For every scenario, with its window widened: the buggy
 * kernel must show the forbidden outcome, and the fixed kernel must show none, with proof that
 * the window was exercised, not skipped: trials that faulted where the buggy kernel lost the
 * write, or trials whose racing step began inside the scenario's window (a fix that makes the
 * racing step wait, as 97113eb39fa7's rmap lock does, neither faults nor loses). On an arch
 * where history says the buggy kernel is clean (x86's batched reclaim flush, see the scenario's
 * archNote), it must show none there, with the same proof.
 *
 * `smoke --natural` runs every race of the catalog at natural timing instead (nothing injected,
 * window-aware offsets, each race at its natural parameters, as the form that fits the host's
 * cores) and gates only on what cannot depend on timing: no fixed kernel may show a forbidden
 * outcome. How often a buggy kernel shows its race depends on how quiet the host is, so its rate
 * is printed, not asserted.
 */
import { builtinScenarios, catalogRaces, naturalForm } from "./scenarios.js";
import { table } from "./format.js";
import { widenDelays } from "./matrix.js";
import { expectedVerdict, fixedKernel } from "../lib/scenarios/verdict.js";
import type { Arch } from "../lib/scenarios/types.js";
import { runScenario } from "./run.js";
import { WatchdogError } from "./machine.js";

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
  /** Natural timing: the form that ran when it is not the race as written. */
  form?: string;
  /** Natural timing: the run stopped making progress (the watchdog's words). */
  stalled?: string;
}

export interface SmokeOptions {
  buggyTrials: number;
  fixedTrials: number;
  seed: number;
  watchdogMs: number;
  command: string;
  /** Archs to check each scenario on (default: each scenario's own). */
  archs?: Arch[];
  /** Natural timing: each race at its natural parameters for `seconds`, nothing injected. */
  natural?: { seconds: number; cores: number };
}

export async function smoke(opts: SmokeOptions): Promise<SmokeCheck[]> {
  const checks: SmokeCheck[] = [];
  const natural = opts.natural;
  for (const race of natural === undefined ? builtinScenarios() : catalogRaces())
    for (const arch of opts.archs ?? [race.arch ?? "x86"]) {
      const form = natural === undefined ? undefined : naturalForm(race, natural.cores);
      const s = form?.scenario ?? race;
      const delays = natural === undefined ? widenDelays(s) : new Map<string, number>();
      const buggy = s.kernels[0];
      const fixed = fixedKernel(s, arch);
      // Where history says the buggy kernel is clean on this arch, it must stay clean.
      const buggyShows = expectedVerdict(s, buggy, arch) === "forbidden";
      for (const [kernel, role, trials] of [
        [buggy, "buggy", opts.buggyTrials],
        [fixed, "fixed", opts.fixedTrials],
      ] as const) {
        let run;
        let stalled: string | undefined;
        try {
          const r = await runScenario({
            scenario: s,
            kernels: [kernel],
            trials: natural === undefined ? trials : 0,
            durationMs: natural === undefined ? 0 : natural.seconds * 1000,
            cpus: s.cpus.length,
            params: natural === undefined ? {} : { ...(s.natural ?? {}) },
            delays,
            arch,
            seed: opts.seed,
            watchdogMs: opts.watchdogMs,
            command: opts.command,
          });
          run = r.runs[0];
          if (run === undefined) throw new Error(`smoke: no run for ${s.name} on ${kernel}`);
        } catch (e) {
          // At natural timing a buggy kernel may livelock where its race lets it (a lost
          // migration entry): printed, not gated. A fixed kernel that stalls fails.
          if (natural === undefined || !(e instanceof WatchdogError)) throw e;
          stalled = e.message;
        }
        const forbidden = run?.forbiddenTrials ?? 0;
        const faults = run?.faults ?? 0;
        const inWindow = run?.window?.hits ?? 0;
        // At natural timing only a fixed kernel's forbidden outcome (or stall) fails: whether a
        // buggy kernel shows its race, and how often a fixed one reaches its window, depend on the
        // host's load.
        const ok =
          natural !== undefined
            ? role === "buggy" || (forbidden === 0 && stalled === undefined)
            : role === "buggy" && buggyShows
              ? forbidden > 0
              : forbidden === 0 && (faults > 0 || inWindow > 0);
        checks.push({
          scenario: race.name,
          ...(form?.form === undefined ? {} : { form: form.form }),
          ...(stalled === undefined ? {} : { stalled }),
          kernel,
          arch,
          role,
          trials: run?.trials ?? 0,
          forbidden,
          faults,
          inWindow,
          ok,
          expectation:
            natural !== undefined
              ? role === "fixed"
                ? "none"
                : buggyShows
                  ? "rate printed, not gated"
                  : `none on ${arch}, not gated`
              : role === "buggy" && buggyShows
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
  const forms = checks.some((c) => c.form !== undefined);
  const pct = (c: SmokeCheck): string =>
    c.trials === 0 ? "-" : `${((100 * c.forbidden) / c.trials).toFixed(2)}%`;
  return table(
    [
      [
        forms ? "scenario (ran as)" : "scenario",
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
        c.form === undefined ? c.scenario : `${c.scenario} (${c.form})`,
        c.arch,
        c.kernel,
        c.expectation,
        String(c.trials),
        `${c.forbidden} (${pct(c)})`,
        String(c.faults),
        String(c.inWindow),
        c.stalled !== undefined ? (c.ok ? "stalled" : "STALLED") : c.ok ? "PASS" : "FAIL",
      ]),
    ],
    [false, false, false, false, true, true, true, true, false],
  );
}
