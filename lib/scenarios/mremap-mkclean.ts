/**
 * The seed race, 5d1904204c99's nine steps, on two CPUs.
 *
 *        thread 1 (CPU 0)                      thread 2 (CPU 1)
 *   1: write 1 to X (writable TLB entry)
 *                                           2: mremap starts
 *                                           3: move_ptes moves X to Y, drops the PTLs
 *   4: fadvise(DONTNEED): writeback,
 *      page_mkclean cleans Y; page clean
 *   5: write 2 to X (stale entry)
 *                                           6: TLB flush for X
 *   7: munmap(Y)
 *   8: fadvise(DONTNEED): page dropped
 *   9: pread: 1 means the 2 was lost
 *
 * Step 1 is set-up (init). Thread 1 waits for mremap to return before step 7, as in the seed
 * where munmap(Y) comes after the flush.
 */
import type { ScenarioSpec } from "./types.js";

export const mremapMkclean: ScenarioSpec = {
  name: "mremap-mkclean",
  description:
    "the seed race: mremap() moves a dirty PTE and flushes late; page_mkclean() cleans the new PTE; a write through the stale TLB entry is lost",
  source: "5d1904204c99 (mremap: fix race between mremap() and page cleanning), steps 1-9",
  cpus: 2,
  kernels: ["v4.9-rc4", "5d1904204c99"],
  params: {
    pages: {
      description: "size of the mapping and of the file, in pages",
      default: 1,
      min: 1,
      max: 4096,
    },
    target: { description: "the page thread 1 writes", default: 0, min: 0, max: "$pages" },
  },
  programs: [
    {
      name: "thread 1",
      init: [
        { op: "mmap", at: "X", pages: "$pages" },
        { op: "store", at: "X", page: "$target", value: 1, result: "w1" },
      ],
      body: [
        { op: "fadvise", advice: "dontneed" },
        { op: "store", at: "X", page: "$target", value: 2, result: "w2" },
        { op: "wait", flag: "mremap-done" },
        { op: "munmap", at: "Y", pages: "$pages" },
        { op: "fadvise", advice: "dontneed" },
        { op: "pread", page: "$target", into: "r" },
      ],
    },
    {
      name: "thread 2",
      init: [],
      body: [
        { op: "mremap", from: "X", to: "Y", pages: "$pages" },
        { op: "signal", flag: "mremap-done" },
      ],
    },
  ],
  outcome: [
    { name: "write2", cpu: 0, reg: "w2", kind: "result" },
    { name: "readback", cpu: 0, reg: "r", kind: "value", values: [0, 1, 2] },
  ],
  forbidden: [{ write2: "ok", readback: 1 }],
  lostWrite: [{ cpu: 0, stores: ["w1", "w2"], readback: "r" }],
  widen: { "move_ptes:unlocked": "100us" },
};
