/**
 * `tlbrace bench natural --quick --json` and `tlbrace matrix --natural`, through the CLI: the
 * seed race at natural timing, nothing injected; `bench natural --scenario` on another race;
 * how a sweep's cells are chosen (sizes, scan, a target past a small mapping), without a run.
 */
import test from "ava";
import { Ajv } from "ajv";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  cellParams,
  naturalCells,
  naturalModes,
  naturalScans,
  naturalSizes,
  type NaturalBenchResult,
} from "../harness/bench/natural.js";
import type { MatrixResult } from "../harness/matrix.js";
import { findScenario } from "../harness/scenarios.js";
import { SCHEMAS_DIR } from "../harness/schemas/index.js";
import type { ScenarioSpec } from "../lib/scenarios/types.js";
import { UsageError } from "../lib/units.js";

const CLI = fileURLToPath(new URL("../harness/cli.js", import.meta.url));

function tlbrace(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8", timeout: 170_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test.serial(
  "bench natural --quick --json: one JSON document, a row per size, kernel and offset mode",
  (t) => {
    const dir = mkdtempSync(join(tmpdir(), "tlbrace-natural-"));
    try {
      const out = join(dir, "n.json");
      const r = tlbrace(["bench", "natural", "--quick", "--json", "--out", out]);
      t.is(r.status, 0, r.stderr);
      const printed = JSON.parse(r.stdout) as NaturalBenchResult;
      t.deepEqual(printed, JSON.parse(readFileSync(out, "utf8")), "stdout and --out agree");
      t.is(printed.bench, "natural");
      t.is(printed.scenario, "mremap-mkclean", "without --scenario: the seed");
      const keys = printed.rows.map((x) => `${x.pages}/${x.offsets}/${x.kernel}`);
      const want: string[] = [];
      for (const pages of [1, 16, 64, 256, 1024, 4096])
        for (const offsets of ["uniform", "window"])
          for (const kernel of ["v4.9-rc4", "5d1904204c99"])
            want.push(`${pages}/${offsets}/${kernel}`);
      t.deepEqual(keys, want);
      for (const x of printed.rows) {
        const k = `${x.pages} pages ${x.offsets} ${x.kernel}`;
        t.true(x.trials > 0, `${k}: trials ran`);
        t.true(x.windowHits >= 0 && x.windowHits <= x.trials, `${k}: window hits among the trials`);
        t.true(
          x.rate.low <= x.rate.rate && x.rate.rate <= x.rate.high,
          `${k}: rate inside its interval`,
        );
        t.is(x.rate.trials, x.trials);
        t.deepEqual(x.params, { pages: x.pages, target: 0 }, `${k}: the seed's parameters`);
        t.is(x.forbidden, x.rate.events, `${k}: the rate counts forbidden trials`);
        if (x.kernel === "5d1904204c99") t.is(x.lostWrites, 0, `${k}: the fix loses nothing`);
        if (x.offsets === "window") t.truthy(x.learned, `${k}: what the learning found`);
        else t.is(x.learned, undefined);
      }
      t.true(existsSync(out.replace(/\.json$/, "-rate.svg")), "the chart beside the result");
      t.regex(
        readFileSync(out.replace(/\.json$/, "-rate.svg"), "utf8"),
        /<svg[\s\S]*v4\.9-rc4 window-aware/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

test("bench natural: bad --sizes and --offsets get one line and exit 2", (t) => {
  for (const [args, re] of [
    [["--sizes", "1,lots"], /--sizes: "lots" is not an integer/],
    [["--sizes", "8192"], /--sizes/],
    [["--offsets", "bogus"], /--offsets: unknown mode "bogus"/],
  ] as [string[], RegExp][]) {
    const r = tlbrace(["bench", "natural", "--quick", ...args]);
    t.is(r.status, 2, args.join(" "));
    t.regex(r.stderr, re);
    t.is(r.stderr.trim().split("\n").length, 1);
  }
});

test.serial(
  "bench natural --scenario zap-mkclean --quick --json: its own kernels, both modes, each row's parameters",
  (t) => {
    const r = tlbrace(
      ["bench", "natural", "--scenario", "zap-mkclean", "--quick", "--json"].concat([
        "--sizes",
        "1,64",
        "--seconds",
        "0.2",
      ]),
    );
    t.is(r.status, 0, r.stderr);
    const printed = JSON.parse(r.stdout) as NaturalBenchResult; // one document, nothing else
    t.is(printed.bench, "natural");
    t.is(printed.scenario, "zap-mkclean");
    t.is(printed.cpus, 2);
    t.is(printed.arch, "x86");
    t.is(printed.secondsPerCell, 0.2, "an explicit --seconds wins over --quick");
    const keys = printed.rows.map((x) => `${x.pages}/${x.offsets}/${x.kernel}`);
    const want: string[] = [];
    for (const pages of [1, 64])
      for (const offsets of ["uniform", "window"])
        for (const kernel of ["v3.14", "1cf35d47712d"]) want.push(`${pages}/${offsets}/${kernel}`);
    t.deepEqual(keys, want);
    for (const x of printed.rows) {
      const k = `${x.pages} pages ${x.offsets} ${x.kernel}`;
      t.true(x.trials > 0, `${k}: trials ran`);
      t.is(x.params?.pages, x.pages, `${k}: the swept size is the pages parameter`);
      t.true(x.params?.target !== undefined && x.params.target < x.pages, `${k}: a target inside`);
      t.true(x.forbidden !== undefined && x.forbidden >= 0 && x.forbidden <= x.trials, k);
      t.is(x.forbidden, x.rate.events);
    }
    t.true(naturalSchema()(printed), "the result validates against its schema");
  },
);

test("bench natural: an unknown scenario, a size or scan it does not allow, exit 2 with one line", (t) => {
  for (const [args, re] of [
    [["--scenario", "nope"], /unknown scenario "nope" \(valid: .*zap-mkclean/],
    [["--scenario", "zap-mkclean", "--sizes", "1,5000"], /--sizes: 5000 .*zap-mkclean.*1 to 4096/],
    [["--scenario", "mremap-thp", "--sizes", "1"], /--sizes: 1 .*mremap-thp.*512 to 512/],
    [["--scenario", "zap-mkclean", "--scan", "8"], /--scan: scenario zap-mkclean has no scan/],
    [["--scan", "8,32"], /--scan: scenario mremap-mkclean has no scan/],
    [["--scenario", "zap-mkclean", "--file", "x.json"], /--scenario NAME or --file PATH/],
    [["--scenario", "zap-mkclean", "--kernel", "v9"], /unknown kernel "v9"/],
  ] as [string[], RegExp][]) {
    const r = tlbrace(["bench", "natural", "--quick", ...args]);
    t.is(r.status, 2, args.join(" "));
    t.regex(r.stderr, re);
    t.is(r.stderr.trim().split("\n").length, 1);
  }
});

/** The committed schema of bench natural results, as a reader's ajv would load it. */
function naturalSchema(): (data: unknown) => boolean {
  const ajv = new Ajv({ allErrors: true, strict: true, strictRequired: false });
  for (const f of readdirSync(SCHEMAS_DIR).filter((x) => x.endsWith(".json")))
    ajv.addSchema(JSON.parse(readFileSync(join(SCHEMAS_DIR, f), "utf8")) as object);
  const file = join(SCHEMAS_DIR, "result-bench-natural.schema.json");
  const id = (JSON.parse(readFileSync(file, "utf8")) as { $id: string }).$id;
  const v = ajv.getSchema(id);
  if (v === undefined) throw new Error(`no schema ${id}`);
  return (data) => v(data) === true;
}

/** The seed with changes: a synthetic scenario for the sweep's rules (nothing runs). */
function seedWith(change: Partial<ScenarioSpec>): ScenarioSpec {
  return { ...structuredClone(findScenario("mremap-mkclean")), ...change };
}

test("bench natural sweep: sizes inside the scenario's range, its natural scan, its modes", (t) => {
  const seed = findScenario("mremap-mkclean");
  t.deepEqual(naturalSizes(seed, undefined), [1, 16, 64, 256, 1024, 4096]);
  t.deepEqual(naturalSizes(findScenario("mremap-thp"), undefined), [512], "one fixed size");
  const narrow = seedWith({
    params: { ...seed.params, pages: { ...seed.params.pages!, min: 2, max: 300 } },
  });
  t.deepEqual(naturalSizes(narrow, undefined), [16, 64, 256], "the standard sizes it allows");
  t.throws(() => naturalSizes(narrow, [1]), { instanceOf: UsageError, message: /2 to 300 pages/ });
  t.deepEqual(naturalScans(seed, undefined), [undefined], "no scan parameter: no scan sweep");
  const scan = { description: "pages reclaim scans", default: 32, min: 1, max: 4096 };
  const scanning = seedWith({
    params: { ...seed.params, scan },
    natural: { pages: 1024, scan: 8 },
  });
  t.deepEqual(naturalScans(scanning, undefined), [8], "the natural scan by default");
  t.deepEqual(naturalScans(scanning, [8, 32, 128]), [8, 32, 128]);
  t.throws(() => naturalScans(scanning, [0]), { instanceOf: UsageError, message: /1 to 4096/ });
  t.deepEqual(naturalModes(seed, undefined), ["uniform", "window"]);
  const blind = seedWith({});
  delete blind.window;
  t.deepEqual(naturalModes(blind, undefined), ["uniform"], "no window: uniform only");
  t.throws(() => naturalModes(blind, "window"), { instanceOf: UsageError });
  const cells = naturalCells(scanning, [16], [8, 128]);
  t.deepEqual(
    cells.map((c) => c.params),
    [
      { pages: 16, scan: 8 },
      { pages: 16, scan: 128 },
    ],
  );
});

test("bench natural sweep: a natural target past a small mapping moves to its last page, and says so", (t) => {
  const s = seedWith({ natural: { pages: 1024, target: 31 } });
  t.deepEqual(cellParams(s, 1024, undefined), { params: { pages: 1024, target: 31 } });
  const small = cellParams(s, 16, undefined);
  t.deepEqual(small.params, { pages: 16, target: 15 });
  t.regex(small.note ?? "", /target 31 -> 15: it must be below pages \(16\)/);
  t.deepEqual(cellParams(s, 1, undefined).params, { pages: 1, target: 0 });
});

test.serial(
  "matrix --natural: no delay, window-aware offsets, the scenario's natural parameters, window coverage per cell",
  (t) => {
    const r = tlbrace([
      "matrix",
      "--scenario",
      "mremap-mkclean",
      "--kernel",
      "v4.9-rc4",
      "--kernel",
      "5d1904204c99",
      "--natural",
      "--trials",
      "1500",
      "--json",
      "--out",
      join(mkdtempSync(join(tmpdir(), "tlbrace-mn-")), "m.json"),
    ]);
    t.is(r.status, 0, r.stderr);
    const m = JSON.parse(r.stdout) as MatrixResult;
    t.true(m.natural);
    t.is(m.cells.length, 2);
    for (const c of m.cells) {
      t.deepEqual(c.delays, {}, `${c.kernel}: nothing injected`);
      t.is(c.params?.pages, 1024, `${c.kernel}: at the scenario's natural size`);
      t.is(c.offsets, "window");
      t.is(c.window?.trials, 1500);
    }
    t.is(m.cells[1]?.lostWrites, 0);
    const buggy = m.cells[0];
    t.true(buggy?.matches, "a buggy kernel is never a contradiction at natural timing");
    t.is(
      buggy?.notShown === true,
      buggy?.lostWrites === 0,
      "not shown exactly when it lost nothing",
    );
    t.true(
      (m.cells[1]?.window?.hits ?? 0) > 0,
      "the fixed kernel's zero was tried inside the window",
    );
  },
);
