/** Scenarios are data: see types.ts for the format, validate.ts for its checks. */
export type { ScenarioSpec } from "./types.js";
export { compile, ScenarioError } from "./compile.js";
export { validateScenario } from "./validate.js";
