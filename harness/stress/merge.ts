/**
 * `tlbrace merge`: the shard results of one campaign combined into one file, with totals and
 * per-cell rates recomputed from the summed counts. Files that are not shards of the same
 * campaign (another schema, tlbrace version, scenario set or version, mode, cells or plan) are
 * refused: their counts do not measure the same thing.
 */
import { readFileSync } from "node:fs";
import { UsageError } from "../../lib/units.js";
import { renameResultKernels } from "../kernel-names.js";
import { addCounts, finishTotals, type CellCounts, type StressResult } from "./result.js";

function load(path: string): StressResult {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new UsageError(
      `merge: ${path}: cannot read: ${(e as NodeJS.ErrnoException).code ?? String(e)}`,
    );
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw new UsageError(`merge: ${path}: not valid JSON`);
  }
  const r = data as Partial<StressResult> | null;
  if (r === null || typeof r !== "object" || r.kind !== "stress" || !Array.isArray(r.cells))
    throw new UsageError(`merge: ${path}: not a tlbrace stress result`);
  if (r.merged !== undefined)
    throw new UsageError(`merge: ${path}: already a merged file; merge the shard files instead`);
  return renameResultKernels(r as StressResult); // cells naming a variant by an old name
}

/** What every shard of a campaign must agree on, as [what, value] for the error message. */
function identity(r: StressResult): [string, string][] {
  return [
    ["schema", String(r.schema)],
    ["tlbrace version", typeof r.tlbrace === "string" ? r.tlbrace : String(r.tlbrace?.version)],
    ["mode", r.mode],
    ["scenarios", r.scenarios.map((s) => `${s.name}@${s.version}`).join(" ")],
    ["cells", r.cells.map((c) => `${c.scenario}/${c.kernel}`).join(" ")],
    ["CPUs per machine", String(r.plan.cpus ?? "each scenario's")],
    ["trials per cell", String(r.plan.trialsPerCell ?? "none (a duration)")],
    ["shard count", String(r.shard.count)],
  ];
}

export function mergeResults(paths: string[], command: string): StressResult {
  if (paths.length === 0) throw new UsageError("merge: give the shard result files to merge");
  const files = paths.map((p) => ({ path: p, r: load(p) }));
  const first = files[0] as { path: string; r: StressResult };
  const want = identity(first.r);
  const seen = new Set<string>();
  for (const f of files) {
    identity(f.r).forEach(([what, value], i) => {
      const [, expected] = want[i] as [string, string];
      if (value !== expected)
        throw new UsageError(
          `merge: ${f.path} has ${what} ${value.length > 60 ? "(different)" : value}, ${first.path} has ${expected.length > 60 ? "another" : expected}: not shards of one campaign`,
        );
    });
    const key = `${f.r.shard.index}/${f.r.shard.count} seed ${f.r.seed}`;
    if (seen.has(key))
      throw new UsageError(
        `merge: ${f.path}: shard ${key} appears twice (the same seeds would be counted twice)`,
      );
    seen.add(key);
  }
  const cells: CellCounts[] = first.r.cells.map((c) => ({
    ...c,
    trials: 0,
    forbiddenTrials: 0,
    lostWrites: 0,
    useAfterFree: 0,
    faults: 0,
    outcomes: {},
    slices: 0,
    machineMs: 0,
    firstForbidden: null,
    quarantined: false,
  }));
  for (const f of files) f.r.cells.forEach((c, i) => addCounts(cells[i] as CellCounts, c));
  const count = first.r.shard.count;
  const missing = Array.from({ length: count }, (_, i) => i).filter(
    (i) => !files.some((f) => f.r.shard.index === i),
  );
  const statuses = files.map((f) => f.r.status);
  const merged: StressResult = {
    ...first.r,
    command,
    updatedAt: new Date().toISOString(),
    startedAt: files.map((f) => f.r.startedAt).sort()[0] as string,
    status: statuses.includes("running")
      ? "running"
      : statuses.includes("stopped")
        ? "stopped"
        : "done",
    partial: missing.length > 0 || files.some((f) => f.r.partial),
    shard: { index: 0, count: 1 },
    plan: {
      ...first.r.plan,
      machines: files.reduce((s, f) => s + f.r.plan.machines, 0),
      machinesByCpus: sumByCpus(files.map((f) => f.r.plan.machinesByCpus)),
      durationMs:
        first.r.plan.durationMs === null
          ? null
          : Math.max(...files.map((f) => f.r.plan.durationMs ?? 0)),
    },
    // The hosts ran at the same time: the campaign took as long as its longest shard.
    elapsedMs: Math.max(...files.map((f) => f.r.elapsedMs)),
    totals: {
      ...first.r.totals,
      droppedTrials: files.reduce((s, f) => s + f.r.totals.droppedTrials, 0),
    },
    cells: cells.map((c) => ({ ...c, rate: null, verdict: "not run" })),
    errors: files.flatMap((f) =>
      f.r.errors.map((e) => ({ ...e, shard: `${f.r.shard.index}/${f.r.shard.count}` })),
    ),
    resources: { bufferBytes: first.r.resources.bufferBytes, rss: [] },
    merged: files.map((f) => ({
      file: f.path,
      shard: f.r.shard,
      seed: f.r.seed,
      startedAt: f.r.startedAt,
      partial: f.r.partial,
    })),
  };
  finishTotals(merged);
  return merged;
}

/** The shards merged and any missing, for the text output. */
export function mergeNote(r: StressResult): string {
  const m = r.merged ?? [];
  const count = m[0]?.shard.count ?? 1;
  const have = [...new Set(m.map((x) => x.shard.index))].sort((a, b) => a - b);
  const missing = Array.from({ length: count }, (_, i) => i).filter((i) => !have.includes(i));
  return (
    `merged ${m.length} file(s): shard(s) ${have.join(", ")} of ${count}` +
    (missing.length > 0 ? `; MISSING shard(s) ${missing.join(", ")}: the totals are partial` : "")
  );
}

/** The hosts' machines of each size, added up (undefined when a file predates sizes). */
function sumByCpus(
  all: (Record<string, number> | undefined)[],
): Record<string, number> | undefined {
  if (all.some((x) => x === undefined)) return undefined;
  const sum: Record<string, number> = {};
  for (const x of all) for (const [k, v] of Object.entries(x ?? {})) sum[k] = (sum[k] ?? 0) + v;
  return sum;
}
