/**
 * The result file (schema 1), documented in docs/outputs.md, and where every command puts its
 * results: the JSON at --out (whatever its suffix), charts beside it under their own names,
 * `--out -` and `--json` on stdout only. Files are written atomically: a temp file in the same
 * directory, then rename, so a reader never sees half a file.
 */
import { execFileSync } from "node:child_process";
import {
  mkdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { UsageError } from "../lib/units.js";
import type { MachineInfo } from "./sysinfo.js";
import type { OffsetsReport } from "./aim.js";

/** What wrote a result: tlbrace's version and, run from a git checkout of tlbrace, its commit. */
export interface Provenance {
  /** package.json's version. */
  version: string;
  /** `git rev-parse HEAD` of the checkout tlbrace runs from; absent outside a checkout. */
  commit?: string;
}

export interface RunResult {
  kernel: string;
  commit: string;
  trials: number;
  lostWrites: number;
  faults: number;
  /** Trials with at least one use-after-free access (0 unless the scenario checks for them). */
  useAfterFree: number;
  firstUseAfterFreeTrial: number | null;
  /** Trials with a lost write or a use-after-free, each counted once. */
  forbiddenTrials: number;
  outcomes: Record<string, number>;
  forbiddenOutcomes: string[];
  trialsPerSecond: number;
  firstLostWriteMs: number | null;
  firstLostWriteTrial: number | null;
  elapsedMs: number;
  flushesPerTrial: number;
  ipisPerTrial: number;
  delays: Record<string, string>;
  /**
   * Window coverage (scenarios that name a window): of `trials`, how many began the racing step
   * while the window was open (`hits`), before it opened, after it closed, or never reached it.
   */
  window?: { hits: number; trials: number; before: number; after: number; missed: number };
  /** The start offsets this kernel ran with (absent in results written before window-aware offsets). */
  offsets?: OffsetsReport;
  /**
   * With --trace: the steps of the first trial with a forbidden outcome, as
   * [seq, cpu, kind, a, b] (see lib/machine/steps.ts); `tlbrace explain` draws it.
   */
  trace?: { trial: number; events: [number, number, number, number, number][] };
}

export interface ResultFile {
  schema: 1;
  /** Absent in results written before it was recorded, and in a demo's nested runs. */
  tlbrace?: Provenance;
  scenario: string;
  command: string;
  seed: number;
  machine: MachineInfo;
  cpus: number;
  params: Record<string, number>;
  /** The modelled arch (absent in older results: the scenario's, else x86). */
  arch?: "x86" | "arm64";
  offsetMaxNs: number;
  /** "window" (window-aware, learnt per kernel: see each run's offsets) or "uniform". Absent in older results: uniform. */
  offsetMode?: "window" | "uniform";
  startedAt: string;
  partial: boolean;
  runs: RunResult[];
}

export function defaultResultPath(kind: string, name: string, when: Date): string {
  const stamp = when.toISOString().replace(/[:.]/g, "-");
  return join("results", `${kind}-${name}-${stamp}.json`);
}

/** Write `text` at `path` through a temp file in the same directory and a rename. */
export function writeFileAtomic(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}

export function writeJsonAtomic(path: string, data: unknown): void {
  writeFileAtomic(path, JSON.stringify(data, null, 2) + "\n");
}

/** The directory holding tlbrace's package.json (dist/harness/ is two levels below it). */
const PACKAGE_ROOT = fileURLToPath(new URL("../../", import.meta.url));

function readVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(join(PACKAGE_ROOT, "package.json"), "utf8")) as {
      version?: unknown;
    };
    return typeof pkg.version === "string" ? pkg.version : "unknown";
  } catch {
    return "unknown";
  }
}

/** tlbrace's version, from package.json. */
export const TLBRACE_VERSION = readVersion();

/**
 * The commit of the git checkout tlbrace runs from: one `git rev-parse`, only when the checkout's
 * top level is tlbrace's own directory (not a repository that merely contains an installed copy);
 * undefined when git is missing, this is no checkout, or anything else fails.
 */
function gitCommit(): string | undefined {
  try {
    const env = { ...process.env };
    for (const k of ["GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_CEILING_DIRECTORIES"])
      delete env[k];
    const [top, head] = execFileSync("git", ["rev-parse", "--show-toplevel", "HEAD"], {
      cwd: PACKAGE_ROOT,
      env,
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
      timeout: 5000,
    })
      .trim()
      .split("\n");
    if (top === undefined || head === undefined || !/^[0-9a-f]{40,64}$/.test(head))
      return undefined;
    return realpathSync(top) === realpathSync(PACKAGE_ROOT) ? head : undefined;
  } catch {
    return undefined;
  }
}

let provenanceCache: Provenance | undefined;

/** { version, commit? } of this tlbrace, computed once per process. */
export function provenance(): Provenance {
  if (provenanceCache === undefined) {
    const commit = gitCommit();
    provenanceCache = { version: TLBRACE_VERSION, ...(commit !== undefined ? { commit } : {}) };
  }
  return provenanceCache;
}

/**
 * `data` with `tlbrace` (the provenance) right after `schema`; an older `tlbrace` field (a
 * merged file's input) is replaced by this process's.
 */
export function stamp<T extends object>(data: T): T & { tlbrace: Provenance } {
  const out: Record<string, unknown> = {};
  if ("schema" in data) out.schema = data.schema;
  out.tlbrace = provenance();
  for (const [k, v] of Object.entries(data)) if (k !== "tlbrace") out[k] = v;
  return out as T & { tlbrace: Provenance };
}

/** --out and --json, as every command that writes a result takes them. */
export interface OutputFlags {
  out?: string;
  json?: boolean;
}

/**
 * The rules, in one place:
 * - `--out FILE`: the JSON at FILE, whatever its suffix; charts beside it (chartPath).
 * - `--out -`: the JSON on stdout and no file at all (no charts either): the same as `--json`.
 * - `--json` alone: the JSON on stdout and no file; with `--out FILE` also at FILE.
 * - neither: the JSON at the command's default path under results/, a summary on stdout.
 */
export interface ResultOutput {
  /** Where the JSON is written, or null for nowhere on disk. */
  path: string | null;
  /** The JSON goes to stdout (and nothing else does). */
  stdout: boolean;
}

export function resultOutput(flags: OutputFlags, defaultPath: () => string): ResultOutput {
  if (flags.out === "-") return { path: null, stdout: true };
  if (flags.out !== undefined) return { path: flags.out, stdout: flags.json === true };
  if (flags.json === true) return { path: null, stdout: true };
  return { path: defaultPath(), stdout: false };
}

/** True when the JSON goes to stdout (--json or --out -): then nothing else may. */
export const jsonOnStdout = (flags: OutputFlags): boolean =>
  flags.json === true || flags.out === "-";

/**
 * A chart beside the result JSON at `jsonPath`: `<jsonPath minus .json>-<name>.svg`, so
 * `--out r.json` gives r-ranges.svg and `--out r` gives r-ranges.svg too. Never the JSON's own
 * path: a suffix is always appended.
 */
export function chartPath(jsonPath: string, name: string): string {
  return `${jsonPath.replace(/\.json$/i, "")}-${name}.svg`;
}

/**
 * Before a long run: fail at once (exit 2) if --out FILE cannot be written, rather than after
 * the run. Creates FILE's directory, as the final write would, and writes and removes a probe.
 */
export function checkOutPath(flags: OutputFlags): void {
  const path = flags.out;
  if (path === undefined || path === "-") return;
  const fail = (why: string): never => {
    throw new UsageError(`--out ${path}: cannot write the result file: ${why}`);
  };
  let isDir = false;
  try {
    isDir = statSync(path).isDirectory();
  } catch {
    // does not exist yet: fine
  }
  if (isDir) fail("it is a directory");
  const probe = `${path}.${process.pid}.tmp`;
  try {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(probe, "");
    unlinkSync(probe);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    fail(err.code ?? String(e));
  }
}

/**
 * Write a command's result by the rules of ResultOutput: stamped with the provenance, the JSON
 * atomically at its path and each chart beside it (charts only when there is a file), or the
 * JSON on stdout. Returns the path written (null: none) and the stamped result.
 */
export function emitResult<T extends object>(
  flags: OutputFlags,
  data: T,
  defaultPath: () => string,
  charts?: () => Record<string, string>,
): { path: string | null; result: T & { tlbrace: Provenance } } {
  const result = stamp(data);
  const o = resultOutput(flags, defaultPath);
  if (o.path !== null) {
    try {
      writeJsonAtomic(o.path, result);
      for (const [name, svg] of Object.entries(charts?.() ?? {}))
        writeFileAtomic(chartPath(o.path, name), svg);
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      throw new UsageError(`${o.path}: cannot write the result: ${err.code ?? String(e)}`);
    }
  }
  if (o.stdout) process.stdout.write(JSON.stringify(result, null, 2) + "\n");
  return { path: o.path, result };
}
