// === One-page steady state of the Calgary next-fit allocator, over locals ===
// The two steps a NIC ring repeats — free one page, take the first free page in the hint's word —
// written once for the loops that keep the hint, the counters and the bases in locals (V8 loads
// and stores WASM globals through the instance on every access): the built-in ring (ring.ts) and
// the batch's fast lane (batch.ts). Each step reports whether it could be done here; when it
// cannot (a bad or double free, a wrap, the last entry), the caller spills its locals and lets
// the general path (dma.ts, allocator.ts) do that one step, so results are the same either way.
// Valid only with the Calgary allocator and TCE format and a flush policy whose per-call hooks do
// nothing (onePageLoopsApply).

import { ALLOC_CALGARY, FLUSH_NEVER, FLUSH_ON_WRAP, FORMAT_CALGARY, IO_PAGE_SHIFT } from "./constants";
import { allocatorKind, setAllocatorHint } from "./allocator";
import { stats } from "./counters";
import { tableFormat } from "./table";
import { flushPolicy } from "./flush";
import { cacheTracking } from "./cache";
import { dmaLazy } from "./dma";
import { tceEncode } from "./tce";
import { invKind } from "./invalidation/index";
import { INV_NONE } from "./constants";

/** The configuration the one-page steps model exactly. */
export function onePageLoopsApply(): bool {
  let p = flushPolicy();
  return allocatorKind() == ALLOC_CALGARY && tableFormat() == FORMAT_CALGARY && (p == FLUSH_ON_WRAP || p == FLUSH_NEVER) &&
    !dmaLazy() && !cacheTracking() && invKind() == INV_NONE;
}

/**
 * Frees entry `first` (one page) if it is in range, not below the emergency pages and in use:
 * clears its TCE (`empty`, stored big-endian) and its bit. false: nothing done (the general path's case).
 */
// @ts-ignore: decorator
@inline export function freeOnePage(map: usize, table: usize, empty: u64, first: u32, entries: u32, badBelow: u32): bool {
  if (first >= entries || (<u64>first << IO_PAGE_SHIFT) < <u64>badBelow) return false; // a bad free
  let wordAt = map + (<usize>(first >> 6) << 3);
  let v = load<u64>(wordAt);
  let bit = <u64>1 << <u64>(first & 63);
  if ((v & bit) == 0) return false; // a double free
  store<u64>(table + (<usize>first << 3), empty);
  store<u64>(wordAt, v & ~bit);
  return true;
}

/**
 * takeOneInWord: the first free page at or after `hint` in the hint's word, if it is not the last
 * entry; marks it and writes its TCE for `pfn`, `dir`. -1: nothing done (a wrap, or the word is full).
 */
// @ts-ignore: decorator
@inline export function takeOnePage(map: usize, table: usize, hint: u32, entries: u32, pfn: u64, dir: u32): i32 {
  if (hint >= entries) return -1;
  let wordAt = map + (<usize>(hint >> 6) << 3);
  let v = load<u64>(wordAt);
  let x = ~v & (<u64>-1 << <u64>(hint & 63));
  if (x == 0) return -1;
  let one = (hint & ~63) + <u32>ctz<u64>(x);
  if (one + 1 >= entries) return -1;
  store<u64>(wordAt, v | (<u64>1 << <u64>(one & 63)));
  store<u64>(table + (<usize>one << 3), bswap<u64>(tceEncode(pfn, dir)));
  return <i32>one;
}

/** Writes back what a one-page loop kept in locals: the hint and the counters its steps move. */
// @ts-ignore: decorator
@inline export function spillOnePage(
  hint: u32, maps: u64, unmaps: u64, pagesMapped: u64, pagesUnmapped: u64, words: u64, inUse: u64, peak: u64, ranges: u64,
): void {
  stats.maps = maps;
  stats.unmaps = unmaps;
  stats.pagesMapped = pagesMapped;
  stats.pagesUnmapped = pagesUnmapped;
  stats.wordsScanned = words;
  stats.pagesInUse = inUse;
  stats.peakPagesInUse = peak;
  stats.rangesAllocated = ranges;
  setAllocatorHint(hint);
}
