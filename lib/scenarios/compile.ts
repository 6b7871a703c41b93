/**
 * Turn a scenario (data) and its parameters into the program image the CPUs run. Every error
 * names the place in the scenario ("cpus[0].steps[3].page") and what was expected.
 */
import {
  MAX_CPUS,
  MAX_FILE_PAGES,
  NR_OUTCOMES,
  NR_REGS,
  NR_SIGNALS,
  PAGE_SIZE,
  PMD_SIZE,
  PROGRAM_WORDS,
  TASK_SIZE,
} from "../machine/layout.js";
import {
  FIELD_RESULT,
  FIELD_VALUE,
  IMG_CHECK_WORDS,
  IMG_CHECKS,
  IMG_FORBIDDEN,
  IMG_CODE,
  IMG_CPU_TABLE,
  IMG_CPU_WORDS,
  IMG_FIELD_WORDS,
  IMG_FIELDS,
  IMG_FILE_PAGES,
  IMG_NCHECKS,
  IMG_NCPUS,
  IMG_NFIELDS,
  IMG_NOUTCOMES,
  IMG_WIN_CPU,
  IMG_WIN_POINTS,
  IMG_WIN_RACE,
  INSN_WORDS,
  MAX_CHECK_STORES,
  MAX_CHECKS,
  MAX_FIELD_VALUES,
  MAX_FIELDS,
  OP_FADVISE_DONTNEED,
  OP_LOAD,
  OP_MMAP,
  OP_MREMAP,
  OP_MUNMAP,
  OP_PREAD,
  OP_SIGNAL,
  OP_STORE,
  OP_WAIT,
  OP_FTRUNCATE,
  OP_ALLOC,
  OP_MMAP_ANON,
  OP_MADV_FREE,
  OP_RECLAIM,
  OP_MMAP_THP,
  OP_RECLAIM_CLUSTER,
  OP_MIGRATE,
  OP_TOUCH,
} from "./image.js";
import {
  OPS,
  type Arg,
  type OutcomeField,
  type Region,
  type ScenarioSpec,
  type Step,
  type CpuProgram,
  type WindowSpec,
} from "./types.js";
import { pointId } from "../machine/points.js";

export class ScenarioError extends Error {}

export interface Compiled {
  image: Int32Array;
  params: Record<string, number>;
  /** Label of every outcome index, e.g. "write2=ok readback=1". */
  outcomeLabels: string[];
  /** Whether each outcome index is one the scenario forbids. */
  forbidden: boolean[];
  regions: Record<Region, number>;
}

export const RESULT_LABELS = ["ok", "SIGSEGV", "SIGBUS"];

/** The ops compile() turns into code: every op of the format. */
export const COMPILED_OPS = OPS;

/** Resolve parameters: defaults, then overrides; check ranges. */
export function resolveParams(
  spec: ScenarioSpec,
  given: Record<string, number>,
): Record<string, number> {
  const out: Record<string, number> = {};
  for (const name of Object.keys(given)) {
    if (!Object.hasOwn(spec.params, name)) {
      throw new ScenarioError(
        `scenario ${spec.name} has no parameter "${name}" (it has: ${Object.keys(spec.params).join(", ")})`,
      );
    }
  }
  // Own keys only: a parameter named "constructor" must not find Object.prototype's.
  for (const [name, p] of Object.entries(spec.params))
    out[name] = Object.hasOwn(given, name) ? (given[name] as number) : p.default;
  for (const [name, p] of Object.entries(spec.params)) {
    const v = out[name] as number;
    const max = typeof p.max === "number" ? p.max : (out[p.max.slice(1)] as number) - 1;
    if (!Number.isInteger(v) || v < p.min || v > max) {
      throw new ScenarioError(`${name} must be an integer from ${p.min} to ${max}, got ${v}`);
    }
  }
  return out;
}

/** Where the regions lie: X at 2 MiB, Y one empty PMD above the end of X (different PTE tables). */
export function regionsFor(pages: number): Record<Region, number> {
  const X = PMD_SIZE;
  const span = Math.ceil((pages * PAGE_SIZE) / PMD_SIZE) * PMD_SIZE;
  return { X, Y: X + span + PMD_SIZE };
}

export function compile(spec: ScenarioSpec, given: Record<string, number>): Compiled {
  const params = resolveParams(spec, given);
  const pages = params.pages ?? 1;
  if (!Number.isInteger(pages) || pages < 1 || pages > MAX_FILE_PAGES)
    throw new ScenarioError(
      `pages must be an integer from 1 to ${MAX_FILE_PAGES} (the machine's file), got ${pages}`,
    );
  const regions = regionsFor(pages);
  if (regions.Y + pages * PAGE_SIZE > TASK_SIZE)
    throw new ScenarioError(`pages=${pages} does not fit the address space`);
  if (spec.cpus.length > MAX_CPUS) throw new ScenarioError(`cpus: at most ${MAX_CPUS} CPUs`);
  const img = new Int32Array(PROGRAM_WORDS);
  img[IMG_NCPUS] = spec.cpus.length;
  img[IMG_FILE_PAGES] = pages;

  const arg = (a: Arg, where: string): number => {
    if (typeof a === "number") return a;
    const v = Object.hasOwn(params, a.slice(1)) ? params[a.slice(1)] : undefined;
    if (!a.startsWith("$") || v === undefined)
      throw new ScenarioError(`${where}: unknown parameter ${a}`);
    return v;
  };
  const regs = spec.cpus.map(() => new Map<string, number>());
  const reg = (cpu: number, name: string, where: string, define: boolean): number => {
    const m = regs[cpu] as Map<string, number>;
    let r = m.get(name);
    if (r === undefined) {
      if (!define) throw new ScenarioError(`${where}: CPU ${cpu} has no register "${name}"`);
      if (m.size >= NR_REGS) throw new ScenarioError(`${where}: more than ${NR_REGS} registers`);
      r = m.size;
      m.set(name, r);
    }
    return r;
  };
  const flags = new Map<string, number>();
  const flag = (name: string, where: string): number => {
    let f = flags.get(name);
    if (f === undefined) {
      if (flags.size >= NR_SIGNALS)
        throw new ScenarioError(`${where}: more than ${NR_SIGNALS} flags`);
      f = flags.size;
      flags.set(name, f);
    }
    return f;
  };
  const addr = (at: Region, page: number, where: string): number => {
    const base = regions[at];
    if (base === undefined)
      throw new ScenarioError(`${where}: unknown region ${String(at)} (X or Y)`);
    if (page < 0 || page >= pages)
      throw new ScenarioError(`${where}: page ${page} outside the ${pages}-page region`);
    return base + page * PAGE_SIZE;
  };

  let pc = IMG_CODE;
  const emit = (op: number, a = 0, b = 0, c = 0, d = 0): void => {
    if (pc + INSN_WORDS > PROGRAM_WORDS) throw new ScenarioError("program too long");
    img.set([op, a, b, c, d, 0], pc);
    pc += INSN_WORDS;
  };
  /** The length of a mapping: 1..pages, so that it stays inside its region. */
  const len = (a: Arg, where: string): number => {
    const n = arg(a, where);
    if (!Number.isInteger(n) || n < 1 || n > pages)
      throw new ScenarioError(`${where}.pages: expected 1 to ${pages} (the region), got ${n}`);
    return n * PAGE_SIZE;
  };
  const emitStep = (cpu: number, s: Step, where: string): void => {
    switch (s.op) {
      case "mmap":
        return emit(OP_MMAP, addr(s.at, 0, where), len(s.pages, where), 0, s.populate ? 1 : 0);
      case "mmap_anon":
        return emit(OP_MMAP_ANON, addr(s.at, 0, where), len(s.pages, where), 0, s.populate ? 1 : 0);
      case "mmap_thp":
        return emit(OP_MMAP_THP, addr(s.at, 0, where), len(s.pages, where));
      case "madvise_free":
        return emit(OP_MADV_FREE, addr(s.at, 0, where), len(s.pages, where));
      case "reclaim":
        return emit(OP_RECLAIM, 0, s.may_writepage === false ? 1 : 0);
      case "reclaim_cluster":
        return emit(OP_RECLAIM_CLUSTER, arg(s.pages, where), s.may_writepage === false ? 1 : 0);
      case "migrate": {
        const n = s.pages === undefined ? 0 : arg(s.pages, where);
        if (!Number.isInteger(n) || n < 0)
          throw new ScenarioError(
            `${where}.pages: expected 0 (every anonymous page) or a number of pages, got ${n}`,
          );
        return emit(OP_MIGRATE, n);
      }
      case "munmap":
        return emit(OP_MUNMAP, addr(s.at, 0, where), len(s.pages, where));
      case "mremap":
        return emit(OP_MREMAP, addr(s.from, 0, where), len(s.pages, where), addr(s.to, 0, where));
      case "store":
        return emit(
          OP_STORE,
          addr(s.at, arg(s.page, where), where),
          arg(s.value, where),
          reg(cpu, s.result, where, true),
        );
      case "load":
        return emit(
          OP_LOAD,
          addr(s.at, arg(s.page, where), where),
          0,
          reg(cpu, s.into, where, true),
        );
      case "touch": {
        const first = s.page === undefined ? 0 : arg(s.page, where);
        const at = addr(s.at, first, where);
        const n = arg(s.pages, where);
        if (!Number.isInteger(n) || n < 1 || first + n > pages)
          throw new ScenarioError(
            `${where}.pages: expected 1 to ${pages - first} (the ${pages}-page region from page ${first} on), got ${n}`,
          );
        const write = s.access === "write";
        if (write !== (s.value !== undefined))
          throw new ScenarioError(
            write
              ? `${where}.value: expected the value to write (required for a write), got nothing`
              : `${where}.value: expected nothing (a read writes no value), got ${JSON.stringify(s.value)}`,
          );
        return emit(OP_TOUCH, at, n, write ? 1 : 0, write ? arg(s.value as Arg, where) : 0);
      }
      case "fadvise": {
        // fadvise(fd, page * PAGE_SIZE, pages * PAGE_SIZE): len 0 means to the end of the file.
        const first = s.page === undefined ? 0 : arg(s.page, where);
        const n = s.pages === undefined ? 0 : arg(s.pages, where);
        if (!Number.isInteger(first) || first < 0 || first >= pages)
          throw new ScenarioError(
            `${where}.page: expected 0 to ${pages - 1} (a page of the ${pages}-page file), got ${first}`,
          );
        if (!Number.isInteger(n) || n < 0 || first + n > pages)
          throw new ScenarioError(
            `${where}.pages: expected 0 (to the end of the file) or 1 to ${pages - first} (page ${first} to the end of the ${pages}-page file), got ${n}`,
          );
        return emit(OP_FADVISE_DONTNEED, first, n);
      }
      case "pread": {
        const p = arg(s.page, where);
        if (p < 0 || p >= pages)
          throw new ScenarioError(`${where}: page ${p} outside the ${pages}-page file`);
        return emit(OP_PREAD, p, 0, reg(cpu, s.into, where, true));
      }
      case "ftruncate": {
        const n = arg(s.pages, where);
        if (n < 0 || n > pages)
          throw new ScenarioError(
            `${where}.pages: ftruncate can only shrink the ${pages}-page file, got ${n}`,
          );
        return emit(OP_FTRUNCATE, n);
      }
      case "alloc":
        return emit(OP_ALLOC, arg(s.value, where));
      case "signal":
        return emit(OP_SIGNAL, flag(s.flag, where));
      case "wait":
        return emit(OP_WAIT, flag(s.flag, where));
      default:
        throw new ScenarioError(
          `${where}.op: expected one of ${COMPILED_OPS.join(", ")}, got ${JSON.stringify((s as { op: unknown }).op)}`,
        );
    }
  };
  spec.cpus.forEach((p, cpu) => {
    const t = IMG_CPU_TABLE + cpu * IMG_CPU_WORDS;
    img[t] = pc;
    p.init.forEach((s, i) => emitStep(cpu, s, `cpus[${cpu}].init[${i}]`));
    img[t + 1] = pc;
    img[t + 2] = pc;
    p.steps.forEach((s, i) => emitStep(cpu, s, `cpus[${cpu}].steps[${i}]`));
    img[t + 3] = pc;
  });

  // Outcome fields, mixed-radix encoded into one index.
  if (spec.outcome.length > MAX_FIELDS)
    throw new ScenarioError(`outcome: at most ${MAX_FIELDS} fields`);
  const domains = spec.outcome.map((f) => domainOf(f));
  let stride = 1;
  spec.outcome.forEach((f, i) => {
    const where = `outcome[${i}]`;
    const at = IMG_FIELDS + i * IMG_FIELD_WORDS;
    if (f.cpu < 0 || f.cpu >= spec.cpus.length)
      throw new ScenarioError(`${where}.cpu: no CPU ${f.cpu}`);
    img[at] = f.cpu;
    img[at + 1] = reg(f.cpu, f.reg, where, false);
    img[at + 2] = f.kind === "result" ? FIELD_RESULT : FIELD_VALUE;
    img[at + 3] = stride;
    if (f.kind === "value") {
      if (f.values.length > MAX_FIELD_VALUES)
        throw new ScenarioError(`${where}.values: at most ${MAX_FIELD_VALUES}`);
      img[at + 4] = f.values.length;
      img.set(f.values, at + 5);
    }
    stride *= (domains[i] as string[]).length;
  });
  if (stride > NR_OUTCOMES)
    throw new ScenarioError(`outcome: ${stride} combinations, at most ${NR_OUTCOMES}`);
  img[IMG_NFIELDS] = spec.outcome.length;
  img[IMG_NOUTCOMES] = stride;

  const outcomeLabels: string[] = [];
  const forbidden: boolean[] = [];
  for (let idx = 0; idx < stride; idx++) {
    const labels = decode(idx, domains);
    outcomeLabels.push(spec.outcome.map((f, i) => `${f.name}=${labels[i]}`).join(" "));
    forbidden.push(
      spec.forbidden.some((fb) =>
        spec.outcome.every((f, i) => !(f.name in fb) || String(fb[f.name]) === labels[i]),
      ),
    );
  }

  if (spec.lostWrite.length > MAX_CHECKS)
    throw new ScenarioError(`lostWrite: at most ${MAX_CHECKS} checks`);
  spec.lostWrite.forEach((c, i) => {
    const where = `lostWrite[${i}]`;
    const at = IMG_CHECKS + i * IMG_CHECK_WORDS;
    if (c.stores.length > MAX_CHECK_STORES)
      throw new ScenarioError(`${where}.stores: at most ${MAX_CHECK_STORES}`);
    img[at] = c.cpu;
    img[at + 1] = reg(c.cpu, c.readback, where, false);
    img[at + 2] = c.stores.length;
    c.stores.forEach((name, j) => {
      img[at + 3 + 2 * j] = reg(c.cpu, name, where, false);
      img[at + 4 + 2 * j] = storedValue(spec, c.cpu, name, arg, `${where}.stores[${j}]`);
    });
  });
  img[IMG_NCHECKS] = spec.lostWrite.length;
  if (spec.countForbidden === true)
    forbidden.forEach((f, idx) => {
      if (f)
        img[IMG_FORBIDDEN + (idx >>> 5)] =
          (img[IMG_FORBIDDEN + (idx >>> 5)] as number) | (1 << (idx & 31));
    });

  if (spec.window !== undefined) encodeWindow(spec, img);

  return { image: img, params, outcomeLabels, forbidden, regions };
}

/** The race window into the image header (see lib/machine/window.ts). */
function encodeWindow(spec: ScenarioSpec, img: Int32Array): void {
  const w = spec.window as WindowSpec;
  const open = pointId(w.open);
  const close = pointId(w.close);
  if (open < 0) throw new ScenarioError(`window.open: unknown point "${w.open}"`);
  if (close < 0) throw new ScenarioError(`window.close: unknown point "${w.close}"`);
  const n = spec.cpus.length;
  const aim = w.aim ?? w.race.cpu;
  for (const [where, c] of [
    ["window.cpu", w.cpu],
    ["window.race.cpu", w.race.cpu],
    ["window.aim", aim],
  ] as const)
    if (!Number.isInteger(c) || c < 0 || c >= n)
      throw new ScenarioError(`${where}: no CPU ${c} (the scenario has ${n})`);
  if (w.race.cpu === w.cpu)
    throw new ScenarioError(`window.race.cpu: the racing step runs on another CPU than the window`);
  const steps = (spec.cpus[w.race.cpu] as CpuProgram).steps.length;
  if (!Number.isInteger(w.race.step) || w.race.step < 0 || w.race.step >= steps)
    throw new ScenarioError(
      `window.race.step: CPU ${w.race.cpu} has steps 0 to ${steps - 1}, got ${w.race.step}`,
    );
  img[IMG_WIN_CPU] = w.cpu + 1;
  img[IMG_WIN_POINTS] = open | (close << 8);
  img[IMG_WIN_RACE] = w.race.cpu | (w.race.step << 8) | (aim << 20);
}

function domainOf(f: OutcomeField): string[] {
  return f.kind === "result" ? RESULT_LABELS : [...f.values.map(String), "other"];
}

function decode(idx: number, domains: string[][]): string[] {
  return domains.map((d) => {
    const v = d[idx % d.length] as string;
    idx = Math.floor(idx / d.length);
    return v;
  });
}

function storedValue(
  spec: ScenarioSpec,
  cpu: number,
  result: string,
  arg: (a: Arg, w: string) => number,
  where: string,
): number {
  const p = spec.cpus[cpu];
  const s = [...(p?.init ?? []), ...(p?.steps ?? [])].find(
    (x) => x.op === "store" && x.result === result,
  );
  if (s === undefined || s.op !== "store")
    throw new ScenarioError(`${where}: expected a store's result register, got "${result}"`);
  return arg(s.value, where);
}
