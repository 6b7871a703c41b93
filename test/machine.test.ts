import test from "ava";
import { CpuFailure, WatchdogError } from "../harness/machine.js";
import { runScenario, type RunOptions } from "../harness/run.js";
import type { ScenarioSpec } from "../lib/scenarios/types.js";

const base = (scenario: ScenarioSpec, o: Partial<RunOptions> = {}): RunOptions => ({
  scenario,
  kernels: [],
  trials: 2000,
  durationMs: 0,
  cpus: scenario.cpus.length,
  params: {},
  delays: new Map(),
  seed: 1,
  watchdogMs: 10_000,
  command: "test",
  warmupTrials: 0,
  ...o,
});

/** CPU 1 caches a writable entry for X; CPU 0 munmaps X while CPU 1 waits; CPU 1 stores again. */
const shootdown: ScenarioSpec = {
  name: "test-shootdown",
  description: "munmap on one CPU must shoot down the other CPU's TLB entry",
  source: "test",
  kernels: ["v4.9-rc4", "5d1904204c99"],
  params: { pages: { description: "pages", default: 1, min: 1, max: 4 } },
  cpus: [
    {
      name: "unmapper",
      init: [{ op: "mmap", at: "X", pages: "$pages" }],
      steps: [
        { op: "wait", flag: "stored" },
        { op: "munmap", at: "X", pages: "$pages" },
        { op: "signal", flag: "unmapped" },
      ],
    },
    {
      name: "writer",
      init: [],
      steps: [
        { op: "store", at: "X", page: 0, value: 1, result: "w1" },
        { op: "signal", flag: "stored" },
        { op: "wait", flag: "unmapped" },
        { op: "store", at: "X", page: 0, value: 2, result: "w2" },
      ],
    },
  ],
  outcome: [
    { name: "w1", cpu: 1, reg: "w1", kind: "result" },
    { name: "w2", cpu: 1, reg: "w2", kind: "result" },
  ],
  forbidden: [{ w2: "ok" }],
  lostWrite: [],
  widen: {},
};

test.serial(
  "flush_tlb_range reaches the other CPU: a store after munmap always faults",
  async (t) => {
    const r = await runScenario(base(shootdown, { kernels: ["v4.9-rc4"] }));
    const run = r.runs[0];
    t.is(run?.trials, 2000);
    t.is(run?.outcomes["w1=ok w2=SIGSEGV"], 2000, "the IPI flushed CPU 1's entry every time");
    t.true((run?.ipisPerTrial ?? 0) >= 1, "and it took an IPI");
  },
);

test.serial("the watchdog stops a stuck run and says what each CPU waits for", async (t) => {
  const stuck: ScenarioSpec = {
    ...shootdown,
    name: "test-stuck",
    cpus: [
      { name: "waiter", init: [], steps: [{ op: "wait", flag: "never" }] },
      {
        name: "idle",
        init: [],
        steps: [{ op: "store", at: "X", page: 0, value: 1, result: "w1" }],
      },
    ],
    outcome: [{ name: "w1", cpu: 1, reg: "w1", kind: "result" }],
    forbidden: [],
  };
  const started = Date.now();
  const err = await t.throwsAsync(runScenario(base(stuck, { watchdogMs: 500 })), {
    instanceOf: WatchdogError,
  });
  t.true(Date.now() - started < 5000, "stopped promptly");
  const states = err.states;
  t.regex(states[0]?.waiting ?? "", /signal/);
  t.is(states[0]?.stepName, "waiter steps[0] wait");
  t.regex(
    states[1]?.waiting ?? "",
    /barrier/,
    "CPU 1 finished its program and waits at the trial barrier",
  );
});

test.serial("a CPU that throws (a model bug) is reported, not a hang", async (t) => {
  const broken: ScenarioSpec = {
    ...shootdown,
    name: "test-broken",
    params: { pages: { description: "pages", default: 2, min: 1, max: 4 } },
    cpus: [
      {
        name: "partial-unmapper",
        init: [{ op: "mmap", at: "X", pages: "$pages" }],
        steps: [{ op: "munmap", at: "X", pages: 1 }], // VMA split: not modelled, throws
      },
      { name: "idle", init: [], steps: [] },
    ],
    outcome: [],
    forbidden: [],
  };
  const err = await t.throwsAsync(runScenario(base(broken)), { instanceOf: CpuFailure });
  t.regex(err?.message ?? "", /not modelled/);
});
