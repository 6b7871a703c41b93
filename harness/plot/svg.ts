/**
 * A small SVG line-chart writer: axes with units, ticks (linear or log), a legend, one line per
 * series. No dependency: the charts are simple, and an SVG is text a report can inline. Chosen
 * over vega-lite, which would pull a large dependency tree into a tool whose charts are a few
 * lines each.
 */

export interface Series {
  name: string;
  points: [number, number][];
}

export interface LineChart {
  title: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
  xLog?: boolean;
  yLog?: boolean;
  /** Format of tick labels (default: short numbers). */
  yFormat?: (v: number) => string;
  xFormat?: (v: number) => string;
}

const W = 760;
const H = 440;
const M = { left: 78, right: 190, top: 44, bottom: 58 };
const DASHES = ["", "9 4", "3 3", "1 5"];
const COLORS = [
  "#1f77b4",
  "#d62728",
  "#2ca02c",
  "#ff7f0e",
  "#9467bd",
  "#8c564b",
  "#e377c2",
  "#17becf",
];

const esc = (s: string): string =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

export function shortNumber(v: number): string {
  const a = Math.abs(v);
  if (a >= 1e6) return `${+(v / 1e6).toPrecision(3)}M`;
  if (a >= 1e3) return `${+(v / 1e3).toPrecision(3)}k`;
  return `${+v.toPrecision(3)}`;
}

function ticks(min: number, max: number, log: boolean): number[] {
  if (log) {
    const out: number[] = [];
    for (let e = Math.floor(Math.log10(min)); e <= Math.ceil(Math.log10(max)); e++)
      out.push(10 ** e);
    return out.filter((t) => t >= min / 1.0001 && t <= max * 1.0001);
  }
  const span = max - min || 1;
  const step = 10 ** Math.floor(Math.log10(span / 5));
  const nice = [1, 2, 5, 10].map((m) => m * step).find((s) => span / s <= 8) ?? step * 10;
  const out: number[] = [];
  for (let t = Math.ceil(min / nice) * nice; t <= max + 1e-9; t += nice)
    out.push(+t.toPrecision(12));
  return out;
}

export function lineChart(c: LineChart): string {
  const pts = c.series.flatMap((s) => s.points);
  const pos = (v: number, log?: boolean): boolean => !log || v > 0;
  const xs = pts.map((p) => p[0]).filter((v) => pos(v, c.xLog));
  const ys = pts.map((p) => p[1]).filter((v) => pos(v, c.yLog));
  const x0 = Math.min(...xs);
  let x1 = Math.max(...xs);
  let [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  if (!c.yLog) y0 = Math.min(0, y0);
  if (x0 === x1) x1 = x0 + 1;
  if (y0 === y1) y1 = y0 + 1;
  if (c.yLog) [y0, y1] = [10 ** Math.floor(Math.log10(y0)), 10 ** Math.ceil(Math.log10(y1))];
  const f = (v: number, log?: boolean): number => (log ? Math.log10(v) : v);
  const px = (v: number): number =>
    M.left +
    ((f(v, c.xLog) - f(x0, c.xLog)) / (f(x1, c.xLog) - f(x0, c.xLog))) * (W - M.left - M.right);
  const py = (v: number): number =>
    H -
    M.bottom -
    ((f(v, c.yLog) - f(y0, c.yLog)) / (f(y1, c.yLog) - f(y0, c.yLog))) * (H - M.top - M.bottom);
  const xf = c.xFormat ?? shortNumber;
  const yf = c.yFormat ?? shortNumber;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2 - M.right / 2 + M.left / 2}" y="24" text-anchor="middle" font-size="15" font-weight="bold">${esc(c.title)}</text>`,
  ];
  for (const t of ticks(x0, x1, c.xLog === true)) {
    const x = px(t);
    out.push(`<line x1="${x}" y1="${M.top}" x2="${x}" y2="${H - M.bottom}" stroke="#eee"/>`);
    out.push(`<text x="${x}" y="${H - M.bottom + 18}" text-anchor="middle">${esc(xf(t))}</text>`);
  }
  for (const t of ticks(y0, y1, c.yLog === true)) {
    const y = py(t);
    out.push(`<line x1="${M.left}" y1="${y}" x2="${W - M.right}" y2="${y}" stroke="#eee"/>`);
    out.push(`<text x="${M.left - 8}" y="${y + 4}" text-anchor="end">${esc(yf(t))}</text>`);
  }
  out.push(
    `<rect x="${M.left}" y="${M.top}" width="${W - M.left - M.right}" height="${H - M.top - M.bottom}" fill="none" stroke="#333"/>`,
  );
  out.push(
    `<text x="${(M.left + W - M.right) / 2}" y="${H - 14}" text-anchor="middle">${esc(c.xLabel)}</text>`,
  );
  out.push(
    `<text transform="translate(18 ${(M.top + H - M.bottom) / 2}) rotate(-90)" text-anchor="middle">${esc(c.yLabel)}</text>`,
  );
  c.series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length] as string;
    // A dash pattern per series, so that series with equal values stay visible.
    const pattern = DASHES[i % DASHES.length] as string;
    const dash = pattern === "" ? "" : ` stroke-dasharray="${pattern}"`;
    const p = s.points.filter(([x, y]) => pos(x, c.xLog) && pos(y, c.yLog));
    if (p.length > 0) {
      out.push(
        `<polyline fill="none" stroke="${color}" stroke-width="2"${dash} points="${p.map(([x, y]) => `${px(x).toFixed(1)},${py(y).toFixed(1)}`).join(" ")}"/>`,
      );
      for (const [x, y] of p)
        out.push(
          `<circle cx="${px(x).toFixed(1)}" cy="${py(y).toFixed(1)}" r="3" fill="${color}"/>`,
        );
    }
    const ly = M.top + 10 + i * 20;
    out.push(
      `<line x1="${W - M.right + 14}" y1="${ly}" x2="${W - M.right + 36}" y2="${ly}" stroke="${color}" stroke-width="3"${dash}/>`,
    );
    out.push(`<text x="${W - M.right + 42}" y="${ly + 4}">${esc(s.name)}</text>`);
  });
  out.push("</svg>");
  return out.join("\n");
}
