/**
 * Output files that don't lie (docs/outputs.md): each command writes exactly the files it
 * names. The JSON at --out whatever its suffix, charts beside it under their own names, `--out -`
 * and `--json` on stdout and nothing on disk, and every result records the tlbrace version and,
 * from a git checkout, the commit. Through the built CLI, in a fresh working directory each time.
 */
import test from "ava";
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { chartPath, resultOutput, stamp } from "../harness/results.js";

const CLI = fileURLToPath(new URL("../harness/cli.js", import.meta.url));
const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const VERSION = (
  JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string }
).version;

const dirs: string[] = [];
test.after.always(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), "tlbrace-outputs-"));
  dirs.push(d);
  return d;
}

interface Ran {
  status: number | null;
  stdout: string;
  stderr: string;
}

function tlbrace(cwd: string, ...args: string[]): Ran {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    cwd,
    encoding: "utf8",
    timeout: 120_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The cheapest command that writes a chart: bench natural, one size, one offset mode. */
const NATURAL = ["bench", "natural", "--quick", "--sizes", "1", "--offsets", "uniform"];
const RUN = ["run", "mremap-mkclean", "--trials", "200", "--seed", "1"];

/** The commit a result should record: HEAD of the checkout tlbrace runs from, if it is one. */
function expectedCommit(): string | undefined {
  try {
    const [top, head] = execFileSync("git", ["rev-parse", "--show-toplevel", "HEAD"], {
      cwd: ROOT,
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    })
      .trim()
      .split("\n");
    return top !== undefined && realpathSync(top) === realpathSync(ROOT) ? head : undefined;
  } catch {
    return undefined;
  }
}

test("chartPath: beside the JSON, never the JSON's own path", (t) => {
  t.is(chartPath("/tmp/x.json", "rate"), "/tmp/x-rate.svg");
  t.is(chartPath("/tmp/x", "rate"), "/tmp/x-rate.svg");
  t.is(chartPath("r/bench-flush-1.JSON", "ranges"), "r/bench-flush-1-ranges.svg");
  fc.assert(
    fc.property(fc.string(), fc.stringMatching(/^[a-z]{1,10}$/), (path, chart) => {
      const names = [path, `${path}.json`].map((p) => [p, chartPath(p, chart)]);
      return names.every(([json, svg]) => json !== svg);
    }),
  );
});

test("resultOutput: --out, --out -, --json and neither", (t) => {
  const def = (): string => "results/default.json";
  t.deepEqual(resultOutput({}, def), { path: "results/default.json", stdout: false });
  t.deepEqual(resultOutput({ json: true }, def), { path: null, stdout: true });
  t.deepEqual(resultOutput({ out: "x" }, def), { path: "x", stdout: false });
  t.deepEqual(resultOutput({ out: "x", json: true }, def), { path: "x", stdout: true });
  t.deepEqual(resultOutput({ out: "-" }, def), { path: null, stdout: true });
  t.deepEqual(resultOutput({ out: "-", json: true }, def), { path: null, stdout: true });
});

test("stamp: tlbrace right after schema, an older one replaced", (t) => {
  const s = stamp({ schema: 1, kind: "stress", tlbrace: "0.0.1", n: 3 });
  t.deepEqual(Object.keys(s), ["schema", "tlbrace", "kind", "n"]);
  t.is(s.tlbrace.version, VERSION);
  t.is(s.tlbrace.commit, expectedCommit());
});

test.serial(
  "--out FILE without .json: valid JSON at FILE, the chart beside it under its own name",
  (t) => {
    const cwd = tmp();
    const out = join(cwd, "out", "natural");
    const r = tlbrace(cwd, ...NATURAL, "--out", out);
    t.is(r.status, 0, r.stderr);
    const res = JSON.parse(readFileSync(out, "utf8")) as { schema: number; bench: string };
    t.is(res.schema, 1);
    t.is(res.bench, "natural");
    t.deepEqual(readdirSync(join(cwd, "out")).sort(), ["natural", "natural-rate.svg"]);
    t.regex(readFileSync(`${out}-rate.svg`, "utf8"), /^<svg /);
    t.false(existsSync(join(cwd, "results")), "nothing under ./results");
    t.regex(r.stdout, new RegExp(`\\nresult: ${out.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\\n$`));
  },
);

test.serial("--out FILE.json: the chart is FILE-rate.svg", (t) => {
  const cwd = tmp();
  const r = tlbrace(cwd, ...NATURAL, "--out", "n.json");
  t.is(r.status, 0, r.stderr);
  t.deepEqual(readdirSync(cwd).sort(), ["n-rate.svg", "n.json"]);
  t.is(
    (JSON.parse(readFileSync(join(cwd, "n.json"), "utf8")) as { bench: string }).bench,
    "natural",
  );
});

test.serial("--out -: the JSON on stdout, no file named -, no chart, nothing on disk", (t) => {
  const cwd = tmp();
  const r = tlbrace(cwd, ...NATURAL, "--out", "-");
  t.is(r.status, 0, r.stderr);
  const res = JSON.parse(r.stdout) as { bench: string; tlbrace: { version: string } };
  t.is(res.bench, "natural");
  t.is(res.tlbrace.version, VERSION);
  t.deepEqual(readdirSync(cwd), [], "no '-', no chart, no results/");
  t.is(r.stderr, "", "like --json: no progress either");
});

test.serial("run --out -: the JSON on stdout and nothing else", (t) => {
  const cwd = tmp();
  const r = tlbrace(cwd, ...RUN, "--out", "-");
  t.is(r.status, 0, r.stderr);
  const res = JSON.parse(r.stdout) as { scenario: string };
  t.is(res.scenario, "mremap-mkclean");
  t.deepEqual(readdirSync(cwd), []);
});

test.serial("--json alone writes nothing to disk (run, bench natural, stress)", (t) => {
  for (const args of [
    RUN,
    NATURAL,
    [
      "stress",
      "--widened",
      "--scenario",
      "mremap-mkclean",
      "--trials-per-cell",
      "1001",
      "--seed",
      "7",
    ],
  ]) {
    const cwd = tmp();
    const r = tlbrace(cwd, ...args, "--json");
    t.true(r.status === 0 || (args[0] === "stress" && r.status === 1), r.stderr);
    t.notThrows(() => JSON.parse(r.stdout) as unknown, args.join(" "));
    t.deepEqual(readdirSync(cwd), [], `${args.join(" ")} --json: ./results stays absent`);
  }
});

test.serial("--json --out FILE: the same JSON on stdout and at FILE", (t) => {
  const cwd = tmp();
  const r = tlbrace(cwd, ...RUN, "--json", "--out", "r");
  t.is(r.status, 0, r.stderr);
  t.deepEqual(JSON.parse(r.stdout), JSON.parse(readFileSync(join(cwd, "r"), "utf8")));
  t.deepEqual(readdirSync(cwd), ["r"]);
});

test.serial("neither: the default path under results/, named on stdout", (t) => {
  const cwd = tmp();
  const r = tlbrace(cwd, ...RUN);
  t.is(r.status, 0, r.stderr);
  const files = readdirSync(join(cwd, "results"));
  t.is(files.length, 1);
  t.regex(files[0] ?? "", /^run-mremap-mkclean-[0-9TZ-]+\.json$/);
  t.true(r.stdout.endsWith(`\nresult: ${join("results", files[0] ?? "")}\n`), r.stdout);
});

test.serial("every result records the tlbrace version and, from a checkout, the commit", (t) => {
  const cwd = tmp();
  const r = tlbrace(cwd, ...RUN, "--out", "r.json");
  t.is(r.status, 0, r.stderr);
  const res = JSON.parse(readFileSync(join(cwd, "r.json"), "utf8")) as Record<string, unknown>;
  t.deepEqual(Object.keys(res).slice(0, 2), ["schema", "tlbrace"]);
  const commit = expectedCommit();
  t.deepEqual(
    res.tlbrace,
    commit === undefined ? { version: VERSION } : { version: VERSION, commit },
  );
  if (commit !== undefined) t.regex(commit, /^[0-9a-f]{40}$/);
  else t.log("not a git checkout: no commit expected");
});

test.serial("--out a directory: one line and exit 2 before anything runs", (t) => {
  const cwd = tmp();
  const r = tlbrace(cwd, "run", "mremap-mkclean", "--trials", "100000000", "--out", cwd);
  t.is(r.status, 2);
  t.regex(r.stderr, /^tlbrace: --out .*: cannot write the result file: it is a directory\n$/);
  t.is(r.stdout, "");
});
