import test from "ava";
import { spawnSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { ScaleBenchResult } from "../harness/bench/scale.js";
import type { TrialsBenchResult } from "../harness/bench/trials.js";
import type { WindowBenchResult } from "../harness/bench/window.js";
import { WINDOW_DELAYS_US, WINDOW_OFFSETS_US } from "../harness/bench/window.js";

const CLI = fileURLToPath(new URL("../harness/cli.js", import.meta.url));
const tmp = (): string => join(mkdtempSync(join(tmpdir(), "tlbrace-")), "r.json");

function bench(...args: string[]): unknown {
  const r = spawnSync(
    process.execPath,
    [CLI, "bench", ...args, "--quick", "--json", "--out", tmp()],
    {
      encoding: "utf8",
      timeout: 180_000,
    },
  );
  if (r.status !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout);
}

// Shapes and the fixed kernel's zeros; never timings.
test.serial(
  "bench window --quick: both sweeps, both kernels; the fixed kernel stays at zero",
  (t) => {
    const r = bench("window", "mremap-mkclean") as WindowBenchResult;
    t.is(r.point, "move_ptes:unlocked");
    const delay = r.points.filter((p) => p.sweep === "delay");
    const offset = r.points.filter((p) => p.sweep === "offset");
    t.is(delay.length, WINDOW_DELAYS_US.length * 2);
    t.is(offset.length, WINDOW_OFFSETS_US.length * 2);
    for (const p of r.points) {
      t.is(p.rate, p.forbidden / p.trials);
      if (p.kernel === "5d1904204c99")
        t.is(p.forbidden, 0, `fixed kernel at ${p.sweep} ${p.us} us`);
    }
    t.true(
      delay.some((p) => p.kernel === "v4.9-rc4" && p.forbidden > 0),
      "the buggy kernel's window shows somewhere in the delay sweep",
    );
  },
);

test.serial("bench window: a 3-CPU scenario is refused with one line, exit 2", (t) => {
  const r = spawnSync(process.execPath, [CLI, "bench", "window", "mremap-thp"], {
    encoding: "utf8",
  });
  t.is(r.status, 2);
  t.regex(r.stderr, /^tlbrace: bench window: mremap-thp has 3 CPUs/);
});

test.serial(
  "bench trials --quick: every scenario and kernel, and the empty-trial overhead",
  (t) => {
    const r = bench("trials") as TrialsBenchResult;
    t.true(r.overhead.trials > 0 && r.overhead.nsPerTrial > 0);
    const scenarios = new Set(r.rows.map((x) => x.scenario));
    t.true(scenarios.has("mremap-mkclean") && scenarios.has("mremap-thp"));
    t.is(r.rows.length, scenarios.size * 2, "each scenario on its two kernels");
    for (const x of r.rows) t.true(x.trials > 0 && x.trialsPerSecond > 0);
  },
);

test.serial(
  "bench scale --quick: a row per machine count; efficiency against one machine; cores busy and memory",
  (t) => {
    const r = bench("scale", "zap-mkclean", "--machines", "2") as ScaleBenchResult;
    t.is(r.bench, "scale");
    t.is(r.kernel, "v3.14", "the scenario's first kernel");
    t.is(r.cpus, 2);
    t.deepEqual(
      r.rows.map((x) => [x.machines, x.threads]),
      [
        [1, 2],
        [2, 4],
      ],
    );
    const [one, two] = r.rows;
    t.is(one?.efficiency, 1);
    for (const x of r.rows) {
      t.true(x.trials > 0 && x.trialsPerSecond > 0, `trials at ${x.machines} machine(s)`);
      t.true(x.coresBusy > 0 && x.rssMiB > 0);
      t.is(x.harnessErrors, 0);
    }
    t.is(
      two?.efficiency,
      Math.round(((two?.trialsPerSecond ?? 0) / (2 * (one?.trialsPerSecond ?? 1))) * 100) / 100,
    );
    t.true(r.bufferBytes > 1_000_000);
    t.is(r.mode, "natural");
  },
);

test.serial(
  "bench scale --widened --quick: forbidden outcomes per second beside trials/s; a fixed kernel finds none",
  (t) => {
    const buggy = bench(
      "scale",
      "zap-mkclean-rmap",
      "--widened",
      "--machines",
      "1",
    ) as ScaleBenchResult;
    t.is(buggy.mode, "widened");
    const [row] = buggy.rows;
    t.truthy(row);
    t.true((row?.forbidden ?? 0) > 0, "1cf35d47712d loses writes with its window widened");
    // Per second of the counted wall time (seconds is that time, rounded to the millisecond).
    const perSecond = (row?.forbidden ?? 0) / (row?.seconds ?? 1);
    // Both sides round: the rate to a whole number (0.5), the seconds to the millisecond (a
    // relative error of 0.0005 / seconds on the rate).
    const tolerance = 0.5 + (perSecond * 0.0005) / (row?.seconds ?? 1) + 1e-9;
    t.true(
      Math.abs((row?.forbiddenPerSecond ?? -10) - perSecond) <= tolerance,
      `${row?.forbiddenPerSecond}/s against ${perSecond}/s (tolerance ${tolerance})`,
    );
    const fixed = bench(
      "scale",
      "zap-mkclean-rmap",
      "--widened",
      "--kernel",
      "5df397dec7c4",
      "--machines",
      "1",
    ) as ScaleBenchResult;
    t.true((fixed.rows[0]?.trials ?? 0) > 0);
    t.is(fixed.rows[0]?.forbidden, 0);
    t.is(fixed.rows[0]?.forbiddenPerSecond, 0);
  },
);
