/**
 * What a stress run, or one shard of a campaign, runs: the scenario x kernel cells in a fixed
 * order, each shard's share of the trials, and the seed of every slice of work. All of it is a
 * pure function of the options, so N hosts given the same options and their own `--shard I/N`
 * split one campaign without talking to each other.
 */
import { KERNELS, kernelIndex } from "../../lib/kernels/index.js";
import type { ScenarioSpec } from "../../lib/scenarios/types.js";
import { UsageError } from "../../lib/units.js";

export interface Shard {
  /** 0-based, as JOB_COMPLETION_INDEX and a GitHub matrix index are. */
  index: number;
  count: number;
}

export interface Cell {
  scenario: ScenarioSpec;
  kernel: string;
}

/** "I/N" with 0 <= I < N. */
export function parseShard(text: string): Shard {
  const m = /^(\d+)\/(\d+)$/.exec(text.trim());
  const index = Number(m?.[1]);
  const count = Number(m?.[2]);
  if (m === null || count < 1 || count > 100_000 || index >= count) {
    throw new UsageError(`--shard: "${text}" is not I/N with 0 <= I < N (e.g. 0/3, 1/3, 2/3)`);
  }
  return { index, count };
}

/**
 * The cells: scenarios in the order given, kernels in history order. Each scenario runs its own
 * pair, or every kernel variant with `allKernels`; a non-empty `kernels` then keeps only those.
 */
export function buildCells(
  scenarios: ScenarioSpec[],
  kernels: string[],
  allKernels = false,
): Cell[] {
  for (const k of kernels) {
    if (kernelIndex(k) < 0)
      throw new UsageError(
        `--kernel: unknown kernel "${k}" (valid: ${KERNELS.map((x) => x.name).join(", ")})`,
      );
  }
  const names = [...new Set(scenarios.map((s) => s.name))];
  if (names.length !== scenarios.length)
    throw new UsageError(`--scenario/--file: a scenario name appears twice`);
  const cells = scenarios.flatMap((scenario) =>
    (allKernels ? KERNELS.map((k) => k.name) : [...new Set(scenario.kernels)])
      .filter((k) => kernels.length === 0 || kernels.includes(k))
      .sort((a, b) => kernelIndex(a) - kernelIndex(b))
      .map((kernel) => ({ scenario, kernel })),
  );
  if (cells.length === 0)
    throw new UsageError(
      `--kernel: no selected scenario compares ${kernels.join(", ")} (add --all-kernels to run it on every scenario)`,
    );
  return cells;
}

/**
 * Default machines of one size: enough to give every core one CPU.
 * - A machine whose CPUs each have a core (cpus <= cores) spins while it waits, so it keeps
 *   cpus cores busy: floor(cores / cpus) machines, at least 1. More threads than cores would
 *   make spinners steal time from lock holders and close the windows being measured.
 * - A machine with more CPUs than cores sleeps in its widening delays and parks its waiters
 *   (Machine.run), so it keeps about one core busy (0.73 to 0.99 measured for the 3-CPU
 *   scenarios on 2 cores): one machine per core.
 */
export function defaultMachines(cores: number, cpusPerMachine: number): number {
  if (cpusPerMachine > cores) return Math.max(1, cores);
  return Math.max(1, Math.floor(cores / cpusPerMachine));
}

/** The cells that run on machines of one size, and how many such machines run at once. */
export interface MachineClass {
  cpus: number;
  machines: number;
  /** Indices into the cell list, in order. */
  cells: number[];
}

/**
 * Group the cells by the size of machine they run on (`sizes[cell]`), in order of first
 * appearance. Each class runs `machines` machines at once, or its default when that is null.
 * The classes take turns: machines of two sizes never run together, so a 2-CPU machine that
 * needs both cores is not squeezed by a 3-CPU one.
 */
export function machineClasses(
  sizes: number[],
  cores: number,
  machines: number | null,
): MachineClass[] {
  const classes: MachineClass[] = [];
  sizes.forEach((cpus, cell) => {
    let c = classes.find((x) => x.cpus === cpus);
    if (c === undefined) {
      c = { cpus, machines: machines ?? defaultMachines(cores, cpus), cells: [] };
      classes.push(c);
    }
    c.cells.push(cell);
  });
  return classes;
}

/**
 * Shard `shard`'s share of `total` trials of cell `cell`: an even split whose remainder rotates
 * with the cell, so the shards' shares of every cell add up to exactly `total`.
 */
export function shardTrials(total: number, shard: Shard, cell: number): number {
  const base = Math.floor(total / shard.count);
  const extra = total % shard.count;
  return base + ((shard.index - (cell % shard.count) + shard.count) % shard.count < extra ? 1 : 0);
}

/** The murmur3 finaliser: a well-mixed bijection of 32-bit words. */
function mix32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return x >>> 0;
}

/** A retried slice gets a new seed, at most this many times (then its trials are dropped). */
export const MAX_ATTEMPTS = 8;

/**
 * The seed of one slice. A trial's start offsets hash (seed, trial, CPU) with the trial counted
 * from 0 in every batch, so two slices with one seed would replay the same offsets: every slice
 * of a campaign, on any host or machine, gets its own. The slice's ordinal (slice, retry, cell,
 * shard) is added to a hash of the campaign (seed, shard count) and mixed by a bijection of
 * 32-bit words, so within a campaign distinct ordinals (below 2^32) give distinct seeds, not
 * just probably distinct ones.
 */
export function sliceSeed(
  seed: number,
  shard: Shard,
  cells: number,
  cell: number,
  slice: number,
  attempt = 0,
): number {
  const ordinal =
    ((slice * MAX_ATTEMPTS + Math.min(attempt, MAX_ATTEMPTS - 1)) * cells + cell) * shard.count +
    shard.index;
  const campaign = mix32(mix32(seed ^ 0x243f6a88) ^ Math.imul(shard.count, 0x9e3779b1));
  return mix32((campaign + ordinal) >>> 0);
}
