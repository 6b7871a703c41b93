/**
 * 97113eb39fa7 ("mm/mremap: hold the rmap lock in write mode when moving page table entries.",
 * Aneesh Kumar K.V, June 2021, v5.14; CVE-2022-41222): move_page_tables() passes `true` for
 * need_rmap_locks to the normal PMD (and PUD) move, so a PTE table never changes address while
 * an rmap walker (which holds i_mmap_rwsem or anon_vma->rwsem for read) is inside it.
 *
 * Read from the patch as backported to 5.13.3 (its diff: two `need_rmap_locks` become `true` in
 * move_page_tables()) and from mm/mremap.c at v6.2.1, where move_pgt_entry(NORMAL_PMD, ...,
 * true) is the same code. Everything else is 9f132f7e1455's.
 */
import type { Cpu } from "../machine/cpu.js";
import { zap_pte_range } from "../mm/memory.js";
import { move_page_tables_pmd } from "./9f132f7e1455.js";
import type { Kernel } from "./kernel.js";

export function move_page_tables(
  cpu: Cpu,
  vma: number,
  old_addr: number,
  new_vma: number,
  new_addr: number,
  len: number,
  need_rmap_locks: boolean,
): number {
  return move_page_tables_pmd(cpu, vma, old_addr, new_vma, new_addr, len, need_rmap_locks, true);
}

export const k97113eb39fa7: Kernel = {
  name: "97113eb39fa7",
  commit: "97113eb39fa7972722ff490b947d8af023e1f6a2",
  title: "mm/mremap: hold the rmap lock in write mode when moving page table entries.",
  summary:
    "a normal PMD move always takes the rmap locks for write, so no rmap walker is inside the PTE table while it moves",
  batchedUnmapFlush: true,
  flushBatchedPending: true,
  move_page_tables,
  zap_pte_range,
};
