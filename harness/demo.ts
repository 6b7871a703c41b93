/**
 * `tlbrace demo`, what `npm start` runs: the seed race at natural timing, told for a newcomer.
 * The seed scenario at 1024 pages (a program that read its whole mapping) on the buggy and the
 * fixed kernel, then at 1 page, the seed's own setting, where its authors never hit the race
 * without a msleep().
 */
import { formatNs } from "../lib/units.js";
import { table } from "./format.js";
import type { ResultFile, RunResult, Provenance } from "./results.js";
import { runScenario } from "./run.js";
import { findScenario } from "./scenarios.js";

export interface DemoResult {
  schema: 1;
  /** tlbrace's version and commit (docs/outputs.md); absent in results written before. */
  tlbrace?: Provenance;
  kind: "demo";
  command: string;
  seed: number;
  startedAt: string;
  /** The seed at 1024 pages, `seconds` per kernel. */
  large: ResultFile;
  /** The seed at 1 page. */
  small: ResultFile;
}

export interface DemoOptions {
  seconds: number;
  seed: number;
  command: string;
  onStage?: (label: string) => void;
  stopRequested?: Promise<void>;
}

export const DEMO_PAGES = 1024;

export async function demo(o: DemoOptions): Promise<DemoResult> {
  const scenario = findScenario("mremap-mkclean");
  const startedAt = new Date().toISOString();
  const run = (pages: number, seconds: number): Promise<ResultFile> => {
    o.onStage?.(
      `mremap-mkclean at ${pages} page${pages === 1 ? "" : "s"}, ${seconds} s per kernel`,
    );
    return runScenario({
      scenario,
      kernels: [],
      trials: 0,
      durationMs: seconds * 1000,
      cpus: 2,
      params: { pages, target: 0 },
      delays: new Map(),
      seed: o.seed,
      watchdogMs: 20_000,
      command: o.command,
      warmupTrials: 1000,
      stopRequested: o.stopRequested,
    });
  };
  const large = await run(DEMO_PAGES, o.seconds);
  const small = await run(1, Math.max(1, Math.round(o.seconds / 4)));
  return { schema: 1, kind: "demo", command: o.command, seed: o.seed, startedAt, large, small };
}

const num = (n: number): string => n.toLocaleString("en-US");
const pct = (a: number, b: number): string =>
  b === 0 ? "-" : `${+((100 * a) / b).toPrecision(a === 0 ? 1 : 3)}%`;

function rows(r: ResultFile): string[][] {
  return r.runs.map((x: RunResult) => [
    x.kernel,
    num(x.trials),
    num(x.lostWrites),
    pct(x.lostWrites, x.trials),
    x.firstLostWriteMs === null ? "-" : formatNs(x.firstLostWriteMs * 1e6),
    x.window === undefined ? "-" : `${num(x.window.hits)} (${pct(x.window.hits, x.trials)})`,
  ]);
}

function said(x: RunResult | undefined, what: string, fixed: boolean): string {
  if (x === undefined) return `${what}: did not run (stopped early).`;
  const w = x.window === undefined ? 0 : x.window.hits;
  if (x.lostWrites > 0)
    return `${what}: ${num(x.lostWrites)} of ${num(x.trials)} trials lost the write (${pct(x.lostWrites, x.trials)}); the first after ${formatNs((x.firstLostWriteMs ?? 0) * 1e6)}.`;
  const tried = `${num(w)} of which put the write inside the race window`;
  return fixed
    ? `${what}: no write lost in ${num(x.trials)} trials, ${tried}: the window was really tried, and the fix closes it.`
    : `${what}: no write lost in ${num(x.trials)} trials, ${tried}; at this size a window hit rarely lines up with the cleaning as well.`;
}

export function formatDemo(d: DemoResult, path: string): string {
  const [buggy, fixed] = d.large.runs;
  const [buggy1, fixed1] = d.small.runs;
  const header = ["kernel", "trials", "lost writes", "rate", "first lost", "write in window"];
  const right = [false, true, true, true, true, true];
  return [
    `The seed race of Linux commit 5d1904204c99 ("mremap: fix race between mremap() and page`,
    `cleanning"), reproduced at natural timing: nothing was injected, no delay, no msleep().`,
    ``,
    `What ran: two worker threads of this process are two CPUs sharing one modelled machine.`,
    `Thread 1 mapped a ${DEMO_PAGES}-page file, read all of it and wrote 1 to its first page; then,`,
    `while thread 2 mremap()ed the mapping elsewhere, thread 1 laundered that page (fadvise`,
    `DONTNEED) and wrote 2 through the old address. Afterwards it unmapped, dropped the page and`,
    `read the file back. A lost write is a read-back of 1 although the write of 2 succeeded: the`,
    `write went through a stale TLB entry that mremap() had not flushed yet.`,
    `The kernel code ran at the speed of this machine's cores; the harness only chose when each`,
    `CPU started (window-aware start offsets: learnt from a warm-up, aimed across the window).`,
    ``,
    table([header, ...rows(d.large)], right),
    ``,
    said(buggy, `${buggy?.kernel ?? "v4.9-rc4"} (before the fix)`, false),
    said(fixed, `${fixed?.kernel ?? "5d1904204c99"} (the fix)`, true),
    ``,
    `At 1 page, the seed's own setting, the move is over in a few microseconds:`,
    table([header, ...rows(d.small)], right),
    said(buggy1, `${buggy1?.kernel ?? "v4.9-rc4"} at 1 page`, false),
    said(fixed1, `${fixed1?.kernel ?? "5d1904204c99"} at 1 page`, true),
    `The seed's authors "have not been able to hit it without modifying the code"; with a`,
    `mapping that a real program has read, the window is about a hundred times wider.`,
    ``,
    `To widen the window by hand (the model's msleep()):`,
    `  node dist/harness/cli.js run mremap-mkclean --delay move_ptes:unlocked=100us`,
    `Other sizes: node dist/harness/cli.js run mremap-mkclean --pages 256`,
    `How the numbers are read: docs/natural-timing.md`,
    `Result: ${path}`,
    d.large.partial || d.small.partial ? `PARTIAL: stopped early` : ``,
  ]
    .join("\n")
    .trimEnd();
}
