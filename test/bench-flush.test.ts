import test from "ava";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { FlushBenchResult } from "../harness/bench/flush.js";

const CLI = fileURLToPath(new URL("../harness/cli.js", import.meta.url));

// Shape and consistency only: benchmarks print figures, tests never check timings.
test.serial(
  "bench flush --quick --json: every target count, range and mode, percentiles in order",
  (t) => {
    const out = join(mkdtempSync(join(tmpdir(), "tlbrace-")), "flush.json");
    const r = spawnSync(
      process.execPath,
      [CLI, "bench", "flush", "--quick", "--cpus", "3", "--json", "--out", out],
      {
        encoding: "utf8",
        timeout: 120_000,
      },
    );
    t.is(r.status, 0, r.stderr);
    const res = JSON.parse(r.stdout) as FlushBenchResult;
    t.deepEqual(res, JSON.parse(readFileSync(out, "utf8")) as FlushBenchResult);
    t.is(res.bench, "flush");
    t.is(res.cpus, 3);
    t.true(res.floor.samples > 0 && res.floor.p50Ns > 0);
    t.is(res.rows.length, 2 * 6 * 2, "2 target counts x 6 ranges x spinning/parked");
    for (const row of res.rows) {
      t.true(row.samples > 0);
      t.true(
        row.p50Ns <= row.p90Ns &&
          row.p90Ns <= row.p99Ns &&
          row.p99Ns <= row.p999Ns &&
          row.p999Ns <= row.maxNs,
      );
      t.is(row.p50OverFloor, Math.round((row.p50Ns / res.floor.p50Ns) * 10) / 10);
    }
    t.deepEqual([...new Set(res.rows.map((x) => x.pages))], [1, 8, 33, 34, 64, 512]);
    t.false(res.partial);
    // The histogram holds every sample, in bins that rise.
    for (const h of [res.floor, ...res.rows]) {
      t.is(
        h.bins.reduce((s, [, n]) => s + n, 0),
        h.samples,
      );
      t.true(h.bins.every(([ns], i) => i === 0 || ns > (h.bins[i - 1]?.[0] ?? 0)));
    }
    for (const chart of ["ranges", "targets", "histogram"]) {
      const svg = readFileSync(out.replace(/\.json$/, `-${chart}.svg`), "utf8");
      t.regex(svg, /^<svg [^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/, chart);
      // A latency axis whose ticks carry their time unit (ns, µs or ms: whichever the data needs).
      t.regex(
        svg,
        /class="tick [xy]"[^>]*>[\d.]+ (ns|µs|ms|s)</,
        `${chart}: time ticks with units`,
      );
    }
  },
);

test("bench flush: bad --cpus is one line and exit 2", (t) => {
  const r = spawnSync(process.execPath, [CLI, "bench", "flush", "--cpus", "1"], {
    encoding: "utf8",
  });
  t.is(r.status, 2);
  t.regex(r.stderr, /^tlbrace: --cpus: "1" is not an integer from 2 to 32\n$/);
});
