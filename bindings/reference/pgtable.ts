// Reference multi-level I/O page table (VT-d second-level, AMD-Vi v1, Arm LPAE stage 1), written
// to be read against assembly/pgtable/radix.ts and the drivers it names: the same tables in the
// same order (so the same table addresses in the same entries), the same counters.

import { FORMAT_AMD_V1, FORMAT_VTD, FORMAT_VTD_FL } from "../abi.js";
import { ReferenceDeviceContext } from "./context.js";

const PT_PFN_BASE = 0x80000n;
const ADDR_MASK = 0x000ffffffffff000n;
/** Tag bit of a 2 MiB IOTLB line (assembly/cache.ts LARGE_TAG). */
export const LARGE_TAG = 0x80000000;
const WALK_CACHE_ENTRIES = 32;
const TO_DEVICE = 1;
const FROM_DEVICE = 2;

export interface PageTableCounts {
  ptWrites: number;
  ptTablesAllocated: number;
  ptTablesFreed: number;
  walkReads: number;
  walkCacheHits: number;
  largePages: number;
}

/** One format's entry layout (assembly/pgtable/vtd.ts, amd.ts, lpae.ts). */
interface EntryFormat {
  leaf(pfn: bigint, dir: number, large: boolean): bigint;
  table(tablePfn: bigint, level: number): bigint;
  present(e: bigint): boolean;
  large(e: bigint): boolean;
  /** The 4 KiB leaf for the first page of the 2 MiB region `base` (an IO page) of large leaf `e`. */
  small(e: bigint, base: number): bigint;
  permits(e: bigint, write: boolean): boolean;
}

const VTD: EntryFormat = {
  // R = 1, W = 2, PS = bit 7; to-device → R, from-device → W, both → R | W
  leaf: (pfn, dir, large) => (pfn << 12n) | (dir !== FROM_DEVICE ? 1n : 0n) | (dir !== TO_DEVICE ? 2n : 0n) | (large ? 0x80n : 0n),
  table: (t) => (t << 12n) | 3n,
  present: (e) => (e & 3n) !== 0n,
  large: (e) => (e & 0x80n) !== 0n,
  small: (e) => e & ~0x80n,
  permits: (e, write) => (e & (write ? 2n : 1n)) !== 0n,
};

const VTD_FL: EntryFormat = {
  // the x86-64 paging format: P = 1, RW = 2, US = 4, A = 0x20, D = 0x40 (writable leaves), PS = 0x80
  leaf: (pfn, dir, large) => (pfn << 12n) | 0x25n | (dir !== TO_DEVICE ? 0x42n : 0n) | (large ? 0x80n : 0n),
  table: (t) => (t << 12n) | 0x27n,
  present: (e) => (e & 1n) !== 0n,
  large: (e) => (e & 0x80n) !== 0n,
  small: (e) => e & ~0x80n,
  permits: (e, write) => (e & 1n) !== 0n && (!write || (e & 2n) !== 0n),
};

const IR = 1n << 61n;
const IW = 1n << 62n;
const AMD_ADDR = 0x000ffffffffff000n;
const amdLeaf = (pfn: bigint, dir: number) => (pfn << 12n) | 1n | (1n << 60n) | (dir !== FROM_DEVICE ? IR : 0n) | (dir !== TO_DEVICE ? IW : 0n);
/** A page of 2^order IO pages between the natural sizes: Next Level 7, size in the address bits (PAGE_SIZE_PTE). */
export const amdReplicated = (pfn: bigint, order: number, dir: number): bigint => {
  const size = 1n << BigInt(order + 12);
  return amdLeaf(0n, dir) | (((pfn << 12n) | (size - 1n)) & ~(size >> 1n) & AMD_ADDR) | 0xe00n;
};
const AMD: EntryFormat = {
  // PR = 1, FC = bit 60, IR = bit 61, IW = bit 62, Next Level in bits 9..11 (0 in a leaf, 7 replicated)
  leaf: (pfn, dir) => amdLeaf(pfn, dir),
  table: (t, level) => (t << 12n) | (BigInt(level - 1) << 9n) | 1n | IR | IW,
  present: (e) => (e & 1n) !== 0n,
  large: (e) => (e & 0xe00n) === 0n || (e & 0xe00n) === 0xe00n,
  small: (e, base) => {
    if ((e & 0xe00n) === 0n) return e;
    // the lowest clear address bit from 12 is bit order + 11
    let order = 1;
    while ((e >> BigInt(order + 11)) & 1n) order++;
    const span = (1n << BigInt(order)) - 1n;
    const pfn = ((e & AMD_ADDR) >> 12n) & ~span;
    return (e & ~(AMD_ADDR | 0xe00n)) | ((pfn + (BigInt(base) & span)) << 12n);
  },
  permits: (e, write) => (e & (write ? IW : IR)) !== 0n,
};

const LPAE: EntryFormat = {
  // nG | AF | SH inner | AP[1] | AttrIndx 1 | type (3 page, 1 block); AP[2] read-only for to-device
  leaf: (pfn, dir, large) => (pfn << 12n) | 0x800n | 0x400n | 0x300n | 0x40n | 0x4n | (dir === TO_DEVICE ? 0x80n : 0n) | (large ? 1n : 3n),
  table: (t) => (t << 12n) | 3n,
  present: (e) => (e & 1n) !== 0n,
  large: (e) => (e & 3n) === 1n,
  small: (e) => (e & ~3n) | 3n,
  permits: (e, write) => (e & 1n) !== 0n && (!write || (e & 0x80n) === 0n),
};

export class ReferencePageTable {
  private readonly f: EntryFormat;
  private readonly tables: bigint[][] = [];
  private readonly free: number[] = [];
  private readonly root: number;
  private readonly freesTables: boolean;
  private readonly amd: boolean;
  private readonly walkCache = new Array<number>(WALK_CACHE_ENTRIES).fill(-1);
  largeEver = false;
  readonly n: PageTableCounts = { ptWrites: 0, ptTablesAllocated: 0, ptTablesFreed: 0, walkReads: 0, walkCacheHits: 0, largePages: 0 };

  constructor(format: number, readonly levels: number) {
    this.f = format === FORMAT_VTD ? VTD : format === FORMAT_VTD_FL ? VTD_FL : format === FORMAT_AMD_V1 ? AMD : LPAE;
    this.freesTables = format !== FORMAT_AMD_V1;
    this.amd = format === FORMAT_AMD_V1;
    this.root = this.alloc();
    this.context = new ReferenceDeviceContext(format, levels, PT_PFN_BASE + BigInt(this.root));
  }

  /** The device's structures and their cache (context.ts): where the walk starts and how deep. */
  readonly context: ReferenceDeviceContext;

  private alloc(): number {
    const idx = this.free.length ? this.free.pop()! : this.tables.length;
    this.tables[idx] = new Array<bigint>(512).fill(0n);
    this.n.ptTablesAllocated++;
    return idx;
  }

  private freeSubtree(idx: number, level: number): void {
    if (level > 1) {
      for (const e of this.tables[idx]) if (this.f.present(e) && !this.f.large(e)) this.freeSubtree(this.child(e), level - 1);
    }
    this.free.push(idx);
    this.n.ptTablesFreed++;
  }

  private child(e: bigint): number {
    return Number(((e & ADDR_MASK) >> 12n) - PT_PFN_BASE);
  }

  private index(page: number, level: number): number {
    return Math.floor(page / 512 ** (level - 1)) % 512;
  }

  permits(e: bigint, write: boolean): boolean {
    return this.f.permits(e, write);
  }

  /** The raw entry at `level` on the walk of `page`; 0 when the walk ends above it. */
  entryAt(page: number, level: number): bigint {
    let t = this.root;
    for (let l = this.levels; l > level; l--) {
      const e = this.tables[t][this.index(page, l)];
      if (!this.f.present(e) || this.f.large(e)) return 0n;
      t = this.child(e);
    }
    return this.tables[t][this.index(page, level)];
  }

  /** The leaf translating `page` now, 0 when none. */
  leafWord(page: number): bigint {
    let t = this.root;
    for (let l = this.levels; l > 1; l--) {
      const e = this.tables[t][this.index(page, l)];
      if (!this.f.present(e)) return 0n;
      if (this.f.large(e)) return e;
      t = this.child(e);
    }
    const e = this.tables[t][this.index(page, 1)];
    return this.f.present(e) ? e : 0n;
  }

  /** What an IOTLB line tagged `tag` should hold. */
  lineWord(tag: number): bigint {
    return tag >= LARGE_TAG ? this.entryAt((tag - LARGE_TAG) * 512, 2) : this.leafWord(tag);
  }

  /** The level-`downTo` table on `page`'s walk, created as needed (a large leaf in the way split). */
  private tableFor(page: number, downTo: number): number {
    let t = this.root;
    for (let l = this.levels; l > downTo; l--) {
      const i = this.index(page, l);
      const e = this.tables[t][i];
      if (!this.f.present(e)) {
        const idx = this.alloc();
        this.tables[t][i] = this.f.table(PT_PFN_BASE + BigInt(idx), l);
        this.n.ptWrites++;
        t = idx;
      } else if (this.f.large(e)) {
        const idx = this.alloc();
        const small = this.f.small(e, page - (page % 512));
        for (let k = 0; k < 512; k++) this.tables[idx][k] = small + (BigInt(k) << 12n);
        this.tables[t][i] = this.f.table(PT_PFN_BASE + BigInt(idx), 2);
        this.n.ptWrites += 513;
        t = idx;
      } else {
        t = this.child(e);
      }
    }
    return t;
  }

  /** A page of 2^order IO pages (order ≥ 9) as level-2 leaves: one, or AMD's replicated entries. */
  private mapLarge(p: number, f: number, dir: number, order: number): void {
    const t = this.tableFor(p, 2);
    const w = order === 9 ? this.f.leaf(BigInt(f), dir, true) : amdReplicated(BigInt(f), order, dir);
    for (let r = 0; r < 2 ** (order - 9); r++) {
      const i = this.index(p + r * 512, 2);
      const e = this.tables[t][i];
      if (this.f.present(e) && !this.f.large(e)) this.freeSubtree(this.child(e), 1);
      this.tables[t][i] = w;
      this.n.ptWrites++;
      this.n.largePages++;
    }
    this.largeEver = true;
  }

  /** AMD v1: the largest 2^k pages (k ≤ 17) both page numbers are aligned to and the range holds. */
  private mapAmd(first: number, npages: number, pfn: number, dir: number): void {
    let p = first;
    let f = pfn;
    let left = npages;
    while (left > 0) {
      let k = 0;
      while (k < 17 && p % 2 ** (k + 1) === 0 && f % 2 ** (k + 1) === 0) k++;
      while (2 ** k > left) k--;
      const count = 2 ** k;
      if (k >= 9) this.mapLarge(p, f, dir, k);
      else {
        const t = this.tableFor(p, 1);
        const w = k === 0 ? this.f.leaf(BigInt(f), dir, false) : amdReplicated(BigInt(f), k, dir);
        for (let i = 0; i < count; i++) this.tables[t][(p + i) % 512] = w;
        this.n.ptWrites += count;
      }
      p += count;
      f += count;
      left -= count;
    }
  }

  /** iommu_map: 2 MiB leaves where IO page and physical page are both 512-aligned and 512 pages remain (AMD: mapAmd). */
  map(first: number, npages: number, pfn: number, dir: number): void {
    if (this.amd) return this.mapAmd(first, npages, pfn, dir);
    let p = first;
    let f = pfn;
    let left = npages;
    while (left > 0) {
      if (p % 512 === 0 && f % 512 === 0 && left >= 512) {
        this.mapLarge(p, f, dir, 9);
        p += 512;
        f += 512;
        left -= 512;
        continue;
      }
      const t = this.tableFor(p, 1);
      const n = Math.min(left, 512 - (p % 512));
      for (let k = 0; k < n; k++) this.tables[t][(p + k) % 512] = this.f.leaf(BigInt(f + k), dir, false);
      this.n.ptWrites += n;
      p += n;
      f += n;
      left -= n;
    }
  }

  /** iommu_unmap of [first, first + npages). */
  unmap(first: number, npages: number): void {
    if (npages > 0) this.clear(this.root, this.levels, 0, first, first + npages - 1);
  }

  private clear(t: number, level: number, base: number, lo: number, hi: number): void {
    const span = 512 ** (level - 1);
    const i1 = Math.min(511, Math.floor((hi - base) / span));
    for (let i = Math.floor((lo - base) / span); i <= i1; i++) {
      const e = this.tables[t][i];
      if (!this.f.present(e)) continue;
      const from = base + i * span;
      const to = from + span - 1;
      if (level === 1 || this.f.large(e)) {
        this.tables[t][i] = 0n;
        this.n.ptWrites++;
      } else if (this.freesTables && lo <= from && hi >= to) {
        this.freeSubtree(this.child(e), level - 1);
        this.tables[t][i] = 0n;
        this.n.ptWrites++;
      } else {
        this.clear(this.child(e), level - 1, from, Math.max(lo, from), Math.min(hi, to));
      }
    }
  }

  /** The IOMMU's walk after an IOTLB miss: [leaf or 0, ended at a large leaf]. */
  walk(page: number): [bigint, boolean] {
    const { rootPfn, levels } = this.context.lookup();
    const region = Math.floor(page / 512);
    const line = region % WALK_CACHE_ENTRIES;
    if (this.walkCache[line] === region) {
      const l2 = this.entryAt(page, 2);
      if (this.f.present(l2) && !this.f.large(l2)) {
        this.n.walkReads++;
        this.n.walkCacheHits++;
        const e = this.tables[this.child(l2)][page % 512];
        return [this.f.present(e) ? e : 0n, false];
      }
      this.walkCache[line] = -1;
    }
    let t = Number(rootPfn - PT_PFN_BASE);
    for (let l = levels; l > 1; l--) {
      const e = this.tables[t][this.index(page, l)];
      this.n.walkReads++;
      if (!this.f.present(e)) return [0n, false];
      if (this.f.large(e)) return [e, true];
      if (l === 2) this.walkCache[line] = region;
      t = this.child(e);
    }
    const e = this.tables[t][page % 512];
    this.n.walkReads++;
    return [this.f.present(e) ? e : 0n, false];
  }

  /** The walk-cache lines of regions [r0, r1] (a range invalidation). */
  walkCacheInvalidateRegions(r0: bigint, r1: bigint): void {
    this.walkCache.forEach((region, line) => {
      if (region !== -1 && BigInt(region) >= r0 && BigInt(region) <= r1) this.walkCache[line] = -1;
    });
  }

  walkCacheInvalidate(page: number | null): void {
    if (page === null) this.walkCache.fill(-1);
    else {
      const region = Math.floor(page / 512);
      if (this.walkCache[region % WALK_CACHE_ENTRIES] === region) this.walkCache[region % WALK_CACHE_ENTRIES] = -1;
    }
  }
}
