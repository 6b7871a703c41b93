/** The kernel variants the benches know: history, plus the 2018 LATENCY_LIMIT proposal. */
import { KERNELS, type Kernel } from "../../lib/kernels/index.js";
import { latencyLimitPmd } from "../../lib/kernels/latency-limit-pmd.js";

export const BENCH_KERNELS: readonly Kernel[] = [...KERNELS, latencyLimitPmd];
