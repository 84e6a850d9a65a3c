// Node entry point: everything from index.ts, plus createIommu that loads the core from disk.

import { readFileSync } from "node:fs";
import type { IommuOptions } from "./config.js";
import type { Iommu } from "./types.js";
import { createIommuWith, createNicRingWith, type NicRing } from "./wasm-iommu.js";
import { createPricedSimulationWith, type PricedSimulation } from "./sim/priced.js";
import type { SimulationOptions } from "./sim/setup.js";
import { createAllocatorWorkloadWith, type AllocatorWorkload, type AllocatorWorkloadOptions } from "./allocators/workload.js";
import { simulateNicWith, type NicResult } from "./workloads/nic.js";
import type { NicOptions } from "./workloads/nic/options.js";
import type { NicProfile } from "./workloads/nic/prices.js";

export * from "./index.js";

let compiled: WebAssembly.Module | undefined;

/** The compiled core (build/iommu.wasm), compiled once per process. */
export function iommuModule(): WebAssembly.Module {
  compiled ??= new WebAssembly.Module(readFileSync(new URL("../build/iommu.wasm", import.meta.url)));
  return compiled;
}

/** The built-in NIC-ring workload on the WASM core (allocator microbenchmarks). */
export function createNicRing(options: IommuOptions, ring = 256): NicRing {
  return createNicRingWith(iommuModule(), options, ring);
}

/** A simulated IOMMU on the WASM core. */
export function createIommu(options: IommuOptions): Iommu {
  return createIommuWith(iommuModule(), options);
}

/** An allocator workload (assembly/workloads.ts) on a fresh WASM IOMMU. */
export function createAllocatorWorkload(options: IommuOptions, workload: AllocatorWorkloadOptions): AllocatorWorkload {
  return createAllocatorWorkloadWith(iommuModule(), options, workload);
}

/** A priced simulation (strategy, environment, counted price) on the WASM core. */
export function createPricedSimulation(options: SimulationOptions): PricedSimulation {
  return createPricedSimulationWith(iommuModule(), options);
}

/**
 * The modern NIC workload (netperf TCP_STREAM / TCP_RR over a multi-queue NIC) on the WASM core:
 * throughput, CPU per core, the IOMMU's counts and exposure, IOMMU on and off (`baseline`).
 * `profile` may carry modern IOMMU primitives in `cycles` and stack prices in `nic`.
 */
export function simulateNic(options: Partial<NicOptions> = {}, profile?: NicProfile): NicResult {
  return simulateNicWith(createIommu, options, profile);
}
