/**
 * The JSON Schema of scenario files (schemas/scenario.schema.json), built from the tables the
 * validator (lib/scenarios/validate.ts) checks against: its keys, each op's fields, its limits
 * and name patterns, the kernel variants (and their old names, which scenario files may still
 * use), the named points and the archs. It checks shape, so an editor can flag a misspelt key
 * or op while the file is written; meaning (registers set, waits signalled, points in order,
 * the scenario compiling) stays the validator's.
 */
import { KERNEL_ALIASES, KERNELS } from "../../lib/kernels/index.js";
import { MAX_CPUS } from "../../lib/machine/layout.js";
import { POINTS } from "../../lib/machine/points.js";
import { OPS, ARCHS } from "../../lib/scenarios/types.js";
import {
  ACCESSES,
  ADVICES,
  CPU_OPTIONAL,
  CPU_REQUIRED,
  INT_MAX,
  INT_MIN,
  LIMITS,
  LOST_WRITE_KEYS,
  NAME,
  OUTCOME_KINDS,
  OUTCOME_OPTIONAL,
  OUTCOME_REQUIRED,
  PARAM_KEYS,
  PARAM_NAME,
  PARAM_REF,
  RACE_KEYS,
  REGIONS,
  STEP_FIELDS,
  STEP_OPTIONAL_FIELDS,
  TOP_OPTIONAL,
  TOP_REQUIRED,
  VERDICTS,
  WINDOW_OPTIONAL,
  WINDOW_REQUIRED,
  type FieldKind,
} from "../../lib/scenarios/validate.js";
import { source } from "./build.js";

type Json = Record<string, unknown>;

/** Where the schemas are published: only an identifier; the files are in schemas/. */
export const SCHEMA_BASE = "https://tlbrace.invalid/schemas/";
export const DRAFT = "http://json-schema.org/draft-07/schema#";

/**
 * A duration as parseDuration() (lib/units.ts) reads it with no bare unit: a number and one of
 * ns, us, µs, ms, s, m, h (test/schemas.test.ts checks the two agree).
 */
export const DURATION = /^\s*\d+(\.\d+)?\s*(ns|us|µs|ms|s|m|h)\s*$/;

/** Kernel names a scenario file may use: the variants, then the old names still read. */
export function kernelNames(): string[] {
  return [...KERNELS.map((k) => k.name), ...Object.keys(KERNEL_ALIASES)];
}

const strict = (required: readonly string[], properties: Json): Json => ({
  type: "object",
  required: [...required],
  properties,
  additionalProperties: false,
});

/** Every key the validator allows must have a schema here, and no other. */
function keyed(required: readonly string[], optional: readonly string[], properties: Json): Json {
  const want = [...required, ...optional].sort().join(",");
  const have = Object.keys(properties).sort().join(",");
  if (want !== have) throw new Error(`schema keys ${have} differ from the validator's ${want}`);
  return strict(required, properties);
}

const text = (description: string): Json => ({ type: "string", minLength: 1, description });
const integer = (min = INT_MIN, max = INT_MAX): Json => ({
  type: "integer",
  minimum: min,
  maximum: max,
});
const nonNegative = (): Json => integer(0);
const list = (items: Json, maxItems: number, extra: Json = {}): Json => ({
  type: "array",
  items,
  maxItems,
  ...extra,
});

export function scenarioSchema(): Json {
  const kernels = kernelNames();
  const aliases = Object.entries(KERNEL_ALIASES)
    .map(([old, a]) => `${old} (now ${a.name})`)
    .join(", ");
  const kernel = {
    type: "string",
    enum: kernels,
    description: `a kernel variant, in history order (\`tlbrace list\`); old names still read: ${aliases}`,
  };
  const verdicts = { type: "string", enum: [...VERDICTS] };
  const expectMap = {
    type: "object",
    propertyNames: { enum: kernels },
    additionalProperties: verdicts,
  };
  const name = { type: "string", pattern: source(NAME) };
  const point = { type: "string", enum: [...POINTS] };
  const arg = {
    description: 'an integer, or "$name" of a declared parameter',
    anyOf: [integer(), { type: "string", pattern: source(PARAM_REF) }],
  };
  const field: Record<FieldKind, Json> = {
    region: { type: "string", enum: [...REGIONS] },
    arg,
    reg: { ...name, description: "a register of this CPU" },
    flag: { ...name, description: "a flag: signal sets it, wait waits for it" },
    advice: { type: "string", enum: [...ADVICES] },
    access: { type: "string", enum: [...ACCESSES] },
    bool: { type: "boolean" },
  };
  const stepCases = OPS.map((op) => {
    const required = STEP_FIELDS[op];
    const optional = STEP_OPTIONAL_FIELDS[op] ?? {};
    const properties: Json = { op: { const: op } };
    for (const [f, kind] of [...Object.entries(required), ...Object.entries(optional)])
      properties[f] = field[kind];
    return {
      if: { properties: { op: { const: op } }, required: ["op"] },
      then: strict(["op", ...Object.keys(required)], properties),
    };
  });
  const step = {
    type: "object",
    required: ["op"],
    properties: { op: { type: "string", enum: [...OPS] } },
    allOf: [
      ...stepCases,
      // touch: a write stores `value` in every page; a read has nothing to store.
      {
        if: {
          properties: { op: { const: "touch" }, access: { const: "write" } },
          required: ["op", "access"],
        },
        then: { required: ["value"] },
      },
      {
        if: {
          properties: { op: { const: "touch" }, access: { const: "read" } },
          required: ["op", "access"],
        },
        then: { not: { required: ["value"] } },
      },
    ],
  };
  const steps = list({ $ref: "#/definitions/step" }, LIMITS.steps);
  const param = keyed(PARAM_KEYS, [], {
    description: text("what the parameter is"),
    default: nonNegative(),
    min: nonNegative(),
    max: {
      description: 'the largest value, or "$other": less than that parameter',
      anyOf: [nonNegative(), { type: "string", pattern: source(PARAM_REF) }],
    },
  });
  const cpu = keyed(CPU_REQUIRED, CPU_OPTIONAL, {
    name: text('who this is in the reproducer ("thread 1")'),
    init: { ...steps, description: "set-up steps run before the start barrier" },
    steps: { ...steps, description: "the racing steps, started together after the barrier" },
  });
  const outcomeField = {
    ...keyed(OUTCOME_REQUIRED, OUTCOME_OPTIONAL, {
      name,
      cpu: nonNegative(),
      reg: { type: "string", minLength: 1 },
      kind: { type: "string", enum: [...OUTCOME_KINDS] },
      values: list(integer(), LIMITS.values, { uniqueItems: true }),
    }),
    allOf: [
      { if: { properties: { kind: { const: "value" } } }, then: { required: ["values"] } },
      {
        if: { properties: { kind: { const: "result" } } },
        then: { not: { required: ["values"] } },
      },
    ],
  };
  const lostWrite = keyed(LOST_WRITE_KEYS, [], {
    cpu: nonNegative(),
    stores: list({ type: "string", minLength: 1 }, LIMITS.stores),
    readback: { type: "string", minLength: 1 },
  });
  const window = keyed(WINDOW_REQUIRED, WINDOW_OPTIONAL, {
    cpu: nonNegative(),
    open: point,
    close: point,
    race: keyed(RACE_KEYS, [], { cpu: nonNegative(), step: nonNegative() }),
    aim: nonNegative(),
    why: text("why these points bound the race"),
  });
  const top = keyed(TOP_REQUIRED, TOP_OPTIONAL, {
    $schema: {
      type: "string",
      minLength: 1,
      description: "this schema, for editors: ../schemas/scenario.schema.json",
    },
    $comment: { description: "a note for people; not read" },
    name: { ...name, description: "the scenario's name (tlbrace run NAME)" },
    description: text("what races, in a sentence"),
    source: text("where the race comes from (a commit, a report)"),
    kernels: {
      type: "array",
      items: kernel,
      minItems: 2,
      maxItems: 2,
      description: "[buggy kernel, fixed kernel]",
    },
    expect: {
      ...expectMap,
      description:
        "verdicts that differ from history's rule (forbidden before the fixed kernel, clean from it on)",
    },
    useAfterFree: { type: "boolean" },
    countForbidden: { type: "boolean" },
    arch: { type: "string", enum: [...ARCHS] },
    expectOn: {
      type: "object",
      propertyNames: { enum: [...ARCHS] },
      additionalProperties: expectMap,
      description: "expected verdicts on another arch, per kernel",
    },
    archNote: text("why the race is real on `arch` and what the other arch answers"),
    window,
    natural: {
      type: "object",
      propertyNames: { pattern: source(PARAM_NAME) },
      additionalProperties: nonNegative(),
      description: "parameters at which the race is tried at natural timing",
    },
    formOf: {
      ...name,
      description:
        "this scenario is a form of the race named here (its third actor's work on a racing CPU), not a race of its own",
    },
    fewerCores: {
      ...name,
      description:
        "the scenario that runs this race on fewer CPUs, for natural-timing runs on a host with fewer cores than this scenario has CPUs",
    },
    params: {
      type: "object",
      propertyNames: { pattern: source(PARAM_NAME), not: { const: "__proto__" } },
      additionalProperties: param,
    },
    cpus: {
      type: "array",
      items: cpu,
      minItems: 1,
      maxItems: MAX_CPUS,
    },
    outcome: list(outcomeField, LIMITS.outcome),
    forbidden: list(
      {
        type: "object",
        description: "outcome field name -> label",
        additionalProperties: { anyOf: [{ type: "string" }, { type: "integer" }] },
      },
      LIMITS.forbidden,
    ),
    lostWrite: list(lostWrite, LIMITS.lostWrite),
    widen: {
      type: "object",
      propertyNames: { enum: [...POINTS] },
      additionalProperties: {
        type: "string",
        pattern: source(DURATION),
        description: "a delay at this named point, such as 100us (at most 60s)",
      },
      description: "delays that widen the window, for smoke and the matrix",
    },
  });
  return {
    $schema: DRAFT,
    $id: `${SCHEMA_BASE}scenario.schema.json`,
    title: "tlbrace scenario",
    description:
      "A tlbrace scenario file (scenarios/*.json, --file PATH): see docs/scenario-format.md. Generated by harness/schemas/ from the validator's tables; the validator also checks meaning.",
    ...top,
    definitions: { step },
  };
}
