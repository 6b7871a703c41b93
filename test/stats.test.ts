import test from "ava";
import { createHistogram } from "node:perf_hooks";
import {
  binLowNs,
  binsToPairs,
  latencyBin,
  meanInterval,
  nearestRank,
  NR_BINS,
  pairedRatioInterval,
  percentiles,
  rateInterval,
  tQuantile975,
} from "../lib/stats/index.js";

// Statistics of the benches checked on known data (values worked by hand or from R/scipy).

test("nearestRank: textbook cases", (t) => {
  const xs = [15, 20, 35, 40, 50];
  t.is(nearestRank(xs, 5), 15);
  t.is(nearestRank(xs, 30), 20);
  t.is(nearestRank(xs, 40), 20);
  t.is(nearestRank(xs, 50), 35);
  t.is(nearestRank(xs, 100), 50);
  t.throws(() => nearestRank([], 50), { instanceOf: RangeError });
  t.throws(() => nearestRank(xs, 101), { instanceOf: RangeError });
});

test("percentiles of an HDR histogram of 1..10000 ns agree with nearest rank within its precision", (t) => {
  const h = createHistogram();
  const sorted: number[] = [];
  for (let v = 1; v <= 10_000; v++) {
    h.record(v);
    sorted.push(v);
  }
  const p = percentiles(h);
  t.is(p.samples, 10_000);
  t.true(Math.abs(p.maxNs - 10_000) / 10_000 < 0.002, `max ${p.maxNs}`); // 3 significant digits
  t.is(p.meanNs, 5001); // (1 + 10000) / 2 = 5000.5
  const close = (got: number, want: number): boolean => Math.abs(got - want) / want < 0.002;
  t.true(close(p.p50Ns, nearestRank(sorted, 50)), `p50 ${p.p50Ns}`);
  t.true(close(p.p90Ns, nearestRank(sorted, 90)), `p90 ${p.p90Ns}`);
  t.true(close(p.p99Ns, nearestRank(sorted, 99)), `p99 ${p.p99Ns}`);
  t.true(close(p.p999Ns, nearestRank(sorted, 99.9)), `p99.9 ${p.p999Ns}`);
});

test("percentiles: a skewed distribution keeps its tail, and an empty one is all zeros", (t) => {
  const h = createHistogram();
  for (let i = 0; i < 990; i++) h.record(100);
  for (let i = 0; i < 10; i++) h.record(50_000);
  const p = percentiles(h);
  t.is(p.p50Ns, 100);
  t.is(p.p90Ns, 100);
  t.is(p.p99Ns, 100);
  t.true(Math.abs(p.p999Ns - 50_000) / 50_000 < 0.002);
  t.is(p.maxNs, 50_015); // HDR keeps 3 significant digits: 50,000 lands in the bucket ending 50,015
  t.deepEqual(percentiles(createHistogram()), {
    samples: 0,
    p50Ns: 0,
    p90Ns: 0,
    p99Ns: 0,
    p999Ns: 0,
    maxNs: 0,
    meanNs: 0,
  });
});

test("latency bins: ten per decade from 10 ns, clamped at both ends", (t) => {
  t.is(latencyBin(1), 0);
  t.is(latencyBin(10), 0);
  t.is(latencyBin(100), 10);
  t.is(latencyBin(99), 9);
  t.is(latencyBin(1000), 20);
  t.is(latencyBin(1e12), NR_BINS - 1);
  t.is(binLowNs(10), 100);
  t.deepEqual(binsToPairs([0, 3, 0, 1]), [
    [12.6, 3],
    [20, 1], // 10^1.3 = 19.95
  ]);
});

test("tQuantile975: the table and the tail formula", (t) => {
  t.is(tQuantile975(1), 12.706);
  t.is(tQuantile975(9), 2.262);
  t.true(Math.abs(tQuantile975(40) - 2.021) < 1e-3);
  t.true(Math.abs(tQuantile975(120) - 1.98) < 1e-3);
  t.throws(() => tQuantile975(0), { instanceOf: RangeError });
});

test("meanInterval: a worked example", (t) => {
  // mean 5, sd sqrt(2.5) = 1.5811, t(0.975, 4) = 2.776: half-width 1.963.
  const m = meanInterval([3, 4, 5, 6, 7]);
  t.is(m.mean, 5);
  t.true(Math.abs(m.sd - 1.5811) < 1e-4);
  t.true(Math.abs(m.low - 3.037) < 1e-3);
  t.true(Math.abs(m.high - 6.963) < 1e-3);
  t.throws(() => meanInterval([1]), { instanceOf: RangeError });
});

test("pairedRatioInterval: geometric mean of ratios, interval from the log ratios", (t) => {
  const a = [100, 100, 100, 100];
  const b = [90, 110, 95, 105];
  const r = pairedRatioInterval(a, b);
  t.is(r.pairs, 4);
  const logs = b.map((y, i) => Math.log(y / (a[i] as number)));
  const m = meanInterval(logs);
  t.true(Math.abs(r.ratio - Math.exp(m.mean)) < 1e-12);
  t.true(r.low < 1 && r.high > 1, "a no-change workload's interval holds 1");
  t.true(r.low > 0);
  // A real 2x slowdown with small noise: the interval excludes 1.
  const s = pairedRatioInterval([10, 11, 9, 10], [5, 5.4, 4.6, 5.1]);
  t.true(s.high < 1 && s.low > 0.4);
  t.throws(() => pairedRatioInterval([1, 2], [1]), { instanceOf: RangeError });
  t.throws(() => pairedRatioInterval([1, 0], [1, 1]), { instanceOf: RangeError });
});

test("rateInterval: Wilson score, and the rule-of-three bound at zero", (t) => {
  // 10 of 100: Wilson 95% interval (0.0552, 0.1744).
  const w = rateInterval(10, 100);
  t.is(w.method, "wilson");
  t.is(w.rate, 0.1);
  t.true(Math.abs(w.low - 0.0552) < 1e-4, String(w.low));
  t.true(Math.abs(w.high - 0.1744) < 1e-4, String(w.high));
  // 0 in 3.2M: rate < 9.4e-7 at 95% (1 - 0.05^(1/n), about 3/n).
  const z = rateInterval(0, 3_200_000);
  t.is(z.method, "clopper-pearson");
  t.is(z.rate, 0);
  t.is(Number(z.high.toPrecision(2)), 9.4e-7);
  // All events: the interval touches 1.
  t.is(rateInterval(5, 5).high, 1);
  t.throws(() => rateInterval(3, 2), { instanceOf: RangeError });
  t.throws(() => rateInterval(0, 0), { instanceOf: RangeError });
});
