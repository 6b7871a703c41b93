/** The built-in scenarios. */
import { mremapMkclean } from "./mremap-mkclean.js";
import type { ScenarioSpec } from "./types.js";

export type { ScenarioSpec } from "./types.js";

export const SCENARIOS: readonly ScenarioSpec[] = [mremapMkclean];

export function findScenario(name: string): ScenarioSpec | undefined {
  return SCENARIOS.find((s) => s.name === name);
}
