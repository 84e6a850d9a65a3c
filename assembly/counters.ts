// === Statistics: plain u64 counters in linear memory ===
// The TypeScript side reads them through a view at `countersPtr()`, in this order
// (bindings/abi.ts keeps the names). Counting never branches on anything but the event itself.

// @ts-ignore: decorator
@inline export const C_MAPS: u32 = 0;            // successful map_single
// @ts-ignore: decorator
@inline export const C_UNMAPS: u32 = 1;          // unmap_single calls (incl. bad and double frees)
// @ts-ignore: decorator
@inline export const C_MAP_SGS: u32 = 2;         // successful map_sg
// @ts-ignore: decorator
@inline export const C_UNMAP_SGS: u32 = 3;
// @ts-ignore: decorator
@inline export const C_ALLOCS: u32 = 4;          // successful alloc_coherent
// @ts-ignore: decorator
@inline export const C_FREES: u32 = 5;           // free_coherent calls
// @ts-ignore: decorator
@inline export const C_PAGES_MAPPED: u32 = 6;
// @ts-ignore: decorator
@inline export const C_PAGES_UNMAPPED: u32 = 7;
// @ts-ignore: decorator
@inline export const C_TCE_WRITES: u32 = 8;      // table entries stored (build and free)
// @ts-ignore: decorator
@inline export const C_WORDS_SCANNED: u32 = 9;   // 64-bit bitmap words loaded by the allocator's searches
// @ts-ignore: decorator
@inline export const C_WRAPS: u32 = 10;          // allocator restarts from the start of its range
// @ts-ignore: decorator
@inline export const C_FLUSHES: u32 = 11;        // whole-cache invalidations (Calgary blast, DART invalidate-all)
// @ts-ignore: decorator
@inline export const C_ENTRY_INVALIDATIONS: u32 = 12; // single-entry invalidations (DART U4)
// @ts-ignore: decorator
@inline export const C_ACCESSES: u32 = 13;       // device page accesses translated
// @ts-ignore: decorator
@inline export const C_HITS: u32 = 14;
// @ts-ignore: decorator
@inline export const C_MISSES: u32 = 15;
// @ts-ignore: decorator
@inline export const C_STALE_HITS: u32 = 16;
// @ts-ignore: decorator
@inline export const C_FAULTS: u32 = 17;
// @ts-ignore: decorator
@inline export const C_MAP_FAILURES: u32 = 18;   // IOMMU full (or order too large for a coherent buffer)
// @ts-ignore: decorator
@inline export const C_BAD_FREES: u32 = 19;
// @ts-ignore: decorator
@inline export const C_DOUBLE_FREES: u32 = 20;
// @ts-ignore: decorator
@inline export const C_CACHE_EVICTIONS: u32 = 21;
// @ts-ignore: decorator
@inline export const C_PAGES_IN_USE: u32 = 22;   // gauge: IO pages allocated now (reserved ranges excluded)
// @ts-ignore: decorator
@inline export const C_PEAK_PAGES_IN_USE: u32 = 23;
// @ts-ignore: decorator
@inline export const N_COUNTERS: u32 = 24;

/** Base of the counter block; set once by layout.ts. */
export let countersBase: usize = 0;

export function setCountersBase(base: usize): void {
  countersBase = base;
}

/** Adds `by` to counter `slot`. */
// @ts-ignore: decorator
@inline export function bump(slot: u32, by: u64 = 1): void {
  let p = countersBase + (<usize>slot << 3);
  store<u64>(p, load<u64>(p) + by);
}

// @ts-ignore: decorator
@inline export function counter(slot: u32): u64 {
  return load<u64>(countersBase + (<usize>slot << 3));
}

/** Pages-in-use gauge with its peak, kept beside the event counters. */
// @ts-ignore: decorator
@inline export function pagesTaken(n: u32): void {
  let now = counter(C_PAGES_IN_USE) + n;
  store<u64>(countersBase + (<usize>C_PAGES_IN_USE << 3), now);
  if (now > counter(C_PEAK_PAGES_IN_USE)) store<u64>(countersBase + (<usize>C_PEAK_PAGES_IN_USE << 3), now);
}

// @ts-ignore: decorator
@inline export function pagesReturned(n: u32): void {
  store<u64>(countersBase + (<usize>C_PAGES_IN_USE << 3), counter(C_PAGES_IN_USE) - n);
}

export function resetCounters(): void {
  memory.fill(countersBase, 0, <usize>N_COUNTERS << 3);
}
