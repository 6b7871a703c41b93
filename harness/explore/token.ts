/**
 * Replay tokens: everything needed to rerun one controlled schedule, in a short string. A token
 * names the scenario and kernel and carries fingerprints of both, so a token made by another
 * version of either is refused instead of replaying something else.
 */
import { createHash } from "node:crypto";
import type { Kernel } from "../../lib/kernels/kernel.js";
import type { ScenarioSpec } from "../../lib/scenarios/types.js";
import { UsageError } from "../../lib/units.js";

export interface ReplaySpec {
  v: 1;
  /** Scenario name and fingerprint. */
  s: string;
  sh: string;
  /** Kernel variant name and fingerprint. */
  k: string;
  kh: string;
  /** Parameters, CPUs, architecture. */
  p: Record<string, number>;
  n: number;
  a: "x86" | "arm64";
  /** 1: made by dpor, whose waiters follow the footprint rule: replay with footprints. */
  f?: 1;
  /** The chosen CPU at every decision, run-length encoded: "0*12.1*3.0*40". */
  x: string;
}

const fingerprint = (text: string): string =>
  createHash("sha256").update(text).digest("hex").slice(0, 12);

export const scenarioFingerprint = (s: ScenarioSpec): string => fingerprint(JSON.stringify(s));

/** A kernel variant's fingerprint: its name, commit and the code of its own paths. */
export const kernelFingerprint = (k: Kernel): string =>
  fingerprint(`${k.name} ${k.commit} ${Object.values(k).map(String).join("\n")}`);

export function encodeChoices(choices: readonly number[]): string {
  const out: string[] = [];
  for (let i = 0; i < choices.length;) {
    let j = i;
    while (j < choices.length && choices[j] === choices[i]) j++;
    out.push(`${choices[i]}*${j - i}`);
    i = j;
  }
  return out.join(".");
}

export function decodeChoices(x: string): number[] {
  if (x === "") return [];
  const out: number[] = [];
  for (const run of x.split(".")) {
    const m = /^(\d+)\*(\d+)$/.exec(run);
    if (m === null) throw new UsageError(`replay token: bad schedule "${run}"`);
    for (let i = 0; i < Number(m[2]); i++) out.push(Number(m[1]));
  }
  return out;
}

export const encodeToken = (r: ReplaySpec): string =>
  `tlbr1.${Buffer.from(JSON.stringify(r)).toString("base64url")}`;

export function decodeToken(token: string): ReplaySpec {
  const t = token.trim();
  if (!t.startsWith("tlbr1."))
    throw new UsageError(`replay token: not a tlbrace token ("${t.slice(0, 20)}...")`);
  let r: unknown;
  try {
    r = JSON.parse(Buffer.from(t.slice(6), "base64url").toString("utf8"));
  } catch {
    throw new UsageError("replay token: damaged (not base64url JSON)");
  }
  const o = r as Partial<ReplaySpec>;
  if (
    o.v !== 1 ||
    typeof o.s !== "string" ||
    typeof o.sh !== "string" ||
    typeof o.k !== "string" ||
    typeof o.kh !== "string" ||
    typeof o.n !== "number" ||
    typeof o.x !== "string" ||
    typeof o.p !== "object" ||
    (o.a !== "x86" && o.a !== "arm64")
  )
    throw new UsageError("replay token: damaged (fields missing)");
  return o as ReplaySpec;
}
