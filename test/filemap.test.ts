import test from "ava";
import { PAGE_SHIFT, PAGE_MAPCOUNT } from "../lib/machine/layout.js";
import { user_store } from "../lib/mmu/access.js";
import { _PAGE_DIRTY, _PAGE_RW, pte_pfn } from "../lib/mmu/pgtable.js";
import { fadvise_dontneed } from "../lib/mm/fadvise.js";
import { do_generic_file_read, find_get_page } from "../lib/mm/filemap.js";
import { copy_vma, find_vma, sys_mmap, sys_munmap } from "../lib/mm/mmap.js";
import { put_page } from "../lib/mm/page_alloc.js";
import { lock_page, PageDirty, unlock_page } from "../lib/mm/page_flags.js";
import { page_mkclean } from "../lib/mm/rmap.js";
import { invalidate_mapping_pages } from "../lib/mm/truncate.js";
import { write_cache_pages } from "../lib/mm/page-writeback.js";
import { solo } from "./helpers/solo.js";

const LEN = 4 << PAGE_SHIFT;

test("fadvise(DONTNEED) writes a dirty mapped page back, cleans and write-protects its PTE, keeps it cached", (t) => {
  const m = solo();
  sys_mmap(m.cpu, m.X, LEN, 0);
  user_store(m.cpu, m.X, 5);
  const pfn = pte_pfn(m.pte(m.X));
  t.true(PageDirty(m.cpu, pfn));
  fadvise_dontneed(m.cpu, 0, 4);
  t.is(m.backing(0), 5, "written back");
  t.false(PageDirty(m.cpu, pfn), "page clean");
  t.falsy(m.pte(m.X) & _PAGE_DIRTY, "PTE clean");
  t.falsy(m.pte(m.X) & _PAGE_RW, "PTE write-protected");
  t.is(m.cached(0), pfn, "mapped pages are not invalidated");
});

test("a recorded write after writeback re-dirties the page through do_wp_page", (t) => {
  const m = solo();
  sys_mmap(m.cpu, m.X, LEN, 0);
  user_store(m.cpu, m.X, 1);
  fadvise_dontneed(m.cpu, 0, 4);
  const pfn = pte_pfn(m.pte(m.X));
  t.is(user_store(m.cpu, m.X, 2), 0);
  t.true(PageDirty(m.cpu, pfn));
  sys_munmap(m.cpu, m.X, LEN);
  fadvise_dontneed(m.cpu, 0, 4);
  t.is(m.cached(0), 0, "unmapped clean page dropped");
  t.is(do_generic_file_read(m.cpu, 0, 0), 2, "pread reads the recorded write back from the file");
});

test("munmap of a dirty PTE moves its dirty bit to the page (zap_pte_range)", (t) => {
  const m = solo();
  sys_mmap(m.cpu, m.X, LEN, 0);
  user_store(m.cpu, m.X, 3);
  const pfn = pte_pfn(m.pte(m.X));
  // Clean the page flag but leave the PTE dirty, as after a racing clear_page_dirty_for_io.
  lock_page(m.cpu, pfn);
  Atomics.and(m.mem, m.L.page(pfn), ~1);
  unlock_page(m.cpu, pfn);
  sys_munmap(m.cpu, m.X, LEN);
  t.true(PageDirty(m.cpu, pfn), "set_page_dirty from the zapped PTE");
  t.is(Atomics.load(m.mem, m.L.page(pfn) + PAGE_MAPCOUNT), 0);
});

test("invalidate_mapping_pages skips mapped, dirty and locked pages and drops the rest", (t) => {
  const m = solo();
  sys_mmap(m.cpu, m.X, LEN, 0);
  for (let i = 0; i < 4; i++) user_store(m.cpu, m.X + (i << PAGE_SHIFT), i + 10);
  const pfns = [0, 1, 2, 3].map((i) => pte_pfn(m.pte(m.X + (i << PAGE_SHIFT))));
  t.is(invalidate_mapping_pages(m.cpu, 0, 3), 0, "mapped and dirty: nothing dropped");
  sys_munmap(m.cpu, m.X, LEN);
  t.is(invalidate_mapping_pages(m.cpu, 0, 3), 0, "unmapped but dirty: nothing dropped");
  t.is(write_cache_pages(m.cpu, 0, 3), 4, "writeback cleans all four");
  // Hold page 2 locked, as writeback or a fault would.
  const p2 = find_get_page(m.cpu, 2);
  lock_page(m.cpu, p2);
  t.is(invalidate_mapping_pages(m.cpu, 0, 3), 3);
  t.is(m.cached(1), 0, "clean, unlocked, unmapped: dropped");
  t.is(m.cached(2), pfns[2] as number, "locked: skipped (trylock_page)");
  t.is(m.cached(3), 0);
  unlock_page(m.cpu, p2);
  put_page(m.cpu, p2);
  t.is(do_generic_file_read(m.cpu, 3, 0), 13);
});

test("page_mkclean walks every shared VMA mapping the page and cleans each PTE", (t) => {
  const m = solo();
  sys_mmap(m.cpu, m.X, LEN, 0);
  user_store(m.cpu, m.X, 1);
  const pfn = pte_pfn(m.pte(m.X));
  // A second VMA over the same file pages, as copy_vma() makes during mremap, with the PTE
  // also present there.
  copy_vma(m.cpu, find_vma(m.cpu, m.X), m.Y, LEN, 0);
  Atomics.add(m.mem, m.L.page(pfn) + PAGE_MAPCOUNT, 1);
  user_store(m.cpu, m.Y, 1);
  lock_page(m.cpu, pfn);
  t.is(page_mkclean(m.cpu, pfn), 2);
  unlock_page(m.cpu, pfn);
  t.falsy(m.pte(m.X) & (_PAGE_DIRTY | _PAGE_RW));
  t.falsy(m.pte(m.Y) & (_PAGE_DIRTY | _PAGE_RW));
});
