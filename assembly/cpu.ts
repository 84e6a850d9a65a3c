// === The CPU the next DMA-API calls run on ===
// Two things in the modelled kernels are per CPU: the IOVA allocator's magazines (iova.ts) and
// the lazy-invalidation flush queues (flushqueue.ts). Every caller that switches CPUs (the
// setCpu export, the batch's OP_CPU record, the built-in workloads) goes through here.

import { iovaSetCpu } from "./iova";

let current: u32 = 0;

export function currentCpu(): u32 {
  return current;
}

/** `cpu` has been checked against the configured CPU count by the caller. */
export function switchCpu(cpu: u32): void {
  current = cpu;
  iovaSetCpu(cpu);
}

export function cpuInit(): void {
  current = 0;
}
