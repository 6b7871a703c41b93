/**
 * `tlbrace report` in a real browser: the page built from copies of results/reference (an
 * example of every kind of result) is opened in headless Chromium (Debian's chromium package,
 * driven by playwright-core). It must load without a console error or a page error; every chart
 * must render (a box of non-zero size holding drawn marks); every table must have rows; every
 * entry of the contents must lead to its section; nothing may make the page wider than the
 * window. A screenshot is kept at results/report-screenshot.png (a CI artifact).
 *
 * Without Chromium the test fails when CI is set (CI installs it) and is skipped otherwise.
 * TLBRACE_CHROMIUM names another executable.
 */
import test from "ava";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { chromium, type Browser } from "playwright-core";
import { buildReport } from "../harness/report.js";

const REF = fileURLToPath(new URL("../../results/reference/", import.meta.url));
const SCREENSHOT = fileURLToPath(new URL("../../results/report-screenshot.png", import.meta.url));
const CHROMIUM = process.env.TLBRACE_CHROMIUM ?? "/usr/bin/chromium";
const IN_CI = (process.env.CI ?? "") !== "" && process.env.CI !== "false";
const ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** What the page says about itself, measured in the browser. */
interface PageFacts {
  svgs: { title: string; width: number; height: number; marks: number; drawnMarks: number }[];
  tables: { rows: number; caption: string; section: string }[];
  toc: { href: string; target: string | null }[];
  sections: string[];
  pre: number;
  scrollWidth: number;
  innerWidth: number;
}

/** Run in the page (as a string: the test is compiled without DOM types). */
const MEASURE = `(() => {
  const MARKS = ".series, .step, .marker, .band, .estimate, .sample, rect.td, text.step";
  const svgs = [...document.querySelectorAll("svg")].map((s) => {
    const r = s.getBoundingClientRect();
    const marks = [...s.querySelectorAll(MARKS)];
    const drawn = marks.filter((m) => {
      const b = m.getBoundingClientRect();
      return b.width > 0 || b.height > 0;
    });
    const t = s.firstElementChild;
    return {
      title: t !== null && t.tagName.toLowerCase() === "title" ? t.textContent : "",
      width: r.width,
      height: r.height,
      marks: marks.length,
      drawnMarks: drawn.length,
    };
  });
  const tables = [...document.querySelectorAll("table")].map((t) => ({
    rows: t.querySelectorAll("tbody tr").length,
    caption: t.caption ? t.caption.textContent : "",
    section: t.closest("section") ? t.closest("section").id : "",
  }));
  const toc = [...document.querySelectorAll("nav#contents a[href^='#']")].map((a) => {
    const id = a.getAttribute("href").slice(1);
    const el = document.getElementById(id);
    return { href: id, target: el === null ? null : el.tagName.toLowerCase() };
  });
  return {
    svgs,
    tables,
    toc,
    sections: [...document.querySelectorAll("section")].map((s) => s.id),
    pre: document.querySelectorAll("pre").length,
    scrollWidth: document.documentElement.scrollWidth,
    innerWidth: window.innerWidth,
  };
})()`;

const chromiumThere = existsSync(CHROMIUM);

if (!chromiumThere && !IN_CI) {
  test.skip(`report in Chromium (no browser at ${CHROMIUM}; apt-get install chromium)`, () => {});
} else {
  test("report in headless Chromium: no errors, every chart drawn, every table filled, contents resolve", async (t) => {
    if (!chromiumThere) {
      t.fail(
        `Chromium is missing at ${CHROMIUM}: CI must install Debian's chromium package (apt-get install chromium), or set TLBRACE_CHROMIUM`,
      );
      return;
    }
    const dir = mkdtempSync(join(tmpdir(), "tlbrace-report-browser-"));
    let browser: Browser | undefined;
    try {
      for (const f of readdirSync(REF).filter((n) => n.endsWith(".json")))
        copyFileSync(join(REF, f), join(dir, f));
      // Explorations record no startedAt (the file time decides): the one with a violation last.
      utimesSync(join(dir, "explore-mremap-mkclean-5d1904204c99.json"), 1e9, 1e9);
      utimesSync(join(dir, "explore-mremap-mkclean-v4.9-rc4.json"), 2e9, 2e9);
      const report = buildReport(dir);
      const page = join(dir, "report.html");
      writeFileSync(page, report.html);
      const svgInHtml = report.html.match(/<svg /g)?.length ?? 0;
      t.true(svgInHtml >= 10, `${svgInHtml} charts in the page`);

      browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS, timeout: 60_000 });
      const tab = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      const problems: string[] = [];
      tab.on("console", (m) => {
        if (m.type() === "error" || m.type() === "warning")
          problems.push(`console ${m.type()}: ${m.text()}`);
      });
      tab.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
      tab.on("requestfailed", (r) => problems.push(`request failed: ${r.url()}`));
      const res = await tab.goto(pathToFileURL(page).href, { waitUntil: "load" });
      t.truthy(res === null || res.ok(), "the page loads");
      const f = await tab.evaluate<PageFacts>(MEASURE);
      mkdirSync(join(SCREENSHOT, ".."), { recursive: true });
      await tab.screenshot({ path: SCREENSHOT, fullPage: true });

      t.deepEqual(problems, [], "no console error, page error or failed request");
      t.is(f.svgs.length, svgInHtml, "every chart is in the document");
      for (const s of f.svgs) {
        t.truthy(s.title, "a <title> first");
        t.true(s.width > 100 && s.height > 100, `${s.title}: rendered ${s.width}x${s.height}`);
        t.true(
          s.marks > 0 && s.drawnMarks > 0,
          `${s.title}: ${s.drawnMarks} of ${s.marks} marks drawn`,
        );
      }
      t.true(f.tables.length > report.sections, "tables in every section");
      for (const tb of f.tables)
        t.true(tb.rows > 0, `a table without rows in #${tb.section} ${tb.caption}`);
      for (const id of f.sections)
        t.true(
          f.tables.some((tb) => tb.section === id),
          `#${id} has a table`,
        );
      t.is(f.toc.length, f.sections.length, "one contents entry per section");
      for (const e of f.toc) t.is(e.target, "section", `#${e.href} leads to its section`);
      t.is(f.pre, 0, "no <pre> text");
      t.true(
        f.scrollWidth <= f.innerWidth,
        `the page fits the window (${f.scrollWidth} > ${f.innerWidth})`,
      );
      t.true(existsSync(SCREENSHOT));
    } finally {
      await browser?.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
