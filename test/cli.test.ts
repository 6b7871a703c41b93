import test from "ava";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const CLI = fileURLToPath(new URL("../harness/cli.js", import.meta.url));

function tlbrace(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8", timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const bad: [string[], RegExp][] = [
  [["run", "nope"], /unknown scenario "nope" \(valid: .*mremap-mkclean/],
  [
    ["run", "mremap-mkclean", "--kernel", "v9"],
    /unknown kernel "v9" \(valid: v3\.14, .*v4\.9-rc4, 5d1904204c99/,
  ],
  [
    ["run", "mremap-mkclean", "--delay", "nowhere=1us"],
    /unknown point "nowhere" \(valid: .*move_ptes:unlocked/,
  ],
  [
    ["run", "mremap-mkclean", "--delay", "move_ptes:unlocked=5parsecs"],
    /"5parsecs" is not a duration/,
  ],
  [["run", "mremap-mkclean", "--trials", "lots"], /--trials: "lots" is not an integer/],
  [["run", "mremap-mkclean", "--cpus", "1"], /needs at least 2 CPUs/],
  [
    ["run", "mremap-mkclean", "--pages", "9999"],
    /--pages: must be an integer from 1 to 4096, got 9999/,
  ],
  [
    ["run", "mremap-mkclean", "--trials", "5", "--duration", "1s"],
    /--trials or --duration, not both/,
  ],
  [["run", "mremap-mkclean", "--frobnicate"], /unknown option '--frobnicate'/],
  [
    ["run", "mremap-mkclean", "--offsets", "bogus"],
    /--offsets: unknown mode "bogus" \(valid: window, uniform\)/,
  ],
  [
    ["run", "mremap-mkclean", "--offsets", "window", "--offset-max", "5us"],
    /--offset-max sets uniform offsets: it cannot go with --offsets window/,
  ],
];

for (const [args, message] of bad) {
  test(`bad input: tlbrace ${args.join(" ")} -> one line, exit 2`, (t) => {
    const r = tlbrace(...args);
    t.is(r.status, 2);
    t.regex(r.stderr, message);
    t.is(r.stderr.trim().split("\n").length, 1, "one line, no stack trace");
    t.is(r.stdout, "");
  });
}

test.serial("run --json prints only the result JSON and writes the same to --out", (t) => {
  const out = join(mkdtempSync(join(tmpdir(), "tlbrace-")), "r.json");
  const r = tlbrace(
    "run",
    "mremap-mkclean",
    "--trials",
    "300",
    "--seed",
    "9",
    "--json",
    "--out",
    out,
  );
  t.is(r.status, 0, r.stderr);
  const printed = JSON.parse(r.stdout) as Record<string, unknown>;
  const saved = JSON.parse(readFileSync(out, "utf8")) as Record<string, unknown>;
  t.deepEqual(printed, saved);
  t.is(printed.schema, 1);
  t.is(printed.scenario, "mremap-mkclean");
  t.is(printed.seed, 9);
  const runs = printed.runs as {
    kernel: string;
    trials: number;
    outcomes: Record<string, number>;
  }[];
  t.deepEqual(
    runs.map((x) => x.kernel),
    ["v4.9-rc4", "5d1904204c99"],
  );
  for (const run of runs) {
    t.is(run.trials, 300);
    t.is(
      Object.values(run.outcomes).reduce((a, b) => a + b, 0),
      300,
      "the outcome histogram accounts for every trial",
    );
  }
  t.like(printed.machine, { node: process.version });
});

test("list names every scenario, kernel with its commit, and point", (t) => {
  const r = tlbrace("list");
  t.is(r.status, 0);
  t.regex(r.stdout, /mremap-mkclean/);
  t.regex(r.stdout, /5d1904204c99/);
  t.regex(r.stdout, /move_ptes:unlocked/);
});

test("--help: a repeatable option says what none means, not '(default: [])'", (t) => {
  for (const cmd of [["list"], ["run"], ["matrix"], ["stress"]]) {
    const r = tlbrace(...cmd, "--help");
    t.is(r.status, 0, cmd.join(" "));
    t.regex(r.stdout, /repeatable/, `${cmd.join(" ")} has a repeatable option`);
    t.notRegex(r.stdout, /default: \[\]/, cmd.join(" "));
  }
});
