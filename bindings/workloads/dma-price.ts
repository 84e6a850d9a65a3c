// The price of one DMA mapping (map + unmap of a one-page buffer) as counts of CostProfile
// primitives per party, measured by running a NIC-like ring through the Simulation (the WASM
// core plus the strategy and environment rules) once per configuration. Costs are linear in the
// primitives, so any profile's price is then a dot product.

import type { IommuOptions } from "../config.js";
import { ConfigError } from "../errors.js";
import { PLATFORM_PRESETS } from "../platforms.js";
import type { Iommu } from "../types.js";
import type { CostProfile } from "../sim/cost-profile.js";
import type { EnvironmentName, Party } from "../sim/environments.js";
import { PRIMITIVES, type Primitive, type PrimitiveCounts } from "../sim/primitives.js";
import type { SimPlatform } from "../sim/simulation.js";
import { pricedModelOn } from "../sim/priced.js";
import type { PricedModel, SimulationOptions } from "../sim/setup.js";

export { PRIMITIVES, type Primitive };

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
  makeIommu: (o: IommuOptions) => Iommu, burst = 1,
): PairCounts {
  return priceRing(platform, environment, strategy, makeIommu, burst).counts;
}

/**
 * Runs `drive` on a fresh Simulation; `drive` returns the primitive counts before the work it
 * wants priced (setup excluded) and how many units of that work it did. The result is the count
 * of each primitive per unit, by party: one simulation per configuration, whatever the profile.
 */
function countPrimitives(
  platform: SimPlatform, environment: EnvironmentName, strategy: string, makeIommu: (o: IommuOptions) => Iommu,
  drive: (sim: PricedModel) => { before: PrimitiveCounts; units: number },
): PairCounts {
  // a 1M table where the platform offers one (Calgary: 512 MiB of IO space), else its only size
  // (DART's 2M): never wrapped by these short runs, and cheap to create
  const iommu = platform === "none" ? undefined : { tableSize: PLATFORM_PRESETS[platform].tableSizes.includes(1 << 20) ? 1 << 20 : PLATFORM_PRESETS[platform].tableSizes[0] };
  const options: SimulationOptions = { platform, environment, strategy, guestBytes: 1 << 28, iommu };
  const sim = pricedModelOn(options, makeIommu);
  const { before, units } = drive(sim);
  const after = sim.report().primitives;
  const out: PairCounts = {};
  for (const [party, byPrim] of Object.entries(after) as Array<[Party, Partial<Record<Primitive, number>>]>) {
    for (const [k, n] of Object.entries(byPrim) as Array<[Primitive, number]>) {
      const d = n - (before[party]?.[k] ?? 0);
      if (d !== 0) (out[party] ??= {})[k] = d / units;
    }
  }
  return out;
}

/**
 * Counts per pair, and what the ring leaves exposed, for one platform × environment × strategy.
 * `burst`: completions the driver handles before it refills (1: unmap and map alternate, as the
 * study's figures have it; a NAPI-style driver unmaps a burst of completions, then refills them).
 */
export function priceRing(
  platform: SimPlatform, environment: EnvironmentName, strategy: string,
  makeIommu: (o: IommuOptions) => Iommu, burst = 1,
): { counts: PairCounts; exposure: RingExposure } {
  if (!Number.isInteger(burst) || burst < 1 || PAIRS % burst !== 0 || burst > RING) {
    throw new ConfigError("burst", burst, `a divisor of ${PAIRS} from 1 to ${RING}`);
  }
  let exposure: RingExposure | undefined;
  const counts = countPrimitives(platform, environment, strategy, makeIommu, (sim) => {
    // RING buffers outstanding, each read by the device once mapped; PAIRS times: unmap the
    // oldest, probe it with one late DMA (does it still reach memory?), map a fresh page
    for (let i = 0; i < RING; i++) {
      sim.map(`r${i}`, 0x100_0000 + i * 4096, 1514, "to-device");
      sim.access(`r${i}`, 0, 1514, "read");
    }
    const before = sim.report().primitives;
    for (let start = 0; start < PAIRS; start += burst) {
      for (let i = start; i < start + burst; i++) {
        const slot = i % RING;
        sim.unmap(`r${slot}`);
        sim.access(`r${slot}`, 0, 64, "read");
      }
      for (let i = start; i < start + burst; i++) {
        const slot = i % RING;
        sim.map(`r${slot}`, 0x100_0000 + ((RING + i) % 30000) * 4096, 1514, "to-device");
        sim.access(`r${slot}`, 0, 1514, "read");
      }
    }
    sim.finish();
    const report = sim.report();
    exposure = {
      releasedButLivePeak: report.exposure.releasedButLivePeak,
      releasedButLiveAverage: report.exposure.releasedButLiveAverage,
      reachableBytes: report.exposure.reachableBytes,
      lateDmaReachedPct: (report.exposure.dmaAfterRelease.reached / PAIRS) * 100,
      crossingsPerPair: report.crossings / (PAIRS + RING),
    };
    return { before, units: PAIRS };
  });
  return { counts, exposure: exposure! };
}

/**
 * Counts per block IO: one scatter-gather list of `pages` one-page elements mapped (map_sg) and
 * unmapped after completion (unmap_sg), `depth` IOs outstanding, as a disk driver does.
 */
export function priceSgIo(
  platform: SimPlatform, environment: EnvironmentName, strategy: string, pages: number, depth: number,
  makeIommu: (o: IommuOptions) => Iommu,
): PairCounts {
  const IOS = 16;
  const list = (io: number) => Array.from({ length: pages }, (_, j) => ({ phys: 0x100_0000 + ((io * pages + j) % 60000) * 4096, bytes: 4096 }));
  return countPrimitives(platform, environment, strategy, makeIommu, (sim) => {
    for (let i = 0; i < depth; i++) sim.mapSg(`io${i}`, list(i), "from-device");
    const before = sim.report().primitives;
    for (let i = 0; i < IOS; i++) {
      sim.unmapSg(`io${i % depth}`);
      sim.mapSg(`io${i % depth}`, list(depth + i), "from-device");
    }
    sim.finish();
    return { before, units: IOS };
  });
}

/** Cycles per pair for each party under `profile`. */
export function pairCycles(counts: PairCounts, cycles: CostProfile["cycles"]): Partial<Record<Party, number>> {
  const out: Partial<Record<Party, number>> = {};
  for (const [party, byPrim] of Object.entries(counts) as Array<[Party, Partial<Record<Primitive, number>>]>) {
    out[party] = Object.entries(byPrim).reduce((sum, [k, n]) => sum + (n ?? 0) * cycles[k as Primitive], 0);
  }
  return out;
}
