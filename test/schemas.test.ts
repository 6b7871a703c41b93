/**
 * The JSON Schemas in schemas/ (docs/schemas.md): the committed files are the generator's
 * output; every scenario file and every reference result validates against its schema with ajv;
 * broken copies do not; the schema never refuses a scenario the validator accepts; fresh
 * results of run, matrix and explore validate too. The result schemas are checked against the
 * TypeScript interfaces at compile time (harness/schemas/build.ts); the last test shows the
 * compiler refusing what it should.
 */
import test from "ava";
import { Ajv, type ValidateFunction } from "ajv";
import fc from "fast-check";
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseScenario } from "../harness/scenarios.js";
import {
  arr,
  enumAll,
  int,
  lit,
  nullable,
  obj,
  older,
  opt,
  str,
} from "../harness/schemas/build.js";
import { renderSchemas, SCHEMAS_DIR } from "../harness/schemas/index.js";
import { RESULT_KINDS, resultKind, schemaFile } from "../harness/schemas/kinds.js";
import { DURATION } from "../harness/schemas/scenario.js";
import { validateScenario } from "../lib/scenarios/validate.js";
import { parseDuration, UsageError } from "../lib/units.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const CLI = fileURLToPath(new URL("../harness/cli.js", import.meta.url));
const SCENARIOS = join(ROOT, "scenarios");
const REFERENCE = join(ROOT, "results", "reference");

const readJson = (path: string): unknown => JSON.parse(readFileSync(path, "utf8"));
const jsonFiles = (dir: string): string[] =>
  readdirSync(dir)
    .filter((f) => f.endsWith(".json"))
    .sort();

// One ajv for every schema, as an editor or a user's CI would load them. strictRequired is off:
// the "then" of an if/then names keys its parent defines.
const ajv = new Ajv({ allErrors: true, strict: true, strictRequired: false });
for (const f of jsonFiles(SCHEMAS_DIR)) ajv.addSchema(readJson(join(SCHEMAS_DIR, f)) as object);

function validator(file: string): ValidateFunction {
  const id = (readJson(join(SCHEMAS_DIR, file)) as { $id: string }).$id;
  const v = ajv.getSchema(id);
  if (v === undefined) throw new Error(`no schema ${file}`);
  return v;
}
const scenarioSchema = validator("scenario.schema.json");
const anyResult = validator("result.schema.json");
const errors = (v: ValidateFunction): string => ajv.errorsText(v.errors);

test("the committed schemas are exactly what the generator writes (npm run schemas)", async (t) => {
  const want = await renderSchemas();
  const have = jsonFiles(SCHEMAS_DIR);
  t.deepEqual(have, [...want.keys()].sort(), "schemas/ holds other files than the generator's");
  for (const [name, text] of want)
    t.is(readFileSync(join(SCHEMAS_DIR, name), "utf8"), text, `${name}: run npm run schemas`);
  t.true(want.has("scenario.schema.json"));
  for (const kind of RESULT_KINDS) t.true(want.has(schemaFile(kind)), kind);
});

test("every scenario file names the schema first and validates against it", (t) => {
  const files = jsonFiles(SCENARIOS);
  t.true(files.length >= 10);
  for (const f of files) {
    const text = readFileSync(join(SCENARIOS, f), "utf8");
    const json = JSON.parse(text) as Record<string, unknown>;
    t.is(Object.keys(json)[0], "$schema", f);
    t.is(json.$schema, "../schemas/scenario.schema.json", f);
    t.true(scenarioSchema(json), `${f}: ${errors(scenarioSchema)}`);
    t.notThrows(() => parseScenario(text, f, true), f);
  }
});

test("the validator accepts $schema (a string) and leaves it out of the scenario", (t) => {
  const text = readFileSync(join(SCENARIOS, "mremap-mkclean.json"), "utf8");
  const spec = parseScenario(text, "seed.json", true);
  t.false(Object.hasOwn(spec, "$schema"));
  // Without the key the scenario is the same: hashes and replay fingerprints do not change.
  const without = JSON.parse(text) as Record<string, unknown>;
  delete without.$schema;
  t.is(JSON.stringify(spec), JSON.stringify(validateScenario(without)));
  const bad = { ...(JSON.parse(text) as object), $schema: 5 };
  t.throws(() => parseScenario(JSON.stringify(bad), "bad.json", true), {
    instanceOf: UsageError,
    message: "bad.json: $schema: expected a string, got 5",
  });
  t.false(scenarioSchema(bad));
});

/** The seed scenario with one change; `path` as "a.b[0].c". */
function seedWith(path: string, value: unknown): Record<string, unknown> {
  const s = readJson(join(SCENARIOS, "mremap-mkclean.json")) as Record<string, unknown>;
  const keys = (path.match(/[^.[\]]+/g) ?? []).map((k) => (/^\d+$/.test(k) ? Number(k) : k));
  let node = s as Record<string | number, unknown>;
  for (const k of keys.slice(0, -1)) node = node[k] as Record<string | number, unknown>;
  const last = keys[keys.length - 1] as string | number;
  if (value === undefined) delete node[last];
  else node[last] = value;
  return s;
}

test("a broken scenario fails the schema, as it fails the validator", (t) => {
  const broken: [string, unknown][] = [
    ["cpus[1].steps[0].op", "mremapp"],
    ["cpus[1].steps[0].pagez", 1],
    ["cpus[0].steps[1].page", "target"], // "$target" is a parameter, "target" nothing
    ["cpus[0].steps[1].value", 1.5],
    ["cpus[0].init[1].access", "write"], // a write needs a value
    ["kernels[1]", "5d1904204c9"],
    ["kernels", ["v4.9-rc4"]],
    ["widen.move_ptes:unlockd", "1us"],
    ["widen.move_ptes:unlocked", "100"], // no unit
    ["window.open", "move_ptes:nowhere"],
    ["outcome[1].values", undefined], // a "value" field lists its values
    ["outcome[0].values", [0]], // a "result" field lists none
    ["params.pages.max", "pages"],
    ["expect", { "v4.9-rc5": "clean" }],
    ["arch", "riscv"],
    ["name", "has space"],
    ["description", ""],
    ["cpus", []],
    ["lostWrite[0].stores", ["w1", "w2", "w3", "w4", "w5", "w6", "w7"]],
    ["descripton", "x"],
    ["name", undefined],
  ];
  for (const [path, value] of broken) {
    const s = seedWith(path, value);
    t.false(scenarioSchema(s), `schema accepted ${path} = ${JSON.stringify(value)}`);
    t.throws(() => parseScenario(JSON.stringify(s), "x.json", true), { instanceOf: UsageError });
  }
});

test("the schema never refuses a scenario the validator accepts (fast-check edits of the seed)", (t) => {
  const values = fc.oneof(
    fc.constantFrom(0, 1, 2, 3, 64, 4096, -1, 1.5, true, false, null, "", "X", "Y", "$pages"),
    fc.constantFrom("$target", "w1", "r", "v4.9", "dirty-after-clear", "move_ptes:locked", "10us"),
    fc.constantFrom("read", "write", "dontneed", "clean", "either", "arm64", [], {}, [0, 1]),
    fc.constantFrom({ op: "reclaim" }, { op: "touch", at: "X", pages: 1, access: "read" }),
  );
  /** Every path of the seed with a value, as [container keys..., key]. */
  const paths: (string | number)[][] = [];
  const walk = (v: unknown, p: (string | number)[]): void => {
    if (p.length > 0) paths.push(p);
    if (Array.isArray(v)) v.forEach((x, i) => walk(x, [...p, i]));
    else if (typeof v === "object" && v !== null)
      for (const [k, x] of Object.entries(v)) walk(x, [...p, k]);
  };
  const seed = readJson(join(SCENARIOS, "mremap-mkclean.json"));
  walk(seed, []);
  let accepted = 0;
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.constantFrom(...paths), fc.option(values, { nil: undefined })), {
        minLength: 1,
        maxLength: 3,
      }),
      (edits) => {
        const s = structuredClone(seed) as Record<string | number, unknown>;
        for (const [p, v] of edits) {
          let node: unknown = s;
          for (const k of p.slice(0, -1)) node = (node as Record<string | number, unknown>)?.[k];
          if (typeof node !== "object" || node === null) continue;
          const c = node as Record<string | number, unknown>;
          const k = p[p.length - 1] as string | number;
          if (v === undefined) delete c[k];
          else c[k] = v;
        }
        let valid = true;
        try {
          parseScenario(JSON.stringify(s), "x.json", true);
        } catch (e) {
          if (!(e instanceof UsageError)) throw e;
          valid = false;
        }
        if (valid) {
          accepted++;
          if (!scenarioSchema(s)) throw new Error(`schema refused: ${errors(scenarioSchema)}`);
        }
      },
    ),
    { numRuns: 400, seed: 14 },
  );
  t.true(accepted > 0, "no edit kept the scenario valid: the property tested nothing");
});

test("a widen delay matches the schema's pattern exactly when parseDuration reads it", (t) => {
  const pattern = new RegExp(DURATION.source, "u");
  const reads = (s: string): boolean => {
    try {
      parseDuration(s, "d");
      return true;
    } catch {
      return false;
    }
  };
  const candidates = fc.oneof(
    fc
      .tuple(
        fc.constantFrom("", " ", "  "),
        fc.stringMatching(/^\d{1,4}(\.\d{1,3})?$/),
        fc.constantFrom("", " ", "\t"),
        fc.constantFrom("ns", "us", "µs", "ms", "s", "m", "h", "", "sec", "US", "min"),
        fc.constantFrom("", " ", "x"),
      )
      .map((p) => p.join("")),
    fc.string({ maxLength: 8 }),
  );
  fc.assert(
    fc.property(candidates, (s) => pattern.test(s) === reads(s)),
    { numRuns: 2000, seed: 14 },
  );
  for (const s of ["100us", "1.5 ms", "2s", "100", "1e3us", "-1us", ".5us"])
    t.is(pattern.test(s), reads(s), s);
});

const references = jsonFiles(REFERENCE);

test("every reference result has a kind its fields tell, and validates against its schema", (t) => {
  t.true(references.length >= 20);
  const seen = new Set<string>();
  for (const f of references) {
    const data = readJson(join(REFERENCE, f));
    const kind = resultKind(data);
    if (kind === undefined) return t.fail(`${f}: no result kind`);
    seen.add(kind);
    const v = validator(schemaFile(kind));
    t.true(v(data), `${f} (${kind}): ${errors(v)}`);
    t.true(anyResult(data), `${f} against result.schema.json: ${errors(anyResult)}`);
  }
  // Every kind a command writes has a reference example (smoke --json writes no file).
  t.deepEqual(
    RESULT_KINDS.filter((k) => !seen.has(k)),
    ["smoke"],
  );
});

/** Every leaf (number, string, boolean) of a JSON value, as a path. */
function leaves(v: unknown, p: (string | number)[] = []): (string | number)[][] {
  if (Array.isArray(v)) return v.flatMap((x, i) => leaves(x, [...p, i]));
  if (typeof v === "object" && v !== null)
    return Object.entries(v).flatMap(([k, x]) => leaves(x, [...p, k]));
  return v === null ? [] : [p];
}

function withLeaf(data: unknown, p: (string | number)[], f: (x: unknown) => unknown): unknown {
  const copy = structuredClone(data);
  let node = copy as Record<string | number, unknown>;
  for (const k of p.slice(0, -1)) node = node[k] as Record<string | number, unknown>;
  const k = p[p.length - 1] as string | number;
  node[k] = f(node[k]);
  return copy;
}

/** A value of another JSON type than x. */
const wrongType = (x: unknown): unknown =>
  typeof x === "number" ? String(x) : typeof x === "string" ? x.length : String(x);

test("a broken copy of every reference result fails: a value of the wrong type, an unknown key, a missing one", (t) => {
  for (const f of references) {
    const data = readJson(join(REFERENCE, f)) as Record<string, unknown>;
    const v = validator(schemaFile(resultKind(data) as (typeof RESULT_KINDS)[number]));
    // Up to 25 leaves spread over the file, each given a value of another type.
    const all = leaves(data);
    const step = Math.max(1, Math.floor(all.length / 25));
    for (let i = 0; i < all.length; i += step) {
      const p = all[i] as (string | number)[];
      const broken = withLeaf(data, p, wrongType);
      t.false(v(broken), `${f}: ${p.join(".")} of the wrong type passed`);
      t.false(anyResult(broken), `${f}: ${p.join(".")} passed result.schema.json`);
    }
    t.false(v({ ...data, unknownKey: 1 }), `${f}: an unknown key passed`);
    const noSchema = { ...data };
    delete noSchema.schema;
    t.false(v(noSchema), `${f}: a result without "schema" passed`);
  }
});

interface Ran {
  status: number | null;
  stderr: string;
}

function tlbrace(cwd: string, ...args: string[]): Promise<Ran> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [CLI, ...args],
      { cwd, encoding: "utf8", timeout: 120_000 },
      (_err, _stdout, stderr) => resolve({ status: child.exitCode, stderr }),
    );
  });
}

test("fresh results of run, matrix and explore validate against their schemas", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "tlbrace-schemas-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const runs: [(typeof RESULT_KINDS)[number], string[]][] = [
    ["run", ["run", "mremap-mkclean", "--trials", "200", "--seed", "3"]],
    [
      "matrix",
      ["matrix", "--scenario", "mremap-mkclean", "--kernel", "v4.9-rc4", "--trials", "100"],
    ],
    ["explore", ["explore", "mremap-mkclean", "--kernel", "v4.9-rc4", "--budget", "300"]],
  ];
  for (const [kind, args] of runs) {
    const out = join(dir, `${kind}.json`);
    const r = await tlbrace(dir, ...args, "--out", out);
    t.true(r.status === 0 || r.status === 1, `${kind}: exit ${r.status}: ${r.stderr}`);
    if (!existsSync(out)) {
      t.fail(`${kind}: no result at --out: ${r.stderr}`);
      continue;
    }
    const data = readJson(out);
    t.is(resultKind(data), kind);
    const v = validator(schemaFile(kind));
    t.true(v(data), `${kind}: ${errors(v)}`);
    t.true(anyResult(data), `${kind}: ${errors(anyResult)}`);
  }
});

test("the result schemas' builder refuses at compile time what the interfaces do not say", (t) => {
  interface A {
    a: string;
    b?: number;
    c: "x" | "y";
    d: number | null;
  }
  const c = enumAll<"x" | "y">()(["x", "y"]);
  const good = obj<A>()({ a: str(), b: opt(int()), c, d: nullable(int()) });
  t.deepEqual(good.required, ["a", "c", "d"]);
  t.deepEqual(obj<A>()({ a: str(), b: opt(int()), c, d: older(nullable(int())) }).required, [
    "a",
    "c",
  ]);
  // Never called: the directives fail the build if the compiler stops refusing these.
  const refused = (): unknown[] => [
    // @ts-expect-error a key of the interface is missing
    obj<A>()({ a: str(), b: opt(int()), c }),
    // @ts-expect-error an optional key given as required
    obj<A>()({ a: str(), b: int(), c, d: nullable(int()) }),
    // @ts-expect-error a required key given as optional
    obj<A>()({ a: opt(str()), b: opt(int()), c, d: nullable(int()) }),
    // @ts-expect-error a key the interface does not have
    obj<A>()({ a: str(), b: opt(int()), c, d: nullable(int()), e: str() }),
    // @ts-expect-error a value of the wrong type
    obj<A>()({ a: int(), b: opt(int()), c, d: nullable(int()) }),
    // @ts-expect-error null allowed by the interface but not by the schema
    obj<A>()({ a: str(), b: opt(int()), c, d: int() }),
    // @ts-expect-error any string where the interface names two
    obj<A>()({ a: str(), b: opt(int()), c: str(), d: nullable(int()) }),
    // @ts-expect-error an enum missing a member of the union
    enumAll<"x" | "y">()(["x"]),
    // @ts-expect-error an array of the wrong items
    obj<{ xs: string[] }>()({ xs: arr(int()) }),
    // @ts-expect-error a literal where the interface says number
    obj<{ n: number }>()({ n: lit(1) }),
    // @ts-expect-error a schema not made by the builders
    obj<{ n: number }>()({ n: { type: "string" } }),
  ];
  t.is(typeof refused, "function");
});
