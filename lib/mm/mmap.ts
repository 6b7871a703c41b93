/**
 * VMAs of the one mm and the file's i_mmap (mm/mmap.c, reduced). The mm's VMAs are slots of
 * L.vmas, guarded by mmap_sem; the file's i_mmap is an ordered list of slots, guarded by
 * i_mmap_rwsem, that rmap walkers (page_mkclean) read without mmap_sem.
 *
 * i_mmap order is the interval tree's: by vm_pgoff, and a VMA inserted with a pgoff equal to an
 * existing one goes to its right (interval_tree_generic.h: "start < ITSTART(parent) ? left :
 * right"). So during mremap() an rmap walk visits the old VMA before the new one.
 */
import { P_DO_MUNMAP_START } from "../machine/points.js";
import type { Cpu } from "../machine/cpu.js";
import {
  MAX_VMAS,
  PAGE_SHIFT,
  PAGE_SIZE,
  PMD_MASK,
  PMD_SIZE,
  VMA_END,
  VMA_FILE,
  VMA_FLAGS,
  VMA_PAGE_PROT,
  VMA_PGOFF,
  VMA_START,
  VMA_WORDS,
} from "../machine/layout.js";
import {
  _PAGE_PSE,
  _PAGE_RW,
  PAGE_COPY,
  PAGE_SHARED_WRNOTIFY,
  pmd_none,
  pmd_offset,
  pmd_present,
  pte_dirty,
  pte_lockptr,
  pte_offset_map,
  pte_pfn,
  pte_present,
  pte_write,
} from "../mmu/pgtable.js";
import { down_read, down_write, up_read, up_write } from "../sync/rwsem.js";
import { spin_lock, spin_unlock } from "../sync/spinlock.js";
import { type MmuGather, pte_free_tlb, tlb_finish_mmu, tlb_gather_mmu } from "./tlb_gather.js";
import { FAULT_FLAG_WRITE, handle_mm_fault, unmap_vmas, VM_FAULT_ERROR } from "./memory.js";
import { PageDirty } from "./page_flags.js";
import { set_page_dirty } from "./page-writeback.js";

export const VM_READ = 0x1;
export const VM_WRITE = 0x2;
export const VM_SHARED = 0x8;
export const VM_MAYWRITE = 0x20;
/** madvise(MADV_HUGEPAGE): write faults may map transparent huge pages. */
export const VM_HUGEPAGE = 0x20000000;
/** Model-only: the slot is allocated but detached from the mm (do_munmap in progress). */
export const VM_DETACHED = 0x40000000;

export const vma_field = (cpu: Cpu, vma: number, field: number): number =>
  Atomics.load(cpu.mem, cpu.L.vma(vma) + field);

/**
 * find_vma(): the first linked VMA with vm_end > addr, or -1. Caller holds mmap_sem, which every
 * writer of a VMA holds for write: the fields cannot change under us, so they are plain reads
 * (an Atomics.load is a call into the runtime, and this scan reads up to 48 words).
 */
export function find_vma(cpu: Cpu, addr: number): number {
  const mem = cpu.mem;
  let best = -1;
  let bestStart = 0;
  for (let v = 0, at = cpu.L.vmas; v < MAX_VMAS; v++, at += VMA_WORDS) {
    const flags = mem[at + VMA_FLAGS] as number;
    if (flags === 0 || (flags & VM_DETACHED) !== 0) continue;
    if ((mem[at + VMA_END] as number) <= addr) continue;
    const start = mem[at + VMA_START] as number;
    if (best < 0 || start < bestStart) {
      best = v;
      bestStart = start;
    }
  }
  return best;
}

function vm_area_alloc(cpu: Cpu): number {
  for (let v = 0; v < MAX_VMAS; v++) {
    if (Atomics.compareExchange(cpu.mem, cpu.L.vma(v) + VMA_FLAGS, 0, VM_DETACHED) === 0) return v;
  }
  throw new Error(`out of VMA slots (${MAX_VMAS})`);
}

function vm_area_free(cpu: Cpu, vma: number): void {
  Atomics.store(cpu.mem, cpu.L.vma(vma) + VMA_FLAGS, 0);
}

/**
 * Insert into an rmap list (the file's i_mmap, or the anon_vma's tree) under its rwsem, right of
 * any VMA with the same pgoff, as the interval tree does (__vma_link_file, anon_vma_chain_link).
 */
function rmap_list_insert(cpu: Cpu, list: number, rwsem: number, vma: number): void {
  const mem = cpu.mem;
  down_write(cpu, rwsem);
  const n = Atomics.load(mem, list);
  const pgoff = vma_field(cpu, vma, VMA_PGOFF);
  let at = n;
  for (let i = 0; i < n; i++) {
    if (pgoff < vma_field(cpu, Atomics.load(mem, list + 1 + i), VMA_PGOFF)) {
      at = i;
      break;
    }
  }
  for (let i = n; i > at; i--) Atomics.store(mem, list + 1 + i, Atomics.load(mem, list + i));
  Atomics.store(mem, list + 1 + at, vma);
  Atomics.store(mem, list, n + 1);
  up_write(cpu, rwsem);
}

/** Remove from an rmap list under its rwsem (unlink_file_vma, unlink_anon_vmas). */
function rmap_list_remove(cpu: Cpu, list: number, rwsem: number, vma: number): void {
  const mem = cpu.mem;
  down_write(cpu, rwsem);
  const n = Atomics.load(mem, list);
  let j = 0;
  for (let i = 0; i < n; i++) {
    const v = Atomics.load(mem, list + 1 + i);
    if (v !== vma) Atomics.store(mem, list + 1 + j++, v);
  }
  Atomics.store(mem, list, j);
  up_write(cpu, rwsem);
}

export const vma_is_anonymous = (cpu: Cpu, vma: number): boolean =>
  vma_field(cpu, vma, VMA_FILE) === 0;

/** unlink_file_vma() / unlink_anon_vmas(): the VMA leaves its rmap list. */
export function unlink_rmap_vma(cpu: Cpu, vma: number): void {
  const L = cpu.L;
  if (vma_is_anonymous(cpu, vma)) rmap_list_remove(cpu, L.anonVma, L.anonVmaRwsem, vma);
  else rmap_list_remove(cpu, L.iMmap, L.iMmapRwsem, vma);
}

/**
 * vma_link(): make the VMA visible to find_vma() and to rmap walkers: a shared mapping of the
 * file (write-notify: PTEs start read-only) or a private anonymous one (PAGE_COPY).
 */
function vma_link(
  cpu: Cpu,
  vma: number,
  start: number,
  end: number,
  pgoff: number,
  file: boolean,
): void {
  const mem = cpu.mem;
  const L = cpu.L;
  const at = L.vma(vma);
  Atomics.store(mem, at + VMA_START, start);
  Atomics.store(mem, at + VMA_END, end);
  Atomics.store(mem, at + VMA_PGOFF, pgoff);
  Atomics.store(mem, at + VMA_FILE, file ? 1 : 0);
  Atomics.store(mem, at + VMA_PAGE_PROT, file ? PAGE_SHARED_WRNOTIFY : PAGE_COPY);
  Atomics.store(mem, at + VMA_FLAGS, VM_READ | VM_WRITE | VM_MAYWRITE | (file ? VM_SHARED : 0));
  if (file) rmap_list_insert(cpu, L.iMmap, L.iMmapRwsem, vma);
  else rmap_list_insert(cpu, L.anonVma, L.anonVmaRwsem, vma);
}

/**
 * mmap(addr, len, PROT_READ|PROT_WRITE, MAP_SHARED|MAP_FIXED, fd, pgoff << PAGE_SHIFT) of the
 * shared file, with `populate` also MAP_POPULATE (see mm_populate). Returns addr.
 */
export function sys_mmap(
  cpu: Cpu,
  addr: number,
  len: number,
  pgoff: number,
  populate = false,
): number {
  const L = cpu.L;
  down_write(cpu, L.mmapSem);
  do_munmap(cpu, addr, len); // MAP_FIXED replaces whatever was there
  vma_link(cpu, vm_area_alloc(cpu), addr, addr + len, pgoff, true);
  up_write(cpu, L.mmapSem);
  if (populate) mm_populate(cpu, addr, len); // vm_mmap_pgoff(), after up_write()
  return addr;
}

/**
 * mmap(addr, len, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS|MAP_FIXED, -1, 0), and with
 * `thp` also madvise(MADV_HUGEPAGE) (VM_HUGEPAGE: write faults map huge pages where they fit);
 * with `populate` also MAP_POPULATE (see mm_populate).
 */
export function sys_mmap_anon(
  cpu: Cpu,
  addr: number,
  len: number,
  thp = false,
  populate = false,
): number {
  const L = cpu.L;
  down_write(cpu, L.mmapSem);
  do_munmap(cpu, addr, len);
  const vma = vm_area_alloc(cpu);
  vma_link(cpu, vma, addr, addr + len, addr >>> PAGE_SHIFT, false);
  if (thp) Atomics.or(cpu.mem, L.vma(vma) + VMA_FLAGS, VM_HUGEPAGE);
  up_write(cpu, L.mmapSem);
  if (populate) mm_populate(cpu, addr, len);
  return addr;
}

/* ---------------------------------------------------------------- MAP_POPULATE */

/**
 * MAP_POPULATE as of v4.9: do_mmap() sets *populate = len, and vm_mmap_pgoff() (mm/util.c)
 * calls mm_populate() once it has dropped mmap_sem: __mm_populate(start, len, ignore_errors=1)
 * (mm/gup.c). That takes mmap_sem for read and runs populate_vma_page_range() on each VMA of
 * the range; an error ends that VMA (__mm_populate retries the failing page once, which fails
 * the same way) and population goes on with the next one.
 */
export function mm_populate(cpu: Cpu, start: number, len: number): void {
  const L = cpu.L;
  const end = start + len;
  down_read(cpu, L.mmapSem);
  for (let nstart = start; nstart < end;) {
    const vma = find_vma(cpu, nstart);
    if (vma < 0 || vma_field(cpu, vma, VMA_START) >= end) break;
    const nend = Math.min(end, vma_field(cpu, vma, VMA_END));
    populate_vma_page_range(cpu, vma, Math.max(nstart, vma_field(cpu, vma, VMA_START)), nend);
    nstart = nend;
  }
  up_read(cpu, L.mmapSem);
}

/**
 * populate_vma_page_range() -> __get_user_pages() (mm/gup.c, v4.9) with FOLL_TOUCH, and
 * FOLL_WRITE only if (vm_flags & (VM_WRITE | VM_SHARED)) == VM_WRITE: a private writable
 * mapping is populated by write faults (COW broken, dirty PTEs), a shared one by read faults,
 * "because these don't COW and we would not want to dirty them for nothing" (clean,
 * write-protected PTEs). For each page, follow_page_mask() looks in the page tables in
 * software, so no CPU's TLB is filled; where no suitable page is mapped, faultin_page() ->
 * handle_mm_fault() (the fault path user accesses take) and look again. Returns the pages
 * done, or -1 (-EFAULT) if the first one failed.
 */
function populate_vma_page_range(cpu: Cpu, vma: number, start: number, end: number): number {
  const write = (vma_field(cpu, vma, VMA_FLAGS) & (VM_WRITE | VM_SHARED)) === VM_WRITE;
  let i = 0;
  for (let addr = start; addr < end; addr += PAGE_SIZE, i++) {
    while (!follow_page(cpu, addr, write)) {
      const ret = handle_mm_fault(cpu, vma, addr, write ? FAULT_FLAG_WRITE : 0);
      if ((ret & VM_FAULT_ERROR) !== 0) return i > 0 ? i : -1; // e.g. SIGBUS beyond i_size
    }
  }
  return i;
}

/**
 * follow_page_mask() -> follow_page_pte() without FOLL_GET: is a page mapped at addr (and
 * writable, for FOLL_WRITE)? Under the PTL. FOLL_TOUCH with FOLL_WRITE dirties the page if
 * neither it nor the PTE is dirty. A huge PMD counts as mapped (follow_trans_huge_pmd); one
 * being split is not present, and the fault path waits for it.
 */
function follow_page(cpu: Cpu, addr: number, write: boolean): boolean {
  const mem = cpu.mem;
  const pmdp = pmd_offset(cpu.L, addr);
  const pmd = Atomics.load(mem, pmdp);
  if (pmd_none(pmd)) return false; // no_page_table()
  if ((pmd & _PAGE_PSE) !== 0) return pmd_present(pmd) && (!write || (pmd & _PAGE_RW) !== 0);
  const ptl = pte_lockptr(cpu.L, pmd);
  spin_lock(cpu, ptl);
  const pte = Atomics.load(mem, pte_offset_map(cpu.L, pmd, addr));
  const found = pte_present(pte) && (!write || pte_write(pte)); // can_follow_write_pte()
  if (found && write && !pte_dirty(pte) && !PageDirty(cpu, pte_pfn(pte)))
    set_page_dirty(cpu, pte_pfn(pte));
  spin_unlock(cpu, ptl);
  return found;
}

/**
 * copy_vma() for a move to an empty range: a new VMA at new_addr, linked into the mm and into
 * i_mmap (to the right of the old one). A brand-new VMA needs no rmap locks in move_ptes():
 * *need_rmap_locks = false.
 */
export function copy_vma(
  cpu: Cpu,
  old: number,
  new_addr: number,
  len: number,
  pgoff: number,
): number {
  const vma = vm_area_alloc(cpu);
  vma_link(cpu, vma, new_addr, new_addr + len, pgoff, !vma_is_anonymous(cpu, old));
  Atomics.or(cpu.mem, cpu.L.vma(vma) + VMA_FLAGS, vma_field(cpu, old, VMA_FLAGS) & VM_HUGEPAGE);
  return vma;
}

/* ------------------------------------------------------------ munmap (mm/mmap.c, v4.9) */

/**
 * free_pte_range() (mm/memory.c, v4.9): pmd_clear(pmd), then pte_free_tlb(tlb, token, addr).
 * The model's PTE tables are static, one per PMD slot: freeing one is clearing its PMD entry
 * (__pte_alloc() zeroes the table when the PMD is populated again). The kernel takes no
 * spinlock here: the caller holds mmap_sem for write (no fault can walk in through the VMAs) and
 * free_pgtables() has already unlinked the VMAs from i_mmap and the anon_vma (no rmap walk can
 * reach the table); a hardware walk still under way sees the PMD or not, and finds only empty
 * PTEs. The gather's flush (tlb_finish_mmu()) comes before the table could be reused.
 */
function free_pte_range(cpu: Cpu, tlb: MmuGather, pmdp: number, addr: number): void {
  Atomics.store(cpu.mem, pmdp, 0); // pmd_clear()
  pte_free_tlb(tlb, addr);
}

/**
 * free_pgd_range() -> free_pud_range() -> free_pmd_range() (mm/memory.c, v4.9) at the PMD level:
 * free the PTE tables of [addr, end) that no VMA outside [floor, ceiling) can still use. addr is
 * rounded down and ceiling down to PMD boundaries; a table shared with the VMA below (addr <
 * floor) or above (end beyond ceiling) is kept. 0 is the bottom as floor, the top as ceiling
 * (hence the "- 1"s). Tables are freed whole: a PMD entry is cleared only if its 2 MiB holds no
 * other VMA. The PMD, PUD and PGD pages above (freed when their whole 1 GiB / 512 GiB is empty,
 * adding [start, start + PAGE_SIZE) to the range as well) are not modelled: the model has one
 * static PMD table, standing for a process whose other mappings keep those levels in use.
 */
export function free_pgd_range(
  cpu: Cpu,
  tlb: MmuGather,
  addr: number,
  end: number,
  floor: number,
  ceiling: number,
): void {
  addr &= PMD_MASK;
  if (addr < floor) {
    addr += PMD_SIZE;
    if (addr === 0) return;
  }
  if (ceiling !== 0) {
    ceiling &= PMD_MASK;
    if (ceiling === 0) return;
  }
  // Unsigned in the kernel: ceiling 0 (the top) minus 1 is above every end.
  if (ceiling !== 0 && end - 1 > ceiling - 1) end -= PMD_SIZE;
  if (addr > end - 1) return;
  for (let next: number; addr !== end; addr = next) {
    next = Math.min((addr & PMD_MASK) + PMD_SIZE, end); // pmd_addr_end()
    const pmdp = pmd_offset(cpu.L, addr);
    if (pmd_none(Atomics.load(cpu.mem, pmdp))) continue; // pmd_none_or_clear_bad()
    free_pte_range(cpu, tlb, pmdp, addr);
  }
}

/**
 * free_pgtables() (mm/memory.c, v4.9): for each VMA (in address order, already detached from
 * the mm), hide it from rmap (unlink_anon_vmas(), unlink_file_vma()), then free its page tables;
 * nearby VMAs (the next one starting within PMD_SIZE of this one's end) go down in one call,
 * bounded by the next VMA of the list, or by `ceiling` after the last one.
 */
function free_pgtables(
  cpu: Cpu,
  tlb: MmuGather,
  vmas: Int32Array,
  nr: number,
  floor: number,
  ceiling: number,
): void {
  for (let i = 0; i < nr; i++) {
    let vma = vmas[i] as number;
    const addr = vma_field(cpu, vma, VMA_START);
    unlink_rmap_vma(cpu, vma);
    // Optimization: gather nearby vmas into one call down
    while (
      i + 1 < nr &&
      vma_field(cpu, vmas[i + 1] as number, VMA_START) <= vma_field(cpu, vma, VMA_END) + PMD_SIZE
    ) {
      vma = vmas[++i] as number;
      unlink_rmap_vma(cpu, vma);
    }
    const next = i + 1 < nr ? (vmas[i + 1] as number) : -1;
    free_pgd_range(
      cpu,
      tlb,
      addr,
      vma_field(cpu, vma, VMA_END),
      floor,
      next >= 0 ? vma_field(cpu, next, VMA_START) : ceiling,
    );
  }
}

/**
 * unmap_region() (mm/mmap.c, v4.9): one gather for the whole [start, end): zap the PTEs of
 * every VMA, free_pgtables() between the VMA below (prev->vm_end, or FIRST_USER_ADDRESS, 0) and
 * the one above (next->vm_start, or USER_PGTABLES_CEILING, 0), then tlb_finish_mmu(). A PTE
 * table freed there adds its first page to the gather's range, so the final flush happens even
 * when no PTE was mapped (the PTEs may have been zapped or moved before).
 */
function unmap_region(
  cpu: Cpu,
  vmas: Int32Array,
  nr: number,
  prev: number,
  next: number,
  start: number,
  end: number,
): void {
  const tlb = cpu.tlb;
  tlb_gather_mmu(tlb, start, end);
  for (let i = 0; i < nr; i++) {
    const vma = vmas[i] as number;
    unmap_vmas(
      cpu,
      tlb,
      vma,
      Math.max(start, vma_field(cpu, vma, VMA_START)),
      Math.min(end, vma_field(cpu, vma, VMA_END)),
    );
  }
  free_pgtables(
    cpu,
    tlb,
    vmas,
    nr,
    prev >= 0 ? vma_field(cpu, prev, VMA_END) : 0,
    next >= 0 ? vma_field(cpu, next, VMA_START) : 0,
  );
  tlb_finish_mmu(cpu, tlb);
}

/** The linked VMA before [start, ...): the last one ending at or below start, -1 if none. */
function vma_prev(cpu: Cpu, start: number): number {
  let prev = -1;
  for (let v = 0; v < MAX_VMAS; v++) {
    const flags = vma_field(cpu, v, VMA_FLAGS);
    if (flags === 0 || (flags & VM_DETACHED) !== 0) continue;
    const ve = vma_field(cpu, v, VMA_END);
    if (ve <= start && (prev < 0 || ve > vma_field(cpu, prev, VMA_END))) prev = v;
  }
  return prev;
}

/** The linked VMA after [..., end): the first one starting at or above end, -1 if none. */
function vma_next(cpu: Cpu, end: number): number {
  let next = -1;
  for (let v = 0; v < MAX_VMAS; v++) {
    const flags = vma_field(cpu, v, VMA_FLAGS);
    if (flags === 0 || (flags & VM_DETACHED) !== 0) continue;
    const vs = vma_field(cpu, v, VMA_START);
    if (vs >= end && (next < 0 || vs < vma_field(cpu, next, VMA_START))) next = v;
  }
  return next;
}

/** The VMAs one do_munmap() detaches: this CPU's scratch list, so a munmap allocates nothing. */
const detached = new Int32Array(MAX_VMAS);

/**
 * do_munmap() (mm/mmap.c, v4.9): caller holds mmap_sem for write. Detaches every VMA inside
 * [start, start+len) (detach_vmas_to_be_unmapped(): find_vma() no longer sees them), then one
 * unmap_region() for them all, then frees them (remove_vma_list()). Splitting a VMA is not
 * modelled (scenarios unmap whole mappings).
 */
export function do_munmap(cpu: Cpu, start: number, len: number): number {
  cpu.point(P_DO_MUNMAP_START);
  const end = start + len;
  let nr = 0;
  for (let at = start; ;) {
    const vma = find_vma(cpu, at);
    if (vma < 0 || vma_field(cpu, vma, VMA_START) >= end) break;
    const vstart = vma_field(cpu, vma, VMA_START);
    const vend = vma_field(cpu, vma, VMA_END);
    if (vstart < start || vend > end) {
      throw new Error(
        `munmap of part of a VMA is not modelled: [${hex(start)}, ${hex(end)}) vs [${hex(vstart)}, ${hex(vend)})`,
      );
    }
    detached[nr++] = vma;
    at = vend;
  }
  if (nr === 0) return 0;
  const prev = vma_prev(cpu, start);
  const next = vma_next(cpu, end);
  for (let i = 0; i < nr; i++)
    Atomics.or(cpu.mem, cpu.L.vma(detached[i] as number) + VMA_FLAGS, VM_DETACHED);
  unmap_region(cpu, detached, nr, prev, next, start, end);
  for (let i = 0; i < nr; i++) vm_area_free(cpu, detached[i] as number); // remove_vma_list()
  return 0;
}

export function sys_munmap(cpu: Cpu, addr: number, len: number): number {
  down_write(cpu, cpu.L.mmapSem);
  const ret = do_munmap(cpu, addr, len);
  up_write(cpu, cpu.L.mmapSem);
  return ret;
}

/**
 * vma_address() (mm/internal.h, v4.9 __vma_address() with its range check): the user address at
 * which `vma` maps the page of file or anon index `index`, or -1 if the VMA does not cover it
 * (the interval tree walks of rmap only visit VMAs that do).
 */
export function vma_address(cpu: Cpu, vma: number, index: number): number {
  const pgoff = vma_field(cpu, vma, VMA_PGOFF);
  const start = vma_field(cpu, vma, VMA_START);
  const pages = (vma_field(cpu, vma, VMA_END) - start) >>> PAGE_SHIFT;
  if (index < pgoff || index >= pgoff + pages) return -1;
  return start + ((index - pgoff) << PAGE_SHIFT);
}

/** linear_page_index(): the file index mapped at addr in vma. */
export function linear_page_index(cpu: Cpu, vma: number, addr: number): number {
  return ((addr - vma_field(cpu, vma, VMA_START)) >>> PAGE_SHIFT) + vma_field(cpu, vma, VMA_PGOFF);
}

const hex = (n: number): string => `0x${n.toString(16)}`;
