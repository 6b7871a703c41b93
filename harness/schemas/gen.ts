/**
 * `npm run schemas`: write schemas/*.json from harness/schemas/. With --check, write nothing
 * and exit 1 if a committed file differs from what would be written (or is missing or extra).
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { renderSchemas, SCHEMAS_DIR } from "./index.js";

const check = process.argv.includes("--check");
const files = await renderSchemas();
const stale: string[] = [];
mkdirSync(SCHEMAS_DIR, { recursive: true });
for (const [name, text] of files) {
  const path = join(SCHEMAS_DIR, name);
  if (existsSync(path) && readFileSync(path, "utf8") === text) continue;
  stale.push(name);
  if (!check) writeFileSync(path, text);
}
for (const name of readdirSync(SCHEMAS_DIR)) {
  if (!name.endsWith(".schema.json") || files.has(name)) continue;
  stale.push(`${name} (not generated)`);
  if (!check) rmSync(join(SCHEMAS_DIR, name));
}
if (check && stale.length > 0) {
  process.stderr.write(`schemas out of date (run npm run schemas): ${stale.join(", ")}\n`);
  process.exit(1);
}
process.stdout.write(
  check
    ? `schemas: ${files.size} files up to date\n`
    : `schemas: ${files.size} files, ${stale.length} written or removed, in ${SCHEMAS_DIR}\n`,
);
