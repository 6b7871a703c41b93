/** The kernel variants, in history order. */
import { k5d1904204c99 } from "./5d1904204c99.js";
import type { Kernel } from "./kernel.js";
import { v4_9_rc4 } from "./v4.9-rc4.js";

export type { Kernel } from "./kernel.js";

export const KERNELS: readonly Kernel[] = [v4_9_rc4, k5d1904204c99];

export function kernelIndex(name: string): number {
  return KERNELS.findIndex((k) => k.name === name);
}
