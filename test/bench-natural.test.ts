/**
 * `tlbrace bench natural --quick --json` and `tlbrace matrix --natural`, through the CLI: the
 * seed race at natural timing, nothing injected.
 */
import test from "ava";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { NaturalBenchResult } from "../harness/bench/natural.js";
import type { MatrixResult } from "../harness/matrix.js";

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
