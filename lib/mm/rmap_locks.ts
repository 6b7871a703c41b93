/**
 * take_rmap_locks()/drop_rmap_locks() (mm/mremap.c): when the new VMA could be visited by an
 * rmap walk before the old one, move_ptes() holds i_mmap_rwsem for write so that a walker never
 * sees the PTE in both places or in neither.
 */
import type { Cpu } from "../machine/cpu.js";
import { down_write, up_write } from "../sync/rwsem.js";

export function take_rmap_locks(cpu: Cpu): void {
  down_write(cpu, cpu.L.iMmapRwsem);
}

export function drop_rmap_locks(cpu: Cpu): void {
  up_write(cpu, cpu.L.iMmapRwsem);
}
