/**
 * Scenario files: the built-in ones (scenarios/*.json in the package) and users' own
 * (--file PATH). Reading and parsing happen here; lib/scenarios/validate.ts checks them.
 */
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { ScenarioError } from "../lib/scenarios/compile.js";
import type { ScenarioSpec } from "../lib/scenarios/types.js";
import { validateScenario } from "../lib/scenarios/validate.js";
import { UsageError } from "../lib/units.js";
import { renameScenarioKernels } from "./kernel-names.js";

export const BUILTIN_DIR = fileURLToPath(new URL("../../scenarios/", import.meta.url));

/**
 * Parse and validate a scenario file; every error names the file. Throws UsageError. An old
 * kernel name in it is read as the variant's name now, with a note on stderr unless `quiet`.
 */
export function loadScenarioFile(path: string, quiet = false): ScenarioSpec {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new UsageError(`${path}: cannot read: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  return parseScenario(text, path, quiet);
}

export function parseScenario(text: string, path: string, quiet = false): ScenarioSpec {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    // Node quotes the surrounding source, newlines included: keep the error on one line.
    throw new UsageError(`${path}: not valid JSON: ${(e as Error).message.replace(/\s+/g, " ")}`);
  }
  try {
    return validateScenario(renameScenarioKernels(json, !quiet)); // old kernel names
  } catch (e) {
    if (e instanceof ScenarioError) throw new UsageError(`${path}: ${e.message}`);
    throw e;
  }
}

let builtins: ScenarioSpec[] | undefined;

export function builtinScenarios(): ScenarioSpec[] {
  builtins ??= readdirSync(BUILTIN_DIR)
    .filter((f) => f.endsWith(".json"))
    .sort()
    .map((f) => loadScenarioFile(join(BUILTIN_DIR, f), true));
  return builtins;
}

export function findScenario(name: string): ScenarioSpec {
  const s = builtinScenarios().find((x) => x.name === name);
  if (s === undefined) {
    throw new UsageError(
      `unknown scenario "${name}" (valid: ${builtinScenarios()
        .map((x) => x.name)
        .join(", ")})`,
    );
  }
  return s;
}
