/**
 * Progress on stderr. On a terminal that can redraw: one line redrawn in place, with a bar and
 * an ETA. Elsewhere (CI, pipes, TERM=dumb): one line per stage and nothing else, so logs stay
 * short and hold no escape codes. NO_COLOR does not matter here: the bar has no colour.
 */
import { formatNs } from "../lib/units.js";

/** The stream progress writes to: process.stderr, or a stand-in in tests. */
export interface ProgressStream {
  write(s: string): unknown;
  isTTY?: boolean;
}

/**
 * Whether `stream` takes \r redraws and \x1b[K: a TTY whose TERM is not "dumb" (Emacs shells,
 * some CI runners' pseudo-terminals).
 */
export function canRedraw(
  stream: ProgressStream = process.stderr,
  env: NodeJS.ProcessEnv = process.env,
): boolean {
  return stream.isTTY === true && env.TERM !== "dumb";
}

export class Progress {
  private started = 0;
  private drawn = false;
  private readonly redraw: boolean;

  /**
   * `tty`: the caller's view (usually process.stderr.isTTY); redraws also need a TERM that can
   * take them (see canRedraw). `now` is the clock, for tests.
   */
  constructor(
    tty: boolean,
    private readonly quiet = false,
    private readonly out: ProgressStream = process.stderr,
    env: NodeJS.ProcessEnv = process.env,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.redraw = tty && env.TERM !== "dumb";
  }

  /**
   * A new stage (a kernel, a matrix cell): a line of its own when not redrawing. Call it when
   * the stage's work begins, not at its first report: the ETA is measured from here.
   */
  stage(label: string): void {
    this.started = this.now();
    if (this.quiet) return;
    if (!this.redraw) this.out.write(`${label}\n`);
  }

  /** `done` of `total` units (trials, cells), or of `totalMs` when the stage runs for a duration. */
  update(label: string, done: number, total: number, totalMs = 0, unit = "trials"): void {
    if (this.quiet || !this.redraw) return;
    this.out.write(
      `\r${progressLine(label, done, total, this.now() - this.started, totalMs, unit)}\x1b[K`,
    );
    this.drawn = true;
  }

  done(): void {
    if (this.drawn) this.out.write("\r\x1b[K");
    this.drawn = false;
  }
}

/**
 * The bar: `label [####....]  43% 26,039 trials  ETA 1.02 s`. The ETA is the time the stage has
 * taken so far, scaled to what is left: from `elapsedMs` since the stage began.
 */
export function progressLine(
  label: string,
  done: number,
  total: number,
  elapsedMs: number,
  totalMs = 0,
  unit = "trials",
): string {
  const frac =
    total > 0 ? Math.min(1, done / total) : totalMs > 0 ? Math.min(1, elapsedMs / totalMs) : 0;
  const etaMs =
    total <= 0 && totalMs > 0
      ? Math.max(0, totalMs - elapsedMs)
      : frac > 0
        ? (elapsedMs / frac) * (1 - frac)
        : NaN;
  const width = 24;
  const bar = "#".repeat(Math.round(frac * width)).padEnd(width, ".");
  const eta = Number.isFinite(etaMs) ? `ETA ${formatNs(etaMs * 1e6)}` : "ETA -";
  return `${label} [${bar}] ${(frac * 100).toFixed(0).padStart(3)}% ${done.toLocaleString("en-US")} ${unit}  ${eta}`;
}
