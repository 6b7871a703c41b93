/**
 * The live view on a TTY: a block of lines redrawn in place. Lines printed meanwhile (faults)
 * go above it. Elsewhere nothing is drawn; the command prints a line per checkpoint instead.
 */
export interface Terminal {
  write(s: string): unknown;
  columns?: number;
}

export class LiveView {
  private height = 0;

  constructor(
    readonly enabled: boolean,
    private readonly out: Terminal = process.stderr,
  ) {}

  draw(lines: string[]): void {
    if (!this.enabled) return;
    const cols = this.out.columns ?? 120;
    this.clear();
    this.out.write(lines.map((l) => l.slice(0, cols - 1)).join("\n") + "\n");
    this.height = lines.length;
  }

  /** A line of its own, above the live block (which the next draw() redraws). */
  print(line: string): void {
    this.clear();
    this.out.write(line + "\n");
  }

  clear(): void {
    if (this.height > 0) this.out.write(`\x1b[${this.height}A\x1b[J`);
    this.height = 0;
  }
}
