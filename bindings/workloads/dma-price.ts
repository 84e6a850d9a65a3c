// The price of one DMA mapping (map + unmap of a one-page buffer) as counts of CostProfile
// primitives per party, measured by running a NIC-like ring through the Simulation (the WASM
// core plus the strategy and environment rules) once per configuration. Costs are linear in the
// primitives, so any profile's price is then a dot product.

import { resolveConfig, type IommuOptions, type ResolvedConfig } from "../config.js";
import { ConfigError } from "../errors.js";
import { PLATFORM_PRESETS } from "../platforms.js";
import type { Iommu } from "../types.js";
import type { CostProfile } from "../sim/cost-profile.js";
import type { EnvironmentName, Party } from "../sim/environments.js";
import { PRIMITIVES, type Primitive, type PrimitiveCounts } from "../sim/primitives.js";
import type { SimPlatform } from "../sim/simulation.js";
import type { MappingStrategy } from "../sim/strategies.js";
import { pricedModelOn } from "../sim/priced.js";
import { resolveSimulation, type PricedModel, type SimulationOptions } from "../sim/setup.js";

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
  drive: (sim: PricedModel, config: ResolvedConfig | null, mapping: MappingStrategy) => { before: PrimitiveCounts; after?: PrimitiveCounts; units: number },
): PairCounts {
  // a 1M table where the platform offers one (Calgary: 512 MiB of IO space, 2^17 entries), else
  // its only size (DART's 2M): cheap to create, and a ring priced over Calgary's wrap runs twice
  // through it (~2.6e5 pairs) where the default 8M table would take 2e6. The wrap's blast is then
  // spread over 2^17 pairs rather than 2^20: an upper bound on its share, itself under a cycle.
  const iommu = platform === "none" ? undefined : { tableSize: PLATFORM_PRESETS[platform].tableSizes.includes(1 << 20) ? 1 << 20 : PLATFORM_PRESETS[platform].tableSizes[0] };
  const options: SimulationOptions = { platform, environment, strategy, guestBytes: 1 << 28, iommu };
  const sim = pricedModelOn(options, makeIommu);
  const { core, strategy: { mapping } } = resolveSimulation(options);
  const window = drive(sim, core ? resolveConfig(core) : null, mapping);
  const { before, units } = window;
  const after = window.after ?? sim.report().primitives;
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
 * Flush policies that leave released IOVAs to a later invalidate-all: dma-iommu's flush queue
 * (a CPU's 255 entries full, or its 10 ms timer) and Calgary's blast when the allocator wraps.
 */
const DEFERRED_FLUSH: readonly string[] = ["flush-queue", "on-wrap"];

/**
 * Counts per pair, and what the ring leaves exposed, for one platform × environment × strategy.
 * `burst`: completions the driver handles before it refills (1: unmap and map alternate, as the
 * study's figures have it; a NAPI-style driver unmaps a burst of completions, then refills them).
 *
 * The price is the steady state's. Where the flush is deferred and the ring's unmaps feed it,
 * PAIRS pairs would never reach it (255 queued IOVAs; a wrap of the whole table), so such a run
 * goes on to its first deferred flush (warm-up) and is priced over the next whole flush cycle:
 * from the pair after one flush through the pair that caused the next, so the invalidate-all and
 * its wait are in the price once per cycle. At line rate the flush queue fills (255 unmaps) long
 * before its 10 ms timer fires, so the timer is not run. Exposure is that of the whole run,
 * which goes on half a cycle past the priced one: what is reachable at its end is then what a
 * steady state holds mid-cycle (lazy: ~127 queued IOVAs), not the emptied queue right after a flush.
 */
export function priceRing(
  platform: SimPlatform, environment: EnvironmentName, strategy: string,
  makeIommu: (o: IommuOptions) => Iommu, burst = 1,
): { counts: PairCounts; exposure: RingExposure } {
  // a run over Calgary's wrap is ~3e5 pairs and the tables ask for the same ring more than once:
  // same configuration, same counts (the model is deterministic), so each is run once per factory
  const memo = RINGS.get(makeIommu) ?? new Map<string, string>();
  RINGS.set(makeIommu, memo);
  const key = JSON.stringify([platform, environment, strategy, burst]);
  let priced = memo.get(key);
  if (priced === undefined) {
    priced = JSON.stringify(runRing(platform, environment, strategy, makeIommu, burst));
    memo.set(key, priced);
  }
  return JSON.parse(priced) as { counts: PairCounts; exposure: RingExposure };
}

const RINGS = new WeakMap<(o: IommuOptions) => Iommu, Map<string, string>>();

function runRing(
  platform: SimPlatform, environment: EnvironmentName, strategy: string,
  makeIommu: (o: IommuOptions) => Iommu, burst: number,
): { counts: PairCounts; exposure: RingExposure } {
  if (!Number.isInteger(burst) || burst < 1 || PAIRS % burst !== 0 || burst > RING) {
    throw new ConfigError("burst", burst, `a divisor of ${PAIRS} from 1 to ${RING}`);
  }
  let exposure: RingExposure | undefined;
  const counts = countPrimitives(platform, environment, strategy, makeIommu, (sim, config, mapping) => {
    // RING buffers outstanding, each read by the device once mapped; then bursts of pairs: unmap
    // the oldest, probe it with one late DMA (does it still reach memory?), map a fresh page
    const ids = Array.from({ length: RING }, (_, i) => `r${i}`);
    for (let i = 0; i < RING; i++) {
      sim.map(ids[i], 0x100_0000 + i * 4096, 1514, "to-device");
      sim.access(ids[i], 0, 1514, "read");
    }
    let pairs = 0;
    const runBurst = () => {
      for (let i = pairs; i < pairs + burst; i++) {
        const id = ids[i % RING];
        sim.unmap(id);
        sim.access(id, 0, 64, "read");
      }
      for (let i = pairs; i < pairs + burst; i++) {
        const id = ids[i % RING];
        sim.map(id, 0x100_0000 + ((RING + i) % 30000) * 4096, 1514, "to-device");
        sim.access(id, 0, 1514, "read");
      }
      pairs += burst;
    };
    let before = sim.report().primitives;
    while (pairs < PAIRS) runBurst();
    let first = 0;
    let units = PAIRS;
    let after: PrimitiveCounts | undefined;
    // never-free keeps every IOVA: its run fills the table and has no steady cycle to price
    const feeds = mapping !== "never-free" && sim.report().counters.pagesUnmapped > 0;
    if (config && DEFERRED_FLUSH.includes(config.flushPolicy) && feeds) {
      // the flush comes within one table's worth of allocations (a wrap) or one queue's; more is a bug
      const limit = PAIRS + 2 * (config.entries + 256);
      const toFlush = () => {
        const f = sim.flushes();
        while (sim.flushes() === f) {
          if (pairs >= limit) throw new Error(`iommu-sim: the ring on ${platform} (${strategy}) ran ${pairs} pairs without the deferred flush; this is a bug, please report it`);
          runBurst();
        }
      };
      toFlush();
      before = sim.report().primitives;
      first = pairs;
      toFlush();
      units = pairs - first;
      after = sim.report().primitives;
      // exposure as the steady state has it mid-cycle, not just after the flush emptied the queue
      for (const end = pairs + Math.floor(units / 2 / burst) * burst; pairs < end;) runBurst();
    }
    sim.finish();
    const report = sim.report();
    exposure = {
      releasedButLivePeak: report.exposure.releasedButLivePeak,
      releasedButLiveAverage: report.exposure.releasedButLiveAverage,
      reachableBytes: report.exposure.reachableBytes,
      lateDmaReachedPct: (report.exposure.dmaAfterRelease.reached / pairs) * 100,
      crossingsPerPair: report.crossings / (pairs + RING),
    };
    return { before, after, units };
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
