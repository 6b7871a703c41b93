/**
 * x86 page-table entry encoding (arch/x86/include/asm/pgtable_types.h) and the accessors the
 * kernel uses on it. An entry is one 32-bit word: flags in the low 12 bits, the pfn above.
 */
import { PAGE_SHIFT, PMD_SHIFT, PTRS_PER_PTE, type Layout } from "../machine/layout.js";

export const _PAGE_PRESENT = 0x001;
export const _PAGE_RW = 0x002;
export const _PAGE_USER = 0x004;
export const _PAGE_ACCESSED = 0x020;
export const _PAGE_DIRTY = 0x040;
export const _PAGE_PSE = 0x080; // a huge PMD
export const _PAGE_SOFT_DIRTY = 0x800;
export const PTE_FLAGS_MASK = 0xfff;
export const PTE_PFN_MASK = ~PTE_FLAGS_MASK;

/** The flags of a PMD entry that points at a PTE table (pmd_populate(): _KERNPG_TABLE | _PAGE_USER). */
export const _PAGE_TABLE = _PAGE_PRESENT | _PAGE_RW | _PAGE_USER | _PAGE_ACCESSED | _PAGE_DIRTY;

/** vm_page_prot of a shared file mapping whose fs has ->page_mkwrite: write-notify, so RO. */
export const PAGE_SHARED_WRNOTIFY = _PAGE_PRESENT | _PAGE_USER;
/** vm_page_prot of a private writable mapping: read-only until a write fault (PAGE_COPY). */
export const PAGE_COPY = _PAGE_PRESENT | _PAGE_USER;

/**
 * A migration entry (include/linux/swapops.h, v4.9: a swap entry of type SWP_MIGRATION_READ or
 * SWP_MIGRATION_WRITE): present bit clear, this bit set, the page's pfn above the flags, and
 * _PAGE_RW kept for a write migration entry. is_swap_pte() is true for it too, as in the kernel.
 */
export const _PAGE_MIGRATION = 0x200;
export const make_migration_entry = (pfn: number, write: boolean): number =>
  (pfn << PAGE_SHIFT) | _PAGE_MIGRATION | (write ? _PAGE_RW : 0);
export const is_migration_entry = (pte: number): boolean =>
  (pte & (_PAGE_PRESENT | _PAGE_MIGRATION)) === _PAGE_MIGRATION;
export const is_write_migration_entry = (pte: number): boolean => (pte & _PAGE_RW) !== 0;
export const migration_entry_to_pfn = (pte: number): number => pte >>> PAGE_SHIFT;

/** A swap entry in a non-present PTE: the slot above the flags, present bit clear. */
export const pte_is_swap = (pte: number): boolean => pte !== 0 && (pte & _PAGE_PRESENT) === 0;
export const swp_entry_to_pte = (slot: number): number => (slot + 1) << PAGE_SHIFT;
export const pte_to_swp_slot = (pte: number): number => (pte >>> PAGE_SHIFT) - 1;

/**
 * PTE accesses as the kernel makes them on x86-64 (arch/x86/include/asm/pgtable_64.h, v4.9): a
 * PTE is read with a plain load (`*ptep`, later ptep_get()) and written with a plain store
 * (native_set_pte(): `*ptep = pte`); only ptep_get_and_clear() is a locked instruction
 * (native_ptep_get_and_clear(): `xchg(&xp->pte, 0)` under CONFIG_SMP). The model makes the same
 * choice, and it matters for cost as well as fidelity: an Atomics call is a V8 builtin call of
 * about 10 ns, a plain typed-array access about 1 ns, and a loop over 512 PTEs that paid three
 * Atomics calls per entry made a PTE move several times dearer than the kernel's, against a
 * shootdown (docs/kernels.md, "bench mremap against the June 2018 linux-mm thread").
 * A plain read is used only where the kernel's read is plain and a fresh value is guaranteed by
 * what comes before it (a lock taken, an Atomics call in the same loop); the hardware walker
 * (lib/mmu/walker.ts) and every lockless re-check keep Atomics.load.
 */
export const ptep_get = (mem: Int32Array, ptep: number): number => mem[ptep] as number;
/** set_pte_at() -> native_set_pte(): a plain store. */
export function set_pte_at(mem: Int32Array, ptep: number, pte: number): void {
  mem[ptep] = pte;
}
/** ptep_get_and_clear() -> native_ptep_get_and_clear(): xchg, atomic against the MMU's A/D updates. */
export const ptep_get_and_clear = (mem: Int32Array, ptep: number): number =>
  Atomics.exchange(mem, ptep, 0);

export const pte_none = (pte: number): boolean => pte === 0;
export const pte_present = (pte: number): boolean => (pte & _PAGE_PRESENT) !== 0;
export const pte_dirty = (pte: number): boolean => (pte & _PAGE_DIRTY) !== 0;
export const pte_write = (pte: number): boolean => (pte & _PAGE_RW) !== 0;
export const pte_young = (pte: number): boolean => (pte & _PAGE_ACCESSED) !== 0;
export const pte_pfn = (pte: number): number => pte >>> PAGE_SHIFT;
export const pte_wrprotect = (pte: number): number => pte & ~_PAGE_RW;
export const pte_mkclean = (pte: number): number => pte & ~_PAGE_DIRTY;
export const pte_mkdirty = (pte: number): number => pte | _PAGE_DIRTY | _PAGE_SOFT_DIRTY;
export const pte_mkwrite = (pte: number): number => pte | _PAGE_RW;
export const pte_mkyoung = (pte: number): number => pte | _PAGE_ACCESSED;
export const pte_mksoft_dirty = (pte: number): number => pte | _PAGE_SOFT_DIRTY;
export const mk_pte = (pfn: number, prot: number): number => (pfn << PAGE_SHIFT) | prot;

export const pmd_none = (pmd: number): boolean => pmd === 0;
export const pmd_present = (pmd: number): boolean => (pmd & _PAGE_PRESENT) !== 0;
export const pmd_trans_huge = (pmd: number): boolean =>
  (pmd & (_PAGE_PSE | _PAGE_PRESENT)) === (_PAGE_PSE | _PAGE_PRESENT);
export const pmd_dirty = (pmd: number): boolean => (pmd & _PAGE_DIRTY) !== 0;
export const pmd_mksoft_dirty = (pmd: number): number => pmd | _PAGE_SOFT_DIRTY;

export const pmd_index = (addr: number): number => addr >>> PMD_SHIFT;
export const pte_index = (addr: number): number => (addr >>> PAGE_SHIFT) & (PTRS_PER_PTE - 1);

/** Word offset of the PMD entry covering addr (pmd_offset). */
export const pmd_offset = (L: Layout, addr: number): number => L.pmd + pmd_index(addr);

/**
 * PTE tables. A PMD entry that is a table holds the table's number where a real one holds the
 * table page's pfn (pmd_populate() -> set_pmd(pmd, __pmd(PFN_PHYS(page_to_pfn(pte)) |
 * _PAGE_TABLE)), arch/x86/include/asm/pgalloc.h, v5.10). The split PTL lives with the table, as
 * ptlock_ptr(pmd_page(*pmd)) lives in the table page's struct page: since move_normal_pmd()
 * (2c91bd4a4e2e, v5.0) a table, and its lock, can move to another PMD. The model has NR_PMDS
 * tables, one owned by each PMD slot (L.pgtableOf); moving a table into an empty slot swaps the
 * two slots' tables, so each slot still owns exactly one.
 */
export const pmd_populate = (table: number): number => (table << PAGE_SHIFT) | _PAGE_TABLE;
/** The PTE table a present, non-huge PMD entry points at (pmd_pgtable() / pmd_page()). */
export const pmd_pgtable = (pmd: number): number => pmd >>> PAGE_SHIFT;

/**
 * Word offset of the PTE for addr in the table `pmd` points at (pte_offset_map(pmd, addr)).
 * `pmd` is the entry's value, read once by the caller: only meaningful for a table PMD.
 */
export const pte_offset_map = (L: Layout, pmd: number, addr: number): number =>
  L.pte + pmd_pgtable(pmd) * PTRS_PER_PTE + pte_index(addr);

/** The split page-table lock of the PTE table `pmd` points at (pte_lockptr(mm, pmd)). */
export const pte_lockptr = (L: Layout, pmd: number): number => L.ptlOf(pmd_pgtable(pmd));

/**
 * A software walk to the PTE table for addr, for inspection (tests, traces): the table the PMD
 * points at now, or, for an empty or huge PMD, the table its slot owns.
 */
function pgtable_walk(mem: Int32Array, L: Layout, addr: number): number {
  const pmd = Atomics.load(mem, pmd_offset(L, addr));
  return (pmd & (_PAGE_PRESENT | _PAGE_PSE)) === _PAGE_PRESENT
    ? pmd_pgtable(pmd)
    : (mem[L.pgtableOf + pmd_index(addr)] as number);
}

/** The PTE word for addr through pgtable_walk() (inspection only). */
export const pte_offset_walk = (mem: Int32Array, L: Layout, addr: number): number =>
  L.pte + pgtable_walk(mem, L, addr) * PTRS_PER_PTE + pte_index(addr);

/** The PTL of the table for addr through pgtable_walk() (inspection only). */
export const pte_lockptr_walk = (mem: Int32Array, L: Layout, addr: number): number =>
  L.ptlOf(pgtable_walk(mem, L, addr));
