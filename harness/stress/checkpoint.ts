/**
 * The result file, written atomically (temp file + rename) at the start, at every checkpoint
 * and at the end, so a killed run loses at most one interval. A path that cannot be written at
 * the start is bad input; a write that fails mid-run is reported and the run keeps counting.
 */
import { UsageError } from "../../lib/units.js";
import { writeJsonAtomic } from "../results.js";

function reason(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  return err.code !== undefined ? `${err.code} (${err.message.replace(/^\w+: /, "")})` : String(e);
}

export class Checkpointer {
  private failing = false;

  constructor(
    readonly path: string,
    private readonly warn: (line: string) => void,
  ) {}

  /** The first write: before any machine starts. Throws UsageError (exit 2) if it fails. */
  first(data: unknown): void {
    try {
      writeJsonAtomic(this.path, data);
    } catch (e) {
      throw new UsageError(`--out ${this.path}: cannot write the result file: ${reason(e)}`);
    }
  }

  /** A checkpoint or the final write; false (and one line on stderr) if it failed. */
  write(data: unknown, final = false): boolean {
    try {
      writeJsonAtomic(this.path, data);
      if (this.failing) this.warn(`tlbrace: ${this.path} written again`);
      this.failing = false;
      return true;
    } catch (e) {
      this.failing = true;
      this.warn(
        final
          ? `tlbrace: the final result could not be written to ${this.path}: ${reason(e)}; the counts are in the table on stdout`
          : `tlbrace: checkpoint to ${this.path} failed: ${reason(e)}; still counting, will try again`,
      );
      return false;
    }
  }
}
