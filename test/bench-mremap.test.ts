import test from "ava";
import { spawnSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { MremapBenchResult } from "../harness/bench/mremap.js";

const CLI = fileURLToPath(new URL("../harness/cli.js", import.meta.url));

// Flush and IPI counts per mremap are behaviour, not timing: they follow from each kernel's code.
test.serial("bench mremap --quick: flushes per mremap follow each version's code", (t) => {
  const out = join(mkdtempSync(join(tmpdir(), "tlbrace-")), "mremap.json");
  const r = spawnSync(
    process.execPath,
    [CLI, "bench", "mremap", "--quick", "--json", "--out", out],
    {
      encoding: "utf8",
      timeout: 120_000,
    },
  );
  t.is(r.status, 0, r.stderr);
  const res = JSON.parse(r.stdout) as MremapBenchResult;
  const flushes = (kernel: string, pages: number, dirty: boolean): number | undefined =>
    res.rows.find((x) => x.kernel === kernel && x.pages === pages && x.dirty === dirty)
      ?.flushesPerOp;
  t.is(res.rows.length, 2 * 5 * 4);
  // v4.9-rc4: one range flush at the end, whatever the region.
  t.is(flushes("v4.9-rc4", 4096, true), 1);
  t.is(flushes("v4.9-rc4", 4096, false), 1);
  // 5d1904204c99: a flush per dirty 64-page extent (4096 / 64), one at the end when clean.
  t.is(flushes("5d1904204c99", 4096, true), 64);
  t.is(flushes("5d1904204c99", 4096, false), 1);
  // LATENCY_LIMIT = PMD_SIZE: one per 512-page PMD, 8x fewer than the seed fix.
  t.is(flushes("latency-limit-pmd", 4096, true), 8);
  // eb66ae030829: a flush per extent with any present entry, clean or dirty.
  t.is(flushes("eb66ae030829", 4096, false), 64);
  t.is(flushes("eb66ae030829", 4096, true), 64);
  for (const row of res.rows) {
    t.true(row.ops > 0 && row.opsPerSecond > 0);
    t.is(row.ipisPerOp, row.flushesPerOp, "2 CPUs: every flush sends one IPI");
  }
});
