/**
 * Kernel names as users, scenario files and result files give them. A variant that was renamed
 * (KERNEL_ALIASES in lib/kernels/index.ts) is still found under its old name, with a one-line
 * note on stderr naming the new one, once per old name per process. The built-in scenario files
 * are renamed without a note: the user can do nothing about them.
 */
import { resolveKernelName } from "../lib/kernels/index.js";

const noted = new Set<string>();

/** The variant's name now; an old name gives a note on stderr. Unknown names pass through. */
export function kernelName(name: string, note = true): string {
  const r = resolveKernelName(name);
  if (note && r.note !== undefined && !noted.has(name)) {
    noted.add(name);
    process.stderr.write(`tlbrace: ${r.note}\n`);
  }
  return r.name;
}

const isObj = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/** An object's keys, an old kernel name among them renamed (scenario files' expect maps). */
function renameKeys(m: Record<string, unknown>, note: boolean): Record<string, unknown> {
  return Object.fromEntries(Object.entries(m).map(([k, v]) => [kernelName(k, note), v]));
}

/**
 * A scenario file as JSON.parse returned it, with old kernel names in "kernels", "expect" and
 * "expectOn" renamed; anything not of the expected shape is left for validation to report.
 */
export function renameScenarioKernels(json: unknown, note = true): unknown {
  if (!isObj(json)) return json;
  const o = { ...json };
  const kernels: unknown = o.kernels;
  if (Array.isArray(kernels))
    o.kernels = kernels.map((k: unknown) => (typeof k === "string" ? kernelName(k, note) : k));
  if (isObj(o.expect)) o.expect = renameKeys(o.expect, note);
  if (isObj(o.expectOn))
    o.expectOn = Object.fromEntries(
      Object.entries(o.expectOn).map(([a, m]) => [a, isObj(m) ? renameKeys(m, note) : m]),
    );
  return o;
}

/** Keys whose string values name a kernel in the harness's result files. */
const KERNEL_KEYS = new Set(["kernel", "kernels", "baseline", "variant", "variants"]);

/**
 * A result file (run, matrix, stress, explore, bench) as JSON.parse returned it, with every old
 * kernel name under a kernel-naming key ("kernel", "baseline", "variant", and their plurals)
 * renamed, at any depth.
 */
export function renameResultKernels<T>(data: T): T {
  const walk = (v: unknown, key: string | undefined): unknown => {
    if (typeof v === "string") return key !== undefined && KERNEL_KEYS.has(key) ? kernelName(v) : v;
    if (Array.isArray(v)) return v.map((x) => walk(x, key));
    if (isObj(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x, k)]));
    return v;
  };
  return walk(data, undefined) as T;
}
