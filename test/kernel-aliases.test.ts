/**
 * Old kernel names (KERNEL_ALIASES): --kernel, scenario files and result files that name a
 * renamed variant still work, with a one-line note on stderr naming the variant now.
 */
import test from "ava";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { renameResultKernels, renameScenarioKernels } from "../harness/kernel-names.js";
import type { ResultFile } from "../harness/results.js";
import { BUILTIN_DIR } from "../harness/scenarios.js";
import { KERNEL_ALIASES, KERNELS, kernelIndex, resolveKernelName } from "../lib/kernels/index.js";
import { validateScenario } from "../lib/scenarios/validate.js";

const CLI = fileURLToPath(new URL("../harness/cli.js", import.meta.url));

function tlbrace(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8", timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const V49_NOTE =
  'tlbrace: kernel "dirty-after-clear" is now "v4.9" (Aaron Lu\'s dirty-after-clear fix is in Linux 4.9)\n';

test("every old name leads to a variant in KERNELS, and no old name is a variant's name", (t) => {
  for (const [old, { name }] of Object.entries(KERNEL_ALIASES)) {
    t.true(kernelIndex(name) >= 0, `${old} -> ${name}`);
    t.is(kernelIndex(old), -1, old);
  }
  t.deepEqual(KERNEL_ALIASES["dirty-after-clear"]?.name, "v4.9");
  t.deepEqual(KERNEL_ALIASES["latency-limit-pmd"]?.name, "remove-latency-limit");
});

test("resolveKernelName: an old name gives the new one and a note; others pass as they are", (t) => {
  t.deepEqual(resolveKernelName("dirty-after-clear"), {
    name: "v4.9",
    note: V49_NOTE.slice("tlbrace: ".length, -1),
  });
  const r = resolveKernelName("latency-limit-pmd");
  t.is(r.name, "remove-latency-limit");
  t.regex(r.note ?? "", /^kernel "latency-limit-pmd" is now "remove-latency-limit" \(/);
  for (const k of KERNELS) t.deepEqual(resolveKernelName(k.name), { name: k.name });
  t.deepEqual(resolveKernelName("v9"), { name: "v9" });
  t.deepEqual(resolveKernelName("toString"), { name: "toString" }, "no inherited keys");
});

/** mremap-dirty-window.json with the old name for its fixed kernel, in kernels and expect. */
function oldDirtyWindow(): Record<string, unknown> {
  const json = JSON.parse(
    readFileSync(join(BUILTIN_DIR, "mremap-dirty-window.json"), "utf8"),
  ) as Record<string, unknown>;
  return {
    ...json,
    name: "old-names",
    kernels: ["5d1904204c99", "dirty-after-clear"],
    expect: { "latency-limit-pmd": "clean" },
    expectOn: {
      x86: { "v4.9-rc4": "clean", "5d1904204c99": "clean", "dirty-after-clear": "clean" },
    },
  };
}

test("a scenario naming old kernels validates, under the names now", (t) => {
  t.throws(() => validateScenario(oldDirtyWindow()), { message: /kernels\[1\]/ });
  const s = validateScenario(renameScenarioKernels(oldDirtyWindow(), false));
  t.deepEqual(s.kernels, ["5d1904204c99", "v4.9"]);
  t.deepEqual(s.expect, { "remove-latency-limit": "clean" });
  t.deepEqual(Object.keys(s.expectOn?.x86 ?? {}), ["v4.9-rc4", "5d1904204c99", "v4.9"]);
});

test("a result file naming old kernels reads under the names now", (t) => {
  const old = {
    schema: 1,
    runs: [
      { kernel: "dirty-after-clear", commit: "dirty-after-clear", trials: 3 },
      { kernel: "eb66ae030829", commit: "eb66ae030829", trials: 4 },
    ],
    cells: [{ scenario: "mremap-dirty-window", kernel: "latency-limit-pmd" }],
    options: { baseline: "v4.9-rc4", variants: ["latency-limit-pmd", "5d1904204c99"] },
    description: "dirty-after-clear", // not a kernel-naming key: left alone
  };
  const written: string[] = [];
  const write = process.stderr.write.bind(process.stderr);
  process.stderr.write = (chunk: string | Uint8Array): boolean => written.push(String(chunk)) > 0;
  let r: typeof old;
  try {
    r = renameResultKernels(old);
  } finally {
    process.stderr.write = write;
  }
  t.deepEqual(written, [
    V49_NOTE,
    `tlbrace: ${resolveKernelName("latency-limit-pmd").note ?? ""}\n`,
  ]);
  t.deepEqual(
    r.runs.map((x) => x.kernel),
    ["v4.9", "eb66ae030829"],
  );
  t.is(r.runs[0]?.commit, "dirty-after-clear", "the commit field says what was run then");
  t.is(r.cells[0]?.kernel, "remove-latency-limit");
  t.deepEqual(r.options.variants, ["remove-latency-limit", "5d1904204c99"]);
  t.is(r.description, "dirty-after-clear");
  t.is(old.runs[0]?.kernel, "dirty-after-clear", "the data read is not changed in place");
});

const dir = mkdtempSync(join(tmpdir(), "tlbrace-aliases-"));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

test("CLI: run --kernel dirty-after-clear notes the new name once and runs v4.9", (t) => {
  const out = join(dir, "run.json");
  const r = tlbrace(
    "run",
    "mremap-mkclean",
    "--kernel",
    "dirty-after-clear",
    "--kernel",
    "dirty-after-clear",
    "--trials",
    "200",
    "--seed",
    "1",
    "--json",
    "--out",
    out,
  );
  t.is(r.status, 0, r.stderr);
  t.is(
    r.stderr
      .split("\n")
      .filter((l) => l.includes("dirty-after-clear"))
      .join("\n") + "\n",
    V49_NOTE,
  );
  const res = JSON.parse(r.stdout) as ResultFile;
  t.deepEqual(
    res.runs.map((x) => x.kernel),
    ["v4.9"],
  );
  t.is(res.runs[0]?.commit, "v4.9");
  t.true((res.runs[0]?.trials ?? 0) > 0);
});

test("CLI: list --file of a scenario naming old kernels notes each and lists it", (t) => {
  const path = join(dir, "old-names.json");
  writeFileSync(path, JSON.stringify(oldDirtyWindow(), null, 2));
  const r = tlbrace("list", "--file", path);
  t.is(r.status, 0, r.stderr);
  const notes = r.stderr.split("\n").filter((l) => l !== "");
  t.deepEqual(notes.sort(), [
    V49_NOTE.slice(0, -1),
    resolveKernelName("latency-limit-pmd").note?.replace(/^/, "tlbrace: "),
  ]);
  t.regex(r.stdout, /^\s+old-names\s.*5d1904204c99 vs v4\.9/m);
  t.regex(
    r.stdout,
    /remove-latency-limit\s+mmotm 2018-06-14 \(no hash\)\s+mremap: Remove LATENCY_LIMIT/,
  );
  t.regex(
    r.stdout,
    /Old names: dirty-after-clear is now v4\.9; latency-limit-pmd is now remove-latency-limit/,
  );
});

test("CLI: an unknown kernel is still an error naming the valid ones, the new names among them", (t) => {
  const r = tlbrace("run", "mremap-mkclean", "--kernel", "v9");
  t.is(r.status, 2);
  t.regex(
    r.stderr,
    /unknown kernel "v9" \(valid: .*v4\.9, 3ea277194daa, remove-latency-limit, eb66ae030829/,
  );
});
