// A Simulation runs DMA operations (named by ids, as in a trace) through a platform, a mapping
// strategy and an environment, and accounts the price (cycles by party, operation and CPU) and
// the protection left (exposure). The core does the mapping; this layer decides what the core
// sees and who pays for it.

// It is also the reference of the core's priced model (assembly/priced/, bindings/sim/priced.ts):
// written for clarity, by id, with plain maps and sets, and held to the core count for count.

import type { AccessOutcome, Direction, Stats } from "../abi.js";
import { FORMAT_CALGARY, FORMAT_DART, IO_PAGE_SIZE } from "../abi.js";
import { checkRingOnly } from "../inputs.js";
import { isPerCpu, type IommuOptions } from "../config.js";
import { ConfigError } from "../errors.js";
import type { Iommu } from "../types.js";
import type { CostProfile } from "./cost-profile.js";
import type { Environment, Party } from "./environments.js";
import { GRID_SIZE, gridIndex, KIND_INDEX, PARTY_INDEX, PRIM_INDEX, type OpKind, type Primitive } from "./primitives.js";
import {
  buildReport, resolveGuestBytes, resolveSimulation, type PricedModel, type ResolvedSimulation, type SimulationOptions,
  type SimulationReport,
} from "./setup.js";
import type { StrategyChoice } from "./strategies.js";

export type { SimPlatform, SimulationOptions, SimulationReport } from "./setup.js";
export { OP_KINDS, type OpKind } from "./primitives.js";

interface Buffer {
  dma: number[];
  bytes: number[];
  phys: number[];
  dir: Direction;
  kind: "single" | "sg" | "coherent";
  live: boolean;
  /** The map failed (IO space full): the driver got an error and will not unmap it. */
  failed?: boolean;
  /** persistent/cached: the pool or cache slot behind it. */
  slot?: Parked;
}

interface Parked {
  key: string;
  dmaBase: number;
  pages: number;
  inUse: boolean;
}

const pagesOf = (addr: number, bytes: number) => Math.ceil(((addr % IO_PAGE_SIZE) + bytes) / IO_PAGE_SIZE);

export class Simulation implements PricedModel {
  readonly strategy: StrategyChoice;
  readonly env: Environment;
  readonly profile: CostProfile;
  private readonly iommu: Iommu | null;
  private readonly ids = new Map<string, Buffer>();
  /** Primitives counted, by party × operation kind × primitive (primitives.ts lays it out). */
  private readonly grid = new Float64Array(GRID_SIZE);
  private crossings = 0;
  private hypercalls = 0;
  private last: Stats | null = null;
  private clock = 0;
  // strategy state
  private readonly parked = new Map<string, Parked>(); // cached: key → parked or in use
  private readonly idle = new Map<string, Parked>(); // cached: the parked ones, least recently released first
  private readonly pool = new Map<number, Parked[]>(); // persistent: pages → free buffers
  private readonly keptPages = new Set<number>(); // never-free: entries still valid after unmap
  private readonly pendingUnmaps: Buffer[] = []; // batched
  private mapBatchFill = 0;
  private readonly batchSize: number;
  private readonly cacheSize: number;
  private readonly guestBytes: number;
  private readonly intervalNs: number;
  // exposure
  private exposedPeak = 0;
  private exposedIntegral = 0; // page·ns
  private ioPeak = 0;
  private ioIntegral = 0;
  private reached = 0;
  private blocked = 0;

  private readonly resolved: ResolvedSimulation;

  constructor(readonly options: SimulationOptions, makeIommu: (o: IommuOptions) => Iommu) {
    const r = (this.resolved = resolveSimulation(options));
    this.env = r.env;
    this.strategy = r.strategy;
    this.profile = r.profile;
    this.batchSize = r.batchSize;
    this.cacheSize = r.cacheSize;
    this.intervalNs = r.intervalNs;
    this.iommu = r.core ? makeIommu(r.core) : null;
    this.guestBytes = resolveGuestBytes(options, r.strategy, this.iommu?.config.ioSpaceBytes ?? null);
    this.last = this.iommu?.stats() ?? null;
    if (this.strategy.mapping === "preallocated") this.setupPreallocated();
  }

  // ── accounting ──────────────────────────────────────────────────────────────────────────

  /** `party` executes `n` of primitive `prim` for an operation of `kind`. */
  private count(party: Party, kind: OpKind, prim: Primitive, n: number): void {
    this.grid[gridIndex(PARTY_INDEX[party], KIND_INDEX[kind], PRIM_INDEX[prim])] += n;
  }

  /** Counter deltas of the core since the last call. */
  private delta(): Stats {
    const now = this.iommu!.stats();
    const d = {} as Stats;
    for (const k of Object.keys(now) as Array<keyof Stats>) d[k] = now[k] - this.last![k];
    this.last = now;
    return d;
  }

  /** The driver kernel's share of a DMA-API call: entry and the allocator's bitmap scan. */
  private driverWork(kind: OpKind, d: Stats | null, entries = 1): void {
    this.count(this.env.driver, kind, "dmaApiEntry", entries);
    if (d) this.count(this.env.driver, kind, "bitmapWordScan", d.wordsScanned);
  }

  /**
   * Entries a core call wrote: `pages` on the flat tables, the page-table entries the core wrote
   * (its ptWrites delta) on VT-d, AMD-Vi and SMMUv3 (assembly/priced/environment.ts entriesWritten).
   */
  private written(d: Stats, pages: number): number {
    return this.iommu!.config.levels ? d.ptWrites : pages;
  }

  /**
   * Table cache lines the CPU flushes after writing `pages` entries (Calgary: one per TCE; DART:
   * 128-byte lines, one extra entry; VT-d, AMD-Vi, SMMUv3 and the rIOMMU proposed for the same
   * chipsets: none, their walks are cache-coherent).
   */
  private tableLines(pages: number): number {
    if (pages === 0) return 0;
    const format = this.iommu!.config.format;
    return format === FORMAT_CALGARY ? pages : format === FORMAT_DART ? Math.ceil(((pages + 1) * 4) / 128) : 0;
  }

  /**
   * Entry writes and their flushes. `crossing`: how the request reaches Xen — "per-entry" (one
   * hypercall per TCE update), "one" (a single hypercall or grant op carries them), "multicall-entry"
   * (inside a multicall whose trap was already paid), or none on bare metal.
   */
  private tableWork(kind: OpKind, pages: number, crossing: "per-entry" | "one" | "multicall-entry"): void {
    if (pages === 0) return;
    const owner = this.env.iommuOwner;
    this.count(owner, kind, "tceWrite", pages);
    this.count(owner, kind, "tableCacheLineFlush", this.tableLines(pages));
    if (owner === "kernel") return;
    let traps = 0;
    if (crossing === "per-entry") traps = pages;
    else if (crossing === "one") traps = 1;
    this.crossings += traps;
    this.hypercalls += traps;
    this.count(owner, kind, "hypercallEntry", traps);
    this.count(owner, kind, "hypercallExit", traps);
    this.count(owner, kind, "hypervisorValidate", pages);
    if (crossing === "multicall-entry") this.count(owner, kind, "multicallPerEntry", pages);
  }

  /** Device-cache flushes the core performed during the last call, at the platform's price. */
  private flushWork(d: Stats, inFlight: number): void {
    const owner = this.env.iommuOwner;
    if (this.iommu!.config.invalidation !== "none") {
      // a queued interface: the commands it wrote, its doorbells and waits, VT-d's write-buffer flushes
      this.count(owner, "flush", "invDescriptorWrite", d.invDescriptors);
      this.count(owner, "flush", "mmioWrite", d.invDoorbells + d.invWriteBufferFlushes);
      this.count(owner, "flush", "mmioRead", d.invWriteBufferFlushes);
      this.count(owner, "flush", "invWait", d.invWaits);
      this.count(owner, "flush", "memoryBarrier", d.invBarriers);
      return;
    }
    const platform = this.options.platform;
    const f = d.flushes;
    if (f > 0) {
      if (platform === "riommu") {
        // the end-of-burst rIOTLB invalidation: one register write, one read (assembly/priced/environment.ts)
        this.count(owner, "flush", "mmioWrite", f);
        this.count(owner, "flush", "mmioRead", f);
      } else if (platform === "calgary-pcix" || platform === "calioc2") {
        // stop arbitration, push, poll the split queue until DMA in flight drains (≤ 100), rewrite TAR, restore
        this.count(owner, "flush", "mmioRead", f * (platform === "calgary-pcix" ? 3 : 6));
        this.count(owner, "flush", "mmioWrite", f * 3);
        this.count(owner, "flush", "flushWaitPoll", f * Math.min(100, 1 + inFlight));
      } else {
        // DART invalidate-all: set bit, poll once
        this.count(owner, "flush", "mmioRead", f * 2);
        this.count(owner, "flush", "mmioWrite", f);
      }
    }
    // DART U4: write IONE, poll
    this.count(owner, "flush", "mmioWrite", d.entryInvalidations);
    this.count(owner, "flush", "mmioRead", d.entryInvalidations);
  }

  /**
   * xen-domU only: the front-end grants its pages, dom0 grant-maps them (and unmaps them after),
   * whatever the mapping strategy, one grant operation per buffer. Grants are paid with the IOMMU
   * off too, so batching the DMA API does not batch them (the IOMMU's price stays comparable). With grant-table integration the grant operation also programs
   * the IOMMU: its trap is the single crossing tableWork("one") pays, so only the grant work is added.
   */
  private grantWork(kind: OpKind, pages: number): void {
    if (!this.env.frontend || pages === 0) return;
    if (kind === "map" || kind === "map_sg") this.count(this.env.frontend, kind, "grantIssue", pages);
    this.count("xen", kind, "grantOp", pages);
    if (this.integrated) return;
    this.crossings++;
    this.hypercalls++;
    this.count("xen", kind, "hypercallEntry", 1);
    this.count("xen", kind, "hypercallExit", 1);
  }

  private get integrated(): boolean {
    return this.strategy.mapping === "grant-table";
  }

  /** Buffers the driver holds now (kept as a count: walking every id per operation was quadratic). */
  private live = 0;

  private liveMappings(): number {
    return this.live;
  }

  /** Records a buffer the driver now holds (mapped, or whose map failed and is still to be ended). */
  private enter(id: string, b: Buffer): void {
    this.ids.set(id, b);
    this.live++;
  }

  /** End of an operation: advance simulated time and integrate exposure and IO-space use. */
  private tick(): void {
    const stale = this.iommu ? this.iommu.staleLines() : 0;
    let parkedPages = 0;
    for (const p of this.parked.values()) if (!p.inUse) parkedPages += p.pages;
    let idlePool = 0;
    for (const list of this.pool.values()) for (const p of list) idlePool += p.pages;
    let pending = 0;
    for (const b of this.pendingUnmaps) for (let i = 0; i < b.dma.length; i++) pending += pagesOf(b.dma[i], b.bytes[i]);
    const exposed = stale + parkedPages + idlePool + pending + this.keptPages.size;
    const io = this.last ? this.last.pagesInUse : 0;
    this.exposedPeak = Math.max(this.exposedPeak, exposed);
    this.ioPeak = Math.max(this.ioPeak, io);
    this.exposedIntegral += exposed * this.intervalNs;
    this.ioIntegral += io * this.intervalNs;
    this.clock += this.intervalNs;
  }

  /** The following operations run on CPU `cpu` (the IOVA allocator's magazines); not priced. */
  setCpu(cpu: number): void {
    if (this.iommu && isPerCpu(this.iommu.config)) this.iommu.setCpu(cpu);
  }

  // ── core calls with their price ─────────────────────────────────────────────────────────

  /** A real map through the core, paid as the strategy says. */
  private coreMap(kind: OpKind, phys: number, bytes: number, dir: Direction, batchedEntry: boolean): number | null {
    const dma = this.iommu!.mapSingle(phys, bytes, dir);
    const d = this.delta();
    const pages = dma === null ? 0 : pagesOf(phys, bytes);
    this.driverWork(kind, d, batchedEntry ? 0 : 1);
    this.tableWork(kind, this.written(d, pages), batchedEntry ? "multicall-entry" : this.integrated ? "one" : "per-entry");
    this.count(this.env.iommuOwner, kind, "ptPageAlloc", d.ptTablesAllocated);
    this.flushWork(d, this.liveMappings());
    if (dma !== null) this.forgetKept(dma, pages);
    return dma;
  }

  private coreUnmap(kind: OpKind, dma: number, bytes: number, batchedEntry: boolean): void {
    const keep = this.strategy.mapping === "never-free";
    if (keep) this.iommu!.unmapKeep(dma, bytes);
    else this.iommu!.unmapSingle(dma, bytes);
    const d = this.delta();
    const pages = pagesOf(dma, bytes);
    this.driverWork(kind, d, batchedEntry ? 0 : 1);
    if (keep) {
      for (let p = 0; p < pages; p++) this.keptPages.add(Math.floor(dma / IO_PAGE_SIZE) + p);
      return; // nothing written, nothing crossed: that is the point (and the exposure)
    }
    this.tableWork(kind, this.written(d, pages), batchedEntry ? "multicall-entry" : this.integrated ? "one" : "per-entry");
    this.count(this.env.iommuOwner, kind, "ptPageAlloc", d.ptTablesAllocated);
    this.flushWork(d, this.liveMappings());
  }

  private forgetKept(dma: number, pages: number): void {
    if (this.keptPages.size === 0) return;
    const first = Math.floor(dma / IO_PAGE_SIZE);
    for (let p = 0; p < pages; p++) this.keptPages.delete(first + p);
  }

  /** A dma_map_multi / dma_unmap_multi call starts: one API entry, one multicall trap under Xen. */
  private multicallStart(kind: OpKind): void {
    this.count(this.env.driver, kind, "dmaApiEntry", 1);
    if (this.env.iommuOwner === "xen") {
      this.crossings++;
      this.count("xen", kind, "hypercallEntry", 1);
      this.count("xen", kind, "hypercallExit", 1);
    }
  }

  private setupPreallocated(): void {
    // at boot the whole guest is mapped; under Xen through the same per-entry interface
    this.tableWork("setup", Math.ceil(this.guestBytes / IO_PAGE_SIZE), "per-entry");
  }

  // ── the DMA API by id ───────────────────────────────────────────────────────────────────

  private fresh(id: string): void {
    if (this.ids.get(id)?.live) throw new ConfigError("id", id, "an id that is not mapped now");
  }

  /** The live buffer `id`, or null (after ending it) when its map had failed: nothing to undo. */
  private held(id: string, kind: Buffer["kind"]): Buffer | null {
    const b = this.ids.get(id);
    if (!b || !b.live || b.kind !== kind) throw new ConfigError("id", id, `an id mapped by ${kind === "sg" ? "mapSg" : kind === "coherent" ? "alloc" : "map"} and not yet released`);
    b.live = false;
    this.live--;
    if (b.failed) {
      this.tick();
      return null;
    }
    return b;
  }

  private insideGuest(phys: number, bytes: number): void {
    if (phys + bytes > this.guestBytes) throw new ConfigError("phys", phys, `a buffer inside the preallocated guest (below ${this.guestBytes} bytes)`);
  }

  /** dma_map_single; returns the DMA address, or null when the IO space is full. */
  map(id: string, phys: number, bytes: number, dir: Direction): number | null {
    this.fresh(id);
    const dma = this.mapOne("map", phys, bytes, dir);
    if (dma !== null) {
      this.grantWork("map", pagesOf(phys, bytes));
      this.enter(id, { dma: [dma.dma], bytes: [bytes], phys: [phys], dir, kind: "single", live: true, slot: dma.slot });
    } else {
      this.enter(id, { dma: [], bytes: [bytes], phys: [phys], dir, kind: "single", live: true, failed: true });
    }
    this.tick();
    return dma === null ? null : dma.dma;
  }

  private mapOne(kind: OpKind, phys: number, bytes: number, dir: Direction): { dma: number; slot?: Parked } | null {
    const s = this.strategy.mapping;
    if (!this.iommu) {
      this.count(this.env.driver, kind, "dmaApiEntry", 1);
      return { dma: phys };
    }
    if (s === "preallocated") {
      this.insideGuest(phys, bytes);
      this.count(this.env.driver, kind, "dmaApiEntry", 1);
      return { dma: phys };
    }
    if (s === "cached") {
      const pages = pagesOf(phys, bytes);
      const key = `${Math.floor(phys / IO_PAGE_SIZE)}:${pages}:${dir}`;
      this.count(this.env.driver, kind, "mappingCacheLookup", 1);
      const hit = this.parked.get(key);
      if (hit && !hit.inUse) {
        hit.inUse = true;
        this.idle.delete(key);
        this.count(this.env.driver, kind, "dmaApiEntry", 1);
        return { dma: hit.dmaBase + (phys % IO_PAGE_SIZE), slot: hit };
      }
      const dma = this.coreMap(kind, phys, bytes, dir, false);
      if (dma === null) return null;
      if (hit) return { dma }; // the same pages mapped twice at once: the second is not cached
      const slot: Parked = { key, dmaBase: dma - (phys % IO_PAGE_SIZE), pages, inUse: true };
      this.parked.set(key, slot);
      return { dma, slot };
    }
    if (s === "persistent") {
      const pages = pagesOf(phys, bytes);
      let buf = this.pool.get(pages)?.pop();
      if (!buf) {
        const e = this.iommu.allocCoherent(pages * IO_PAGE_SIZE);
        const d = this.delta();
        this.driverWork(kind, d);
        this.tableWork(kind, this.written(d, e ? pages : 0), "per-entry");
        this.count(this.env.iommuOwner, kind, "ptPageAlloc", d.ptTablesAllocated);
        this.flushWork(d, this.liveMappings());
        if (!e) return null;
        buf = { key: "", dmaBase: e.dma, pages, inUse: true };
      } else {
        this.count(this.env.driver, kind, "dmaApiEntry", 1);
      }
      buf.inUse = true;
      if (dir !== "from-device") this.count(this.env.driver, kind, "copyPerByte", bytes);
      return { dma: buf.dmaBase + (phys % IO_PAGE_SIZE), slot: buf };
    }
    if (s === "batched") {
      if (this.mapBatchFill === 0) this.multicallStart(kind);
      this.mapBatchFill = (this.mapBatchFill + 1) % this.batchSize;
      const dma = this.coreMap(kind, phys, bytes, dir, true);
      return dma === null ? null : { dma };
    }
    const dma = this.coreMap(kind, phys, bytes, dir, false);
    return dma === null ? null : { dma };
  }

  private unmapOne(kind: OpKind, b: Buffer, i: number): void {
    const s = this.strategy.mapping;
    if (!this.iommu || s === "preallocated") {
      this.count(this.env.driver, kind, "dmaApiEntry", 1);
      return;
    }
    if (s === "cached" && b.slot) {
      this.count(this.env.driver, kind, "dmaApiEntry", 1);
      this.count(this.env.driver, kind, "mappingCacheLookup", 1);
      b.slot.inUse = false;
      this.idle.set(b.slot.key, b.slot);
      this.evictParked(kind);
      return;
    }
    if (s === "persistent" && b.slot) {
      this.count(this.env.driver, kind, "dmaApiEntry", 1);
      if (b.dir !== "to-device") this.count(this.env.driver, kind, "copyPerByte", b.bytes[i]);
      b.slot.inUse = false;
      const list = this.pool.get(b.slot.pages) ?? [];
      list.push(b.slot);
      this.pool.set(b.slot.pages, list);
      return;
    }
    this.coreUnmap(kind, b.dma[i], b.bytes[i], false);
  }

  /** Parked mappings beyond the cache size are really unmapped, least recently used first. */
  private evictParked(kind: OpKind): void {
    while (this.idle.size > this.cacheSize) {
      const victim = this.idle.values().next().value as Parked;
      this.idle.delete(victim.key);
      this.parked.delete(victim.key);
      this.coreUnmap(kind, victim.dmaBase, victim.pages * IO_PAGE_SIZE, false);
    }
  }

  unmap(id: string): void {
    const b = this.held(id, "single");
    if (!b) return;
    this.grantWork("unmap", pagesOf(b.phys[0], b.bytes[0]));
    if (this.strategy.mapping === "batched") this.queueUnmap(b);
    else this.unmapOne("unmap", b, 0);
    this.tick();
  }

  private queueUnmap(b: Buffer): void {
    this.pendingUnmaps.push(b);
    if (this.pendingUnmaps.length >= this.batchSize) this.drainUnmaps();
  }

  /** dma_unmap_multi over the queued unmaps. */
  private drainUnmaps(): void {
    if (this.pendingUnmaps.length === 0) return;
    const kind: OpKind = this.pendingUnmaps[0].kind === "sg" ? "unmap_sg" : "unmap";
    this.multicallStart(kind);
    for (const b of this.pendingUnmaps.splice(0)) {
      if (b.kind === "sg") this.coreUnmapSg(b, true);
      else this.coreUnmap("unmap", b.dma[0], b.bytes[0], true);
    }
  }

  /** Strategies under which a scatterlist goes to the core as one map_sg call (one flush hook, PowerPC's chaining). */
  private get wholeSg(): boolean {
    const s = this.strategy.mapping;
    return this.iommu !== null && (s === "straightforward" || s === "never-free" || s === "grant-table" || s === "batched");
  }

  /** One dma_map_sg through the core, priced like a map of all its pages. */
  private coreMapSg(segments: ReadonlyArray<{ phys: number; bytes: number }>, dir: Direction): number[] | null {
    const batched = this.strategy.mapping === "batched";
    if (batched) {
      if (this.mapBatchFill === 0) this.multicallStart("map_sg");
      this.mapBatchFill = (this.mapBatchFill + 1) % this.batchSize;
    }
    const out = this.iommu!.mapSg(segments, dir);
    const d = this.delta();
    const pages = out === null ? 0 : segments.reduce((n, s) => n + pagesOf(s.phys, s.bytes), 0);
    this.driverWork("map_sg", d, batched ? 0 : 1);
    // Unwound elements of a failed list were written twice: those writes are the core's tceWrites delta.
    this.tableWork("map_sg", this.written(d, out === null ? d.tceWrites : pages), batched ? "multicall-entry" : this.integrated ? "one" : "per-entry");
    this.count(this.env.iommuOwner, "map_sg", "ptPageAlloc", d.ptTablesAllocated);
    this.flushWork(d, this.liveMappings());
    if (out) out.forEach((dma, i) => this.forgetKept(dma, pagesOf(segments[i].phys, segments[i].bytes)));
    return out;
  }

  private coreUnmapSg(b: Buffer, batchedEntry: boolean): void {
    if (this.strategy.mapping === "never-free") {
      b.dma.forEach((dma, i) => this.coreUnmap("unmap_sg", dma, b.bytes[i], batchedEntry));
      return;
    }
    this.iommu!.unmapSg(b.dma.map((dma, i) => ({ dma, bytes: b.bytes[i] })));
    const d = this.delta();
    this.driverWork("unmap_sg", d, batchedEntry ? 0 : 1);
    this.tableWork("unmap_sg", this.written(d, d.pagesUnmapped), batchedEntry ? "multicall-entry" : this.integrated ? "one" : "per-entry");
    this.count(this.env.iommuOwner, "unmap_sg", "ptPageAlloc", d.ptTablesAllocated);
    this.flushWork(d, this.liveMappings());
  }

  mapSg(id: string, segments: ReadonlyArray<{ phys: number; bytes: number }>, dir: Direction): number[] | null {
    if (this.iommu) checkRingOnly("map_sg", this.iommu.config);
    this.fresh(id);
    if (!this.iommu) {
      // no IOMMU: one API call hands back the physical addresses
      this.count(this.env.driver, "map_sg", "dmaApiEntry", 1);
      const dmas = segments.map((s) => s.phys);
      this.grantWork("map_sg", segments.reduce((n, s) => n + pagesOf(s.phys, s.bytes), 0));
      this.enter(id, { dma: dmas, bytes: segments.map((s) => s.bytes), phys: segments.map((s) => s.phys), dir, kind: "sg", live: true });
      this.tick();
      return dmas;
    }
    if (this.wholeSg) {
      const dmas = this.coreMapSg(segments, dir);
      if (dmas === null) {
        this.enter(id, { dma: [], bytes: [], phys: [], dir, kind: "sg", live: true, failed: true });
      } else {
        this.grantWork("map_sg", segments.reduce((n, s) => n + pagesOf(s.phys, s.bytes), 0));
        this.enter(id, { dma: dmas, bytes: segments.map((s) => s.bytes), phys: segments.map((s) => s.phys), dir, kind: "sg", live: true });
      }
      this.tick();
      return dmas;
    }
    if (this.strategy.mapping === "preallocated") for (const s of segments) this.insideGuest(s.phys, s.bytes);
    const out: number[] = [];
    const slots: Array<Parked | undefined> = [];
    for (const s of segments) {
      const r = this.mapOne("map_sg", s.phys, s.bytes, dir);
      if (r === null) {
        // undo what this list mapped so far, as map_sg does
        const undo: Buffer = { dma: out, bytes: segments.map((x) => x.bytes), phys: [], dir, kind: "sg", live: false };
        out.forEach((_, i) => {
          undo.slot = slots[i];
          this.unmapOne("unmap_sg", undo, i);
        });
        this.enter(id, { dma: [], bytes: [], phys: [], dir, kind: "sg", live: true, failed: true });
        this.tick();
        return null;
      }
      out.push(r.dma);
      slots.push(r.slot);
    }
    // One scatterlist = one Buffer; per-segment slots are kept by index.
    const b: Buffer = { dma: out, bytes: segments.map((s) => s.bytes), phys: segments.map((s) => s.phys), dir, kind: "sg", live: true };
    this.grantWork("map_sg", segments.reduce((n, s) => n + pagesOf(s.phys, s.bytes), 0));
    this.sgSlots.set(b, slots);
    this.enter(id, b);
    this.tick();
    return out;
  }

  private readonly sgSlots = new WeakMap<Buffer, Array<Parked | undefined>>();

  unmapSg(id: string): void {
    const b = this.held(id, "sg");
    if (!b) return;
    this.grantWork("unmap_sg", b.phys.reduce((n, p, i) => n + pagesOf(p, b.bytes[i]), 0));
    if (!this.iommu) this.count(this.env.driver, "unmap_sg", "dmaApiEntry", 1);
    else if (this.strategy.mapping === "batched") this.queueUnmap(b);
    else if (this.wholeSg) this.coreUnmapSg(b, false);
    else {
      const slots = this.sgSlots.get(b) ?? [];
      b.dma.forEach((_, i) => {
        b.slot = slots[i];
        this.unmapOne("unmap_sg", b, i);
      });
      b.slot = undefined;
    }
    this.tick();
  }

  /** dma_alloc_coherent: a long-lived buffer, mapped the same way under every strategy. */
  alloc(id: string, bytes: number): number | null {
    if (this.iommu) checkRingOnly("alloc_coherent", this.iommu.config);
    this.fresh(id);
    let dma: number | null;
    if (!this.iommu || this.strategy.mapping === "preallocated") {
      this.count(this.env.driver, "alloc", "dmaApiEntry", 1);
      dma = this.physNext;
      this.physNext += Math.ceil(bytes / IO_PAGE_SIZE) * IO_PAGE_SIZE;
    } else {
      const r = this.iommu.allocCoherent(bytes);
      const d = this.delta();
      const pages = r ? Math.ceil(bytes / IO_PAGE_SIZE) : 0;
      // the driver domain's own buffer (a descriptor ring): no grant involved
      this.driverWork("alloc", d);
      this.tableWork("alloc", this.written(d, pages), "per-entry");
      this.count(this.env.iommuOwner, "alloc", "ptPageAlloc", d.ptTablesAllocated);
      this.flushWork(d, this.liveMappings());
      dma = r ? r.dma : null;
    }
    this.enter(id, { dma: dma === null ? [] : [dma], bytes: [bytes], phys: [], dir: "bidirectional", kind: "coherent", live: true, failed: dma === null });
    this.tick();
    return dma;
  }

  private physNext = 0x1000_0000;

  free(id: string): void {
    const b = this.held(id, "coherent");
    if (!b) return;
    if (!this.iommu || this.strategy.mapping === "preallocated") this.count(this.env.driver, "free", "dmaApiEntry", 1);
    else {
      this.iommu.freeCoherent(b.dma[0], b.bytes[0]);
      const d = this.delta();
      this.driverWork("free", d);
      this.tableWork("free", this.written(d, Math.ceil(b.bytes[0] / IO_PAGE_SIZE)), "per-entry");
      this.count(this.env.iommuOwner, "free", "ptPageAlloc", d.ptTablesAllocated);
      this.flushWork(d, this.liveMappings());
    }
    this.tick();
  }

  /**
   * The device reads or writes `bytes` at `offset` of buffer `id` (segment `segment` for sg).
   * A DMA to a buffer the driver released that still reaches memory is an exposure; one that is
   * stopped is a blocked fault.
   */
  access(id: string, offset: number, bytes: number, kind: "read" | "write", segment = 0): AccessOutcome | "unchecked" {
    const b = this.ids.get(id);
    if (!b) throw new ConfigError("id", id, "an id that was mapped at some point");
    if (b.failed) {
      this.tick();
      return "fault"; // the driver had no address to give the device
    }
    const dma = b.dma[segment] + offset;
    let outcome: AccessOutcome | "unchecked";
    if (!this.iommu) outcome = "unchecked";
    else if (this.strategy.mapping === "preallocated") outcome = dma + bytes <= this.guestBytes ? "unchecked" : "fault";
    else {
      outcome = this.iommu.deviceAccess(dma, bytes, kind);
      this.last = this.iommu.stats();
    }
    if (!b.live) {
      if (outcome === "fault") this.blocked++;
      else this.reached++;
    }
    this.tick();
    return outcome;
  }

  /** Ends the run: queued batched unmaps are issued (they would be by the next batch). */
  finish(): void {
    if (this.strategy.mapping === "batched") {
      this.drainUnmaps();
      this.tick();
    }
  }

  flushes(): number {
    return this.iommu ? this.iommu.stats().flushes : 0;
  }

  report(): SimulationReport {
    return buildReport(this.options.platform, this.resolved, {
      grid: this.grid,
      counters: this.iommu ? this.iommu.stats() : null,
      crossings: this.crossings,
      hypercalls: this.hypercalls,
      clock: this.clock,
      exposedPeak: this.exposedPeak,
      exposedIntegral: this.exposedIntegral,
      ioPeak: this.ioPeak,
      ioIntegral: this.ioIntegral,
      reached: this.reached,
      blocked: this.blocked,
      keptPages: this.keptPages.size,
      guestBytes: this.guestBytes,
    });
  }
}

/** A simulation with the given core factory (createIommu in Node, createIommuWith in a browser). */
export function createSimulation(options: SimulationOptions, makeIommu: (o: IommuOptions) => Iommu): Simulation {
  return new Simulation(options, makeIommu);
}
