/**
 * What each kernel should show for a scenario. Kernels are ordered by history (KERNELS); a
 * scenario names the kernel that fixed its race, so every kernel before it should show the
 * forbidden outcome (with the window widened) and every kernel from it on never should, unless
 * the scenario's `expect` says otherwise.
 */
import { KERNELS, kernelIndex } from "../kernels/index.js";
import type { ScenarioSpec, Verdict } from "./types.js";

export function expectedVerdict(spec: ScenarioSpec, kernel: string): Verdict {
  const override = spec.expect?.[kernel];
  if (override !== undefined) return override;
  return kernelIndex(kernel) < kernelIndex(spec.kernels[1]) ? "forbidden" : "clean";
}

/** Trials that showed a forbidden outcome: lost writes or use-after-free accesses. */
export function observedVerdict(forbiddenTrials: number): "forbidden" | "clean" {
  return forbiddenTrials > 0 ? "forbidden" : "clean";
}

export function verdictMatches(expected: Verdict, forbiddenTrials: number): boolean {
  return expected === "either" || observedVerdict(forbiddenTrials) === expected;
}

/** The kernel smoke checks as fixed: the first from the scenario's fixed kernel on that is "clean". */
export function fixedKernel(spec: ScenarioSpec): string {
  const from = kernelIndex(spec.kernels[1]);
  const k = KERNELS.slice(from).find((x) => expectedVerdict(spec, x.name) === "clean");
  return k?.name ?? spec.kernels[1];
}
