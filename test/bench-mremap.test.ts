import test from "ava";
import { spawnSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { MremapBenchResult } from "../harness/bench/mremap.js";

const CLI = fileURLToPath(new URL("../harness/cli.js", import.meta.url));

// Flush and IPI counts per mremap are behaviour, not timing: they follow from each kernel's code.
// The counts pinned are the move's (move_page_tables()); flushesPerOp adds the old range's munmap.
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
  const row = (kernel: string, pages: number, dirty: boolean) =>
    res.rows.find((x) => x.kernel === kernel && x.pages === pages && x.dirty === dirty);
  /** The move's flushes: those of move_page_tables(), per mremap(). */
  const move = (kernel: string, pages: number, dirty: boolean): number | undefined =>
    row(kernel, pages, dirty)?.moveFlushesPerOp;
  t.deepEqual(
    [...new Set(res.rows.map((x) => x.kernel))],
    ["v4.9-rc4", "5d1904204c99", "v4.9", "remove-latency-limit", "eb66ae030829", "9f132f7e1455"],
    "the mremap variants, in history order",
  );
  t.is(res.rows.length, 2 * 5 * 6);
  // v4.9-rc4: one range flush at the end of move_page_tables(), whatever the region.
  t.is(move("v4.9-rc4", 4096, true), 1);
  t.is(move("v4.9-rc4", 4096, false), 1);
  // 5d1904204c99 and v4.9: a flush per dirty LATENCY_LIMIT extent (4096 / 64), one at the end
  // when clean.
  t.is(move("5d1904204c99", 4096, true), 64);
  t.is(move("5d1904204c99", 4096, false), 1);
  t.is(move("v4.9", 4096, true), 64);
  t.is(move("v4.9", 512, true), 8);
  t.is(move("v4.9", 4096, false), 1);
  // remove-latency-limit (Mel Gorman, June 2018): one move_ptes() per PMD, so one flush per
  // dirty 512-page PMD: 8x fewer than the seed fix.
  t.is(move("remove-latency-limit", 4096, true), 8);
  t.is(move("remove-latency-limit", 512, true), 1);
  t.is(move("remove-latency-limit", 4096, false), 1);
  // eb66ae030829: a flush per PMD extent with any present entry, clean or dirty (v4.19 has no
  // LATENCY_LIMIT either).
  t.is(move("eb66ae030829", 4096, true), 8);
  t.is(move("eb66ae030829", 4096, false), 8);
  t.is(move("eb66ae030829", 1, false), 1);
  // 9f132f7e1455: a PMD-aligned PMD moves by its entry, one flush per PMD, clean or dirty; a
  // smaller region still goes through move_ptes().
  t.is(move("9f132f7e1455", 4096, true), 8);
  t.is(move("9f132f7e1455", 4096, false), 8);
  t.is(move("9f132f7e1455", 512, true), 1);
  t.is(move("9f132f7e1455", 64, true), 1);
  /** The rest of mremap(): the old range's do_munmap(), per mremap(). */
  const rest = (x: MremapBenchResult["rows"][number] | undefined): number =>
    (x?.flushesPerOp ?? Number.NaN) - (x?.moveFlushesPerOp ?? Number.NaN);
  for (const x of res.rows) {
    t.true(x.ops > 0 && x.opsPerSecond > 0);
    t.is(x.ipisPerOp, x.flushesPerOp, "2 CPUs: every flush sends one IPI");
    // The munmap has nothing left to zap; the page tables it frees (if the model frees them)
    // cost at most one tlb_finish_mmu() flush, the same for every variant.
    t.true(rest(x) === 0 || rest(x) === 1, `${x.kernel}, ${x.pages} pages: munmap ${rest(x)}`);
    if (x.kernel === "9f132f7e1455" && x.pages >= 512) {
      // The tables moved with their PMD entries: the old range has no table left to free.
      t.is(rest(x), 0, `${x.kernel}, ${x.pages} pages: munmap frees no table`);
    } else {
      t.is(rest(x), rest(row("v4.9-rc4", x.pages, x.dirty)), `${x.kernel}: munmap as v4.9-rc4's`);
    }
  }
});
