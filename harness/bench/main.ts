/**
 * `npm run bench [-- --seconds N] [--json] [--out FILE]`: the harness benchmarks. Prints
 * figures; writes the JSON under results/ (or at --out; --json alone, or --out -: stdout only).
 */
import { Command } from "commander";
import { checkOutPath, defaultResultPath, emitResult, jsonOnStdout } from "../results.js";
import { machineInfo } from "../sysinfo.js";
import { parseCount } from "../../lib/units.js";
import { formatSeedBench, seedBench } from "./seed.js";

const program = new Command()
  .name("npm run bench --")
  .description("harness speed and natural race rates for the seed scenario")
  .option("--seconds <n>", "seconds per kernel and cell", "5")
  .option("--seed <n>", "seed of the start offsets", "1")
  .option("--json", "print the result JSON only; no file unless --out is given")
  .option("--out <file>", "where to write the result JSON; - for stdout")
  .parse();
const o = program.opts<{ seconds: string; seed: string; json?: boolean; out?: string }>();
checkOutPath(o);
const startedAt = new Date();
const rows = await seedBench(parseCount(o.seconds, "--seconds"), parseCount(o.seed, "--seed", 0));
const result = {
  schema: 1,
  bench: "seed",
  command: ["npm run bench --", ...process.argv.slice(2)].join(" "),
  machine: machineInfo(),
  startedAt: startedAt.toISOString(),
  rows,
};
const { path } = emitResult(o, result, () => defaultResultPath("bench", "seed", startedAt));
if (!jsonOnStdout(o)) process.stdout.write(`${formatSeedBench(rows)}\n\nresult: ${path}\n`);
