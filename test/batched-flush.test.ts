/**
 * x86's batched reclaim flush (lib/mm/tlbbatch.ts, mm/rmap.c and mm/vmscan.c as of v4.9): when
 * another CPU uses the mm, try_to_unmap_one() clears the PTE without flushing and the flush of
 * every entry comes before pageout and before the free; arm64 (v4.9) and kernels before v4.3
 * flush the one page at once. The reclaim races that need the stale entry to outlive pageout
 * lose writes on arm64 and not on x86.
 */
import test from "ava";
import { spawnSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { widenDelays } from "../harness/matrix.js";
import { runScenario } from "../harness/run.js";
import { findScenario } from "../harness/scenarios.js";
import { KERNELS } from "../lib/kernels/index.js";
import type { Kernel } from "../lib/kernels/kernel.js";
import { Cpu } from "../lib/machine/cpu.js";
import { ARCH_ARM64, ARCH_X86, Layout, PAGE_SHIFT } from "../lib/machine/layout.js";
import { machine_reset_full } from "../lib/machine/reset.js";
import { user_store } from "../lib/mmu/access.js";
import { pte_offset_walk, pte_present } from "../lib/mmu/pgtable.js";
import { tlb_lookup } from "../lib/mmu/tlb.js";
import { sys_mmap_anon } from "../lib/mm/mmap.js";
import { try_to_unmap } from "../lib/mm/rmap.js";
import { add_to_swap } from "../lib/mm/swap.js";
import { trylock_page } from "../lib/mm/page_flags.js";
import { should_defer_flush, TTU_BATCH_FLUSH, TTU_UNMAP } from "../lib/mm/tlbbatch.js";
import { regionsFor } from "../lib/scenarios/compile.js";
import { IMG_FILE_PAGES, IMG_NCPUS } from "../lib/scenarios/image.js";
import { expectedVerdict } from "../lib/scenarios/verdict.js";
import type { ScenarioSpec } from "../lib/scenarios/types.js";
import type { ResultFile } from "../harness/results.js";

const kernel = (name: string): Kernel => {
  const k = KERNELS.find((x) => x.name === name);
  if (k === undefined) throw new Error(`no kernel ${name}`);
  return k;
};

/** The scenario with its window widened, on one kernel and arch. */
const widened = (
  s: ScenarioSpec,
  kernel: string,
  arch: "x86" | "arm64",
  trials: number,
  seed: number,
): Promise<ResultFile> =>
  runScenario({
    scenario: s,
    kernels: [kernel],
    trials,
    durationMs: 0,
    cpus: s.cpus.length,
    params: {},
    delays: widenDelays(s),
    seed,
    watchdogMs: 10_000,
    command: "test",
    warmupTrials: 0,
    arch,
  });

/** CPU 0 of a two-CPU mm (both in mm_cpumask), driven from the test's thread. */
function twoCpuMm(arch: number, k: string): { cpu: Cpu; mem: Int32Array; L: Layout; X: number } {
  const L = new Layout(2);
  const mem = new Int32Array(new SharedArrayBuffer(L.bytes));
  mem[L.program + IMG_FILE_PAGES] = 4;
  mem[L.program + IMG_NCPUS] = 2;
  const cpu = new Cpu(mem, L, 0, KERNELS);
  machine_reset_full(cpu);
  cpu.arch = arch;
  cpu.kernel = kernel(k);
  return { cpu, mem, L, X: regionsFor(4).X };
}

test("should_defer_flush: x86 from v4.3 with TTU_BATCH_FLUSH and another CPU in the mm; never on arm64 or before v4.3", (t) => {
  const m = twoCpuMm(ARCH_X86, "v4.9-rc4");
  t.true(should_defer_flush(m.cpu, TTU_UNMAP | TTU_BATCH_FLUSH));
  t.false(should_defer_flush(m.cpu, TTU_UNMAP), "no TTU_BATCH_FLUSH: flush at once");
  m.cpu.kernel = kernel("v3.14");
  t.false(should_defer_flush(m.cpu, TTU_BATCH_FLUSH), "v3.14 has no batched unmap flushing");
  m.cpu.kernel = kernel("v4.9-rc4");
  m.cpu.arch = ARCH_ARM64;
  t.false(should_defer_flush(m.cpu, TTU_BATCH_FLUSH), "arm64 v4.9 does not batch");
  m.cpu.arch = ARCH_X86;
  Atomics.store(m.mem, m.L.mmCpumask, 1);
  t.false(should_defer_flush(m.cpu, TTU_BATCH_FLUSH), "no remote CPU uses the mm");
});

test("a deferred unmap clears the PTE, flushes nothing yet and records the batch (dirty: writable)", (t) => {
  const m = twoCpuMm(ARCH_X86, "v4.9-rc4");
  sys_mmap_anon(m.cpu, m.X, 4 << PAGE_SHIFT);
  t.is(user_store(m.cpu, m.X, 7), 0);
  const pte = Atomics.load(m.mem, pte_offset_walk(m.mem, m.L, m.X));
  const pfn = pte >>> PAGE_SHIFT;
  t.true(trylock_page(m.cpu, pfn));
  add_to_swap(m.cpu, pfn);
  const before = m.cpu.flushes;
  t.false(try_to_unmap(m.cpu, pfn, TTU_UNMAP | TTU_BATCH_FLUSH), "unmapped everywhere");
  t.false(pte_present(Atomics.load(m.mem, pte_offset_walk(m.mem, m.L, m.X))), "the PTE is cleared");
  t.is(m.cpu.flushes, before, "no flush yet: it is deferred to try_to_unmap_flush()");
  t.not(tlb_lookup(m.cpu, m.X >>> PAGE_SHIFT), 0, "the TLB entry is still live");
  t.true(m.cpu.tlbUbcFlushRequired);
  t.is(m.cpu.tlbUbcCpumask, 0b11, "every CPU of the mm");
  t.true(m.cpu.tlbUbcWritable, "the PTE was dirty: try_to_unmap_flush_dirty() must flush");
  t.is(Atomics.load(m.mem, m.L.tlbFlushBatched), 0, "v4.9-rc4 has no mm->tlb_flush_batched");
});

test("from 3ea277194daa on, a deferred unmap also sets mm->tlb_flush_batched", (t) => {
  const m = twoCpuMm(ARCH_X86, "eb66ae030829");
  sys_mmap_anon(m.cpu, m.X, 4 << PAGE_SHIFT);
  t.is(user_store(m.cpu, m.X, 7), 0);
  const pfn = Atomics.load(m.mem, pte_offset_walk(m.mem, m.L, m.X)) >>> PAGE_SHIFT;
  t.true(trylock_page(m.cpu, pfn));
  add_to_swap(m.cpu, pfn);
  try_to_unmap(m.cpu, pfn, TTU_UNMAP | TTU_BATCH_FLUSH);
  t.is(Atomics.load(m.mem, m.L.tlbFlushBatched), 1);
});

test("on arm64 try_to_unmap_one() flushes the page at once (one flush, nothing batched)", (t) => {
  // One CPU in the mm, so the flush sends no IPI the test's thread would have to answer.
  const m = twoCpuMm(ARCH_ARM64, "v4.9-rc4");
  Atomics.store(m.mem, m.L.mmCpumask, 1);
  sys_mmap_anon(m.cpu, m.X, 4 << PAGE_SHIFT);
  t.is(user_store(m.cpu, m.X, 7), 0);
  const pfn = Atomics.load(m.mem, pte_offset_walk(m.mem, m.L, m.X)) >>> PAGE_SHIFT;
  t.true(trylock_page(m.cpu, pfn));
  add_to_swap(m.cpu, pfn);
  const before = m.cpu.flushes;
  try_to_unmap(m.cpu, pfn, TTU_UNMAP | TTU_BATCH_FLUSH);
  t.is(m.cpu.flushes, before + 1);
  t.is(tlb_lookup(m.cpu, m.X >>> PAGE_SHIFT), 0, "flushed");
  t.false(m.cpu.tlbUbcFlushRequired);
});

for (const name of ["mremap-anon-reclaim", "mremap-dirty-window"]) {
  const s = findScenario(name);
  const buggy = s.kernels[0];
  test.serial(
    `${name}: widened, ${buggy} loses writes on arm64 and none on x86 (batched reclaim flush), as history says`,
    async (t) => {
      t.is(s.arch, "arm64", "the race is real on arm64");
      t.is(expectedVerdict(s, buggy, "arm64"), "forbidden");
      t.is(expectedVerdict(s, buggy, "x86"), "clean");
      const run = async (arch: "x86" | "arm64") => {
        const r = await widened(s, buggy, arch, 400, 11);
        const k = r.runs[0];
        if (k === undefined) throw new Error("no run");
        t.is(r.arch, arch);
        return k;
      };
      const arm = await run("arm64");
      t.true(arm.forbiddenTrials > 0, `arm64: ${arm.forbiddenTrials} forbidden in 400`);
      const x86 = await run("x86");
      t.is(x86.forbiddenTrials, 0, "x86: the full flush before pageout removes the stale entry");
      t.true((x86.window?.hits ?? 0) > 0, "and the racing write did land inside the window");
      t.log(
        `arm64: ${arm.forbiddenTrials} forbidden; x86: 0 forbidden, ${x86.window?.hits ?? 0} of 400 in window`,
      );
    },
  );
}

test.serial(
  "reclaim-munmap-batched: widened, a store after munmap() succeeds on x86 v4.9-rc4 and faults from 3ea277194daa on; arm64 never",
  async (t) => {
    const s = findScenario("reclaim-munmap-batched");
    t.true(s.countForbidden, "the outcome itself is the harm");
    const run = async (kernel: string, arch: "x86" | "arm64") => {
      const r = await widened(s, kernel, arch, 300, 5);
      const k = r.runs[0];
      if (k === undefined) throw new Error("no run");
      return k;
    };
    const buggy = await run("v4.9-rc4", "x86");
    t.true(buggy.forbiddenTrials > 0, "x86 v4.9-rc4: munmap() skipped the flush");
    t.is(
      buggy.outcomes["write2=ok"],
      buggy.forbiddenTrials,
      "each forbidden trial is a store after munmap",
    );
    t.is(buggy.lostWrites, 0);
    const fixed = await run("3ea277194daa", "x86");
    t.is(fixed.forbiddenTrials, 0, "flush_tlb_batched_pending() flushed before munmap() returned");
    t.is(fixed.outcomes["write2=SIGSEGV"], 300);
    t.true((fixed.window?.hits ?? 0) > 0, "with the store inside the window");
    const arm = await run("v4.9-rc4", "arm64");
    t.is(arm.forbiddenTrials, 0, "arm64 flushed the page in try_to_unmap_one()");
    t.log(
      `x86 v4.9-rc4: ${buggy.forbiddenTrials}/300 stores after munmap; 3ea277194daa: 0, ${fixed.window?.hits ?? 0} in window; arm64: 0`,
    );
  },
);

const CLI = fileURLToPath(new URL("../harness/cli.js", import.meta.url));

test.serial("matrix --arch all: one cell per arch, each against that arch's history", (t) => {
  const r = spawnSync(
    process.execPath,
    [
      CLI,
      "matrix",
      "--scenario",
      "mremap-anon-reclaim",
      "--kernel",
      "v4.9-rc4",
      "--arch",
      "all",
      "--trials",
      "200",
      "--json",
      "--out",
      join(tmpdir(), `tlbrace-matrix-arch-${process.pid}.json`),
    ],
    { encoding: "utf8", timeout: 120_000 },
  );
  t.is(r.status, 0, r.stderr);
  const m = JSON.parse(r.stdout) as {
    cells: { arch: string; expected: string; matches: boolean; lostWrites: number }[];
  };
  t.deepEqual(
    m.cells.map((c) => [c.arch, c.expected]),
    [
      ["x86", "clean"],
      ["arm64", "forbidden"],
    ],
  );
  for (const c of m.cells) t.true(c.matches, `${c.arch}: ${c.lostWrites} lost`);
});

test("matrix and smoke refuse an unknown --arch: one line, exit 2", (t) => {
  for (const cmd of ["matrix", "smoke"]) {
    const r = spawnSync(process.execPath, [CLI, cmd, "--arch", "sparc"], { encoding: "utf8" });
    t.is(r.status, 2, cmd);
    t.regex(r.stderr, /--arch: unknown architecture "sparc"/);
    t.is(r.stderr.trim().split("\n").length, 1, r.stderr);
  }
});
