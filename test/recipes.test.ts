/**
 * The recipes in recipes/ (docs/recipes.md) run here as they are, so they cannot rot: each file
 * is parsed with `yaml`, the exact commands it holds (GitHub's `run:` lines, the containers'
 * command and args) are run with bash or sh on this machine, with the variables a user would
 * set made small (2 shards of 1 s, one machine each), then the merge command, and the merged
 * result is checked: every shard in it, totals that add up, valid against its JSON Schema.
 * What only the platform does (checkout, npm ci and build, artifact transfer, volumes) is
 * simulated: dist/ is this build, artifacts and volumes are directories.
 */
import test, { type ExecutionContext } from "ava";
import { Ajv } from "ajv";
import { spawnSync } from "node:child_process";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { basename, delimiter, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parse, parseAllDocuments } from "yaml";
import type { StressResult } from "../harness/stress/result.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const RECIPES = join(ROOT, "recipes");
const SMALL = { shards: 2, duration: "1s", machines: "1" };
/** A GitHub run id: larger than stress's seeds, as real ones are. */
const RUN_ID = "17493027391";
/** The setup commands the recipes hold but this test does not run (dist/ is built already). */
const SETUP = ["npm ci && npm run build", "npm ci --no-audit --no-fund && npm run build"];

const ajv = new Ajv({ allErrors: true, strict: true, strictRequired: false });
const stressSchema = ajv.compile(
  JSON.parse(readFileSync(join(ROOT, "schemas", "result-stress.schema.json"), "utf8")) as object,
);

const base = mkdtempSync(join(tmpdir(), "tlbrace-recipes-"));
test.after.always(() => rmSync(base, { recursive: true, force: true }));

/** A fresh "checkout": a directory whose dist/ is this build. */
function checkout(name: string): string {
  const dir = join(base, name);
  mkdirSync(dir, { recursive: true });
  symlinkSync(join(ROOT, "dist"), join(dir, "dist"));
  return dir;
}

interface Ran {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Run argv in cwd with env on top of ours; `node` is the node running this test. */
function exec(argv: string[], cwd: string, env: Record<string, string>): Ran {
  const PATH = [dirname(process.execPath), process.env.PATH ?? ""].join(delimiter);
  const r = spawnSync(argv[0] as string, argv.slice(1), {
    cwd,
    env: { ...process.env, ...env, PATH },
    encoding: "utf8",
    timeout: 120_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const readResult = (path: string): StressResult =>
  JSON.parse(readFileSync(path, "utf8")) as StressResult;

/** A shard's exit code is its verdict: 1 exactly when a cell contradicts history. */
function verdictExit(t: ExecutionContext, what: string, r: Ran, res: StressResult): void {
  t.is(r.status, res.totals.contradictions > 0 ? 1 : 0, `${what}: ${r.stderr}`);
}

/** The merged file holds every shard, and its totals are the shards' sums. */
function checkMerged(
  t: ExecutionContext,
  merged: StressResult,
  shards: StressResult[],
  machines?: number,
): void {
  t.true(stressSchema(merged), ajv.errorsText(stressSchema.errors));
  t.is(merged.kind, "stress");
  t.is(merged.merged?.length, SMALL.shards);
  t.deepEqual(
    merged.merged?.map((m) => `${m.shard.index}/${m.shard.count}`).sort(),
    [...Array(SMALL.shards).keys()].map((i) => `${i}/${SMALL.shards}`),
  );
  t.deepEqual(merged.shard, { index: 0, count: 1 }, "a merged file is the whole campaign");
  t.false(merged.partial, "every shard merged, none partial");
  const sum = shards.reduce((s, r) => s + r.totals.trials, 0);
  t.true(sum > 0, "the shards ran no trial");
  t.is(merged.totals.trials, sum);
  for (const r of shards) {
    t.true(stressSchema(r), ajv.errorsText(stressSchema.errors));
    t.is(r.status, "done");
    t.is(r.plan.durationMs, 1000);
    if (machines !== undefined) t.is(r.plan.machines, machines);
  }
}

// ---------------------------------------------------------------------------------------------
// GitHub Actions

interface Step {
  name?: string;
  uses?: string;
  run?: string;
  with?: Record<string, unknown>;
  if?: string;
}
interface Job {
  needs?: string;
  if?: string;
  env?: Record<string, string>;
  strategy?: { "fail-fast"?: boolean; matrix: Record<string, unknown[]> };
  steps: Step[];
}
interface Workflow {
  env: Record<string, string>;
  on: { workflow_dispatch: { inputs: Record<string, { default: string }> } };
  jobs: Record<string, Job>;
}

type Context = Record<string, Record<string, string>>;

/**
 * ${{ }} expressions as this test needs them: context paths and 'strings' joined by ||. Any
 * other expression fails the test, to be taught here when a recipe starts using it.
 */
function expand(text: string, ctx: Context): string {
  return text.replace(/\$\{\{\s*(.*?)\s*\}\}/g, (_m, expr: string) => {
    for (const operand of expr.split("||").map((s) => s.trim())) {
      const quoted = /^'(.*)'$/.exec(operand);
      let value: string | undefined;
      if (quoted !== null) value = quoted[1] ?? "";
      else {
        const m = /^([a-z_]+)\.([\w-]+)$/.exec(operand);
        if (m === null) throw new Error(`expression not understood: ${expr}`);
        value = ctx[m[1] as string]?.[m[2] as string];
        if (value === undefined) throw new Error(`unknown context value: ${operand}`);
      }
      if (value !== "") return value;
    }
    return "";
  });
}

const expandAll = (env: Record<string, string> | undefined, ctx: Context): Record<string, string> =>
  Object.fromEntries(Object.entries(env ?? {}).map(([k, v]) => [k, expand(String(v), ctx)]));

/** GitHub's default shell on Linux runners. */
const bash = (script: string): string[] => [
  "bash",
  "--noprofile",
  "--norc",
  "-eo",
  "pipefail",
  "-c",
  script,
];

test.serial(
  "recipes/github-stress.yml: the shards' and the merge's run lines, as they are",
  (t) => {
    const wf = parse(readFileSync(join(RECIPES, "github-stress.yml"), "utf8")) as Workflow;
    const stress = wf.jobs.stress as Job;
    const merge = wf.jobs.merge as Job;
    t.truthy(stress.strategy);
    t.false(stress.strategy?.["fail-fast"], "one shard's contradiction must not cancel the rest");
    const shardList = stress.strategy?.matrix.shard ?? [];
    t.deepEqual(shardList, [...Array(shardList.length).keys()], "matrix.shard: 0, 1, ... N-1");
    t.is(merge.needs, "stress");
    t.is(merge.if, "always()");
    t.true("duration" in wf.on.workflow_dispatch.inputs);

    // Small: 2 shards (as if matrix.shard were [0, 1]) of 1 s.
    const shards = [...Array(SMALL.shards).keys()];
    const ctx: Context = {
      github: { run_id: RUN_ID },
      inputs: { duration: SMALL.duration },
      strategy: { "job-total": String(shards.length) },
    };
    const wfEnv = expandAll(wf.env, ctx);
    t.is(wfEnv.STRESS_DURATION, SMALL.duration);
    /** Uploaded artifacts: name -> file. */
    const artifacts = new Map<string, string>();
    const ran: string[] = [];

    const runJob = (job: Job, jobCtx: Context, dir: string): Ran[] => {
      const env = { ...wfEnv, ...expandAll(job.env, jobCtx) };
      const results: Ran[] = [];
      for (const step of job.steps) {
        if (step.run !== undefined) {
          const script = expand(step.run, jobCtx);
          if (SETUP.includes(script.trim())) continue; // dist/ is built
          ran.push(script);
          results.push(exec(bash(script), dir, env));
          continue;
        }
        const uses = step.uses ?? "";
        const w = Object.fromEntries(
          Object.entries(step.with ?? {}).map(([k, v]) => [k, expand(String(v), jobCtx)]),
        );
        if (/^actions\/(checkout|setup-node)@v\d+$/.test(uses)) continue;
        if (/^actions\/upload-artifact@v\d+$/.test(uses)) {
          const file = join(dir, w.path as string);
          t.true(existsSync(file), `upload ${w.name}: no ${w.path}`);
          artifacts.set(w.name as string, file);
        } else if (/^actions\/download-artifact@v\d+$/.test(uses)) {
          t.is(w["merge-multiple"], "true");
          const pattern = new RegExp(
            `^${(w.pattern as string).replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*")}$`,
          );
          const into = join(dir, w.path as string);
          mkdirSync(into, { recursive: true });
          for (const [name, file] of artifacts)
            if (pattern.test(name)) copyFileSync(file, join(into, basename(file)));
        } else t.fail(`a step this test cannot simulate: ${uses}`);
      }
      return results;
    };

    const shardResults: StressResult[] = [];
    for (const shard of shards) {
      const dir = checkout(`gh-stress-${shard}`);
      const jobCtx = { ...ctx, matrix: { shard: String(shard) } };
      const [r] = runJob(stress, jobCtx, dir);
      if (r === undefined) return t.fail("the stress job ran no command");
      const file = join(dir, "results", `stress-${shard}.json`);
      if (!existsSync(file)) return t.fail(`shard ${shard} wrote no result: ${r.stderr}`);
      const res = readResult(file);
      verdictExit(t, `shard ${shard}`, r, res);
      t.is(res.seed, Number(BigInt(RUN_ID) % 2147483648n), "the seed is the run id, in range");
      t.deepEqual(res.shard, { index: shard, count: shards.length });
      shardResults.push(res);
    }
    const dir = checkout("gh-merge");
    const [r] = runJob(merge, ctx, dir);
    if (r === undefined) return t.fail("the merge job ran no command");
    const file = join(dir, "results", "stress-merged.json");
    if (!existsSync(file)) return t.fail(`merge wrote nothing: ${r.stderr}`);
    const merged = readResult(file);
    verdictExit(t, "merge", r, merged);
    checkMerged(t, merged, shardResults);
    t.true(artifacts.has("stress-merged"));
    t.is(ran.length, shards.length + 1, ran.join("\n"));
  },
);

// ---------------------------------------------------------------------------------------------
// Kubernetes

interface EnvVar {
  name: string;
  value?: string;
}
interface Container {
  name: string;
  image: string;
  workingDir?: string;
  command?: string[];
  args?: string[];
  env?: EnvVar[];
  envFrom?: { configMapRef: { name: string } }[];
  volumeMounts?: { name: string; mountPath: string }[];
}
interface PodSpec {
  restartPolicy: string;
  initContainers: Container[];
  containers: Container[];
  volumes: { name: string; persistentVolumeClaim?: { claimName: string } }[];
}
interface K8sJob {
  apiVersion: string;
  kind: "Job";
  metadata: { name: string };
  spec: {
    completionMode?: string;
    completions?: number;
    parallelism?: number;
    podFailurePolicy?: { rules: { onExitCodes: { containerName: string; values: number[] } }[] };
    template: { spec: PodSpec };
  };
}
interface Doc {
  kind: string;
  metadata: { name: string };
  data?: Record<string, string>;
}

function docs(file: string): Doc[] {
  const all = parseAllDocuments(readFileSync(join(RECIPES, file), "utf8"));
  if (!Array.isArray(all)) throw new Error(`${file}: not YAML documents`);
  return all.map((d) => {
    if (d.errors.length > 0) throw new Error(`${file}: ${d.errors[0]?.message}`);
    return d.toJS() as Doc;
  });
}

/** Kubernetes' $(VAR) expansion in command and args ($$ escapes it). */
const kubeExpand = (s: string, env: Record<string, string>): string =>
  s.replace(/(\$+)\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (m, dollars: string, name: string) =>
    dollars.length % 2 === 0 ? m.slice(1) : (env[name] ?? m),
  );

/** What a container's process gets: its env over its configMaps', and the job's extra. */
function containerEnv(
  c: Container,
  configMaps: Map<string, Record<string, string>>,
  extra: Record<string, string>,
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const from of c.envFrom ?? []) Object.assign(env, configMaps.get(from.configMapRef.name));
  for (const v of c.env ?? []) if (v.value !== undefined) env[v.name] = v.value;
  return { ...env, ...extra };
}

function argv(c: Container, env: Record<string, string>): string[] {
  return [...(c.command ?? []), ...(c.args ?? [])].map((s) => kubeExpand(s, env));
}

const containerNamed = (job: K8sJob, name: string): Container => {
  const c = job.spec.template.spec.containers.find((x) => x.name === name);
  if (c === undefined) throw new Error(`${job.metadata.name}: no container ${name}`);
  return c;
};

/** The init containers fetch the source and build it into the main container's workingDir. */
function checkInit(t: ExecutionContext, job: K8sJob, main: Container): void {
  const init = job.spec.template.spec.initContainers;
  t.deepEqual(
    init.map((c) => c.name),
    ["fetch", "build"],
  );
  const [fetch, build] = init as [Container, Container];
  t.regex(fetch.command?.join(" ") ?? "", /git clone .*"\$TLBRACE_REPO" \/src/);
  t.is(build.workingDir, main.workingDir);
  t.true(SETUP.includes(build.command?.[2] ?? ""), "build: npm ci and npm run build");
  t.regex(main.image, /^node:(22|24)$/);
  t.is(build.image, main.image);
}

test.serial(
  "recipes/k8s-stress-job.yaml and k8s-merge-job.yaml: the containers' commands, as they are",
  (t) => {
    const stressDocs = docs("k8s-stress-job.yaml");
    const cm = stressDocs.find((d) => d.kind === "ConfigMap");
    const pvc = stressDocs.find((d) => d.kind === "PersistentVolumeClaim");
    const job = stressDocs.find((d) => d.kind === "Job") as K8sJob | undefined;
    if (cm?.data === undefined || pvc === undefined || job === undefined)
      return t.fail("k8s-stress-job.yaml: a ConfigMap, a PersistentVolumeClaim and a Job");
    const mergeDocs = docs("k8s-merge-job.yaml");
    t.is(mergeDocs.length, 1);
    const mergeJob = mergeDocs[0] as unknown as K8sJob;
    t.is(mergeJob.kind, "Job");

    // The Job's shape: Indexed, one pod per shard, SHARDS as many as completions.
    t.is(job.apiVersion, "batch/v1");
    t.is(job.spec.completionMode, "Indexed");
    t.is(job.spec.parallelism, job.spec.completions);
    const stress = containerNamed(job, "stress");
    const envOf = (c: Container, n: string): string | undefined =>
      c.env?.find((v) => v.name === n)?.value;
    t.is(Number(envOf(stress, "SHARDS")), job.spec.completions ?? -1, "SHARDS = spec.completions");
    for (const rule of job.spec.podFailurePolicy?.rules ?? [])
      t.is(rule.onExitCodes.containerName, "stress");
    t.deepEqual(job.spec.podFailurePolicy?.rules[0]?.onExitCodes.values, [1, 2]);
    for (const j of [job, mergeJob]) {
      const spec = j.spec.template.spec;
      t.is(spec.restartPolicy, "Never");
      const main = spec.containers[0] as Container;
      checkInit(t, j, main);
      // RESULTS is where the shared volume is mounted, in both jobs.
      const results = envOf(main, "RESULTS");
      const mount = main.volumeMounts?.find((m) => m.mountPath === results);
      const volume = spec.volumes.find((v) => v.name === mount?.name);
      t.is(
        volume?.persistentVolumeClaim?.claimName,
        pvc.metadata.name,
        `${j.metadata.name}: RESULTS`,
      );
      for (const c of [...spec.initContainers, ...spec.containers])
        for (const from of c.envFrom ?? []) t.is(from.configMapRef.name, cm.metadata.name);
    }

    // Small: 2 shards of 1 s, one machine each; the volume is a directory.
    const volume = join(base, "k8s-results");
    mkdirSync(volume);
    const configMaps = new Map([
      [
        cm.metadata.name,
        { ...cm.data, STRESS_DURATION: SMALL.duration, STRESS_MACHINES: SMALL.machines },
      ],
    ]);
    const shardResults: StressResult[] = [];
    for (let index = 0; index < SMALL.shards; index++) {
      const env = containerEnv(stress, configMaps, {
        SHARDS: String(SMALL.shards),
        RESULTS: volume,
        JOB_COMPLETION_INDEX: String(index), // set by Kubernetes in an Indexed Job's pods
      });
      const r = exec(argv(stress, env), checkout(`k8s-stress-${index}`), env);
      const file = join(volume, `stress-${index}.json`);
      if (!existsSync(file)) return t.fail(`shard ${index} wrote no result: ${r.stderr}`);
      const res = readResult(file);
      verdictExit(t, `shard ${index}`, r, res);
      t.is(res.seed, Number(cm.data.STRESS_SEED));
      t.deepEqual(res.shard, { index, count: SMALL.shards });
      shardResults.push(res);
    }
    // An earlier campaign's merged file on the volume must not be taken for a shard.
    copyFileSync(join(volume, "stress-0.json"), join(volume, "stress-merged.json"));
    const merge = containerNamed(mergeJob, "merge");
    const env = containerEnv(merge, configMaps, { RESULTS: volume });
    const r = exec(argv(merge, env), checkout("k8s-merge"), env);
    const merged = readResult(join(volume, "stress-merged.json"));
    t.truthy(merged.merged, `merge did not write a merged file: ${r.stderr}`);
    verdictExit(t, "merge", r, merged);
    checkMerged(t, merged, shardResults, Number(SMALL.machines));
    t.deepEqual(readdirSync(volume).sort(), [
      "stress-0.json",
      "stress-1.json",
      "stress-merged.json",
    ]);
  },
);
