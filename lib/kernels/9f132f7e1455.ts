/**
 * 9f132f7e1455 ("mm: select HAVE_MOVE_PMD on x86 for faster mremap", Joel Fernandes, Jan 2019,
 * v5.0): x86 turns on 2c91bd4a4e2e's move_normal_pmd(). A PMD-aligned, PMD-sized extent moves
 * by moving the PMD entry, so a whole PTE table changes address under the PMD lock alone, and
 * the rmap locks are taken only when need_rmap_locks says so (copy_vma() says no for a new VMA
 * placed after the old one). That is the race of CVE-2022-41222: a walker holding the table's
 * PTL from the old address clears a PTE that now maps the new one, flushes the old address, and
 * frees the page under another CPU's TLB entry for the new address.
 *
 * Read from mm/mremap.c at v5.10.13 (Rtoax/linux-5.10.13): move_page_tables() clamps the extent
 * to both PMD boundaries first, then moves a huge PMD, or a normal PMD when the extent is
 * PMD_SIZE (move_normal_pmd(), lib/mm/mremap.ts), else falls back to pte_alloc() and
 * move_ptes(), which is eb66ae030829's (flush before either PTL is dropped, with
 * flush_tlb_batched_pending()). The PUD level (c49dd3401802, HAVE_MOVE_PUD) is not modelled: the
 * model's address space is 64 MiB. zap_pte_range() is v4.19's (lib/mm/memory.ts) until
 * 5df397dec7c4.
 */
import type { Cpu } from "../machine/cpu.js";
import { PMD_MASK, PMD_SIZE } from "../machine/layout.js";
import { HPAGE_PMD_SIZE } from "../mm/huge_memory.js";
import { P_MOVE_PAGE_TABLES_BEFORE_FLUSH } from "../machine/points.js";
import { pmd_trans_huge } from "../mmu/pgtable.js";
import { zap_pte_range } from "../mm/memory.js";
import {
  alloc_new_pmd,
  get_old_pmd,
  move_normal_pmd,
  pte_alloc,
  split_huge_pmd,
} from "../mm/mremap.js";
import { drop_rmap_locks, take_rmap_locks } from "../mm/rmap_locks.js";
import { move_huge_pmd, move_ptes } from "./eb66ae030829.js";
import type { Kernel } from "./kernel.js";

/**
 * move_page_tables() of v5.10. `pmd_rmap_locks` is what a normal PMD move passes for
 * need_rmap_locks: the caller's value before 97113eb39fa7, `true` from it on.
 */
export function move_page_tables_pmd(
  cpu: Cpu,
  vma: number,
  old_addr: number,
  new_vma: number,
  new_addr: number,
  len: number,
  need_rmap_locks: boolean,
  pmd_rmap_locks: boolean,
): number {
  const old_end = old_addr + len;
  let extent = 0;
  for (; old_addr < old_end; old_addr += extent, new_addr += extent) {
    let next = (old_addr + PMD_SIZE) & PMD_MASK;
    // even if next overflowed, extent below will be ok
    extent = next - old_addr;
    if (extent > old_end - old_addr) extent = old_end - old_addr;
    next = (new_addr + PMD_SIZE) & PMD_MASK;
    if (extent > next - new_addr) extent = next - new_addr;
    const old_pmd = get_old_pmd(cpu, old_addr);
    if (old_pmd < 0) continue;
    const new_pmd = alloc_new_pmd(cpu, new_addr);
    if (pmd_trans_huge(Atomics.load(cpu.mem, old_pmd))) {
      if (extent === HPAGE_PMD_SIZE) {
        // See comment in move_ptes()
        if (need_rmap_locks) take_rmap_locks(cpu, vma);
        const moved = move_huge_pmd(cpu, old_addr, new_addr, old_end, old_pmd, new_pmd);
        if (need_rmap_locks) drop_rmap_locks(cpu, vma);
        if (moved) continue;
      }
      split_huge_pmd(cpu, vma, old_pmd, old_addr);
    } else if (extent === PMD_SIZE) {
      // If the extent is PMD-sized, try to speed the move by moving at the PMD level if possible.
      if (pmd_rmap_locks) take_rmap_locks(cpu, vma);
      const moved = move_normal_pmd(cpu, old_addr, old_pmd, new_pmd);
      if (pmd_rmap_locks) drop_rmap_locks(cpu, vma);
      if (moved) continue;
    }
    pte_alloc(cpu, new_pmd);
    move_ptes(
      cpu,
      vma,
      old_pmd,
      old_addr,
      old_addr + extent,
      new_vma,
      new_pmd,
      new_addr,
      need_rmap_locks,
    );
  }
  cpu.point(P_MOVE_PAGE_TABLES_BEFORE_FLUSH); // no final flush: each move flushed itself
  return len + old_addr - old_end;
}

function move_page_tables(
  cpu: Cpu,
  vma: number,
  old_addr: number,
  new_vma: number,
  new_addr: number,
  len: number,
  need_rmap_locks: boolean,
): number {
  return move_page_tables_pmd(
    cpu,
    vma,
    old_addr,
    new_vma,
    new_addr,
    len,
    need_rmap_locks,
    need_rmap_locks,
  );
}

export const k9f132f7e1455: Kernel = {
  name: "9f132f7e1455",
  commit: "9f132f7e145506efc0744426cb338b18a54afc3b",
  title: "mm: select HAVE_MOVE_PMD on x86 for faster mremap",
  summary:
    "move_page_tables() moves a PMD-sized, PMD-aligned extent by moving the PMD entry (move_normal_pmd(), 2c91bd4a4e2e) under the PMD lock only, without the rmap locks when need_rmap_locks is false",
  batchedUnmapFlush: true,
  flushBatchedPending: true,
  move_page_tables,
  zap_pte_range,
};
