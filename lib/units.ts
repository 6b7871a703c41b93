/** Parsing of durations and counts, for the CLI and for scenario files. Errors name the value. */

export class UsageError extends Error {}

const UNITS: Record<string, number> = {
  ns: 1,
  us: 1e3,
  µs: 1e3,
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9,
};

/** "50us", "2ms", "1.5s", "100ns" -> nanoseconds. A bare number uses `bareUnit`. */
export function parseDuration(text: string, what: string, bareUnit?: keyof typeof UNITS): number {
  const m = /^(\d+(?:\.\d+)?)\s*(ns|us|µs|ms|s|m|h)?$/.exec(text.trim());
  const unit = m?.[2] ?? bareUnit;
  if (m === null || unit === undefined) {
    throw new UsageError(
      `${what}: "${text}" is not a duration (use a number with a unit: ns, us, ms, s, m, h; e.g. 50us, 2ms)`,
    );
  }
  return Math.round(Number(m[1]) * (UNITS[unit] as number));
}

/** A positive (or non-negative) integer. */
export function parseCount(
  text: string,
  what: string,
  min = 1,
  max = Number.MAX_SAFE_INTEGER,
): number {
  const t = text.trim().replace(/_/g, "");
  const m = /^(\d+(?:\.\d+)?)(k|M)?$/.exec(t);
  const v = m === null ? NaN : Number(m[1]) * (m[2] === "k" ? 1e3 : m[2] === "M" ? 1e6 : 1);
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new UsageError(`${what}: "${text}" is not an integer from ${min} to ${max}`);
  }
  return v;
}

/** "12.3 us", "4.56 ms", "1.20 s" from nanoseconds. */
export function formatNs(ns: number): string {
  if (ns < 0) return `-${formatNs(-ns)}`;
  if (ns < 1e3) return `${ns.toFixed(0)} ns`;
  if (ns < 1e6) return `${(ns / 1e3).toFixed(ns < 1e4 ? 2 : 1)} us`;
  if (ns < 1e9) return `${(ns / 1e6).toFixed(ns < 1e7 ? 2 : 1)} ms`;
  return `${(ns / 1e9).toFixed(2)} s`;
}
