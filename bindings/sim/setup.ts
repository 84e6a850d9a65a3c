// What a priced run is: the options resolved once (environment, strategy, profile, sizes), and
// the report assembled from what a run kept. Shared by the core's priced model (priced.ts) and
// its TypeScript reference (simulation.ts), so both refuse the same options the same way and
// give reports of one shape.

import { COUNTER_NAMES, IO_PAGE_SIZE, type AccessOutcome, type Direction, type Stats } from "../abi.js";
import type { IommuOptions } from "../config.js";
import { ConfigError } from "../errors.js";
import type { PlatformName } from "../platforms.js";
import { DEFAULT_PROFILE, validateProfile, type CostProfile } from "./cost-profile.js";
import { ENVIRONMENT_PRESETS, ENVIRONMENTS, type Environment, type EnvironmentName } from "./environments.js";
import { priceGrid, primitiveCounts, type PricedCycles, type PrimitiveCounts } from "./primitives.js";
import { parseStrategy, type StrategyChoice } from "./strategies.js";

export type SimPlatform = PlatformName | "none";

export interface SimulationOptions {
  platform: SimPlatform;
  /** e.g. "straightforward", "cached", "batched+deferred-flush". @default "straightforward" */
  strategy?: string;
  /** @default "baremetal" */
  environment?: EnvironmentName;
  profile?: CostProfile;
  /** Core options other than the platform (tableSize, cache, …). */
  iommu?: Omit<IommuOptions, "platform" | "flushPolicy">;
  /** Operations per dma_map_multi / dma_unmap_multi (batched). @default 16 */
  batchSize?: number;
  /** Parked mappings the DMA-API cache keeps (cached). @default 256 */
  mappingCacheSize?: number;
  /** Guest memory mapped up front (preallocated). @default min(2 GiB, IO space) */
  guestBytes?: number;
  /** Simulated time between consecutive operations, for exposure integrals. @default 1000 */
  opIntervalNs?: number;
}

export interface SimulationReport {
  platform: SimPlatform;
  strategy: StrategyChoice;
  environment: EnvironmentName;
  profile: { name: string; version: number };
  /** The core's counters (all zero on the none platform except what it counts itself). */
  counters: Stats;
  /** Hypervisor entries (hypercalls, multicalls, grant operations). */
  crossings: number;
  hypercalls: number;
  cycles: PricedCycles;
  /** What the cycles are made of: CostProfile primitives counted, by party. */
  primitives: PrimitiveCounts;
  exposure: {
    /** Translations the device could still use after the driver released them: peak and time average. */
    releasedButLivePeak: number;
    releasedButLiveAverage: number;
    /** ∫ released-but-live pages dt, in page·seconds. */
    releasedButLivePageSeconds: number;
    /** Device DMAs to buffers the driver had released: reached memory, or were blocked. */
    dmaAfterRelease: { reached: number; blocked: number };
    /** Guest memory the device can reach at the end (bytes): all of it with no IOMMU or preallocated. */
    reachableBytes: number | "all";
    ioSpaceInUse: { peakPages: number; averagePages: number };
  };
  simulatedSeconds: number;
}

/** The id-level DMA API both priced models offer (the reference Simulation, the core's PricedSimulation). */
export interface PricedModel {
  map(id: string, phys: number, bytes: number, dir: Direction): number | null;
  unmap(id: string): void;
  mapSg(id: string, segments: ReadonlyArray<{ phys: number; bytes: number }>, dir: Direction): number[] | null;
  unmapSg(id: string): void;
  alloc(id: string, bytes: number): number | null;
  free(id: string): void;
  access(id: string, offset: number, bytes: number, kind: "read" | "write", segment?: number): AccessOutcome | "unchecked";
  setCpu(cpu: number): void;
  finish(): void;
  report(): SimulationReport;
  /** Invalidate-alls the IOMMU has done so far (0 without one): cheap enough to ask after every operation. */
  flushes(): number;
}

export interface ResolvedSimulation {
  env: Environment;
  strategy: StrategyChoice;
  profile: CostProfile;
  batchSize: number;
  cacheSize: number;
  intervalNs: number;
  /** The core's options (null: no IOMMU). */
  core: IommuOptions | null;
}

const int = (f: string, v: number | undefined, d: number, min: number, max: number) => {
  const x = v ?? d;
  if (!Number.isInteger(x) || x < min || x > max) throw new ConfigError(f, v, `an integer from ${min} to ${max}`);
  return x;
};

/** Checks the options; every problem names its field. */
export function resolveSimulation(options: SimulationOptions): ResolvedSimulation {
  const environment = options.environment ?? "baremetal";
  if (!ENVIRONMENTS.includes(environment)) throw new ConfigError("environment", environment, `one of ${ENVIRONMENTS.join(", ")}`);
  const strategy = parseStrategy(options.strategy ?? "straightforward", options.platform, environment);
  const flushPolicy = strategy.flush === "strict-flush" ? "strict" : strategy.flush === "deferred-flush" ? "on-wrap" : undefined;
  let core: IommuOptions | null = null;
  if (options.platform !== "none") {
    core = { ...(options.iommu ?? {}), platform: options.platform };
    if (flushPolicy) core.flushPolicy = flushPolicy;
  }
  return {
    env: ENVIRONMENT_PRESETS[environment],
    strategy,
    profile: validateProfile(options.profile ?? DEFAULT_PROFILE),
    batchSize: int("batchSize", options.batchSize, 16, 1, 1 << 16),
    cacheSize: int("mappingCacheSize", options.mappingCacheSize, 256, 1, 1 << 20),
    intervalNs: int("opIntervalNs", options.opIntervalNs, 1000, 0, 1e12),
    core,
  };
}

/** The guest preallocated maps (checked against the IO space it must fit in). */
export function resolveGuestBytes(options: SimulationOptions, strategy: StrategyChoice, ioSpace: number | null): number {
  const space = ioSpace ?? 2 ** 52;
  const guest = int("guestBytes", options.guestBytes, Math.min(2 ** 31, space), IO_PAGE_SIZE, 2 ** 52);
  if (strategy.mapping === "preallocated" && guest > space) {
    throw new ConfigError("guestBytes", guest, `at most the IO space of ${options.platform} (${space} bytes): preallocated maps the whole guest`);
  }
  return guest;
}

/** What a run kept, as both models keep it. */
export interface RunTally {
  grid: ArrayLike<number>;
  counters: Stats | null;
  crossings: number;
  hypercalls: number;
  clock: number;
  exposedPeak: number;
  exposedIntegral: number;
  ioPeak: number;
  ioIntegral: number;
  reached: number;
  blocked: number;
  keptPages: number;
  guestBytes: number;
}

const NO_COUNTERS = Object.fromEntries(COUNTER_NAMES.map((k) => [k, 0])) as Stats;

export function buildReport(platform: SimPlatform, s: ResolvedSimulation, t: RunTally): SimulationReport {
  const reachable: number | "all" = !t.counters ? "all"
    : s.strategy.mapping === "preallocated" ? t.guestBytes
    : t.counters.pagesInUse * IO_PAGE_SIZE + t.keptPages * IO_PAGE_SIZE;
  return {
    platform,
    strategy: s.strategy,
    environment: s.env.name,
    profile: { name: s.profile.name, version: s.profile.version },
    counters: t.counters ?? { ...NO_COUNTERS },
    crossings: t.crossings,
    hypercalls: t.hypercalls,
    cycles: priceGrid(t.grid, s.profile, s.env),
    primitives: primitiveCounts(t.grid),
    exposure: {
      releasedButLivePeak: t.exposedPeak,
      releasedButLiveAverage: t.clock ? t.exposedIntegral / t.clock : 0,
      releasedButLivePageSeconds: t.exposedIntegral / 1e9,
      dmaAfterRelease: { reached: t.reached, blocked: t.blocked },
      reachableBytes: reachable,
      ioSpaceInUse: { peakPages: t.ioPeak, averagePages: t.clock ? t.ioIntegral / t.clock : 0 },
    },
    simulatedSeconds: t.clock / 1e9,
  };
}
