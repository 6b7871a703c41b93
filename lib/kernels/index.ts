/** The kernel variants, in history order: a scenario's expected verdicts follow this order. */
import { k1cf35d47712d } from "./1cf35d47712d.js";
import { k3ea277194daa } from "./3ea277194daa.js";
import { k5d1904204c99 } from "./5d1904204c99.js";
import { k5df397dec7c4 } from "./5df397dec7c4.js";
import { k9f132f7e1455 } from "./9f132f7e1455.js";
import { k97113eb39fa7 } from "./97113eb39fa7.js";
import { eb66ae030829 } from "./eb66ae030829.js";
import type { Kernel } from "./kernel.js";
import { removeLatencyLimit } from "./remove-latency-limit.js";
import { v3_14 } from "./v3.14.js";
import { v4_9_rc4 } from "./v4.9-rc4.js";
import { v4_9 } from "./v4.9.js";

export type { Kernel } from "./kernel.js";

export const KERNELS: readonly Kernel[] = [
  v3_14,
  k1cf35d47712d,
  v4_9_rc4,
  k5d1904204c99,
  v4_9,
  k3ea277194daa,
  removeLatencyLimit,
  eb66ae030829,
  k9f132f7e1455,
  k97113eb39fa7,
  k5df397dec7c4,
];

export function kernelIndex(name: string): number {
  return KERNELS.findIndex((k) => k.name === name);
}

/**
 * Names variants had before, and the variant each is now (with why, for the note). Kept so that
 * --kernel, scenario files and result files written with an old name still work.
 */
export const KERNEL_ALIASES: Readonly<
  Record<string, { readonly name: string; readonly why: string }>
> = {
  "dirty-after-clear": {
    name: "v4.9",
    why: "Aaron Lu's dirty-after-clear fix is in Linux 4.9",
  },
  "latency-limit-pmd": {
    name: "remove-latency-limit",
    why: "Mel Gorman's June 2018 LATENCY_LIMIT patch as it went into mmotm: it removes the limit",
  },
};

/**
 * The variant a name means now: an old name (KERNEL_ALIASES) gives the new one and a one-line
 * note for the user; any other name is returned as it is (kernelIndex() says whether it exists).
 * Pure: the caller prints the note.
 */
export function resolveKernelName(name: string): { name: string; note?: string } {
  if (!Object.hasOwn(KERNEL_ALIASES, name)) return { name };
  const a = KERNEL_ALIASES[name] as (typeof KERNEL_ALIASES)[string];
  return { name: a.name, note: `kernel "${name}" is now "${a.name}" (${a.why})` };
}
