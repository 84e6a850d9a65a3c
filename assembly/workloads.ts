// === Allocator workloads: DMA-shaped load, generated and run inside WASM ===
// Each workload keeps a set of live mappings in the scratch area and replaces them step by step
// through the same DMA-API paths as every other caller (allocator, table, flush hooks, counters),
// so what it measures is the allocator inside a real map/unmap, not the allocator alone.
//
//   WL_RING       NIC ring: `param` one-page receive buffers, FIFO (the oldest is unmapped, a
//                 fresh page mapped into its slot).
//   WL_STORAGE    block IO: `param` requests in flight, each one contiguous 1–32-page mapping
//                 (one IOVA per scatterlist, as dma-iommu maps it); completions in random order.
//   WL_STORAGE_SG the same block IO as the 2007 kernels map it: each request a scatterlist of
//                 1–32 discontiguous pages, map_sg allocating one range per element (PowerPC
//                 chaining its hint through the list), unmap_sg on completion.
//   WL_MIXED      64 short-lived 1–4-page buffers (random completion) beside `param` long-lived
//                 1–16-page ones, one of which is replaced every 16th step: pinned ranges
//                 scattered through the space.
//   WL_OCCUPANCY  1–32-page mappings held near `param` per mille of the IO space: a step maps
//                 while the next request fits under the target, else unmaps a random live one;
//                 after a failed map the next step unmaps (the driver backs off). Its failed maps
//                 are the allocator's failures at that occupancy.
//
// `allocOnly` runs the same streams against the allocator alone (allocPages / freePages: no
// table writes, no cache, no flush hooks): the allocator microbenchmark.
//
// Scratch: one 8-byte slot per live mapping (entry i32, pages u32), sized by the caller at init:
// ring and storage `param` slots, mixed 64 + `param`, occupancy one per table entry; storage-sg
// `param` slots of SG_SLOT_BYTES (its scatterlists stay in place between map_sg and unmap_sg).
// Randomness: xorshift32 from the caller's seed, so a run is a pure function of its arguments.
// With several CPUs modelled, each map and each unmap runs on a CPU drawn at random (interrupts
// and submissions spread over the machine, so magazines fill on one CPU and drain on another).
// Time is counted in operations (OPS_PER_MS): the IOVA depot's 100 ms delayed work and the flush
// queue's 10 ms timer run on that clock.

import { ALLOC_IOVA, ALLOC_PPC2007, FLUSH_QUEUE, IO_PAGE_SHIFT } from "./constants";
// storage-sg is the 2007 map_sg under every allocator (dma-iommu's one-range map_sg is `storage`)
import { mapSgEach, mapSingle, SG_ELEM_SIZE, unmapSgEach, unmapSingle } from "./dma";
import { allocPages, freePages } from "./allocator";
import { stats } from "./counters";
import { iovaDepotWork } from "./iova";
import { switchCpu } from "./cpu";
import { flushQueueTimer } from "./flushqueue";
import { flushPolicy } from "./flush";

// @ts-ignore: decorator
@inline export const WL_RING: u32 = 0;
// @ts-ignore: decorator
@inline export const WL_STORAGE: u32 = 1;
// @ts-ignore: decorator
@inline export const WL_MIXED: u32 = 2;
// @ts-ignore: decorator
@inline export const WL_OCCUPANCY: u32 = 3;
// @ts-ignore: decorator
@inline export const WL_STORAGE_SG: u32 = 4;

/** WL_STORAGE_SG slot: element count, then SG_MAX_BURST scatterlist elements (dma.ts layout). */
// @ts-ignore: decorator
@inline const SG_MAX_BURST: u32 = 32;
// @ts-ignore: decorator
@inline export const SG_SLOT_BYTES: u32 = 16 + SG_MAX_BURST * SG_ELEM_SIZE;

/** Simulated time: operations per millisecond (a busy NIC: ~650 k maps and unmaps a second). */
// @ts-ignore: decorator
@inline const OPS_PER_MS: u32 = 655;
/** The IOVA depot's delayed work, every 100 ms. */
// @ts-ignore: decorator
@inline const DEPOT_WORK_OPS: u32 = 100 * OPS_PER_MS;
/** The flush queue's timer, every 10 ms. */
// @ts-ignore: decorator
@inline const FQ_TIMER_OPS: u32 = 10 * OPS_PER_MS;
// @ts-ignore: decorator
@inline const SHORT_SLOTS: u32 = 64;
// @ts-ignore: decorator
@inline const FIRST_PFN: u32 = 0x10000;

let slotsAt: usize = 0;
let kind: u32 = WL_RING;
let param: u32 = 0;
let live: u32 = 0; // WL_OCCUPANCY: slots in use
let livePages: u32 = 0;
let targetPages: u32 = 0;
let head: u32 = 0;
let rng: u32 = 1;
let pfn: u32 = FIRST_PFN;
let cpus: u32 = 1;
let depotWork: bool = false;
let opsToDepot: u32 = DEPOT_WORK_OPS;
let fqTimer: bool = false;
let opsToTimer: u32 = FQ_TIMER_OPS;
let lowEntry: u32 = 0xffffffff;
let highEnd: u32 = 0;
let failed: u32 = 0;
let backOff: bool = false;
let allocOnly: bool = false;
let chainHint: bool = false;

// @ts-ignore: decorator
@inline function ENTRY(i: u32): usize {
  return slotsAt + (<usize>i << 3);
}

// @ts-ignore: decorator
@inline function next(): u32 {
  let x = rng;
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  rng = x;
  return x;
}

/** Uniform in [0, n) (n ≤ 2^16: the modulo bias is below 2^-16). */
// @ts-ignore: decorator
@inline function below(n: u32): u32 {
  return next() % n;
}

function pickCpu(): void {
  if (cpus > 1) switchCpu(below(cpus));
}

function tick(): void {
  if (depotWork && --opsToDepot == 0) {
    opsToDepot = DEPOT_WORK_OPS;
    iovaDepotWork();
  }
  if (fqTimer && --opsToTimer == 0) {
    opsToTimer = FQ_TIMER_OPS;
    flushQueueTimer();
  }
}

/** Maps `pages` fresh pages into slot `i`; counts a failure. */
function fill(i: u32, pages: u32): void {
  pickCpu();
  let e: i32;
  if (allocOnly) {
    e = allocPages(pages, 0, 0);
    if (e >= 0) stats.maps++;
    else stats.mapFailures++;
  } else {
    e = mapSingle(pfn, 0, pages << IO_PAGE_SHIFT, 2);
  }
  pfn = (pfn + pages) & 0x00ffffff;
  store<i32>(ENTRY(i), e);
  store<u32>(ENTRY(i), pages, 4);
  if (e < 0) {
    failed++;
  } else {
    livePages += pages;
    if (<u32>e < lowEntry) lowEntry = <u32>e;
    if (<u32>e + pages > highEnd) highEnd = <u32>e + pages;
  }
  tick();
}

// @ts-ignore: decorator
@inline function SG_SLOT(i: u32): usize {
  return slotsAt + <usize>i * SG_SLOT_BYTES;
}

/** WL_STORAGE_SG: a request of `pages` one-page elements into slot `i` (count 0: the map failed). */
function fillSg(i: u32, pages: u32): void {
  pickCpu();
  let slot = SG_SLOT(i);
  let sg = slot + 16;
  for (let k: u32 = 0; k < pages; k++) {
    let el = sg + <usize>(k * SG_ELEM_SIZE);
    store<u32>(el, pfn, 0);
    store<u32>(el, 0, 4);
    store<u32>(el, 1 << IO_PAGE_SHIFT, 8);
    pfn = (pfn + 2) & 0x00ffffff; // discontiguous pages
  }
  let ok: bool;
  if (allocOnly) {
    // the allocator alone, element by element, PowerPC's hint chained as map_sg chains it
    ok = true;
    let handle: u32 = 0;
    for (let k: u32 = 0; k < pages; k++) {
      let e = allocPages(1, 0, chainHint ? handle : 0);
      store<i32>(sg + <usize>(k * SG_ELEM_SIZE), e, 12);
      if (e < 0) {
        for (let j: u32 = 0; j < k; j++) freePages(<u32>load<i32>(sg + <usize>(j * SG_ELEM_SIZE), 12), 1);
        ok = false;
        break;
      }
      handle = <u32>e + 1;
    }
    if (ok) stats.mapSgs++;
    else stats.mapFailures++;
  } else {
    ok = mapSgEach(sg, pages, 2) != 0;
  }
  store<u32>(slot, ok ? pages : 0);
  if (!ok) {
    failed++;
  } else {
    livePages += pages;
    for (let k: u32 = 0; k < pages; k++) {
      let e = <u32>load<i32>(sg + <usize>(k * SG_ELEM_SIZE), 12);
      if (e < lowEntry) lowEntry = e;
      if (e + 1 > highEnd) highEnd = e + 1;
    }
  }
  tick();
}

function drainSg(i: u32): void {
  let slot = SG_SLOT(i);
  let pages = load<u32>(slot);
  if (pages == 0) return;
  pickCpu();
  let sg = slot + 16;
  if (allocOnly) {
    for (let k: u32 = 0; k < pages; k++) freePages(<u32>load<i32>(sg + <usize>(k * SG_ELEM_SIZE), 12), 1);
    stats.unmapSgs++;
  } else {
    unmapSgEach(sg, pages);
  }
  livePages -= pages;
  store<u32>(slot, 0);
  tick();
}

/** Unmaps slot `i` if it holds a mapping. */
function drain(i: u32): void {
  let e = load<i32>(ENTRY(i));
  if (e < 0) return;
  let pages = load<u32>(ENTRY(i), 4);
  pickCpu();
  if (allocOnly) {
    freePages(<u32>e, pages);
    stats.unmaps++;
  } else {
    unmapSingle(<u32>e << IO_PAGE_SHIFT, pages << IO_PAGE_SHIFT);
  }
  livePages -= pages;
  store<i32>(ENTRY(i), -1);
  tick();
}

/** Starts workload `k` in the scratch at `base`: fills its initial live set. */
export function workloadStart(
  base: usize, k: u32, p: u32, seed: u32, ncpus: u32, allocator: u32, entries: u32, alone: bool,
): void {
  slotsAt = base;
  allocOnly = alone;
  chainHint = allocator == ALLOC_PPC2007;
  backOff = false;
  kind = k;
  param = p;
  rng = seed != 0 ? seed : 0x9e3779b9;
  cpus = ncpus;
  depotWork = allocator == ALLOC_IOVA;
  opsToDepot = DEPOT_WORK_OPS;
  fqTimer = flushPolicy() == FLUSH_QUEUE && !alone;
  opsToTimer = FQ_TIMER_OPS;
  pfn = FIRST_PFN;
  head = 0;
  live = 0;
  livePages = 0;
  failed = 0;
  lowEntry = 0xffffffff;
  highEnd = 0;
  targetPages = <u32>((<u64>entries * p) / 1000);
  if (k == WL_RING) {
    for (let i: u32 = 0; i < p; i++) fill(i, 1);
  } else if (k == WL_STORAGE) {
    for (let i: u32 = 0; i < p; i++) fill(i, 1 + below(32));
  } else if (k == WL_MIXED) {
    for (let i: u32 = 0; i < SHORT_SLOTS; i++) fill(i, 1 + below(4));
    for (let i: u32 = 0; i < p; i++) fill(SHORT_SLOTS + i, 1 + below(16));
  } else if (k == WL_STORAGE_SG) {
    for (let i: u32 = 0; i < p; i++) fillSg(i, 1 + below(SG_MAX_BURST));
  }
}

/** Runs `steps` steps; returns the maps that failed during them. */
export function workloadRun(steps: u32): u32 {
  let before = failed;
  for (let s: u32 = 0; s < steps; s++) {
    if (kind == WL_RING) {
      drain(head);
      fill(head, 1);
      head = head + 1 == param ? 0 : head + 1;
    } else if (kind == WL_STORAGE) {
      let i = below(param);
      drain(i);
      fill(i, 1 + below(32));
    } else if (kind == WL_MIXED) {
      if ((s & 15) == 15 && param > 0) {
        let i = SHORT_SLOTS + below(param);
        drain(i);
        fill(i, 1 + below(16));
      } else {
        let i = below(SHORT_SLOTS);
        drain(i);
        fill(i, 1 + below(4));
      }
    } else if (kind == WL_STORAGE_SG) {
      let i = below(param);
      drainSg(i);
      fillSg(i, 1 + below(SG_MAX_BURST));
    } else if (kind == WL_OCCUPANCY) {
      let pages = 1 + below(32);
      if (live == 0 || (!backOff && livePages + pages <= targetPages)) {
        fill(live, pages);
        backOff = load<i32>(ENTRY(live)) < 0;
        if (!backOff) live++;
      } else {
        backOff = false;
        let i = below(live);
        drain(i);
        live--;
        store<u64>(ENTRY(i), load<u64>(ENTRY(live)));
      }
    }
  }
  return failed - before;
}

export function workloadLow(): u32 {
  return lowEntry;
}

export function workloadHighEnd(): u32 {
  return highEnd;
}

export function workloadLivePages(): u32 {
  return livePages;
}
