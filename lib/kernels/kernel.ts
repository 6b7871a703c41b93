/** A kernel variant: a named point in history, and the functions that differ there. */
import type { Cpu } from "../machine/cpu.js";

export interface Kernel {
  /** The name users pass to --kernel. */
  readonly name: string;
  /** The commit (or tag) the variant models. */
  readonly commit: string;
  /** Subject line of that commit, or what the tag is. */
  readonly title: string;
  /** What this variant changes compared with the one before it. */
  readonly summary: string;
  /** mm/mremap.c: move_page_tables() of this version. Returns the length moved. */
  move_page_tables(
    cpu: Cpu,
    vma: number,
    old_addr: number,
    new_vma: number,
    new_addr: number,
    len: number,
    need_rmap_locks: boolean,
  ): number;
}
