/**
 * The charts' structure, from small synthetic results: each chart is parsed back from its SVG
 * text and checked for what issue 14 asks of it (titles, units on the ticks, steps with their
 * zero bins, bands, reference lines, labelled single-x points, series that stay visible).
 */
import test from "ava";
import type { FlushBenchResult } from "../harness/bench/flush.js";
import type { MixedBenchResult } from "../harness/bench/mixed.js";
import type { NaturalBenchResult } from "../harness/bench/natural.js";
import type { ScaleBenchResult } from "../harness/bench/scale.js";
import type { WindowBenchResult } from "../harness/bench/window.js";
import { explainSvg, type ExplainRow } from "../harness/explore/explain.js";
import {
  flushCharts,
  fullBins,
  mixedChart,
  mremapCharts,
  naturalChart,
  scaleChart,
  windowCharts,
} from "../harness/plot/charts.js";
import { formatTime, lineChart, tickLabels } from "../harness/plot/svg.js";
import type { MremapBenchResult } from "../harness/bench/mremap.js";
import { rateInterval } from "../lib/stats/intervals.js";

// ---- a small SVG reader -------------------------------------------------------------------

interface El {
  tag: string;
  attrs: Record<string, string>;
  /** Inner text, <title> children left out. */
  text: string;
  /** The <title> child, if any. */
  title: string | undefined;
}

const unesc = (s: string): string =>
  s
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&amp;/g, "&");

/** Elements `tag` of the SVG, those with class `cls` (one of their classes) if given. */
function els(svg: string, tag: string, cls?: string): El[] {
  const re = new RegExp(`<${tag}\\b([^>]*?)(?:/>|>([\\s\\S]*?)</${tag}>)`, "g");
  const out: El[] = [];
  for (const m of svg.matchAll(re)) {
    const attrs: Record<string, string> = {};
    for (const a of (m[1] ?? "").matchAll(/([\w:-]+)="([^"]*)"/g))
      attrs[a[1] as string] = unesc(a[2] as string);
    if (cls !== undefined && !(attrs.class ?? "").split(" ").includes(cls)) continue;
    const inner = m[2] ?? "";
    const title = /<title>([\s\S]*?)<\/title>/.exec(inner)?.[1];
    out.push({
      tag,
      attrs,
      text: unesc(inner.replace(/<title>[\s\S]*?<\/title>/g, "").replace(/<[^>]+>/g, "")),
      title: title === undefined ? undefined : unesc(title),
    });
  }
  return out;
}

const num = (e: El | undefined, a: string): number => Number(e?.attrs[a]);
const firstChildTitle = (svg: string): string | undefined =>
  /^<svg [^>]*>\n<title>([^<]+)<\/title>/.exec(svg)?.[1];
/** The SVG without its legend: what is drawn in the plot. */
const plot = (svg: string): string => svg.replace(/<g class="legend">[\s\S]*?<\/g>/g, "");
/** Markers of any shape in the plot: circle, rect or path with class "marker". */
const markers = (svg: string): El[] =>
  ["circle", "rect", "path"].flatMap((t) => els(plot(svg), t, "marker"));
/** The centre of a marker. */
function centre(e: El): [number, number] {
  if (e.tag === "circle") return [num(e, "cx"), num(e, "cy")];
  if (e.tag === "rect")
    return [num(e, "x") + num(e, "width") / 2, num(e, "y") + num(e, "height") / 2];
  const xs = [...(e.attrs.d ?? "").matchAll(/[ML]([\d.-]+) ([\d.-]+)/g)];
  const x = xs.map((m) => Number(m[1]));
  const y = xs.map((m) => Number(m[2]));
  return [(Math.min(...x) + Math.max(...x)) / 2, (Math.min(...y) + Math.max(...y)) / 2];
}
/** A time tick label back in ns. */
function parseTime(label: string): number {
  const m = /^(-?[\d.]+) (ns|µs|ms|s)$/.exec(label);
  if (m === null) return NaN;
  return Number(m[1]) * { ns: 1, µs: 1e3, ms: 1e6, s: 1e9 }[m[2] as "ns"];
}
const TIME_LABEL = /^-?\d+(\.\d+)? (ns|µs|ms|s)$/;

// ---- synthetic results --------------------------------------------------------------------

const machine = { node: "v22.0.0", cpuModel: "Test CPU", cores: 2 };
const pctl = (p50: number, samples: number) => ({
  samples,
  p50Ns: p50,
  p90Ns: p50 * 1.5,
  p99Ns: p50 * 2,
  p999Ns: p50 * 3,
  maxNs: p50 * 10,
  meanNs: p50 * 1.1,
});

/** 2 CPUs (one target), the ranges of the bench; bins with gaps, as the JSON keeps them. */
function flushResult(): FlushBenchResult {
  const pages = [1, 8, 33, 34, 64, 512];
  const spin = [300, 350, 600, 310, 300, 300];
  const park = [27_000, 15_000, 20_000, 26_000, 27_000, 25_000];
  const rows: FlushBenchResult["rows"] = pages.flatMap((p, i) => [
    {
      targets: 1,
      pages: p,
      mode: "spinning" as const,
      budgetMs: 1000,
      ...pctl(spin[i] as number, 20_000),
      bins: [
        [199.5, 500],
        [251.2, 15_000],
        [501.2, 3],
        [1000, 1],
      ] as [number, number][],
      p50OverFloor: 1.7,
    },
    {
      targets: 1,
      pages: p,
      mode: "parked" as const,
      budgetMs: 1000,
      ...pctl(park[i] as number, 2000),
      bins: [
        [25118.9, 1000],
        [31622.8, 900],
      ] as [number, number][],
      p50OverFloor: 150,
    },
  ]);
  return {
    schema: 1,
    bench: "flush",
    command: "tlbrace bench flush",
    machine,
    cpus: 2,
    quick: false,
    partial: false,
    startedAt: "2026-01-01T00:00:00.000Z",
    floor: {
      ...pctl(180, 44_000),
      bins: [
        [158.5, 40_000],
        [199.5, 4000],
      ],
    },
    rows,
  };
}

function mixedResult(): MixedBenchResult {
  const runs: MixedBenchResult["runs"] = [];
  const jobs = { a: [100, 98, 99], b: [110, 112, 108] };
  for (const [variant, ratio] of Object.entries(jobs))
    ratio.forEach((b, pair) => {
      for (const [kernel, j] of [
        ["v4.9-rc4", 100],
        [variant, b],
      ] as [string, number][])
        runs.push({
          kernel,
          variant,
          pair,
          ms: 1000,
          jobs: j,
          seconds: 1,
          jobsPerSecond: j,
          flushes: 2,
          ipis: 2,
          uaf: 0,
        });
    });
  const cmp = (variant: string, ratio: number, low: number, high: number) => ({
    variant,
    pairs: 3,
    ratio,
    low,
    high,
    holdsOne: low <= 1 && high >= 1,
    baselineJobsPerSecond: 100,
    variantJobsPerSecond: 100 * ratio,
    baselineFlushesPerJob: 2,
    variantFlushesPerJob: 2,
  });
  return {
    schema: 1,
    bench: "mixed",
    command: "tlbrace bench mixed",
    machine,
    cpus: 2,
    quick: true,
    partial: false,
    baseline: "v4.9-rc4",
    runMs: 1000,
    pairsPlanned: 3,
    startedAt: "2026-01-01T00:00:00.000Z",
    workload: {
      filePages: 64,
      heapPages: 128,
      sourcesPerJob: 8,
      mremapEvery: 8,
      writebackEvery: 4,
    },
    comparisons: [cmp("a", 0.99, 0.97, 1.01), cmp("b", 1.1, 1.05, 1.15)],
    runs,
  };
}

// ---- tests --------------------------------------------------------------------------------

test("tick labels: time in ns, µs, ms with one precision per linear axis; never k or M", (t) => {
  t.deepEqual(tickLabels([100, 1e3, 1e4, 1e5, 1e6, 1e7], "ns", true), [
    "100 ns",
    "1 µs",
    "10 µs",
    "100 µs",
    "1 ms",
    "10 ms",
  ]);
  t.deepEqual(tickLabels([0, 5e4, 1e5, 1.5e5, 2e5], "ns", false), [
    "0 µs",
    "50 µs",
    "100 µs",
    "150 µs",
    "200 µs",
  ]);
  t.deepEqual(tickLabels([0, 5e5, 1e6, 1.5e6], "ns", false), [
    "0.0 ms",
    "0.5 ms",
    "1.0 ms",
    "1.5 ms",
  ]);
  t.deepEqual(tickLabels([-1e5, 0, 1e5], "ns", false), ["-100 µs", "0 µs", "100 µs"]);
  t.deepEqual(tickLabels([1, 10, 100, 1000, 1e4, 1e5], "count", true), [
    "1",
    "10",
    "100",
    "1k",
    "10k",
    "100k",
  ]);
  t.deepEqual(tickLabels([0, 20, 40, 60], "percent", false), ["0%", "20%", "40%", "60%"]);
  t.is(formatTime(291), "291 ns");
  t.is(formatTime(27_450), "27.4 µs");
  t.is(formatTime(4_050_000), "4.05 ms");
});

test("fullBins: the bins the result left out come back as zeros, one either side", (t) => {
  const { points, end } = fullBins([
    [
      [100, 5],
      [158.5, 2],
    ],
    [[125.9, 1]],
  ]);
  t.deepEqual(
    points[0]?.map(([ns, n]) => [Math.round(ns * 10) / 10, n]),
    [
      [79.4, 0],
      [100, 5],
      [125.9, 0],
      [158.5, 2],
      [199.5, 0],
    ],
  );
  t.deepEqual(
    points[1]?.map(([, n]) => n),
    [0, 0, 1, 0, 0],
  );
  t.is(Math.round(end), 251);
});

test("every chart kind starts with a <title>", (t) => {
  const f = flushCharts(flushResult());
  const charts: [string, string][] = [
    ["ranges", f.ranges],
    ["targets", f.targets],
    ["histogram", f.histogram],
    ["mixed", mixedChart(mixedResult())],
    ["explain", explainSvg([{ cpu: 0, text: "x", lost: false }], ["t1"], "the trace")],
  ];
  for (const [name, svg] of charts) {
    t.regex(svg, /^<svg [^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/, name);
    t.truthy(firstChildTitle(svg), `${name}: <title> first`);
  }
  t.is(firstChildTitle(f.histogram), "Latency histogram: one target, 1 page (10 bins per decade)");
});

test("histogram: steps over every bin, zero bins drawn on a 0 row under a log count axis", (t) => {
  const svg = flushCharts(flushResult()).histogram;
  const steps = els(svg, "path", "step");
  t.deepEqual(
    steps.map((s) => s.attrs["data-series"]),
    [
      "spinning target (20,000 samples)",
      "parked target (2,000 samples)",
      "ping-pong round trip (44,000 samples)",
    ],
  );
  t.is(els(svg, "polyline").length, 0, "no lines across the gaps");
  // Bins 12 (158.5 ns) to 35 (31.6 µs), one more either side: 26 bins, each a horizontal step.
  for (const s of steps) {
    const d = s.attrs.d ?? "";
    t.regex(d, /^M[\d.]+ [\d.]+(V[\d.]+H[\d.]+)+V[\d.]+$/, "only vertical and horizontal moves");
    t.is(d.match(/H/g)?.length, 26, `${s.attrs["data-series"]}: every bin, zeros included`);
  }
  const yTicks = els(svg, "text", "tick").filter((e) => e.attrs.class === "tick y");
  t.deepEqual(
    yTicks.map((e) => e.text),
    ["0", "1", "10", "100", "1k", "10k", "100k"],
    "a log count axis with a 0 row, up to the tick past 40,000",
  );
  const zeroY = num(yTicks[0], "y") - 4;
  const oneY = num(yTicks[1], "y") - 4;
  t.true(zeroY > oneY + 10, "the 0 row sits below the 1 tick");
  // The spinning histogram drops to 0 in its gaps (between 251 ns and 501 ns, 501 ns and 1 µs).
  const spin = steps[0]?.attrs.d ?? "";
  t.true((spin.match(new RegExp(`V${zeroY}H`, "g"))?.length ?? 0) >= 3, spin);
  const xTicks = els(svg, "text", "tick").filter((e) => e.attrs.class === "tick x");
  t.true(xTicks.length >= 3);
  for (const x of xTicks) t.regex(x.text, TIME_LABEL);
  t.regex(
    els(svg, "text", "axis-title")
      .map((e) => e.text)
      .join("|"),
    /latency \(ns, µs, log scale\)/,
  );
});

test("flush ranges: the full-flush ceiling at 33 pages and the ping-pong floor are marked", (t) => {
  const r = flushResult();
  const svg = flushCharts(r).ranges;
  const xRef = els(svg, "line", "ref").find((e) => e.attrs.class === "ref x");
  const yRef = els(svg, "line", "ref").find((e) => e.attrs.class === "ref y");
  t.regex(xRef?.title ?? "", /full-flush ceiling: 33 pages/);
  t.is(yRef?.title, "ping-pong floor, p50 180 ns");
  // The spinning series' markers (circles), by pages: 1, 8, 33, 34, 64, 512.
  const spin = els(plot(svg), "circle", "marker").map(centre);
  t.is(spin.length, 6);
  const at33 = spin[2] as [number, number];
  const at34 = spin[3] as [number, number];
  t.true(Math.abs(num(xRef, "x1") - at33[0]) < 0.2, "the ceiling line goes through 33 pages");
  t.true(num(xRef, "x1") < at34[0]);
  t.true(
    spin.every(([, y]) => y < num(yRef, "y1")),
    "the floor (180 ns) lies under every p50 (300 ns and up)",
  );
  // No peak on the frame: the axis goes on to a tick past the largest p50 (27 µs).
  const frame = els(svg, "rect", "frame")[0];
  const top = Math.min(...markers(svg).map((m) => centre(m)[1]));
  t.true(top > num(frame, "y") + 8, "the highest point is clear of the frame");
  const yTicks = els(svg, "text", "tick").filter((e) => e.attrs.class === "tick y");
  for (const y of yTicks) t.regex(y.text, TIME_LABEL);
  t.true(Math.max(...yTicks.map((y) => parseTime(y.text))) > 27_000);
  t.true(yTicks.some((y) => y.text.endsWith(" ns")) && yTicks.some((y) => y.text.endsWith(" µs")));
});

test("flush targets with one x value: labelled points in the middle, not dots on the frame", (t) => {
  const svg = flushCharts(flushResult()).targets;
  const frame = els(svg, "rect", "frame")[0];
  const [x0, w] = [num(frame, "x"), num(frame, "width")];
  const pts = markers(svg).map(centre);
  t.is(pts.length, 4, "p50 and p99, spinning and parked");
  for (const [x] of pts) {
    t.true(Math.abs(x - (pts[0] as [number, number])[0]) < 0.5, "one x");
    t.true(x > x0 + 0.3 * w && x < x0 + 0.7 * w, `x ${x} in the middle of ${x0}..${x0 + w}`);
  }
  const labels = els(svg, "text", "point-label").map((e) => e.text);
  t.deepEqual(labels.sort(), [
    "parked, p50: 27.0 µs",
    "parked, p99: 54.0 µs",
    "spinning, p50: 300 ns",
    "spinning, p99: 600 ns",
  ]);
  const ys = els(svg, "text", "point-label").map((e) => num(e, "y"));
  ys.sort((a, b) => a - b);
  t.true(
    ys.every((y, i) => i === 0 || y - (ys[i - 1] as number) >= 14),
    "labels do not overlap",
  );
  t.deepEqual(
    els(svg, "text", "tick")
      .filter((e) => e.attrs.class === "tick x")
      .map((e) => e.text),
    ["1"],
  );
  t.truthy(els(svg, "line", "ref").find((e) => e.title === "ping-pong floor, p50 180 ns"));
});

test("mixed: each variant's 95% interval as a band, the pairs as dots, no change at 1", (t) => {
  const svg = mixedChart(mixedResult());
  t.regex(svg, /jobs\/s of B \/ jobs\/s of A/);
  const bands = els(svg, "rect", "band");
  const est = els(svg, "line", "estimate");
  t.deepEqual(
    bands.map((b) => b.attrs["data-series"]),
    ["a", "b"],
  );
  const ref = els(svg, "line", "ref")[0];
  t.is(ref?.title, "no change (B/A = 1)");
  t.true(els(svg, "text", "ref-label").some((e) => e.text === "no change (B/A = 1)"));
  const refY = num(ref, "y1");
  bands.forEach((b, i) => {
    const [top, bottom] = [num(b, "y"), num(b, "y") + num(b, "height")];
    const y = num(est[i], "y1");
    t.true(top < y && y < bottom, `${b.attrs["data-series"]}: the estimate inside its band`);
  });
  const [a, b] = bands as [El, El];
  t.true(num(a, "y") < refY && refY < num(a, "y") + num(a, "height"), "a's interval holds 1");
  t.true(num(b, "y") + num(b, "height") < refY, "b's interval lies above 1");
  t.is(els(svg, "circle", "sample").length, 6, "three pairs per variant");
  const yTicks = els(svg, "text", "tick")
    .filter((e) => e.attrs.class === "tick y")
    .map((e) => Number(e.text));
  t.true(Math.max(...yTicks) > 1.15, "the axis goes past the highest bound");
  t.true(
    els(svg, "text", "point-label").some((e) => e.text === "0.970 to 1.010"),
    "the interval is written out",
  );
});

test("series that coincide stay visible: dash, marker shape, legend note", (t) => {
  const same: [number, number][] = [
    [1, 10],
    [2, 50],
    [3, 100],
  ];
  const svg = lineChart({
    title: "three series",
    x: { label: "x", integer: true },
    y: { label: "y", unit: "count" },
    series: [
      { name: "a", points: same },
      { name: "b", points: same },
      {
        name: "c",
        points: [
          [1, 20],
          [3, 40],
        ],
      },
    ],
  });
  const lines = els(svg, "polyline", "series");
  t.deepEqual(
    lines.map((l) => l.attrs["stroke-dasharray"] ?? "solid"),
    ["solid", "8 4", "3 3"],
  );
  t.is(new Set(lines.map((l) => l.attrs.stroke)).size, 3, "three colours");
  t.is(els(svg, "circle", "marker").length, 3 + 1, "a's circles (and one in the legend)");
  t.is(els(svg, "rect", "marker").length, 3 + 1, "b's squares");
  t.true(els(svg, "g", "legend")[0]?.text.includes("b (same as a)"));
  t.is(firstChildTitle(svg), "three series");
  // The largest value is a tick (100): the axis still goes on past it.
  const yTicks = els(svg, "text", "tick")
    .filter((e) => e.attrs.class === "tick y")
    .map((e) => Number(e.text));
  t.true(Math.max(...yTicks) > 100, `ticks ${yTicks.join(" ")}`);
  t.true(yTicks.includes(0), "a count axis starts at 0");
});

test("mremap: LATENCY_LIMIT and PMD marked on the flushes chart; page ticks as measured", (t) => {
  const rows: MremapBenchResult["rows"] = [];
  for (const kernel of ["v4.9-rc4", "5d1904204c99"])
    for (const pages of [1, 8, 64, 512, 4096])
      rows.push({
        kernel,
        pages,
        dirty: true,
        ops: 1000,
        seconds: 1,
        opsPerSecond: 500_000 / pages,
        pagesPerSecond: 500_000,
        flushesPerOp: kernel === "v4.9-rc4" ? 1 : Math.max(1, pages / 64),
        moveFlushesPerOp: 1,
        ipisPerOp: 1,
        opsVsV49rc4: 1,
      });
  const c = mremapCharts({
    schema: 1,
    bench: "mremap",
    command: "tlbrace bench mremap",
    machine,
    quick: true,
    partial: false,
    msPerConfig: 60,
    startedAt: "2026-01-01T00:00:00.000Z",
    rows,
  });
  t.deepEqual(
    els(c.flushes, "line", "ref").map((e) => e.title),
    ["LATENCY_LIMIT: 64 pages", "PMD: 512 pages"],
  );
  t.deepEqual(
    els(c.ops, "text", "tick")
      .filter((e) => e.attrs.class === "tick x")
      .map((e) => e.text),
    ["1", "8", "64", "512", "4,096"],
  );
  t.is(els(c.ops, "line", "ref").length, 0);
});

test("window: a time axis in µs, each kernel's rate with its interval as a band", (t) => {
  const points: WindowBenchResult["points"] = [];
  for (const kernel of ["v4.9-rc4", "5d1904204c99"])
    for (const us of [0, 50, 100, 200]) {
      const forbidden = kernel === "v4.9-rc4" && us > 0 ? 400 : 0;
      points.push({ kernel, sweep: "delay", us, trials: 1000, forbidden, rate: forbidden / 1000 });
      points.push({
        kernel,
        sweep: "offset",
        us: us - 100,
        trials: 1000,
        forbidden,
        rate: forbidden / 1000,
      });
    }
  const c = windowCharts({
    schema: 1,
    bench: "window",
    command: "tlbrace bench window",
    machine,
    scenario: "mremap-mkclean",
    point: "move_ptes:unlocked",
    quick: true,
    partial: false,
    trialsPerPoint: 1000,
    startedAt: "2026-01-01T00:00:00.000Z",
    points,
  });
  t.deepEqual(
    els(c.delay, "text", "tick")
      .filter((e) => e.attrs.class === "tick x")
      .map((e) => e.text),
    ["0 µs", "50 µs", "100 µs", "150 µs", "200 µs"],
  );
  const bands = els(c.delay, "polygon", "band");
  t.is(bands.length, 2);
  // The buggy kernel's band spans its Wilson interval at 40%: wider than a line.
  const i = rateInterval(400, 1000);
  t.true(i.high - i.low > 0.05);
  t.regex(
    els(c.delay, "text", "axis-title")
      .map((e) => e.text)
      .join("|"),
    /delay injected at move_ptes:unlocked \(µs\)/,
  );
  t.truthy(els(c.offset, "line", "ref").find((e) => e.title === "both start together"));
  const yTicks = els(c.delay, "text", "tick").filter((e) => e.attrs.class === "tick y");
  for (const y of yTicks) t.regex(y.text, /^\d+%$/);
});

test("natural and scale charts: bands, percent axis, the linear-scaling reference", (t) => {
  const row = (kernel: string, offsets: "uniform" | "window", pages: number, lost: number) => ({
    pages,
    offsets,
    kernel,
    trials: 1000,
    seconds: 1,
    trialsPerSecond: 1000,
    lostWrites: lost,
    rate: rateInterval(lost, 1000),
    lostPerSecond: lost,
    firstLostWriteMs: lost > 0 ? 1 : null,
    windowHits: 100,
  });
  const nat: NaturalBenchResult = {
    schema: 1,
    bench: "natural",
    command: "tlbrace bench natural",
    machine,
    quick: true,
    partial: false,
    secondsPerCell: 1,
    seed: 1,
    startedAt: "2026-01-01T00:00:00.000Z",
    rows: [
      row("v4.9-rc4", "window", 1, 0),
      row("v4.9-rc4", "window", 1024, 500),
      row("5d1904204c99", "window", 1, 0),
      row("5d1904204c99", "window", 1024, 0),
    ],
  };
  const svg = naturalChart(nat);
  t.regex(svg, /v4\.9-rc4 window-aware/);
  t.is(els(svg, "polygon", "band").length, 2);
  t.deepEqual(
    els(svg, "text", "tick")
      .filter((e) => e.attrs.class === "tick x")
      .map((e) => e.text),
    ["1", "1,024"],
  );
  const scale: ScaleBenchResult = {
    schema: 1,
    bench: "scale",
    command: "tlbrace bench scale",
    machine,
    startedAt: "2026-01-01T00:00:00.000Z",
    partial: false,
    scenario: "mremap-mkclean",
    kernel: "v4.9-rc4",
    cpus: 2,
    cores: 4,
    secondsPerPoint: 1,
    warmupSeconds: 1,
    bufferBytes: 1 << 20,
    rows: [1, 2, 3].map((m) => ({
      machines: m,
      threads: 2 * m,
      trials: 1000,
      seconds: 1,
      trialsPerSecond: 1000 * Math.min(m, 2),
      efficiency: Math.min(m, 2) / m,
      coresBusy: 2,
      rssMiB: 50,
      harnessErrors: 0,
    })),
  };
  const s = scaleChart(scale);
  t.deepEqual(
    els(s, "polyline", "series").map((e) => e.attrs["data-series"]),
    ["measured", "linear: machines × 1-machine rate"],
  );
  t.is(els(s, "line", "ref")[0]?.title, "machines × 2 CPUs = 4 cores");
});

test("explain SVG: the seed's two-column table as rects and text", (t) => {
  const rows: ExplainRow[] = [
    { cpu: 1, text: "mremap(from=X to=Y pages=1)", lost: false },
    { cpu: 1, text: "  move_ptes:unlocked", lost: false },
    { cpu: 0, text: "store(addr=X value=2)", lost: false },
    { cpu: 0, text: "  store via a stale TLB entry to frame 2: no PTE sees it", lost: true },
    { cpu: 1, text: `  ${"flush_tlb_mm_range ".repeat(6)}`, lost: false },
  ];
  const svg = explainSvg(rows, ["thread 1", "thread 2"], "seed race");
  t.is(firstChildTitle(svg), "seed race");
  const th = els(svg, "rect", "th");
  t.is(th.length, 3, "#, CPU 0, CPU 1");
  t.is(els(svg, "rect", "td").length, rows.length * 3, "a cell per CPU and row");
  t.true(svg.includes(">CPU 0 (thread 1)<") && svg.includes(">CPU 1 (thread 2)<"));
  const col1 = num(th[2], "x");
  const steps = els(svg, "text", "step");
  t.is(steps.length, rows.length);
  rows.forEach((r, i) => {
    const x = num(steps[i], "x");
    t.true(r.cpu === 1 ? x > col1 : x < col1, `row ${i + 1} in CPU ${r.cpu}'s column`);
  });
  t.true(num(steps[1], "x") > num(steps[0], "x"), "kernel steps indented under the operation");
  const lost = steps[3];
  t.is(lost?.attrs.fill, "#b00");
  t.regex(lost?.text ?? "", /stale TLB entry.*LOST WRITE/);
  const lostCells = els(svg, "rect", "td").slice(9, 12);
  t.true(
    lostCells.every((c) => c.attrs.fill === "#fdd"),
    "the lost row shaded",
  );
  t.regex(steps[4]?.text ?? "", /…$/, "a long step is cut");
  t.regex(
    steps[4]?.title ?? "",
    /^(flush_tlb_mm_range ){5}flush_tlb_mm_range$/,
    "and kept whole as a tooltip",
  );
});
