/**
 * A small SVG chart writer, no dependency: the charts are few and simple, and an SVG is text a
 * report can inline and a mailing-list reply can link. A charting library was tried (vega-lite);
 * it pulled a large dependency tree and fixed none of what matters here by default, so the rules
 * live in this file:
 * - every SVG starts with a <title>;
 * - an axis extends past the largest value to the next tick (a y peak never sits on the frame),
 *   and the plot area is inset from the frame so points on a bound stay visible;
 * - time axes (unit "ns") read ns, µs, ms or s, with one precision per axis, never "10M";
 * - data with a single x value are drawn as labelled points in the middle, not on the frame;
 * - series differ by colour, dash and marker shape (hollow, so a point under another shows),
 *   and a series identical to an earlier one says so in the legend;
 * - histograms are steps (series style "step") with their zero bins, on a log count axis whose
 *   "0" row sits below the lowest decade (zeroFloor);
 * - reference lines (a ceiling, a floor, "no change") are marked and labelled in the plot;
 * - intervals are bands (a series' `band`, or intervalChart for a per-category estimate).
 * Elements carry classes (series, step, marker, band, ref, tick, legend) so tests and the
 * report's browser check can find what was drawn.
 */

/** What an axis measures: picks its tick labels. "ns" values are nanoseconds. */
export type Unit = "ns" | "count" | "percent" | "ratio" | "number";

export interface Axis {
  label: string;
  unit?: Unit;
  log?: boolean;
  /** Linear axes: take 0 into the range. */
  zero?: boolean;
  /** Only whole-number ticks (CPUs, machines). */
  integer?: boolean;
  /** Ticks at exactly these values (the sizes a bench measured) instead of computed ones. */
  ticks?: number[];
  /** Log axis: values <= 0 are drawn on a "0" row below the lowest tick (histogram counts). */
  zeroFloor?: boolean;
}

export interface Series {
  name: string;
  /** [x, y]; for style "step", [low edge of the bin, count], bins in order and contiguous. */
  points: [number, number][];
  /** "line" (default): a line with a marker per point; "step": a histogram; "points": markers. */
  style?: "line" | "step" | "points";
  /** Step series: the upper edge of the last bin. */
  stepEnd?: number;
  /** A shaded band around the series, [x, low, high] (an interval). */
  band?: [number, number, number][];
}

/** A marked line across the plot at a value of one axis. */
export interface RefLine {
  axis: "x" | "y";
  value: number;
  label: string;
}

export interface LineChart {
  title: string;
  subtitle?: string;
  x: Axis;
  y: Axis;
  series: Series[];
  refs?: RefLine[];
}

export interface IntervalCategory {
  name: string;
  estimate: number;
  low: number;
  high: number;
  /** The individual measurements behind the estimate (drawn as dots). */
  samples?: number[];
}

export interface IntervalChart {
  title: string;
  subtitle?: string;
  xLabel: string;
  y: Axis;
  categories: IntervalCategory[];
  /** Legend text of the estimate, the band and the samples. */
  estimateName: string;
  bandName: string;
  samplesName?: string;
  refs?: RefLine[];
}

const W = 820;
const H = 460;
const TOP = 68;
const BOTTOM = 62;
const LEFT = 86;
/** Inset of the data inside the frame, px: a point on a bound is not drawn on the frame. */
const PAD = 12;
const CHAR = 6.6; // mean width of a 12px sans-serif character, px
const COLORS = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000"];
const DASHES = ["", "8 4", "3 3", "12 3 2 3", "1 4", "16 5"];
const MARKERS = ["circle", "square", "triangle", "diamond", "cross", "down", "plus"] as const;
type Marker = (typeof MARKERS)[number];

export const esc = (s: string): string =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

const r1 = (v: number): string => (Math.round(v * 10) / 10).toString();

/** Strip float noise: 0.30000000000000004 -> 0.3. */
const clean = (v: number): number => +v.toPrecision(12);

const TIME_UNITS: [number, string][] = [
  [1, "ns"],
  [1e3, "µs"],
  [1e6, "ms"],
  [1e9, "s"],
];

function timeScale(absNs: number): [number, string] {
  let u = TIME_UNITS[0] as [number, string];
  for (const t of TIME_UNITS) if (absNs >= t[0]) u = t;
  return u;
}

/** A duration in ns with three significant digits in its own unit: 291 ns, 27.5 µs, 4.05 ms. */
export function formatTime(ns: number): string {
  if (ns === 0) return "0 ns";
  const [s, u] = timeScale(Math.abs(ns));
  const v = ns / s;
  const text = Math.abs(v) >= 100 ? v.toFixed(0) : v.toPrecision(3);
  return `${text} ${u}`;
}

/** A value as a point label or table cell shows it, by unit. */
export function formatValue(v: number, unit: Unit = "number"): string {
  switch (unit) {
    case "ns":
      return formatTime(v);
    case "count":
      return Math.round(v).toLocaleString("en-US");
    case "percent":
      return `${v === 0 ? "0" : +v.toPrecision(3)}%`;
    case "ratio":
      return v.toFixed(3);
    default:
      return Math.abs(v) >= 1000 ? Math.round(v).toLocaleString("en-US") : `${+v.toPrecision(4)}`;
  }
}

/** Decimals that show `step` (in the unit it is printed in) exactly enough. */
const decimalsFor = (step: number): number =>
  step <= 0 ? 0 : Math.max(0, Math.ceil(-Math.log10(step) - 1e-9));

/**
 * Tick labels of an axis. Linear: one unit and one precision for the whole axis. Log: each
 * tick in its own unit (100 ns, 1 µs, 10 µs), whole numbers at the 1-2-5 ticks.
 */
export function tickLabels(ticks: number[], unit: Unit, log: boolean): string[] {
  const step =
    ticks.length > 1
      ? Math.min(...ticks.slice(1).map((t, i) => Math.abs(t - (ticks[i] as number))))
      : Math.abs(ticks[0] ?? 1) || 1;
  const maxAbs = Math.max(...ticks.map((t) => Math.abs(t)), 0);
  switch (unit) {
    case "ns": {
      if (log)
        return ticks.map((t) => {
          const [s, u] = timeScale(t);
          return `${clean(t / s)} ${u}`;
        });
      const [s, u] = timeScale(maxAbs);
      const d = decimalsFor(step / s);
      return ticks.map((t) => `${(t / s).toFixed(d)} ${u}`);
    }
    case "count": {
      if (log)
        return ticks.map((t) =>
          t >= 1e6 ? `${clean(t / 1e6)}M` : t >= 1e3 ? `${clean(t / 1e3)}k` : `${clean(t)}`,
        );
      const [s, suffix] = maxAbs >= 1e6 ? [1e6, "M"] : maxAbs >= 1e4 ? [1e3, "k"] : [1, ""];
      const d = decimalsFor(step / s);
      return ticks.map((t) =>
        t === 0
          ? "0"
          : `${(t / s).toLocaleString("en-US", { minimumFractionDigits: d, maximumFractionDigits: d })}${suffix}`,
      );
    }
    case "percent": {
      const d = log ? 0 : decimalsFor(step);
      return ticks.map((t) => `${log ? clean(t) : t.toFixed(d)}%`);
    }
    default: {
      if (log) return ticks.map((t) => clean(t).toLocaleString("en-US"));
      const d = decimalsFor(step);
      return ticks.map((t) =>
        Math.abs(t) >= 1e4 ? Math.round(t).toLocaleString("en-US") : t.toFixed(d),
      );
    }
  }
}

interface Scale {
  /** Domain value -> 0..1 along the axis. */
  frac: (v: number) => number;
  ticks: number[];
  labels: string[];
  /** Unlabelled ticks (log decades: 2..9). */
  minor: number[];
  lo: number;
  hi: number;
  /** The axis title with its units. */
  title: string;
}

const LOG_ZERO_ROW = 0.07;

function niceStep(span: number, integer: boolean): number {
  const raw = span / 6;
  const p = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * p).find((s) => s >= raw) ?? 10 * p;
  return integer ? Math.max(1, Math.round(step)) : step;
}

/**
 * The scale of an axis over `values`. `extend`: the top is the first tick strictly above the
 * largest value (y axes: no peak on the frame); else the first tick at or above it.
 */
function makeScale(axis: Axis, values: number[], extend: boolean): Scale {
  const unit = axis.unit ?? "number";
  const log = axis.log === true;
  const vals = values.filter((v) => Number.isFinite(v) && (!log || v > 0));
  const hasZero = log && axis.zeroFloor === true && values.some((v) => v <= 0);
  let ticks: number[];
  let minor: number[] = [];
  let lo: number;
  let hi: number;
  if (vals.length === 0) vals.push(log ? 1 : 0);
  const min = Math.min(...vals);
  const max = Math.max(...vals);
  if (axis.ticks !== undefined && axis.ticks.length > 0) {
    const all = [...vals, ...axis.ticks];
    lo = Math.min(...all);
    hi = Math.max(...all);
    if (lo === hi) [lo, hi] = log ? [lo / 3, hi * 3] : [lo - 1, hi + 1];
    ticks = axis.ticks.filter((t) => t >= lo && t <= hi);
  } else if (log) {
    // Decades alone when at least three fall inside the data; else 1-2-5 ticks.
    const decades = Math.floor(Math.log10(max) + 1e-9) - Math.ceil(Math.log10(min) - 1e-9) + 1;
    const mult = decades >= 3 ? [1] : [1, 2, 5];
    const cands: number[] = [];
    for (let e = Math.floor(Math.log10(min)) - 1; e <= Math.ceil(Math.log10(max)) + 1; e++)
      for (const m of mult) cands.push(clean(m * 10 ** e));
    if (min === max && !extend) {
      lo = min / 3;
      hi = max * 3;
      ticks = [min];
    } else {
      // y (extend): from a tick to the first tick past the largest value; x: the data's own
      // range (a log x axis snapped to decades can waste most of a decade at either end).
      lo = extend ? ([...cands].reverse().find((t) => t <= min * (1 + 1e-9)) ?? min) : min;
      hi = extend ? (cands.find((t) => t > max * (1 + 1e-9)) ?? max) : max;
      ticks = cands.filter((t) => t >= lo && t <= hi);
      if (mult.length === 1)
        for (let e = Math.floor(Math.log10(lo)); e < Math.log10(hi); e++)
          for (let m = 2; m <= 9; m++) {
            const t = m * 10 ** e;
            if (t > lo && t < hi) minor.push(t);
          }
    }
  } else {
    let a = axis.zero === true ? Math.min(0, min) : min;
    let b = axis.zero === true ? Math.max(0, max) : max;
    if (a === b && !extend) {
      // A single value: it sits in the middle, one tick.
      const d = axis.integer === true ? 1 : Math.abs(a) / 2 || 1;
      lo = a - d;
      hi = a + d;
      ticks = [a];
    } else {
      if (a === b) b = a === 0 ? 1 : a + Math.abs(a);
      const step = niceStep(b - a, axis.integer === true);
      lo = clean(Math.floor(a / step + 1e-9) * step);
      hi = clean(
        extend ? (Math.floor(b / step + 1e-9) + 1) * step : Math.ceil(b / step - 1e-9) * step,
      );
      a = lo;
      ticks = [];
      for (let k = 0; a + k * step <= hi + step * 1e-6; k++) ticks.push(clean(a + k * step));
    }
  }
  const f = (v: number): number => (log ? Math.log10(v) : v);
  const span = f(hi) - f(lo) || 1;
  const base = hasZero ? LOG_ZERO_ROW : 0;
  const frac = (v: number): number => {
    if (log && v <= 0) return 0;
    return base + ((1 - base) * (f(v) - f(lo))) / span;
  };
  let labels = tickLabels(ticks, unit, log);
  if (hasZero) {
    ticks = [0, ...ticks];
    labels = ["0", ...labels];
  }
  minor = minor.filter((t) => !ticks.includes(t));
  let title = axis.label;
  if (unit === "ns") {
    const used = TIME_UNITS.filter(([, u]) => labels.some((l) => l.endsWith(` ${u}`))).map(
      ([, u]) => u,
    );
    title += ` (${[...used, ...(log ? ["log scale"] : [])].join(", ")})`;
  } else if (log) title += " (log scale)";
  return { frac, ticks, labels, minor, lo, hi, title };
}

function marker(kind: Marker, x: number, y: number, color: string): string {
  const a = `class="marker" fill="none" stroke="${color}" stroke-width="1.6"`;
  const [X, Y] = [r1(x), r1(y)];
  switch (kind) {
    case "circle":
      return `<circle ${a} cx="${X}" cy="${Y}" r="4"/>`;
    case "square":
      return `<rect ${a} x="${r1(x - 3.6)}" y="${r1(y - 3.6)}" width="7.2" height="7.2"/>`;
    case "triangle":
      return `<path ${a} d="M${X} ${r1(y - 5)}L${r1(x + 4.5)} ${r1(y + 3.5)}L${r1(x - 4.5)} ${r1(y + 3.5)}Z"/>`;
    case "down":
      return `<path ${a} d="M${X} ${r1(y + 5)}L${r1(x + 4.5)} ${r1(y - 3.5)}L${r1(x - 4.5)} ${r1(y - 3.5)}Z"/>`;
    case "diamond":
      return `<path ${a} d="M${X} ${r1(y - 5)}L${r1(x + 5)} ${Y}L${X} ${r1(y + 5)}L${r1(x - 5)} ${Y}Z"/>`;
    case "cross":
      return `<path ${a} d="M${r1(x - 4)} ${r1(y - 4)}L${r1(x + 4)} ${r1(y + 4)}M${r1(x - 4)} ${r1(y + 4)}L${r1(x + 4)} ${r1(y - 4)}"/>`;
    case "plus":
      return `<path ${a} d="M${r1(x - 5)} ${Y}L${r1(x + 5)} ${Y}M${X} ${r1(y - 5)}L${X} ${r1(y + 5)}"/>`;
  }
}

/** Frame, grid, ticks and axis titles; returns the parts and the pixel mappings. */
/** Split a legend or label text into lines of at most `max` characters, at spaces. */
function wrap(text: string, max: number): string[] {
  const out: string[] = [];
  let line = "";
  for (const word of text.split(" ")) {
    if (line !== "" && line.length + 1 + word.length > max) {
      out.push(line);
      line = word;
    } else line = line === "" ? word : `${line} ${word}`;
  }
  if (line !== "") out.push(line);
  return out;
}

const HALO = `paint-order="stroke" stroke="white" stroke-width="3" stroke-linejoin="round"`;

interface Layout {
  R: number;
  px: (v: number) => number;
  py: (v: number) => number;
}

/** The right margin: wide enough for the legend and the y reference labels, within bounds. */
function rightMargin(legendNames: string[], refs: RefLine[]): number {
  const longest = Math.max(
    0,
    ...legendNames.map((n) => Math.min(n.length, 34)),
    ...refs.filter((r) => r.axis === "y").map((r) => Math.min(r.label.length, 34) - 2),
  );
  return Math.min(280, Math.max(150, 48 + CHAR * longest));
}

/** Frame, grid, ticks and axis titles. */
function frame(
  c: { title: string; subtitle?: string },
  right: number,
  xs: Scale | null,
  ys: Scale,
  xTitle: string,
): { parts: string[] } & Layout {
  const R = W - right;
  const B = H - BOTTOM;
  const px = (v: number): number =>
    LEFT + PAD + (xs === null ? 0 : xs.frac(v)) * (R - LEFT - 2 * PAD);
  const py = (v: number): number => B - PAD - ys.frac(v) * (B - TOP - 2 * PAD);
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12" role="img">`,
    `<title>${esc(c.title)}</title>`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${LEFT}" y="22" font-size="15" font-weight="bold">${esc(c.title)}</text>`,
  ];
  if (c.subtitle !== undefined)
    parts.push(`<text x="${LEFT}" y="40" font-size="12" fill="#444">${esc(c.subtitle)}</text>`);
  ys.ticks.forEach((t, i) => {
    const y = r1(py(t));
    parts.push(
      `<line class="grid" x1="${LEFT}" y1="${y}" x2="${R}" y2="${y}" stroke="#e6e6e6"/>`,
      `<line x1="${LEFT - 5}" y1="${y}" x2="${LEFT}" y2="${y}" stroke="#333"/>`,
      `<text class="tick y" x="${LEFT - 8}" y="${r1(py(t) + 4)}" text-anchor="end">${esc(ys.labels[i] ?? "")}</text>`,
    );
  });
  for (const t of ys.minor) {
    const y = r1(py(t));
    parts.push(`<line x1="${LEFT - 3}" y1="${y}" x2="${LEFT}" y2="${y}" stroke="#333"/>`);
  }
  if (xs !== null) {
    let lastEnd = -Infinity;
    xs.ticks.forEach((t, i) => {
      const x = px(t);
      const label = xs.labels[i] ?? "";
      const w = label.length * CHAR;
      parts.push(
        `<line class="grid" x1="${r1(x)}" y1="${TOP}" x2="${r1(x)}" y2="${B}" stroke="#e6e6e6"/>`,
        `<line x1="${r1(x)}" y1="${B}" x2="${r1(x)}" y2="${B + 5}" stroke="#333"/>`,
      );
      // A tick too close to the previous label keeps its mark and loses its label (33 | 34).
      if (x - w / 2 < lastEnd + 4) return;
      lastEnd = x + w / 2;
      parts.push(
        `<text class="tick x" x="${r1(x)}" y="${B + 18}" text-anchor="middle">${esc(label)}</text>`,
      );
    });
    for (const t of xs.minor) {
      const x = r1(px(t));
      parts.push(`<line x1="${x}" y1="${B}" x2="${x}" y2="${B + 3}" stroke="#333"/>`);
    }
  }
  parts.push(
    `<rect class="frame" x="${LEFT}" y="${TOP}" width="${R - LEFT}" height="${B - TOP}" fill="none" stroke="#333"/>`,
    `<text class="axis-title x" x="${(LEFT + R) / 2}" y="${H - 16}" text-anchor="middle">${esc(xTitle)}</text>`,
    `<text class="axis-title y" transform="translate(18 ${(TOP + B) / 2}) rotate(-90)" text-anchor="middle">${esc(ys.title)}</text>`,
  );
  return { parts, px, py, R };
}

/**
 * Reference lines. A y line is labelled in the right margin at its height (the legend keeps
 * clear of it: see legend()); an x line above the frame, where no data is. Returns the lines,
 * their labels and the heights the y labels take. A line outside the plotted range is left out.
 */
function refLines(
  all: RefLine[],
  xs: Scale | null,
  ys: Scale,
  L: Layout,
): { parts: string[]; taken: number[] } {
  const inside = (f: number): boolean => f >= -1e-6 && f <= 1 + 1e-6;
  const refs = all.filter((r) =>
    r.axis === "y" ? inside(ys.frac(r.value)) : xs !== null && inside(xs.frac(r.value)),
  );
  const parts: string[] = [];
  const taken: number[] = [];
  const B = H - BOTTOM;
  const line = `stroke="#444" stroke-width="1.3" stroke-dasharray="7 3 1 3"`;
  const yRefs = refs
    .filter((r) => r.axis === "y")
    .map((r) => ({ r, y: L.py(r.value), ly: L.py(r.value) }))
    .sort((a, b) => a.y - b.y);
  for (let k = 1; k < yRefs.length; k++) {
    const prev = yRefs[k - 1] as { ly: number };
    const cur = yRefs[k] as { ly: number };
    if (cur.ly - prev.ly < 15) cur.ly = prev.ly + 15;
  }
  for (const { r, y, ly } of yRefs) {
    parts.push(
      `<line class="ref y" x1="${LEFT}" y1="${r1(y)}" x2="${L.R}" y2="${r1(y)}" ${line}><title>${esc(r.label)}</title></line>`,
      `<path d="M${L.R} ${r1(y)}L${L.R + 8} ${r1(ly)}" stroke="#444" fill="none"/>`,
      `<text class="ref-label" x="${L.R + 11}" y="${r1(ly + 4)}" font-size="11" fill="#222">${esc(r.label)}</text>`,
    );
    taken.push(ly);
  }
  let lastEnd = -Infinity;
  let inner = 0;
  for (const r of refs.filter((x) => x.axis === "x").sort((a, b) => a.value - b.value)) {
    const x = L.px(r.value);
    const w = r.label.length * 6;
    const right = x + 5 + w <= L.R;
    const [a, b] = right ? [x + 5, x + 5 + w] : [x - 5 - w, x - 5];
    parts.push(
      `<line class="ref x" x1="${r1(x)}" y1="${TOP - 10}" x2="${r1(x)}" y2="${B}" ${line}><title>${esc(r.label)}</title></line>`,
    );
    // Above the frame, unless it would overlap the previous label there: then inside, at the top.
    const above = a > lastEnd + 6;
    if (above) lastEnd = b;
    const y = above ? TOP - 4 : TOP + 14 + 14 * inner++;
    parts.push(
      `<text class="ref-label" x="${r1(right ? x + 5 : x - 5)}" y="${y}" text-anchor="${right ? "start" : "end"}" font-size="11" fill="#222" ${HALO}>${esc(r.label)}</text>`,
    );
  }
  return { parts, taken };
}

interface LegendEntry {
  name: string;
  swatch: (x: number, y: number) => string;
}

/** The legend in the right margin, top down, each entry clear of the y reference labels. */
function legend(entries: LegendEntry[], L: Layout, right: number, taken: number[]): string {
  const lx = L.R + 14;
  const max = Math.max(12, Math.floor((right - 50) / CHAR));
  const out: string[] = [`<g class="legend">`];
  let y = TOP + 10;
  for (const e of entries) {
    const lines = wrap(e.name, max);
    const h = 16 * lines.length;
    while (taken.some((t) => t > y - 12 && t < y + h - 2)) y += 8;
    out.push(e.swatch(lx, y));
    out.push(
      `<text x="${lx + 32}" y="${y + 4}">${lines.map((l, i) => `<tspan x="${lx + 32}" dy="${i === 0 ? 0 : 16}">${esc(l)}</tspan>`).join("")}</text>`,
    );
    y += h + 4;
  }
  out.push("</g>");
  return out.join("");
}

const samePoints = (a: [number, number][], b: [number, number][]): boolean =>
  a.length > 0 &&
  a.length === b.length &&
  a.every((p, i) => p[0] === b[i]?.[0] && p[1] === b[i]?.[1]);

/** A chart of lines, points, steps and bands, with reference lines; see the file comment. */
export function lineChart(c: LineChart): string {
  const refs = c.refs ?? [];
  const xVals: number[] = [];
  const yVals: number[] = [];
  for (const s of c.series) {
    for (const [x, y] of s.points) {
      xVals.push(x);
      yVals.push(y);
    }
    if (s.style === "step" && s.stepEnd !== undefined) xVals.push(s.stepEnd);
    for (const [x, lo, hi] of s.band ?? []) {
      xVals.push(x);
      yVals.push(lo, hi);
    }
  }
  const dataX = new Set(c.series.flatMap((s) => s.points.map((p) => p[0])));
  for (const r of refs) (r.axis === "x" ? xVals : yVals).push(r.value);
  // One x value: the points go in the middle with their values beside them, not on a frame.
  const singleX = dataX.size === 1 && !c.series.some((s) => s.style === "step");
  const xs = makeScale(c.x, singleX ? [...dataX] : xVals, false);
  const ys = makeScale({ zero: !c.y.log, ...c.y }, yVals, true);
  const names = c.series.map((s, i) => {
    const same = c.series.findIndex((o, j) => j < i && samePoints(o.points, s.points));
    const empty = s.points.length === 0 ? " (no data)" : "";
    return `${s.name}${same >= 0 ? ` (same as ${c.series[same]?.name})` : ""}${empty}`;
  });
  const right = rightMargin(names, refs);
  const L = frame(c, right, xs, ys, xs.title);
  const parts = L.parts;
  const ok = ([x, y]: [number, number]): boolean =>
    (!c.x.log || x > 0) && (!c.y.log || y > 0 || c.y.zeroFloor === true);
  const style = (i: number): { color: string; dash: string; shape: Marker } => {
    const pattern = DASHES[i % DASHES.length] as string;
    return {
      color: COLORS[i % COLORS.length] as string,
      dash: pattern === "" ? "" : ` stroke-dasharray="${pattern}"`,
      shape: MARKERS[i % MARKERS.length] as Marker,
    };
  };
  // Bands under everything, then the reference lines, then the series in order.
  c.series.forEach((s, i) => {
    const { color } = style(i);
    const band = (s.band ?? []).filter(([x]) => !c.x.log || x > 0);
    if (band.length === 0) return;
    const clampLo = (v: number): number => (c.y.log && v <= 0 ? ys.lo : v);
    if (band.length === 1) {
      const [x, lo, hi] = band[0] as [number, number, number];
      parts.push(
        `<rect class="band" data-series="${esc(s.name)}" x="${r1(L.px(x) - 5)}" y="${r1(L.py(hi))}" width="10" height="${r1(L.py(clampLo(lo)) - L.py(hi))}" fill="${color}" fill-opacity="0.2"/>`,
      );
      return;
    }
    const pts = [
      ...band.map(([x, , hi]) => `${r1(L.px(x))},${r1(L.py(hi))}`),
      ...[...band].reverse().map(([x, lo]) => `${r1(L.px(x))},${r1(L.py(clampLo(lo)))}`),
    ];
    parts.push(
      `<polygon class="band" data-series="${esc(s.name)}" points="${pts.join(" ")}" fill="${color}" fill-opacity="0.16" stroke="none"/>`,
    );
  });
  const ref = refLines(refs, xs, ys, L);
  parts.push(...ref.parts);
  const labels: { x: number; y: number; text: string; color: string }[] = [];
  c.series.forEach((s, i) => {
    const { color, dash, shape } = style(i);
    const p = s.points.filter(ok);
    if (p.length === 0) return;
    if (s.style === "step") {
      const sorted = [...p].sort((a, b) => a[0] - b[0]);
      const last = sorted[sorted.length - 1] as [number, number];
      const floor = r1(L.py(c.y.log ? 0 : Math.max(0, ys.lo)));
      let d = `M${r1(L.px((sorted[0] as [number, number])[0]))} ${floor}`;
      sorted.forEach(([, y], k) => {
        const next = sorted[k + 1]?.[0] ?? s.stepEnd ?? last[0] * 1.26;
        d += `V${r1(L.py(y))}H${r1(L.px(next))}`;
      });
      d += `V${floor}`;
      parts.push(
        `<path class="series step" data-series="${esc(s.name)}" d="${d}" fill="none" stroke="${color}" stroke-width="1.8"${dash}/>`,
      );
      return;
    }
    if (s.style !== "points" && p.length > 1)
      parts.push(
        `<polyline class="series line" data-series="${esc(s.name)}" fill="none" stroke="${color}" stroke-width="2"${dash} points="${p.map(([x, y]) => `${r1(L.px(x))},${r1(L.py(y))}`).join(" ")}"/>`,
      );
    for (const [x, y] of p) {
      parts.push(marker(shape, L.px(x), L.py(y), color));
      if (singleX)
        labels.push({
          x: L.px(x),
          y: L.py(y),
          text: `${s.name}: ${formatValue(y, c.y.unit)}`,
          color,
        });
    }
  });
  // Point labels beside their points, pushed apart so that none overlaps another.
  labels.sort((a, b) => a.y - b.y);
  for (let k = 1; k < labels.length; k++) {
    const prev = labels[k - 1] as { y: number };
    const cur = labels[k] as { y: number };
    if (cur.y - prev.y < 15) cur.y = prev.y + 15;
  }
  for (const l of labels)
    parts.push(
      `<text class="point-label" x="${r1(l.x + 12)}" y="${r1(l.y + 4)}" fill="${l.color}" ${HALO}>${esc(l.text)}</text>`,
    );
  parts.push(
    legend(
      c.series.map((s, i) => {
        const { color, dash, shape } = style(i);
        return {
          name: names[i] ?? s.name,
          swatch: (x, y) =>
            (s.band !== undefined && s.band.length > 0
              ? `<rect x="${x}" y="${y - 6}" width="26" height="12" fill="${color}" fill-opacity="0.16"/>`
              : "") +
            (s.style !== "points"
              ? `<line x1="${x}" y1="${y}" x2="${x + 26}" y2="${y}" stroke="${color}" stroke-width="2.5"${dash}/>`
              : "") +
            (s.style !== "step" ? marker(shape, x + 13, y, color) : ""),
        };
      }),
      L,
      right,
      ref.taken,
    ),
  );
  parts.push("</svg>");
  return parts.join("\n");
}

/**
 * Estimates per category with their intervals as bands and the measurements as dots, against
 * reference lines (the mixed bench: B/A per variant, its 95% interval, "no change" at 1).
 */
export function intervalChart(c: IntervalChart): string {
  const refs = (c.refs ?? []).filter((r) => r.axis === "y");
  const yVals = [
    ...c.categories.flatMap((k) => [k.estimate, k.low, k.high, ...(k.samples ?? [])]),
    ...refs.map((r) => r.value),
  ];
  // The estimate's label sits above its band: room for it below the top tick.
  const ys = makeScale(c.y, yVals, true);
  const names = [
    c.estimateName,
    c.bandName,
    ...(c.samplesName === undefined ? [] : [c.samplesName]),
  ];
  const right = rightMargin(names, refs);
  const L = frame(c, right, null, ys, c.xLabel);
  const parts = L.parts;
  const n = Math.max(1, c.categories.length);
  const slot = (L.R - LEFT) / n;
  const B = H - BOTTOM;
  const ref = refLines(refs, null, ys, L);
  parts.push(...ref.parts);
  c.categories.forEach((k, i) => {
    const color = COLORS[i % COLORS.length] as string;
    const x = LEFT + slot * (i + 0.5);
    const half = Math.min(60, slot * 0.3);
    const range = `${formatValue(k.low, c.y.unit)} to ${formatValue(k.high, c.y.unit)}`;
    parts.push(
      `<line x1="${r1(x)}" y1="${B}" x2="${r1(x)}" y2="${B + 5}" stroke="#333"/>`,
      `<text class="tick x" x="${r1(x)}" y="${B + 18}" text-anchor="middle">${esc(k.name)}</text>`,
      `<rect class="band" data-series="${esc(k.name)}" x="${r1(x - half)}" y="${r1(L.py(k.high))}" width="${r1(2 * half)}" height="${r1(Math.max(1, L.py(k.low) - L.py(k.high)))}" fill="${color}" fill-opacity="0.2" stroke="${color}" stroke-width="1"><title>${esc(`${k.name}: ${c.bandName} ${range}`)}</title></rect>`,
    );
    const m = k.samples?.length ?? 0;
    (k.samples ?? []).forEach((v, j) => {
      const dx = m > 1 ? -half * 0.7 + (1.4 * half * j) / (m - 1) : 0;
      parts.push(
        `<circle class="sample" cx="${r1(x + dx)}" cy="${r1(L.py(v))}" r="2.6" fill="#555" fill-opacity="0.55"/>`,
      );
    });
    parts.push(
      `<line class="series estimate" data-series="${esc(k.name)}" x1="${r1(x - half)}" y1="${r1(L.py(k.estimate))}" x2="${r1(x + half)}" y2="${r1(L.py(k.estimate))}" stroke="${color}" stroke-width="3"/>`,
      marker("diamond", x, L.py(k.estimate), color),
      `<text class="point-label" x="${r1(x + half + 6)}" y="${r1(L.py(k.estimate) + 4)}" ${HALO}>${esc(formatValue(k.estimate, c.y.unit))}</text>`,
      `<text class="point-label" x="${r1(x)}" y="${r1(L.py(k.high) - 6)}" text-anchor="middle" font-size="11" fill="#444" ${HALO}>${esc(range)}</text>`,
    );
  });
  const entries: LegendEntry[] = [
    {
      name: c.estimateName,
      swatch: (x, y) =>
        `<line x1="${x}" y1="${y}" x2="${x + 26}" y2="${y}" stroke="#333" stroke-width="3"/>${marker("diamond", x + 13, y, "#333")}`,
    },
    {
      name: c.bandName,
      swatch: (x, y) =>
        `<rect x="${x}" y="${y - 6}" width="26" height="12" fill="#333" fill-opacity="0.2" stroke="#333"/>`,
    },
  ];
  if (c.samplesName !== undefined)
    entries.push({
      name: c.samplesName,
      swatch: (x, y) =>
        `<circle cx="${x + 13}" cy="${y}" r="2.6" fill="#555" fill-opacity="0.55"/>`,
    });
  parts.push(legend(entries, L, right, ref.taken));
  parts.push("</svg>");
  return parts.join("\n");
}
