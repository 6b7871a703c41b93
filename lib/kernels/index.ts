/** The kernel variants, in history order: a scenario's expected verdicts follow this order. */
import { k1cf35d47712d } from "./1cf35d47712d.js";
import { k3ea277194daa } from "./3ea277194daa.js";
import { k5d1904204c99 } from "./5d1904204c99.js";
import { k5df397dec7c4 } from "./5df397dec7c4.js";
import { dirtyAfterClear } from "./dirty-after-clear.js";
import { eb66ae030829 } from "./eb66ae030829.js";
import type { Kernel } from "./kernel.js";
import { v3_14 } from "./v3.14.js";
import { v4_9_rc4 } from "./v4.9-rc4.js";

export type { Kernel } from "./kernel.js";

export const KERNELS: readonly Kernel[] = [
  v3_14,
  k1cf35d47712d,
  v4_9_rc4,
  k5d1904204c99,
  dirtyAfterClear,
  k3ea277194daa,
  eb66ae030829,
  k5df397dec7c4,
];

export function kernelIndex(name: string): number {
  return KERNELS.findIndex((k) => k.name === name);
}
