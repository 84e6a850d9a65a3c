// === Built-in workload: a NIC ring, run entirely inside WASM ===
// `ring` one-page buffers outstanding; each step unmaps the oldest and maps a fresh page into its
// slot, through the same DMA-API paths as every other caller (allocator, table, flush hooks,
// counters). No records, no handles, no JS crossing per event: the allocator's own speed.
//
// With the Calgary allocator, Calgary TCEs and a flush policy whose per-call hooks do nothing
// (on-wrap, never), the steady state — free one page, take the next free page in the hint's
// word — runs in a loop that keeps the hint, the counters and the table and bitmap bases in
// locals and writes them back once per call (V8 loads and stores WASM globals through the
// instance on every access; this is the "globals kept in locals" of the native comparison).
// Anything else (a wrap, a bad or double free, another configuration) leaves the loop for the
// general paths; test/ring.test.ts holds the two to identical counters and tables.

import { IO_PAGE_SHIFT } from "./constants";
import { dmaBadFreeBelow, mapSingle, unmapSingle } from "./dma";
import { allocatorEntries, allocatorHint } from "./allocator";
import { bitmapBase } from "./bitmap";
import { tableAt, tableEmptyWord } from "./table";
import { stats } from "./counters";
import { freeOnePage, onePageLoopsApply, spillOnePage, takeOnePage } from "./onepage";

// @ts-ignore: decorator
@inline const BUFFER_BYTES: u32 = 1536; // an Ethernet frame, inside one page
// @ts-ignore: decorator
@inline const FROM_DEVICE: u32 = 2;

let slots: usize = 0;
let slotCount: u32 = 0;
let head: u32 = 0;
let nextPfn: u32 = 0;

/** Lays the ring's slot array at `base` and maps its first `ring` buffers. */
export function ringStart(base: usize, ring: u32, firstPfn: u32): u32 {
  slots = base;
  slotCount = ring;
  head = 0;
  nextPfn = firstPfn;
  let mapped: u32 = 0;
  for (let i: u32 = 0; i < ring; i++) {
    let e = mapSingle(nextPfn++, 0, BUFFER_BYTES, FROM_DEVICE);
    store<i32>(slots + (<usize>i << 2), e);
    if (e >= 0) mapped++;
  }
  return mapped;
}

/** `steps` unmap + map pairs (2 × steps events); returns the failed maps. */
export function ringRun(steps: u32): u32 {
  if (onePageLoopsApply()) return ringRunLocal(steps);
  let failed: u32 = 0;
  let h = head;
  let pfn = nextPfn;
  for (let i: u32 = 0; i < steps; i++) {
    let slot = slots + (<usize>h << 2);
    let e = load<i32>(slot);
    if (e >= 0) unmapSingle(<u32>e << IO_PAGE_SHIFT, BUFFER_BYTES);
    e = mapSingle(pfn, 0, BUFFER_BYTES, FROM_DEVICE);
    pfn = (pfn + 1) & 0x00ffffff;
    if (e < 0) failed++;
    store<i32>(slot, e);
    h = h + 1 == slotCount ? 0 : h + 1;
  }
  head = h;
  nextPfn = pfn;
  return failed;
}

/** The steady-state loop over locals (see the header); the general paths for everything else. */
function ringRunLocal(steps: u32): u32 {
  let map = bitmapBase();
  let table = tableAt();
  let empty = bswap<u64>(tableEmptyWord());
  let entries = allocatorEntries();
  let badBelow = dmaBadFreeBelow();
  let failed: u32 = 0;
  let i: u32 = 0;
  while (i < steps) {
    let hint = allocatorHint();
    let maps = stats.maps;
    let unmaps = stats.unmaps;
    let pagesMapped = stats.pagesMapped;
    let pagesUnmapped = stats.pagesUnmapped;
    let words = stats.wordsScanned;
    let inUse = stats.pagesInUse;
    let peak = stats.peakPagesInUse;
    let ranges = stats.rangesAllocated;
    let h = head;
    let pfn = nextPfn;
    // Where the step that left the loop stopped: 0 before its unmap, 1 before its map.
    let stage: u32 = 0;
    for (; i < steps; i++) {
      let slot = slots + (<usize>h << 2);
      let e = load<i32>(slot);
      if (e >= 0) {
        if (!freeOnePage(map, table, empty, <u32>e, entries, badBelow)) break;
        inUse--;
        unmaps++;
        pagesUnmapped++;
      }
      stage = 1;
      let got = takeOnePage(map, table, hint, entries, pfn, FROM_DEVICE);
      if (got < 0) break;
      let one = <u32>got;
      words += 2;
      hint = one + 1;
      inUse++;
      ranges++;
      if (inUse > peak) peak = inUse;
      pagesMapped++;
      maps++;
      store<i32>(slot, <i32>one);
      stage = 0;
      pfn = (pfn + 1) & 0x00ffffff;
      h = h + 1 == slotCount ? 0 : h + 1;
    }
    head = h;
    nextPfn = pfn;
    spillOnePage(hint, maps, unmaps, pagesMapped, pagesUnmapped, words, inUse, peak, ranges);
    if (i == steps) break;
    // finish step i on the general paths (a wrap, a failed map, a bad or double free)
    let slot = slots + (<usize>head << 2);
    let e = load<i32>(slot);
    if (stage == 0 && e >= 0) unmapSingle(<u32>e << IO_PAGE_SHIFT, BUFFER_BYTES);
    e = mapSingle(nextPfn, 0, BUFFER_BYTES, FROM_DEVICE);
    if (e < 0) failed++;
    store<i32>(slot, e);
    nextPfn = (nextPfn + 1) & 0x00ffffff;
    head = head + 1 == slotCount ? 0 : head + 1;
    i++;
  }
  return failed;
}
