/**
 * Validation of scenario files. Input is whatever JSON.parse returned; output is a ScenarioSpec
 * or a ScenarioError whose message names the path inside the file ("cpus[1].steps[3].op") and
 * what was expected there. Beyond shape, it checks meaning: registers exist, every wait can be
 * signalled, kernels and named points exist, and the scenario compiles within the machine's
 * limits with its default parameters.
 *
 * The tables below (keys, fields, limits, name patterns) are exported: harness/schemas/ builds
 * the JSON Schema of scenario files (schemas/scenario.schema.json) from them, so the two cannot
 * drift. The schema checks shape for editors; this validator stays the judge of meaning.
 */
import { KERNELS } from "../kernels/index.js";
import { MAX_CPUS } from "../machine/layout.js";
import { POINTS } from "../machine/points.js";
import { parseDuration, UsageError } from "../units.js";
import { COMPILED_OPS, compile, RESULT_LABELS, ScenarioError } from "./compile.js";
import { ARCHS, type OPS, type ScenarioSpec } from "./types.js";

type Json = unknown;

class Checker {
  constructor(readonly path: string) {}

  fail(expected: string, got: Json): never {
    throw new ScenarioError(
      `${this.path || "(top level)"}: expected ${expected}, got ${show(got)}`,
    );
  }
  at(key: string | number): Checker {
    // Keys come from the file: quote any that could break the one-line message or the path.
    if (typeof key === "string" && !/^[\w$:-]+$/.test(key))
      return new Checker(`${this.path}[${JSON.stringify(key)}]`);
    return new Checker(
      typeof key === "number" ? `${this.path}[${key}]` : this.path ? `${this.path}.${key}` : key,
    );
  }
}

function show(v: Json): string {
  if (v === undefined) return "nothing";
  const s = JSON.stringify(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

const isObj = (v: Json): v is Record<string, Json> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/** An object with these keys; optional "any" allows any other key (a map). */
function obj(
  c: Checker,
  v: Json,
  required: string[],
  optional: string[] | "any" = [],
): Record<string, Json> {
  if (!isObj(v)) c.fail("an object", v);
  for (const k of required) if (!Object.hasOwn(v, k)) c.at(k).fail(`a value (required)`, undefined);
  if (optional === "any") return v;
  for (const k of Object.keys(v)) {
    if (!required.includes(k) && !optional.includes(k)) {
      c.at(k).fail(`no such key (allowed: ${[...required, ...optional].join(", ")})`, v[k]);
    }
  }
  return v;
}

function str(c: Checker, v: Json, pattern?: RegExp, what = "a string"): string {
  if (typeof v !== "string" || v.length === 0 || (pattern !== undefined && !pattern.test(v)))
    c.fail(what, v);
  return v;
}

function int(c: Checker, v: Json, min = INT_MIN, max = INT_MAX): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
    c.fail(`an integer from ${min} to ${max}`, v);
  }
  return v;
}

function arr(c: Checker, v: Json, max: number): Json[] {
  if (!Array.isArray(v)) c.fail("an array", v);
  if (v.length > max) c.fail(`at most ${max} entries`, `${v.length} entries`);
  return v;
}

function oneOf<T extends string>(c: Checker, v: Json, options: readonly T[]): T {
  if (typeof v !== "string" || !(options as readonly string[]).includes(v)) {
    c.fail(`one of ${options.join(", ")}`, v);
  }
  return v as T;
}

// No flags (spelt A-Za-z, not /i): JSON Schema patterns take the source as it is.
export const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
export const PARAM_REF = /^\$[A-Za-z_][A-Za-z0-9_]*$/;
/** A parameter's name; "__proto__" is refused besides. */
export const PARAM_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The keys of a scenario file: required, then optional. */
export const TOP_REQUIRED = [
  "name",
  "description",
  "source",
  "kernels",
  "params",
  "cpus",
  "outcome",
  "forbidden",
  "lostWrite",
  "widen",
] as const;
/**
 * "$schema" lets an editor find the JSON Schema; it and "$comment" are notes for people and
 * tools, not part of the scenario ("$schema" is dropped from the spec, so a scenario's hash and
 * replay fingerprint do not depend on it).
 */
export const TOP_OPTIONAL = [
  "expect",
  "useAfterFree",
  "countForbidden",
  "arch",
  "expectOn",
  "archNote",
  "window",
  "natural",
  "formOf",
  "fewerCores",
  "$comment",
  "$schema",
] as const;

export const VERDICTS = ["forbidden", "clean", "either"] as const;
export const ADVICES = ["dontneed"] as const;
export const ACCESSES = ["read", "write"] as const;
export const OUTCOME_KINDS = ["result", "value"] as const;
export const PARAM_KEYS = ["description", "default", "min", "max"] as const;
export const CPU_REQUIRED = ["name", "steps"] as const;
export const CPU_OPTIONAL = ["init"] as const;
export const OUTCOME_REQUIRED = ["name", "cpu", "reg", "kind"] as const;
export const OUTCOME_OPTIONAL = ["values"] as const;
export const LOST_WRITE_KEYS = ["cpu", "stores", "readback"] as const;
export const WINDOW_REQUIRED = ["cpu", "open", "close", "race"] as const;
export const WINDOW_OPTIONAL = ["aim", "why"] as const;
export const RACE_KEYS = ["cpu", "step"] as const;
/** The integers arguments and values may take (an Int32: the machine's words). */
export const INT_MIN = -0x80000000;
export const INT_MAX = 0x7fffffff;

/** The most entries of each list. */
export const LIMITS = {
  steps: 64, // of a CPU's init, and of its steps
  outcome: 8,
  values: 11, // of a "value" outcome field
  forbidden: 16,
  lostWrite: 4,
  stores: 6, // of a lostWrite check
} as const;

function arg(c: Checker, v: Json, params: Set<string>): number | string {
  if (typeof v === "number") return int(c, v);
  if (typeof v === "string" && PARAM_REF.test(v)) {
    if (!params.has(v.slice(1)))
      c.fail(`a number or a declared parameter (${[...params].map((p) => `$${p}`).join(", ")})`, v);
    return v;
  }
  return c.fail('a number or "$param"', v);
}

export const REGIONS = ["X", "Y"] as const;

export type FieldKind = "region" | "arg" | "reg" | "flag" | "advice" | "access" | "bool";

/** The fields each op requires, and how to check them. */
export const STEP_FIELDS: Record<(typeof OPS)[number], Record<string, FieldKind>> = {
  mmap: { at: "region", pages: "arg" },
  mmap_anon: { at: "region", pages: "arg" },
  mmap_thp: { at: "region", pages: "arg" },
  madvise_free: { at: "region", pages: "arg" },
  reclaim: {},
  reclaim_cluster: { pages: "arg" },
  migrate: {},
  munmap: { at: "region", pages: "arg" },
  mremap: { from: "region", to: "region", pages: "arg" },
  store: { at: "region", page: "arg", value: "arg", result: "reg" },
  load: { at: "region", page: "arg", into: "reg" },
  touch: { at: "region", pages: "arg", access: "access" },
  fadvise: { advice: "advice" },
  pread: { page: "arg", into: "reg" },
  ftruncate: { pages: "arg" },
  alloc: { value: "arg" },
  signal: { flag: "flag" },
  wait: { flag: "flag" },
};

/** The fields an op may leave out, checked as above when present (defaults: see compile.ts). */
export const STEP_OPTIONAL_FIELDS: Partial<
  Record<(typeof OPS)[number], Record<string, FieldKind>>
> = {
  mmap: { populate: "bool" },
  mmap_anon: { populate: "bool" },
  touch: { page: "arg", value: "arg" },
  fadvise: { page: "arg", pages: "arg" },
  migrate: { pages: "arg" },
  reclaim: { may_writepage: "bool" },
  reclaim_cluster: { may_writepage: "bool" },
};

export function validateScenario(input: Json): ScenarioSpec {
  const top = new Checker("");
  const o = obj(top, input, [...TOP_REQUIRED], [...TOP_OPTIONAL]);
  if (o.$schema !== undefined) str(top.at("$schema"), o.$schema);
  str(top.at("name"), o.name, NAME, "a name of letters, digits, '.', '_' or '-'");
  str(top.at("description"), o.description);
  str(top.at("source"), o.source);
  const kernelNames = KERNELS.map((k) => k.name);
  const kernels = arr(top.at("kernels"), o.kernels, 2);
  if (kernels.length !== 2) top.at("kernels").fail("[buggy kernel, fixed kernel]", o.kernels);
  kernels.forEach((k, i) => oneOf(top.at("kernels").at(i), k, kernelNames));
  if (o.expect !== undefined) {
    const e = obj(top.at("expect"), o.expect, [], kernelNames);
    for (const [k, v] of Object.entries(e)) oneOf(top.at("expect").at(k), v, VERDICTS);
  }
  if (o.arch !== undefined) oneOf(top.at("arch"), o.arch, ARCHS);
  if (o.expectOn !== undefined) {
    const on = obj(top.at("expectOn"), o.expectOn, [], [...ARCHS]);
    for (const [a, m] of Object.entries(on)) {
      const e = obj(top.at("expectOn").at(a), m, [], kernelNames);
      for (const [k, v] of Object.entries(e)) oneOf(top.at("expectOn").at(a).at(k), v, VERDICTS);
    }
  }
  if (o.archNote !== undefined) str(top.at("archNote"), o.archNote);
  if (o.countForbidden !== undefined && typeof o.countForbidden !== "boolean")
    top.at("countForbidden").fail("true or false", o.countForbidden);
  if (o.useAfterFree !== undefined && typeof o.useAfterFree !== "boolean")
    top.at("useAfterFree").fail("true or false", o.useAfterFree);

  const params = new Set<string>();
  const p = obj(top.at("params"), o.params, [], "any");
  for (const [name, spec] of Object.entries(p)) {
    const c = top.at("params").at(name);
    if (!PARAM_NAME.test(name) || name === "__proto__")
      c.fail("a parameter name of letters, digits and '_' (not __proto__)", name);
    const ps = obj(c, spec, [...PARAM_KEYS]);
    str(c.at("description"), ps.description);
    const min = int(c.at("min"), ps.min, 0);
    int(c.at("default"), ps.default, min);
    if (typeof ps.max === "string") {
      if (!PARAM_REF.test(ps.max) || !Object.hasOwn(p, ps.max.slice(1)))
        c.at("max").fail('a number or "$param"', ps.max);
    } else int(c.at("max"), ps.max, min);
    params.add(name);
  }

  const cpus = arr(top.at("cpus"), o.cpus, MAX_CPUS);
  if (cpus.length === 0) top.at("cpus").fail("at least one CPU", o.cpus);
  const regs = cpus.map(() => new Set<string>());
  const signals = new Set<string>();
  const waits: [Checker, string][] = [];
  cpus.forEach((cpu, ci) => {
    const c = top.at("cpus").at(ci);
    const co = obj(c, cpu, [...CPU_REQUIRED], [...CPU_OPTIONAL]);
    str(c.at("name"), co.name);
    for (const part of ["init", "steps"] as const) {
      if (co[part] === undefined) continue;
      arr(c.at(part), co[part], LIMITS.steps).forEach((step, si) => {
        const sc: Checker = c.at(part).at(si);
        if (!isObj(step)) sc.fail("a step object", step);
        const op = oneOf(sc.at("op"), step.op, COMPILED_OPS);
        const fields = STEP_FIELDS[op];
        const optional = STEP_OPTIONAL_FIELDS[op] ?? {};
        obj(sc, step, ["op", ...Object.keys(fields)], Object.keys(optional));
        for (const [f, kind] of [...Object.entries(fields), ...Object.entries(optional)]) {
          if (!Object.hasOwn(step, f)) continue; // an optional field left out
          const fc = sc.at(f);
          const v = step[f];
          if (kind === "region") oneOf(fc, v, REGIONS);
          else if (kind === "arg") arg(fc, v, params);
          else if (kind === "advice") oneOf(fc, v, ADVICES);
          else if (kind === "access") oneOf(fc, v, ACCESSES);
          else if (kind === "bool") {
            if (typeof v !== "boolean") fc.fail("true or false", v);
          } else if (kind === "reg") regs[ci]?.add(str(fc, v, NAME, "a register name"));
          else {
            const flag = str(fc, v, NAME, "a flag name");
            if (op === "signal") signals.add(flag);
            else waits.push([fc, flag]);
          }
        }
        // touch: a write stores `value` in every page; a read has nothing to store.
        if (op === "touch" && step.access === "write" && !Object.hasOwn(step, "value"))
          sc.at("value").fail("a value (required for a write)", undefined);
        if (op === "touch" && step.access === "read" && Object.hasOwn(step, "value"))
          sc.at("value").fail("nothing (a read writes no value)", step.value);
      });
    }
  });
  for (const [c, flag] of waits) {
    if (!signals.has(flag))
      c.fail(
        `a flag some CPU signals (this wait could never end; signalled: ${[...signals].join(", ") || "none"})`,
        flag,
      );
  }

  const regOf = (c: Checker, cpu: number, name: Json): void => {
    if (!regs[cpu]?.has(str(c, name))) {
      c.fail(
        `a register that CPU ${cpu} sets (${[...(regs[cpu] ?? [])].join(", ") || "none"})`,
        name,
      );
    }
  };
  /** Outcome field name -> the labels it can take. */
  const fields = new Map<string, string[]>();
  arr(top.at("outcome"), o.outcome, LIMITS.outcome).forEach((f, i) => {
    const c = top.at("outcome").at(i);
    const fo = obj(c, f, [...OUTCOME_REQUIRED], [...OUTCOME_OPTIONAL]);
    const name = str(c.at("name"), fo.name, NAME, "a field name");
    if (fields.has(name)) c.at("name").fail("a field name not used before", name);
    const cpu = int(c.at("cpu"), fo.cpu, 0);
    if (cpu >= cpus.length) c.at("cpu").fail(`a CPU of this scenario (0..${cpus.length - 1})`, cpu);
    regOf(c.at("reg"), cpu, fo.reg);
    const kind = oneOf(c.at("kind"), fo.kind, OUTCOME_KINDS);
    if (kind === "value") {
      const values: number[] = [];
      arr(c.at("values"), fo.values, LIMITS.values).forEach((v, j) => {
        const n = int(c.at("values").at(j), v);
        if (values.includes(n)) c.at("values").at(j).fail("a value not listed before", v);
        values.push(n);
      });
      fields.set(name, [...values.map(String), "other"]);
    } else if (fo.values !== undefined)
      c.at("values").fail('nothing (only "value" fields list values)', fo.values);
    else fields.set(name, RESULT_LABELS);
  });
  arr(top.at("forbidden"), o.forbidden, LIMITS.forbidden).forEach((fb, i) => {
    const c: Checker = top.at("forbidden").at(i);
    if (!isObj(fb)) c.fail("an object of field name -> label", fb);
    for (const [k, v] of Object.entries(fb)) {
      const kc: Checker = c.at(k);
      const labels = fields.get(k);
      if (labels === undefined) kc.fail(`an outcome field (${[...fields.keys()].join(", ")})`, k);
      if ((typeof v !== "string" && typeof v !== "number") || !labels.includes(String(v)))
        kc.fail(`one of ${labels.join(", ")}`, v);
    }
  });
  arr(top.at("lostWrite"), o.lostWrite, LIMITS.lostWrite).forEach((lw, i) => {
    const c = top.at("lostWrite").at(i);
    const l = obj(c, lw, [...LOST_WRITE_KEYS]);
    const cpu = int(c.at("cpu"), l.cpu, 0, cpus.length - 1);
    arr(c.at("stores"), l.stores, LIMITS.stores).forEach((s, j) =>
      regOf(c.at("stores").at(j), cpu, s),
    );
    regOf(c.at("readback"), cpu, l.readback);
  });
  const w = obj(top.at("widen"), o.widen, [], [...POINTS]);
  for (const [point, d] of Object.entries(w)) {
    let ns: number;
    try {
      ns = parseDuration(str(top.at("widen").at(point), d), "duration");
    } catch (e) {
      if (e instanceof UsageError) top.at("widen").at(point).fail("a duration such as 100us", d);
      throw e;
    }
    // The same limit as --delay.
    if (ns > 60e9) top.at("widen").at(point).fail("a duration of at most 60s", d);
  }

  if (o.window !== undefined) {
    const c = top.at("window");
    const wo = obj(c, o.window, [...WINDOW_REQUIRED], [...WINDOW_OPTIONAL]);
    const cpuOf = (cc: Checker, v: Json): number => {
      const n = int(cc, v, 0);
      if (n >= cpus.length) cc.fail(`a CPU of this scenario (0..${cpus.length - 1})`, n);
      return n;
    };
    const wcpu = cpuOf(c.at("cpu"), wo.cpu);
    oneOf(c.at("open"), wo.open, POINTS);
    oneOf(c.at("close"), wo.close, POINTS);
    const ro = obj(c.at("race"), wo.race, [...RACE_KEYS]);
    const rcpu = cpuOf(c.at("race").at("cpu"), ro.cpu);
    if (rcpu === wcpu) c.at("race").at("cpu").fail(`another CPU than the window's (${wcpu})`, rcpu);
    const steps = (cpus[rcpu] as { steps: Json[] }).steps.length;
    int(c.at("race").at("step"), ro.step, 0, steps - 1);
    if (wo.aim !== undefined) cpuOf(c.at("aim"), wo.aim);
    if (wo.why !== undefined) str(c.at("why"), wo.why);
  }
  if (o.natural !== undefined) {
    const n = obj(top.at("natural"), o.natural, [], [...params]);
    for (const [k, v] of Object.entries(n)) int(top.at("natural").at(k), v, 0);
  }
  // Which scenario each names is checked where the scenarios are read (harness/scenarios.ts).
  if (o.formOf !== undefined) str(top.at("formOf"), o.formOf, NAME, "a scenario name");
  if (o.fewerCores !== undefined) str(top.at("fewerCores"), o.fewerCores, NAME, "a scenario name");
  if (o.formOf !== undefined && o.fewerCores !== undefined)
    top.at("fewerCores").fail("nothing: a form (formOf) has no form of its own", o.fewerCores);

  const spec = input as ScenarioSpec & { $schema?: unknown };
  delete spec.$schema; // an editor's pointer to the schema, not part of the scenario
  spec.cpus.forEach((c) => (c.init ??= []));
  try {
    compile(spec, {});
  } catch (e) {
    if (e instanceof ScenarioError)
      throw new ScenarioError(`with default parameters: ${e.message}`);
    throw e;
  }
  if (spec.natural !== undefined) {
    try {
      compile(spec, spec.natural);
    } catch (e) {
      if (e instanceof ScenarioError) throw new ScenarioError(`natural: ${e.message}`);
      throw e;
    }
  }
  return spec;
}
