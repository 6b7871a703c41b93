/**
 * A trace as the seed commit draws its race: one column per CPU, rows in the global order the
 * steps were taken, kernel function names, and the step that lost the write marked. Trimmed by
 * default to the steps that matter: user operations and their results, named points of kernel
 * functions, the page-table, page and mm locks, IPIs, and stores through stale TLB entries.
 */
import { POINTS } from "../../lib/machine/points.js";
import type { Layout } from "../../lib/machine/layout.js";
import {
  STEP_IPI_SEND,
  STEP_IPI_SERVE,
  STEP_LOCK,
  STEP_LOCKED,
  STEP_NAMES,
  STEP_OP,
  STEP_POINT,
  STEP_RESULT,
  STEP_STALE_HIT,
  STEP_UNLOCK,
  STEP_WAIT,
  STEP_START,
  STEP_END,
} from "../../lib/machine/steps.js";
import { stepAt } from "../run.js";
import type { ScenarioSpec } from "../../lib/scenarios/types.js";
import { WAIT_NAMES } from "../../lib/sync/waiter.js";
import type { TraceEvent } from "../../lib/trace/ring.js";

/** Events as stored in result files: [seq, cpu, kind, a, b]. */
export type PackedEvent = [number, number, number, number, number];

export const packTrace = (t: TraceEvent[]): PackedEvent[] =>
  t.map((e) => [e.seq, e.cpu, e.kind, e.a, e.b]);
export const unpackTrace = (t: PackedEvent[]): TraceEvent[] =>
  t.map(([seq, cpu, kind, a, b]) => ({ seq, cpu, kind, a, b }));

/** By LOCK_SPIN, LOCK_MUTEX, LOCK_READ, LOCK_WRITE. */
const LOCK_FN = ["spin_lock", "mutex_lock", "down_read", "down_write"];
const UNLOCK_FN = ["spin_unlock", "mutex_unlock", "up_read", "up_write"];

/** Locks of the allocator and caches: noise in a race table unless --all. */
const NOISE_LOCKS = /^(zone->lock|mapping->tree_lock|swap_lock|mm->page_table_lock)$/;

/** The user operation at a program counter, as written in the scenario. */
function opText(
  spec: ScenarioSpec,
  image: Int32Array,
  params: Record<string, number>,
  cpu: number,
  pc: number,
): string {
  const p = spec.cpus[cpu];
  if (p === undefined) return `op at ${pc}`;
  const { part, i } = stepAt(image, cpu, pc);
  const step = p[part][i];
  if (step === undefined) return `op at ${pc}`;
  const args = Object.entries(step)
    .filter(([k]) => k !== "op" && k !== "result" && k !== "into")
    .map(([k, v]) => {
      const val = typeof v === "string" && v.startsWith("$") ? (params[v.slice(1)] ?? v) : v;
      return `${k}=${String(val)}`;
    })
    .join(" ");
  return `${step.op}(${args})`;
}

export interface ExplainRow {
  cpu: number;
  text: string;
  /** The step that lost the write (a store through a stale TLB entry). */
  lost: boolean;
}

/** The rows of the table, in global order; `all` keeps every step. */
export function explainRows(
  events: TraceEvent[],
  spec: ScenarioSpec,
  image: Int32Array,
  L: Layout,
  params: Record<string, number>,
  all = false,
): ExplainRow[] {
  const rows: ExplainRow[] = [];
  const opAt = new Map<number, string>(); // cpu -> last op text, for results
  for (const e of events) {
    let text: string | null = null;
    let lost = false;
    switch (e.kind) {
      case STEP_OP: {
        const t = opText(spec, image, params, e.cpu, e.b);
        opAt.set(e.cpu, t);
        text = t;
        break;
      }
      case STEP_RESULT: {
        const v = e.b;
        const op = opAt.get(e.cpu) ?? "";
        text = op.startsWith("store")
          ? `  -> ${v === 0 ? "ok" : v === 11 ? "SIGSEGV" : v === 7 ? "SIGBUS" : String(v)}`
          : `  -> ${v < 0 ? (v === -11 ? "SIGSEGV" : "SIGBUS") : `reads ${v}`}`;
        break;
      }
      case STEP_POINT:
        text = `  ${POINTS[e.a] ?? `point ${e.a}`}`;
        break;
      case STEP_LOCK:
      case STEP_UNLOCK: {
        const name = L.describe(e.a);
        if (!all && NOISE_LOCKS.test(name)) break;
        text = `  ${(e.kind === STEP_LOCK ? LOCK_FN : UNLOCK_FN)[e.b] ?? "lock"}(${name})`;
        break;
      }
      case STEP_IPI_SEND:
        text = `  flush IPI -> CPU ${targets(e.a)} (${e.b === 0 ? "full flush" : `${e.b} page${e.b === 1 ? "" : "s"}`})`;
        break;
      case STEP_IPI_SERVE:
        text = `  IPI from CPU ${e.a}: flush_tlb_func (${e.b === 0 ? "full" : `${e.b} page${e.b === 1 ? "" : "s"}`})`;
        break;
      case STEP_STALE_HIT:
        text = `  store via a stale TLB entry to frame ${e.b}: no PTE sees it`;
        lost = true;
        break;
      case STEP_WAIT:
      case STEP_LOCKED:
      case STEP_START:
      case STEP_END:
        if (all)
          text =
            e.kind === STEP_WAIT
              ? `  (waits: ${WAIT_NAMES[e.a] ?? e.a} on ${L.describe(e.b)})`
              : `  (${STEP_NAMES[e.kind] ?? e.kind}${e.kind === STEP_LOCKED ? ` ${L.describe(e.a)}` : ""})`;
        break;
      default:
        text = all ? `  (${STEP_NAMES[e.kind] ?? e.kind} ${e.a} ${e.b})` : null;
    }
    if (text === null) continue;
    const last = rows[rows.length - 1];
    if (!all && last !== undefined && last.cpu === e.cpu && last.text === text) continue;
    rows.push({ cpu: e.cpu, text, lost });
  }
  return rows;
}

function targets(mask: number): string {
  const out: number[] = [];
  for (let c = 0; c < 32; c++) if ((mask & (1 << c)) !== 0) out.push(c);
  return out.join(",");
}

/** The seed's two-column table, as text. */
export function explainText(rows: ExplainRow[], cpuNames: string[]): string {
  const W = 58;
  const cols = cpuNames.length;
  const cell = (s: string): string => (s.length > W ? `${s.slice(0, W - 1)}~` : s.padEnd(W));
  const header = cpuNames.map((n, c) => cell(`CPU ${c} (${n})`)).join(" | ");
  const rule = Array.from({ length: cols }, () => "-".repeat(W)).join("-+-");
  const body = rows.map((r) => {
    const cells = Array.from({ length: cols }, (_, c) => cell(c === r.cpu ? r.text : ""));
    return `${cells.join(" | ")}${r.lost ? "  <== LOST WRITE" : ""}`;
  });
  return [header, rule, ...body].join("\n");
}

const esc = (s: string): string =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

/**
 * The same table as SVG, drawn as a table: a header cell per CPU, then a row per step in global
 * order with a cell per CPU (rects with borders, the step's text in its CPU's column, kernel
 * steps indented under the user operation), a step-number column, and the store that lost the
 * write shaded red. A cell too narrow for its text is cut with "…" and keeps the whole text
 * as a tooltip (<title>).
 */
export function explainSvg(rows: ExplainRow[], cpuNames: string[], title: string): string {
  const CH = 6.6; // width of an 11px monospace character
  const numW = 46;
  const colW = 490;
  const rowH = 18;
  const headH = 24;
  const x0 = 10;
  const top = 58;
  const w = 2 * x0 + numW + colW * cpuNames.length;
  const h = top + headH + rowH * rows.length + 14;
  const colX = (c: number): number => x0 + numW + c * colW;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}" font-family="monospace" font-size="11" role="img">`,
    `<title>${esc(title)}</title>`,
    `<rect width="${w}" height="${h}" fill="white"/>`,
    `<text x="${x0}" y="20" font-family="sans-serif" font-size="14" font-weight="bold">${esc(title)}</text>`,
    `<text x="${x0}" y="40" font-family="sans-serif" font-size="12" fill="#444">A column per CPU, one row per step in the order the steps were taken; red: the store through a stale TLB entry (the lost write).</text>`,
    `<g class="table">`,
    `<rect class="th" x="${x0}" y="${top}" width="${numW}" height="${headH}" fill="#e8e8e8" stroke="#999"/>`,
    `<text x="${x0 + numW - 6}" y="${top + 16}" text-anchor="end" font-weight="bold">#</text>`,
  ];
  cpuNames.forEach((n, c) =>
    parts.push(
      `<rect class="th" x="${colX(c)}" y="${top}" width="${colW}" height="${headH}" fill="#e8e8e8" stroke="#999"/>`,
      `<text x="${colX(c) + 6}" y="${top + 16}" font-weight="bold">${esc(`CPU ${c} (${n})`)}</text>`,
    ),
  );
  rows.forEach((r, i) => {
    const y = top + headH + i * rowH;
    const fill = r.lost ? "#fdd" : i % 2 === 0 ? "#fff" : "#f6f6f6";
    const stroke = r.lost ? "#d88" : "#ccc";
    parts.push(
      `<rect class="td" x="${x0}" y="${y}" width="${numW}" height="${rowH}" fill="${fill}" stroke="${stroke}"/>`,
      `<text x="${x0 + numW - 6}" y="${y + 13}" text-anchor="end" fill="#777">${i + 1}</text>`,
    );
    cpuNames.forEach((_, c) =>
      parts.push(
        `<rect class="td" x="${colX(c)}" y="${y}" width="${colW}" height="${rowH}" fill="${fill}" stroke="${stroke}"/>`,
      ),
    );
    const indent = r.text.length - r.text.trimStart().length;
    const text = r.text.trim() + (r.lost ? "  <== LOST WRITE" : "");
    const room = Math.floor((colW - 12 - indent * CH) / CH);
    const shown = text.length > room ? `${text.slice(0, room - 1)}…` : text;
    parts.push(
      `<text class="step" x="${(colX(r.cpu) + 6 + indent * CH).toFixed(1)}" y="${y + 13}"${r.lost ? ' fill="#b00" font-weight="bold"' : ""}>${shown !== text ? `<title>${esc(text)}</title>` : ""}${esc(shown)}</text>`,
    );
  });
  parts.push("</g>", "</svg>");
  return parts.join("\n");
}
