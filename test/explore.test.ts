import test from "ava";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Decision } from "../harness/explore/controlled.js";
import type { ExploreResult } from "../harness/explore/explore.js";
import { nextPrefix, pctChooser, prefixChooser, rng } from "../harness/explore/strategies.js";
import {
  decodeChoices,
  decodeToken,
  encodeChoices,
  encodeToken,
  kernelFingerprint,
} from "../harness/explore/token.js";
import type { ResultFile } from "../harness/results.js";
import { KERNELS } from "../lib/kernels/index.js";
import { STEP_STALE_HIT } from "../lib/machine/steps.js";

const CLI = fileURLToPath(new URL("../harness/cli.js", import.meta.url));
const SCENARIOS = fileURLToPath(new URL("../../scenarios/", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "tlbrace-explore-"));
const cli = (args: string[]) =>
  spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8", timeout: 170_000 });

// --- strategies and tokens, on known data ---

test("encodeChoices / decodeChoices: run-length encoding round-trips", (t) => {
  const xs = [0, 0, 0, 1, 1, 0, 2, 2, 2, 2];
  t.is(encodeChoices(xs), "0*3.1*2.0*1.2*4");
  t.deepEqual(decodeChoices(encodeChoices(xs)), xs);
  t.deepEqual(decodeChoices(""), []);
  t.throws(() => decodeChoices("0*3.x"), { message: /bad schedule/ });
});

test("tokens: round-trip, and damaged tokens are refused", (t) => {
  const spec = {
    v: 1 as const,
    s: "mremap-mkclean",
    sh: "abc",
    k: "v4.9-rc4",
    kh: "def",
    p: { pages: 1 },
    n: 2,
    a: "x86" as const,
    x: "0*2.1*1",
  };
  t.deepEqual(decodeToken(encodeToken(spec)), spec);
  t.throws(() => decodeToken("hello"), { message: /not a tlbrace token/ });
  t.throws(() => decodeToken("tlbr1.!!!"), { message: /damaged/ });
  t.throws(() => decodeToken(`tlbr1.${Buffer.from('{"v":1}').toString("base64url")}`), {
    message: /fields missing/,
  });
  const fps = new Set(KERNELS.map(kernelFingerprint));
  t.is(fps.size, KERNELS.length, "every kernel variant has its own fingerprint");
});

const d = (enabled: number[], prev: number, prevReady: boolean, chosen: number): Decision => ({
  enabled,
  nReady: enabled.length,
  prev,
  prevReady,
  chosen,
});

test("nextPrefix: depth-first over alternatives, counting only real preemptions", (t) => {
  // Three decisions: at 0 both CPUs can start (no preemption either way); at 1 CPU 0 could go
  // on, so switching to 1 is a preemption; at 2 CPU 0 waits, so switching is free.
  const ex = [d([0, 1], -1, false, 0), d([0, 1], 0, true, 0), d([1], 0, false, 1)];
  const tried: Set<number>[] = [];
  t.deepEqual(nextPrefix(ex, tried, 0), [1], "bound 0: only the free choice at the start");
  const tried1: Set<number>[] = [];
  t.deepEqual(nextPrefix(ex, tried1, 1), [0, 1], "bound 1: the deepest alternative first");
  const again = [d([0, 1], -1, false, 0), d([0, 1], 0, true, 1), d([0], 1, false, 0)];
  t.deepEqual(nextPrefix(again, tried1, 1), [1], "then back up to the start");
});

test("prefixChooser follows the prefix, then keeps the running CPU while it can go on", (t) => {
  const c = prefixChooser([1, 0]);
  t.is(c(0, [0, 1], -1, false, 2), 1);
  t.is(c(1, [0, 1], 1, true, 2), 0);
  t.is(c(2, [0, 1], 0, true, 2), 0, "no preemption by default");
  t.is(c(3, [1], 0, false, 1), 1);
  t.is(c(4, [2, 0, 1], 0, false, 1), 2, "a CPU that can go on before waiters re-checking");
});

test("pctChooser: the highest priority runs, a change point demotes it", (t) => {
  const c = pctChooser(2, 10, 2, rng(7));
  const first = c(0, [0, 1], -1, false, 2);
  let switched = false;
  for (let i = 1; i <= 10; i++) if (c(i, [0, 1], first, true, 2) !== first) switched = true;
  t.true(switched, "one change point within k = 10 steps hands over to the other CPU");
});

// --- the explorer on the seed scenario, end to end ---

test.serial(
  "explore v4.9-rc4 (dfs) finds the lost write; explain draws it; replay repeats it exactly",
  (t) => {
    const out = join(dir, "buggy.json");
    const r = cli(["explore", "mremap-mkclean", "--kernel", "v4.9-rc4", "--json", "--out", out]);
    t.is(r.status, 1, r.stderr);
    const res = JSON.parse(r.stdout) as ExploreResult;
    const v = res.violation;
    if (v === null) return t.fail("no violation");
    t.true(v.preemptions <= 2);
    t.is(v.lostWrites, 1);
    t.true(
      v.trace.some((e) => e[2] === STEP_STALE_HIT && e[1] === 0),
      "CPU 0 stored through a stale TLB entry",
    );
    const e = cli(["explain", out, "--svg", join(dir, "buggy.svg")]);
    t.is(e.status, 0, e.stderr);
    t.regex(e.stdout, /CPU 0 \(thread 1\)\s+\| CPU 1 \(thread 2\)/);
    t.regex(e.stdout, /move_ptes:unlocked/);
    t.regex(e.stdout, /page_mkclean:done/);
    t.regex(e.stdout, /store via a stale TLB entry.*<== LOST WRITE/);
    // The seed's order: mremap's move_ptes drops the PTLs before page_mkclean runs, and the
    // lost store comes after page_mkclean and before mremap's flush reaches CPU 0.
    const at = (re: RegExp): number => e.stdout.split("\n").findIndex((l) => re.test(l));
    t.true(at(/move_ptes:unlocked/) < at(/page_mkclean:done/));
    t.true(at(/page_mkclean:done/) < at(/LOST WRITE/));
    t.regex(readFileSync(join(dir, "buggy.svg"), "utf8"), /^<svg [^>]*>[\s\S]*LOST|stale/);
    // Replay the token ten times: the same outcome and trace every time.
    const traces = new Set<string>();
    for (let i = 0; i < 10; i++) {
      const p = cli(["replay", v.token, "--json"]);
      t.is(p.status, 0, p.stderr);
      const got = JSON.parse(p.stdout) as { lostWrites: number; trace: unknown };
      t.is(got.lostWrites, 1);
      traces.add(JSON.stringify(got.trace));
    }
    t.is(traces.size, 1, "ten replays, one trace");
    t.is([...traces][0], JSON.stringify(v.trace), "and it is the explorer's own");
  },
);

test.serial("explore 5d1904204c99 (dfs): no violation within bound 2, exhaustively", (t) => {
  const r = cli([
    "explore",
    "mremap-mkclean",
    "--kernel",
    "5d1904204c99",
    "--json",
    "--out",
    join(dir, "fixed.json"),
  ]);
  t.is(r.status, 0, r.stderr);
  const res = JSON.parse(r.stdout) as ExploreResult;
  t.is(res.violation, null);
  t.true(res.exhaustive);
  t.deepEqual(
    res.perBound.map(([b]) => b),
    [0, 1, 2],
  );
  t.is(
    res.perBound.reduce((s, [, n]) => s + n, 0),
    res.schedules,
  );
  t.true(res.schedules > 100, `${res.schedules} schedules`);
  const text = cli(["explore", "mremap-mkclean", "--kernel", "5d1904204c99", "--bound", "1"]);
  t.is(text.status, 0);
  t.regex(
    text.stdout,
    /no violation within bound 1: every schedule of mremap-mkclean with at most 1 preemptions was run on 5d1904204c99, exhaustively/,
  );
});

test.serial("replay refuses a token from another version of the scenario", (t) => {
  const res = JSON.parse(readFileSync(join(dir, "buggy.json"), "utf8")) as ExploreResult;
  const token = res.violation?.token ?? "";
  const spec = JSON.parse(readFileSync(join(SCENARIOS, "mremap-mkclean.json"), "utf8")) as {
    description: string;
  };
  spec.description += " (edited)";
  const file = join(dir, "edited.json");
  writeFileSync(file, JSON.stringify(spec));
  const r = cli(["replay", token, "--file", file]);
  t.is(r.status, 2);
  t.regex(
    r.stderr,
    /^tlbrace: replay token: scenario "mremap-mkclean" has changed since the token was made/,
  );
  const bad = cli(["replay", "tlbr1.e30"]);
  t.is(bad.status, 2);
  t.regex(bad.stderr, /replay token: damaged/);
});

test.serial("run --trace keeps the first forbidden trial's trace, and explain draws it", (t) => {
  const out = join(dir, "run.json");
  const r = cli([
    "run",
    "mremap-mkclean",
    "--kernel",
    "v4.9-rc4",
    "--delay",
    "move_ptes:unlocked=100us",
    "--trials",
    "1000",
    "--seed",
    "1",
    "--trace",
    "--json",
    "--out",
    out,
  ]);
  t.is(r.status, 0, r.stderr);
  const res = JSON.parse(r.stdout) as ResultFile;
  const run = res.runs[0];
  if (run === undefined) return t.fail("no run");
  t.true(run.lostWrites > 0, "widened, v4.9-rc4 loses writes");
  t.is(run.trace?.trial, run.firstLostWriteTrial ?? -1);
  t.true((run.trace?.events ?? []).some((e) => e[2] === STEP_STALE_HIT));
  const e = cli(["explain", out]);
  t.is(e.status, 0, e.stderr);
  t.regex(e.stdout, /trial \d+, the first with a forbidden outcome/);
  t.regex(e.stdout, /<== LOST WRITE/);
  const none = cli(["explain", join(dir, "fixed.json")]);
  t.is(none.status, 2);
  t.regex(none.stderr, /found no violation/);
});

test.serial(
  "explore mremap-dirty-window on 5d1904204c99 with pct finds the seed fix's own window",
  (t) => {
    // A window of depth 3 (three CPUs, the store between the D test and the clear, reclaim in
    // between, the later store before mremap's flush): pct finds it in a few hundred schedules.
    const r = cli([
      "explore",
      "mremap-dirty-window",
      "--kernel",
      "5d1904204c99",
      "--strategy",
      "pct",
      "--depth",
      "3",
      "--seed",
      "1",
      "--budget",
      "5000",
      "--json",
      "--out",
      join(dir, "dirty.json"),
    ]);
    t.is(r.status, 1, r.stderr);
    const res = JSON.parse(r.stdout) as ExploreResult;
    t.is(res.violation?.lostWrites, 1);
    t.true(res.schedules <= 5000);
  },
);

test("explore: bad input is one line and exit 2", (t) => {
  const cases: [string[], RegExp][] = [
    [["mremap-mkclean", "--kernel", "v9"], /unknown kernel "v9"/],
    [["mremap-mkclean", "--kernel", "v4.9-rc4", "--strategy", "bfs"], /--strategy: "bfs"/],
    [["mremap-mkclean", "--kernel", "v4.9-rc4", "--bound", "x"], /--bound: "x" is not an integer/],
    [
      ["mremap-mkclean", "--kernel", "v4.9-rc4", "--budget", "soon"],
      /--budget: "soon" is not a duration/,
    ],
    [["mremap-mkclean"], /required option '--kernel <name>' not specified/],
  ];
  for (const [args, want] of cases) {
    const r = cli(["explore", ...args]);
    t.is(r.status, 2, args.join(" "));
    t.regex(r.stderr, want);
  }
});
