// === The device's side of a page-table IOMMU: IOTLB, then the walk ===
// The IOTLB is cache.ts: 4 KiB lines tagged by IO page, 2 MiB lines tagged LARGE_TAG | region
// (one line covers the 512 pages of its leaf). A lookup tries the page's line, then its region's
// (only once a large leaf exists: before that no 2 MiB line can be there). A hit is checked
// against what the table holds now: a different word is a stale hit (the translation the driver
// removed but did not invalidate yet); while stale lines are tracked, the line's own stale bit
// says so without a software walk. A miss walks the table (radix.ts ptWalk, counting reads and
// walk-cache hits) and fills the line the leaf's size calls for.

import { ACCESS_FAULT, ACCESS_HIT, ACCESS_MISS, ACCESS_STALE } from "../constants";
import { stats } from "../counters";
import { cacheEnabled, cacheInsert, cacheLookup, cacheTracking, LARGE_TAG, slotStale, slotWord } from "../cache";
import { ptLargeEver, ptLineWord, ptPermits, ptWalk, ptWalkEndedLarge } from "./radix";

export function translatePaged(page: u32, write: bool): i32 {
  if (cacheEnabled()) {
    let tag = page;
    let slot = cacheLookup(tag);
    if (slot == 0 && ptLargeEver()) {
      tag = LARGE_TAG | (page >> 9);
      slot = cacheLookup(tag);
    }
    if (slot != 0) {
      let cached = slotWord(slot);
      if (!ptPermits(cached, write)) {
        stats.faults++;
        return ACCESS_FAULT;
      }
      // tracking (the priced model) keeps each line's staleness as the table changes: no walk needed
      if (cacheTracking() ? slotStale(slot) : cached != ptLineWord(tag)) {
        stats.staleHits++;
        return ACCESS_STALE;
      }
      stats.hits++;
      return ACCESS_HIT;
    }
  }
  let leaf = ptWalk(page);
  if (!ptPermits(leaf, write)) {
    stats.faults++;
    return ACCESS_FAULT;
  }
  if (cacheEnabled()) cacheInsert(ptWalkEndedLarge() ? LARGE_TAG | (page >> 9) : page, leaf);
  stats.misses++;
  return ACCESS_MISS;
}
