/**
 * The docs cannot drift from the CLI: every long option that a command's `--help` shows must be
 * named in that command's section of docs/commands.md; the README stays short and starts with the
 * two commands; every relative link in README.md and docs/*.md reaches a file (and a heading).
 *
 * Commands are discovered from `tlbrace --help` and each command's own `--help` (recursively, so
 * `bench flush` is found from `bench --help`): a new command or option is caught without editing
 * this file.
 */
import test from "ava";
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const CLI = fileURLToPath(new URL("../harness/cli.js", import.meta.url));
/** The repository: this file runs as dist/test/docs.test.js. */
const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const COMMANDS_MD = join(ROOT, "docs", "commands.md");
const README = join(ROOT, "README.md");

/**
 * Pages that issue 14's other items add (output files and --version; JSON Schemas; recipes).
 * Links to them may dangle until those items land; no other missing file is allowed.
 */
const NOT_YET_WRITTEN = new Set(
  ["docs/outputs.md", "docs/schemas.md", "docs/recipes.md"].map((p) => join(ROOT, p)),
);

function helpOf(path: string[]): string {
  const r = spawnSync(process.execPath, [CLI, ...path, "--help"], {
    encoding: "utf8",
    timeout: 60_000,
  });
  if (r.status !== 0) {
    const cmd = ["tlbrace", ...path, "--help"].join(" ");
    throw new Error(`${cmd} exited ${r.status}: ${r.stderr.trim()}`);
  }
  return r.stdout;
}

/** The lines of a `--help` block such as "Options:" or "Commands:", up to the blank line after it. */
function helpBlock(help: string, title: string): string[] {
  const lines = help.split("\n");
  const start = lines.findIndex((l) => l === `${title}:`);
  if (start < 0) return [];
  const end = lines.findIndex((l, i) => i > start && l.trim() === "");
  return lines.slice(start + 1, end < 0 ? undefined : end);
}

/**
 * Long options of one command. Commander indents each option by two spaces; the wrapped lines
 * of a description are indented further (and may themselves mention an option, as run's
 * `--offset-max` does), so only a line whose third character starts the option counts.
 */
function longOptions(help: string): string[] {
  const found: string[] = [];
  for (const line of helpBlock(help, "Options")) {
    const m = /^ {2}(?:-[A-Za-z], )?(--[A-Za-z][\w-]*)/.exec(line);
    if (m?.[1] !== undefined && m[1] !== "--help") found.push(m[1]);
  }
  return found;
}

function subcommands(help: string): string[] {
  const found: string[] = [];
  for (const line of helpBlock(help, "Commands")) {
    const m = /^ {2}([a-z][\w-]*)/.exec(line);
    if (m?.[1] !== undefined && m[1] !== "help") found.push(m[1]);
  }
  return found;
}

interface Command {
  /** "" for tlbrace itself, else e.g. "run" or "bench flush". */
  name: string;
  options: string[];
}

function discover(path: string[] = []): Command[] {
  const help = helpOf(path);
  const here: Command = { name: path.join(" "), options: longOptions(help) };
  return [here, ...subcommands(help).flatMap((sub) => discover([...path, sub]))];
}

/** Lines outside fenced code blocks, with the fence lines blanked. */
function outsideFences(md: string): string[] {
  let fenced = false;
  return md.split("\n").map((line) => {
    if (/^\s*(```|~~~)/.test(line)) {
      fenced = !fenced;
      return "";
    }
    return fenced ? "" : line;
  });
}

/**
 * docs/commands.md's command sections: a heading "## `tlbrace run`" or "### `tlbrace bench
 * flush`", up to the next heading of the same or a higher level.
 */
function commandSections(md: string): Map<string, string> {
  const lines = outsideFences(md);
  const sections = new Map<string, string>();
  lines.forEach((line, i) => {
    const h = /^(#{1,6})\s+`tlbrace((?: [a-z][\w-]*)*)`/.exec(line);
    if (h?.[1] === undefined || h[2] === undefined) return;
    const level = h[1].length;
    let end = lines.length;
    for (let j = i + 1; j < lines.length; j++) {
      const next = /^(#{1,6})\s/.exec(lines[j] ?? "");
      if (next?.[1] !== undefined && next[1].length <= level) {
        end = j;
        break;
      }
    }
    sections.set(h[2].trim(), lines.slice(i + 1, end).join("\n"));
  });
  return sections;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** `--out` is named in the text, and not only as part of `--out-dir` or `--outer`. */
function names(text: string, option: string): boolean {
  return new RegExp(`(^|[^\\w-])${escapeRegExp(option)}(?![\\w-])`, "m").test(text);
}

let commands: Command[] = [];
let discoveryError: string | undefined;
try {
  commands = discover();
} catch (e) {
  discoveryError = e instanceof Error ? e.message : String(e);
}

test("docs: the commands are discovered from tlbrace --help", (t) => {
  t.is(discoveryError, undefined);
  t.true(
    commands.some((c) => c.name === "run"),
    "tlbrace --help lists run",
  );
  t.true(
    commands.some((c) => c.name === "bench flush"),
    "bench --help lists flush",
  );
});

for (const command of commands) {
  const title = command.name === "" ? "tlbrace" : `tlbrace ${command.name}`;
  test(`docs/commands.md: ${title} and every option its --help shows`, (t) => {
    const section = commandSections(readFileSync(COMMANDS_MD, "utf8")).get(command.name);
    if (section === undefined) {
      t.fail(`docs/commands.md has no section for \`${title}\` (a heading "## \`${title}\`")`);
      return;
    }
    const missing = command.options.filter((o) => !names(section, o));
    t.deepEqual(
      missing,
      [],
      `${title}: ${missing.join(", ")} shown by --help but missing from its section in docs/commands.md`,
    );
  });
}

test("docs/commands.md: every command section names a command the CLI has", (t) => {
  const known = new Set(commands.map((c) => c.name));
  const stale = [...commandSections(readFileSync(COMMANDS_MD, "utf8")).keys()].filter(
    (name) => !known.has(name),
  );
  t.deepEqual(stale, [], `sections for commands that --help does not list: ${stale.join(", ")}`);
});

test("README.md: at most 300 lines, with npm ci && npm start and npm test in the first 40", (t) => {
  const text = readFileSync(README, "utf8");
  const lines = text.split("\n");
  const count = text.endsWith("\n") ? lines.length - 1 : lines.length; // as wc -l counts
  t.true(count <= 300, `README.md has ${count} lines; at most 300`);
  const head = lines.slice(0, 40).join("\n");
  t.true(
    head.includes("npm ci && npm start"),
    "README.md's first 40 lines lack `npm ci && npm start`",
  );
  t.true(/(^|[^\w-])npm test(?![\w-])/m.test(head), "README.md's first 40 lines lack `npm test`");
});

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens. */
function slug(heading: string): string {
  return heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, "$1")
    .replace(/<[^>]*>/g, "")
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc}\- ]/gu, "")
    .replace(/ /g, "-");
}

function anchors(md: string): Set<string> {
  const seen = new Map<string, number>();
  const found = new Set<string>();
  for (const line of outsideFences(md)) {
    const h = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (h?.[1] === undefined) continue;
    const base = slug(h[1]);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    found.add(n === 0 ? base : `${base}-${n}`);
  }
  return found;
}

/** Link targets outside code: inline links and images, and reference definitions. */
function linkTargets(md: string): string[] {
  const text = outsideFences(md)
    .join("\n")
    .replace(/`[^`\n]*`/g, "``");
  const targets: string[] = [];
  for (const m of text.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) {
    if (m[1] !== undefined) targets.push(m[1]);
  }
  for (const m of text.matchAll(/^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)/gm)) {
    if (m[1] !== undefined) targets.push(m[1]);
  }
  return targets;
}

function markdownFiles(): string[] {
  const docs = join(ROOT, "docs");
  const pages = readdirSync(docs)
    .filter((f) => f.endsWith(".md"))
    .sort()
    .map((f) => join(docs, f));
  return [README, ...pages];
}

interface Link {
  from: string;
  target: string;
  file: string;
  anchor: string | undefined;
}

function relativeLinks(): Link[] {
  const links: Link[] = [];
  for (const from of markdownFiles()) {
    for (const target of linkTargets(readFileSync(from, "utf8"))) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith("//")) continue;
      const hash = target.indexOf("#");
      const path = decodeURI(hash < 0 ? target : target.slice(0, hash));
      const anchor = hash < 0 ? undefined : target.slice(hash + 1);
      const file = path === "" ? from : resolve(dirname(from), path);
      links.push({ from: relative(ROOT, from), target, file, anchor });
    }
  }
  return links;
}

test("README.md and docs/*.md: every relative link points to an existing file", (t) => {
  const links = relativeLinks();
  t.true(links.length > 0, "links found");
  const broken = links
    .filter((l) => !existsSync(l.file) && !NOT_YET_WRITTEN.has(l.file))
    .map((l) => `${l.from}: ${l.target}`);
  t.deepEqual(broken, [], `links to missing files:\n${broken.join("\n")}`);
});

test("README.md and docs/*.md: every #anchor of a relative link names a heading", (t) => {
  const cache = new Map<string, Set<string>>();
  const broken: string[] = [];
  for (const l of relativeLinks()) {
    if (l.anchor === undefined || !l.file.endsWith(".md") || !existsSync(l.file)) continue;
    let known = cache.get(l.file);
    if (known === undefined) {
      known = anchors(readFileSync(l.file, "utf8"));
      cache.set(l.file, known);
    }
    if (!known.has(decodeURIComponent(l.anchor))) broken.push(`${l.from}: ${l.target}`);
  }
  t.deepEqual(broken, [], `links to headings that do not exist:\n${broken.join("\n")}`);
});
