// === The DMA API through the core, priced: the straightforward path every strategy ends in ===
// Each call reads the core's counters around it (bitmap words scanned, flushes, invalidations,
// entries written) and charges them: the driver's entry and scan, the table writes and their
// crossings, the platform's flush sequence.

import { stats, tceWrites } from "../counters";
import { IO_PAGE_SHIFT } from "../constants";
import { allocCoherent, freeCoherent, mapSg, mapSingle, SG_ELEM_SIZE, unmapKeep, unmapSg, unmapSingle } from "../dma";
import { CROSS_MULTICALL_ENTRY, CROSS_ONE, CROSS_PER_ENTRY, driverWork, entriesWritten, flushWork, integrated, pageTableWork, tableWork } from "./environment";
import { KIND_FREE, KIND_MAP_SG, KIND_UNMAP_SG } from "./counts";
import { B, BUFFER_SIZE, bytesOf, pagesOf, physOf } from "./buffers";
import { forget, keep } from "./never-free";

/** Buffers the driver holds now (Calgary's flush polls until the DMA in flight drains). */
export let live: f64 = 0;
/** never-free: unmaps keep their entries. */
let keepOnUnmap: bool = false;
let sgScratch: usize = 0;

export function mappingInit(sg: usize, neverFree: bool): void {
  sgScratch = sg;
  keepOnUnmap = neverFree;
  live = 0;
}

// @ts-ignore: decorator
@inline export function liveChange(n: f64): void {
  live += n;
}

// Each call snapshots the counters it is priced by (before), makes the core's call, then charges
// the differences (chargeDriver, chargeTable). The snapshot is module state: no core call
// re-enters the priced model, so one call is between before() and its charges at a time.
let words0: u64 = 0;
let flushes0: u64 = 0;
let invalidations0: u64 = 0;
let ptWrites0: u64 = 0;
let tables0: u64 = 0;

// @ts-ignore: decorator
@inline function before(): void {
  words0 = stats.wordsScanned;
  flushes0 = stats.flushes;
  invalidations0 = stats.entryInvalidations;
  ptWrites0 = stats.ptWrites;
  tables0 = stats.ptTablesAllocated;
}

/** The driver's side: its DMA-API entries and the allocator words it scanned. */
// @ts-ignore: decorator
@inline function chargeDriver(kind: u32, entries: f64): void {
  driverWork(kind, entries, <f64>(stats.wordsScanned - words0));
}

/** The table's side: `pages` entries written (page tables: what the core counted), tables allocated, flushes. */
// @ts-ignore: decorator
@inline function chargeTable(kind: u32, pages: f64, cross: u32): void {
  tableWork(kind, entriesWritten(pages, ptWrites0), cross);
  pageTableWork(kind, tables0);
  flushWork(<f64>(stats.flushes - flushes0), <f64>(stats.entryInvalidations - invalidations0), live);
}

// @ts-ignore: decorator
@inline function crossing(batchedEntry: bool): u32 {
  return batchedEntry ? CROSS_MULTICALL_ENTRY : integrated ? CROSS_ONE : CROSS_PER_ENTRY;
}

/** dma_map_single through the core; the DMA address, or -1 when the IO space is full. */
export function coreMap(kind: u32, phys: u64, bytes: u32, dir: u32, batchedEntry: bool): i64 {
  before();
  let off = <u32>(phys & 0xfff);
  let e = mapSingle(phys >> 12, off, bytes, dir);
  let pages = e < 0 ? 0 : pagesOf(phys, bytes);
  chargeDriver(kind, batchedEntry ? 0 : 1);
  chargeTable(kind, pages, crossing(batchedEntry));
  if (e < 0) return -1;
  forget(<u32>e, pages);
  return (<i64>e << IO_PAGE_SHIFT) | off;
}

export function coreUnmap(kind: u32, dma: u64, bytes: u32, batchedEntry: bool): void {
  before();
  if (keepOnUnmap) unmapKeep(<u32>dma, bytes);
  else unmapSingle(<u32>dma, bytes);
  let pages = pagesOf(dma, bytes);
  chargeDriver(kind, batchedEntry ? 0 : 1);
  if (keepOnUnmap) {
    keep(<u32>(dma >> IO_PAGE_SHIFT), pages);
    return; // nothing written, nothing crossed: that is the point (and the exposure)
  }
  chargeTable(kind, pages, crossing(batchedEntry));
}

/** One dma_map_sg of the `n` elements at handles h …, priced like a map of all its pages; false when it failed. */
export function coreMapSg(h: u32, n: u32, dir: u32, batchedEntry: bool): bool {
  let pages: f64 = 0;
  for (let k: u32 = 0; k < n; k++) {
    let b = B(h + k);
    let el = sgScratch + <usize>(k * SG_ELEM_SIZE);
    let phys = physOf(b);
    // the element as dma.ts lays it: pfn bits 0..31, then offset | pfn bits 32..43 << 20
    store<u32>(el, <u32>(phys >> 12), 0);
    store<u32>(el, <u32>(phys & 0xfff) | (<u32>(phys >> 44) << 20), 4);
    store<u32>(el, bytesOf(b), 8);
    pages += pagesOf(phys, bytesOf(b));
  }
  before();
  let written0 = tceWrites();
  let ok = mapSg(sgScratch, n, dir) != 0;
  chargeDriver(KIND_MAP_SG, batchedEntry ? 0 : 1);
  // Unwound elements of a failed list were written twice: those writes are the core's count.
  chargeTable(KIND_MAP_SG, ok ? pages : <f64>(tceWrites() - written0), crossing(batchedEntry));
  if (!ok) return false;
  for (let k: u32 = 0; k < n; k++) {
    let el = sgScratch + <usize>(k * SG_ELEM_SIZE);
    let e = load<i32>(el, 12);
    let off = load<u32>(el, 4) & 0xfff;
    store<u64>(B(h + k), (<u64>e << IO_PAGE_SHIFT) | off, 8);
    forget(<u32>e, pagesOf(<u64>off, load<u32>(el, 8)));
  }
  return true;
}

/** unmap_sg of the list at handles h … h + n − 1. */
export function coreUnmapSg(h: u32, n: u32, batchedEntry: bool): void {
  coreUnmapSgOf(B(h) + 8, BUFFER_SIZE, n, batchedEntry);
}

/**
 * unmap_sg of `n` elements laid `stride` bytes apart from `els`, each a DMA address (u64 @0)
 * and a length (u32 @−4 in a buffer, @8 in the batched queue's copies: see lengthAt).
 */
export function coreUnmapSgOf(els: usize, stride: u32, n: u32, batchedEntry: bool): void {
  if (keepOnUnmap) {
    for (let k: u32 = 0; k < n; k++) {
      let el = els + <usize>k * stride;
      coreUnmap(KIND_UNMAP_SG, load<u64>(el), lengthAt(el, stride), batchedEntry);
    }
    return;
  }
  for (let k: u32 = 0; k < n; k++) {
    let el = els + <usize>k * stride;
    let sg = sgScratch + <usize>(k * SG_ELEM_SIZE);
    let dma = load<u64>(el);
    store<u32>(sg, 0, 0);
    store<u32>(sg, <u32>(dma & 0xfff), 4);
    store<u32>(sg, lengthAt(el, stride), 8);
    store<i32>(sg, <i32>(dma >> IO_PAGE_SHIFT), 12);
  }
  before();
  let u0 = stats.pagesUnmapped;
  unmapSg(sgScratch, n);
  chargeDriver(KIND_UNMAP_SG, batchedEntry ? 0 : 1);
  chargeTable(KIND_UNMAP_SG, <f64>(stats.pagesUnmapped - u0), crossing(batchedEntry));
}

/** A buffer keeps its length 4 bytes before its DMA address; the batched queue's copies 8 after. */
// @ts-ignore: decorator
@inline function lengthAt(el: usize, stride: u32): u32 {
  return stride == BUFFER_SIZE ? load<u32>(el - 4) : load<u32>(el, 8);
}

/** dma_alloc_coherent of `bytes` (whole pages), priced as a map; the DMA address or -1. */
export function coreAlloc(kind: u32, bytes: u32): i64 {
  before();
  let e = allocCoherent(bytes);
  chargeDriver(kind, 1);
  chargeTable(kind, e < 0 ? 0 : Math.ceil(<f64>bytes / 4096), CROSS_PER_ENTRY);
  return e < 0 ? -1 : <i64>e << IO_PAGE_SHIFT;
}

export function coreFree(dma: u64, bytes: u32): void {
  before();
  freeCoherent(<u32>dma, bytes);
  chargeDriver(KIND_FREE, 1);
  chargeTable(KIND_FREE, Math.ceil(<f64>bytes / 4096), CROSS_PER_ENTRY);
}

