// === Paging-structure cache: the device's cache of level-2 entries (pointers to leaf tables) ===
// On an IOTLB miss the IOMMU walks from the root; VT-d's paging-structure caches, AMD's PDE cache
// and the SMMU's walk cache keep upper-level entries so the next walk in the same 2 MiB region
// reads only the leaf. Modelled: WALK_CACHE_ENTRIES lines, direct-mapped by 2 MiB region, holding
// "this region has a leaf table"; a hit makes the walk one read. Invalidated with the IOTLB (an
// invalidate-all drops every line; a page invalidation drops its region's line). Its size is
// not published for any of the three: 32 lines is an assumption. Its own staleness is not
// modelled: a hit whose region no longer has a leaf table walks from the root (Linux frees table
// pages only after the invalidation that drops such lines).
//
//   ╒═ line 0: region + 1 (u32, 0 = empty) ═╤═ line 1 ═╤═ … ═╤═ line 31 ═╕
//   ╘════════════════════════════════════════╧══════════╧═════╧═══════════╛

// @ts-ignore: decorator
@inline export const WALK_CACHE_ENTRIES: u32 = 32;

/** Bytes of linear memory the lines take (laid out by radix.ts before its table pool). */
// @ts-ignore: decorator
@inline export const WALK_CACHE_BYTES: u32 = WALK_CACHE_ENTRIES << 2;

/** 0 while no page-table format is configured: every call is then a no-op. */
let lines: usize = 0;

export function walkCacheInit(base: usize): void {
  lines = base;
  walkCacheInvalidateAll();
}

// @ts-ignore: decorator
@inline function lineAt(region: u32): usize {
  return lines + (<usize>(region & (WALK_CACHE_ENTRIES - 1)) << 2);
}

export function walkCacheInvalidateAll(): void {
  if (lines != 0) memory.fill(lines, 0, WALK_CACHE_BYTES);
}

export function walkCacheInvalidateRegion(region: u32): void {
  if (lines == 0) return;
  let at = lineAt(region);
  if (load<u32>(at) == region + 1) store<u32>(at, 0);
}

/** Drops the line of every region in [r0, r1] (a range invalidation; one pass over the lines). */
export function walkCacheInvalidateRegions(r0: u64, r1: u64): void {
  if (lines == 0) return;
  for (let i: u32 = 0; i < WALK_CACHE_ENTRIES; i++) {
    let at = lines + (<usize>i << 2);
    let v = load<u32>(at);
    if (v != 0 && <u64>(v - 1) >= r0 && <u64>(v - 1) <= r1) store<u32>(at, 0);
  }
}

// @ts-ignore: decorator
@inline export function walkCacheHas(region: u32): bool {
  return load<u32>(lineAt(region)) == region + 1;
}

// @ts-ignore: decorator
@inline export function walkCacheFill(region: u32): void {
  store<u32>(lineAt(region), region + 1);
}

/** Back to "no page-table format" (flat tables): the invalidations become no-ops again. */
export function walkCacheOff(): void {
  lines = 0;
}
