/**
 * The catalog at natural timing: every race declares the parameters it runs at, and every race
 * with more CPUs than a 2-core host has names a form for fewer cores that keeps its meaning.
 * Then `matrix --natural` and `smoke --natural` choose those forms, through the CLI.
 */
import test from "ava";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { MatrixResult } from "../harness/matrix.js";
import type { ResultFile } from "../harness/results.js";
import {
  builtinScenarios,
  catalogRaces,
  checkForms,
  naturalForm,
  parseScenario,
} from "../harness/scenarios.js";
import type { ScenarioSpec } from "../lib/scenarios/types.js";
import { compile } from "../lib/scenarios/compile.js";
import { UsageError } from "../lib/units.js";

const CLI = fileURLToPath(new URL("../harness/cli.js", import.meta.url));

function tlbrace(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8", timeout: 170_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const races = catalogRaces();
const byName = (n: string): ScenarioSpec => {
  const s = builtinScenarios().find((x) => x.name === n);
  if (s === undefined) throw new Error(`no scenario ${n}`);
  return s;
};

test("the catalog has eleven races; forms are built-in scenarios but not races", (t) => {
  t.is(races.length, 11, races.map((s) => s.name).join(", "));
  const forms = builtinScenarios().filter((s) => s.formOf !== undefined);
  t.true(forms.length >= 4);
  for (const f of forms) t.false(races.includes(f), f.name);
});

/**
 * Races whose natural mapping is smaller, and why: reclaim-munmap-batched unmaps a chunk of its
 * own (what malloc() maps above its mmap threshold); a larger one makes munmap() flush the whole
 * TLB (its gathered range passes x86's 33-page ceiling), which is not the race.
 */
const SMALL_MAPPING = ["reclaim-munmap-batched"];

test("every race declares natural parameters, with a populated mapping of 256 pages or more", (t) => {
  for (const s of races) {
    t.not(s.natural, undefined, `${s.name} declares natural parameters`);
    const pages = s.natural?.pages;
    if (pages !== undefined && !SMALL_MAPPING.includes(s.name))
      t.true(pages >= 256, `${s.name}: natural pages ${pages}`);
    // It compiles at them (the loader checked it; this is the same check, visible here).
    t.notThrows(() => compile(s, s.natural ?? {}), s.name);
  }
});

/**
 * Three-CPU races with no two-CPU form yet, and why (docs/natural-timing.md, findings): the
 * dirty-window race's write must set D inside move_ptes()'s PTL hold while its own reclaim waits
 * for that hold to end; CVE-2022-41222 needs the read through the new address while a third CPU's
 * migration holds the PTL.
 */
const NO_FORM_YET = ["mremap-dirty-window", "mremap-pmd-migrate-uaf"];

test("every race with more than two CPUs names a two-CPU form that keeps its meaning", (t) => {
  t.deepEqual(
    races.filter((s) => s.cpus.length > 2 && s.fewerCores === undefined).map((s) => s.name),
    NO_FORM_YET,
    "the races without a form are the documented ones",
  );
  for (const race of races.filter((s) => s.cpus.length > 2 && !NO_FORM_YET.includes(s.name))) {
    t.not(race.fewerCores, undefined, `${race.name} has a form for fewer cores`);
    const form = byName(race.fewerCores ?? "");
    t.true(form.cpus.length <= 2, `${form.name}: ${form.cpus.length} CPUs`);
    // The same race: the same kernels compared, the same arch and the same harm.
    t.deepEqual(form.kernels, race.kernels, form.name);
    t.is(form.arch ?? "x86", race.arch ?? "x86", form.name);
    t.deepEqual(form.forbidden, race.forbidden, form.name);
    t.is(form.useAfterFree, race.useAfterFree, form.name);
    t.deepEqual(form.expectOn, race.expectOn, form.name);
    // A form proper (not the seed standing in for the 3-CPU seed) says whose it is and which
    // kernel path runs the third actor's work on a racing CPU.
    if (form.formOf !== undefined) {
      t.is(form.formOf, race.name);
      t.regex(form.description, /on 2 CPUs: .*\(\)/, `${form.name} names the kernel path`);
      t.regex(form.description, /v4\.9/, `${form.name} names the version read`);
      t.not(form.window, undefined, `${form.name} names its window`);
      t.not(form.natural, undefined, `${form.name} declares natural parameters`);
    }
  }
});

test("naturalForm: a race runs as written where the cores suffice, as its form where not", (t) => {
  const race = byName("mremap-anon-reclaim");
  const two = naturalForm(race, 2);
  t.is(two.scenario.name, "mremap-anon-reclaim-direct");
  t.is(two.form, "mremap-anon-reclaim-direct");
  t.regex(two.why, /3 CPUs need 3 cores and this host has 2/);
  const three = naturalForm(race, 3);
  t.is(three.scenario, race);
  t.is(three.form, undefined);
  t.regex(three.why, /as written/);
  const seed = byName("mremap-mkclean");
  t.is(naturalForm(seed, 2).scenario, seed);
  t.is(
    naturalForm(byName("mremap-mkclean-3cpu"), 2).scenario,
    seed,
    "the seed is its own 2-CPU form",
  );
  // A race with no form still runs, and says it runs as written on too few cores.
  const noForm = { ...race, fewerCores: undefined };
  t.regex(naturalForm(noForm, 2).why, /has no form for fewer cores/);
});

test("checkForms: a form of an unknown race, or a fewerCores form that is not smaller, is an error", (t) => {
  const race = byName("mremap-anon-reclaim");
  const form = byName("mremap-anon-reclaim-direct");
  t.notThrows(() => checkForms([race, form]));
  t.throws(() => checkForms([{ ...form, formOf: "nowhere" }]), {
    instanceOf: UsageError,
    message: /formOf: "nowhere" is not a race of the catalog/,
  });
  t.throws(() => checkForms([{ ...race, fewerCores: "mremap-mkclean-3cpu" }], builtinScenarios()), {
    instanceOf: UsageError,
    message: /fewerCores: "mremap-mkclean-3cpu" is not a scenario with fewer than 3 CPUs/,
  });
});

test("a scenario file cannot be a form and name a form of its own; migrate's pages must be a count", (t) => {
  const base = JSON.parse(JSON.stringify(byName("mremap-anon-reclaim-direct"))) as Record<
    string,
    unknown
  >;
  t.throws(() => parseScenario(JSON.stringify({ ...base, fewerCores: "x" }), "f.json"), {
    message: /f\.json: fewerCores: expected nothing: a form \(formOf\) has no form of its own/,
  });
  const m = JSON.parse(JSON.stringify(byName("mremap-anon-migrate-move-pages"))) as ScenarioSpec;
  (m.cpus[0] as { steps: unknown[] }).steps[0] = { op: "migrate", pages: -1 };
  t.throws(() => parseScenario(JSON.stringify(m), "m.json"), {
    message:
      /m\.json: .*cpus\[0\]\.steps\[0\]\.pages: expected 0 \(every anonymous page\) or a number of pages, got -1/,
  });
});

test.serial(
  "matrix --natural on 2 cores runs a 3-CPU race as its form, with the aim table; on 3 cores as written",
  (t) => {
    const common = [
      "matrix",
      "--natural",
      "--scenario",
      "mremap-anon-reclaim",
      "--kernel",
      "5d1904204c99",
      "--trials",
      "100",
      "--uniform-trials",
      "50",
      "--json",
    ];
    const r = tlbrace([...common, "--cores", "2"]);
    t.is(r.status, 0, r.stderr);
    const m = JSON.parse(r.stdout) as MatrixResult;
    t.is(m.cores, 2);
    t.regex(m.forms?.["mremap-anon-reclaim"] ?? "", /as mremap-anon-reclaim-direct/);
    const cell = m.cells[0];
    t.is(cell?.scenario, "mremap-anon-reclaim");
    t.is(cell?.form, "mremap-anon-reclaim-direct");
    t.is(cell?.params?.pages, 1024, "the race's natural parameters");
    t.is(cell?.forbidden, 0, "the fixed kernel shows nothing");
    t.is(m.aim?.length, 1);
    t.is(m.aim?.[0]?.kernel, "5d1904204c99");
    t.is(m.aim?.[0]?.uniform.trials, 50);
    t.is(m.aim?.[0]?.window.trials, 100);

    const r3 = tlbrace([...common, "--cores", "3", "--uniform-trials", "0"]);
    t.is(r3.status, 0, r3.stderr);
    const m3 = JSON.parse(r3.stdout) as MatrixResult;
    t.is(m3.cells[0]?.form, undefined);
    t.regex(m3.forms?.["mremap-anon-reclaim"] ?? "", /as written \(3 CPUs, 3 cores\)/);
    t.deepEqual(m3.aim, []);
  },
);

test("matrix --cores without --natural is a usage error", (t) => {
  const r = tlbrace(["matrix", "--cores", "2", "--scenario", "mremap-mkclean"]);
  t.is(r.status, 2);
  t.regex(r.stderr, /--cores chooses the forms of a --natural run/);
});

test.serial(
  "a scenario file written by hand (a populated mapping, two CPUs, a window) runs at natural timing with window-aware offsets",
  (t) => {
    // A user's own race: munmap's zap against writeback, thread 1 having read its mapping.
    const spec = {
      name: "my-zap-race",
      description:
        "a user's zap race: munmap() of a mapping thread 1 has read, against its writeback",
      source: "written for this test",
      kernels: ["v3.14", "5df397dec7c4"],
      params: {
        pages: { description: "mapping size", default: 64, min: 1, max: 512 },
      },
      cpus: [
        {
          name: "thread 1",
          init: [
            { op: "mmap", at: "X", pages: "$pages", populate: true },
            { op: "touch", at: "X", pages: "$pages", access: "read" },
            { op: "store", at: "X", page: 0, value: 1, result: "w1" },
          ],
          steps: [
            { op: "fadvise", advice: "dontneed", page: 0, pages: 1 },
            { op: "store", at: "X", page: 0, value: 2, result: "w2" },
            { op: "wait", flag: "unmapped" },
            { op: "fadvise", advice: "dontneed", page: 0, pages: 1 },
            { op: "pread", page: 0, into: "r" },
          ],
        },
        {
          name: "thread 2",
          steps: [
            { op: "munmap", at: "X", pages: "$pages" },
            { op: "signal", flag: "unmapped" },
          ],
        },
      ],
      outcome: [
        { name: "write2", cpu: 0, reg: "w2", kind: "result" },
        { name: "readback", cpu: 0, reg: "r", kind: "value", values: [0, 1, 2] },
      ],
      forbidden: [{ write2: "ok", readback: 1 }],
      lostWrite: [{ cpu: 0, stores: ["w1", "w2"], readback: "r" }],
      window: {
        cpu: 1,
        open: "zap_pte_range:dirty_cleared",
        close: "tlb_finish_mmu:flushed",
        race: { cpu: 0, step: 1 },
      },
      natural: { pages: 256 },
      widen: { "zap_pte_range:unlocked": "100us" },
    };
    const dir = mkdtempSync(join(tmpdir(), "tlbrace-myrace-"));
    try {
      const file = join(dir, "my-zap-race.json");
      writeFileSync(file, JSON.stringify(spec));
      const r = tlbrace([
        "run",
        "--file",
        file,
        "--pages",
        "256",
        "--trials",
        "300",
        "--seed",
        "3",
        "--json",
      ]);
      t.is(r.status, 0, r.stderr);
      const res = JSON.parse(r.stdout) as ResultFile;
      t.is(res.offsetMode, "window", "window-aware offsets, learnt from the file's window");
      t.deepEqual(res.params, { pages: 256 });
      for (const run of res.runs) {
        t.deepEqual(run.delays, {}, `${run.kernel}: nothing injected`);
        t.true((run.offsets?.learned?.length ?? 0) >= 1, `${run.kernel}: the window was learnt`);
        t.is(run.window?.trials, 300);
      }
      t.is(res.runs.find((x) => x.kernel === "5df397dec7c4")?.forbiddenTrials, 0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
