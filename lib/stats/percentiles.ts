/**
 * Latency percentiles from an HDR-style histogram (node:perf_hooks RecordableHistogram has this
 * shape), and the log-spaced bins a latency histogram chart is drawn from.
 */

/** What a percentile summary needs from a histogram. */
export interface HistogramLike {
  readonly count: number;
  readonly max: number;
  readonly mean: number;
  percentile(p: number): number;
}

export interface Percentiles {
  samples: number;
  p50Ns: number;
  p90Ns: number;
  p99Ns: number;
  p999Ns: number;
  maxNs: number;
  meanNs: number;
}

export function percentiles(h: HistogramLike): Percentiles {
  if (h.count === 0)
    return { samples: 0, p50Ns: 0, p90Ns: 0, p99Ns: 0, p999Ns: 0, maxNs: 0, meanNs: 0 };
  return {
    samples: h.count,
    p50Ns: h.percentile(50),
    p90Ns: h.percentile(90),
    p99Ns: h.percentile(99),
    p999Ns: h.percentile(99.9),
    maxNs: h.max,
    meanNs: Math.round(h.mean),
  };
}

/** Nearest-rank percentile of sorted values (p in 0..100): the reference the histogram is checked against. */
export function nearestRank(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) throw new RangeError("nearestRank: no values");
  if (!(p >= 0 && p <= 100)) throw new RangeError(`nearestRank: p=${p} is not in 0..100`);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1] as number;
}

/** Bins per decade of the latency histogram: 10^(1/BINS_PER_DECADE) wide, about 26% each. */
export const BINS_PER_DECADE = 10;
/** Latencies binned from 10 ns to 10 s. */
export const BIN_MIN_NS = 10;
export const NR_BINS = 8 * BINS_PER_DECADE;

/** The bin of a latency: 0 for anything at or below BIN_MIN_NS, NR_BINS - 1 for the tail. */
export function latencyBin(ns: number): number {
  if (ns <= BIN_MIN_NS) return 0;
  const b = Math.floor(Math.log10(ns / BIN_MIN_NS) * BINS_PER_DECADE);
  return b >= NR_BINS ? NR_BINS - 1 : b;
}

/** Count one latency into its bin (bins: NR_BINS counters, allocated once per cell). */
export function countLatency(bins: Uint32Array, ns: number): void {
  const b = latencyBin(ns);
  bins[b] = (bins[b] as number) + 1;
}

/** Lower edge of a bin, in ns. */
export const binLowNs = (bin: number): number => BIN_MIN_NS * 10 ** (bin / BINS_PER_DECADE);

/** Non-empty bins as [low edge ns, count] pairs: what the result JSON keeps. */
export function binsToPairs(counts: ArrayLike<number>): [number, number][] {
  const out: [number, number][] = [];
  for (let b = 0; b < counts.length; b++) {
    const c = counts[b] as number;
    if (c > 0) out.push([Math.round(binLowNs(b) * 10) / 10, c]);
  }
  return out;
}
