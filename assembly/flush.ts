// === FlushPolicy: when the device-side cache learns that the table changed ===
// The hooks sit where the drivers have them: the allocator's wrap (Calgary's tce_cache_blast),
// the per-page build (DART U4 invalidate-one), and the end of each DMA-API call
// (PowerPC's tce_flush hook: DART U3 invalidates all if a build made the TLB dirty).
// FLUSH_NEVER is every hook doing nothing. FLUSH_END_OF_BURST is rIOMMU's rule (riommu/ring.ts):
// unmaps invalidate nothing; the first build after one or more unmaps ends the burst with one
// invalidate-all, before the new entry is handed to the driver. On the queued interfaces (VT-d,
// AMD-Vi, SMMUv3) a flush of everything is the interface's domain-wide invalidation, and strict
// mode invalidates the range each unmap call gathered instead (assembly/invalidation/).

import { FLUSH_ALL_AFTER_MAP, FLUSH_END_OF_BURST, FLUSH_ONE_PER_PAGE, FLUSH_ON_WRAP, FLUSH_STRICT } from "./constants";
import { stats } from "./counters";
import { cacheInvalidateAll, cacheInvalidateOne } from "./cache";
import { invAfterMap, invDomain, invRange, invSync } from "./invalidation/index";

let policy: u32 = FLUSH_ON_WRAP;
/** dart_dirty: a build happened since the last flush hook. */
let dirty: bool = false;
/** FLUSH_END_OF_BURST: an unmap happened since the last invalidation. */
let burst: bool = false;
/** A queued invalidation interface invalidates (not the Calgary / DART register sequences). */
let queued: bool = false;
/** Strict mode on a queued interface: unmaps gather their pages for one range invalidation per call. */
let gathering: bool = false;

export function flushInit(p: u32, queuedInterface: bool): void {
  policy = p;
  dirty = false;
  burst = false;
  queued = queuedInterface;
  gathering = queuedInterface && p == FLUSH_STRICT;
}

/** Unmaps feed the gather (strict mode on a queued interface). */
// @ts-ignore: decorator
@inline export function flushGathers(): bool {
  return gathering;
}

export function flushPolicy(): u32 {
  return policy;
}

/** One invalidate-all of the device's cache, counted. */
export function flushAll(): void {
  stats.flushes++;
  burst = false;
  if (queued) invDomain();
  else cacheInvalidateAll();
}

/** The allocator found no room after its hint and is about to search from the start. */
export function onAllocatorWrap(): void {
  if (policy == FLUSH_ON_WRAP || policy == FLUSH_STRICT) flushAll();
}

/** Entries [first, first + npages) were just built. */
// @ts-ignore: decorator
@inline export function onBuild(first: u32, npages: u32): void {
  if (policy == FLUSH_ONE_PER_PAGE) {
    // on a queued interface (a what-if): one page-selective invalidation and its wait per page
    if (queued) for (let i: u32 = 0; i < npages; i++) invRange(<u64>(first + i), 1, true);
    else for (let i: u32 = 0; i < npages; i++) cacheInvalidateOne(first + i);
    stats.entryInvalidations += <u64>(npages);
  } else if (policy == FLUSH_ALL_AFTER_MAP) {
    dirty = true;
  } else if (policy == FLUSH_END_OF_BURST && burst) {
    flushAll();
  }
}

/** End of a DMA-API call that changed the table; `unmapped` when it freed entries. */
// @ts-ignore: decorator
@inline export function onCallEnd(unmapped: bool): void {
  if (policy == FLUSH_ALL_AFTER_MAP) {
    if (dirty) {
      dirty = false;
      flushAll();
    }
  } else if (policy == FLUSH_STRICT && unmapped) {
    if (gathering) invSync();
    else flushAll();
  } else if (policy == FLUSH_END_OF_BURST && unmapped) {
    burst = true;
  }
}

/** End of a DMA-API call that mapped (iommu_map's iotlb_sync_map). */
// @ts-ignore: decorator
@inline export function onMapped(): void {
  if (queued) invAfterMap();
}
