// The Iommu backed by the AssemblyScript core. Browser-safe: it takes a compiled
// WebAssembly.Module; loading the bytes is the caller's business (node.ts does it from disk).
//
// We instantiate the module ourselves instead of using @assemblyscript/loader or the compiler's
// generated bindings: every export takes and returns plain numbers, so neither is needed; the
// loader is deprecated upstream, and the ESM bindings would pin one instance per module import
// (we want many independent IOMMUs from one compiled module).

import {
  ACCESS_OUTCOMES, BAD_RECORD, COUNTER_NAMES, FREE_RESULTS, IO_PAGE_SIZE, SG_MAX, type AccessOutcome,
  type CounterName, type Direction, type FreeResult, type Stats, FLUSH_POLICIES, INVALIDATIONS,
} from "./abi.js";
import { checkContextWord, checkPageTableLevel, resolveConfig, type IommuOptions, type ResolvedConfig } from "./config.js";
import { ConfigError } from "./errors.js";
import {
  allocatorStateOf, checkAccessKind, checkBuffer, checkBytes, checkCpu, checkDirection, checkDma, checkRingOnly, checkSgList, DIRECTION_CODE,
  pfnHigh, pfnLow, splitPhys, U32_MAX,
} from "./inputs.js";
import type { AllocatorState, BatchArea, CoherentBuffer, DmaSegment, InvalidationQueue, Iommu, SgSegment } from "./types.js";

// The published declarations name WebAssembly.Module and .Memory, which TypeScript declares only
// in its DOM and WebWorker libs; a Node project compiled without them (lib ES2022 + @types/node)
// would fail on our .d.ts. Declared here as opaque interfaces, they merge with the libs' own.
declare global {
  namespace WebAssembly {
    interface Module {}
    interface Memory {}
  }
}

export interface CoreExports {
  memory: WebAssembly.Memory;
  init(
    format: number, allocator: number, flushPolicy: number, entries: number, cacheSets: number,
    cacheWays: number, maxHandles: number, batchCapacity: number, emptyWord: bigint,
    badFreeBelow: number, coherentBasePfn: bigint, boundaryPages: number, cpus: number, scratchBytes: number,
    maxPfn: bigint, maxCoherentOrder: number, vmerge: number, levels: number, invalidation: number, invCaps: number,
  ): number;
  pageTableEntry(page: number, level: number): bigint;
  contextWord(i: number): bigint;
  invalidateContextCache(): void;
  invQueuePtr(): number;
  invQueueSlots(): number;
  invTail(): number;
  reserve(first: number, npages: number): void;
  countersPtr(): number;
  sgPtr(): number;
  opsPtr(): number;
  resultsPtr(): number;
  entryWord(e: number): bigint;
  entryRaw(e: number): bigint;
  entryInUse(e: number): number;
  hint(): number;
  cacheLines(): number;
  mapSingle(pfnLow: number, pfnHigh: number, offset: number, bytes: number, dir: number): number;
  unmapSingle(dma: number, bytes: number): number;
  unmapKeep(dma: number, bytes: number): number;
  staleLines(): number;
  mapSg(sg: number, count: number, dir: number): number;
  unmapSg(sg: number, count: number): number;
  allocCoherent(bytes: number): number;
  freeCoherent(dma: number, bytes: number): number;
  coherentPfn(): number;
  deviceAccess(dma: number, bytes: number, write: number): number;
  runBatch(n: number): number;
  ringInit(ring: number, firstPfn: number): number;
  ringRun(steps: number): number;
  setCpu(cpu: number): void;
  depotWork(): number;
  fqTimer(): number;
  treeNodes(): number;
  magazines(): number;
  cachedPfns(): number;
  treeCheck(): number;
  largestFreeRun(): number;
  workloadInit(kind: number, param: number, seed: number, cpus: number, allocOnly: number): void;
  workloadRun(steps: number): number;
  workloadLow(): number;
  workloadHighEnd(): number;
  workloadLivePages(): number;
  pricedBytes(strategy: number, handles: number, entries: number, cacheSize: number, batchSize: number): number;
  pricedInit(
    strategy: number, handles: number, core: number, driver: number, owner: number, frontend: number, flusher: number,
    intervalNs: number, guestBytes: number, cacheSize: number, batchSize: number, perCpu: number, cpus: number,
  ): number;
  pricedRun(n: number): number;
  pricedFinish(): void;
  pricedGauges(): number;
  pricedGridPtr(): number;
  pricedBuffer(h: number): number;
}

const imports = {
  env: {
    abort(_msg: number, _file: number, line: number, col: number): never {
      throw new Error(`iommu-sim core aborted at ${line}:${col}: this is a bug in iommu-sim, please report it`);
    },
  },
};

export class WasmIommu implements Iommu {
  /** The raw core (for the built-in workloads below). */
  get coreExports(): CoreExports {
    return this.core;
  }

  readonly batch: BatchArea;
  private readonly core: CoreExports;
  private scratchBytes: number;
  private counters!: BigUint64Array;
  private sg!: Uint32Array;
  private sgBase = 0;
  private ops!: Uint32Array;
  private results!: Int32Array;
  private readonly maxPhys: number;

  /** `scratchBytes`: room after the core's layout, or a function of the fresh core that says how much. */
  constructor(module: WebAssembly.Module, readonly config: ResolvedConfig, scratchBytes: number | ((core: CoreExports) => number) = 0) {
    this.core = new WebAssembly.Instance(module, imports).exports as unknown as CoreExports;
    if (typeof scratchBytes === "function") scratchBytes = scratchBytes(this.core);
    this.maxPhys = (config.maxPfn + 1) * IO_PAGE_SIZE - 1;
    this.scratchBytes = scratchBytes;
    this.reset();
    const core = this.core;
    const capacity = config.batchCapacity;
    const self = this;
    this.batch = {
      // views of memory that a larger scratch (reset) may have grown: read them after a reset
      get ops() {
        return self.ops;
      },
      get results() {
        return self.results;
      },
      capacity,
      run(count: number): void {
        if (!Number.isInteger(count) || count < 0 || count > capacity) {
          throw new ConfigError("count", count, `an integer from 0 to the batch capacity ${capacity}`);
        }
        core.runBatch(count);
      },
    };
  }

  /**
   * Back to the state of a fresh instance of the same configuration (table, allocator, cache,
   * counters), in the same memory: no new instance, no memory to grow. A sweep's workers price
   * thousands of configurations this way; creating an instance each time costs more than the run.
   */
  reset(scratchBytes?: number): void {
    if (scratchBytes !== undefined && scratchBytes > this.scratchBytes) this.scratchBytes = scratchBytes;
    const c = this.config;
    const sets = c.cacheEntries === 0 ? 1 : c.cacheEntries / c.cacheWays;
    const rc = this.core.init(
      c.format, c.allocator, FLUSH_POLICIES.indexOf(c.flushPolicy), c.entries, sets, c.cacheWays,
      c.maxHandles, c.batchCapacity, c.emptyWord, c.badFreeBelow, BigInt(c.coherentBasePfn), c.boundaryPages, c.cpus, this.scratchBytes,
      BigInt(c.maxPfn), c.maxCoherentOrder, c.vmerge ? 1 : 0, c.levels, INVALIDATIONS.indexOf(c.invalidation), c.invCaps,
    );
    if (rc !== 0) throw new ConfigError("tableSize", c.tableBytes, "a configuration whose memory the WebAssembly engine can grow to");
    for (const r of c.reserved) this.core.reserve(r.first, r.pages);
    if (this.counters?.buffer !== this.core.memory.buffer) this.views();
  }

  /** Typed-array views of the core's memory (again after the memory grew). */
  private views(): void {
    const buf = this.core.memory.buffer;
    this.counters = new BigUint64Array(buf, this.core.countersPtr(), COUNTER_NAMES.length);
    this.sgBase = this.core.sgPtr();
    this.sg = new Uint32Array(buf, this.sgBase, SG_MAX * 4);
    this.ops = new Uint32Array(buf, this.core.opsPtr(), this.config.batchCapacity * 4);
    this.results = new Int32Array(buf, this.core.resultsPtr(), this.config.batchCapacity);
  }

  // map_single / unmap_single are the per-call hot path: one combined range test, and the
  // precise checks (which build the error message) only when it fails.
  mapSingle(phys: number, bytes: number, dir: Direction = "bidirectional"): number | null {
    const d = DIRECTION_CODE[dir];
    if (!(Number.isInteger(phys) && Number.isInteger(bytes) && phys >= 0 && bytes >= 1 && bytes <= U32_MAX && phys + bytes - 1 <= this.maxPhys && d !== undefined)) {
      checkBuffer("phys", "bytes", phys, bytes, this.config);
      checkDirection(dir);
    }
    const off = phys % IO_PAGE_SIZE;
    const pfn = (phys - off) / IO_PAGE_SIZE;
    const e = this.core.mapSingle(pfn < 0x1_0000_0000 ? pfn : pfnLow(pfn), pfn < 0x1_0000_0000 ? 0 : pfnHigh(pfn), off, bytes, d);
    if (e === BAD_RECORD) throw new Error("iommu-sim core refused a checked mapping: this is a bug in iommu-sim, please report it");
    return e < 0 ? null : e * IO_PAGE_SIZE + off;
  }

  unmapSingle(dma: number, bytes: number): FreeResult {
    if (!(dma >= 0 && dma <= U32_MAX && bytes >= 1 && bytes <= U32_MAX && Number.isInteger(dma) && Number.isInteger(bytes))) {
      checkDma("dma", dma);
      checkBytes("bytes", bytes);
    }
    return FREE_RESULTS[this.core.unmapSingle(dma, bytes)];
  }

  unmapKeep(dma: number, bytes: number): FreeResult {
    return FREE_RESULTS[this.core.unmapKeep(checkDma("dma", dma), checkBytes("bytes", bytes))];
  }

  mapSg(segments: readonly SgSegment[], dir: Direction = "bidirectional"): number[] | null {
    checkRingOnly("map_sg", this.config);
    checkSgList("segments", segments);
    const d = checkDirection(dir);
    segments.forEach((s, k) => {
      checkBuffer(`segments[${k}].phys`, `segments[${k}].bytes`, s?.phys, s?.bytes, this.config);
      const [pfn, off] = splitPhys(s.phys);
      // word 1: offset in page | pfn bits 32..43 << 20 (assembly/dma.ts)
      this.sg.set([pfnLow(pfn), (off | (pfnHigh(pfn) << 20)) >>> 0, s.bytes, 0], k * 4);
    });
    if (this.core.mapSg(this.sgBase, segments.length, d) === 0) return null;
    const view = new Int32Array(this.sg.buffer, this.sg.byteOffset, segments.length * 4);
    return segments.map((_, k) => view[k * 4 + 3] * IO_PAGE_SIZE + (this.sg[k * 4 + 1] & (IO_PAGE_SIZE - 1)));
  }

  unmapSg(segments: readonly DmaSegment[]): FreeResult {
    checkSgList("segments", segments);
    segments.forEach((s, k) => {
      checkDma(`segments[${k}].dma`, s?.dma);
      checkBytes(`segments[${k}].bytes`, s?.bytes);
      this.sg.set([0, s.dma % IO_PAGE_SIZE, s.bytes, Math.floor(s.dma / IO_PAGE_SIZE)], k * 4);
    });
    return FREE_RESULTS[this.core.unmapSg(this.sgBase, segments.length)];
  }

  allocCoherent(bytes: number): CoherentBuffer | null {
    checkRingOnly("alloc_coherent", this.config);
    const e = this.core.allocCoherent(checkBytes("bytes", bytes));
    if (e < 0) return null;
    return { dma: e * IO_PAGE_SIZE, phys: this.core.coherentPfn() * IO_PAGE_SIZE };
  }

  freeCoherent(dma: number, bytes: number): FreeResult {
    return FREE_RESULTS[this.core.freeCoherent(checkDma("dma", dma), checkBytes("bytes", bytes))];
  }

  deviceAccess(dma: number, bytes: number, kind: "read" | "write"): AccessOutcome {
    checkDma("dma", dma);
    checkBytes("bytes", bytes);
    const write = checkAccessKind(kind);
    return ACCESS_OUTCOMES[this.core.deviceAccess(dma, bytes, write ? 1 : 0)];
  }

  /** One counter, without building the whole Stats: a probe a driver can afford every operation. */
  counter(name: CounterName): number {
    this.core.countersPtr(); // lays the counters (WASM globals) into the view
    return Number(this.counters[COUNTER_NAMES.indexOf(name)]);
  }

  stats(): Stats {
    this.core.countersPtr(); // lays the counters (WASM globals) into the view
    const s = {} as Stats;
    COUNTER_NAMES.forEach((name, i) => {
      s[name] = Number(this.counters[i]);
    });
    return s;
  }

  private checkIndex(index: number): number {
    if (!Number.isInteger(index) || index < 0 || index >= this.config.entries) {
      throw new ConfigError("index", index, `a table entry from 0 to ${this.config.entries - 1}`);
    }
    return index;
  }

  entryWord(index: number): bigint {
    return BigInt.asUintN(64, this.core.entryWord(this.checkIndex(index)));
  }

  entryRaw(index: number): bigint {
    return BigInt.asUintN(64, this.core.entryRaw(this.checkIndex(index)));
  }

  entryInUse(index: number): boolean {
    return this.core.entryInUse(this.checkIndex(index)) !== 0;
  }

  pageTableEntry(index: number, level: number): bigint {
    checkPageTableLevel(this.config, level);
    return BigInt.asUintN(64, this.core.pageTableEntry(this.checkIndex(index), level));
  }

  contextWord(index: number): bigint {
    return BigInt.asUintN(64, this.core.contextWord(checkContextWord(this.config, index)));
  }

  invalidateContextCache(): void {
    checkContextWord(this.config, 0);
    this.core.invalidateContextCache();
  }

  hint(): number {
    return this.core.hint() >>> 0;
  }

  cacheLines(): number {
    return this.core.cacheLines() >>> 0;
  }

  staleLines(): number {
    return this.core.staleLines() >>> 0;
  }

  setCpu(cpu: number): void {
    this.core.setCpu(checkCpu(cpu, this.config));
  }

  depotWork(): number {
    return this.core.depotWork() >>> 0;
  }

  flushQueueTimer(): boolean {
    return this.core.fqTimer() !== 0;
  }

  allocatorState(): AllocatorState {
    const k = this.core;
    return allocatorStateOf(this.config, {
      treeNodes: k.treeNodes() >>> 0, magazines: k.magazines() >>> 0, cachedPfns: k.cachedPfns() >>> 0,
      largestFreeRun: k.largestFreeRun() >>> 0,
    });
  }

  invalidationQueue(): InvalidationQueue | null {
    const k = this.core;
    const n = k.invQueueSlots() >>> 0;
    if (n === 0) return null;
    const words = new BigUint64Array(k.memory.buffer, k.invQueuePtr(), n * 2);
    return { tail: k.invTail() >>> 0, slots: Array.from({ length: n }, (_, i) => [words[2 * i], words[2 * i + 1]] as [bigint, bigint]) };
  }

  /** Red-black tree invariants of the IOVA allocators: 0 = sound (a test hook). */
  treeCheck(): number {
    return this.core.treeCheck();
  }
}

/** The built-in NIC-ring workload, run inside WASM: `run(steps)` does steps unmap + map pairs. */
export interface NicRing {
  readonly iommu: Iommu;
  /** Runs `steps` unmap+map pairs in one call; returns how many maps failed. */
  run(steps: number): number;
}

export function createNicRingWith(module: WebAssembly.Module, options: IommuOptions, ring = 256): NicRing {
  if (!Number.isInteger(ring) || ring < 1 || ring > SG_MAX * 4) throw new ConfigError("ring", ring, `an integer from 1 to ${SG_MAX * 4}`);
  const iommu = new WasmIommu(module, resolveConfig(options));
  const core = iommu.coreExports;
  core.ringInit(ring, 0x10000);
  return {
    iommu,
    run(steps: number): number {
      if (!Number.isInteger(steps) || steps < 0 || steps > 2 ** 31) throw new ConfigError("steps", steps, "an integer from 0 to 2^31");
      return core.ringRun(steps) >>> 0;
    },
  };
}

/** An IOMMU on the WASM core, from an already compiled module (browser or Node). */
export function createIommuWith(module: WebAssembly.Module, options: IommuOptions): Iommu {
  return new WasmIommu(module, resolveConfig(options));
}
