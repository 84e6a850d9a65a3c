// === The translation table behind a small ops table ===
// Policy code (allocator, DMA API, cache) sees entries as host-order u64 words and never the
// hardware layout; `format` picks Calgary TCEs or DART entries (one flat table), rIOMMU rPTEs (one
// flat ring: riommu/ring.ts), or a multi-level page table (VT-d, AMD-Vi, Arm LPAE: pgtable/radix.ts),
// as io-pgtable's ops pick a format. For a page table, an entry index is an IO page and its word is
// the leaf translating it.

import { FORMAT_AMD_V1, FORMAT_ARM_LPAE, FORMAT_CALGARY, FORMAT_DART, FORMAT_RIOMMU, FORMAT_VTD, FORMAT_VTD_FL } from "./constants";
import { ptInit, ptLeafWord, ptLineWord, ptMap, ptPermits, ptUnmap } from "./pgtable/radix";
import { walkCacheOff } from "./pgtable/walkcache";
import { tceEncode, tceLoad, tcePermits, tceStore, TCE_EMPTY, TCE_ENTRY_SHIFT } from "./tce";
import { dartEncode, dartLoad, dartPermits, dartStore, DART_ENTRY_SHIFT } from "./dart";
import { rpteEncode, rpteLoad, rptePermits, rpteStore, RPTE_ENTRY_SHIFT } from "./riommu/ring";
import { cacheNoteWrite } from "./cache";

let tableBase: usize = 0;
let format: u32 = FORMAT_CALGARY;
/** What a free writes: 0 for Calgary, VALID | spare page for DART. */
let emptyWord: u64 = TCE_EMPTY;
/** isPageTable(format), kept so the flat formats' hot paths test one flag, not four codes. */
let pageTables: bool = false;

export function tableFormat(): u32 {
  return format;
}

export function tableAt(): usize {
  return tableBase;
}

export function tableEmptyWord(): u64 {
  return emptyWord;
}

/** Bytes of one entry for a format. */
export function entryBytes(fmt: u32): u32 {
  return fmt == FORMAT_DART ? 1 << DART_ENTRY_SHIFT : fmt == FORMAT_RIOMMU ? 1 << RPTE_ENTRY_SHIFT : 1 << TCE_ENTRY_SHIFT;
}

/** A multi-level page-table format (VT-d, AMD-Vi, Arm LPAE). */
// @ts-ignore: decorator
@inline export function isPageTable(fmt: u32): bool {
  return fmt == FORMAT_VTD || fmt == FORMAT_AMD_V1 || fmt == FORMAT_ARM_LPAE || fmt == FORMAT_VTD_FL;
}

export function tableInit(base: usize, fmt: u32, entries: u32, empty: u64, levels: u32): void {
  tableBase = base;
  format = fmt;
  emptyWord = empty;
  pageTables = isPageTable(fmt);
  if (pageTables) {
    ptInit(base, fmt, levels, entries);
    return;
  }
  walkCacheOff();
  // Linux clears every entry at setup (tce_free over the table; DART: all → dart_emptyval).
  for (let e: u32 = 0; e < entries; e++) writeEntry(e, empty);
}

// @ts-ignore: decorator
@inline export function readEntry(e: u32): u64 {
  if (pageTables) return ptLeafWord(e);
  if (format == FORMAT_DART) return <u64>dartLoad(tableBase, e);
  return format == FORMAT_RIOMMU ? rpteLoad(tableBase, e) : tceLoad(tableBase, e);
}

/** What a device-cache line tagged `tag` should hold now (a page's entry; page tables: cache.ts tags). */
export function lineWord(tag: u32): u64 {
  return pageTables ? ptLineWord(tag) : readEntry(tag);
}

// @ts-ignore: decorator
@inline function writeEntry(e: u32, v: u64): void {
  if (format == FORMAT_DART) dartStore(tableBase, e, <u32>v);
  else if (format == FORMAT_RIOMMU) rpteStore(tableBase, e, v);
  else tceStore(tableBase, e, v);
  // what readEntry would give back: DART keeps the low 32 bits
  cacheNoteWrite(e, format == FORMAT_DART ? <u64><u32>v : v);
}

// @ts-ignore: decorator
@inline export function encodeEntry(pfn: u64, dir: u32): u64 {
  if (format == FORMAT_DART) return <u64>dartEncode(pfn);
  return format == FORMAT_RIOMMU ? rpteEncode(pfn, dir) : tceEncode(pfn, dir);
}

// @ts-ignore: decorator
@inline export function permits(word: u64, write: bool): bool {
  if (pageTables) return ptPermits(word, write);
  if (format == FORMAT_DART) return dartPermits(<u32>word, <u32>emptyWord);
  return format == FORMAT_RIOMMU ? rptePermits(word, write) : tcePermits(word, write);
}

/** tce_build / dart_build: consecutive physical pages into consecutive entries. */
// @ts-ignore: decorator
@inline export function buildEntries(first: u32, npages: u32, pfn: u64, dir: u32): void {
  // Counted as tceWrites through pagesMapped (counters.ts derives it); page tables count ptWrites.
  if (pageTables) {
    ptMap(first, npages, pfn, dir);
    return;
  }
  for (let i: u32 = 0; i < npages; i++) writeEntry(first + i, encodeEntry(pfn + <u64>i, dir));
}

/** tce_free / dart_free. */
// @ts-ignore: decorator
@inline export function clearEntries(first: u32, npages: u32): void {
  // Counted as tceWrites through pagesUnmapped and pagesUnwound (counters.ts derives it).
  if (pageTables) {
    ptUnmap(first, npages);
    return;
  }
  for (let i: u32 = 0; i < npages; i++) writeEntry(first + i, emptyWord);
}

/** Raw stored bytes of an entry as the hardware reads them (big-endian; rPTEs little-endian), for inspection. */
export function rawEntry(e: u32): u64 {
  if (pageTables) return ptLeafWord(e); // little-endian in memory: stored = read
  if (format == FORMAT_RIOMMU) return rpteLoad(tableBase, e);
  return format == FORMAT_DART
    ? <u64>load<u32>(tableBase + (<usize>e << DART_ENTRY_SHIFT))
    : load<u64>(tableBase + (<usize>e << TCE_ENTRY_SHIFT));
}
