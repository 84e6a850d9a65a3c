// === iommu-sim core: the exports ===
// One instance models one IOMMU translation table (one Calgary PHB, or the DART). The entry
// points are thin; the logic lives in the files named after what they model.
//
// Linear memory, laid out by init():
//
//   __heap_base ─► ╒═══ counters   N_COUNTERS × u64 ═══════════════════════╕
//                  ├─── SG scratch  SG_MAX × 16 B ──────────────────────────┤
//                  ├─── batch ops   batchCapacity × 16 B ───────────────────┤
//                  ├─── results     batchCapacity × i32 ────────────────────┤
//                  ├─── handles     maxHandles × 16 B ──────────────────────┤
//                  ├─── bitmap      entries / 8 B ──────────────────────────┤
//                  ├─── table       entries × 8 B (Calgary) | × 4 B (DART) ──┤
//                  │                | page-table pool (pgtable/radix.ts)     │
//                  ├─── cache       sets × ways × 24 B ─────────────────────┤
//                  ├─── free lists  (64 + 64 × 1024) × u32 (allocator.ts) ───┤
//                  ├─── IOVA tree + magazines (iova.ts; IOVA allocators only) ┤
//                  ├─── flush queues cpus × 3 KiB (flushqueue.ts; flush-queue only) ┤
//                  ├─── invalidation queue + status words (invalidation/; VT-d, AMD, SMMUv3) ┤
//                  ├─── workload scratch (workloads.ts; grown on demand) ───┤
//                  ╘════════════════════════════════════════════════════════╛

import { ALLOC_IOVA, FLUSH_QUEUE, INV_NONE, IO_PAGE_MASK, isIova, SG_MAX } from "./constants";
import { cpuInit, switchCpu } from "./cpu";
import { flushQueueBytes, flushQueueInit, flushQueueTimer } from "./flushqueue";
import { N_COUNTERS, resetCounters, writeCounters } from "./counters";
import { bitmapInit, largestZeroRun, testBit } from "./bitmap";
import { entryBytes, isPageTable, lineWord, rawEntry, readEntry, tableInit } from "./table";
import { ptBytes, ptEntryAt, ptLevels } from "./pgtable/radix";
import { walkCacheOff } from "./pgtable/walkcache";
import { ctxInvalidate, ctxOff, ctxWord } from "./pgtable/context";
import { cacheInit, cacheOccupancy, cacheStaleLines, SLOT_SIZE } from "./cache";
import { flushInit } from "./flush";
import { invBytes, invInit, invQueueAt, invQueueEntries, invTailRegister } from "./invalidation/index";
import { allocatorHint, allocatorInit, allocatorLargeHint, FREE_LIST_BYTES, reserveRange } from "./allocator";
import { bufferFits, dmaInit, mapSingle as dmaMapSingle, SG_ELEM_SIZE } from "./dma";
import {
  iovaBytes, iovaCachedPfns, iovaCheck, iovaDepotWork, iovaLargestGap, iovaMagazines, iovaNodes,
} from "./iova";
import { BAD_RECORD, batchInit, HANDLE_SIZE, RECORD_SIZE } from "./batch";

export {
  unmapSingle, unmapKeep, mapSg, unmapSg, allocCoherent, freeCoherent, coherentPfn, deviceAccess,
} from "./dma";
export { runBatch } from "./batch";
export { ringRun } from "./ring";
export { workloadRun, workloadLow, workloadHighEnd, workloadLivePages } from "./workloads";
import { workloadStart } from "./workloads";
import { ringStart } from "./ring";

let countersAt: usize = 0;
let sgAt: usize = 0;
let opsAt: usize = 0;
let resultsAt: usize = 0;
/** End of the fixed layout: the workloads' scratch starts here. */
let scratchAt: usize = 0;
let allocKind: u32 = 0;
let flushQueueOn: bool = false;
let tableEntries: u32 = 0;
let tableFormatOf: u32 = 0;
let scratchBytesAt: usize = 0;

// @ts-ignore: decorator
@inline function align64(p: usize): usize {
  return (p + 63) & ~(<usize>63);
}

/**
 * Lays out memory and resets every structure. Called once per configuration from JS, which has
 * validated every argument (powers of two, ranges); returns 0, or -1 if memory cannot grow.
 */
export function init(
  format: u32, allocator: u32, flushPolicy: u32, entries: u32,
  cacheSets: u32, cacheWays: u32, maxHandles: u32, batchCapacity: u32,
  emptyWord: u64, badFreeBelow: u32, coherentBasePfn: u64, boundaryPages: u32, cpus: u32, scratchBytes: u32,
  maxPfn: u64, maxCoherentOrder: u32, vmerge: bool, levels: u32, invalidation: u32, invCaps: u32,
): i32 {
  allocKind = allocator;
  flushQueueOn = flushPolicy == FLUSH_QUEUE;
  tableEntries = entries;
  tableFormatOf = format;
  scratchBytesAt = scratchBytes;
  let p = align64(__heap_base);
  countersAt = p;
  p = align64(p + (<usize>N_COUNTERS << 3));
  sgAt = p;
  p = align64(p + <usize>(SG_MAX * SG_ELEM_SIZE));
  opsAt = p;
  p = align64(p + <usize>batchCapacity * RECORD_SIZE);
  resultsAt = p;
  p = align64(p + (<usize>batchCapacity << 2));
  let handlesAt = p;
  p = align64(p + <usize>maxHandles * HANDLE_SIZE);
  let mapAt = p;
  p = align64(p + <usize>(entries >> 3));
  let tableAt = p;
  p = align64(p + (isPageTable(format) ? ptBytes(levels, entries) : <usize>entries * entryBytes(format)));
  let cacheAt = p;
  p = align64(p + <usize>cacheSets * cacheWays * SLOT_SIZE);
  let freeListAt = p;
  p = align64(p + <usize>FREE_LIST_BYTES);
  let iovaAt = p;
  if (isIova(allocator)) p = align64(p + iovaBytes(entries, cpus));
  let queuesAt = p;
  if (flushPolicy == FLUSH_QUEUE) p = align64(p + flushQueueBytes(cpus));
  let invAt = p;
  p = align64(p + invBytes(invalidation));
  scratchAt = p;
  p = align64(p + <usize>scratchBytes);

  let have = <usize>memory.size() << 16;
  if (p > have) {
    let need = <i32>((p - have + 0xffff) >> 16);
    if (memory.grow(need) < 0) return -1;
  }

  resetCounters();
  bitmapInit(mapAt, entries);
  walkCacheOff(); // until a page table lays its walk cache out
  ctxOff(); // and its device structures
  cacheInit(cacheAt, cacheSets, cacheWays, isPageTable(format)); // first: table writes tell the cache (cacheNoteWrite)
  tableInit(tableAt, format, entries, emptyWord, levels);
  flushInit(flushPolicy, invalidation != INV_NONE);
  invInit(invalidation, invCaps, invAt);
  allocatorInit(allocator, entries, boundaryPages, freeListAt, cpus, iovaAt);
  dmaInit(entries, allocator, badFreeBelow, coherentBasePfn, flushPolicy == FLUSH_QUEUE, maxPfn, maxCoherentOrder, vmerge);
  cpuInit();
  if (flushPolicy == FLUSH_QUEUE) flushQueueInit(queuesAt, cpus);
  batchInit(opsAt, resultsAt, handlesAt, sgAt, maxHandles, cpus);
  memory.fill(handlesAt, 0, <usize>maxHandles * HANDLE_SIZE);
  return 0;
}

/**
 * map_single of page pfnHigh << 32 | pfnLow (two words: no BigInt on the hot path); the entry,
 * NO_ENTRY, or BAD_RECORD for what the hardware cannot carry (JS checks before, with the message).
 */
export function mapSingle(pfnLow: u32, pfnHigh: u32, offset: u32, len: u32, dir: u32): i32 {
  let pfn = (<u64>pfnHigh << 32) | <u64>pfnLow;
  if (dir > 2 || offset > IO_PAGE_MASK || !bufferFits(pfn, offset, len)) return BAD_RECORD;
  return dmaMapSingle(pfn, offset, len, dir);
}

/** Starts the built-in NIC-ring workload in the SG scratch area (ring ≤ SG_MAX × 4 slots). */
export function ringInit(ring: u32, firstPfn: u32): u32 {
  return ringStart(sgAt, ring, firstPfn);
}

/** Marks [first, first + npages) in use before the first mapping (reserved regions). */
export function reserve(first: u32, npages: u32): void {
  reserveRange(first, npages);
}

/** Writes the counters into their memory block and returns its address (JS reads them there). */
export function countersPtr(): usize {
  writeCounters(countersAt);
  return countersAt;
}

export function sgPtr(): usize {
  return sgAt;
}

export function opsPtr(): usize {
  return opsAt;
}

export function resultsPtr(): usize {
  return resultsAt;
}

/** Table entry `e` in host order (the decoded hardware word). */
export function entryWord(e: u32): u64 {
  return readEntry(e);
}

/** Table entry `e` as stored in memory (big-endian bytes, read as a little-endian word). */
export function entryRaw(e: u32): u64 {
  return rawEntry(e);
}

export function entryInUse(e: u32): bool {
  return testBit(e);
}

export function hint(): u32 {
  return allocatorHint();
}

export function largeHint(): u32 {
  return allocatorLargeHint();
}

export function cacheLines(): u32 {
  return cacheOccupancy();
}

/** Cache lines holding a translation the table no longer has. */
export function staleLines(): u32 {
  return cacheStaleLines((tag: u32): u64 => lineWord(tag));
}

/** Page tables: the raw entry at `level` (1 = leaf) on the walk of IO page `page`, 0 where the walk ends above. */
export function pageTableEntry(page: u32, level: u32): u64 {
  return isPageTable(tableFormatOf) && level >= 1 && level <= ptLevels() ? ptEntryAt(page, level) : 0;
}

/** The invalidation queue's memory (0 without one), its slots, and the tail / producer register last written. */
/** Page tables: word `i` of the device's structures (pgtable/context.ts ctxWord), 0 past them. */
export function contextWord(i: u32): u64 {
  return ctxWord(i);
}

/** Page tables: a context-cache invalidation (the next IOTLB miss reads the device's structures). */
export function invalidateContextCache(): void {
  ctxInvalidate();
}

export function invQueuePtr(): usize {
  return invQueueAt();
}

export function invQueueSlots(): u32 {
  return invQueueEntries();
}

export function invTail(): u32 {
  return invTailRegister();
}

/** Starts allocator workload `kind` (workloads.ts) in the scratch area init() reserved. */
export function workloadInit(kind: u32, param: u32, seed: u32, cpus: u32, allocOnly: bool): void {
  workloadStart(scratchAt, kind, param, seed, cpus, allocKind, tableEntries, allocOnly);
}

// ── the allocator's own state (IOVA allocators; zero for the bitmap ones) ──────────────────

/** The CPU the next calls run on (IOVA magazines, flush queues); JS checks it against `cpus`. */
export function setCpu(cpu: u32): void {
  switchCpu(cpu);
}

/** The flush queue's 10 ms timer fires: 1 if it flushed (something was queued since the last). */
export function fqTimer(): u32 {
  return flushQueueOn && flushQueueTimer() ? 1 : 0;
}

/** One run of the IOVA depot's delayed work; the magazines it returned to the tree. */
export function depotWork(): u32 {
  return allocKind == ALLOC_IOVA ? iovaDepotWork() : 0;
}

export function treeNodes(): u32 {
  return isIova(allocKind) ? iovaNodes() : 0;
}

export function magazines(): u32 {
  return allocKind == ALLOC_IOVA ? iovaMagazines() : 0;
}

export function cachedPfns(): u32 {
  return allocKind == ALLOC_IOVA ? iovaCachedPfns() : 0;
}

/** Red-black tree invariants (0 = sound). */
export function treeCheck(): i32 {
  return isIova(allocKind) ? iovaCheck() : 0;
}

/** Largest run of IO pages the allocator could still hand out as one range. */
export function largestFreeRun(): u32 {
  return isIova(allocKind) ? iovaLargestGap(tableEntries) : largestZeroRun(tableEntries);
}

// ── the priced model (assembly/priced/): strategies, environments and their counted price ──

export { pricedRun, pricedFinish, pricedGauges, pricedBuffer, pricedBytes } from "./priced/run";
export { gridPtr as pricedGridPtr } from "./priced/counts";
import { pricedBytes, pricedSetup } from "./priced/run";

/**
 * Lays the priced model into the scratch area (init's scratchBytes must be pricedBytes(…)) and
 * configures it; returns 0, or -1 when the scratch is too small.
 */
export function pricedInit(
  strategy: u32, handles: u32, core: bool, driver: u32, owner: u32, frontend: u32, flusher: u32,
  intervalNs: f64, guestBytes: f64, cacheSize: u32, batchSize: u32, perCpu: bool, cpus: u32,
): i32 {
  if (pricedBytes(strategy, handles, tableEntries, cacheSize, batchSize) > scratchBytesAt) return -1;
  pricedSetup(
    scratchAt, opsAt, resultsAt, sgAt, tableEntries, strategy, handles, core, driver, owner, frontend, flusher,
    tableFormatOf, intervalNs, guestBytes, cacheSize, batchSize, perCpu, cpus,
  );
  return 0;
}
