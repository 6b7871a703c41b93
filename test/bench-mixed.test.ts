import test from "ava";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { compareMixed, mixedSchedule, type MixedBenchResult } from "../harness/bench/mixed.js";
import type { MixedRow } from "../harness/bench/mixed-workload.js";
import type { MremapBenchResult } from "../harness/bench/mremap.js";
import { pairedRatioInterval } from "../lib/stats/intervals.js";

const CLI = fileURLToPath(new URL("../harness/cli.js", import.meta.url));
const tmp = (name: string): string => join(mkdtempSync(join(tmpdir(), "tlbrace-")), name);

test("mixedSchedule: a warm-up, then pairs A B, B A, ... per variant", (t) => {
  const s = mixedSchedule({
    cpus: 2,
    baseline: "A",
    variants: ["B", "C"],
    pairs: 3,
    runMs: 100,
    quick: false,
  });
  t.deepEqual(
    s.map((c) => `${c.kernel}${c.pair}`),
    ["A-1", "A0", "B0", "B1", "A1", "A2", "B2", "A0", "C0", "C1", "A1", "A2", "C2"],
  );
  t.true(s.slice(1).every((c) => c.ms === 100));
});

const row = (kernel: string, variant: string, pair: number, jobsPerSecond: number): MixedRow => ({
  kernel,
  variant,
  pair,
  ms: 100,
  jobs: 10,
  seconds: 0.1,
  jobsPerSecond,
  flushes: kernel === "A" ? 20 : 30,
  ipis: 0,
  uaf: 0,
});

test("compareMixed: ratios from complete pairs only, interval as pairedRatioInterval", (t) => {
  const runs = [
    row("A", "(warm-up)", -1, 50),
    row("A", "B", 0, 100),
    row("B", "B", 0, 90),
    row("B", "B", 1, 99),
    row("A", "B", 1, 110),
    row("A", "B", 2, 100),
    row("B", "B", 2, 95),
    row("A", "B", 3, 100), // its B run never happened (stopped): not a pair
  ];
  const [c] = compareMixed(runs, "A", ["B"]);
  if (c === undefined) return t.fail("no comparison");
  const want = pairedRatioInterval([100, 110, 100], [90, 99, 95]);
  t.is(c.pairs, 3);
  t.is(c.ratio, want.ratio);
  t.is(c.low, want.low);
  t.is(c.high, want.high);
  t.is(c.holdsOne, want.low <= 1 && want.high >= 1);
  t.is(c.baselineFlushesPerJob, 2);
  t.is(c.variantFlushesPerJob, 3);
  t.deepEqual(compareMixed(runs.slice(0, 3), "A", ["B"]), [], "one pair makes no interval");
});

test.serial(
  "bench mixed --quick --json: A/B pairs on every CPU, a ratio with its interval",
  (t) => {
    const out = tmp("mixed.json");
    const r = spawnSync(
      process.execPath,
      [CLI, "bench", "mixed", "--quick", "--json", "--out", out],
      {
        encoding: "utf8",
        timeout: 120_000,
      },
    );
    t.is(r.status, 0, r.stderr);
    t.is(r.stderr, "", "--json: nothing but the JSON");
    const res = JSON.parse(r.stdout) as MixedBenchResult;
    t.deepEqual(res, JSON.parse(readFileSync(out, "utf8")) as MixedBenchResult);
    t.false(res.partial);
    t.is(res.runs.length, 1 + 2 * 4);
    for (const x of res.runs) {
      t.true(x.jobs > 0 && x.jobsPerSecond > 0);
      t.true(x.flushes > 0, "munmap and writeback shoot down");
      t.is(x.uaf, 0);
    }
    const [c] = res.comparisons;
    t.is(c?.variant, "5d1904204c99");
    t.is(c?.pairs, 4);
    t.deepEqual(res.comparisons, compareMixed(res.runs, res.baseline, ["5d1904204c99"]));
    const svg = readFileSync(out.replace(/\.json$/, "-ratio.svg"), "utf8");
    t.regex(svg, /^<svg [^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    t.regex(svg, /jobs\/s of B \/ jobs\/s of A/);
  },
);

test("bench mixed: bad input is one line and exit 2", (t) => {
  const cases: [string[], RegExp][] = [
    [["--kernel", "v9"], /^tlbrace: --kernel: unknown kernel "v9"/],
    [["--kernel", "v4.9-rc4"], /^tlbrace: --kernel: v4.9-rc4 is the baseline/],
    [["--pairs", "1"], /^tlbrace: --pairs: "1" is not an integer from 2 to 1000\n$/],
    [["--run", "soon"], /^tlbrace: --run: "soon" is not a duration/],
    [["--cpus", "9"], /^tlbrace: --cpus: "9" is not an integer from 2 to 7\n$/],
  ];
  for (const [args, want] of cases) {
    const r = spawnSync(process.execPath, [CLI, "bench", "mixed", ...args], { encoding: "utf8" });
    t.is(r.status, 2, args.join(" "));
    t.regex(r.stderr, want);
  }
});

/**
 * Start a bench and send SIGINT `delayMs` after its start line (not on a TTY a bench prints one
 * line and no bar); return its exit status and the JSON it wrote.
 */
async function interrupted<T>(
  args: string[],
  out: string,
  delayMs: number,
): Promise<[number | null, T]> {
  const p = spawn(process.execPath, [CLI, "bench", ...args, "--out", out], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  p.stderr.once("data", () => setTimeout(() => p.kill("SIGINT"), delayMs));
  p.stdout.resume();
  const code = await new Promise<number | null>((resolve) => p.once("exit", resolve));
  return [code, JSON.parse(readFileSync(out, "utf8")) as T];
}

test.serial(
  "Ctrl-C during bench mixed: stops after the current run, writes it all, marked partial",
  async (t) => {
    const out = tmp("mixed-int.json");
    // The warm-up run takes 1.5 s; stop a second after it.
    const [code, res] = await interrupted<MixedBenchResult>(
      ["mixed", "--pairs", "100", "--run", "100ms"],
      out,
      2500,
    );
    t.is(code, 0);
    t.true(res.partial);
    t.true(res.runs.length >= 2 && res.runs.length < 1 + 3 * 200, `${res.runs.length} runs`);
    t.true(res.runs.every((x) => x.jobs > 0));
  },
);

test.serial("Ctrl-C during bench mremap: partial rows, marked partial", async (t) => {
  const out = tmp("mremap-int.json");
  // Cells of 400 ms: a few are done after 2 s, most are not.
  const [code, res] = await interrupted<MremapBenchResult>(["mremap"], out, 2000);
  t.is(code, 0);
  t.true(res.partial);
  t.true(res.rows.length >= 1 && res.rows.length < 40, `${res.rows.length} rows`);
  t.true(res.rows.every((x) => x.ops > 0));
});
