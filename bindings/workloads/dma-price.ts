// The price of one DMA mapping (map + unmap of a one-page buffer) as counts of CostProfile
// primitives per party, measured by running a NIC-like ring through the Simulation (the WASM
// core plus the strategy and environment rules) once per primitive with a unit profile. Costs
// are linear in the primitives, so any profile's price is then a dot product.

import type { IommuOptions } from "../config.js";
import type { Iommu } from "../types.js";
import { DEFAULT_PROFILE, type CostProfile } from "../sim/cost-profile.js";
import type { EnvironmentName, Party } from "../sim/environments.js";
import { createSimulation, type SimPlatform } from "../sim/simulation.js";

export type Primitive = keyof CostProfile["cycles"];
export const PRIMITIVES = Object.keys(DEFAULT_PROFILE.cycles) as Primitive[];

/** counts[party][primitive] per map+unmap pair. */
export type PairCounts = Partial<Record<Party, Partial<Record<Primitive, number>>>>;

/** What the same ring leaves exposed (from the Simulation's exposure accounting). */
export interface RingExposure {
  releasedButLivePeak: number;
  releasedButLiveAverage: number;
  reachableBytes: number | "all";
  /** Share of late DMAs (one right after each unmap) that still reached memory, %. */
  lateDmaReachedPct: number;
  crossingsPerPair: number;
}

const RING = 32;
const PAIRS = 128;

export function pairCounts(
  platform: SimPlatform, environment: EnvironmentName, strategy: string,
  makeIommu: (o: IommuOptions) => Iommu,
): PairCounts {
  return priceRing(platform, environment, strategy, makeIommu).counts;
}

/** Counts per pair, and what the ring leaves exposed, for one platform × environment × strategy. */
export function priceRing(
  platform: SimPlatform, environment: EnvironmentName, strategy: string,
  makeIommu: (o: IommuOptions) => Iommu,
): { counts: PairCounts; exposure: RingExposure } {
  const out: PairCounts = {};
  let exposure: RingExposure | undefined;
  for (const k of PRIMITIVES) {
    const cycles = Object.fromEntries(PRIMITIVES.map((p) => [p, p === k ? 1 : 0])) as CostProfile["cycles"];
    const profile: CostProfile = { ...DEFAULT_PROFILE, name: `unit-${k}`, cycles };
    // a 1M table (1 GiB of IO space): the ring never wraps it in PAIRS steps, and it is cheap to create
    const iommu = platform === "none" ? undefined : { tableSize: "1M" };
    const sim = createSimulation({ platform, environment, strategy, profile, guestBytes: 1 << 28, iommu }, makeIommu);
    // a ring of RING outstanding buffers; PAIRS times: unmap the oldest, map a fresh page
    // Each buffer is read by the device once mapped; one late DMA probes every released buffer.
    for (let i = 0; i < RING; i++) {
      sim.map(`r${i}`, 0x100_0000 + i * 4096, 1514, "to-device");
      sim.access(`r${i}`, 0, 1514, "read");
    }
    const before = sim.report().cycles.byParty;
    for (let i = 0; i < PAIRS; i++) {
      const slot = i % RING;
      sim.unmap(`r${slot}`);
      sim.access(`r${slot}`, 0, 64, "read"); // a late DMA: does it still reach memory?
      sim.map(`r${slot}`, 0x100_0000 + ((RING + i) % 30000) * 4096, 1514, "to-device");
      sim.access(`r${slot}`, 0, 1514, "read");
    }
    sim.finish();
    const report = sim.report();
    const after = report.cycles.byParty;
    exposure ??= {
      releasedButLivePeak: report.exposure.releasedButLivePeak,
      releasedButLiveAverage: report.exposure.releasedButLiveAverage,
      reachableBytes: report.exposure.reachableBytes,
      lateDmaReachedPct: (report.exposure.dmaAfterRelease.reached / PAIRS) * 100,
      crossingsPerPair: report.crossings / (PAIRS + RING),
    };
    for (const party of Object.keys(after) as Party[]) {
      const n = ((after[party] ?? 0) - (before[party] ?? 0)) / PAIRS;
      if (n !== 0) ((out[party] ??= {})[k] = n);
    }
  }
  return { counts: out, exposure: exposure! };
}

/**
 * Counts per block IO: one scatter-gather list of `pages` one-page elements mapped (map_sg) and
 * unmapped after completion (unmap_sg), `depth` IOs outstanding, as a disk driver does.
 */
export function priceSgIo(
  platform: SimPlatform, environment: EnvironmentName, strategy: string, pages: number, depth: number,
  makeIommu: (o: IommuOptions) => Iommu,
): PairCounts {
  const out: PairCounts = {};
  const IOS = 16;
  for (const k of PRIMITIVES) {
    const cycles = Object.fromEntries(PRIMITIVES.map((p) => [p, p === k ? 1 : 0])) as CostProfile["cycles"];
    const profile: CostProfile = { ...DEFAULT_PROFILE, name: `unit-${k}`, cycles };
    const iommu = platform === "none" ? undefined : { tableSize: "1M" };
    const sim = createSimulation({ platform, environment, strategy, profile, guestBytes: 1 << 28, iommu }, makeIommu);
    const list = (io: number) => Array.from({ length: pages }, (_, j) => ({ phys: 0x100_0000 + ((io * pages + j) % 60000) * 4096, bytes: 4096 }));
    for (let i = 0; i < depth; i++) sim.mapSg(`io${i}`, list(i), "from-device");
    const before = sim.report().cycles.byParty;
    for (let i = 0; i < IOS; i++) {
      const slot = i % depth;
      sim.unmapSg(`io${slot}`);
      sim.mapSg(`io${slot}`, list(depth + i), "from-device");
    }
    sim.finish();
    const after = sim.report().cycles.byParty;
    for (const party of Object.keys(after) as Party[]) {
      const n = ((after[party] ?? 0) - (before[party] ?? 0)) / IOS;
      if (n !== 0) ((out[party] ??= {})[k] = n);
    }
  }
  return out;
}

/** Cycles per pair for each party under `profile`. */
export function pairCycles(counts: PairCounts, cycles: CostProfile["cycles"]): Partial<Record<Party, number>> {
  const out: Partial<Record<Party, number>> = {};
  for (const [party, byPrim] of Object.entries(counts) as Array<[Party, Partial<Record<Primitive, number>>]>) {
    out[party] = Object.entries(byPrim).reduce((sum, [k, n]) => sum + (n ?? 0) * cycles[k as Primitive], 0);
  }
  return out;
}
