// Reference model of drivers/iommu/iova.c (v6.x): the top-down allocator and its per-CPU
// magazines, written against ../shared/reference/linux-semantics.md §6. The tree is a sorted
// array here (rb_prev / rb_next are index ∓ 1): addresses, cached-node moves and magazine contents
// must match the WASM red-black tree exactly; how many nodes a search touches is the tree's own
// business and is not compared.

import { IOVA_MAG_SIZE } from "../abi.js";

const RANGE_CACHE_MAX_SIZE = 6;
const ANCHOR_PFN = 0xffffffff;
const START_PFN = 1;
const DMA_32BIT_PFN = 1 << 20;

interface Range {
  lo: number;
  hi: number;
}

/** order_base_2 */
const sizeClass = (size: number) => (size <= 1 ? 0 : 32 - Math.clz32(size - 1));

export class ReferenceIova {
  /** Allocated ranges in address order, the anchor last. */
  private readonly ranges: Range[] = [{ lo: ANCHOR_PFN, hi: ANCHOR_PFN }];
  private cached32: Range;
  private max32AllocSize = DMA_32BIT_PFN;
  private cpu = 0;
  /** [cpu][class] */
  private readonly loaded: number[][][];
  private readonly prev: number[][][];
  private readonly depot: number[][][] = Array.from({ length: RANGE_CACHE_MAX_SIZE }, () => []);
  rcacheHits = 0;

  constructor(readonly withMagazines: boolean, readonly cpus: number) {
    this.cached32 = this.ranges[0];
    const mags = () => Array.from({ length: cpus }, () => Array.from({ length: RANGE_CACHE_MAX_SIZE }, () => [] as number[]));
    this.loaded = mags();
    this.prev = mags();
  }

  private indexOf(r: Range): number {
    let a = 0;
    let b = this.ranges.length - 1;
    while (a < b) {
      const m = (a + b) >> 1;
      if (this.ranges[m].lo < r.lo) a = m + 1;
      else b = m;
    }
    return a;
  }

  /** __alloc_and_insert_iova_range(size, limit, size_aligned = true). */
  private treeAlloc(size: number, limit: number): number {
    if (size >= this.max32AllocSize) return -1;
    const align = size <= 1 ? 1 : 2 ** (32 - Math.clz32(size - 1));
    let high = limit;
    let low = START_PFN;
    let i = this.indexOf(this.cached32);
    const retryPfn = this.cached32.hi;
    let first = 0;
    let prevIndex = i;
    for (;;) {
      // walk down from range i
      for (;;) {
        high = Math.min(high, this.ranges[i].lo);
        first = high >= size ? Math.floor((high - size) / align) * align : -1;
        prevIndex = i;
        i--;
        if (!(i >= 0 && first <= this.ranges[i].hi && first >= low)) break;
      }
      if (high < size || first < low) {
        if (low === START_PFN && retryPfn < limit) {
          high = limit;
          low = retryPfn + 1;
          i = this.ranges.findIndex((r) => r.hi >= limit); // iova_find_limit
          continue;
        }
        this.max32AllocSize = size;
        return -1;
      }
      break;
    }
    const node = { lo: first, hi: first + size - 1 };
    this.ranges.splice(prevIndex, 0, node);
    this.cached32 = node;
    return first;
  }

  private treeFree(pfn: number): void {
    const k = this.ranges.findIndex((r) => r.lo <= pfn && pfn <= r.hi);
    if (k < 0) return;
    const r = this.ranges[k];
    if (r === this.cached32 || r.lo >= this.cached32.lo) this.cached32 = this.ranges[k + 1];
    this.max32AllocSize = DMA_32BIT_PFN;
    this.ranges.splice(k, 1);
  }

  reserve(first: number, last: number): void {
    const node = { lo: first, hi: last };
    this.ranges.splice(this.indexOf(node), 0, node);
  }

  /** alloc_iova_fast(npages, entries − 1, flush_rcache = true). */
  alloc(npages: number, entries: number): number {
    const size = npages < 32 ? 2 ** sizeClass(npages) : npages;
    if (this.withMagazines) {
      const pfn = this.rcacheGet(size, entries);
      if (pfn !== 0) {
        this.rcacheHits++;
        return pfn;
      }
    }
    let n = this.treeAlloc(size, entries);
    if (n < 0 && this.withMagazines) {
      this.flushRcaches();
      n = this.treeAlloc(size, entries);
    }
    return n;
  }

  /** free_iova_fast */
  free(pfn: number, npages: number): void {
    if (this.withMagazines && this.rcacheInsert(pfn, npages)) return;
    this.treeFree(pfn);
  }

  private rcacheGet(size: number, limit: number): number {
    const c = sizeClass(size);
    if (c >= RANGE_CACHE_MAX_SIZE) return 0;
    const L = this.loaded[this.cpu];
    const P = this.prev[this.cpu];
    if (L[c].length === 0) {
      if (P[c].length !== 0) {
        [L[c], P[c]] = [P[c], L[c]];
      } else if (this.depot[c].length !== 0) {
        L[c] = this.depot[c].pop()!;
      } else {
        return 0;
      }
    }
    // iova_magazine_pop: highest slot at or below the limit, replaced by the last
    const mag = L[c];
    const max = limit - size;
    let i = mag.length - 1;
    while (mag[i] > max) {
      if (i === 0) return 0;
      i--;
    }
    const pfn = mag[i];
    mag[i] = mag[mag.length - 1];
    mag.pop();
    return pfn;
  }

  private rcacheInsert(pfn: number, size: number): boolean {
    const c = sizeClass(size);
    if (c >= RANGE_CACHE_MAX_SIZE) return false;
    const L = this.loaded[this.cpu];
    const P = this.prev[this.cpu];
    if (L[c].length === IOVA_MAG_SIZE) {
      if (P[c].length !== IOVA_MAG_SIZE) {
        [L[c], P[c]] = [P[c], L[c]];
      } else {
        this.depot[c].push(L[c]);
        L[c] = [];
      }
    }
    L[c].push(pfn);
    return true;
  }

  private freePfns(mag: number[]): void {
    for (const pfn of mag) this.treeFree(pfn);
    mag.length = 0;
  }

  private flushRcaches(): void {
    for (let k = 0; k < this.cpus; k++) {
      for (let c = 0; c < RANGE_CACHE_MAX_SIZE; c++) {
        this.freePfns(this.loaded[k][c]);
        this.freePfns(this.prev[k][c]);
      }
    }
    for (const d of this.depot) {
      while (d.length > 0) this.freePfns(d.pop()!);
    }
  }

  depotWork(): number {
    if (!this.withMagazines) return 0;
    let done = 0;
    for (const d of this.depot) {
      if (d.length > this.cpus) {
        this.freePfns(d.pop()!);
        done++;
      }
    }
    return done;
  }

  setCpu(cpu: number): void {
    this.cpu = cpu;
  }

  get treeNodes(): number {
    return this.ranges.length - 1;
  }

  get magazines(): number {
    if (!this.withMagazines) return 0;
    return 2 * RANGE_CACHE_MAX_SIZE * this.cpus + this.depot.reduce((s, d) => s + d.length, 0);
  }

  get cachedPfns(): number {
    if (!this.withMagazines) return 0;
    let n = 0;
    for (let k = 0; k < this.cpus; k++) {
      for (let c = 0; c < RANGE_CACHE_MAX_SIZE; c++) n += this.loaded[k][c].length + this.prev[k][c].length;
    }
    return n + this.depot.reduce((s, d) => s + d.length * IOVA_MAG_SIZE, 0);
  }

  largestGap(limit: number): number {
    let best = 0;
    let below = START_PFN;
    for (const r of this.ranges) {
      const l = Math.min(r.lo, limit);
      if (l > below) best = Math.max(best, l - below);
      if (r.hi !== ANCHOR_PFN) below = Math.max(below, r.hi + 1);
    }
    return best;
  }
}
