/**
 * Progress on stderr. On a TTY: one line redrawn in place, with a bar and an ETA. Elsewhere
 * (CI, pipes): one line per stage and nothing else, so logs stay short.
 */
import { formatNs } from "../lib/units.js";

export class Progress {
  private started = 0;
  private drawn = false;

  constructor(
    private readonly tty: boolean,
    private readonly quiet = false,
  ) {}

  /** A new stage (a kernel, a matrix cell): a line of its own when not on a TTY. */
  stage(label: string): void {
    this.started = performance.now();
    if (this.quiet) return;
    if (!this.tty) process.stderr.write(`${label}\n`);
  }

  /** `done` of `total` units (trials, cells), or of `totalMs` when the stage runs for a duration. */
  update(label: string, done: number, total: number, totalMs = 0, unit = "trials"): void {
    if (this.quiet || !this.tty) return;
    const elapsed = performance.now() - this.started;
    const frac =
      total > 0 ? Math.min(1, done / total) : totalMs > 0 ? Math.min(1, elapsed / totalMs) : 0;
    const etaMs = frac > 0 ? (elapsed / frac) * (1 - frac) : NaN;
    const width = 24;
    const bar = "#".repeat(Math.round(frac * width)).padEnd(width, ".");
    const eta = Number.isFinite(etaMs) ? `ETA ${formatNs(etaMs * 1e6)}` : "ETA -";
    process.stderr.write(
      `\r${label} [${bar}] ${(frac * 100).toFixed(0).padStart(3)}% ${done.toLocaleString("en-US")} ${unit}  ${eta}\x1b[K`,
    );
    this.drawn = true;
  }

  done(): void {
    if (this.drawn) process.stderr.write("\r\x1b[K");
    this.drawn = false;
  }
}
