// The priced model on the WASM core: the strategy, the environment and the price counted inside
// the core (assembly/priced/) as it applies batch records; one dot product with the profile
// when a report is asked for. Two ways in:
//   - `batch`: write records (records.ts encoders, handles chosen by the caller) and run them —
//     the high-volume path (trace replay, generated streams): one crossing per batch;
//   - the id-level API of the reference Simulation (map(id, …), unmap(id), …), one record a call,
//     for small drivers and for the differential tests that hold the two models together.

import { SG_MAX, type AccessOutcome, type Direction } from "../abi.js";
import { isPerCpu, resolveConfig, type IommuOptions, type ResolvedConfig } from "../config.js";
import { ConfigError } from "../errors.js";
import { checkBuffer, checkBytes, checkDirection, checkDma, checkPhys, checkRingOnly } from "../inputs.js";
import { RIOMMU_RING_ONLY } from "../platforms.js";
import { putAccess, putAlloc, putCpu, putFree, putMap, putMapSg, putUnmap, putUnmapSg } from "../records.js";
import type { BatchArea, Iommu } from "../types.js";
import { WasmIommu, type CoreExports } from "../wasm-iommu.js";
import type { CostProfile } from "./cost-profile.js";
import type { Environment } from "./environments.js";
import { GRID_SIZE, PARTY_INDEX } from "./primitives.js";
import {
  buildReport, resolveGuestBytes, resolveSimulation, type PricedModel, type ResolvedSimulation, type SimulationOptions,
  type SimulationReport,
} from "./setup.js";
import { createSimulation } from "./simulation.js";
import { MAPPING_STRATEGIES, type StrategyChoice } from "./strategies.js";

/** Results of priced records beyond the core's (assembly/priced/run.ts). */
export const PRICED = {
  accessUnchecked: 4,
  refusedSequence: -3,
  refusedOutsideGuest: -4,
  refusedTooLarge: -5,
  refusedRingOnly: -6,
} as const;

const ACCESS = ["hit", "miss", "stale", "fault", "unchecked"] as const;
/**
 * Which flush price the core applies (assembly/priced/environment.ts FLUSHER_*). A platform with a
 * queued invalidation interface (VT-d, AMD-Vi, SMMUv3) is priced from that interface's counters
 * (FLUSHER_QUEUED); overridden to `invalidation: "none"`, it is priced as DART's invalidate-all.
 */
const FLUSHER = { "calgary-pcix": 0, calioc2: 1, "dart-u3": 2, "dart-u4": 2, vtd: 2, "amd-vi": 2, smmuv3: 2, riommu: 3 } as const;
const FLUSHER_QUEUED = 4;
const NO_PARTY = 255;
/** The core a run with no IOMMU keeps for its memory and counters (never called). */
export const NO_IOMMU_CORE = { platform: "calgary-pcix", tableSize: "64K" } as const;
/** Buffer flags (assembly/priced/buffers.ts). */
const LIVE = 2;
const FAILED = 4;

interface Held {
  handle: number;
  elements: number;
  kind: "single" | "sg" | "coherent";
}

export class PricedSimulation implements PricedModel {
  readonly strategy: StrategyChoice;
  readonly env: Environment;
  readonly profile: CostProfile;
  /** Records in, results out: `run(n)` applies records 0 … n − 1 of `ops` through the priced model. */
  readonly batch: BatchArea;
  /** Buffer handles the model keeps (records name handles below this). */
  readonly handles: number;
  private readonly resolved: ResolvedSimulation;
  private readonly io: WasmIommu;
  private readonly core: CoreExports;
  private readonly hasIommu: boolean;
  private readonly guestBytes: number;
  private readonly config: ResolvedConfig;
  // the id-level API
  private readonly ids = new Map<string, Held>();
  /** First handles of released runs, by run length (an id mapped again frees its old run). */
  private readonly spare = new Map<number, number[]>();
  private nextHandle = 0;

  /**
   * On a new core compiled from `source`, or on an existing core of the configuration these
   * options resolve to (its memory grown for the priced model, its state reset): a sweep's
   * workers reuse their cores this way.
   */
  constructor(readonly options: SimulationOptions, source: WebAssembly.Module | WasmIommu) {
    const r = (this.resolved = resolveSimulation(options));
    this.strategy = r.strategy;
    this.env = r.env;
    this.profile = r.profile;
    this.hasIommu = r.core !== null;
    // no IOMMU: the core is there for its memory and counters, never called
    const sizing = { maxHandles: options.iommu?.maxHandles, batchCapacity: options.iommu?.batchCapacity };
    const config = (this.config = source instanceof WasmIommu ? source.config : resolveConfig(r.core ?? { ...NO_IOMMU_CORE, ...sizing }));
    this.guestBytes = resolveGuestBytes(options, r.strategy, r.core ? config.ioSpaceBytes : null);
    const strategy = MAPPING_STRATEGIES.indexOf(r.strategy.mapping);
    this.handles = config.maxHandles;
    const bytes = (core: CoreExports) => core.pricedBytes(strategy, config.maxHandles, config.entries, r.cacheSize, r.batchSize);
    if (source instanceof WasmIommu) {
      const want = resolveConfig(r.core ?? NO_IOMMU_CORE);
      const same = (["platform", "flushPolicy", "allocator", "entries", "cacheEntries", "cacheWays", "cpus", "invalidation", "invCaps"] as const).every((k) => want[k] === config[k]);
      if (!same) throw new ConfigError("core", config.platform, "a core of the configuration these options give (platform, table, cache, allocator, flush policy, CPUs)");
      source.reset(bytes(source.coreExports));
      this.io = source;
    } else {
      this.io = new WasmIommu(source, config, bytes);
    }
    this.core = this.io.coreExports;
    const env = r.env;
    const rc = this.core.pricedInit(
      strategy, config.maxHandles, this.hasIommu ? 1 : 0, PARTY_INDEX[env.driver], PARTY_INDEX[env.iommuOwner],
      env.frontend ? PARTY_INDEX[env.frontend] : NO_PARTY, config.invalidation !== "none" ? FLUSHER_QUEUED : FLUSHER[config.platform], r.intervalNs, this.guestBytes,
      r.cacheSize, r.batchSize, isPerCpu(config) ? 1 : 0, config.cpus,
    );
    if (rc !== 0) throw new Error("iommu-sim: the priced model's memory was sized wrongly; this is a bug, please report it");
    const core = this.core;
    const inner = this.io.batch;
    this.batch = {
      get ops() {
        return inner.ops;
      },
      get results() {
        return inner.results;
      },
      capacity: inner.capacity,
      run(count: number): void {
        if (!Number.isInteger(count) || count < 0 || count > inner.capacity) {
          throw new ConfigError("count", count, `an integer from 0 to the batch capacity ${inner.capacity}`);
        }
        core.pricedRun(count);
      },
    };
  }

  /** CPUs the model keeps per-CPU state for (records naming a CPU beyond are refused), and whether it does. */
  get cpus(): { cpus: number; perCpu: boolean } {
    return { cpus: this.config.cpus, perCpu: this.hasIommu && isPerCpu(this.config) };
  }

  /** Why a record got `result` (a refusal: BAD_RECORD or below), in the words of the reference's errors. */
  refusal(result: number): string {
    switch (result) {
      case PRICED.refusedSequence: return "not in sequence for the priced model (a handle mapped twice, or released twice)";
      case PRICED.refusedOutsideGuest: return `a buffer inside the preallocated guest (below ${this.guestBytes} bytes)`;
      case PRICED.refusedRingOnly: return RIOMMU_RING_ONLY;
      case PRICED.refusedTooLarge: return `a persistent buffer below 4 GiB, and at most ${16 * this.resolved.batchSize} scatterlist elements waiting in one batch`;
      default: return `a buffer whose pages a ${this.config.platform} entry can hold, with a direction the core knows`;
    }
  }

  /** Ends the run: queued batched unmaps are issued (they would be by the next batch). */
  finish(): void {
    this.core.pricedFinish();
  }

  flushes(): number {
    return this.hasIommu ? this.io.counter("flushes") : 0;
  }

  report(): SimulationReport {
    const buf = this.core.memory.buffer;
    const grid = new Float64Array(buf, this.core.pricedGridPtr(), GRID_SIZE);
    const g = new Float64Array(buf, this.core.pricedGauges(), 10);
    return buildReport(this.options.platform, this.resolved, {
      grid,
      counters: this.hasIommu ? this.io.stats() : null,
      crossings: g[0],
      hypercalls: g[1],
      clock: g[2],
      exposedPeak: g[3],
      exposedIntegral: g[4],
      ioPeak: g[5],
      ioIntegral: g[6],
      reached: g[7],
      blocked: g[8],
      keptPages: g[9],
      guestBytes: this.guestBytes,
    });
  }

  // ── the reference's id-level API, one record a call ────────────────────────────────────────

  private flags(h: number): number {
    return new Uint32Array(this.core.memory.buffer, this.core.pricedBuffer(h), 1)[0];
  }

  private dmaOf(h: number): number {
    const w = new Uint32Array(this.core.memory.buffer, this.core.pricedBuffer(h) + 8, 2);
    return w[1] * 2 ** 32 + w[0];
  }

  /** `n` handles for a new mapping: those of an id mapped again, else fresh ones. */
  private take(n: number): number {
    const run = this.spare.get(n);
    if (run !== undefined && run.length > 0) return run.pop()!;
    if (this.nextHandle + n > this.handles) {
      // every id stays reachable (an access after its unmap still aims at it), as in the reference
      throw new ConfigError("iommu.maxHandles", this.handles, `more handles: ${this.nextHandle + n} buffers are or were mapped under ids still known (the id-level API keeps every id for later accesses; for long runs write records to sim.batch and reuse handles, as replay does)`);
    }
    this.nextHandle += n;
    return this.nextHandle - n;
  }

  private fresh(id: string): void {
    const held = this.ids.get(id);
    if (!held) return;
    if (this.flags(held.handle) & LIVE) throw new ConfigError("id", id, "an id that is not mapped now");
    const run = this.spare.get(held.elements) ?? [];
    run.push(held.handle);
    this.spare.set(held.elements, run);
    this.ids.delete(id);
  }

  private held(id: string, kind: Held["kind"]): Held {
    const b = this.ids.get(id);
    if (!b || b.kind !== kind || !(this.flags(b.handle) & LIVE)) {
      throw new ConfigError("id", id, `an id mapped by ${kind === "sg" ? "mapSg" : kind === "coherent" ? "alloc" : "map"} and not yet released`);
    }
    return b;
  }

  private checkPhys(field: string, phys: number): void {
    if (this.hasIommu) checkPhys(field, phys, this.config);
    else if (!Number.isSafeInteger(phys) || phys < 0) throw new ConfigError(field, phys, "a physical address from 0 to 2^53");
    if (this.strategy.mapping === "preallocated") this.insideGuest(phys, 0);
  }

  private insideGuest(phys: number, bytes: number): void {
    if (phys + bytes > this.guestBytes) throw new ConfigError("phys", phys, `a buffer inside the preallocated guest (below ${this.guestBytes} bytes)`);
  }

  private run1(records: number): number {
    this.core.pricedRun(records);
    return this.batch.results[0];
  }

  private check(result: number): number {
    if (result === PRICED.refusedTooLarge) throw new ConfigError("bytes", result, this.refusal(result));
    if (result < -1) throw new Error(`iommu-sim: the priced model refused a record the id layer allowed (${result}); this is a bug, please report it`);
    return result;
  }

  /** dma_map_single; returns the DMA address, or null when the IO space is full. */
  map(id: string, phys: number, bytes: number, dir: Direction): number | null {
    this.checkPhys("phys", phys);
    checkBytes("bytes", bytes);
    // the buffer's last page too must be one an entry holds (the core would refuse the record)
    if (this.hasIommu) checkBuffer("phys", "bytes", phys, bytes, this.config);
    const d = checkDirection(dir);
    if (this.strategy.mapping === "preallocated") this.insideGuest(phys, bytes);
    this.fresh(id);
    const h = this.take(1);
    putMap(this.batch.ops, 0, h, phys, bytes, d);
    if (this.check(this.run1(1)) < 0) return this.enter(id, h, 1, "single", null);
    return this.enter(id, h, 1, "single", this.dmaOf(h));
  }

  private enter<T>(id: string, handle: number, elements: number, kind: Held["kind"], out: T): T {
    this.ids.set(id, { handle, elements, kind });
    return out;
  }

  unmap(id: string): void {
    putUnmap(this.batch.ops, 0, this.held(id, "single").handle);
    this.check(this.run1(1));
  }

  mapSg(id: string, segments: ReadonlyArray<{ phys: number; bytes: number }>, dir: Direction): number[] | null {
    if (this.hasIommu) checkRingOnly("map_sg", this.config);
    if (!Array.isArray(segments) || segments.length < 1 || segments.length > SG_MAX || segments.length + 1 > this.batch.capacity) {
      throw new ConfigError("segments", segments, `a list of 1 to ${Math.min(SG_MAX, this.batch.capacity - 1)} segments`);
    }
    segments.forEach((s, k) => {
      this.checkPhys(`segments[${k}].phys`, s.phys);
      checkBytes(`segments[${k}].bytes`, s.bytes);
      if (this.hasIommu) checkBuffer(`segments[${k}].phys`, `segments[${k}].bytes`, s.phys, s.bytes, this.config);
      if (this.strategy.mapping === "preallocated") this.insideGuest(s.phys, s.bytes);
    });
    const d = checkDirection(dir);
    this.fresh(id);
    const h = this.take(segments.length);
    putMapSg(this.batch.ops, 0, h, segments, d);
    if (this.check(this.run1(1 + segments.length)) === 0) return this.enter(id, h, segments.length, "sg", null);
    return this.enter(id, h, segments.length, "sg", segments.map((_, k) => this.dmaOf(h + k)));
  }

  unmapSg(id: string): void {
    const b = this.held(id, "sg");
    putUnmapSg(this.batch.ops, 0, b.handle, b.elements);
    this.check(this.run1(1));
  }

  /** dma_alloc_coherent: a long-lived buffer, mapped the same way under every strategy. */
  alloc(id: string, bytes: number): number | null {
    if (this.hasIommu) checkRingOnly("alloc_coherent", this.config);
    checkBytes("bytes", bytes);
    this.fresh(id);
    const h = this.take(1);
    putAlloc(this.batch.ops, 0, h, bytes);
    if (this.check(this.run1(1)) < 0) return this.enter(id, h, 1, "coherent", null);
    return this.enter(id, h, 1, "coherent", this.dmaOf(h));
  }

  free(id: string): void {
    putFree(this.batch.ops, 0, this.held(id, "coherent").handle);
    this.check(this.run1(1));
  }

  /** The device reads or writes `bytes` at `offset` of buffer `id` (segment `segment` for sg). */
  access(id: string, offset: number, bytes: number, kind: "read" | "write", segment = 0): AccessOutcome | "unchecked" {
    const b = this.ids.get(id);
    if (!b) throw new ConfigError("id", id, "an id that was mapped at some point");
    if (!Number.isInteger(segment) || segment < 0 || segment >= b.elements) throw new ConfigError("segment", segment, `a segment from 0 to ${b.elements - 1}`);
    if (!Number.isInteger(offset) || offset < 0 || offset > 0xffffffff) throw new ConfigError("offset", offset, "a byte offset from 0 to 2^32 − 1");
    checkBytes("bytes", bytes);
    // an address past 4 GiB is refused as the reference's deviceAccess refuses it (records fault there)
    const h = b.handle + segment;
    if (this.hasIommu && this.strategy.mapping !== "preallocated" && !(this.flags(h) & FAILED)) checkDma("dma", this.dmaOf(h) + offset);
    putAccess(this.batch.ops, 0, h, offset, bytes, kind === "write");
    return ACCESS[this.check(this.run1(1))];
  }

  /** The following operations run on CPU `cpu` (the IOVA allocator's magazines); not priced. */
  setCpu(cpu: number): void {
    if (!this.hasIommu || !isPerCpu(this.config)) return;
    if (!Number.isInteger(cpu) || cpu < 0 || cpu >= this.config.cpus) {
      throw new ConfigError("cpu", cpu, `a CPU from 0 to ${this.config.cpus - 1} (the instance models cpus: ${this.config.cpus})`);
    }
    putCpu(this.batch.ops, 0, cpu);
    this.run1(1);
  }
}

/** A priced simulation on the WASM core, from an already compiled module (browser or Node). */
export function createPricedSimulationWith(module: WebAssembly.Module, options: SimulationOptions): PricedSimulation {
  return new PricedSimulation(options, module);
}

/**
 * The priced model for `options` on the cores `makeIommu` makes: the core's own (PricedSimulation)
 * when they are WASM cores, else the TypeScript reference over them (the two count alike,
 * test/priced.test.ts). Lets code that takes a core factory (Node's createIommu, a browser's
 * createIommuWith, the reference's) price at core speed wherever it can.
 */
export function pricedModelOn(options: SimulationOptions, makeIommu: (o: IommuOptions) => Iommu): PricedModel {
  const core = resolveSimulation(options).core;
  const io = makeIommu(core ?? NO_IOMMU_CORE);
  if (io instanceof WasmIommu) return new PricedSimulation(options, io);
  return createSimulation(options, () => io);
}
