/** What a result file records about the machine it came from. */
import { availableParallelism, cpus } from "node:os";

export interface MachineInfo {
  node: string;
  cpuModel: string;
  cores: number;
}

export function machineInfo(): MachineInfo {
  return {
    node: process.version,
    cpuModel: cpus()[0]?.model.trim() ?? "unknown",
    cores: availableParallelism(),
  };
}
