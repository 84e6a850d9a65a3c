// === Device-side translation cache: Calgary's TCE cache, DART's TLB ===
// Set-associative, LRU. It holds a copy of the table word it was filled with, so a later
// change of the table (a free, a remap) is invisible to the device until the line is invalidated:
// that copy is the exposure deferred flushing trades for speed.
//
//   set s = io page & (sets − 1); ways of a set are contiguous:
//   ╒════════════════╤════════════════╤══════════════════════════════╕
//   │ tag u32 (@0)   │ stale u32 (@4) │ lru u64 (@8) │ word u64 (@16) │   × ways × sets
//   ╘════════════════╧════════════════╧══════════════════════════════╛
//   tag: io page, EMPTY_TAG when invalid. lru: global touch stamp, oldest is evicted.
//   stale: the copy differs from the table (kept only while tracking, for the priced model's
//   exposure: counting stale lines by a scan per operation would cost more than the operation).

//
// Page-table formats (pgtable/): a 2 MiB leaf fills one line tagged LARGE_TAG | (page >> 9), which
// translates all 512 pages of its region (set = region & (sets − 1)); a page's lookup tries its
// 4 KiB tag first, then its region's 2 MiB tag. Invalidating a page drops both, and the walk
// cache's line for its region (walkcache.ts); invalidating all drops the walk cache too.

import { stats } from "./counters";
import { walkCacheInvalidateAll, walkCacheInvalidateRegion, walkCacheInvalidateRegions } from "./pgtable/walkcache";

/** Tag bit of a 2 MiB line (IO pages stay below 2^20, so no page tag has it). */
// @ts-ignore: decorator
@inline export const LARGE_TAG: u32 = 0x80000000;

// @ts-ignore: decorator
@inline export const SLOT_SIZE: u32 = 24;
// @ts-ignore: decorator
@inline const EMPTY_TAG: u32 = 0xffffffff;
// @ts-ignore: decorator
@inline const TAG: u32 = 0;
// @ts-ignore: decorator
@inline const LRU: u32 = 8;
// @ts-ignore: decorator
@inline const STALE: u32 = 4;
// @ts-ignore: decorator
@inline const WORD: u32 = 16;

let cacheBase: usize = 0;
let setMask: u32 = 0;
let ways: u32 = 0;
let stamp: u64 = 0;
/** Keep `staleCount` as the table changes (off unless the priced model asks). */
let tracking: bool = false;
let staleCount: u32 = 0;
/** Page-table formats: lines may be 2 MiB (see the header). */
let largeLines: bool = false;

export function cacheInit(base: usize, nsets: u32, nways: u32, large: bool = false): void {
  largeLines = large;
  cacheBase = base;
  setMask = nsets - 1;
  ways = nways;
  stamp = 0;
  tracking = false;
  cacheInvalidateAll();
}

/** Starts counting stale lines incrementally (on an empty or freshly flushed cache). */
export function cacheTrackStale(): void {
  cacheInvalidateAll();
  tracking = ways != 0;
}

export function cacheTracking(): bool {
  return tracking;
}

/** Lines whose copy differs from the table, as kept by tracking. */
// @ts-ignore: decorator
@inline export function cacheStaleCount(): u32 {
  return staleCount;
}

/**
 * Table entry `page` now holds `word`: a cached copy of it becomes stale or current again.
 * Called on every entry write while tracking; one set probe, no LRU touch.
 */
// @ts-ignore: decorator
@inline export function cacheNoteWrite(page: u32, word: u64): void {
  if (!tracking) return;
  let s = setBase(page);
  for (let i: u32 = 0; i < ways; i++) {
    let slot = s + <usize>(i * SLOT_SIZE);
    if (load<u32>(slot, TAG) == page) {
      let was = load<u32>(slot, STALE);
      let now: u32 = load<u64>(slot, WORD) != word ? 1 : 0;
      store<u32>(slot, now, STALE);
      staleCount += now - was;
      return;
    }
  }
}

// @ts-ignore: decorator
@inline export function cacheEnabled(): bool {
  return ways != 0;
}

// @ts-ignore: decorator
@inline function setBase(page: u32): usize {
  return cacheBase + <usize>((page & setMask) * ways * SLOT_SIZE);
}

/** The slot holding `page`, or 0. A found slot becomes most recently used. */
export function cacheLookup(page: u32): usize {
  let s = setBase(page);
  for (let i: u32 = 0; i < ways; i++) {
    let slot = s + <usize>(i * SLOT_SIZE);
    if (load<u32>(slot, TAG) == page) {
      store<u64>(slot, ++stamp, LRU);
      return slot;
    }
  }
  return 0;
}

// @ts-ignore: decorator
@inline export function slotWord(slot: usize): u64 {
  return load<u64>(slot, WORD);
}

/** While tracking: the line's copy differs from the table (kept exact by cacheNoteWrite). */
// @ts-ignore: decorator
@inline export function slotStale(slot: usize): bool {
  return load<u32>(slot, STALE) != 0;
}

/** Fills `page` after a walk: first empty way, else the least recently used one. */
export function cacheInsert(page: u32, word: u64): void {
  let s = setBase(page);
  let victim = s;
  let oldest: u64 = <u64>-1;
  let evict = true;
  for (let i: u32 = 0; i < ways; i++) {
    let slot = s + <usize>(i * SLOT_SIZE);
    if (load<u32>(slot, TAG) == EMPTY_TAG) {
      victim = slot;
      evict = false;
      break;
    }
    let t = load<u64>(slot, LRU);
    if (t < oldest) {
      oldest = t;
      victim = slot;
    }
  }
  if (evict) {
    stats.cacheEvictions++;
    if (tracking) staleCount -= load<u32>(victim, STALE);
  }
  store<u32>(victim, page, TAG);
  store<u32>(victim, 0, STALE);
  store<u64>(victim, ++stamp, LRU);
  store<u64>(victim, word, WORD);
}

export function cacheInvalidateOne(page: u32): void {
  if (largeLines) {
    invalidateTag(LARGE_TAG | (page >> 9));
    walkCacheInvalidateRegion(page >> 9);
  }
  invalidateTag(page);
}

function invalidateTag(page: u32): void {
  let s = setBase(page);
  for (let i: u32 = 0; i < ways; i++) {
    let slot = s + <usize>(i * SLOT_SIZE);
    if (load<u32>(slot, TAG) == page) {
      store<u32>(slot, EMPTY_TAG, TAG);
      if (tracking) staleCount -= load<u32>(slot, STALE);
    }
  }
}

/**
 * A page-selective invalidation of IO pages [first, first + count) (VT-d PSI, AMD
 * INVALIDATE_IOMMU_PAGES, SMMUv3 TLBI by VA): every 4 KiB line in the range and, on page tables,
 * every 2 MiB line and walk-cache line of a region the range touches. A range of at least as many
 * pages (regions) as the cache has sets — a power-of-two block can be far larger than the cache,
 * or than the IO space — is done by one scan of the lines instead of a probe per page.
 */
export function cacheInvalidateRange(first: u64, count: u64): void {
  if (count == 0) return;
  let end = first + count;
  if (end < first) end = <u64>-1; // the range runs past 2^64 bytes' pages: to the top
  let sets = <u64>(setMask + 1);
  if (count < sets) {
    for (let p = first; p < end && p < <u64>LARGE_TAG; p++) invalidateTag(<u32>p); // no page tag reaches bit 31
  } else {
    scanInvalidate(false, first, end);
  }
  if (!largeLines) return;
  let r0 = first >> 9;
  let r1 = (end - 1) >> 9;
  if (r1 - r0 < sets) {
    for (let r = r0; r <= r1 && r < <u64>LARGE_TAG; r++) invalidateTag(LARGE_TAG | <u32>r);
  } else {
    scanInvalidate(true, r0, r1 + 1);
  }
  walkCacheInvalidateRegions(r0, r1);
}

/** Drops every 4 KiB line (or, `large`, every 2 MiB line) whose page (region) is in [from, to). */
function scanInvalidate(large: bool, from: u64, to: u64): void {
  let n = (setMask + 1) * ways;
  for (let i: u32 = 0; i < n; i++) {
    let slot = cacheBase + <usize>(i * SLOT_SIZE);
    let tag = load<u32>(slot, TAG);
    if (tag == EMPTY_TAG || ((tag & LARGE_TAG) != 0) != large) continue;
    let key = <u64>(tag & ~LARGE_TAG);
    if (key >= from && key < to) {
      store<u32>(slot, EMPTY_TAG, TAG);
      if (tracking) staleCount -= load<u32>(slot, STALE);
    }
  }
}

export function cacheInvalidateAll(): void {
  let n = (setMask + 1) * ways;
  for (let i: u32 = 0; i < n; i++) store<u32>(cacheBase + <usize>(i * SLOT_SIZE), EMPTY_TAG, TAG);
  staleCount = 0;
  walkCacheInvalidateAll();
}

/** Lines whose copy differs from the table now (stale: usable by the device, unknown to the driver). */
export function cacheStaleLines(current: (page: u32) => u64): u32 {
  let n = (setMask + 1) * ways;
  let stale: u32 = 0;
  for (let i: u32 = 0; i < n; i++) {
    let slot = cacheBase + <usize>(i * SLOT_SIZE);
    let tag = load<u32>(slot, TAG);
    if (tag != EMPTY_TAG && load<u64>(slot, WORD) != current(tag)) stale++;
  }
  return stale;
}

/** Lines currently holding a translation (for exposure figures). */
export function cacheOccupancy(): u32 {
  let n = (setMask + 1) * ways;
  let used: u32 = 0;
  for (let i: u32 = 0; i < n; i++) {
    if (load<u32>(cacheBase + <usize>(i * SLOT_SIZE), TAG) != EMPTY_TAG) used++;
  }
  return used;
}
