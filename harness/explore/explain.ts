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
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/** The same table as SVG, for the report. */
export function explainSvg(rows: ExplainRow[], cpuNames: string[], title: string): string {
  const colW = 430;
  const rowH = 17;
  const top = 56;
  const w = 20 + colW * cpuNames.length;
  const h = top + rowH * rows.length + 16;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" font-family="monospace" font-size="11">`,
    `<rect width="${w}" height="${h}" fill="white"/>`,
    `<text x="10" y="18" font-family="sans-serif" font-size="14" font-weight="bold">${esc(title)}</text>`,
  ];
  cpuNames.forEach((n, c) =>
    parts.push(
      `<text x="${10 + c * colW}" y="42" font-weight="bold">${esc(`CPU ${c} (${n})`)}</text>`,
    ),
  );
  rows.forEach((r, i) => {
    const y = top + i * rowH;
    if (r.lost) parts.push(`<rect x="0" y="${y - 12}" width="${w}" height="${rowH}" fill="#fdd"/>`);
    parts.push(
      `<text x="${10 + r.cpu * colW}" y="${y}"${r.lost ? ' fill="#b00" font-weight="bold"' : ""}>${esc(r.text.trim().slice(0, 62))}</text>`,
    );
  });
  parts.push("</svg>");
  return parts.join("\n");
}
