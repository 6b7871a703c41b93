/**
 * The kernel variants the benches know: the history (KERNELS). Mel Gorman's June 2018
 * LATENCY_LIMIT patch, once a bench-only proposal here, is in it as remove-latency-limit.
 */
import { KERNELS, type Kernel } from "../../lib/kernels/index.js";

export const BENCH_KERNELS: readonly Kernel[] = KERNELS;
