// Reference device-side translation cache: sets of ways, least recently used evicted,
// an empty way taken first (lowest index). With a page table (`pageTable`), 2 MiB lines are
// tagged LARGE_TAG + region, a page's invalidation drops its region's 2 MiB line too, and every
// invalidation reaches the walk cache (assembly/cache.ts).

import { LARGE_TAG, type ReferencePageTable } from "./pgtable.js";

interface Line {
  page: number;
  word: bigint;
  lastUse: number;
}

export class ReferenceCache {
  private readonly sets: Array<Array<Line | null>>;
  private clock = 0;
  evictions = 0;

  constructor(entries: number, readonly ways: number, private readonly pageTable: ReferencePageTable | null = null) {
    const nsets = entries === 0 ? 0 : entries / ways;
    this.sets = Array.from({ length: nsets }, () => new Array<Line | null>(ways).fill(null));
  }

  get enabled(): boolean {
    return this.sets.length > 0;
  }

  private setOf(page: number): Array<Line | null> {
    return this.sets[page % this.sets.length];
  }

  lookup(page: number): Line | undefined {
    const line = this.setOf(page).find((l) => l !== null && l.page === page);
    if (line) line.lastUse = ++this.clock;
    return line ?? undefined;
  }

  insert(page: number, word: bigint): void {
    const set = this.setOf(page);
    let victim = set.indexOf(null);
    if (victim < 0) {
      victim = 0;
      set.forEach((l, i) => {
        if (l!.lastUse < set[victim]!.lastUse) victim = i;
      });
      this.evictions++;
    }
    set[victim] = { page, word, lastUse: ++this.clock };
  }

  invalidate(page: number): void {
    if (this.pageTable) {
      this.pageTable.walkCacheInvalidate(page);
      this.drop(LARGE_TAG + Math.floor(page / 512));
    }
    this.drop(page);
  }

  private drop(page: number): void {
    if (!this.enabled) return;
    const set = this.setOf(page);
    set.forEach((l, i) => {
      if (l !== null && l.page === page) set[i] = null;
    });
  }

  /**
   * assembly/cache.ts cacheInvalidateRange: a page-selective invalidation of [first, first + count):
   * its 4 KiB lines and, with a page table, the 2 MiB and walk-cache lines of the regions it touches.
   */
  invalidateRange(first: bigint, count: bigint): void {
    if (count === 0n) return;
    const end = first + count;
    const [r0, r1] = [first / 512n, (end - 1n) / 512n];
    for (const set of this.sets) {
      set.forEach((l, i) => {
        if (l === null) return;
        const large = l.page >= LARGE_TAG;
        const key = BigInt(large ? l.page - LARGE_TAG : l.page);
        if (large ? key >= r0 && key <= r1 : key >= first && key < end) set[i] = null;
      });
    }
    this.pageTable?.walkCacheInvalidateRegions(r0, r1);
  }

  invalidateAll(): void {
    this.pageTable?.walkCacheInvalidate(null);
    for (const set of this.sets) set.fill(null);
  }

  lines(): Line[] {
    return this.sets.flatMap((set) => set.filter((l): l is Line => l !== null));
  }

  occupancy(): number {
    return this.sets.reduce((n, set) => n + set.filter((l) => l !== null).length, 0);
  }
}
