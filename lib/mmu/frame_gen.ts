/**
 * The use-after-free oracle's bookkeeping, kept outside the modelled hardware: every frame has
 * a generation that free_page() bumps. A TLB fill notes the generation of the frame it maps;
 * an access through an entry whose noted generation is not the frame's current one goes
 * through a translation made before the frame was freed (and maybe handed to someone else):
 * a use-after-free. The modelled CPU does not consult this; only the count does.
 */
import type { Cpu } from "../machine/cpu.js";
import { CPU_UAF, TLB_FRAME_GEN, TLB_WORDS } from "../machine/layout.js";

/** Note the frame's current generation in the TLB entry for vpn (at fill time). */
export function note_frame_gen(cpu: Cpu, vpn: number, pfn: number): void {
  cpu.mem[cpu.tlbBase + vpn * TLB_WORDS + TLB_FRAME_GEN] = Atomics.load(
    cpu.mem,
    cpu.L.frameGen + pfn,
  );
}

/** Note the generation a huge translation saw (all frames of a huge page share one). */
export function note_frame_gen_slot(cpu: Cpu, slot: number, pfn: number): void {
  cpu.mem[slot + TLB_FRAME_GEN] = Atomics.load(cpu.mem, cpu.L.frameGen + pfn);
}

/**
 * Count the access if the entry that translated it (the slot the last lookup hit) predates
 * the last free of frame pfn.
 */
export function check_frame_gen(cpu: Cpu, pfn: number): void {
  const mem = cpu.mem;
  if (mem[cpu.tlbSlot + TLB_FRAME_GEN] !== Atomics.load(mem, cpu.L.frameGen + pfn)) {
    mem[cpu.self + CPU_UAF] = (mem[cpu.self + CPU_UAF] as number) + 1;
  }
}

/**
 * A compound (huge) page is allocated: raise its frames to one common generation, so that a
 * huge translation can note a single value and still see any later free of any subpage.
 */
export function unify_frame_gens(cpu: Cpu, head: number, nr: number): void {
  const mem = cpu.mem;
  let g = 0;
  for (let i = 0; i < nr; i++) g = Math.max(g, Atomics.load(mem, cpu.L.frameGen + head + i));
  for (let i = 0; i < nr; i++) Atomics.store(mem, cpu.L.frameGen + head + i, g);
}

/** free_page() bumps the generation: every older translation is now stale. */
export function bump_frame_gen(cpu: Cpu, pfn: number): void {
  Atomics.add(cpu.mem, cpu.L.frameGen + pfn, 1);
}
