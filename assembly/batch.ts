// === Batches: many DMA-API operations in one JS → WASM call ===
// The caller fills 16-byte records in the batch area and calls runBatch(n); each record's i32
// result lands in the result area at the same index. Mappings are named by handles (slots in
// the handle table) so a batch can unmap what an earlier record of the same batch mapped.
//
//  record:  ╒═════════════════════════════════════════════╤═══════════╤═══════════╤═══════════╕
//           │ w0: op | arg4 << 4 | off << 8 | pfnHigh << 20│ w1 handle │ w2        │ w3        │
//           ╘═════════════════════════════════════════════╧═══════════╧═══════════╧═══════════╛
//   OP_MAP      arg4 = dir, off = offset in page, pfn = w2 | pfnHigh << 32 (recordPfn)
//                                                                  w3 = bytes   → entry | -1
//   OP_UNMAP                                                                    → FREE_*
//   OP_MAP_SG   arg4 = dir   w2 = element count n ≥ 1; the next n records are OP_SG_ELEM
//   OP_SG_ELEM  off = offset in page, pfn as OP_MAP                w3 = bytes   → entry | -1
//               (element k is kept in handle w1 + k of the OP_MAP_SG record)
//   OP_UNMAP_SG w2 = element count                                              → FREE_*
//   OP_ALLOC                                                       w3 = bytes   → entry | -1
//   OP_FREE                                                                     → FREE_*
//   OP_ACCESS   arg4 = 1 for a device write        w2 = byte offset w3 = bytes  → ACCESS_*
//   OP_CPU      the following records run on CPU w2 (IOVA magazines, flush queues) → 0
//
//  handle:  ╒════════════════╤═════════════════╤═══════════════╤════════════════╕
//           │ entry i32 @0   │ offset u32 @4   │ bytes u32 @8  │ live u32 @12   │
//           ╘════════════════╧═════════════════╧═══════════════╧════════════════╛
//  A record the hardware could not carry out is refused with BAD_RECORD and changes nothing: a
//  direction above 2, zero bytes, a buffer whose last page is beyond what an entry holds
//  (bufferFits), an sg list with a bad element (every record of the list gets BAD_RECORD), and on
//  rIOMMU a map_sg or an alloc_coherent (ring mappings only: riommu/ring.ts).
//  An unmapped handle keeps its entry (live = 0) so the device can still aim at it: that is
//  how a trace shows a DMA after unmap (a stale hit or a fault).

import { ACCESS_FAULT, DMA_FROM_DEVICE, FORMAT_RIOMMU, FREE_NOT_MAPPED, FREE_OK, IO_PAGE_MASK, IO_PAGE_SHIFT, IO_PAGE_SIZE, NO_ENTRY, SG_MAX } from "./constants";
import {
  allocCoherent, bufferFits, deviceAccessAt, dmaBadFreeBelow, dmaMaxPfn, freeCoherent, mapSg, mapSingle, pagesSpanned, SG_ELEM_SIZE,
  sgOffset, unmapSg, unmapSingle,
} from "./dma";
import { stats } from "./counters";
import { allocatorEntries, allocatorHint } from "./allocator";
import { bitmapBase } from "./bitmap";
import { tableAt, tableEmptyWord, tableFormat } from "./table";
import { freeOnePage, onePageLoopsApply, spillOnePage, takeOnePage } from "./onepage";
import { switchCpu } from "./cpu";

// @ts-ignore: decorator
@inline export const RECORD_SIZE: u32 = 16;
// @ts-ignore: decorator
@inline export const HANDLE_SIZE: u32 = 16;

/**
 * The physical page number of an OP_MAP or OP_SG_ELEM record: w2, with bits 32..43 in w0 bits
 * 20..31. Every record interpreter reads it here.
 */
// @ts-ignore: decorator
@inline export function recordPfn(rec: usize): u64 {
  return (<u64>(load<u32>(rec, 0) >> 20) << 32) | <u64>load<u32>(rec, 8);
}

/** Offset in page of an OP_MAP or OP_SG_ELEM record (w0 bits 8..19). */
// @ts-ignore: decorator
@inline export function recordOffset(rec: usize): u32 {
  return (load<u32>(rec, 0) >> 8) & IO_PAGE_MASK;
}

// @ts-ignore: decorator
@inline export const OP_MAP: u32 = 1;
// @ts-ignore: decorator
@inline export const OP_UNMAP: u32 = 2;
// @ts-ignore: decorator
@inline export const OP_MAP_SG: u32 = 3;
// @ts-ignore: decorator
@inline export const OP_SG_ELEM: u32 = 4;
// @ts-ignore: decorator
@inline export const OP_UNMAP_SG: u32 = 5;
// @ts-ignore: decorator
@inline export const OP_ALLOC: u32 = 6;
// @ts-ignore: decorator
@inline export const OP_FREE: u32 = 7;
// @ts-ignore: decorator
@inline export const OP_ACCESS: u32 = 8;
// @ts-ignore: decorator
@inline export const OP_CPU: u32 = 9;

let ops: usize = 0;
let results: usize = 0;
let handles: usize = 0;
let sgScratch: usize = 0;
let handleCount: u32 = 0;
let cpuCount: u32 = 1;

/** Result of a record the core refuses (handle out of range, truncated or oversized sg list). */
// @ts-ignore: decorator
@inline export const BAD_RECORD: i32 = -2;

export function batchInit(opsBase: usize, resultsBase: usize, handlesBase: usize, sgBase: usize, nHandles: u32, cpus: u32): void {
  handleCount = nHandles;
  cpuCount = cpus;
  ops = opsBase;
  results = resultsBase;
  handles = handlesBase;
  sgScratch = sgBase;
}

// @ts-ignore: decorator
@inline function H(h: u32): usize {
  return handles + <usize>(h * HANDLE_SIZE);
}

// @ts-ignore: decorator
@inline function keep(h: u32, entry: i32, offset: u32, bytes: u32): void {
  let p = H(h);
  store<i32>(p, entry, 0);
  store<u32>(p, offset, 4);
  store<u32>(p, bytes, 8);
  store<u32>(p, entry >= 0 ? 1 : 0, 12);
}

// @ts-ignore: decorator
@inline function dmaOf(h: u32): u32 {
  let p = H(h);
  return (<u32>load<i32>(p, 0) << IO_PAGE_SHIFT) | load<u32>(p, 4);
}

// @ts-ignore: decorator
@inline function unmapHandle(h: u32, coherent: bool): i32 {
  let p = H(h);
  if (load<u32>(p, 12) == 0) return FREE_NOT_MAPPED;
  store<u32>(p, 0, 12);
  return coherent ? freeCoherent(dmaOf(h), load<u32>(p, 8)) : unmapSingle(dmaOf(h), load<u32>(p, 8));
}

/** Copies handles [h, h + n) into the SG scratch list (unmap_sg needs entry, offset, bytes). */
function handlesToSg(h: u32, n: u32): bool {
  let live = false;
  for (let k: u32 = 0; k < n; k++) {
    let p = H(h + k);
    let el = sgScratch + <usize>(k * SG_ELEM_SIZE);
    store<u32>(el, 0, 0);
    store<u32>(el, load<u32>(p, 4), 4);
    store<u32>(el, load<u32>(p, 8), 8);
    store<i32>(el, load<u32>(p, 12) != 0 ? load<i32>(p, 0) : NO_ENTRY, 12);
    if (load<u32>(p, 12) != 0) live = true;
    store<u32>(p, 0, 12);
  }
  return live;
}

/** An sg record's handles [h, h + count) exist, 1 ≤ count ≤ SG_MAX, and a map_sg's elements are in the batch. */
function sgFits(h: u32, count: u32, isMap: bool, i: u32, n: u32): bool {
  return count >= 1 && count <= SG_MAX && <u64>h + count <= <u64>handleCount && (!isMap || <u64>i + 1 + count <= <u64>n);
}

/** Applies record i (with a map_sg's elements); returns the index of the record after it. */
// @ts-ignore: decorator
@inline function step(i: u32, n: u32): u32 {
  {
    let rec = ops + <usize>(i * RECORD_SIZE);
    let w0 = load<u32>(rec, 0);
    let h = load<u32>(rec, 4);
    let op = w0 & 15;
    let arg = (w0 >> 4) & 15;
    let off = (w0 >> 8) & IO_PAGE_MASK;
    let res: i32 = 0;
    // Records come from user-writable memory: refuse, never trap, on a handle or list out of range.
    if (h >= handleCount || ((op == OP_MAP_SG || op == OP_UNMAP_SG) && !sgFits(h, load<u32>(rec, 8), op == OP_MAP_SG, i, n))) {
      store<i32>(results + <usize>(i << 2), BAD_RECORD);
      return i + 1;
    }
    if (op == OP_MAP) {
      let bytes = load<u32>(rec, 12);
      let pfn = recordPfn(rec);
      if (arg > DMA_FROM_DEVICE || !bufferFits(pfn, off, bytes)) {
        res = BAD_RECORD;
      } else {
        res = mapSingle(pfn, off, bytes, arg);
        keep(h, res, off, bytes);
      }
    } else if (op == OP_UNMAP) {
      res = unmapHandle(h, false);
    } else if (op == OP_ALLOC) {
      let bytes = load<u32>(rec, 12);
      if (bytes == 0 || tableFormat() == FORMAT_RIOMMU) {
        res = BAD_RECORD;
      } else {
        res = allocCoherent(bytes);
        keep(h, res, 0, bytes);
      }
    } else if (op == OP_FREE) {
      res = unmapHandle(h, true);
    } else if (op == OP_ACCESS) {
      let p = H(h);
      if (arg > 1 || load<u32>(rec, 12) == 0) {
        res = BAD_RECORD;
      } else if (load<i32>(p, 0) < 0) {
        let pages = pagesSpanned(load<u32>(rec, 8), load<u32>(rec, 12));
        stats.accesses += <u64>(pages);
        stats.faults += <u64>(pages);
        res = ACCESS_FAULT;
      } else {
        res = deviceAccessAt(<u64>dmaOf(h) + <u64>load<u32>(rec, 8), load<u32>(rec, 12), arg != 0);
      }
    } else if (op == OP_MAP_SG) {
      let count = load<u32>(rec, 8);
      let ok = arg <= DMA_FROM_DEVICE;
      for (let k: u32 = 0; k < count; k++) {
        let el = rec + <usize>((k + 1) * RECORD_SIZE);
        let w0 = load<u32>(el, 0);
        let sg = sgScratch + <usize>(k * SG_ELEM_SIZE);
        // the element's word @4 is its w0 from bit 8 on, as dma.ts lays it out
        store<u32>(sg, load<u32>(el, 8), 0);
        store<u32>(sg, (w0 & 0xfff00000) | ((w0 >> 8) & IO_PAGE_MASK), 4);
        store<u32>(sg, load<u32>(el, 12), 8);
        if ((w0 & 15) != OP_SG_ELEM || !bufferFits(recordPfn(el), recordOffset(el), load<u32>(el, 12))) ok = false;
      }
      if (tableFormat() == FORMAT_RIOMMU) ok = false;
      if (!ok) {
        for (let k: u32 = 0; k <= count; k++) store<i32>(results + <usize>((i + k) << 2), BAD_RECORD);
        return i + count + 1;
      }
      res = <i32>mapSg(sgScratch, count, arg);
      for (let k: u32 = 0; k < count; k++) {
        let sg = sgScratch + <usize>(k * SG_ELEM_SIZE);
        let e = load<i32>(sg, 12);
        keep(h + k, e, sgOffset(sg), load<u32>(sg, 8));
        store<i32>(results + <usize>((i + 1 + k) << 2), e);
      }
      store<i32>(results + <usize>(i << 2), res);
      return i + count + 1;
    } else if (op == OP_UNMAP_SG) {
      let count = load<u32>(rec, 8);
      res = handlesToSg(h, count) ? unmapSg(sgScratch, count) : FREE_NOT_MAPPED;
    } else if (op == OP_CPU) {
      let cpu = load<u32>(rec, 8);
      if (cpu < cpuCount) {
        switchCpu(cpu);
      } else {
        res = BAD_RECORD;
      }
    } else {
      res = BAD_RECORD; // unknown opcode, or an OP_SG_ELEM without its header
    }
    store<i32>(results + <usize>(i << 2), res);
    return i + 1;
  }
}

/** Applies `n` records; returns the number applied. */
export function runBatch(n: u32): u32 {
  if (onePageLoopsApply()) return runBatchLocal(n);
  let i: u32 = 0;
  while (i < n) i = step(i, n);
  return i;
}

/**
 * The batch's fast lane (a NIC ring's records: one-page maps and unmaps on the Calgary allocator):
 * the hint, the counters and the bases in locals across consecutive such records (onepage.ts);
 * any other record, or a step the one-page paths cannot take (a wrap, a bad or double free), is
 * applied by `step` between a spill and a reload. test/ring.test.ts holds it to the reference.
 */
function runBatchLocal(n: u32): u32 {
  let map = bitmapBase();
  let table = tableAt();
  let empty = bswap<u64>(tableEmptyWord());
  let entries = allocatorEntries();
  let badBelow = dmaBadFreeBelow();
  let maxPfn = dmaMaxPfn();
  let hc = handleCount;
  let records = ops;
  let out = results;
  let slots = handles;
  let i: u32 = 0;
  while (i < n) {
    let hint = allocatorHint();
    let maps = stats.maps;
    let unmaps = stats.unmaps;
    let pagesMapped = stats.pagesMapped;
    let pagesUnmapped = stats.pagesUnmapped;
    let words = stats.wordsScanned;
    let inUse = stats.pagesInUse;
    let peak = stats.peakPagesInUse;
    let ranges = stats.rangesAllocated;
    for (; i < n; i++) {
      let rec = records + <usize>(i * RECORD_SIZE);
      let w0 = load<u32>(rec, 0);
      let h = load<u32>(rec, 4);
      let op = w0 & 15;
      if (h >= hc) break;
      let p = slots + <usize>(h * HANDLE_SIZE);
      if (op == OP_UNMAP) {
        if (load<u32>(p, 12) == 0 || <u64>load<u32>(p, 4) + <u64>load<u32>(p, 8) > IO_PAGE_SIZE) break;
        if (!freeOnePage(map, table, empty, <u32>load<i32>(p, 0), entries, badBelow)) break;
        store<u32>(p, 0, 12);
        inUse--;
        unmaps++;
        pagesUnmapped++;
        store<i32>(out + <usize>(i << 2), FREE_OK);
      } else if (op == OP_MAP) {
        let dir = (w0 >> 4) & 15;
        let off = (w0 >> 8) & IO_PAGE_MASK;
        let bytes = load<u32>(rec, 12);
        let pfn = recordPfn(rec);
        if (dir > DMA_FROM_DEVICE || bytes == 0 || <u64>off + <u64>bytes > IO_PAGE_SIZE || pfn > maxPfn) break; // one page that an entry holds
        let got = takeOnePage(map, table, hint, entries, pfn, dir);
        if (got < 0) break;
        words += 2;
        hint = <u32>got + 1;
        inUse++;
        ranges++;
        if (inUse > peak) peak = inUse;
        pagesMapped++;
        maps++;
        store<i32>(p, got, 0);
        store<u32>(p, off, 4);
        store<u32>(p, bytes, 8);
        store<u32>(p, 1, 12);
        store<i32>(out + <usize>(i << 2), got);
      } else {
        break;
      }
    }
    spillOnePage(hint, maps, unmaps, pagesMapped, pagesUnmapped, words, inUse, peak, ranges);
    if (i < n) i = step(i, n);
  }
  return i;
}
