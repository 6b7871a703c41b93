import test from "ava";
import { spawnSync } from "node:child_process";
import {
  copyFileSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { UsageError } from "../lib/units.js";
import { buildReport, kindOf, REPORT_KINDS } from "../harness/report.js";

const REF = fileURLToPath(new URL("../../results/reference/", import.meta.url));
const CLI = fileURLToPath(new URL("../harness/cli.js", import.meta.url));

const tempDir = (): string => mkdtempSync(join(tmpdir(), "tlbrace-report-"));

/** A temp directory holding copies of every reference result, explorations dated apart. */
function referenceCopy(): string {
  const dir = tempDir();
  for (const f of readdirSync(REF).filter((n) => n.endsWith(".json")))
    copyFileSync(join(REF, f), join(dir, f));
  // The CVE-2022-41222 explorations record no startedAt (written before it was kept): the
  // report falls back to their file time, which a copy makes "now". Make them old, so that the
  // latest exploration is the seed's on v4.9-rc4, by its startedAt (it ran after 5d1904204c99's).
  for (const k of ["9f132f7e1455", "97113eb39fa7"])
    utimesSync(join(dir, `explore-mremap-pmd-migrate-uaf-${k}.json`), 1e9, 1e9);
  return dir;
}

/** The HTML of one section, by id. */
function section(html: string, id: string): string {
  const start = html.indexOf(`<section id="${id}">`);
  if (start < 0) return "";
  return html.slice(start, html.indexOf("</section>", start));
}

const count = (s: string, re: RegExp): number => s.match(re)?.length ?? 0;

test("report: every kind in the reference results gets one section, in HTML tables", (t) => {
  const dir = referenceCopy();
  try {
    const r = buildReport(dir);
    // results/reference holds an example of every kind the report knows.
    t.deepEqual(
      r.shown.map((s) => s.kind),
      REPORT_KINDS,
    );
    t.is(r.sections, REPORT_KINDS.length);
    for (const kind of ["run", "bench natural", "demo", "explore", "matrix", "stress"])
      t.true(REPORT_KINDS.includes(kind), kind);
    t.true(r.html.startsWith("<!doctype html>"));
    t.is(count(r.html, /<pre[\s>]/g), 0, "no <pre> text");
    for (const s of r.shown) {
      t.is(count(r.html, new RegExp(`<section id="${s.id}">`, "g")), 1, `${s.id}: one section`);
      t.is(count(r.html, new RegExp(`href="#${s.id}"`, "g")), 1, `${s.id}: one entry in contents`);
      const html = section(r.html, s.id);
      t.regex(html, /<table( class="[a-z]+")?><thead>/, `${s.id}: a table`);
      t.regex(html, /<th scope="row">started<\/th><td>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC/);
      const data = JSON.parse(readFileSync(s.file, "utf8")) as { command?: string };
      if (data.command !== undefined)
        t.true(
          html.includes(
            `<code>${data.command.replace(/&/g, "&amp;").replace(/</g, "&lt;")}</code>`,
          ),
          `${s.id}: its command`,
        );
    }
    // The run section: the latest run by startedAt, its verdicts.
    const run = section(r.html, "run");
    t.regex(run, /run-mremap-mkclean-1024p-20k-uniform\.json/);
    t.regex(run, /v4\.9-rc4: 1,634 lost in 20,000 trials/);
    t.regex(run, /<td class="ok">ok<\/td>/);
    // The exploration's schedule is drawn once, as the explain table; not again as text.
    const ex = section(r.html, "explore");
    t.regex(ex, /explore-mremap-mkclean-v4\.9-rc4\.json/);
    t.is(count(ex, /<svg /g), 1);
    t.is(count(ex, /move_ptes:unlocked/g), 1, "the schedule appears once");
    t.regex(ex, /tlbrace replay tlbr1\./);
    t.regex(section(r.html, "stress"), /Every cell agrees with its expected verdict/);
    t.regex(section(r.html, "matrix"), /Every cell matches kernel history/);
    t.is(count(section(r.html, "bench-flush"), /<svg /g), 3);
    t.is(count(section(r.html, "bench-natural"), /<svg /g), 1);
    t.is(
      count(r.html, /<svg /g),
      1 + 3 + 2 + 1 + 1 + 2 + 1,
      "explore, flush, mremap, mixed, natural, window, scale",
    );
    t.is(
      count(r.html, /<svg [^>]*>\n<title>[^<]+<\/title>/g),
      count(r.html, /<svg /g),
      "every SVG starts with a <title>",
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("report: the latest result of a kind is the one that started last, not the last name", (t) => {
  const dir = tempDir();
  try {
    // By name, zzz sorts last; by startedAt, the 4-CPU bench (02:57:07) is newer than the
    // 2-CPU one (02:57:06).
    copyFileSync(join(REF, "bench-flush.json"), join(dir, "bench-flush-zzz.json"));
    copyFileSync(join(REF, "bench-flush-4cpus.json"), join(dir, "bench-flush-aaa.json"));
    // No startedAt (results written before it was kept): the time in the file name (as the
    // commands name their files) decides.
    copyFileSync(
      join(REF, "explore-mremap-pmd-migrate-uaf-9f132f7e1455.json"),
      join(dir, "explore-mremap-pmd-migrate-uaf-9f132f7e1455-2026-03-01T00-00-00-000Z.json"),
    );
    copyFileSync(
      join(REF, "explore-mremap-pmd-migrate-uaf-97113eb39fa7.json"),
      join(dir, "explore-mremap-pmd-migrate-uaf-97113eb39fa7-2026-02-01T00-00-00-000Z.json"),
    );
    const r = buildReport(dir);
    t.is(r.sections, 2);
    const flush = r.shown.find((s) => s.kind === "bench flush");
    t.is(flush?.file, join(dir, "bench-flush-aaa.json"));
    t.regex(section(r.html, "bench-flush"), /4 CPUs/);
    t.regex(section(r.html, "bench-flush"), /1 older result of this kind/);
    const ex = r.shown.find((s) => s.kind === "explore");
    t.regex(ex?.file ?? "", /9f132f7e1455-2026-03-01/);
    t.regex(section(r.html, "explore"), /2026-03-01 00:00:00 UTC \(from the file name/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("report: a file that is no result is listed apart; an unknown kind still gets a section", (t) => {
  const dir = tempDir();
  try {
    copyFileSync(join(REF, "bench-mixed.json"), join(dir, "bench-mixed.json"));
    writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "x" }));
    writeFileSync(join(dir, "broken.json"), "{");
    writeFileSync(
      join(dir, "future.json"),
      JSON.stringify({
        schema: 1,
        kind: "future-thing",
        command: "tlbrace future",
        startedAt: "2026-01-01T00:00:00Z",
      }),
    );
    const r = buildReport(dir);
    t.deepEqual(
      r.shown.map((s) => s.kind),
      ["bench mixed", "future-thing", "skipped"],
    );
    const skipped = section(r.html, "not-shown");
    t.regex(skipped, /package\.json<\/code><\/td><td>not a tlbrace result/);
    t.regex(skipped, /broken\.json<\/code><\/td><td>not readable JSON/);
    t.regex(section(r.html, "future-thing"), /tlbrace future/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("kindOf: by content", (t) => {
  t.is(kindOf({ schema: 1, bench: "natural" }), "bench natural");
  t.is(kindOf({ schema: 1, kind: "matrix" }), "matrix");
  t.is(kindOf({ schema: 1, scenario: "s", runs: [] }), "run");
  t.is(kindOf({ schema: 2, kind: "matrix" }), null);
  t.is(kindOf([1]), null);
});

test("report: a missing or empty directory is a UsageError naming it", (t) => {
  const dir = tempDir();
  try {
    t.throws(() => buildReport(join(dir, "none")), {
      instanceOf: UsageError,
      message: /no results directory ".*none"/,
    });
    t.throws(() => buildReport(dir), { instanceOf: UsageError, message: /no results in "/ });
    writeFileSync(join(dir, "package.json"), "{}");
    t.throws(() => buildReport(dir), {
      instanceOf: UsageError,
      message: /1 JSON file\(s\), none a tlbrace result/,
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("tlbrace report in a directory with no results/: one line on stderr, exit 2", (t) => {
  const dir = tempDir();
  try {
    const r = spawnSync(process.execPath, [CLI, "report"], { cwd: dir, encoding: "utf8" });
    t.is(r.status, 2, r.stderr);
    t.is(r.stderr.trimEnd().split("\n").length, 1, r.stderr);
    t.regex(r.stderr, /^tlbrace: report: no results directory "results"/);
    t.notRegex(r.stderr, /\n\s+at /, "no stack trace");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
