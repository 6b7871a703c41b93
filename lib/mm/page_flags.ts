/**
 * struct page flags (include/linux/page-flags.h) and lock_page(). Flags are changed with
 * atomic bit operations; PG_locked is a futex mutex of its own word so that lock_page() can
 * sleep the way the kernel's wait_on_page_bit() does.
 */
import type { Cpu } from "../machine/cpu.js";
import {
  MAPPING_ANON,
  PAGE_FLAGS,
  PAGE_LOCK,
  PAGE_MAPCOUNT,
  PAGE_MAPPING,
} from "../machine/layout.js";
import { mutex_is_locked, mutex_lock, mutex_trylock, mutex_unlock } from "../sync/mutex.js";

export const PG_dirty = 1 << 0;
export const PG_writeback = 1 << 1;
export const PG_uptodate = 1 << 2;
export const PG_referenced = 1 << 3;
export const PG_swapcache = 1 << 4;
export const PG_head = 1 << 5; // head of a compound (transparent huge) page

const flags = (cpu: Cpu, pfn: number): number => cpu.L.page(pfn) + PAGE_FLAGS;

export const PageDirty = (cpu: Cpu, pfn: number): boolean =>
  (Atomics.load(cpu.mem, flags(cpu, pfn)) & PG_dirty) !== 0;
export const PageWriteback = (cpu: Cpu, pfn: number): boolean =>
  (Atomics.load(cpu.mem, flags(cpu, pfn)) & PG_writeback) !== 0;
export const PageUptodate = (cpu: Cpu, pfn: number): boolean =>
  (Atomics.load(cpu.mem, flags(cpu, pfn)) & PG_uptodate) !== 0;
export const PageLocked = (cpu: Cpu, pfn: number): boolean =>
  mutex_is_locked(cpu.mem, cpu.L.page(pfn) + PAGE_LOCK);

/** Returns true if the flag was already set. */
export function TestSetPageFlag(cpu: Cpu, pfn: number, flag: number): boolean {
  return (Atomics.or(cpu.mem, flags(cpu, pfn), flag) & flag) !== 0;
}
/** Returns true if the flag was set (and is now clear). */
export function TestClearPageFlag(cpu: Cpu, pfn: number, flag: number): boolean {
  return (Atomics.and(cpu.mem, flags(cpu, pfn), ~flag) & flag) !== 0;
}
export const SetPageFlag = (cpu: Cpu, pfn: number, flag: number): void => {
  Atomics.or(cpu.mem, flags(cpu, pfn), flag);
};
export const ClearPageFlag = (cpu: Cpu, pfn: number, flag: number): void => {
  Atomics.and(cpu.mem, flags(cpu, pfn), ~flag);
};

export const TestClearPageDirty = (cpu: Cpu, pfn: number): boolean =>
  TestClearPageFlag(cpu, pfn, PG_dirty);

export function lock_page(cpu: Cpu, pfn: number): void {
  mutex_lock(cpu, cpu.L.page(pfn) + PAGE_LOCK);
}
export function trylock_page(cpu: Cpu, pfn: number): boolean {
  return mutex_trylock(cpu, cpu.L.page(pfn) + PAGE_LOCK);
}
export function unlock_page(cpu: Cpu, pfn: number): void {
  mutex_unlock(cpu, cpu.L.page(pfn) + PAGE_LOCK);
}

/** page_mapped(): mapped by at least one PTE. */
export const page_mapped = (cpu: Cpu, pfn: number): boolean =>
  Atomics.load(cpu.mem, cpu.L.page(pfn) + PAGE_MAPCOUNT) > 0;
export const page_mapping = (cpu: Cpu, pfn: number): number =>
  Atomics.load(cpu.mem, cpu.L.page(pfn) + PAGE_MAPPING);
export const PageAnon = (cpu: Cpu, pfn: number): boolean =>
  Atomics.load(cpu.mem, cpu.L.page(pfn) + PAGE_MAPPING) === MAPPING_ANON;
export const PageHead = (cpu: Cpu, pfn: number): boolean =>
  (Atomics.load(cpu.mem, flags(cpu, pfn)) & PG_head) !== 0;
export const PageSwapCache = (cpu: Cpu, pfn: number): boolean =>
  (Atomics.load(cpu.mem, flags(cpu, pfn)) & PG_swapcache) !== 0;
