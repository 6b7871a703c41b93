/**
 * Confidence intervals: for a mean and a paired ratio (Student's t), and for a rate of rare
 * events (Wilson score; the exact one-sided Clopper-Pearson bound when nothing was seen).
 */

/** Two-sided 95% quantiles of Student's t, t(0.975, df), df = 1..30; above 30 a tail formula. */
const T975 = [
  12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145,
  2.131, 2.12, 2.11, 2.101, 2.093, 2.086, 2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048,
  2.045, 2.042,
];

export function tQuantile975(df: number): number {
  if (!Number.isInteger(df) || df < 1) throw new RangeError(`tQuantile975: df=${df}`);
  const t = T975[df - 1];
  if (t !== undefined) return t;
  // Cornish-Fisher expansion around z = 1.95996: good to 1e-3 for df > 30.
  const z = 1.959964;
  return z + (z ** 3 + z) / (4 * df) + (5 * z ** 5 + 16 * z ** 3 + 3 * z) / (96 * df * df);
}

export interface MeanInterval {
  n: number;
  mean: number;
  /** Sample standard deviation (n - 1). */
  sd: number;
  low: number;
  high: number;
}

/** Mean with a 95% t interval. Needs at least two values. */
export function meanInterval(xs: readonly number[]): MeanInterval {
  const n = xs.length;
  if (n < 2) throw new RangeError("meanInterval: needs at least 2 values");
  let sum = 0;
  for (const x of xs) sum += x;
  const mean = sum / n;
  let ss = 0;
  for (const x of xs) ss += (x - mean) ** 2;
  const sd = Math.sqrt(ss / (n - 1));
  const half = (tQuantile975(n - 1) * sd) / Math.sqrt(n);
  return { n, mean, sd, low: mean - half, high: mean + half };
}

export interface RatioInterval {
  pairs: number;
  /** Geometric mean of the per-pair ratios b/a. */
  ratio: number;
  low: number;
  high: number;
}

/**
 * Ratio of B's throughput to A's from paired runs, with a 95% interval: a t interval on the
 * mean log ratio, transformed back (so the interval of a ratio is never symmetric or negative).
 */
export function pairedRatioInterval(a: readonly number[], b: readonly number[]): RatioInterval {
  if (a.length !== b.length) throw new RangeError("pairedRatioInterval: unequal pair counts");
  const logs = a.map((x, i) => {
    const y = b[i] as number;
    if (!(x > 0 && y > 0)) throw new RangeError("pairedRatioInterval: values must be positive");
    return Math.log(y / x);
  });
  const m = meanInterval(logs);
  return { pairs: a.length, ratio: Math.exp(m.mean), low: Math.exp(m.low), high: Math.exp(m.high) };
}

export interface RateInterval {
  events: number;
  trials: number;
  rate: number;
  low: number;
  high: number;
  method: "wilson" | "clopper-pearson";
}

/**
 * The rate events/trials with a 95% interval: Wilson score for events > 0; for zero events the
 * exact one-sided Clopper-Pearson upper bound, what a "fixed" verdict may quote.
 */
export function rateInterval(events: number, trials: number): RateInterval {
  if (
    !Number.isInteger(events) ||
    !Number.isInteger(trials) ||
    events < 0 ||
    trials < 1 ||
    events > trials
  )
    throw new RangeError(`rateInterval: ${events} events in ${trials} trials`);
  // Zero events: the one-sided 95% upper bound, 1 - 0.05^(1/n), about 3/n (the rule of three).
  if (events === 0) {
    return {
      events,
      trials,
      rate: 0,
      low: 0,
      high: 1 - 0.05 ** (1 / trials),
      method: "clopper-pearson",
    };
  }
  const z = 1.959964;
  const p = events / trials;
  const z2n = (z * z) / trials;
  const centre = (p + z2n / 2) / (1 + z2n);
  const half = (z * Math.sqrt((p * (1 - p)) / trials + z2n / (4 * trials))) / (1 + z2n);
  return {
    events,
    trials,
    rate: p,
    low: Math.max(0, centre - half),
    high: Math.min(1, centre + half),
    method: "wilson",
  };
}
