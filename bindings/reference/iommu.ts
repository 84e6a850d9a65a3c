// Reference model of the IOMMU and its Linux driver, in plain TypeScript, written to be read
// against ../shared/reference/linux-semantics.md rather than to be fast. The WASM core is held
// to it event for event by the differential tests.

import {
  ACCESS_OUTCOMES, ALLOC_BEST_FIT, ALLOC_CALGARY, ALLOC_FIRST_FIT, ALLOC_FREE_LIST, ALLOC_IOVA, ALLOC_IOVA_TREE, ALLOC_PPC2007, ALLOC_RING, isIova, BAD_RECORD, FREE_LIST_CLASSES, FREE_LIST_DEPTH, COUNTER_NAMES, FORMAT_DART, FORMAT_RIOMMU, FREE_RESULTS,
  IO_PAGE_SIZE, NO_ENTRY, OP, SG_MAX, type AccessOutcome, type CounterName,
  type Direction, type FreeResult, type Stats,
} from "../abi.js";
import { checkContextWord, checkPageTableLevel, resolveConfig, type IommuOptions, type ResolvedConfig } from "../config.js";
import { ConfigError } from "../errors.js";
import {
  allocatorStateOf, checkAccessKind, checkBuffer, checkRingOnly, checkBytes, checkCpu, checkDirection, checkDma, checkSgList, splitPhys,
} from "../inputs.js";
import type { AllocatorState, BatchArea, CoherentBuffer, DmaSegment, InvalidationQueue, Iommu, SgSegment } from "../types.js";
import { ReferenceBitmap } from "./bitmap.js";
import { ReferenceCache } from "./cache.js";
import { ReferenceInvalidation } from "./invalidation.js";
import { ReferenceIova } from "./iova.js";
import { LARGE_TAG, ReferencePageTable } from "./pgtable.js";

const PAGE = IO_PAGE_SIZE;
const TO_DEVICE = 1;
const BIDIRECTIONAL = 0;
const FROM_DEVICE = 2;

/** num_dma_pages / iommu_num_pages. */
const pagesSpanned = (addr: number, len: number) => Math.ceil(((addr % PAGE) + len) / PAGE);

/** A record's physical page number: w2 | w0 bits 20..31 << 32 (assembly/batch.ts recordPfn). */
const recordPfn = (ops: Uint32Array, r: number) => (ops[r] >>> 20) * 2 ** 32 + ops[r + 2];

interface Handle {
  entry: number;
  offset: number;
  bytes: number;
  live: boolean;
}

interface SgElement {
  pfn: number;
  offset: number;
  bytes: number;
  entry: number;
}

export class ReferenceIommu implements Iommu {
  readonly batch: BatchArea;
  private readonly map: ReferenceBitmap;
  private readonly table: bigint[];
  /** The multi-level page table of vtd, amd-vi, smmuv3 (null: the flat table above). */
  private readonly pt: ReferencePageTable | null;
  private readonly cache: ReferenceCache;
  private readonly n: Record<CounterName, number>;
  private hintSmall = 0;
  private hintLarge: number;
  private readonly halfpoint: number;
  private dartDirty = false;
  /** end-of-burst: an unmap happened since the last invalidation. */
  private burst = false;
  private physNext: number;
  private readonly handles: Handle[] = [];
  private readonly iova: ReferenceIova | null;
  /** The queued invalidation interface (VT-d, AMD-Vi, SMMUv3), or null (Calgary, DART). */
  private readonly inv: ReferenceInvalidation | null;

  constructor(readonly config: ResolvedConfig) {
    this.map = new ReferenceBitmap(config.entries);
    this.pt = config.levels ? new ReferencePageTable(config.format, config.levels) : null;
    this.table = this.pt ? [] : new Array<bigint>(config.entries).fill(config.emptyWord);
    this.cache = new ReferenceCache(config.cacheEntries, config.cacheWays, this.pt);
    this.n = Object.fromEntries(COUNTER_NAMES.map((k) => [k, 0])) as Record<CounterName, number>;
    this.halfpoint = Math.floor(config.entries / 4) * 3;
    this.hintLarge = this.halfpoint;
    this.physNext = config.coherentBasePfn;
    this.iova = isIova(config.allocator) ? new ReferenceIova(config.allocator === ALLOC_IOVA, config.cpus) : null;
    this.inv = config.invalidation === "none" ? null : new ReferenceInvalidation(config.invalidation, config.invCaps, this.cache, this.n);
    for (const r of config.reserved) {
      if (r.first >= config.entries) continue;
      const n = Math.min(r.pages, config.entries - r.first);
      if (this.iova) {
        // reserve_iova over each part not reserved already
        const end = r.first + n;
        const words = this.map.wordsScanned;
        for (let at = this.map.findZero(r.first, end); at < end;) {
          const busy = this.map.findSet(at, end);
          this.iova.reserve(at, busy - 1);
          at = this.map.findZero(busy, end);
        }
        this.map.wordsScanned = words;
      }
      this.map.set(r.first, n);
    }
    const ops = new Uint32Array(config.batchCapacity * 4);
    const results = new Int32Array(config.batchCapacity);
    this.batch = { ops, results, capacity: config.batchCapacity, run: (count) => this.runBatch(ops, results, count) };
  }

  // ── hardware formats ────────────────────────────────────────────────────────────────────

  private encode(pfn: number, dir: number): bigint {
    if (this.config.format === FORMAT_RIOMMU) {
      // the model's rPTE: page number in bits 12..51 | direction << 1 | valid (assembly/riommu/ring.ts)
      return ((BigInt(pfn) << 12n) & 0x000ffffffffff000n) | (BigInt(dir) << 1n) | 1n;
    }
    if (this.config.format !== FORMAT_DART) {
      // value = page-aligned physical address | W (unless to-device) | R
      return (BigInt(pfn) << 12n) | (dir === TO_DEVICE ? 0n : 2n) | 1n;
    }
    return BigInt((0x80000000 | (pfn & 0xffffff)) >>> 0);
  }

  /** tce_build / dart_build, or iommu_map on a page table. */
  private build(first: number, npages: number, pfn: number, dir: number): void {
    if (this.pt) this.pt.map(first, npages, pfn, dir);
    else for (let i = 0; i < npages; i++) this.table[first + i] = this.encode(pfn + i, dir);
  }

  /** tce_free / dart_free, or iommu_unmap on a page table. */
  private clearEntries(first: number, npages: number): void {
    if (this.pt) this.pt.unmap(first, npages);
    else for (let i = 0; i < npages; i++) this.table[first + i] = this.config.emptyWord;
  }

  /** The word translating `page` now (a page table's leaf covering it). */
  private wordOf(page: number): bigint {
    return this.pt ? this.pt.leafWord(page) : this.table[page];
  }

  private permits(word: bigint, write: boolean): boolean {
    if (this.pt) return this.pt.permits(word, write);
    if (this.config.format === FORMAT_RIOMMU) {
      if ((word & 1n) === 0n) return false;
      const dir = Number((word >> 1n) & 3n);
      return write ? dir !== TO_DEVICE : dir !== FROM_DEVICE;
    }
    if (this.config.format !== FORMAT_DART) return (word & (write ? 2n : 1n)) !== 0n;
    return (word & 0x80000000n) !== 0n && word !== this.config.emptyWord;
  }

  // ── flush rules ─────────────────────────────────────────────────────────────────────────

  private flushAll(): void {
    this.n.flushes++;
    this.burst = false;
    if (this.inv) this.inv.flushDomain();
    else this.cache.invalidateAll();
  }

  /** iommu_map's iotlb_sync_map at the end of a call that mapped. */
  private afterMap(): void {
    this.inv?.afterMap();
  }

  private afterBuild(first: number, npages: number): void {
    if (this.config.flushPolicy === "one-per-page") {
      // on a queued interface (a what-if): a page-selective invalidation and its wait per page
      for (let p = first; p < first + npages; p++) {
        if (this.inv) this.inv.flushRange(BigInt(p), 1n);
        else this.cache.invalidate(p);
      }
      this.n.entryInvalidations += npages;
    } else if (this.config.flushPolicy === "all-after-map") {
      this.dartDirty = true;
    } else if (this.config.flushPolicy === "end-of-burst" && this.burst) {
      // rIOMMU: the first build after unmaps ends the burst, before the driver gets the address
      this.flushAll();
    }
  }

  private callEnd(unmapped: boolean): void {
    if (this.config.flushPolicy === "all-after-map") {
      if (this.dartDirty) {
        this.dartDirty = false;
        this.flushAll();
      }
    } else if (this.config.flushPolicy === "strict" && unmapped) {
      // on a queued interface: the range this call gathered, one invalidation and one wait
      if (this.inv) this.inv.sync();
      else this.flushAll();
    } else if (this.config.flushPolicy === "end-of-burst" && unmapped) {
      this.burst = true;
    }
  }

  /** rIOMMU's rRING: the tail, or position 0 when the tail has no room before the end; busy fails (no search). */
  private ringRangeAlloc(npages: number): number {
    let n = this.hintSmall;
    if (n + npages > this.config.entries) {
      this.n.wraps++;
      if (this.config.flushPolicy === "on-wrap" || this.config.flushPolicy === "strict") this.flushAll();
      n = 0;
    }
    if (this.map.findSet(n, n + npages) < n + npages) return NO_ENTRY;
    this.hintSmall = n + npages === this.config.entries ? 0 : n + npages;
    return n;
  }

  // ── allocators ──────────────────────────────────────────────────────────────────────────

  /** iommu_area_alloc / find_next_zero_string: first fit at or after start; end ≥ size fails. */
  private areaAlloc(start: number, npages: number, alignMask: number): number {
    const size = this.config.entries;
    for (;;) {
      let index = this.map.findZero(start, size);
      if (index >= size) return NO_ENTRY;
      index = Math.ceil(index / (alignMask + 1)) * (alignMask + 1);
      const end = index + npages;
      if (end >= size) return NO_ENTRY;
      const busy = this.map.findSet(index, end);
      if (busy < end) {
        start = busy + 1;
        continue;
      }
      const b = this.config.boundaryPages;
      if (b !== 0 && (index % b) + npages > b) {
        start = index + 1;
        continue;
      }
      return index;
    }
  }

  /** pci-calgary iommu_range_alloc: from the hint; on failure blast the cache and retry from 0. */
  private calgaryRangeAlloc(npages: number, alignMask: number): number {
    let offset = this.areaAlloc(this.hintSmall, npages, alignMask);
    if (offset === NO_ENTRY) {
      this.n.wraps++;
      if (this.config.flushPolicy === "on-wrap" || this.config.flushPolicy === "strict") this.flushAll();
      offset = this.areaAlloc(0, npages, alignMask);
      if (offset === NO_ENTRY) return NO_ENTRY;
    }
    this.hintSmall = offset + npages;
    return offset;
  }

  /** powerpc iommu_range_alloc (2.6.18): small/large halves, three passes. */
  private ppcRangeAlloc(npages: number, alignMask: number, handle: number): number {
    const size = this.config.entries;
    const large = npages > 15;
    let start = handle !== 0 ? handle : large ? this.hintLarge : this.hintSmall;
    let limit = large ? size : this.halfpoint;
    if (large && start < this.halfpoint) start = this.halfpoint;
    if (start >= limit) start = this.hintSmall;
    let pass = 0;
    for (;;) {
      let n = this.map.findZero(start, limit);
      n = Math.ceil(n / (alignMask + 1)) * (alignMask + 1);
      const end = n + npages;
      if (end >= limit) {
        if (pass >= 2) return NO_ENTRY;
        // pass 1: the own half from its start; pass 2: the other half (small) or everything (large)
        start = (large ? 1 : 0) ^ pass ? this.halfpoint : 0;
        if (pass !== 0) limit = size;
        pass++;
        this.n.wraps++;
        continue;
      }
      const busy = this.map.findSet(n, end);
      if (busy < end) {
        start = busy + 1;
        continue;
      }
      if (large) this.hintLarge = end;
      else this.hintSmall = end;
      return n;
    }
  }

  /** Best fit: the smallest free run holding the aligned request, lowest on ties. */
  private bestFitRangeAlloc(npages: number, alignMask: number): number {
    const size = this.config.entries;
    const b = this.config.boundaryPages;
    const align = (x: number) => Math.ceil(x / (alignMask + 1)) * (alignMask + 1);
    const crosses = (x: number) => b !== 0 && (x % b) + npages > b;
    let best = NO_ENTRY;
    let bestRun = Infinity;
    for (let at = this.map.findZero(0, size); at < size; at = this.map.findZero(at, size)) {
      const end = this.map.findSet(at, size);
      const run = end - at;
      if (run >= npages && run < bestRun) {
        let n = align(at);
        if (crosses(n)) n = align((Math.floor(n / b) + 1) * b);
        if (n + npages <= end && !crosses(n)) {
          best = n;
          bestRun = run;
          if (run === npages) break;
        }
      }
      at = end;
    }
    return best;
  }

  /** Per-size LIFO of freed ranges (1 … 64 pages); a popped range must still be free. */
  private readonly freeLists: number[][] = Array.from({ length: FREE_LIST_CLASSES }, () => []);

  private freeListAlloc(npages: number, alignMask: number): number {
    if (npages <= FREE_LIST_CLASSES && alignMask === 0) {
      const list = this.freeLists[npages - 1];
      while (list.length > 0) {
        const e = list.pop()!;
        if (this.map.findSet(e, e + npages) === e + npages) return e;
      }
    }
    return this.calgaryRangeAlloc(npages, alignMask);
  }

  /** The configured allocator: first entry of a free run (bits not yet set) or NO_ENTRY. */
  private rangeAlloc(npages: number, alignMask: number, handle: number): number {
    // a request no state of the map could hold fails before any search (assembly/allocator.ts neverFits)
    const b = this.config.boundaryPages;
    if (!isIova(this.config.allocator) && (npages >= this.config.entries || (b !== 0 && this.config.allocator !== ALLOC_PPC2007 && npages > b))) {
      return NO_ENTRY;
    }
    switch (this.config.allocator) {
      case ALLOC_CALGARY: return this.calgaryRangeAlloc(npages, alignMask);
      case ALLOC_PPC2007: return this.ppcRangeAlloc(npages, alignMask, handle);
      case ALLOC_FIRST_FIT: return this.areaAlloc(0, npages, alignMask);
      case ALLOC_FREE_LIST: return this.freeListAlloc(npages, alignMask);
      case ALLOC_IOVA:
      case ALLOC_IOVA_TREE: return this.iova!.alloc(npages, this.config.entries);
      case ALLOC_BEST_FIT: return this.bestFitRangeAlloc(npages, alignMask);
      case ALLOC_RING: return this.ringRangeAlloc(npages);
      default: return NO_ENTRY;
    }
  }

  private mapPages(pfn: number, npages: number, dir: number, alignMask: number, handle: number): number {
    if (npages === 0) return NO_ENTRY;
    const e = this.rangeAlloc(npages, alignMask, handle);
    if (e === NO_ENTRY) return NO_ENTRY;
    this.map.set(e, npages);
    this.n.pagesInUse += npages;
    this.n.rangesAllocated++;
    this.n.peakPagesInUse = Math.max(this.n.peakPagesInUse, this.n.pagesInUse);
    this.build(e, npages, pfn, dir);
    this.n.tceWrites += npages;
    this.afterBuild(e, npages);
    this.n.pagesMapped += npages;
    return e;
  }

  private releasePages(first: number, npages: number): number {
    this.clearEntries(first, npages);
    this.n.tceWrites += npages;
    const was = this.map.clear(first, npages);
    this.n.pagesInUse -= was;
    this.noteFreed(first, npages, was);
    return was;
  }

  private noteFreed(first: number, npages: number, was: number): void {
    if (was !== npages) return;
    if (this.iova) {
      this.iova.free(first, npages);
    } else if (this.config.allocator === ALLOC_FREE_LIST && npages <= FREE_LIST_CLASSES) {
      const list = this.freeLists[npages - 1];
      if (list.length < FREE_LIST_DEPTH) list.push(first);
    }
  }

  // ── lazy invalidation: the dma-iommu flush queue (per CPU, 256 slots, 255 usable) ──────

  private cpu = 0;
  private readonly queues: Array<Array<{ first: number; pages: number; counter: number }>> = [];
  private fqStart = 0;
  private fqFinish = 0;
  private fqArmed = false;

  private fqFlush(): void {
    this.fqStart++;
    this.flushAll();
    this.fqFinish++;
  }

  private fqRingFree(q: Array<{ first: number; pages: number; counter: number }>): void {
    while (q.length > 0 && q[0].counter < this.fqFinish) {
      const { first, pages } = q.shift()!;
      this.n.pagesQueued -= pages;
      if (this.releaseBitsOnly(first, pages) !== pages) this.n.doubleFrees++;
    }
  }

  private fqAdd(first: number, pages: number): void {
    const q = (this.queues[this.cpu] ??= []);
    this.fqRingFree(q);
    if (q.length === 255) {
      this.fqFlush();
      this.fqRingFree(q);
    }
    q.push({ first, pages, counter: this.fqStart });
    this.n.pagesQueued += pages;
    this.fqArmed = true;
  }

  flushQueueTimer(): boolean {
    if (this.config.flushPolicy !== "flush-queue" || !this.fqArmed) return false;
    this.fqArmed = false;
    this.fqFlush();
    for (const q of this.queues) if (q) this.fqRingFree(q);
    return true;
  }

  private releaseBitsOnly(first: number, npages: number): number {
    const was = this.map.clear(first, npages);
    this.n.pagesInUse -= was;
    this.noteFreed(first, npages, was);
    return was;
  }

  /** iommu_free with its checks; returns a FREE_RESULTS index. `keep`: leave the entries valid. */
  private freeAt(dma: number, npages: number, keep = false): number {
    const first = Math.floor(dma / PAGE);
    if (dma < this.config.badFreeBelow || first + npages > this.config.entries) {
      this.n.badFrees++;
      return 1;
    }
    if (this.config.flushPolicy === "flush-queue" && !keep) {
      this.clearEntries(first, npages);
      this.n.tceWrites += npages;
      this.fqAdd(first, npages);
      this.n.pagesUnmapped += npages;
      return 0;
    }
    const tablesFreed = this.pt?.n.ptTablesFreed ?? 0;
    const was = keep ? this.releaseBitsOnly(first, npages) : this.releasePages(first, npages);
    if (!keep && this.inv && this.config.flushPolicy === "strict") this.inv.gatherAdd(first, npages, (this.pt?.n.ptTablesFreed ?? 0) !== tablesFreed);
    this.n.pagesUnmapped += npages;
    if (was !== npages) {
      this.n.doubleFrees++;
      return 2;
    }
    return 0;
  }

  /** What an entry can hold: at least a byte, and the buffer's last page ≤ maxPfn. */
  private fits(pfn: number, offset: number, bytes: number): boolean {
    return bytes !== 0 && pfn + pagesSpanned(offset, bytes) - 1 <= this.config.maxPfn;
  }

  // ── the DMA API, on numbers (shared by the public methods and the batch) ─────────────────

  private mapSingleRaw(pfn: number, offset: number, bytes: number, dir: number): number {
    const e = this.mapPages(pfn, pagesSpanned(offset, bytes), dir, 0, 0);
    if (e === NO_ENTRY) {
      this.n.mapFailures++;
      return NO_ENTRY;
    }
    this.n.maps++;
    this.afterMap();
    this.callEnd(false);
    return e;
  }

  private unmapSingleRaw(dma: number, bytes: number): number {
    this.n.unmaps++;
    const r = this.freeAt(dma, pagesSpanned(dma, bytes));
    this.callEnd(r !== 1);
    return r;
  }

  /** map_sg as the allocator's driver does it: dma-iommu's one range for the iova allocators. */
  private mapSgRaw(list: SgElement[], dir: number): number {
    return this.iova ? this.mapSgIova(list, dir) : this.mapSgEach(list, dir);
  }

  private unmapSgRaw(list: SgElement[]): number {
    return this.iova ? this.unmapSgIova(list) : this.unmapSgEach(list);
  }

  /**
   * iommu_dma_map_sg: lengths padded to whole pages, the previous element padded up to the
   * segment boundary when this one would cross it, one IOVA allocation for the sum.
   */
  private mapSgIova(list: SgElement[], dir: number): number {
    const boundary = this.config.boundaryPages || 2 ** 20; // dma_get_seg_boundary default 0xffffffff
    let total = 0;
    const at = list.map((el) => {
      const npages = pagesSpanned(el.offset, el.bytes);
      const pad = (boundary - (total % boundary)) % boundary;
      if (pad !== 0 && pad < npages) total += pad;
      const start = total;
      total += npages;
      return start;
    });
    const e = total < this.config.entries ? this.rangeAlloc(total, 0, 0) : NO_ENTRY;
    if (e === NO_ENTRY) {
      for (const x of list) x.entry = NO_ENTRY;
      this.n.mapFailures++;
      return 0;
    }
    this.map.set(e, total);
    this.n.pagesInUse += total;
    this.n.rangesAllocated++;
    this.n.peakPagesInUse = Math.max(this.n.peakPagesInUse, this.n.pagesInUse);
    // iommu_map_sg: elements continuing the previous one in IO space and physical memory share one iommu_map
    const runs: Array<{ first: number; pfn: number; pages: number }> = [];
    list.forEach((el, i) => {
      const first = e + at[i];
      const npages = pagesSpanned(el.offset, el.bytes);
      const run = runs.at(-1);
      if (run && first === run.first + run.pages && el.pfn === run.pfn + run.pages) run.pages += npages;
      else runs.push({ first, pfn: el.pfn, pages: npages });
      el.entry = first;
    });
    for (const run of runs) {
      this.build(run.first, run.pages, run.pfn, dir);
      this.n.tceWrites += run.pages;
      this.afterBuild(run.first, run.pages);
      this.n.pagesMapped += run.pages;
    }
    this.n.mapSgs++;
    this.afterMap();
    this.callEnd(false);
    return list.length;
  }

  /** iommu_dma_unmap_sg: first element's address to the end of the last mapped one, one range. */
  private unmapSgIova(list: SgElement[]): number {
    this.n.unmapSgs++;
    if (list.length === 0 || list[0].entry < 0) {
      this.callEnd(false);
      return 0;
    }
    let last = 0;
    while (last + 1 < list.length && list[last + 1].entry >= 0) last++;
    const start = list[0].entry * PAGE + (list[0].offset % PAGE);
    const end = list[last].entry * PAGE + (list[last].offset % PAGE) + list[last].bytes;
    const npages = end > start ? Math.ceil(end / PAGE) - Math.floor(start / PAGE) : 2 ** 32 - 1;
    const r = this.freeAt(start >>> 0, npages);
    this.callEnd(r !== 1);
    return r;
  }

  /** map_sg of the 2007 kernels: one range per element, PowerPC chaining its hint. */
  private mapSgEach(list: SgElement[], dir: number): number {
    let handle = 0;
    let pages = 0;
    for (let i = 0; i < list.length; i++) {
      const el = list[i];
      const npages = pagesSpanned(el.offset, el.bytes);
      const e = this.mapPages(el.pfn, npages, dir, 0, this.config.allocator === ALLOC_PPC2007 ? handle : 0);
      if (e === NO_ENTRY) {
        this.n.pagesMapped -= pages;
        for (const done of list.slice(0, i)) this.releasePages(done.entry, pagesSpanned(done.offset, done.bytes));
        for (const x of list) x.entry = NO_ENTRY;
        this.n.mapFailures++;
        return 0;
      }
      el.entry = e;
      handle = e + npages;
      pages += npages;
    }
    this.n.mapSgs++;
    this.afterMap();
    this.callEnd(false);
    if (!this.config.vmerge) return list.length;
    // ppc_iommu_map_sg's virtual merging: a new DMA segment wherever dma_addr ≠ dma_next
    let segments = 1;
    for (let i = 1; i < list.length; i++) {
      const prev = list[i - 1];
      if (list[i].entry * PAGE + list[i].offset !== prev.entry * PAGE + prev.offset + prev.bytes) segments++;
    }
    return segments;
  }

  private unmapSgEach(list: SgElement[]): number {
    this.n.unmapSgs++;
    let worst = 0;
    let freed = false;
    for (const el of list) {
      if (el.entry < 0) break;
      const dma = el.entry * PAGE + (el.offset % PAGE);
      const r = this.freeAt(dma, pagesSpanned(dma, el.bytes));
      if (r !== 1) freed = true;
      worst = Math.max(worst, r);
    }
    this.callEnd(freed);
    return worst;
  }

  private allocCoherentRaw(bytes: number): [entry: number, pfn: number] {
    const pages = Math.ceil(bytes / PAGE);
    let order = 0;
    while (2 ** order < pages) order++;
    if (order > this.config.maxCoherentOrder) {
      this.n.mapFailures++;
      return [NO_ENTRY, 0];
    }
    const block = 2 ** order;
    const pfn = Math.ceil(this.physNext / block) * block;
    if (pfn + block - 1 > this.config.maxPfn) {
      // no such physical memory (an entry could not hold it): dma_alloc_coherent → NULL
      this.n.mapFailures++;
      return [NO_ENTRY, 0];
    }
    const alignMask = this.config.allocator === ALLOC_PPC2007 ? block - 1 : 0;
    const e = this.mapPages(pfn, pages, BIDIRECTIONAL, alignMask, 0);
    if (e === NO_ENTRY) {
      this.n.mapFailures++;
      return [NO_ENTRY, 0];
    }
    this.physNext = pfn + block;
    this.n.allocs++;
    this.afterMap();
    this.callEnd(false);
    return [e, pfn];
  }

  private freeCoherentRaw(dma: number, bytes: number): number {
    this.n.frees++;
    const r = this.freeAt(dma, Math.ceil(bytes / PAGE));
    this.callEnd(r !== 1);
    return r;
  }

  private translate(page: number, write: boolean): number {
    if (page >= this.config.entries) {
      this.n.faults++;
      return 3;
    }
    if (this.pt) return this.translatePaged(page, write, this.pt);
    const now = this.table[page];
    const line = this.cache.enabled ? this.cache.lookup(page) : undefined;
    if (line) {
      if (!this.permits(line.word, write)) {
        this.n.faults++;
        return 3;
      }
      if (line.word !== now) {
        this.n.staleHits++;
        return 2;
      }
      this.n.hits++;
      return 0;
    }
    if (!this.permits(now, write)) {
      this.n.faults++;
      return 3;
    }
    if (this.cache.enabled) {
      this.cache.insert(page, now);
      // rIOMMU: the rIOTLB reads the next rPTE along (assembly/dma.ts prefetchNext)
      const next = page + 1 < this.config.entries ? this.table[page + 1] : 0n;
      if (this.config.format === FORMAT_RIOMMU && next !== 0n) {
        this.cache.insert(page + 1, next);
        this.n.rptePrefetches++;
      }
    }
    this.n.misses++;
    return 1;
  }

  /** assembly/pgtable/iotlb.ts: the page's line, then its region's 2 MiB line; a miss walks. */
  private translatePaged(page: number, write: boolean, pt: ReferencePageTable): number {
    if (this.cache.enabled) {
      let tag = page;
      let line = this.cache.lookup(tag);
      if (!line && pt.largeEver) {
        tag = LARGE_TAG + Math.floor(page / 512);
        line = this.cache.lookup(tag);
      }
      if (line) {
        if (!pt.permits(line.word, write)) {
          this.n.faults++;
          return 3;
        }
        if (line.word !== pt.lineWord(tag)) {
          this.n.staleHits++;
          return 2;
        }
        this.n.hits++;
        return 0;
      }
    }
    const [leaf, large] = pt.walk(page);
    if (!pt.permits(leaf, write)) {
      this.n.faults++;
      return 3;
    }
    if (this.cache.enabled) this.cache.insert(large ? LARGE_TAG + Math.floor(page / 512) : page, leaf);
    this.n.misses++;
    return 1;
  }

  private accessRaw(dma: number, bytes: number, write: boolean): number {
    const first = Math.floor(dma / PAGE);
    const pages = pagesSpanned(dma, bytes);
    this.n.accesses += pages;
    let worst = 0;
    for (let i = 0; i < pages; i++) worst = Math.max(worst, this.translate(first + i, write));
    return worst;
  }

  // ── public API ──────────────────────────────────────────────────────────────────────────

  mapSingle(phys: number, bytes: number, dir: Direction = "bidirectional"): number | null {
    checkBuffer("phys", "bytes", phys, bytes, this.config);
    const [pfn, off] = splitPhys(phys);
    const e = this.mapSingleRaw(pfn, off, bytes, checkDirection(dir));
    return e === NO_ENTRY ? null : e * PAGE + off;
  }

  unmapSingle(dma: number, bytes: number): FreeResult {
    return FREE_RESULTS[this.unmapSingleRaw(checkDma("dma", dma), checkBytes("bytes", bytes))];
  }

  unmapKeep(dma: number, bytes: number): FreeResult {
    checkDma("dma", dma);
    checkBytes("bytes", bytes);
    this.n.unmaps++;
    return FREE_RESULTS[this.freeAt(dma, pagesSpanned(dma, bytes), true)];
  }

  mapSg(segments: readonly SgSegment[], dir: Direction = "bidirectional"): number[] | null {
    checkRingOnly("map_sg", this.config);
    checkSgList("segments", segments);
    const d = checkDirection(dir);
    const list = segments.map((s, k) => {
      checkBuffer(`segments[${k}].phys`, `segments[${k}].bytes`, s?.phys, s?.bytes, this.config);
      const [pfn, offset] = splitPhys(s.phys);
      return { pfn, offset, bytes: s.bytes, entry: NO_ENTRY };
    });
    if (this.mapSgRaw(list, d) === 0) return null;
    return list.map((el) => el.entry * PAGE + el.offset);
  }

  unmapSg(segments: readonly DmaSegment[]): FreeResult {
    checkSgList("segments", segments);
    const list = segments.map((s, k) => {
      checkDma(`segments[${k}].dma`, s?.dma);
      checkBytes(`segments[${k}].bytes`, s?.bytes);
      return { pfn: 0, offset: s.dma % PAGE, bytes: s.bytes, entry: Math.floor(s.dma / PAGE) };
    });
    return FREE_RESULTS[this.unmapSgRaw(list)];
  }

  allocCoherent(bytes: number): CoherentBuffer | null {
    checkRingOnly("alloc_coherent", this.config);
    const [e, pfn] = this.allocCoherentRaw(checkBytes("bytes", bytes));
    return e === NO_ENTRY ? null : { dma: e * PAGE, phys: pfn * PAGE };
  }

  freeCoherent(dma: number, bytes: number): FreeResult {
    return FREE_RESULTS[this.freeCoherentRaw(checkDma("dma", dma), checkBytes("bytes", bytes))];
  }

  deviceAccess(dma: number, bytes: number, kind: "read" | "write"): AccessOutcome {
    checkDma("dma", dma);
    checkBytes("bytes", bytes);
    return ACCESS_OUTCOMES[this.accessRaw(dma, bytes, checkAccessKind(kind))];
  }

  stats(): Stats {
    return {
      ...this.n, wordsScanned: this.map.wordsScanned, cacheEvictions: this.cache.evictions,
      rcacheHits: this.iova?.rcacheHits ?? 0,
      ...(this.pt?.n ?? {}),
      ...(this.pt?.context.n ?? {}),
    };
  }

  setCpu(cpu: number): void {
    this.cpu = checkCpu(cpu, this.config);
    this.iova?.setCpu(cpu);
  }

  depotWork(): number {
    return this.iova?.depotWork() ?? 0;
  }

  invalidationQueue(): InvalidationQueue | null {
    return this.inv?.view() ?? null;
  }

  allocatorState(): AllocatorState {
    const e = this.config.entries;
    if (!this.iova) {
      let best = 0;
      const words = this.map.wordsScanned;
      for (let at = this.map.findZero(0, e); at < e;) {
        const busy = this.map.findSet(at, e);
        best = Math.max(best, busy - at);
        at = this.map.findZero(busy, e);
      }
      this.map.wordsScanned = words;
      return allocatorStateOf(this.config, { treeNodes: 0, magazines: 0, cachedPfns: 0, largestFreeRun: best });
    }
    return allocatorStateOf(this.config, {
      treeNodes: this.iova.treeNodes, magazines: this.iova.magazines, cachedPfns: this.iova.cachedPfns,
      largestFreeRun: this.iova.largestGap(e),
    });
  }

  private checkIndex(index: number): number {
    if (!Number.isInteger(index) || index < 0 || index >= this.config.entries) {
      throw new ConfigError("index", index, `a table entry from 0 to ${this.config.entries - 1}`);
    }
    return index;
  }

  entryWord(index: number): bigint {
    return this.wordOf(this.checkIndex(index));
  }

  pageTableEntry(index: number, level: number): bigint {
    checkPageTableLevel(this.config, level);
    return this.pt!.entryAt(this.checkIndex(index), level);
  }

  contextWord(index: number): bigint {
    const i = checkContextWord(this.config, index);
    return this.pt!.context.word(i);
  }

  invalidateContextCache(): void {
    checkContextWord(this.config, 0);
    this.pt!.context.invalidate();
  }

  entryRaw(index: number): bigint {
    if (this.pt) return this.pt.leafWord(this.checkIndex(index)); // little-endian: stored = read
    // The hardware reads big-endian: byte 0 in memory is the most significant byte (the model's rPTEs: little-endian).
    const word = this.table[this.checkIndex(index)];
    if (this.config.format === FORMAT_RIOMMU) return word;
    const bytes = this.config.format === FORMAT_DART ? 4 : 8;
    let raw = 0n;
    for (let b = 0; b < bytes; b++) raw |= ((word >> BigInt(8 * (bytes - 1 - b))) & 0xffn) << BigInt(8 * b);
    return raw;
  }

  entryInUse(index: number): boolean {
    return this.map.used[this.checkIndex(index)] === 1;
  }

  hint(): number {
    return this.hintSmall;
  }

  cacheLines(): number {
    return this.cache.occupancy();
  }

  staleLines(): number {
    return this.cache.lines().filter((l) => l.word !== (this.pt ? this.pt.lineWord(l.page) : this.table[l.page])).length;
  }

  // ── batches: the same record format as the core ─────────────────────────────────────────

  private handle(h: number): Handle {
    return (this.handles[h] ??= { entry: 0, offset: 0, bytes: 0, live: false });
  }

  private runBatch(ops: Uint32Array, results: Int32Array, count: number): void {
    if (!Number.isInteger(count) || count < 0 || count > this.config.batchCapacity) {
      throw new ConfigError("count", count, `an integer from 0 to the batch capacity ${this.config.batchCapacity}`);
    }
    let i = 0;
    while (i < count) {
      const w0 = ops[i * 4];
      const h = ops[i * 4 + 1];
      const w2 = ops[i * 4 + 2];
      const w3 = ops[i * 4 + 3];
      const op = w0 & 15;
      const arg = (w0 >>> 4) & 15;
      const off = (w0 >>> 8) & (PAGE - 1);
      const span = op === OP.mapSg || op === OP.unmapSg ? w2 : 1;
      const isSg = op === OP.mapSg || op === OP.unmapSg;
      if (h + span > this.config.maxHandles || span > SG_MAX || (isSg && span === 0) || (op === OP.mapSg && i + 1 + span > count)) {
        results[i++] = BAD_RECORD;
        continue;
      }
      const keep = (k: number, entry: number, offset: number, bytes: number) => {
        Object.assign(this.handle(k), { entry, offset, bytes, live: entry >= 0 });
      };
      const unmapHandle = (coherent: boolean): number => {
        const x = this.handle(h);
        if (!x.live) return 3;
        x.live = false;
        const dma = (x.entry * PAGE + x.offset) >>> 0;
        return coherent ? this.freeCoherentRaw(dma, x.bytes) : this.unmapSingleRaw(dma, x.bytes);
      };
      let res = 0;
      switch (op) {
        case OP.map: {
          const pfn = recordPfn(ops, i * 4);
          if (arg > 2 || !this.fits(pfn, off, w3)) {
            res = BAD_RECORD;
            break;
          }
          res = this.mapSingleRaw(pfn, off, w3, arg);
          keep(h, res, off, w3);
          break;
        }
        case OP.unmap:
          res = unmapHandle(false);
          break;
        case OP.alloc:
          if (w3 === 0 || this.config.format === FORMAT_RIOMMU) {
            res = BAD_RECORD;
            break;
          }
          res = this.allocCoherentRaw(w3)[0];
          keep(h, res, 0, w3);
          break;
        case OP.free:
          res = unmapHandle(true);
          break;
        case OP.access: {
          const x = this.handle(h);
          if (arg > 1 || w3 === 0) {
            res = BAD_RECORD;
          } else if (x.entry < 0) {
            const pages = pagesSpanned(w2, w3);
            this.n.accesses += pages;
            this.n.faults += pages;
            res = 3;
          } else {
            // past 4 GiB stays past it (no IO page there: faults), as the core's deviceAccessAt
            res = this.accessRaw(x.entry * PAGE + x.offset + w2, w3, arg !== 0);
          }
          break;
        }
        case OP.cpu:
          if (w2 < this.config.cpus) this.setCpu(w2);
          else res = BAD_RECORD;
          break;
        case OP.mapSg: {
          const list: SgElement[] = [];
          let ok = arg <= 2;
          for (let k = 0; k < w2; k++) {
            const r = (i + 1 + k) * 4;
            const el = { pfn: recordPfn(ops, r), offset: (ops[r] >>> 8) & (PAGE - 1), bytes: ops[r + 3], entry: NO_ENTRY };
            if ((ops[r] & 15) !== OP.sgElem || !this.fits(el.pfn, el.offset, el.bytes)) ok = false;
            list.push(el);
          }
          if (this.config.format === FORMAT_RIOMMU) ok = false; // ring mappings only
          if (!ok) {
            results.fill(BAD_RECORD, i, i + 1 + w2);
            i += w2 + 1;
            continue;
          }
          results[i] = this.mapSgRaw(list, arg);
          list.forEach((el, k) => {
            keep(h + k, el.entry, el.offset, el.bytes);
            results[i + 1 + k] = el.entry;
          });
          i += w2 + 1;
          continue;
        }
        case OP.unmapSg: {
          const list: SgElement[] = [];
          let live = false;
          for (let k = 0; k < w2; k++) {
            const x = this.handle(h + k);
            list.push({ pfn: 0, offset: x.offset, bytes: x.bytes, entry: x.live ? x.entry : NO_ENTRY });
            live ||= x.live;
            x.live = false;
          }
          res = live ? this.unmapSgRaw(list) : 3;
          break;
        }
        default:
          res = BAD_RECORD; // unknown opcode, or an sg element without its header
      }
      results[i++] = res;
    }
  }
}

/** The reference model for the same options as createIommu. */
export function createReferenceIommu(options: IommuOptions): Iommu {
  return new ReferenceIommu(resolveConfig(options));
}
