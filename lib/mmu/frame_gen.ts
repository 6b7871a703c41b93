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

/** Count the access if the entry for vpn predates the last free of frame pfn. */
export function check_frame_gen(cpu: Cpu, vpn: number, pfn: number): void {
  const mem = cpu.mem;
  if (
    mem[cpu.tlbBase + vpn * TLB_WORDS + TLB_FRAME_GEN] !== Atomics.load(mem, cpu.L.frameGen + pfn)
  ) {
    mem[cpu.self + CPU_UAF] = (mem[cpu.self + CPU_UAF] as number) + 1;
  }
}

/** free_page() bumps the generation: every older translation is now stale. */
export function bump_frame_gen(cpu: Cpu, pfn: number): void {
  Atomics.add(cpu.mem, cpu.L.frameGen + pfn, 1);
}
