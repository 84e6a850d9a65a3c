// === IoSpaceAllocator: which IO pages a mapping gets ===
// Two allocators, each as its era's Linux driver has it, so the same call sequence yields the
// same IO addresses as the kernel.
//
// ALLOC_CALGARY — arch/x86_64/kernel/pci-calgary.c, 2.6.23 (iommu_range_alloc):
//   first fit at or after one rotating hint; no room → blast the TCE cache (flush.ts) and
//   search again from 0. The hint moves to the end of each allocation, never on frees.
//   find_next_zero_string fails when end ≥ entries, so the last entry is never handed out.
//   Alignment and segment boundary follow the kernel's iommu_area_alloc (zero on 2.6.23).
//
// ALLOC_PPC2007 — arch/powerpc/kernel/iommu.c, 2.6.18 (RHEL5), as used with DART:
//   small (≤ 15 pages) below the 3/4 point from it_hint, large above it from it_largehint.
//   pass 0 from the hint; pass 1 from the start of the own half; pass 2 the other way round
//   over a wider range (small: [3/4, end); large: [0, end)); then fail. end ≥ limit fails.
//
//   0                                   halfpoint = 3/4·entries              entries
//   ├──────── small allocations ──────────┼─────────── large ─────────────────┤
//
// ALLOC_FIRST_FIT — the lowest free run from entry 0 on every call (no hint, never wraps, so
//   never triggers a wrap flush: freed entries are reused at once).
//
// ALLOC_FREE_LIST — a LIFO of freed ranges per size (1 … 64 pages, 1024 deep); a request pops
//   ranges of its size until one is still free, else falls back to the Calgary next-fit (and its
//   wrap flush). Its memory, after the cache:
//   ╒═ count[0..63] u32 ═╤═ class 0: 1024 × u32 ═╤═ class 1 … ═╤═ class 63 ═╕   (class c = c+1 pages)
//   ╘════════════════════╧═══════════════════════╧═════════════╧═══════════╛
//
// ALLOC_IOVA, ALLOC_IOVA_TREE — drivers/iommu/iova.c (v6.x): top-down in a red-black tree, with
//   (IOVA) or without (IOVA_TREE) the per-CPU magazines in front; the whole model is in iova.ts.
//   Sizes below 32 pages round up to a power of two and every range is aligned to its size, as
//   alloc_iova_fast does; caller alignment is therefore already met; the segment boundary is not
//   applied (dma-iommu honours it when merging scatterlists, which the core does not model).
//
// ALLOC_BEST_FIT — the smallest free run that holds the aligned request, lowest on ties; an exact
//   fit ends the scan. Not a Linux allocator: the classic low-fragmentation comparison, and the
//   README's worked example of adding one.
//
// ALLOC_RING — the rIOMMU driver's rRING (riommu/ring.ts): a mapping goes at the tail, the tail
//   moves past it; a mapping that would run past the end starts again at position 0 (a wrap,
//   which flushes nothing). No search: if the positions at the tail are still mapped (the ring
//   is full: its oldest buffers were not unmapped yet) the map fails. An out-of-order unmap
//   clears its rPTEs at once; its positions are reused when the tail comes round to them.
//
// Adding an allocator (README, "Adding an IO-space allocator"; ALLOC_BEST_FIT is the worked
// example): a code in constants.ts and its name in bindings/abi.ts ALLOCATORS; `xxxAlloc(npages,
// alignMask): i32` returning the first entry or -1 without setting the bits (allocPages does);
// its branch in allocPages, and in freePages if it keeps state on frees; the same method in the
// reference model's rangeAlloc (bindings/reference/iommu.ts); its name in the differential test.

import {
  ALLOC_BEST_FIT, ALLOC_CALGARY, ALLOC_FIRST_FIT, ALLOC_FREE_LIST, ALLOC_IOVA, ALLOC_PPC2007, ALLOC_RING, FREE_LIST_CLASSES, FREE_LIST_DEPTH, isIova,
} from "./constants";
import { iovaAlloc, iovaFree, iovaInit, iovaPutOne, iovaReserve, iovaTakeOne } from "./iova";
import { clearOne, clearRange, findSet, findZero, setOne, setRange, takeOneInWord } from "./bitmap";
import { pagesReturned, pagesTaken, stats } from "./counters";
import { onAllocatorWrap } from "./flush";

// @ts-ignore: decorator
@inline const LARGE_ALLOC_PAGES: u32 = 15; // npages > 15 is a "large" allocation on PowerPC

let kind: u32 = ALLOC_CALGARY;
let entries: u32 = 0;
let hint: u32 = 0;
let largeHint: u32 = 0;
let halfpoint: u32 = 0;
/** Segment boundary in pages (power of two), 0 = none. */
let boundaryPages: u32 = 0;
/** ALLOC_FREE_LIST storage (see the diagram). */
let freeLists: usize = 0;

/** Bytes the free lists need (laid out by index.ts whatever the allocator). */
export const FREE_LIST_BYTES: u32 = (FREE_LIST_CLASSES + FREE_LIST_CLASSES * FREE_LIST_DEPTH) << 2;

export function allocatorInit(k: u32, n: u32, boundary: u32, freeListBase: usize, cpus: u32, iovaBase: usize): void {
  kind = k;
  if (isIova(k)) iovaInit(k, n, cpus, iovaBase);
  freeLists = freeListBase;
  memory.fill(freeListBase, 0, <usize>(FREE_LIST_CLASSES << 2));
  entries = n;
  hint = 0;
  halfpoint = (n >> 2) * 3;
  largeHint = halfpoint;
  boundaryPages = boundary;
}

export function allocatorHint(): u32 {
  return hint;
}

export function setAllocatorHint(h: u32): void {
  hint = h;
}

export function allocatorKind(): u32 {
  return kind;
}

/** The DMA segment boundary in pages; 0 = none configured. */
export function allocatorBoundary(): u32 {
  return boundaryPages;
}

export function allocatorEntries(): u32 {
  return entries;
}

export function allocatorLargeHint(): u32 {
  return largeHint;
}

/** Marks a range in use before any allocation (reserved regions); clipped to the table. */
export function reserveRange(first: u32, npages: u32): void {
  if (first >= entries) return;
  let n = npages < entries - first ? npages : entries - first;
  if (isIova(kind)) {
    // reserve_iova: a node over every part not reserved already (not an allocator search: uncounted)
    let words = stats.wordsScanned;
    let end = first + n;
    let at = findZero(first, end);
    while (at < end) {
      let busy = findSet(at, end);
      iovaReserve(at, busy - 1);
      at = findZero(busy, end);
    }
    stats.wordsScanned = words;
  }
  setRange(first, n);
}

// @ts-ignore: decorator
@inline function crossesBoundary(index: u32, npages: u32): bool {
  return boundaryPages != 0 && (index & (boundaryPages - 1)) + npages > boundaryPages;
}

/** iommu_area_alloc over [start, entries): first fit, aligned, boundary-respecting; -1 if none. */
function areaAlloc(start: u32, npages: u32, alignMask: u32): i32 {
  while (true) {
    let n = findZero(start, entries);
    if (n >= entries) return -1;
    n = (n + alignMask) & ~alignMask;
    let end = <u64>n + npages;
    if (end >= <u64>entries) return -1;
    let busy = findSet(n, <u32>end);
    if (busy < <u32>end) {
      start = busy + 1;
      continue;
    }
    if (crossesBoundary(n, npages)) {
      start = n + 1;
      continue;
    }
    return <i32>n;
  }
  return -1;
}

function calgaryAlloc(npages: u32, alignMask: u32): i32 {
  let n = areaAlloc(hint, npages, alignMask);
  if (n < 0) {
    stats.wraps++;
    onAllocatorWrap();
    n = areaAlloc(0, npages, alignMask);
    if (n < 0) return -1;
  }
  hint = <u32>n + npages;
  return n;
}

function ppcAlloc(npages: u32, alignMask: u32, handle: u32): i32 {
  let large = npages > LARGE_ALLOC_PAGES;
  let start: u32 = handle != 0 ? handle : large ? largeHint : hint;
  let limit: u32 = large ? entries : halfpoint;
  if (large && start < halfpoint) start = halfpoint;
  if (start >= limit) start = hint;
  let pass: u32 = 0;
  while (true) {
    let n = findZero(start, limit);
    n = (n + alignMask) & ~alignMask;
    let end = <u64>n + npages;
    if (end >= <u64>limit) {
      if (pass < 2) {
        start = ((large ? 1 : 0) ^ pass) != 0 ? halfpoint : 0;
        if (pass != 0) limit = entries;
        pass++;
        stats.wraps++;
        continue;
      }
      return -1;
    }
    let busy = findSet(n, <u32>end);
    if (busy < <u32>end) {
      start = busy + 1;
      continue;
    }
    if (large) largeHint = <u32>end;
    else hint = <u32>end;
    return <i32>n;
  }
  return -1;
}

/** ALLOC_RING: the tail, or position 0 when the tail has no room before the end; -1 if still mapped. */
function ringAlloc(npages: u32): i32 {
  let n = hint;
  if (<u64>n + npages > <u64>entries) {
    stats.wraps++;
    onAllocatorWrap();
    n = 0;
  }
  if (findSet(n, n + npages) < n + npages) return -1;
  hint = n + npages == entries ? 0 : n + npages;
  return <i32>n;
}

/** ALLOC_BEST_FIT: one pass over the free runs of the whole map. */
function bestFitAlloc(npages: u32, alignMask: u32): i32 {
  let best: i32 = -1;
  let bestRun: u32 = 0xffffffff;
  let at = findZero(0, entries);
  while (at < entries) {
    let end = findSet(at, entries); // free run [at, end)
    let run = end - at;
    if (run >= npages && run < bestRun) {
      let n = (at + alignMask) & ~alignMask;
      if (crossesBoundary(n, npages)) n = (((n + boundaryPages) & ~(boundaryPages - 1)) + alignMask) & ~alignMask;
      if (<u64>n + npages <= <u64>end && !crossesBoundary(n, npages)) {
        best = <i32>n;
        bestRun = run;
        if (run == npages) break;
      }
    }
    at = findZero(end, entries);
  }
  return best;
}

// @ts-ignore: decorator
@inline function COUNT(c: u32): usize {
  return freeLists + (<usize>c << 2);
}

// @ts-ignore: decorator
@inline function SLOT(c: u32, i: u32): usize {
  return freeLists + (<usize>(FREE_LIST_CLASSES + c * FREE_LIST_DEPTH + i) << 2);
}

function freeListAlloc(npages: u32, alignMask: u32): i32 {
  if (npages <= FREE_LIST_CLASSES && alignMask == 0) {
    let c = npages - 1;
    let count = load<u32>(COUNT(c));
    while (count > 0) {
      count--;
      let e = load<u32>(SLOT(c, count));
      // a range freed earlier may have been taken since by the fallback search
      if (findSet(e, e + npages) == e + npages) {
        store<u32>(COUNT(c), count);
        return <i32>e;
      }
    }
    store<u32>(COUNT(c), 0);
  }
  return calgaryAlloc(npages, alignMask);
}

function freeListPush(first: u32, npages: u32): void {
  let c = npages - 1;
  let count = load<u32>(COUNT(c));
  if (count < FREE_LIST_DEPTH) {
    store<u32>(SLOT(c, count), first);
    store<u32>(COUNT(c), count + 1);
  }
}

/**
 * A request no state of the map could hold: as many pages as the table (the last entry is never
 * handed out), or more than one segment when the allocator honours the boundary (every start
 * crosses it; the search would try each entry in turn). It fails before any search, as the
 * kernel's size checks fail it (iova.c's limit test, dma_map_sg's segment-size test): no words
 * scanned, no wrap, no flush. The IOVA tree answers such requests in one step itself.
 */
// @ts-ignore: decorator
@inline function neverFits(npages: u32): bool {
  if (isIova(kind)) return false;
  return npages >= entries || (boundaryPages != 0 && kind != ALLOC_PPC2007 && npages > boundaryPages);
}

/**
 * Allocates `npages` IO pages; returns the first entry or -1. `handle` is the PowerPC
 * scatter-gather hint (end of the previous element, 0 = none); Calgary ignores it.
 */
// @ts-ignore: decorator
@inline export function allocPages(npages: u32, alignMask: u32, handle: u32): i32 {
  if (neverFits(npages)) return -1;
  if (kind <= ALLOC_PPC2007 && npages == 1 && alignMask == 0 && handle == 0) {
    // Fast path: a free page in the hint's word. The general search would load that word twice
    // (findZero, then findSet over one page), so it counts two words.
    let limit = kind == ALLOC_CALGARY ? entries : halfpoint;
    let one = takeOneInWord(hint, limit);
    if (one >= 0) {
      stats.wordsScanned += 2;
      hint = <u32>one + 1;
      pagesTaken(1);
      return one;
    }
  } else if (npages == 1 && kind == ALLOC_IOVA) {
    // Fast path: the top of this CPU's one-page magazine.
    let pfn = iovaTakeOne();
    if (pfn != 0) {
      setOne(pfn);
      pagesTaken(1);
      return <i32>pfn;
    }
  }
  let n: i32;
  if (kind == ALLOC_CALGARY) n = calgaryAlloc(npages, alignMask);
  else if (kind == ALLOC_PPC2007) n = ppcAlloc(npages, alignMask, handle);
  else if (kind == ALLOC_FIRST_FIT) n = areaAlloc(0, npages, alignMask);
  else if (kind == ALLOC_FREE_LIST) n = freeListAlloc(npages, alignMask);
  else if (isIova(kind)) n = iovaAlloc(npages, entries);
  else if (kind == ALLOC_BEST_FIT) n = bestFitAlloc(npages, alignMask);
  else if (kind == ALLOC_RING) n = ringAlloc(npages);
  else n = -1; // no such allocator (the TypeScript side only passes known codes)
  if (n >= 0) {
    setRange(<u32>n, npages);
    pagesTaken(npages);
  }
  return n;
}

/** Returns pages to the map; the count of pages that were really in use (less on a double free). */
// @ts-ignore: decorator
@inline export function freePages(first: u32, npages: u32): u32 {
  let was = npages == 1 ? clearOne(first) : clearRange(first, npages);
  pagesReturned(was);
  if (was == npages) {
    // A double free leaves the range allocated in the tree: Linux would cache the pfn twice and
    // later hand one range to two mappings; the core counts the double free instead.
    if (isIova(kind)) {
      if (npages != 1 || !iovaPutOne(first)) iovaFree(first, npages);
    } else if (kind == ALLOC_FREE_LIST && npages <= FREE_LIST_CLASSES) {
      freeListPush(first, npages);
    }
  }
  return was;
}
