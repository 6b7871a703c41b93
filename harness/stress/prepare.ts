/**
 * Everything a machine needs to run one cell's slices, computed once per cell: the compiled
 * image, the delays, the start-offset range and the flush granularity (as `tlbrace run` sets
 * them up), plus the scenario's version for the result file.
 */
import { createHash } from "node:crypto";
import { kernelIndex } from "../../lib/kernels/index.js";
import { pointId } from "../../lib/machine/points.js";
import {
  ARM64_MAX_TLB_RANGE_PAGES,
  tlb_single_page_flush_ceiling,
} from "../../lib/mmu/shootdown.js";
import { compile } from "../../lib/scenarios/compile.js";
import type { ScenarioSpec } from "../../lib/scenarios/types.js";
import { expectedVerdict } from "../../lib/scenarios/verdict.js";
import { formatNs } from "../../lib/units.js";
import type { BatchConfig } from "../machine.js";
import { widenDelays } from "../matrix.js";
import { defaultOffsetMaxNs } from "../run.js";
import type { Cell } from "./plan.js";
import type { Mode, ScenarioVersion } from "./result.js";

export interface PreparedCell {
  scenario: ScenarioSpec;
  kernel: string;
  expected: ReturnType<typeof expectedVerdict>;
  /** CPUs the scenario's programs need. */
  cpus: number;
  image: Int32Array;
  outcomeLabels: string[];
  forbidden: boolean[];
  /** The batch configuration without the per-slice fields (seed, trials, duration). */
  batch: Omit<BatchConfig, "seed" | "trials" | "durationMs">;
  /** Natural mode, where the scenario names a window: window-aware start offsets (harness/aim.ts). */
  aimed: boolean;
}

export function prepareCells(cells: Cell[], mode: Mode): PreparedCell[] {
  const compiled = new Map<string, ReturnType<typeof compile>>();
  return cells.map(({ scenario, kernel }) => {
    let c = compiled.get(scenario.name);
    if (c === undefined) {
      // At natural timing, the parameters the scenario declares for it (as matrix --natural).
      c = compile(scenario, mode === "natural" ? { ...(scenario.natural ?? {}) } : {});
      compiled.set(scenario.name, c);
    }
    const delays = mode === "widened" ? widenDelays(scenario) : new Map<string, number>();
    const arch = scenario.arch ?? "x86";
    return {
      scenario,
      kernel,
      expected: expectedVerdict(scenario, kernel),
      cpus: scenario.cpus.length,
      image: c.image,
      outcomeLabels: c.outcomeLabels,
      forbidden: c.forbidden,
      batch: {
        kernel: kernelIndex(kernel),
        offsetMaxNs: defaultOffsetMaxNs(delays),
        delaysNs: new Map([...delays].map(([p, ns]) => [pointId(p), ns])),
        flushCeiling: arch === "arm64" ? ARM64_MAX_TLB_RANGE_PAGES : tlb_single_page_flush_ceiling,
        arch,
      },
      aimed: mode === "natural" && scenario.window !== undefined,
    };
  });
}

/** JSON with object keys sorted, so equal scenarios hash equal however their files are laid out. */
function canonical(x: unknown): string {
  if (Array.isArray(x)) return `[${x.map(canonical).join(",")}]`;
  if (x !== null && typeof x === "object") {
    const o = x as Record<string, unknown>;
    return `{${Object.keys(o)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`)
      .join(",")}}`;
  }
  return JSON.stringify(x);
}

/** A scenario's version: a hash of its content. Shards of a campaign must agree on it. */
export function scenarioVersion(s: ScenarioSpec, mode: Mode): ScenarioVersion {
  const delays = mode === "widened" ? widenDelays(s) : new Map<string, number>();
  return {
    name: s.name,
    version: createHash("sha256").update(canonical(s)).digest("hex").slice(0, 16),
    cpus: s.cpus.length,
    delays: Object.fromEntries([...delays].map(([p, ns]) => [p, formatNs(ns)])),
  };
}
