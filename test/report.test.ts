import test from "ava";
import { copyFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { buildReport } from "../harness/report.js";
import { lineChart } from "../harness/plot/svg.js";

test("lineChart: title, axis labels with units, one line and one legend entry per series", (t) => {
  const svg = lineChart({
    title: "T <1>",
    xLabel: "pages",
    yLabel: "latency (ns)",
    xLog: true,
    yLog: true,
    series: [
      {
        name: "a",
        points: [
          [1, 10],
          [8, 100],
          [512, 1000],
        ],
      },
      {
        name: "b",
        points: [
          [1, 20],
          [8, 200],
          [512, 2000],
        ],
      },
    ],
  });
  t.true(svg.startsWith("<svg"));
  t.true(svg.includes("T &lt;1&gt;"), "text is escaped");
  t.true(svg.includes(">pages<") && svg.includes(">latency (ns)<"));
  t.is(svg.match(/<polyline /g)?.length, 2);
  t.true(svg.includes(">a<") && svg.includes(">b<"));
  t.true(svg.includes('stroke-dasharray="9 4"'), "the second series is dashed");
});

test("report: gathers the reference results into one page with inline charts", (t) => {
  const ref = fileURLToPath(new URL("../../results/reference/", import.meta.url));
  const dir = mkdtempSync(join(tmpdir(), "tlbrace-report-"));
  // Named as the commands name their results: <kind>-<timestamp>.json.
  for (const [f, kind] of [
    ["bench-flush.json", "bench-flush"],
    ["bench-mremap.json", "bench-mremap"],
    ["bench-mixed.json", "bench-mixed"],
    ["bench-window-mremap-mkclean.json", "bench-window-mremap-mkclean"],
    ["bench-trials.json", "bench-trials"],
    ["matrix-2000.json", "matrix"],
    ["bench-scale.json", "bench-scale"],
    ["stress-soak-20m.json", "stress"],
  ]) {
    copyFileSync(join(ref, f as string), join(dir, `${kind}-2026-01-01.json`));
  }
  const r = buildReport(dir);
  t.is(r.sections, 8);
  t.true(r.html.startsWith("<!doctype html>"));
  t.is(
    r.html.match(/<svg /g)?.length,
    3 + 2 + 1 + 2 + 1,
    "flush 3, mremap 2, mixed 1, window 2, scale 1",
  );
  t.regex(r.html, /Stress scaling: mremap-mkclean/);
  t.regex(r.html, /A stress campaign: 56 cells/);
  t.regex(r.html, /every cell agrees with its expected verdict/);
  t.regex(r.html, /every cell matches kernel history/);
  t.regex(r.html, /Latency histogram/);
  t.regex(r.html, /Shootdown latency vs target CPUs/);
  t.is(buildReport(join(dir, "none")).sections, 0, "no results: an empty report, not a crash");
  t.is(
    buildReport(ref).sections,
    9,
    "the reference directory's own names work too (and its exploration)",
  );
});
