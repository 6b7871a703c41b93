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
  if (builtins === undefined) {
    builtins = readdirSync(BUILTIN_DIR)
      .filter((f) => f.endsWith(".json"))
      .sort()
      .map((f) => loadScenarioFile(join(BUILTIN_DIR, f), true));
    checkForms(builtins);
  }
  return builtins;
}

/**
 * Each `formOf` names a race of the set, and each `fewerCores` a scenario of the set with fewer
 * CPUs than the one that names it. A user's scenario file may name built-in ones.
 */
export function checkForms(set: ScenarioSpec[], known: ScenarioSpec[] = set): void {
  const byName = new Map(known.map((s) => [s.name, s]));
  for (const s of set) {
    if (s.formOf !== undefined) {
      const race = byName.get(s.formOf);
      if (race === undefined || race.formOf !== undefined)
        throw new UsageError(`${s.name}: formOf: "${s.formOf}" is not a race of the catalog`);
    }
    if (s.fewerCores !== undefined) {
      const form = byName.get(s.fewerCores);
      if (form === undefined || form.cpus.length >= s.cpus.length)
        throw new UsageError(
          `${s.name}: fewerCores: "${s.fewerCores}" is not a scenario with fewer than ${s.cpus.length} CPUs`,
        );
    }
  }
}

/** The catalog's races: the built-in scenarios that are not a form of another. */
export function catalogRaces(): ScenarioSpec[] {
  return builtinScenarios().filter((s) => s.formOf === undefined);
}

/** Which program a natural-timing run of a race runs, and why. */
export interface NaturalForm {
  /** The scenario that runs: the race as written, or its form for fewer cores. */
  scenario: ScenarioSpec;
  /** The form's name when it is not the race as written. */
  form?: string;
  /** One line: which form ran and why (for the run's header and the result). */
  why: string;
}

/**
 * At natural timing every CPU of the scenario needs a core of its own: a CPU that waits for a
 * core is descheduled in the middle of its window, and the race's timing becomes the
 * scheduler's. So on a host with fewer cores than the race has CPUs, run the form it names for
 * fewer cores (`fewerCores`), if it has one; otherwise run it as written and say so.
 */
export function naturalForm(race: ScenarioSpec, cores: number): NaturalForm {
  const n = race.cpus.length;
  if (n <= cores) return { scenario: race, why: `as written (${n} CPUs, ${cores} cores)` };
  const name = race.fewerCores;
  const form = name === undefined ? undefined : builtinScenarios().find((s) => s.name === name);
  if (form === undefined)
    return {
      scenario: race,
      why: `as written: ${n} CPUs on ${cores} cores (it has no form for fewer cores)`,
    };
  return {
    scenario: form,
    form: form.name,
    why: `as ${form.name}: ${form.cpus.length} CPUs, since ${n} CPUs need ${n} cores and this host has ${cores}`,
  };
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
