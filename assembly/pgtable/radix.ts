// === Multi-level I/O page tables on modelled memory: the engine the three formats share ===
// VT-d second-level, AMD-Vi v1 and Arm LPAE stage-1 tables are all radix trees of 4 KiB tables of
// 512 little-endian 64-bit entries, 9 bits of IO page number per level; they differ in the entry
// layout (vtd.ts, amd.ts, lpae.ts) and in whether an unmap frees tables. What Linux does, modelled:
//
//  - tables are allocated on demand, one zeroed 4 KiB page per missing table (the root at setup);
//  - iommu_map splits a range greedily into the largest page size the format offers at which the
//    IO address and the physical address are both aligned and that the rest of the range holds
//    (iommu_pgsize): here 2 MiB (a level-2 leaf) and 4 KiB. A large leaf replacing a table frees
//    that table, as all three drivers do;
//  - unmap clears the present leaves of the range; VT-d (dma_pte_clear_level) and io-pgtable-arm
//    (__arm_lpae_unmap at a block size) also free a table whose whole span the range covers, and
//    clear its entry; AMD v1 (iommu_v1_unmap_pages) never frees tables on unmap;
//  - a 4 KiB map inside a large leaf splits it into 512 leaves first (Linux never does this for
//    dma-iommu, whose IO addresses are free before they are mapped; the never-free strategy does).
//
// AMD v1 also maps every power-of-two size between the natural ones with replicated
// Next-Level-7 entries (mapAmd). Not modelled: 1 GiB leaves (no modelled DMA buffer reaches
// 1 GiB; AMD pages stop at 512 MiB), AMD's level growth (3 levels cover the 4 GiB IO space
// dma-iommu uses first), the deferred freeing of table pages until the invalidation (freed
// pages are reused at once: nothing reads them after).
//
// Memory (from the base index.ts gives):
//   ╒═ walk cache lines (walkcache.ts) ═╤═ pad to 4 KiB ═╤═ device structures (context.ts, 4 pages) ═╤═ table 0 (root) ═╤═ table 1 ═╤═ … ═╕
//   ╘═══════════════════════════════════╧════════════════╧═══════════════════════════════════════════╧══════════════════╧═══════════╧═════╛
// Table i stands at physical page PT_PFN_BASE + i: that is the address its parent entry holds.
// Freed tables form a LIFO list linked through their first word; a reused table is zeroed again.

import { FORMAT_AMD_V1, FORMAT_VTD, FORMAT_VTD_FL } from "../constants";
import { stats } from "../counters";
import { cacheNoteWrite, cacheTracking, LARGE_TAG } from "../cache";
import { amdLarge, amdLeaf, amdPermits, amdPresent, amdReplicated, amdReplicatedOrder, amdTable, AMD_NL_MASK } from "./amd";
import { lpaeLarge, lpaeLeaf, lpaePermits, lpaePresent, lpaeTable, LPAE_TYPE_BLOCK, LPAE_TYPE_TABLE } from "./lpae";
import { vtdFlLeaf, vtdFlPermits, vtdFlTable, vtdLarge, vtdLeaf, vtdPermits, vtdPresent, vtdTable, VTD_PS } from "./vtd";
import { ctxInit, ctxLevels, ctxRootPfn, CTX_BYTES } from "./context";
import { walkCacheFill, walkCacheHas, walkCacheInit, walkCacheInvalidateRegion, WALK_CACHE_BYTES } from "./walkcache";

/** Physical page of table 0 (2 GiB): tables sit in memory the modelled buffers do not use. */
// @ts-ignore: decorator
@inline export const PT_PFN_BASE: u64 = 0x80000;
// @ts-ignore: decorator
@inline const ADDR_MASK: u64 = 0x000ffffffffff000;
// @ts-ignore: decorator
@inline const TABLE_BYTES: u32 = 4096;

let fmt: u32 = FORMAT_VTD;
let levels: u32 = 4;
let entries: u32 = 0;
let pool: usize = 0;
let bump: u32 = 0;
/** Freed table + 1, 0 when none. */
let freeHead: u32 = 0;
let root: usize = 0;
let freesTables: bool = true;
/** A large leaf was ever written (the IOTLB then probes for 2 MiB lines too). */
let largeEver: bool = false;
/** The last device walk ended at a large leaf. */
let walkEndedLarge: bool = false;

/** Tables the IO space can need at once: one per 512^l pages at each level below the root, and the root. */
export function ptTablesNeeded(lv: u32, n: u32): u32 {
  let tables: u64 = 1;
  let span: u64 = 512;
  for (let l: u32 = 1; l < lv; l++) {
    tables += (<u64>n + span - 1) / span;
    span *= 512;
  }
  return <u32>tables;
}

export function ptBytes(lv: u32, n: u32): usize {
  return <usize>WALK_CACHE_BYTES + TABLE_BYTES + CTX_BYTES + (<usize>ptTablesNeeded(lv, n) << 12);
}

export function ptInit(base: usize, format: u32, lv: u32, n: u32): void {
  fmt = format;
  levels = lv;
  entries = n;
  walkCacheInit(base);
  let device = (base + WALK_CACHE_BYTES + TABLE_BYTES - 1) & ~(<usize>TABLE_BYTES - 1);
  pool = device + CTX_BYTES;
  bump = 0;
  freeHead = 0;
  freesTables = format != FORMAT_AMD_V1;
  largeEver = false;
  walkEndedLarge = false;
  root = tableAddr(allocTable());
  ctxInit(device, format, lv, PT_PFN_BASE + <u64>((root - pool) >> 12));
}

export function ptLevels(): u32 {
  return levels;
}

export function ptLargeEver(): bool {
  return largeEver;
}

export function ptWalkEndedLarge(): bool {
  return walkEndedLarge;
}

// ── the formats behind one switch ────────────────────────────────────────────────────────

// @ts-ignore: decorator
@inline function present(e: u64): bool {
  // VT-d first level: P is bit 0, as the AMD and Arm valid bits
  return fmt == FORMAT_VTD ? vtdPresent(e) : fmt == FORMAT_AMD_V1 ? amdPresent(e) : lpaePresent(e);
}

/** A present entry above level 1 that maps a page (not a table). */
// @ts-ignore: decorator
@inline function large(e: u64): bool {
  return fmt == FORMAT_VTD || fmt == FORMAT_VTD_FL ? vtdLarge(e) : fmt == FORMAT_AMD_V1 ? amdLarge(e) : lpaeLarge(e);
}

// @ts-ignore: decorator
@inline function leafWord(pfn: u64, dir: u32, big: bool): u64 {
  if (fmt == FORMAT_VTD_FL) return vtdFlLeaf(pfn, dir, big);
  return fmt == FORMAT_VTD ? vtdLeaf(pfn, dir, big) : fmt == FORMAT_AMD_V1 ? amdLeaf(pfn, dir) : lpaeLeaf(pfn, dir, big);
}

/** The entry of a level-`level` table pointing at table `idx`. */
// @ts-ignore: decorator
@inline function tableWord(idx: u32, level: u32): u64 {
  let pfn = PT_PFN_BASE + <u64>idx;
  if (fmt == FORMAT_VTD_FL) return vtdFlTable(pfn);
  return fmt == FORMAT_VTD ? vtdTable(pfn) : fmt == FORMAT_AMD_V1 ? amdTable(pfn, level) : lpaeTable(pfn);
}

/**
 * The 4 KiB leaf for the first page of the 2 MiB region `base` of large leaf `e` (same
 * permissions and attributes). AMD's replicated entries hold the whole page's address, encoded
 * with its size: the region's part of it is found from the IO address.
 */
// @ts-ignore: decorator
@inline function smallOf(e: u64, base: u32): u64 {
  if (fmt == FORMAT_VTD || fmt == FORMAT_VTD_FL) return e & ~VTD_PS;
  if (fmt != FORMAT_AMD_V1) return (e & ~(<u64>3)) | LPAE_TYPE_TABLE;
  if ((e & AMD_NL_MASK) == 0) return e;
  let order = amdReplicatedOrder(e);
  let span = (<u64>1 << <u64>order) - 1;
  let pfn = ((e & ADDR_MASK) >> 12) & ~span;
  return (e & ~(ADDR_MASK | AMD_NL_MASK)) | ((pfn + (<u64>base & span)) << 12);
}

export function ptPermits(e: u64, write: bool): bool {
  if (fmt == FORMAT_VTD_FL) return vtdFlPermits(e, write);
  return fmt == FORMAT_VTD ? vtdPermits(e, write) : fmt == FORMAT_AMD_V1 ? amdPermits(e, write) : lpaePermits(e, write);
}

// ── tables ──────────────────────────────────────────────────────────────────────────────

// @ts-ignore: decorator
@inline function tableAddr(idx: u32): usize {
  return pool + (<usize>idx << 12);
}

// @ts-ignore: decorator
@inline function childOf(e: u64): usize {
  return tableAddr(<u32>(((e & ADDR_MASK) >> 12) - PT_PFN_BASE));
}

// @ts-ignore: decorator
@inline function slotOf(table: usize, page: u32, level: u32): usize {
  let i = <u32>((<u64>page >> (9 * (<u64>level - 1))) & 511);
  return table + (<usize>i << 3);
}

function allocTable(): u32 {
  let idx: u32;
  if (freeHead != 0) {
    idx = freeHead - 1;
    freeHead = load<u32>(tableAddr(idx));
  } else {
    idx = bump++;
  }
  memory.fill(tableAddr(idx), 0, TABLE_BYTES);
  stats.ptTablesAllocated++;
  return idx;
}

/** Frees the level-`level` table at `table` and every table below it. */
function freeSubtree(table: usize, level: u32): void {
  if (level > 1) {
    for (let i: u32 = 0; i < 512; i++) {
      let e = load<u64>(table + (<usize>i << 3));
      if (present(e) && !large(e)) freeSubtree(childOf(e), level - 1);
    }
  }
  let idx = <u32>((table - pool) >> 12);
  store<u32>(table, freeHead);
  freeHead = idx + 1;
  stats.ptTablesFreed++;
}

// ── what the device's cached lines compare against ───────────────────────────────────────

/** The raw entry at `level` on the walk of `page`; 0 when the walk ends above it. */
export function ptEntryAt(page: u32, level: u32): u64 {
  let table = root;
  for (let l = levels; l > level; l--) {
    let e = load<u64>(slotOf(table, page, l));
    if (!present(e) || large(e)) return 0;
    table = childOf(e);
  }
  return load<u64>(slotOf(table, page, level));
}

/** The leaf that translates `page` now (4 KiB or 2 MiB), 0 when none does. */
export function ptLeafWord(page: u32): u64 {
  let table = root;
  for (let l = levels; l > 1; l--) {
    let e = load<u64>(slotOf(table, page, l));
    if (!present(e)) return 0;
    if (large(e)) return e;
    table = childOf(e);
  }
  let e = load<u64>(slotOf(table, page, 1));
  return present(e) ? e : 0;
}

/** What an IOTLB line tagged `tag` should hold: a 2 MiB tag's level-2 entry, a page's leaf. */
export function ptLineWord(tag: u32): u64 {
  return (tag & LARGE_TAG) != 0 ? ptEntryAt((tag & ~LARGE_TAG) << 9, 2) : ptLeafWord(tag);
}

/** Tells the IOTLB's stale tracking that every page (and 2 MiB region) of a span changed. */
function noteSpan(base: u32, span: u32): void {
  if (!cacheTracking()) return;
  let end = <u64>base + span < <u64>entries ? base + span : entries;
  for (let p = base; p < end; p++) cacheNoteWrite(p, ptLeafWord(p));
  for (let r = base >> 9; <u64>r << 9 < <u64>end; r++) cacheNoteWrite(LARGE_TAG | r, ptEntryAt(r << 9, 2));
}

// ── iommu_map / iommu_unmap ──────────────────────────────────────────────────────────────

/** The level-`downTo` table on `page`'s walk, creating missing tables (splitting a large leaf in the way). */
function tableFor(page: u32, downTo: u32): usize {
  let table = root;
  for (let l = levels; l > downTo; l--) {
    let at = slotOf(table, page, l);
    let e = load<u64>(at);
    if (!present(e)) {
      let idx = allocTable();
      store<u64>(at, tableWord(idx, l));
      stats.ptWrites++;
      table = tableAddr(idx);
    } else if (large(e)) {
      table = split(at, e, page & ~511);
    } else {
      table = childOf(e);
    }
  }
  return table;
}

/** Replaces the 2 MiB leaf `e` at `at` by a table of the 512 leaves it stood for. */
function split(at: usize, e: u64, base: u32): usize {
  let idx = allocTable();
  let t = tableAddr(idx);
  let small = smallOf(e, base);
  for (let i: u32 = 0; i < 512; i++) store<u64>(t + (<usize>i << 3), small + (<u64>i << 12));
  store<u64>(at, tableWord(idx, 2));
  stats.ptWrites += 513;
  noteSpan(base, 512);
  return t;
}

/** iommu_map of `npages` pages from IO page `first` to physical page `pfn`. */
export function ptMap(first: u32, npages: u32, pfn: u64, dir: u32): void {
  if (fmt == FORMAT_AMD_V1) {
    mapAmd(first, npages, pfn, dir);
    return;
  }
  let p = first;
  let f = pfn;
  let left = npages;
  while (left != 0) {
    if ((p & 511) == 0 && (f & 511) == 0 && left >= 512) {
      mapLarge(p, f, dir);
      p += 512;
      f += 512;
      left -= 512;
      continue;
    }
    let n: u32 = 512 - (p & 511);
    if (n > left) n = left;
    // consecutive physical pages: each leaf is the one before it plus a page of address
    writeLeaves(tableFor(p, 1), p, n, leafWord(f, dir, false), <u64>1 << 12);
    p += n;
    f += <u64>n;
    left -= n;
  }
}

/** `n` level-1 entries of `table` from IO page `p`: `first`, then each `step` more than the one before, counted and told to the IOTLB's stale tracking. */
function writeLeaves(table: usize, p: u32, n: u32, first: u64, step: u64): void {
  let tracking = cacheTracking();
  for (let i: u32 = 0; i < n; i++) {
    let w = first + <u64>i * step;
    store<u64>(table + (<usize>((p + i) & 511) << 3), w);
    if (tracking) cacheNoteWrite(p + i, w);
  }
  stats.ptWrites += <u64>n;
}

/**
 * AMD v1: every power-of-two page size, so each step maps the largest 2^k pages (k ≤ 17, the
 * level-2 sizes below 1 GiB) that the IO and physical page numbers are both aligned to and the
 * range still holds: 2^k replicated level-1 entries (k < 9), one level-2 leaf (k = 9), or 2^(k − 9)
 * replicated level-2 entries (k > 9). The writes are the entries.
 */
function mapAmd(first: u32, npages: u32, pfn: u64, dir: u32): void {
  let p = first;
  let f = pfn;
  let left = npages;
  while (left != 0) {
    let k: u32 = <u32>ctz<u64>((<u64>p | f) | (<u64>1 << 17));
    while ((<u32>1 << k) > left) k--;
    let count: u32 = 1 << k;
    if (k >= 9) {
      mapLarge(p, f, dir, k);
    } else {
      // one page of 2^k IO pages: 2^k identical entries (k = 0: one plain leaf)
      writeLeaves(tableFor(p, 1), p, count, k == 0 ? leafWord(f, dir, false) : amdReplicated(f, k, dir), 0);
    }
    p += count;
    f += <u64>count;
    left -= count;
  }
}

/** A page of 2^order IO pages (order ≥ 9) as level-2 leaves: one, or AMD's replicated entries. */
function mapLarge(p: u32, f: u64, dir: u32, order: u32 = 9): void {
  let table = tableFor(p, 2);
  let w = order == 9 ? leafWord(f, dir, true) : amdReplicated(f, order, dir);
  for (let r: u32 = 0; r < (<u32>1 << (order - 9)); r++) {
    let at = slotOf(table, p + (r << 9), 2);
    let e = load<u64>(at);
    if (present(e) && !large(e)) freeSubtree(childOf(e), 1);
    store<u64>(at, w);
    stats.ptWrites++;
    stats.largePages++;
    noteSpan(p + (r << 9), 512);
  }
  largeEver = true;
}

/** iommu_unmap of [first, first + npages): the present leaves cleared, whole tables freed where the format does. */
export function ptUnmap(first: u32, npages: u32): void {
  if (npages != 0) clearRange(root, levels, 0, <u64>first, <u64>first + npages - 1);
}

function clearRange(table: usize, level: u32, base: u64, lo: u64, hi: u64): void {
  let shift = <u64>(9 * (level - 1));
  let span: u64 = <u64>1 << shift;
  let i1 = <u32>((hi - base) >> shift);
  for (let i = <u32>((lo - base) >> shift); i <= i1 && i < 512; i++) {
    let at = table + (<usize>i << 3);
    let e = load<u64>(at);
    if (!present(e)) continue;
    let from = base + (<u64>i << shift);
    let to = from + span - 1;
    if (level == 1) {
      store<u64>(at, 0);
      stats.ptWrites++;
      if (cacheTracking()) cacheNoteWrite(<u32>from, 0);
    } else if (large(e)) {
      // the whole large page goes, as intel_iommu_unmap rounds a partial unmap up to it
      store<u64>(at, 0);
      stats.ptWrites++;
      noteSpan(<u32>from, <u32>span);
    } else if (freesTables && lo <= from && hi >= to) {
      freeSubtree(childOf(e), level - 1);
      store<u64>(at, 0);
      stats.ptWrites++;
      noteSpan(<u32>from, <u32>span);
    } else {
      clearRange(childOf(e), level - 1, from, lo > from ? lo : from, hi < to ? hi : to);
    }
  }
}

// ── the device's walk ────────────────────────────────────────────────────────────────────

/**
 * The IOMMU's walk for `page` after an IOTLB miss: the leaf (0 when none), every entry read
 * counted; a walk-cache hit reads the leaf table's entry only.
 */
export function ptWalk(page: u32): u64 {
  walkEndedLarge = false;
  // the device's context first (context.ts): where the walk starts and how deep it goes
  let start = tableAddr(<u32>(ctxRootPfn() - PT_PFN_BASE));
  let depth = ctxLevels();
  let region = page >> 9;
  if (walkCacheHas(region)) {
    let l2 = ptEntryAt(page, 2);
    if (present(l2) && !large(l2)) {
      stats.walkReads++;
      stats.walkCacheHits++;
      let e = load<u64>(slotOf(childOf(l2), page, 1));
      return present(e) ? e : 0;
    }
    walkCacheInvalidateRegion(region);
  }
  let table = start;
  for (let l = depth; l > 1; l--) {
    let e = load<u64>(slotOf(table, page, l));
    stats.walkReads++;
    if (!present(e)) return 0;
    if (large(e)) {
      walkEndedLarge = true;
      return e;
    }
    if (l == 2) walkCacheFill(region);
    table = childOf(e);
  }
  let e = load<u64>(slotOf(table, page, 1));
  stats.walkReads++;
  return present(e) ? e : 0;
}
