// === The priced model: batch records through a strategy and an environment ===
// The same 16-byte records as the plain batch (assembly/batch.ts), applied by the strategy the
// run was configured with, every step charged to the party that executes it (counts.ts), and
// the exposure kept as the operations go (exposure.ts). The TypeScript Simulation
// (bindings/sim/simulation.ts) is this file's reference: same decisions in the same order, so
// the counts come out equal, event for event (test/priced.test.ts).
//
// Results: map, map_sg and its elements, alloc → the first IO page, as the plain batch gives it
// (0 where the DMA address is the physical one), or NO_ENTRY when the IO space is full;
// unmap, unmap_sg, free → 0; access → ACCESS_* or ACCESS_UNCHECKED; cpu → 0. A record the
// driver could not have issued is refused with no effect: REFUSED_SEQUENCE (map of a live
// handle, unmap of one not live or of another kind, access to one never mapped),
// REFUSED_OUTSIDE_GUEST (preallocated), REFUSED_TOO_LARGE (a persistent buffer over 4 GiB, or
// more scatterlist elements waiting in a batch than its queue holds); BAD_RECORD for a handle or
// list out of range, a page an entry cannot hold, a bad direction.

import { ACCESS_FAULT, DMA_BIDIRECTIONAL, DMA_FROM_DEVICE, FORMAT_RIOMMU, NO_ENTRY } from "../constants";
import { tableFormat } from "../table";
import { bufferFits, deviceAccessAt } from "../dma";
import {
  BAD_RECORD, OP_ACCESS, OP_ALLOC, OP_CPU, OP_FREE, OP_MAP, OP_MAP_SG, OP_SG_ELEM, OP_UNMAP, OP_UNMAP_SG,
  RECORD_SIZE, recordOffset, recordPfn,
} from "../batch";
import { switchCpu } from "../cpu";
import { cacheTrackStale } from "../cache";
import {
  B, BUF_COHERENT, BUF_SG, BUF_SINGLE, bufferCount, buffersInit, BUFFER_SIZE, bytesOf, describe, dirOf, dmaOf,
  elementsOf, FAILED, flagsOf, kindOf, KNOWN, LIVE, pagesOf, physOf, setDma, setFlags, slotOf,
} from "./buffers";
import {
  count, countsInit, crossings, GRID_BYTES, hypercalls, KIND_ALLOC, KIND_FREE, KIND_MAP, KIND_MAP_SG, KIND_UNMAP,
  KIND_UNMAP_SG, P_DMA_API_ENTRY,
} from "./counts";
import { driverAt, environmentInit, grantWork } from "./environment";
import {
  blocked, clock, exposedIntegral, exposedPeak, exposureInit, ioIntegral, ioPeak, keptPages, lateAccess, reached, tick,
} from "./exposure";
import { coreAlloc, coreFree, coreMap, coreMapSg, coreUnmap, coreUnmapSg, liveChange, mappingInit } from "./mapping";
import { neverFreeBytes, neverFreeInit } from "./never-free";
import { slotsBytes, slotsInit } from "./slots";
import { cachedInit, cachedMap, cachedSlots, cachedUnmap, mappedSlot as cachedSlot } from "./cached";
import { PERSISTENT_MAX_PAGES, persistentMap, persistentSlots, persistentUnmap, mappedSlot as pooledSlot } from "./persistent";
import { batchedBytes, batchedDrain, batchedInit, batchedMapEntry, batchedQueue, batchedRoom } from "./batched";
import { insideGuest, preallocatedInit } from "./preallocated";

// Mapping strategies, in the order of bindings/sim/strategies.ts MAPPING_STRATEGIES.
// @ts-ignore: decorator
@inline export const S_STRAIGHTFORWARD: u32 = 0;
// @ts-ignore: decorator
@inline export const S_PREALLOCATED: u32 = 1;
// @ts-ignore: decorator
@inline export const S_PERSISTENT: u32 = 2;
// @ts-ignore: decorator
@inline export const S_CACHED: u32 = 3;
// @ts-ignore: decorator
@inline export const S_BATCHED: u32 = 4;
// @ts-ignore: decorator
@inline export const S_NEVER_FREE: u32 = 5;
// @ts-ignore: decorator
@inline export const S_GRANT_TABLE: u32 = 6;

// @ts-ignore: decorator
@inline export const ACCESS_UNCHECKED: i32 = 4;
// @ts-ignore: decorator
@inline export const REFUSED_SEQUENCE: i32 = -3;
// @ts-ignore: decorator
@inline export const REFUSED_OUTSIDE_GUEST: i32 = -4;
// @ts-ignore: decorator
@inline export const REFUSED_TOO_LARGE: i32 = -5;
/** rIOMMU serves ring mappings (map_single) only: map_sg and alloc_coherent are refused (riommu/ring.ts). */
// @ts-ignore: decorator
@inline export const REFUSED_RING_ONLY: i32 = -6;
// @ts-ignore: decorator
@inline const GAUGES: u32 = 10;

let strategy: u32 = S_STRAIGHTFORWARD;
/** false: no IOMMU (platform none), DMA address = physical. */
let iommu: bool = true;
let perCpu: bool = false;
let cpuCount: u32 = 1;
let physNext: u64 = 0x1000_0000;
let ops: usize = 0;
let results: usize = 0;
let gauges: usize = 0;

/** Bytes the priced model needs beyond the core's layout (the TypeScript side reserves them). */
export function pricedBytes(strat: u32, handles: u32, entries: u32, cacheSize: u32, batchSize: u32): usize {
  let n = <usize>GRID_BYTES + <usize>GAUGES * 8 + <usize>handles * BUFFER_SIZE + 64;
  if (strat == S_NEVER_FREE) n += neverFreeBytes(entries) + 8;
  if (strat == S_CACHED) n += slotsBytes(cachedSlots(cacheSize, handles)) + 8;
  if (strat == S_PERSISTENT) n += slotsBytes(persistentSlots(entries)) + 8;
  if (strat == S_BATCHED) n += batchedBytes(batchSize) + 8;
  return n;
}

// @ts-ignore: decorator
@inline function align8(p: usize): usize {
  return (p + 7) & ~(<usize>7);
}

export function pricedSetup(
  at: usize, opsAt: usize, resultsAt: usize, sgAt: usize, entries: u32,
  strat: u32, handles: u32, core: bool, drv: u32, own: u32, front: u32, flusher: u32, format: u32,
  intervalNs: f64, guestBytes: f64, cacheSize: u32, batchSize: u32, cpuPer: bool, cpus: u32,
): void {
  strategy = strat;
  iommu = core;
  perCpu = cpuPer;
  cpuCount = cpus;
  physNext = 0x1000_0000;
  ops = opsAt;
  results = resultsAt;
  let p = align8(at);
  countsInit(p);
  p += GRID_BYTES;
  gauges = p;
  p += GAUGES * 8;
  buffersInit(p, handles);
  p = align8(p + <usize>handles * BUFFER_SIZE);
  if (strat == S_NEVER_FREE) {
    neverFreeInit(p, entries);
    p = align8(p + neverFreeBytes(entries));
  } else {
    neverFreeInit(p, 0);
  }
  if (strat == S_CACHED) {
    slotsInit(p, cachedSlots(cacheSize, handles));
    cachedInit(cacheSize);
  } else if (strat == S_PERSISTENT) {
    slotsInit(p, persistentSlots(entries));
  } else if (strat == S_BATCHED) {
    batchedInit(p, batchSize);
  }
  environmentInit(drv, own, front, strat == S_GRANT_TABLE, flusher, format);
  exposureInit(intervalNs, core);
  mappingInit(sgAt, strat == S_NEVER_FREE);
  cacheTrackStale();
  if (strat == S_PREALLOCATED) preallocatedInit(guestBytes);
}

// @ts-ignore: decorator
@inline function recPhys(rec: usize): u64 {
  return (recordPfn(rec) << 12) | <u64>recordOffset(rec);
}

/** The hardware can carry the buffer out (direction, and an entry can hold its last page). */
// @ts-ignore: decorator
@inline function carried(rec: usize, dir: u32): bool {
  return dir <= DMA_FROM_DEVICE && (!iommu || bufferFits(recordPfn(rec), recordOffset(rec), load<u32>(rec, 12)));
}

// ── the DMA API by handle, as the reference has it by id ─────────────────────────────────────

/** The strategy's map of one buffer: its DMA address, or -1; the slot it used in `slotUsed`. */
let slotUsed: u32 = 0;

// @ts-ignore: decorator
@inline function mapOne(kind: u32, phys: u64, bytes: u32, dir: u32): i64 {
  slotUsed = 0;
  if (!iommu || strategy == S_PREALLOCATED) {
    count(driverAt, kind, P_DMA_API_ENTRY, 1);
    return <i64>phys;
  }
  if (strategy == S_CACHED) {
    let dma = cachedMap(kind, phys, bytes, dir);
    slotUsed = cachedSlot;
    return dma;
  }
  if (strategy == S_PERSISTENT) {
    let dma = persistentMap(kind, phys, bytes, dir);
    slotUsed = pooledSlot;
    return dma;
  }
  if (strategy == S_BATCHED) {
    batchedMapEntry(kind);
    return coreMap(kind, phys, bytes, dir, true);
  }
  return coreMap(kind, phys, bytes, dir, false);
}

// @ts-ignore: decorator
@inline function unmapOne(kind: u32, b: usize, dir: u32): void {
  let slot = slotOf(b);
  if (!iommu || strategy == S_PREALLOCATED) {
    count(driverAt, kind, P_DMA_API_ENTRY, 1);
  } else if (strategy == S_CACHED && slot != 0) {
    cachedUnmap(kind, slot);
  } else if (strategy == S_PERSISTENT && slot != 0) {
    persistentUnmap(kind, slot, dir, bytesOf(b));
  } else {
    coreUnmap(kind, dmaOf(b), bytesOf(b), false);
  }
}

/** Strategies under which a scatterlist goes to the core as one map_sg call. */
// @ts-ignore: decorator
@inline function wholeSg(): bool {
  return iommu && (strategy == S_STRAIGHTFORWARD || strategy == S_NEVER_FREE || strategy == S_GRANT_TABLE || strategy == S_BATCHED);
}

/** Sets `add` and clears `remove` in the flags of handles [h, h + n). */
function markAll(h: u32, n: u32, add: u32, remove: u32): void {
  for (let k: u32 = 0; k < n; k++) setFlags(B(h + k), (flagsOf(B(h + k)) | add) & ~remove);
}

/** The driver takes its buffer back (unmap, unmap_sg, free): false when its map had failed. */
// @ts-ignore: decorator
@inline function release(h: u32, n: u32): bool {
  if (n == 1) setFlags(B(h), flagsOf(B(h)) & ~LIVE);
  else markAll(h, n, 0, LIVE);
  liveChange(-1);
  if ((flagsOf(B(h)) & FAILED) != 0) {
    tick();
    return false;
  }
  return true;
}

/** A mapping's result as the plain batch gives it: its first IO page (0 where DMA address = physical). */
// @ts-ignore: decorator
@inline function entryOf(dma: u64): i32 {
  return iommu && strategy != S_PREALLOCATED ? <i32>(dma >> 12) : 0;
}

// @ts-ignore: decorator
@inline function holds(h: u32, kind: u32): bool {
  let f = flagsOf(B(h));
  return (f & (KNOWN | LIVE)) == (KNOWN | LIVE) && kindOf(B(h)) == kind;
}

// @ts-ignore: decorator
@inline function reusable(h: u32): bool {
  return (flagsOf(B(h)) & LIVE) == 0;
}

// @ts-ignore: decorator
@inline function map(rec: usize, h: u32): i32 {
  let phys = recPhys(rec);
  let bytes = load<u32>(rec, 12);
  let dir = (load<u32>(rec, 0) >> 4) & 15;
  if (!carried(rec, dir)) return BAD_RECORD;
  if (!reusable(h)) return REFUSED_SEQUENCE;
  if (strategy == S_PREALLOCATED && !insideGuest(phys, bytes)) return REFUSED_OUTSIDE_GUEST;
  if (strategy == S_PERSISTENT && pagesOf(phys, bytes) > PERSISTENT_MAX_PAGES) return REFUSED_TOO_LARGE;
  let b = B(h);
  describe(b, BUF_SINGLE, dir, phys, bytes, 1);
  let dma = mapOne(KIND_MAP, phys, bytes, dir);
  if (dma >= 0) {
    grantWork(KIND_MAP, pagesOf(phys, bytes));
    setDma(b, <u64>dma, slotUsed);
    setFlags(b, flagsOf(b) | LIVE);
  } else {
    setFlags(b, flagsOf(b) | LIVE | FAILED);
  }
  liveChange(1);
  tick();
  return dma >= 0 ? entryOf(<u64>dma) : NO_ENTRY;
}

// @ts-ignore: decorator
@inline function unmap(h: u32): i32 {
  if (!holds(h, BUF_SINGLE)) return REFUSED_SEQUENCE;
  if (strategy == S_BATCHED && !batchedRoom(h)) return REFUSED_TOO_LARGE;
  if (!release(h, 1)) return 0;
  let b = B(h);
  grantWork(KIND_UNMAP, pagesOf(physOf(b), bytesOf(b)));
  if (strategy == S_BATCHED) batchedQueue(h);
  else unmapOne(KIND_UNMAP, b, dirOf(b));
  tick();
  return 0;
}

/** The core is an rIOMMU, whose rRING holds ring mappings only. */
// @ts-ignore: decorator
@inline function ringOnly(): bool {
  return iommu && tableFormat() == FORMAT_RIOMMU;
}

/** map_sg of the `n` element records after `rec`; their results go to `out`. */
function mapSg(rec: usize, h: u32, n: u32, out: usize): i32 {
  let dir = (load<u32>(rec, 0) >> 4) & 15;
  if (ringOnly()) return REFUSED_RING_ONLY;
  if (!reusable(h)) return REFUSED_SEQUENCE;
  for (let k: u32 = 0; k < n; k++) {
    let el = rec + <usize>((k + 1) * RECORD_SIZE);
    if ((load<u32>(el, 0) & 15) != OP_SG_ELEM || !carried(el, dir)) return BAD_RECORD;
  }
  for (let k: u32 = 0; k < n; k++) {
    let el = rec + <usize>((k + 1) * RECORD_SIZE);
    if (strategy == S_PREALLOCATED && !insideGuest(recPhys(el), load<u32>(el, 12))) return REFUSED_OUTSIDE_GUEST;
    if (strategy == S_PERSISTENT && pagesOf(recPhys(el), load<u32>(el, 12)) > PERSISTENT_MAX_PAGES) return REFUSED_TOO_LARGE;
  }
  let pages: f64 = 0;
  for (let k: u32 = 0; k < n; k++) {
    let el = rec + <usize>((k + 1) * RECORD_SIZE);
    let phys = recPhys(el);
    let bytes = load<u32>(el, 12);
    describe(B(h + k), BUF_SG, dir, phys, bytes, k == 0 ? n : 0);
    setDma(B(h + k), phys, 0);
    pages += pagesOf(phys, bytes);
  }
  let ok = true;
  if (!iommu) {
    count(driverAt, KIND_MAP_SG, P_DMA_API_ENTRY, 1);
  } else if (wholeSg()) {
    if (strategy == S_BATCHED) batchedMapEntry(KIND_MAP_SG);
    ok = coreMapSg(h, n, dir, strategy == S_BATCHED);
  } else {
    for (let k: u32 = 0; k < n; k++) {
      let b = B(h + k);
      let dma = mapOne(KIND_MAP_SG, physOf(b), bytesOf(b), dir);
      if (dma < 0) {
        // undo what this list mapped so far, as map_sg does
        for (let j: u32 = 0; j < k; j++) unmapOne(KIND_UNMAP_SG, B(h + j), dir);
        ok = false;
        break;
      }
      setDma(b, <u64>dma, slotUsed);
    }
  }
  if (ok) grantWork(KIND_MAP_SG, pages);
  markAll(h, n, ok ? LIVE : LIVE | FAILED, 0);
  for (let k: u32 = 0; k < n; k++) store<i32>(out + (<usize>k << 2), ok ? entryOf(dmaOf(B(h + k))) : NO_ENTRY);
  liveChange(1);
  tick();
  return ok ? <i32>n : 0; // as the plain batch: the element count, 0 when the list did not fit
}

function unmapSg(h: u32): i32 {
  if (!holds(h, BUF_SG)) return REFUSED_SEQUENCE;
  if (iommu && strategy == S_BATCHED && !batchedRoom(h)) return REFUSED_TOO_LARGE;
  let n = elementsOf(B(h));
  if (!release(h, n)) return 0;
  let pages: f64 = 0;
  for (let k: u32 = 0; k < n; k++) pages += pagesOf(physOf(B(h + k)), bytesOf(B(h + k)));
  grantWork(KIND_UNMAP_SG, pages);
  if (!iommu) count(driverAt, KIND_UNMAP_SG, P_DMA_API_ENTRY, 1);
  else if (strategy == S_BATCHED) batchedQueue(h);
  else if (wholeSg()) coreUnmapSg(h, n, false);
  else for (let k: u32 = 0; k < n; k++) unmapOne(KIND_UNMAP_SG, B(h + k), dirOf(B(h)));
  tick();
  return 0;
}

function alloc(h: u32, bytes: u32): i32 {
  if (ringOnly()) return REFUSED_RING_ONLY;
  if (!reusable(h)) return REFUSED_SEQUENCE;
  let b = B(h);
  describe(b, BUF_COHERENT, DMA_BIDIRECTIONAL, 0, bytes, 1);
  let dma: i64;
  if (!iommu || strategy == S_PREALLOCATED) {
    count(driverAt, KIND_ALLOC, P_DMA_API_ENTRY, 1);
    dma = <i64>physNext;
    physNext += <u64>Math.ceil(<f64>bytes / 4096) * 4096;
  } else {
    dma = coreAlloc(KIND_ALLOC, bytes);
  }
  if (dma >= 0) setDma(b, <u64>dma, 0);
  setFlags(b, flagsOf(b) | LIVE | (dma >= 0 ? 0 : FAILED));
  liveChange(1);
  tick();
  return dma >= 0 ? entryOf(<u64>dma) : NO_ENTRY;
}

function free(h: u32): i32 {
  if (!holds(h, BUF_COHERENT)) return REFUSED_SEQUENCE;
  if (!release(h, 1)) return 0;
  let b = B(h);
  if (!iommu || strategy == S_PREALLOCATED) count(driverAt, KIND_FREE, P_DMA_API_ENTRY, 1);
  else coreFree(dmaOf(b), bytesOf(b));
  tick();
  return 0;
}

/** The device reads or writes; a DMA to a released buffer that still reaches memory is an exposure. */
function access(h: u32, offset: u32, bytes: u32, write: bool): i32 {
  let b = B(h);
  let f = flagsOf(b);
  if ((f & KNOWN) == 0) return REFUSED_SEQUENCE;
  if ((f & FAILED) != 0) {
    tick();
    return ACCESS_FAULT; // the driver had no address to give the device
  }
  let dma = dmaOf(b) + <u64>offset;
  let outcome: i32;
  if (!iommu) outcome = ACCESS_UNCHECKED;
  else if (strategy == S_PREALLOCATED) outcome = insideGuest(dma, bytes) ? ACCESS_UNCHECKED : ACCESS_FAULT;
  else outcome = deviceAccessAt(dma, bytes, write);
  if ((f & LIVE) == 0) lateAccess(outcome == ACCESS_FAULT);
  tick();
  return outcome;
}

/** Applies `n` records; returns the number applied. */
export function pricedRun(n: u32): u32 {
  let handles = bufferCount();
  let i: u32 = 0;
  while (i < n) {
    let rec = ops + <usize>(i * RECORD_SIZE);
    let w0 = load<u32>(rec, 0);
    let h = load<u32>(rec, 4);
    let op = w0 & 15;
    let res: i32 = 0;
    if (op == OP_MAP_SG) {
      let count = load<u32>(rec, 8);
      if (count == 0 || <u64>h + count > <u64>handles || <u64>i + 1 + count > <u64>n) {
        res = BAD_RECORD;
      } else {
        res = mapSg(rec, h, count, results + (<usize>(i + 1) << 2));
        if (res < NO_ENTRY) for (let k: u32 = 0; k < count; k++) store<i32>(results + (<usize>(i + 1 + k) << 2), res);
        store<i32>(results + (<usize>i << 2), res);
        i += count + 1;
        continue;
      }
    } else if (op == OP_CPU) {
      let cpu = load<u32>(rec, 8);
      if (perCpu) {
        if (cpu < cpuCount) switchCpu(cpu);
        else res = BAD_RECORD;
      }
    } else if (h >= handles) {
      res = BAD_RECORD;
    } else if (op == OP_MAP) {
      res = map(rec, h);
    } else if (op == OP_UNMAP) {
      res = unmap(h);
    } else if (op == OP_UNMAP_SG) {
      res = unmapSg(h);
    } else if (op == OP_ALLOC) {
      res = alloc(h, load<u32>(rec, 12));
    } else if (op == OP_FREE) {
      res = free(h);
    } else if (op == OP_ACCESS) {
      res = access(h, load<u32>(rec, 8), load<u32>(rec, 12), ((w0 >> 4) & 15) != 0);
    } else {
      res = BAD_RECORD; // unknown opcode, or an element without its map_sg header
    }
    store<i32>(results + (<usize>i << 2), res);
    i++;
  }
  return i;
}

/** End of the run: queued batched unmaps are issued (the next batch would issue them). */
export function pricedFinish(): void {
  if (strategy == S_BATCHED) {
    batchedDrain();
    tick();
  }
}

/** Writes the gauges a report needs into the gauge area and returns its address. */
export function pricedGauges(): usize {
  store<f64>(gauges, crossings, 0);
  store<f64>(gauges, hypercalls, 8);
  store<f64>(gauges, clock, 16);
  store<f64>(gauges, exposedPeak, 24);
  store<f64>(gauges, exposedIntegral, 32);
  store<f64>(gauges, ioPeak, 40);
  store<f64>(gauges, ioIntegral, 48);
  store<f64>(gauges, reached, 56);
  store<f64>(gauges, blocked, 64);
  store<f64>(gauges, keptPages, 72);
  return gauges;
}

/** Where handle h's buffer lies (its DMA address at +8), for the id-level API. */
export function pricedBuffer(h: u32): usize {
  return B(h);
}
