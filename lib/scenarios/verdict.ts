/**
 * What each kernel should show for a scenario. Kernels are ordered by history (KERNELS); a
 * scenario names the kernel that fixed its race, so every kernel before it should show the
 * forbidden outcome (with the window widened) and every kernel from it on never should, unless
 * the scenario's `expect` says otherwise.
 */
import { KERNELS, kernelIndex } from "../kernels/index.js";
import type { Arch, ScenarioSpec, Verdict } from "./types.js";

/**
 * The verdict kernel history gives `kernel` on `arch` (default: the scenario's arch): the
 * scenario's expectOn[arch], else its expect, else forbidden before its fixed kernel and clean
 * from it on.
 */
export function expectedVerdict(spec: ScenarioSpec, kernel: string, arch?: Arch): Verdict {
  const a = arch ?? spec.arch ?? "x86";
  const onArch = spec.expectOn?.[a]?.[kernel];
  if (onArch !== undefined) return onArch;
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
export function fixedKernel(spec: ScenarioSpec, arch?: Arch): string {
  const from = kernelIndex(spec.kernels[1]);
  const k = KERNELS.slice(from).find((x) => expectedVerdict(spec, x.name, arch) === "clean");
  return k?.name ?? spec.kernels[1];
}
