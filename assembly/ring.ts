// === Built-in workload: a NIC ring, run entirely inside WASM ===
// `ring` one-page buffers outstanding; each step unmaps the oldest and maps a fresh page into its
// slot, through the same DMA-API paths as every other caller (allocator, table, flush hooks,
// counters). No records, no handles, no JS crossing per event: the allocator's own speed.

import { IO_PAGE_SHIFT } from "./constants";
import { mapSingle, unmapSingle } from "./dma";

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
    let e = mapSingle(nextPfn++, 0, 1536, 2);
    store<i32>(slots + (<usize>i << 2), e);
    if (e >= 0) mapped++;
  }
  return mapped;
}

/** `steps` unmap + map pairs (2 × steps events); returns the failed maps. */
export function ringRun(steps: u32): u32 {
  let failed: u32 = 0;
  let h = head;
  let pfn = nextPfn;
  for (let i: u32 = 0; i < steps; i++) {
    let slot = slots + (<usize>h << 2);
    let e = load<i32>(slot);
    if (e >= 0) unmapSingle(<u32>e << IO_PAGE_SHIFT, 1536);
    e = mapSingle(pfn, 0, 1536, 2);
    pfn = (pfn + 1) & 0x00ffffff;
    if (e < 0) failed++;
    store<i32>(slot, e);
    h = h + 1 == slotCount ? 0 : h + 1;
  }
  head = h;
  nextPfn = pfn;
  return failed;
}
