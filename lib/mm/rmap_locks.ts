/**
 * take_rmap_locks()/drop_rmap_locks() (mm/mremap.c, v4.9): when the new VMA could be visited by
 * an rmap walk before the old one, move_ptes() holds the VMA's rmap locks for write so that a
 * walker never sees the PTE in both places or in neither: i_mmap_rwsem if vma->vm_file, then
 * anon_vma->rwsem if vma->anon_vma; dropped in the reverse order.
 *
 * The model's VMAs are a shared mapping of the file (vm_file, no anon_vma: only a private
 * mapping's COW fault gives a file VMA an anon_vma) or private anonymous memory (no vm_file; the
 * model links it to the anon_vma at mmap() where the kernel attaches it at the first write
 * fault, anon_vma_prepare()). So one lock or the other, never both.
 */
import type { Cpu } from "../machine/cpu.js";
import { down_write, up_write } from "../sync/rwsem.js";
import { vma_is_anonymous } from "./mmap.js";

/** vma->vm_file: the shared file mapping. */
const vm_file = (cpu: Cpu, vma: number): boolean => !vma_is_anonymous(cpu, vma);
/** vma->anon_vma: private anonymous memory. */
const anon_vma = (cpu: Cpu, vma: number): boolean => vma_is_anonymous(cpu, vma);

export function take_rmap_locks(cpu: Cpu, vma: number): void {
  if (vm_file(cpu, vma)) down_write(cpu, cpu.L.iMmapRwsem); // i_mmap_lock_write()
  if (anon_vma(cpu, vma)) down_write(cpu, cpu.L.anonVmaRwsem); // anon_vma_lock_write()
}

export function drop_rmap_locks(cpu: Cpu, vma: number): void {
  if (anon_vma(cpu, vma)) up_write(cpu, cpu.L.anonVmaRwsem); // anon_vma_unlock_write()
  if (vm_file(cpu, vma)) up_write(cpu, cpu.L.iMmapRwsem); // i_mmap_unlock_write()
}
