/**
 * Users' scenario files (`--file PATH`): every kind of bad file gets one clear line naming the
 * file, the place inside it and what was expected (exit 2); a good file lists and runs; the
 * range forms (populate, touch, fadvise's range) do on a machine what they say; and the loader,
 * fuzzed with fast-check, never fails any other way.
 */
import test from "ava";
import fc from "fast-check";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { loadScenarioFile, parseScenario } from "../harness/scenarios.js";
import { PAGE_SIZE, ZERO_PFN } from "../lib/machine/layout.js";
import { run_program } from "../lib/machine/program.js";
import { SIGSEGV } from "../lib/mm/fault.js";
import { sys_mmap } from "../lib/mm/mmap.js";
import { PageDirty } from "../lib/mm/page_flags.js";
import { user_touch } from "../lib/mmu/access.js";
import { pte_dirty, pte_pfn, pte_present, pte_write } from "../lib/mmu/pgtable.js";
import { TLB_DIRTY, TLB_WRITE, tlb_lookup } from "../lib/mmu/tlb.js";
import { compile } from "../lib/scenarios/compile.js";
import {
  IMG_CODE,
  IMG_CPU_TABLE,
  IMG_FILE_PAGES,
  INSN_WORDS,
  OP_FADVISE_DONTNEED,
  OP_MMAP,
  OP_TOUCH,
} from "../lib/scenarios/image.js";
import { UsageError } from "../lib/units.js";
import { solo, type Solo } from "./helpers/solo.js";

const CLI = fileURLToPath(new URL("../harness/cli.js", import.meta.url));
const SEED_FILE = fileURLToPath(new URL("../../scenarios/mremap-mkclean.json", import.meta.url));
const SEED_TEXT = readFileSync(SEED_FILE, "utf8");
const SEED = JSON.parse(SEED_TEXT) as unknown;

const dir = mkdtempSync(join(tmpdir(), "tlbrace-scenario-files-"));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

interface Ran {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Run the CLI without blocking, so that the (non-serial) CLI tests overlap. */
function tlbrace(...args: string[]): Promise<Ran> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [CLI, ...args],
      { encoding: "utf8", timeout: 120_000 },
      (_err, stdout, stderr) => resolve({ status: child.exitCode, stdout, stderr }),
    );
  });
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

// ---------------------------------------------------------------------------------------------
// Building bad files: edits of a deep copy of the seed scenario, at paths written the way the
// validator names them ("cpus[0].steps[3].op").

type Path = (string | number)[];

function parsePath(path: string): Path {
  return (path.match(/[^.[\]]+/g) ?? []).map((k) => (/^\d+$/.test(k) ? Number(k) : k));
}

function container(root: unknown, path: Path): Record<string | number, unknown> {
  let node = root;
  for (const k of path) node = (node as Record<string | number, unknown>)[k];
  if (typeof node !== "object" || node === null) throw new Error(`no container at ${String(path)}`);
  return node as Record<string | number, unknown>;
}

/** Set the value at path (creating an own key, even "__proto__"). */
function setAt(root: unknown, path: Path, value: unknown): void {
  const key = path[path.length - 1] as string | number;
  Object.defineProperty(container(root, path.slice(0, -1)), key, {
    value,
    enumerable: true,
    writable: true,
    configurable: true,
  });
}

function deleteAt(root: unknown, path: Path): void {
  const key = path[path.length - 1] as string | number;
  const c = container(root, path.slice(0, -1));
  if (Array.isArray(c)) c.splice(key as number, 1);
  else delete c[key];
}

type Edit = { set: string; to: unknown } | { delete: string };

/** The seed scenario with these edits, as the text of a file. */
function edited(...edits: Edit[]): string {
  const s = structuredClone(SEED);
  for (const e of edits) {
    if ("set" in e) setAt(s, parsePath(e.set), e.to);
    else deleteAt(s, parsePath(e.delete));
  }
  return JSON.stringify(s, null, 2);
}

// ---------------------------------------------------------------------------------------------
// Bad files. Each message is checked in-process (parseScenario); those marked `cli` also through
// `tlbrace run --file`, for the exit status and the one line on stderr.

interface Case {
  title: string;
  text: string;
  message: RegExp;
  cli?: true;
}

const cases: Case[] = [
  {
    title: "window: an unknown point",
    text: edited({ set: "window.open", to: "move_ptes:nowhere" }),
    message: /: window\.open: expected one of move_ptes:locked, .*, got "move_ptes:nowhere"$/,
    cli: true,
  },
  {
    title: "window: the racing step on the window's own CPU",
    text: edited({ set: "window.race.cpu", to: 1 }),
    message: /: window\.race\.cpu: expected another CPU than the window's \(1\), got 1$/,
  },
  {
    title: "window: a racing step past the CPU's steps",
    text: edited({ set: "window.race.step", to: 6 }),
    message: /: window\.race\.step: expected an integer from 0 to 5, got 6$/,
  },
  {
    title: "window: a CPU the scenario does not have",
    text: edited({ set: "window.cpu", to: 2 }),
    message: /: window\.cpu: expected a CPU of this scenario \(0\.\.1\), got 2$/,
  },
  {
    title: "window: a key it does not take",
    text: edited({ set: "window.width", to: 3 }),
    message:
      /: window\.width: expected no such key \(allowed: cpu, open, close, race, aim, why\), got 3$/,
  },
  {
    title: "natural: an undeclared parameter",
    text: edited({ set: "natural.size", to: 3 }),
    message: /: natural\.size: expected no such key \(allowed: pages, target\), got 3$/,
  },
  {
    title: "natural: parameters out of range",
    text: edited({ set: "natural.pages", to: 99999 }),
    message: /natural: pages must be an integer from 1 to 4096, got 99999$/,
  },
  {
    title: "bad JSON (a trailing comma)",
    text: SEED_TEXT.replace(/"100us"\n/, '"100us",\n'),
    message: /not valid JSON: .*position \d+/,
    cli: true,
  },
  {
    title: "empty file",
    text: "",
    message: /not valid JSON: Unexpected end of JSON input$/,
    cli: true,
  },
  {
    title: "top level is an array",
    text: "[]",
    message: /\(top level\): expected an object, got \[\]$/,
    cli: true,
  },
  {
    title: "top level is a string",
    text: '"mremap-mkclean"',
    message: /\(top level\): expected an object, got "mremap-mkclean"$/,
  },
  {
    title: "top level is null",
    text: "null",
    message: /\(top level\): expected an object, got null$/,
  },
  {
    title: "missing required key: cpus[0].steps",
    text: edited({ delete: "cpus[0].steps" }),
    message: /: cpus\[0\]\.steps: expected a value \(required\), got nothing$/,
    cli: true,
  },
  {
    title: "missing required key: kernels",
    text: edited({ delete: "kernels" }),
    message: /: kernels: expected a value \(required\), got nothing$/,
  },
  {
    title: "missing required key of a step",
    text: edited({ delete: "cpus[1].steps[0].to" }),
    message: /: cpus\[1\]\.steps\[0\]\.to: expected a value \(required\), got nothing$/,
  },
  {
    title: "unknown top-level key (a typo)",
    text: edited({ set: "descripton", to: "x" }),
    message: /: descripton: expected no such key \(allowed: name, description, .*\), got "x"$/,
  },
  {
    title: "unknown key of a step",
    text: edited({ set: "cpus[1].steps[0].pagez", to: 1 }),
    message:
      /: cpus\[1\]\.steps\[0\]\.pagez: expected no such key \(allowed: op, from, to, pages\)/,
  },
  {
    title: "unknown op",
    text: edited({ set: "cpus[0].steps[3].op", to: "munmapp" }),
    message:
      /: cpus\[0\]\.steps\[3\]\.op: expected one of mmap, .*munmap, mremap, .*, got "munmapp"$/,
    cli: true,
  },
  {
    title: "a step that is not an object",
    text: edited({ set: "cpus[0].steps[0]", to: "fadvise" }),
    message: /: cpus\[0\]\.steps\[0\]: expected a step object, got "fadvise"$/,
  },
  {
    title: "string where a number is expected (outcome cpu)",
    text: edited({ set: "outcome[0].cpu", to: "0" }),
    message: /: outcome\[0\]\.cpu: expected an integer from 0 to \d+, got "0"$/,
    cli: true,
  },
  {
    title: "string where a number is expected (store value)",
    text: edited({ set: "cpus[0].init[2].value", to: "1" }),
    message: /: cpus\[0\]\.init\[2\]\.value: expected a number or "\$param", got "1"$/,
  },
  {
    title: "fraction where an integer is expected",
    text: edited({ set: "params.pages.default", to: 1.5 }),
    message: /: params\.pages\.default: expected an integer from 1 to \d+, got 1\.5$/,
  },
  {
    title: "number where a register name is expected",
    text: edited({ set: "cpus[0].steps[1].result", to: 2 }),
    message: /: cpus\[0\]\.steps\[1\]\.result: expected a register name, got 2$/,
  },
  {
    title: "region that does not exist",
    text: edited({ set: "cpus[1].steps[0].to", to: "Z" }),
    message: /: cpus\[1\]\.steps\[0\]\.to: expected one of X, Y, got "Z"$/,
  },
  {
    title: "outcome on CPU 5 of 2",
    text: edited({ set: "outcome[0].cpu", to: 5 }),
    message: /: outcome\[0\]\.cpu: expected a CPU of this scenario \(0\.\.1\), got 5$/,
  },
  {
    title: "lostWrite on CPU 5 of 2",
    text: edited({ set: "lostWrite[0].cpu", to: 5 }),
    message: /: lostWrite\[0\]\.cpu: expected an integer from 0 to 1, got 5$/,
    cli: true,
  },
  {
    title: "outcome register that no step sets",
    text: edited({ set: "outcome[1].reg", to: "rr" }),
    message: /: outcome\[1\]\.reg: expected a register that CPU 0 sets \(w1, w2, r\), got "rr"$/,
  },
  {
    title: "outcome register set only on another CPU",
    text: edited({ set: "outcome[0].cpu", to: 1 }),
    message: /: outcome\[0\]\.reg: expected a register that CPU 1 sets \(none\), got "w2"$/,
  },
  {
    title: "lostWrite store register that no step sets",
    text: edited({ set: "lostWrite[0].stores[1]", to: "w3" }),
    message: /: lostWrite\[0\]\.stores\[1\]: expected a register that CPU 0 sets .*, got "w3"$/,
  },
  {
    title: "lostWrite store register set by a load, not a store",
    text: edited(
      { set: "cpus[0].steps[6]", to: { op: "load", at: "Y", page: 0, into: "l" } },
      { set: "lostWrite[0].stores[2]", to: "l" },
    ),
    message:
      /: with default parameters: lostWrite\[0\]\.stores\[2\]: expected a store's result register, got "l"$/,
  },
  {
    title: "wait that can never be signalled",
    text: edited({ set: "cpus[0].steps[2].flag", to: "mremap-dun" }),
    message:
      /: cpus\[0\]\.steps\[2\]\.flag: expected a flag some CPU signals \(this wait could never end; signalled: mremap-done\), got "mremap-dun"$/,
    cli: true,
  },
  {
    title: "unknown kernel",
    text: edited({ set: "kernels[1]", to: "v5.0" }),
    message: /: kernels\[1\]: expected one of .*5d1904204c99.*, got "v5\.0"$/,
  },
  {
    title: "one kernel instead of a pair",
    text: edited({ set: "kernels", to: ["v4.9-rc4"] }),
    message: /: kernels: expected \[buggy kernel, fixed kernel\], got \["v4\.9-rc4"\]$/,
  },
  {
    title: "unknown widen point",
    text: edited(
      { delete: "widen.move_ptes:unlocked" },
      { set: "widen.move_ptes:unlockd", to: "1us" },
    ),
    message:
      /: widen\.move_ptes:unlockd: expected no such key \(allowed: move_ptes:locked, .*move_ptes:unlocked.*\), got "1us"$/,
  },
  {
    title: "malformed widen duration",
    text: edited({ set: "widen.move_ptes:unlocked", to: "100 parsecs" }),
    message: /: widen\.move_ptes:unlocked: expected a duration such as 100us, got "100 parsecs"$/,
  },
  {
    title: "widen duration that is a number",
    text: edited({ set: "widen.move_ptes:unlocked", to: 100 }),
    message: /: widen\.move_ptes:unlocked: expected a string, got 100$/,
  },
  {
    title: "widen duration beyond --delay's 60s",
    text: edited({ set: "widen.move_ptes:unlocked", to: "2h" }),
    message: /: widen\.move_ptes:unlocked: expected a duration of at most 60s, got "2h"$/,
  },
  {
    title: "reference to an undeclared parameter",
    text: edited({ set: "cpus[0].init[2].page", to: "$tagret" }),
    message:
      /: cpus\[0\]\.init\[2\]\.page: expected a number or a declared parameter \(\$pages, \$target\), got "\$tagret"$/,
  },
  {
    title: "parameter max naming an undeclared parameter",
    text: edited({ set: "params.target.max", to: "$page" }),
    message: /: params\.target\.max: expected a number or "\$param", got "\$page"$/,
  },
  {
    title: 'parameter max naming an Object.prototype member ("$constructor")',
    text: edited({ set: "params.target.max", to: "$constructor" }),
    message: /: params\.target\.max: expected a number or "\$param", got "\$constructor"$/,
  },
  {
    title: "parameter named __proto__",
    text: edited({
      set: "params.__proto__",
      to: { description: "x", default: 1, min: 0, max: 5 },
    }),
    message: /: params\.__proto__: expected a parameter name of letters, digits and '_'/,
  },
  {
    title: "more pages than the machine's file (default 5000 > 4096)",
    text: edited(
      { set: "params.pages.max", to: 100000 },
      { set: "params.pages.default", to: 5000 },
    ),
    message:
      /: with default parameters: pages must be an integer from 1 to 4096 \(the machine's file\), got 5000$/,
    cli: true,
  },
  {
    title: "default outside the parameter's own range",
    text: edited({ set: "params.target.default", to: 1 }),
    message: /: with default parameters: target must be an integer from 0 to 0, got 1$/,
  },
  {
    title: "mapping larger than its region",
    text: edited({ set: "cpus[0].init[0].pages", to: 3000 }),
    message:
      /: with default parameters: cpus\[0\]\.init\[0\]\.pages: expected 1 to 1 \(the region\), got 3000$/,
  },
  {
    title: "mapping of a negative length",
    text: edited({ set: "cpus[1].steps[0].pages", to: -3 }),
    message:
      /: with default parameters: cpus\[1\]\.steps\[0\]\.pages: expected 1 to 1 \(the region\), got -3$/,
  },
  {
    title: "store to a page outside the region",
    text: edited({ set: "cpus[0].steps[1].page", to: 7 }),
    message: /: with default parameters: cpus\[0\]\.steps\[1\]: page 7 outside the 1-page region$/,
  },
  {
    title: "two outcome fields with one name",
    text: edited({ set: "outcome[2]", to: { name: "write2", cpu: 0, reg: "w1", kind: "result" } }),
    message: /: outcome\[2\]\.name: expected a field name not used before, got "write2"$/,
  },
  {
    title: "an outcome value listed twice",
    text: edited({ set: "outcome[1].values", to: [0, 1, 1] }),
    message: /: outcome\[1\]\.values\[2\]: expected a value not listed before, got 1$/,
  },
  {
    title: "forbidden label the field can never take",
    text: edited({ set: "forbidden[0].write2", to: "OK" }),
    message: /: forbidden\[0\]\.write2: expected one of ok, SIGSEGV, SIGBUS, got "OK"$/,
  },
  {
    title: "forbidden value not in the field's values",
    text: edited({ set: "forbidden[0].readback", to: 7 }),
    message: /: forbidden\[0\]\.readback: expected one of 0, 1, 2, other, got 7$/,
  },
  {
    title: "forbidden names an unknown field",
    text: edited({ set: "forbidden[0].write3", to: "ok" }),
    message:
      /: forbidden\[0\]\.write3: expected an outcome field \(write2, readback\), got "write3"$/,
  },
  {
    title: "a key with a newline is quoted (the message stays on one line)",
    text: edited({ set: "cpus[0].bad\nkey", to: 1 }),
    message:
      /: cpus\[0\]\["bad\\nkey"\]: expected no such key \(allowed: name, steps, init\), got 1$/,
  },
  {
    title: "no CPUs",
    text: edited({ set: "cpus", to: [] }),
    message: /: cpus: expected at least one CPU, got \[\]$/,
  },
  {
    title: "more than 32 CPUs",
    text: edited({ set: "cpus", to: Array.from({ length: 33 }, () => ({ name: "x", steps: [] })) }),
    message: /: cpus: expected at most 32 entries, got "33 entries"$/,
  },
  // The range forms. In the seed, cpus[0].init[1] is the touch of the whole mapping and
  // cpus[0].steps[0] and steps[4] are fadvise of the target page.
  {
    title: "touch of an empty range (pages: 0)",
    text: edited({ set: "cpus[0].init[1].pages", to: 0 }),
    message:
      /: with default parameters: cpus\[0\]\.init\[1\]\.pages: expected 1 to 1 \(the 1-page region from page 0 on\), got 0$/,
    cli: true,
  },
  {
    title: "touch running past the end of its region",
    text: edited({ set: "cpus[0].init[1].pages", to: 2 }),
    message:
      /: with default parameters: cpus\[0\]\.init\[1\]\.pages: expected 1 to 1 \(the 1-page region from page 0 on\), got 2$/,
  },
  {
    title: "touch of a negative number of pages",
    text: edited({ set: "cpus[0].init[1].pages", to: -1 }),
    message: /: with default parameters: cpus\[0\]\.init\[1\]\.pages: expected 1 to 1 .*, got -1$/,
  },
  {
    title: "touch starting past the end of its region",
    text: edited({ set: "cpus[0].init[1].page", to: 1 }),
    message: /: with default parameters: cpus\[0\]\.init\[1\]: page 1 outside the 1-page region$/,
  },
  {
    title: "touch without pages",
    text: edited({ delete: "cpus[0].init[1].pages" }),
    message: /: cpus\[0\]\.init\[1\]\.pages: expected a value \(required\), got nothing$/,
  },
  {
    title: "touch with an access that is neither read nor write",
    text: edited({ set: "cpus[0].init[1].access", to: "modify" }),
    message: /: cpus\[0\]\.init\[1\]\.access: expected one of read, write, got "modify"$/,
  },
  {
    title: "touch write without a value",
    text: edited({ set: "cpus[0].init[1].access", to: "write" }),
    message:
      /: cpus\[0\]\.init\[1\]\.value: expected a value \(required for a write\), got nothing$/,
    cli: true,
  },
  {
    title: "touch read with a value",
    text: edited({ set: "cpus[0].init[1].value", to: 3 }),
    message: /: cpus\[0\]\.init\[1\]\.value: expected nothing \(a read writes no value\), got 3$/,
  },
  {
    title: "touch pages naming an undeclared parameter",
    text: edited({ set: "cpus[0].init[1].pages", to: "$npages" }),
    message:
      /: cpus\[0\]\.init\[1\]\.pages: expected a number or a declared parameter \(\$pages, \$target\), got "\$npages"$/,
  },
  {
    title: "touch page that is not a number",
    text: edited({ set: "cpus[0].init[1].page", to: "first" }),
    message: /: cpus\[0\]\.init\[1\]\.page: expected a number or "\$param", got "first"$/,
  },
  {
    title: "touch with a key it does not take (result)",
    text: edited({ set: "cpus[0].init[1].result", to: "t" }),
    message:
      /: cpus\[0\]\.init\[1\]\.result: expected no such key \(allowed: op, at, pages, access, page, value\), got "t"$/,
  },
  {
    title: "populate that is not true or false",
    text: edited({ set: "cpus[0].init[0].populate", to: "yes" }),
    message: /: cpus\[0\]\.init\[0\]\.populate: expected true or false, got "yes"$/,
    cli: true,
  },
  {
    title: "populate on an op that does not take it (munmap)",
    text: edited({ set: "cpus[0].steps[3].populate", to: true }),
    message:
      /: cpus\[0\]\.steps\[3\]\.populate: expected no such key \(allowed: op, at, pages\), got true$/,
  },
  {
    title: "fadvise of a page past the end of the file",
    text: edited({ set: "cpus[0].steps[0].page", to: 1 }),
    message:
      /: with default parameters: cpus\[0\]\.steps\[0\]\.page: expected 0 to 0 \(a page of the 1-page file\), got 1$/,
    cli: true,
  },
  {
    title: "fadvise of a range running past the end of the file",
    text: edited({ set: "cpus[0].steps[4].pages", to: 2 }),
    message:
      /: with default parameters: cpus\[0\]\.steps\[4\]\.pages: expected 0 \(to the end of the file\) or 1 to 1 \(page 0 to the end of the 1-page file\), got 2$/,
  },
  {
    title: "fadvise of a negative number of pages",
    text: edited({ set: "cpus[0].steps[0].pages", to: -1 }),
    message: /: with default parameters: cpus\[0\]\.steps\[0\]\.pages: expected 0 .*, got -1$/,
  },
  {
    title: "fadvise page that is not a number",
    text: edited({ set: "cpus[0].steps[0].page", to: true }),
    message: /: cpus\[0\]\.steps\[0\]\.page: expected a number or "\$param", got true$/,
  },
  {
    title: "fadvise with a length in bytes (a key it does not take)",
    text: edited({ set: "cpus[0].steps[0].len", to: 4096 }),
    message:
      /: cpus\[0\]\.steps\[0\]\.len: expected no such key \(allowed: op, advice, page, pages\), got 4096$/,
  },
  {
    title: "more than 64 steps on one CPU",
    text: edited({
      set: "cpus[1].steps",
      to: Array.from({ length: 65 }, () => ({ op: "reclaim" })),
    }),
    message: /: cpus\[1\]\.steps: expected at most 64 entries, got "65 entries"$/,
  },
  {
    title: "more than 16 registers on one CPU",
    // w1, w2 and r, then 14 loads of registers of their own: the last is the 17th.
    text: edited(
      ...Array.from({ length: 14 }, (_, i) => ({
        set: `cpus[0].steps[${6 + i}]`,
        to: { op: "load", at: "Y", page: 0, into: `l${i}` },
      })),
    ),
    message: /: with default parameters: cpus\[0\]\.steps\[19\]: more than 16 registers$/,
  },
];

cases.forEach((c, i) => {
  const path = join(dir, `case-${String(i).padStart(2, "0")}.json`);
  writeFileSync(path, c.text);
  const whole = new RegExp(`^${escape(path)}: ${c.message.source.replace(/^: /, "")}`);

  test(`bad file: ${c.title}`, (t) => {
    const e = t.throws(() => parseScenario(c.text, path), { instanceOf: UsageError });
    t.regex(e?.message ?? "", whole);
    t.false(e?.message.includes("\n"), "one line");
    // The same through the file.
    t.throws(() => loadScenarioFile(path), { instanceOf: UsageError, message: whole });
  });

  if (c.cli) {
    test(`bad file, CLI: ${c.title} -> one line, exit 2`, async (t) => {
      const r = await tlbrace("run", "--file", path, "--trials", "10");
      t.is(r.status, 2, r.stderr);
      t.is(r.stdout, "");
      t.regex(r.stderr, /^tlbrace: [^\n]*\n$/, "exactly one line, no stack trace");
      t.regex(r.stderr.replace(/^tlbrace: /, "").trimEnd(), whole);
    });
  }
});

test("bad file, CLI: a file that does not exist -> one line, exit 2", async (t) => {
  const path = join(dir, "does-not-exist.json");
  t.throws(() => loadScenarioFile(path), {
    instanceOf: UsageError,
    message: `${path}: cannot read: ENOENT`,
  });
  const r = await tlbrace("run", "--file", path);
  t.is(r.status, 2);
  t.is(r.stdout, "");
  t.is(r.stderr, `tlbrace: ${path}: cannot read: ENOENT\n`);
});

test("bad file, CLI: list --file names the bad file too -> one line, exit 2", async (t) => {
  const path = join(dir, "list-bad.json");
  writeFileSync(path, edited({ set: "kernels[0]", to: "v9" }));
  const r = await tlbrace("list", "--file", path);
  t.is(r.status, 2);
  t.is(r.stdout, "");
  t.regex(
    r.stderr,
    new RegExp(`^tlbrace: ${escape(path)}: kernels\\[0\\]: expected one of .*, got "v9"\\n$`),
  );
});

test("bad JSON: an unexpected token in a multi-line file still gives one line", (t) => {
  const text = SEED_TEXT.replace('"default": 1,', '"default": one,');
  const e = t.throws(() => parseScenario(text, "tok.json"), { instanceOf: UsageError });
  t.regex(e?.message ?? "", /^tok\.json: not valid JSON: /);
  t.false(e?.message.includes("\n"), `one line: ${JSON.stringify(e?.message)}`);
});

// ---------------------------------------------------------------------------------------------
// A good file of the user's own.

const validPath = join(dir, "my-race.json");
writeFileSync(validPath, edited({ set: "name", to: "my-race" }));

test("list --file lists the user's scenario beside the built-in ones", async (t) => {
  const r = await tlbrace("list", "--file", validPath);
  t.is(r.status, 0, r.stderr);
  t.is(r.stderr, "");
  const line = r.stdout.split("\n").find((l) => /^\s+my-race\s/.test(l));
  t.truthy(line, r.stdout);
  t.true(line?.includes(validPath));
  t.regex(line ?? "", /2 CPUs\s+x86\s+v4\.9-rc4 vs 5d1904204c99/);
  t.regex(r.stdout, /^\s+mremap-mkclean\s+built-in/m);
});

test.serial("run --file of a valid file runs it under its own name", async (t) => {
  const out = join(dir, "my-race-result.json");
  const r = await tlbrace(
    "run",
    "--file",
    validPath,
    "--trials",
    "200",
    "--seed",
    "1",
    "--json",
    "--out",
    out,
  );
  t.is(r.status, 0, r.stderr);
  const printed = JSON.parse(r.stdout) as {
    scenario: string;
    seed: number;
    runs: { kernel: string; trials: number }[];
  };
  t.is(printed.scenario, "my-race");
  t.is(printed.seed, 1);
  t.deepEqual(
    printed.runs.map((x) => [x.kernel, x.trials]),
    [
      ["v4.9-rc4", 200],
      ["5d1904204c99", 200],
    ],
  );
  t.deepEqual(JSON.parse(readFileSync(out, "utf8")), printed);
});

// ---------------------------------------------------------------------------------------------
// The range forms on a machine: a one-CPU scenario file of the user's own, validated and
// compiled as any file is, its program run on a fresh machine (test/helpers/solo.ts).

/** A one-CPU scenario file with these steps, over a file of `pages` pages. */
function oneCpu(init: unknown[], steps: unknown[] = [], pages = 4): string {
  return JSON.stringify({
    name: "forms",
    description: "the range forms",
    source: "test",
    kernels: ["v4.9-rc4", "5d1904204c99"],
    params: {
      pages: { description: "pages", default: pages, min: 1, max: 64 },
      target: { description: "a page", default: 0, min: 0, max: "$pages" },
    },
    cpus: [{ name: "thread 1", init, steps }],
    outcome: [],
    forbidden: [],
    lostWrite: [],
    widen: {},
  });
}

type OnMachine = Solo & { image: Int32Array };

/** Load, compile and run CPU 0's program (init, then steps) on a fresh one-CPU machine. */
function runOneCpu(text: string, params: Record<string, number> = {}): OnMachine {
  const { image } = compile(parseScenario(text, "forms.json"), params);
  const pages = image[IMG_FILE_PAGES] as number;
  const m = solo(pages);
  m.mem.set(image, m.L.program);
  const t = IMG_CPU_TABLE;
  run_program(m.cpu, image[t] as number, image[t + 1] as number);
  run_program(m.cpu, image[t + 2] as number, image[t + 3] as number);
  return { ...m, image };
}

const pageAt = (m: Solo, i: number): number => m.X + i * PAGE_SIZE;
const tlbOf = (m: Solo, i: number): number => tlb_lookup(m.cpu, pageAt(m, i) / PAGE_SIZE);

test("mmap populate: every page faulted in with a clean, write-protected PTE, no TLB entry", (t) => {
  const m = runOneCpu(oneCpu([{ op: "mmap", at: "X", pages: "$pages", populate: true }]));
  t.is(m.image[IMG_CODE] as number, OP_MMAP);
  t.is(m.image[IMG_CODE + 4] as number, 1, "MAP_POPULATE in the instruction's word d");
  for (let i = 0; i < 4; i++) {
    const pte = m.pte(pageAt(m, i));
    t.true(pte_present(pte), `page ${i} populated`);
    t.false(pte_dirty(pte), `page ${i}: a read fault (shared mapping: no FOLL_WRITE)`);
    t.false(pte_write(pte), `page ${i}: write-protected for write-notify`);
    t.is(pte_pfn(pte), m.cached(i), `page ${i} maps the cached file page`);
    t.false(PageDirty(m.cpu, pte_pfn(pte)));
    t.is(tlbOf(m, i), 0, `page ${i}: get_user_pages fills no TLB`);
  }
});

test("mmap without populate maps nothing until a page is touched", (t) => {
  const m = runOneCpu(oneCpu([{ op: "mmap", at: "X", pages: "$pages", populate: false }]));
  t.is(m.image[IMG_CODE + 4] as number, 0);
  for (let i = 0; i < 4; i++) t.is(m.pte(pageAt(m, i)), 0, `page ${i}`);
});

test("mmap_anon populate: write faults on a private mapping, fresh dirty pages, no TLB entry", (t) => {
  const m = runOneCpu(oneCpu([{ op: "mmap_anon", at: "X", pages: 3, populate: true }]));
  const pfns = new Set<number>();
  for (let i = 0; i < 3; i++) {
    const pte = m.pte(pageAt(m, i));
    t.true(pte_present(pte) && pte_write(pte) && pte_dirty(pte), `page ${i}: ${pte.toString(16)}`);
    t.not(pte_pfn(pte), ZERO_PFN, `page ${i}: COW broken, not the zero page`);
    pfns.add(pte_pfn(pte));
    t.is(tlbOf(m, i), 0, `page ${i}`);
  }
  t.is(pfns.size, 3, "a page of its own each");
  t.is(m.pte(pageAt(m, 3)), 0, "nothing past the mapping");
});

test("touch read: every page of the range read through the MMU, TLB filled, PTEs clean", (t) => {
  const m = runOneCpu(
    oneCpu([
      { op: "mmap", at: "X", pages: "$pages" },
      { op: "touch", at: "X", page: 1, pages: 2, access: "read" },
    ]),
  );
  t.deepEqual(Array.from(m.image.subarray(IMG_CODE + INSN_WORDS, IMG_CODE + 2 * INSN_WORDS)), [
    OP_TOUCH,
    m.X + PAGE_SIZE,
    2,
    0,
    0,
    0,
  ]);
  for (const i of [1, 2]) {
    const pte = m.pte(pageAt(m, i));
    t.true(pte_present(pte) && !pte_dirty(pte) && !pte_write(pte), `page ${i}`);
    const e = tlbOf(m, i);
    t.is(pte_pfn(e), pte_pfn(pte), `page ${i}: this CPU caches the translation`);
    t.is(e & (TLB_WRITE | TLB_DIRTY), 0, `page ${i}: read-only, clean entry`);
  }
  for (const i of [0, 3]) {
    t.is(m.pte(pageAt(m, i)), 0, `page ${i}: outside the range, not touched`);
    t.is(tlbOf(m, i), 0);
  }
});

test("touch write: the value in every frame of the range, PTEs and TLB entries dirty", (t) => {
  const m = runOneCpu(
    oneCpu([
      { op: "mmap", at: "X", pages: "$pages" },
      { op: "touch", at: "X", pages: "$pages", access: "write", value: 7 },
    ]),
  );
  for (let i = 0; i < 4; i++) {
    const pte = m.pte(pageAt(m, i));
    t.true(pte_present(pte) && pte_dirty(pte) && pte_write(pte), `page ${i}`);
    t.is(m.frameValue(pte_pfn(pte)), 7, `page ${i} holds the value`);
    t.true(PageDirty(m.cpu, pte_pfn(pte)));
    t.not(tlbOf(m, i) & TLB_DIRTY, 0, `page ${i}: a writable, dirty TLB entry`);
    t.is(m.backing(i), 0, "not written back yet");
  }
});

test("touch ranges take parameters: resolved at compile time, checked against the region", (t) => {
  const text = oneCpu([
    { op: "mmap", at: "X", pages: "$pages" },
    { op: "touch", at: "X", page: "$target", pages: 2, access: "write", value: "$pages" },
  ]);
  const m = runOneCpu(text, { pages: 8, target: 5 });
  t.is(m.image[IMG_CODE + INSN_WORDS + 1] as number, m.X + 5 * PAGE_SIZE);
  t.is(m.frameValue(pte_pfn(m.pte(pageAt(m, 6)))), 8, "value $pages = 8 at page 6");
  t.is(m.pte(pageAt(m, 7)), 0);
  const spec = parseScenario(text, "forms.json");
  t.throws(() => compile(spec, { pages: 8, target: 7 }), {
    message: "cpus[0].init[1].pages: expected 1 to 1 (the 8-page region from page 7 on), got 2",
  });
});

test("touch stops at the first fault: later pages of the range are not touched", (t) => {
  const m = solo(4);
  // Pages 0 and 2 mapped, page 1 a hole between two VMAs.
  sys_mmap(m.cpu, m.X, PAGE_SIZE, 0);
  sys_mmap(m.cpu, m.X + 2 * PAGE_SIZE, PAGE_SIZE, 2);
  t.is(user_touch(m.cpu, m.X, 3, true, 4), SIGSEGV, "the hole raises SIGSEGV");
  t.is(m.frameValue(pte_pfn(m.pte(m.X))), 4, "page 0 written");
  t.is(m.pte(m.X + 2 * PAGE_SIZE), 0, "page 2, past the fault, never touched");
  t.is(user_touch(m.cpu, m.X, 3, false, 0), SIGSEGV, "a read stops there too");
  t.is(m.pte(m.X + 2 * PAGE_SIZE), 0);
  // The same through a compiled program: the step ends, the next one runs.
  const text = oneCpu([
    { op: "mmap", at: "X", pages: 1 },
    { op: "touch", at: "X", pages: 3, access: "write", value: 9 },
    { op: "mmap_anon", at: "Y", pages: 1 },
    { op: "store", at: "Y", page: 0, value: 5, result: "w" },
  ]);
  const r = runOneCpu(text);
  t.is(r.frameValue(pte_pfn(r.pte(r.X))), 9);
  t.is(r.frameValue(pte_pfn(r.pte(r.Y))), 5, "the program goes on after the range's fault");
});

/** Four dirty pages, then the given fadvise; returns which pages were laundered. */
function laundered(fadvise: Record<string, unknown>): { pages: number[]; m: OnMachine } {
  const m = runOneCpu(
    oneCpu(
      [
        { op: "mmap", at: "X", pages: "$pages" },
        { op: "touch", at: "X", pages: "$pages", access: "write", value: 3 },
      ],
      [{ op: "fadvise", advice: "dontneed", ...fadvise }],
    ),
  );
  const pages = [0, 1, 2, 3].filter((i) => {
    const pte = m.pte(pageAt(m, i));
    const clean = !pte_dirty(pte) && !pte_write(pte) && !PageDirty(m.cpu, pte_pfn(pte));
    if (clean !== (m.backing(i) === 3)) throw new Error(`page ${i}: cleaned but not written`);
    return clean;
  });
  return { pages, m };
}

test("fadvise with a one-page range launders only that page", (t) => {
  const { pages, m } = laundered({ page: 2, pages: 1 });
  t.deepEqual(pages, [2]);
  t.deepEqual(Array.from(m.image.subarray(IMG_CODE + 2 * INSN_WORDS, IMG_CODE + 3 * INSN_WORDS)), [
    OP_FADVISE_DONTNEED,
    2,
    1,
    0,
    0,
    0,
  ]);
});

test("fadvise without pages, or with pages 0, runs to the end of the file; without a range, all", (t) => {
  t.deepEqual(laundered({ page: 1 }).pages, [1, 2, 3]);
  t.deepEqual(laundered({ page: 2, pages: 0 }).pages, [2, 3]);
  t.deepEqual(laundered({}).pages, [0, 1, 2, 3], "the old form: the whole file");
  t.deepEqual(laundered({ pages: 2 }).pages, [0, 1]);
});

test("the seed reads its whole mapping and launders the target page, at any size", (t) => {
  const spec = parseScenario(SEED_TEXT, SEED_FILE);
  const { image, regions } = compile(spec, { pages: 1024, target: 700 });
  const insn = (part: number, i: number): number[] => {
    const at = (image[IMG_CPU_TABLE + part] as number) + i * INSN_WORDS;
    return Array.from(image.subarray(at, at + INSN_WORDS));
  };
  t.deepEqual(insn(0, 1).slice(0, 3), [OP_TOUCH, regions.X, 1024], "init[1]: touch X");
  t.is(insn(0, 1)[3], 0, "a read");
  t.deepEqual(insn(2, 0).slice(0, 3), [OP_FADVISE_DONTNEED, 700, 1], "steps[0]");
  t.deepEqual(insn(2, 4).slice(0, 3), [OP_FADVISE_DONTNEED, 700, 1], "steps[4]");
});

// ---------------------------------------------------------------------------------------------
// Fuzzing the loader in-process: it returns a scenario or throws a one-line UsageError naming
// the file, quickly; nothing else (no TypeError, RangeError, hang).

const FUZZ_PATH = "fuzz/scenario.json";
const SLOW_MS = 1000;

/**
 * Load text; fail the property on any outcome but a scenario or a proper UsageError. Returns
 * whether the text was accepted.
 */
function loadOrReject(text: string): boolean {
  const t0 = performance.now();
  let error: unknown;
  try {
    const spec = parseScenario(text, FUZZ_PATH);
    // Accepted: it compiles, and its outcome labels (the result file's keys) are distinct.
    const labels = compile(spec, {}).outcomeLabels;
    if (new Set(labels).size !== labels.length)
      throw new Error(`accepted with repeated outcome labels: ${labels.join(" | ")}`);
  } catch (e) {
    error = e;
  }
  const ms = performance.now() - t0;
  if (ms > SLOW_MS) throw new Error(`took ${ms.toFixed(0)} ms`);
  if (error === undefined) return true;
  if (!(error instanceof UsageError))
    throw error instanceof Error ? error : new Error("threw something that is not an Error");
  if (!error.message.startsWith(`${FUZZ_PATH}: `))
    throw new Error(`message does not name the file: ${error.message}`);
  if (error.message.includes("\n") && !error.message.includes("not valid JSON"))
    throw new Error(`message of more than one line: ${JSON.stringify(error.message)}`);
  return false;
}

/** Keys worth trying: the format's own, and ones that trip up naive JS. */
const KEYS = [
  "name",
  "description",
  "source",
  "kernels",
  "expect",
  "params",
  "cpus",
  "outcome",
  "forbidden",
  "lostWrite",
  "widen",
  "useAfterFree",
  "$comment",
  "init",
  "steps",
  "op",
  "at",
  "pages",
  "page",
  "value",
  "result",
  "into",
  "flag",
  "from",
  "to",
  "advice",
  "access",
  "populate",
  "cpu",
  "reg",
  "kind",
  "values",
  "stores",
  "readback",
  "default",
  "min",
  "max",
  "target",
  "write2",
  "readback",
  "move_ptes:unlocked",
  "v4.9-rc4",
  "__proto__",
  "constructor",
  "toString",
  "hasOwnProperty",
  "valueOf",
  "length",
  "a\nb",
  "",
];

/** Values worth trying: the format's own words and numbers near its limits. */
const valueArb: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 3, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      "$pages",
      "$target",
      "$constructor",
      "$__proto__",
      "X",
      "Y",
      "w1",
      "w2",
      "r",
      "mremap-done",
      "ok",
      "SIGSEGV",
      "other",
      "dontneed",
      "result",
      "value",
      "mmap",
      "munmap",
      "mremap",
      "store",
      "load",
      "fadvise",
      "pread",
      "signal",
      "wait",
      "ftruncate",
      "alloc",
      "touch",
      "read",
      "write",
      "mmap_anon",
      "v4.9-rc4",
      "5d1904204c99",
      "100us",
      "0s",
      "61s",
      "1e400s",
      "",
      null,
      true,
      false,
      [],
      {},
    ),
  },
  {
    weight: 3,
    arbitrary: fc.oneof(
      fc.integer({ min: -3, max: 40 }),
      fc.constantFrom(
        -1,
        0.5,
        4095,
        4096,
        4097,
        5000,
        100000,
        0x7fffffff,
        0x80000000,
        -0x80000000,
        -0x80000001,
        Number.MAX_SAFE_INTEGER,
        1e300,
        -0,
      ),
    ),
  },
);

/** Every node of a JSON tree, by path (the root is []). */
function nodes(v: unknown, path: Path = [], out: { path: Path; value: unknown }[] = []) {
  out.push({ path, value: v });
  if (Array.isArray(v)) v.forEach((x, i) => nodes(x, [...path, i], out));
  else if (typeof v === "object" && v !== null)
    for (const [k, x] of Object.entries(v)) nodes(x, [...path, k], out);
  return out;
}

/** Numbers and parameters a range can take: mostly sound ones, some past every limit. */
const rangeArgArb: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(0, 1, "$pages", "$target") },
  { weight: 2, arbitrary: fc.integer({ min: -1, max: 3 }) },
  { weight: 1, arbitrary: fc.constantFrom(4096, 4097, -0x80000000, 0.5, "$npages", "3", null) },
);
const regionArb = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom("X", "Y") },
  { weight: 1, arbitrary: fc.constantFrom("Z", 0) },
);
const touchFields = {
  op: fc.constant("touch"),
  at: regionArb,
  page: rangeArgArb,
  pages: rangeArgArb,
};

const mmapFields = {
  op: fc.constantFrom("mmap", "mmap_anon", "mmap_thp"),
  at: regionArb,
  pages: rangeArgArb,
};

/** The range forms: touch, fadvise with a range, mmap and mmap_anon with populate. */
const rangeStepArb: fc.Arbitrary<Record<string, unknown>> = fc.oneof(
  // A read without a value, a write with one, and either with or without.
  {
    weight: 2,
    arbitrary: fc.record(
      { ...touchFields, access: fc.constant("read") },
      { requiredKeys: ["op", "at", "pages", "access"] },
    ),
  },
  {
    weight: 2,
    arbitrary: fc.record(
      { ...touchFields, access: fc.constant("write"), value: rangeArgArb },
      { requiredKeys: ["op", "at", "pages", "access", "value"] },
    ),
  },
  {
    weight: 1,
    arbitrary: fc.record(
      { ...touchFields, access: fc.constantFrom("read", "write", "readwrite"), value: rangeArgArb },
      { requiredKeys: ["op", "at", "pages", "access"] },
    ),
  },
  {
    weight: 2,
    arbitrary: fc.record(
      {
        op: fc.constant("fadvise"),
        advice: fc.constantFrom("dontneed", "dontneed", "willneed"),
        page: rangeArgArb,
        pages: rangeArgArb,
      },
      { requiredKeys: ["op", "advice"] },
    ),
  },
  { weight: 3, arbitrary: fc.record({ ...mmapFields, populate: fc.boolean() }) },
  {
    weight: 1,
    arbitrary: fc.record(
      { ...mmapFields, populate: valueArb },
      { requiredKeys: ["op", "at", "pages"] },
    ),
  },
);

type Mutation =
  | { kind: "delete"; pick: number }
  | { kind: "replaceLeaf"; pick: number; value: unknown }
  | { kind: "replaceNode"; pick: number; value: unknown }
  | { kind: "insertKey"; pick: number; key: string; value: unknown }
  | { kind: "duplicate"; pick: number }
  | { kind: "insertStep"; pick: number; step: Record<string, unknown> };

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant("delete" as const), pick: fc.nat() }),
  fc.record({ kind: fc.constant("replaceLeaf" as const), pick: fc.nat(), value: valueArb }),
  fc.record({ kind: fc.constant("replaceNode" as const), pick: fc.nat(), value: valueArb }),
  fc.record({
    kind: fc.constant("insertKey" as const),
    pick: fc.nat(),
    key: fc.oneof(fc.constantFrom(...KEYS), fc.string({ maxLength: 8 })),
    value: valueArb,
  }),
  fc.record({ kind: fc.constant("duplicate" as const), pick: fc.nat() }),
  fc.record({ kind: fc.constant("insertStep" as const), pick: fc.nat(), step: rangeStepArb }),
);

/** Apply one mutation to the tree (in place, except a replaced root, which is returned). */
function mutate(root: unknown, m: Mutation): unknown {
  const all = nodes(root);
  const pickFrom = <T>(list: T[]): T | undefined => list[m.pick % Math.max(1, list.length)];
  switch (m.kind) {
    case "delete": {
      const n = pickFrom(all.filter((x) => x.path.length > 0));
      if (n !== undefined) deleteAt(root, n.path);
      return root;
    }
    case "replaceLeaf":
    case "replaceNode": {
      const pool =
        m.kind === "replaceLeaf"
          ? all.filter((x) => typeof x.value !== "object" || x.value === null)
          : all;
      const n = pickFrom(pool);
      if (n === undefined) return root;
      if (n.path.length === 0) return structuredClone(m.value);
      setAt(root, n.path, structuredClone(m.value));
      return root;
    }
    case "insertKey": {
      const n = pickFrom(
        all.filter(
          (x) => typeof x.value === "object" && x.value !== null && !Array.isArray(x.value),
        ),
      );
      if (n !== undefined) setAt(root, [...n.path, m.key], structuredClone(m.value));
      return root;
    }
    case "duplicate": {
      // Append a copy of an array element (a step, an outcome field, a CPU) to its array.
      const n = pickFrom(all.filter((x) => Array.isArray(x.value) && x.value.length > 0));
      if (n === undefined) return root;
      const a = n.value as unknown[];
      a.push(structuredClone(a[m.pick % a.length]));
      return root;
    }
    case "insertStep": {
      // Put a range-form step anywhere in a CPU's init or steps.
      const n = pickFrom(
        all.filter((x) => Array.isArray(x.value) && /^(init|steps)$/.test(String(x.path.at(-1)))),
      );
      if (n === undefined) return root;
      const a = n.value as unknown[];
      a.splice(m.pick % (a.length + 1), 0, structuredClone(m.step));
      return root;
    }
  }
}

test("the seed scenario loads and mutating helpers leave it intact", (t) => {
  t.notThrows(() => parseScenario(SEED_TEXT, FUZZ_PATH));
  t.notThrows(() => parseScenario(edited(), FUZZ_PATH));
  t.notThrows(() =>
    loadOrReject(
      edited({ set: "params.constructor", to: { description: "c", default: 0, min: 0, max: 2 } }),
    ),
  );
  t.deepEqual(JSON.parse(SEED_TEXT), SEED, "edits work on copies");
});

test("fuzz: arbitrary JSON and text never make the loader crash or hang", (t) => {
  const scenarioLike = fc.dictionary(fc.constantFrom(...KEYS), valueArb, { maxKeys: 12 });
  const text = fc.oneof(
    { weight: 4, arbitrary: fc.jsonValue().map((v) => JSON.stringify(v)) },
    { weight: 4, arbitrary: scenarioLike.map((v) => JSON.stringify(v)) },
    { weight: 1, arbitrary: fc.string() },
    // Truncations of the real file: syntax errors at every depth.
    { weight: 1, arbitrary: fc.nat(SEED_TEXT.length - 1).map((n) => SEED_TEXT.slice(0, n)) },
  );
  fc.assert(
    fc.property(text, (x) => void loadOrReject(x)),
    { numRuns: 2000 },
  );
  t.pass();
});

test("fuzz: range-form steps put into the seed validate or name the file; many are accepted", (t) => {
  let accepted = 0;
  const accepts: Record<string, number> = {};
  fc.assert(
    fc.property(
      fc.array(fc.record({ pick: fc.nat(), step: rangeStepArb }), { minLength: 1, maxLength: 3 }),
      fc.array(mutationArb, { maxLength: 1 }),
      (steps, ms) => {
        let s: unknown = structuredClone(SEED);
        for (const x of steps) s = mutate(s, { kind: "insertStep", ...x });
        for (const m of ms) s = mutate(s, m);
        if (loadOrReject(JSON.stringify(s))) {
          accepted++;
          for (const x of steps) {
            const key = `${String(x.step.op)}${"populate" in x.step ? "+populate" : ""}`;
            accepts[key] = (accepts[key] ?? 0) + 1;
          }
        }
      },
    ),
    { numRuns: 2000 },
  );
  t.log(`accepted ${accepted} of 2000: ${JSON.stringify(accepts)}`);
  // Each form is accepted when it is sound (the generator reaches them all) and refused when
  // it is not.
  t.true(accepted > 0 && accepted < 2000, `accepted ${accepted} of 2000`);
  for (const form of ["touch", "fadvise", "mmap+populate", "mmap_anon+populate"])
    t.true((accepts[form] ?? 0) > 0, `some ${form} step accepted`);
});

test("fuzz: mutations of the seed scenario validate or name the file, never crash", (t) => {
  let accepted = 0;
  fc.assert(
    fc.property(fc.array(mutationArb, { minLength: 1, maxLength: 3 }), (ms) => {
      let s: unknown = structuredClone(SEED);
      for (const m of ms) s = mutate(s, m);
      if (loadOrReject(JSON.stringify(s))) accepted++;
    }),
    { numRuns: 2000 },
  );
  // Some mutations are harmless (a new "$comment", a description): the property saw both sides.
  t.true(accepted > 0 && accepted < 2000, `accepted ${accepted} of 2000`);
  t.log(`accepted ${accepted} of 2000`);
});
