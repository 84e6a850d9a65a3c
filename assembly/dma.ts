// === The Linux DMA API over the modelled IOMMU ===
// map_single / unmap_single, map_sg / unmap_sg, alloc_coherent / free_coherent, and the device's
// side: an access through the translation cache. Mapping results are entry indices (IO page
// numbers); the caller adds the offset-in-page to form the DMA address, as the drivers do.

import {
  ACCESS_FAULT, ACCESS_HIT, ACCESS_MISS, ACCESS_STALE, ALLOC_CALGARY, ALLOC_PPC2007, DMA_BIDIRECTIONAL, FORMAT_RIOMMU, isIova,
  FREE_BAD, FREE_DOUBLE, FREE_OK, IO_PAGE_MASK, IO_PAGE_SHIFT, NO_ENTRY,
} from "./constants";
import { stats } from "./counters";
import { allocatorBoundary, allocPages, freePages } from "./allocator";
import { buildEntries, clearEntries, isPageTable, permits, readEntry, tableFormat } from "./table";
import { translatePaged } from "./pgtable/iotlb";
import { cacheEnabled, cacheInsert, cacheLookup, slotWord } from "./cache";
import { flushGathers, onBuild, onCallEnd, onMapped } from "./flush";
import { invGatherAdd } from "./invalidation/index";
import { flushQueueAdd } from "./flushqueue";

let entries: u32 = 0;
let allocKind: u32 = ALLOC_CALGARY;
/** Frees of DMA addresses below this are ignored (Calgary: the 32 emergency pages, 0x20000). */
let badFreeBelow: u32 = 0;
/** Next physical page handed to alloc_coherent (a bump allocator; physical memory is not modelled). */
let physNext: u64 = 0;
let lastPfn: u64 = 0;
/**
 * Largest page order alloc_coherent gets from the page allocator: x86-64 MAX_ORDER 11 ⇒ 10 (4 MiB);
 * ppc64 CONFIG_FORCE_MAX_ZONEORDER 13 ⇒ 12 (16 MiB), under iommu_alloc_coherent's IOMAP_MAX_ORDER 13.
 */
let maxCoherentOrder: u32 = 10;
/** PowerPC map_sg virtual merging (CONFIG_IOMMU_VMERGE): contiguous elements form one DMA segment. */
let vmerge: bool = false;
/** Largest physical page number an entry holds (Calgary RPN 36 bits, DART 24): larger is refused. */
let maxPfn: u64 = 0;

/** FLUSH_QUEUE: unmaps queue their pages instead of freeing them (flushqueue.ts). */
let lazy: bool = false;

export function dmaInit(
  n: u32, kind: u32, badBelow: u32, coherentBasePfn: u64, lazyUnmap: bool, maxPagePfn: u64, coherentOrder: u32, merge: bool,
): void {
  maxPfn = maxPagePfn;
  maxCoherentOrder = coherentOrder;
  vmerge = merge;
  lazy = lazyUnmap;
  entries = n;
  allocKind = kind;
  badFreeBelow = badBelow;
  physNext = coherentBasePfn;
  lastPfn = 0;
}

/** The highest physical page an entry can hold. */
export function dmaMaxPfn(): u64 {
  return maxPfn;
}

/** Unmaps queue their pages (flush-queue) instead of freeing them. */
export function dmaLazy(): bool {
  return lazy;
}

export function dmaBadFreeBelow(): u32 {
  return badFreeBelow;
}

/** Pages spanned by [offset-in-page, + len): num_dma_pages / iommu_num_pages. */
// @ts-ignore: decorator
@inline export function pagesSpanned(addr: u32, len: u32): u32 {
  return <u32>((<u64>(addr & IO_PAGE_MASK) + <u64>len + IO_PAGE_MASK) >> IO_PAGE_SHIFT);
}

/**
 * A buffer of `len` bytes from `offset` in page `pfn` can be mapped: at least a byte, and its last
 * page within what an entry holds (the hardware would drop the high bits: refused instead).
 */
// @ts-ignore: decorator
@inline export function bufferFits(pfn: u64, offset: u32, len: u32): bool {
  return len != 0 && pfn + <u64>pagesSpanned(offset, len) - 1 <= maxPfn;
}

/** get_order: smallest o with 4 KiB << o ≥ bytes. */
function getOrder(bytes: u32): u32 {
  let pages = (<u64>bytes + IO_PAGE_MASK) >> IO_PAGE_SHIFT;
  let o: u32 = 0;
  while ((<u64>1 << o) < pages) o++;
  return o;
}

/** Maps one physically contiguous buffer; returns the first entry or NO_ENTRY. */
// @ts-ignore: decorator
@inline function mapPages(pfn: u64, npages: u32, dir: u32, alignMask: u32, handle: u32): i32 {
  if (npages == 0) return NO_ENTRY;
  let e = allocPages(npages, alignMask, handle);
  if (e < 0) return NO_ENTRY;
  buildEntries(<u32>e, npages, pfn, dir);
  onBuild(<u32>e, npages);
  stats.pagesMapped += <u64>(npages);
  return e;
}

/** iommu_free: range checks, clear the entries, release the bits. */
// @ts-ignore: decorator
@inline function freeAt(dma: u32, npages: u32, keepEntries: bool = false): i32 {
  let first = dma >> IO_PAGE_SHIFT;
  if (dma < badFreeBelow || <u64>first + npages > <u64>entries) {
    stats.badFrees++;
    return FREE_BAD;
  }
  if (keepEntries) {
    stats.pagesKept += <u64>npages;
  } else {
    let tablesFreed = stats.ptTablesFreed;
    clearEntries(first, npages);
    if (flushGathers()) invGatherAdd(first, npages, stats.ptTablesFreed != tablesFreed);
  }
  if (lazy && !keepEntries) {
    // a double free is counted when the queue frees it (Linux queues it all the same)
    flushQueueAdd(first, npages);
    stats.pagesUnmapped += <u64>(npages);
    return FREE_OK;
  }
  let was = freePages(first, npages);
  stats.pagesUnmapped += <u64>(npages);
  if (was != npages) {
    stats.doubleFrees++;
    return FREE_DOUBLE;
  }
  return FREE_OK;
}

// @ts-ignore: decorator
@inline export function mapSingle(pfn: u64, offset: u32, len: u32, dir: u32): i32 {
  let e = mapPages(pfn, pagesSpanned(offset, len), dir, 0, 0);
  if (e < 0) {
    stats.mapFailures++;
    return NO_ENTRY;
  }
  stats.maps++;
  onMapped();
  onCallEnd(false);
  return e;
}

// @ts-ignore: decorator
@inline export function unmapSingle(dma: u32, len: u32): i32 {
  stats.unmaps++;
  let r = freeAt(dma, pagesSpanned(dma, len));
  onCallEnd(r != FREE_BAD);
  return r;
}

/**
 * The never-free strategy's unmap: the pages go back to the allocator but their entries stay
 * valid (no TCE write, no flush) until the allocator hands them out again.
 */
export function unmapKeep(dma: u32, len: u32): i32 {
  stats.unmaps++;
  return freeAt(dma, pagesSpanned(dma, len), true);
}

// Scatter-gather lists live in the SG scratch area, one 16-byte element each:
//   ╒════════════════╤═══════════════════════════════════════╤════════════╤═════════════════════╕
//   │ pfn 0..31 @0   │ offset in page 0..11 | pfn 32..43 << 20│ len u32 @8 │ entry i32 @12 (out) │
//   ╘════════════════╧═══════════════════════════════════════╧════════════╧═════════════════════╛
// (word @4 is laid out as a batch record's w0 bits 8..31, batch.ts)
// @ts-ignore: decorator
@inline export const SG_ELEM_SIZE: u32 = 16;
// @ts-ignore: decorator
@inline const SG_PFN: u32 = 0;
// @ts-ignore: decorator
@inline const SG_OFFSET: u32 = 4;
// @ts-ignore: decorator
@inline const SG_LEN: u32 = 8;
// @ts-ignore: decorator
@inline const SG_ENTRY: u32 = 12;

// @ts-ignore: decorator
@inline export function sgPfn(el: usize): u64 {
  return (<u64>(load<u32>(el, SG_OFFSET) >> 20) << 32) | <u64>load<u32>(el, SG_PFN);
}

// @ts-ignore: decorator
@inline export function sgOffset(el: usize): u32 {
  return load<u32>(el, SG_OFFSET) & IO_PAGE_MASK;
}

/** Every element of the list can be mapped (bufferFits). */
export function sgFits(sg: usize, count: u32): bool {
  for (let i: u32 = 0; i < count; i++) {
    let el = sg + <usize>(i * SG_ELEM_SIZE);
    if (!bufferFits(sgPfn(el), sgOffset(el), load<u32>(el, SG_LEN))) return false;
  }
  return true;
}

/** Undoes the first `count` elements of a failed map_sg. */
function unwindSg(sg: usize, count: u32): void {
  for (let i: u32 = 0; i < count; i++) {
    let el = sg + <usize>(i * SG_ELEM_SIZE);
    let e = load<i32>(el, SG_ENTRY);
    if (e >= 0) {
      let npages = pagesSpanned(sgOffset(el), load<u32>(el, SG_LEN));
      clearEntries(<u32>e, npages);
      freePages(<u32>e, npages);
    }
  }
}

/** map_sg as the configured allocator's driver does it; the DMA segment count, or 0 (nothing mapped). */
export function mapSg(sg: usize, count: u32, dir: u32): u32 {
  return isIova(allocKind) ? mapSgIova(sg, count, dir) : mapSgEach(sg, count, dir);
}

/** unmap_sg as the configured allocator's driver does it. */
export function unmapSg(sg: usize, count: u32): i32 {
  return isIova(allocKind) ? unmapSgIova(sg, count) : unmapSgEach(sg, count);
}

/**
 * map_sg of the 2007 kernels: one allocation per element (Calgary; PowerPC, which passes the end
 * of the previous element as the next one's start hint). With PowerPC's virtual merging an
 * element whose DMA address continues the previous one joins its DMA segment (the allocations
 * stay per element). Returns the DMA segment count (the element count without merging), or 0
 * after undoing everything when one element does not fit.
 */
export function mapSgEach(sg: usize, count: u32, dir: u32): u32 {
  let handle: u32 = 0;
  let pages: u64 = 0;
  for (let i: u32 = 0; i < count; i++) {
    let el = sg + <usize>(i * SG_ELEM_SIZE);
    let npages = pagesSpanned(sgOffset(el), load<u32>(el, SG_LEN));
    let e = mapPages(sgPfn(el), npages, dir, 0, allocKind == ALLOC_PPC2007 ? handle : 0);
    if (e < 0) {
      // The pages were counted as mapped by mapPages; the unwind takes them back out.
      stats.pagesMapped -= <u64>(pages);
      stats.pagesUnwound += <u64>(pages);
      unwindSg(sg, i);
      for (let j: u32 = 0; j < count; j++) store<i32>(sg + <usize>(j * SG_ELEM_SIZE), NO_ENTRY, SG_ENTRY);
      stats.mapFailures++;
      return 0;
    }
    store<i32>(el, e, SG_ENTRY);
    handle = <u32>e + npages;
    pages += npages;
  }
  stats.mapSgs++;
  onMapped();
  onCallEnd(false);
  return vmerge ? mergedSegments(sg, count) : count;
}

/** ppc_iommu_map_sg's output count: a new DMA segment wherever dma_addr ≠ the previous dma_next. */
function mergedSegments(sg: usize, count: u32): u32 {
  let out: u32 = 1;
  for (let i: u32 = 1; i < count; i++) {
    let el = sg + <usize>(i * SG_ELEM_SIZE);
    let prev = el - SG_ELEM_SIZE;
    let next = ((<u64>load<i32>(prev, SG_ENTRY) << IO_PAGE_SHIFT) | sgOffset(prev)) + <u64>load<u32>(prev, SG_LEN);
    if (((<u64>load<i32>(el, SG_ENTRY) << IO_PAGE_SHIFT) | sgOffset(el)) != next) out++;
  }
  return out;
}

/**
 * iommu_dma_map_sg (drivers/iommu/dma-iommu.c): each element's length padded to whole IO pages
 * (with its offset), and the previous element padded to the segment boundary when this one would
 * cross it; ONE IOVA allocation for the sum; element i at base + the padded lengths before it +
 * its offset. (The output merging of __finalise_sg is not modelled: one address per element.)
 */
function mapSgIova(sg: usize, count: u32, dir: u32): u32 {
  let b = allocatorBoundary();
  // dma_get_seg_boundary: 0xffffffff without a configured boundary, 2^20 pages
  let boundary: u64 = b != 0 ? <u64>b : <u64>1 << 20;
  let total: u64 = 0;
  for (let i: u32 = 0; i < count; i++) {
    let el = sg + <usize>(i * SG_ELEM_SIZE);
    let npages = <u64>pagesSpanned(sgOffset(el), load<u32>(el, SG_LEN));
    let pad = (boundary - total % boundary) % boundary;
    if (pad != 0 && pad < npages) total += pad;
    store<i32>(el, <i32>total, SG_ENTRY); // relative until the allocation is known
    total += npages;
  }
  let e = total < <u64>entries ? allocPages(<u32>total, 0, 0) : -1;
  if (e < 0) {
    for (let j: u32 = 0; j < count; j++) store<i32>(sg + <usize>(j * SG_ELEM_SIZE), NO_ENTRY, SG_ENTRY);
    stats.mapFailures++;
    return 0;
  }
  // iommu_map_sg: elements that continue the previous one in IO space and in physical memory
  // are mapped by one iommu_map call, so a page-table format can give the run large leaves.
  let runFirst: u32 = 0;
  let runPfn: u64 = 0;
  let runPages: u32 = 0;
  for (let i: u32 = 0; i < count; i++) {
    let el = sg + <usize>(i * SG_ELEM_SIZE);
    let first = <u32>e + <u32>load<i32>(el, SG_ENTRY);
    let npages = pagesSpanned(sgOffset(el), load<u32>(el, SG_LEN));
    let pfn = sgPfn(el);
    if (runPages != 0 && first == runFirst + runPages && pfn == runPfn + <u64>runPages) {
      runPages += npages;
    } else {
      if (runPages != 0) mapRun(runFirst, runPages, runPfn, dir);
      runFirst = first;
      runPfn = pfn;
      runPages = npages;
    }
    store<i32>(el, <i32>first, SG_ENTRY);
  }
  mapRun(runFirst, runPages, runPfn, dir);
  stats.mapSgs++;
  onMapped();
  onCallEnd(false);
  return count;
}

/** One iommu_map call of map_sg: the entries, the build hook, the count. */
function mapRun(first: u32, npages: u32, pfn: u64, dir: u32): void {
  buildEntries(first, npages, pfn, dir);
  onBuild(first, npages);
  stats.pagesMapped += <u64>npages;
}

/**
 * iommu_dma_unmap_sg: one range, from the first element's address to the end of the last mapped
 * one (elements up to the first that holds no mapping), unmapped and freed at once: one flush.
 */
function unmapSgIova(sg: usize, count: u32): i32 {
  stats.unmapSgs++;
  if (count == 0 || load<i32>(sg, SG_ENTRY) < 0) {
    onCallEnd(false);
    return FREE_OK;
  }
  let last: u32 = 0;
  while (last + 1 < count && load<i32>(sg + <usize>((last + 1) * SG_ELEM_SIZE), SG_ENTRY) >= 0) last++;
  let start = (<u64>load<i32>(sg, SG_ENTRY) << IO_PAGE_SHIFT) | sgOffset(sg);
  let el = sg + <usize>(last * SG_ELEM_SIZE);
  let end = ((<u64>load<i32>(el, SG_ENTRY) << IO_PAGE_SHIFT) | sgOffset(el)) + <u64>load<u32>(el, SG_LEN);
  // a list whose end lies before its start names no range: a bad free
  let npages: u32 = end > start ? <u32>(((end + IO_PAGE_MASK) >> IO_PAGE_SHIFT) - (start >> IO_PAGE_SHIFT)) : 0xffffffff;
  let r = freeAt(<u32>start, npages);
  onCallEnd(r != FREE_BAD);
  return r;
}

/** unmap_sg of the 2007 kernels: frees elements in order up to the first one that holds no mapping. */
export function unmapSgEach(sg: usize, count: u32): i32 {
  stats.unmapSgs++;
  let worst = FREE_OK;
  let freed = false;
  for (let i: u32 = 0; i < count; i++) {
    let el = sg + <usize>(i * SG_ELEM_SIZE);
    let e = load<i32>(el, SG_ENTRY);
    if (e < 0) break;
    let dma = (<u32>e << IO_PAGE_SHIFT) | sgOffset(el);
    let r = freeAt(dma, pagesSpanned(dma, load<u32>(el, SG_LEN)));
    if (r != FREE_BAD) freed = true;
    if (r > worst) worst = r;
  }
  onCallEnd(freed);
  return worst;
}

/**
 * alloc_coherent: whole pages, 2^order physical pages behind them; PowerPC also aligns the IO
 * range to 2^order pages (get_iommu_order), Calgary does not. Returns the first entry.
 */
export function allocCoherent(bytes: u32): i32 {
  let order = getOrder(bytes);
  if (bytes == 0 || order > maxCoherentOrder) {
    stats.mapFailures++;
    return NO_ENTRY;
  }
  let block: u32 = 1 << order;
  let pfn = (physNext + <u64>block - 1) & ~(<u64>block - 1);
  let npages = pagesSpanned(0, bytes);
  if (pfn + <u64>block - 1 > maxPfn) {
    // the page allocator has no such memory (an entry could not hold it): dma_alloc_coherent → NULL
    stats.mapFailures++;
    return NO_ENTRY;
  }
  let alignMask: u32 = allocKind == ALLOC_PPC2007 ? block - 1 : 0;
  let e = mapPages(pfn, npages, DMA_BIDIRECTIONAL, alignMask, 0);
  if (e < 0) {
    stats.mapFailures++;
    return NO_ENTRY;
  }
  physNext = pfn + <u64>block;
  lastPfn = pfn;
  stats.allocs++;
  onMapped();
  onCallEnd(false);
  return e;
}

/** Physical page of the last successful alloc_coherent (f64: up to 2^44, exact in JS). */
export function coherentPfn(): f64 {
  return <f64>lastPfn;
}

export function freeCoherent(dma: u32, bytes: u32): i32 {
  stats.frees++;
  let r = freeAt(dma, pagesSpanned(0, bytes));
  onCallEnd(r != FREE_BAD);
  return r;
}

/** One device access to IO page `page`. */
function translate(page: u32, write: bool): i32 {
  if (page >= entries) {
    stats.faults++;
    return ACCESS_FAULT;
  }
  if (isPageTable(tableFormat())) return translatePaged(page, write);
  let now = readEntry(page);
  if (cacheEnabled()) {
    let slot = cacheLookup(page);
    if (slot != 0) {
      let cached = slotWord(slot);
      if (!permits(cached, write)) {
        stats.faults++;
        return ACCESS_FAULT;
      }
      if (cached != now) {
        stats.staleHits++;
        return ACCESS_STALE;
      }
      stats.hits++;
      return ACCESS_HIT;
    }
  }
  if (!permits(now, write)) {
    stats.faults++;
    return ACCESS_FAULT;
  }
  if (cacheEnabled()) {
    cacheInsert(page, now);
    if (tableFormat() == FORMAT_RIOMMU) prefetchNext(page + 1);
  }
  stats.misses++;
  return ACCESS_MISS;
}

/**
 * rIOMMU: the rIOTLB reads the ring's next rPTE along with the one it walked (riommu/ring.ts), so
 * the device's next buffer is translated without a walk; nothing is read past the ring's end or
 * from a cleared rPTE.
 */
function prefetchNext(position: u32): void {
  if (position >= entries) return;
  let next = readEntry(position);
  if (next == 0) return;
  cacheInsert(position, next);
  stats.rptePrefetches++;
}

/** A device DMA of `bytes` at `dma`; every page is translated, the worst outcome is returned. */
export function deviceAccess(dma: u32, bytes: u32, write: bool): i32 {
  return deviceAccessAt(<u64>dma, bytes, write);
}

/**
 * The same at any device address: a buffer's DMA address plus an offset (batch and priced
 * records) can pass 4 GiB, where no IO page is mapped, so every page there faults; the address
 * is not taken modulo 2^32 (which would reach whatever is mapped at the bottom of the IO space).
 */
export function deviceAccessAt(dma: u64, bytes: u32, write: bool): i32 {
  let first = dma >> IO_PAGE_SHIFT;
  let n = pagesSpanned(<u32>dma, bytes);
  stats.accesses += <u64>(n);
  let worst = ACCESS_HIT;
  for (let i: u32 = 0; i < n; i++) {
    let page = first + <u64>i;
    let r = page < <u64>entries ? translate(<u32>page, write) : fault();
    if (r > worst) worst = r;
  }
  return worst;
}

function fault(): i32 {
  stats.faults++;
  return ACCESS_FAULT;
}
