/**
 * How a result's kind is told: by its fields, never by its file name (files can be renamed,
 * `--out` names them anything, and results/reference/ holds a matrix named zap-mkclean-...).
 *
 * - `kind` present: that kind ("demo", "matrix", "stress", "explore", "acceptance");
 * - else `bench` present: "bench-" and its value ("bench-flush", ..., "bench-seed");
 * - else `runs` (an array) present: "run";
 * - else `checks` (an array) and `ok`: "smoke" (`tlbrace smoke --json`).
 *
 * schemas/result.schema.json makes the same choice with if/then, so any result can be checked
 * against that one file.
 */
import { RESULT_SCHEMAS } from "./results.js";

export type ResultKind = keyof typeof RESULT_SCHEMAS;

export const RESULT_KINDS = Object.keys(RESULT_SCHEMAS) as ResultKind[];

/** Kinds told by a `kind` field, and by a `bench` field (without "bench-"). */
export const KIND_FIELD_KINDS = RESULT_KINDS.filter(
  (k) => !k.startsWith("bench-") && k !== "run" && k !== "smoke",
);
export const BENCH_KINDS = RESULT_KINDS.filter((k) => k.startsWith("bench-")).map((k) =>
  k.slice("bench-".length),
);

const isObj = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

const known = (k: string): ResultKind | undefined =>
  (RESULT_KINDS as string[]).includes(k) ? (k as ResultKind) : undefined;

/** The kind of a parsed result file, or undefined if it is none tlbrace writes. */
export function resultKind(data: unknown): ResultKind | undefined {
  if (!isObj(data)) return undefined;
  if (data.kind !== undefined) return typeof data.kind === "string" ? known(data.kind) : undefined;
  if (data.bench !== undefined)
    return typeof data.bench === "string" ? known(`bench-${data.bench}`) : undefined;
  if (Array.isArray(data.runs)) return "run";
  if (Array.isArray(data.checks) && Object.hasOwn(data, "ok")) return "smoke";
  return undefined;
}

/** The schema file of a kind, in schemas/. */
export const schemaFile = (kind: ResultKind): string => `result-${kind}.schema.json`;
