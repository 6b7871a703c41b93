/**
 * arch/x86/mm/fault.c: __do_page_fault() for a user-mode access. An address with no VMA, or a
 * write to a VMA without VM_WRITE, is a SIGSEGV delivered to the user program (bad_area).
 */
import type { Cpu } from "../machine/cpu.js";
import { VMA_FLAGS, VMA_START } from "../machine/layout.js";
import { down_read, up_read } from "../sync/rwsem.js";
import { FAULT_FLAG_WRITE, handle_mm_fault, VM_FAULT_ERROR } from "./memory.js";
import { find_vma, VM_WRITE, vma_field } from "./mmap.js";

export const SIGSEGV = 11;
export const SIGBUS = 7;

/** Returns 0 if the access should be retried, or the signal to deliver. */
export function __do_page_fault(cpu: Cpu, addr: number, flags: number): number {
  const L = cpu.L;
  down_read(cpu, L.mmapSem);
  const vma = find_vma(cpu, addr);
  if (vma < 0 || vma_field(cpu, vma, VMA_START) > addr) {
    up_read(cpu, L.mmapSem);
    return SIGSEGV; // bad_area()
  }
  if ((flags & FAULT_FLAG_WRITE) !== 0 && (vma_field(cpu, vma, VMA_FLAGS) & VM_WRITE) === 0) {
    up_read(cpu, L.mmapSem);
    return SIGSEGV; // bad_area_access_error()
  }
  const fault = handle_mm_fault(cpu, vma, addr, flags);
  up_read(cpu, L.mmapSem);
  return (fault & VM_FAULT_ERROR) !== 0 ? SIGBUS : 0;
}
