/**
 * mm/mremap.c, the parts that are the same in every modelled version: the mremap() syscall,
 * move_vma() and the PMD helpers. move_page_tables() and move_ptes(), which changed from one
 * fix to the next, live in lib/kernels/ as one file per version.
 */
import type { Cpu } from "../machine/cpu.js";
import {
  PAGE_SHIFT,
  PAGE_SIZE,
  PMD_MASK,
  PMD_SIZE,
  VMA_PGOFF,
  VMA_START,
} from "../machine/layout.js";
import { P_MOVE_VMA_COPIED, P_MOVE_VMA_MOVED } from "../machine/points.js";
import { pmd_none, pmd_offset, pmd_trans_huge } from "../mmu/pgtable.js";
import { flush_tlb_range } from "../mmu/shootdown.js";
import { spin_lock, spin_unlock } from "../sync/spinlock.js";
import { __split_huge_pmd, pmd_lockptr } from "./huge_memory.js";
import { down_write, up_write } from "../sync/rwsem.js";
import { __pte_alloc } from "./memory.js";
import { copy_vma, do_munmap, find_vma, vma_field } from "./mmap.js";

/** Move at most this much per move_ptes() call, so the PTLs are not held too long. */
export const LATENCY_LIMIT = 64 * PAGE_SIZE;
export const MREMAP_MAYMOVE = 1;
export const MREMAP_FIXED = 2;
export const EINVAL = 22;
export const EFAULT = 14;
export const ENOMEM = 12;

/** get_old_pmd(): the PMD entry for addr, or -1 if there is no PTE table (pmd_none). */
export function get_old_pmd(cpu: Cpu, addr: number): number {
  const pmdp = pmd_offset(cpu.L, addr);
  return pmd_none(Atomics.load(cpu.mem, pmdp)) ? -1 : pmdp;
}

/** alloc_new_pmd(): the PMD entry for addr (the PMD level always exists in the model). */
export function alloc_new_pmd(cpu: Cpu, addr: number): number {
  return pmd_offset(cpu.L, addr);
}

/** pte_alloc(): a PTE table under the PMD entry, unless it has one. */
export function pte_alloc(cpu: Cpu, pmdp: number): void {
  if (pmd_none(Atomics.load(cpu.mem, pmdp))) __pte_alloc(cpu, pmdp);
}

/**
 * move_normal_pmd() (mm/mremap.c, v5.10.13; added by 2c91bd4a4e2e "mm: speed up mremap by 20x
 * on large regions", v5.0, used on x86 from 9f132f7e1455): move a whole PTE table by moving the
 * PMD entry that points at it. Only the PMD lock is taken, not the table's PTL: an rmap walker
 * that found a PTE through the old PMD and holds that PTL keeps working on the same table, now
 * mapped at the new address, and its flush names the old one (CVE-2022-41222). The destination
 * must be empty (free_pgtables() should have released it); else the caller falls back to
 * move_ptes().
 */
export function move_normal_pmd(
  cpu: Cpu,
  old_addr: number,
  old_pmd: number,
  new_pmd: number,
): boolean {
  const mem = cpu.mem;
  const L = cpu.L;
  if (!pmd_none(Atomics.load(mem, new_pmd))) return false; // WARN_ON_ONCE()
  // We don't have to worry about the ordering of src and dst ptlocks because exclusive
  // mmap_sem prevents deadlock. old_ptl = pmd_lock(); new_ptl = pmd_lockptr() is the same lock:
  // the model's one PMD table.
  spin_lock(cpu, pmd_lockptr(cpu));
  // Clear the pmd
  const pmd = Atomics.load(mem, old_pmd);
  Atomics.store(mem, old_pmd, 0); // pmd_clear()
  // The table goes with the entry; the new slot's unused table becomes the old slot's (the
  // model's bookkeeping of which slot owns which table, under the PMD lock like __pte_alloc()).
  const oldSlot = old_pmd - L.pmd;
  const newSlot = new_pmd - L.pmd;
  const spare = mem[L.pgtableOf + newSlot] as number;
  mem[L.pgtableOf + newSlot] = mem[L.pgtableOf + oldSlot] as number;
  mem[L.pgtableOf + oldSlot] = spare;
  // Set the new pmd
  Atomics.store(mem, new_pmd, pmd); // set_pmd_at()
  flush_tlb_range(cpu, old_addr, old_addr + PMD_SIZE);
  spin_unlock(cpu, pmd_lockptr(cpu));
  return true;
}

/** split_huge_pmd(vma, pmd, address). */
export function split_huge_pmd(cpu: Cpu, vma: number, pmdp: number, addr: number): void {
  __split_huge_pmd(cpu, vma, pmdp, addr & PMD_MASK);
}

/**
 * The checks every move_huge_pmd() version starts with: both addresses 2 MiB aligned, a whole
 * huge page left to move, and no PMD established at the destination. Then the PMD lock is
 * taken (__pmd_trans_huge_lock()) and the PMD re-checked; returns whether it is held.
 */
export function move_huge_pmd_lock(
  cpu: Cpu,
  old_addr: number,
  new_addr: number,
  old_end: number,
  old_pmd: number,
  new_pmd: number,
): boolean {
  if ((old_addr & ~PMD_MASK) !== 0 || (new_addr & ~PMD_MASK) !== 0 || old_end - old_addr < PMD_SIZE)
    return false;
  // The destination pmd shouldn't be established, free_pgtables() should have released it.
  if (!pmd_none(Atomics.load(cpu.mem, new_pmd))) return false;
  spin_lock(cpu, pmd_lockptr(cpu));
  if (pmd_trans_huge(Atomics.load(cpu.mem, old_pmd))) return true;
  spin_unlock(cpu, pmd_lockptr(cpu));
  return false;
}

/** move_vma(): copy the VMA, move its page tables, unmap the old range. mmap_sem held (write). */
function move_vma(
  cpu: Cpu,
  vma: number,
  old_addr: number,
  old_len: number,
  new_addr: number,
): number {
  const new_pgoff =
    vma_field(cpu, vma, VMA_PGOFF) + ((old_addr - vma_field(cpu, vma, VMA_START)) >>> PAGE_SHIFT);
  const new_vma = copy_vma(cpu, vma, new_addr, old_len, new_pgoff);
  const need_rmap_locks = false; // copy_vma() made a new VMA, not a merge
  cpu.point(P_MOVE_VMA_COPIED);
  const moved_len = cpu.kernel.move_page_tables(
    cpu,
    vma,
    old_addr,
    new_vma,
    new_addr,
    old_len,
    need_rmap_locks,
  );
  cpu.point(P_MOVE_VMA_MOVED);
  if (moved_len < old_len)
    throw new Error("move_page_tables() moved less than asked: not modelled");
  do_munmap(cpu, old_addr, old_len);
  return new_addr;
}

/**
 * mremap(addr, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, new_addr): the only form the scenarios
 * use. Returns new_addr or -errno.
 */
export function sys_mremap(cpu: Cpu, addr: number, len: number, new_addr: number): number {
  const L = cpu.L;
  if ((addr & (PAGE_SIZE - 1)) !== 0 || (new_addr & (PAGE_SIZE - 1)) !== 0 || len <= 0)
    return -EINVAL;
  down_write(cpu, L.mmapSem);
  let ret: number;
  // mremap_to(): unmap the destination, then move.
  do_munmap(cpu, new_addr, len);
  const vma = find_vma(cpu, addr); // vma_to_resize()
  if (vma < 0 || vma_field(cpu, vma, VMA_START) > addr) ret = -EFAULT;
  else ret = move_vma(cpu, vma, addr, len, new_addr);
  up_write(cpu, L.mmapSem);
  return ret;
}
