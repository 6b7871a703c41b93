/**
 * `npm run bench [-- --seconds N] [--json]`: the harness benchmarks. Prints figures; writes the
 * JSON under results/.
 */
import { Command } from "commander";
import { defaultResultPath, writeJsonAtomic } from "../results.js";
import { machineInfo } from "../sysinfo.js";
import { parseCount } from "../../lib/units.js";
import { formatSeedBench, seedBench } from "./seed.js";

const program = new Command()
  .name("npm run bench --")
  .description("harness speed and natural race rates for the seed scenario")
  .option("--seconds <n>", "seconds per kernel and cell", "5")
  .option("--seed <n>", "seed of the start offsets", "1")
  .option("--json", "print the result JSON only")
  .parse();
const o = program.opts<{ seconds: string; seed: string; json?: boolean }>();
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
const path = defaultResultPath("bench", "seed", startedAt);
writeJsonAtomic(path, result);
if (o.json) process.stdout.write(JSON.stringify(result, null, 2) + "\n");
else process.stdout.write(`${formatSeedBench(rows)}\n\nresult: ${path}\n`);
