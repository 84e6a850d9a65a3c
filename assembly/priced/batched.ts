// === batched: dma_map_multi / dma_unmap_multi, one crossing per batch of B operations ===
// Maps open a multicall every B maps and ride in it; unmaps wait in a queue of B and go in one
// dma_unmap_multi. Queued unmaps are released by the driver but still mapped: the exposure.
// The queue keeps its own copy of each released mapping (DMA address and length per element), so
// the driver may map the same handle again while its old unmap still waits, as it may in Linux.
//
//   queue:    u32 per waiting unmap: its first element | SG_FLAG for a scatterlist
//   elements: dma u64 @0, bytes u32 @8, 16 B each, in queue order; room for B × ELEMENTS_PER_UNMAP
//             plus one longest list (a queue that would overflow it refuses the unmap, never drops it)

import { SG_MAX } from "../constants";
import { B, bytesOf, dmaOf, elementsOf, kindOf, BUF_SG, pagesOf } from "./buffers";
import { KIND_UNMAP, KIND_UNMAP_SG } from "./counts";
import { multicallStart } from "./environment";
import { pendingChange } from "./exposure";
import { coreUnmap, coreUnmapSgOf } from "./mapping";

// @ts-ignore: decorator
@inline const SG_FLAG: u32 = 0x80000000;
// @ts-ignore: decorator
@inline const ELEMENT_BYTES: u32 = 16;
// @ts-ignore: decorator
@inline const ELEMENTS_PER_UNMAP: u32 = 16;

let size: u32 = 1;
let fill: u32 = 0;
let queue: usize = 0;
let waiting: u32 = 0;
let elements: usize = 0;
let elementsUsed: u32 = 0;
let elementsRoom: u32 = 0;

function roomFor(batch: u32): u32 {
  return batch * ELEMENTS_PER_UNMAP + SG_MAX;
}

export function batchedBytes(batch: u32): usize {
  return (<usize>batch << 2) + 8 + <usize>roomFor(batch) * ELEMENT_BYTES;
}

export function batchedInit(at: usize, batch: u32): void {
  queue = at;
  size = batch;
  fill = 0;
  waiting = 0;
  elements = (at + (<usize>batch << 2) + 7) & ~(<usize>7);
  elementsUsed = 0;
  elementsRoom = roomFor(batch);
}

/** A map joins the current dma_map_multi, opening one every B maps. */
export function batchedMapEntry(kind: u32): void {
  if (fill == 0) multicallStart(kind);
  fill = (fill + 1) % size;
}

/** The queue can take handle h's unmap (false: its elements would overflow the copies' room). */
export function batchedRoom(h: u32): bool {
  let n: u32 = kindOf(B(h)) == BUF_SG ? elementsOf(B(h)) : 1;
  return elementsUsed + n <= elementsRoom;
}

// @ts-ignore: decorator
@inline function E(i: u32): usize {
  return elements + <usize>i * ELEMENT_BYTES;
}

/** The driver released handle `h` (batchedRoom said yes): its unmap waits for the batch. */
export function batchedQueue(h: u32): void {
  let sg = kindOf(B(h)) == BUF_SG;
  let n: u32 = sg ? elementsOf(B(h)) : 1;
  store<u32>(queue + (<usize>waiting << 2), elementsUsed | (sg ? SG_FLAG : 0));
  waiting++;
  let pages: f64 = 0;
  for (let k: u32 = 0; k < n; k++) {
    let b = B(h + k);
    let e = E(elementsUsed + k);
    store<u64>(e, dmaOf(b), 0);
    store<u32>(e, bytesOf(b), 8);
    store<u32>(e, n, 12);
    pages += pagesOf(dmaOf(b), bytesOf(b));
  }
  elementsUsed += n;
  pendingChange(pages);
  if (waiting >= size) batchedDrain();
}

/** dma_unmap_multi over the queued unmaps. */
export function batchedDrain(): void {
  if (waiting == 0) return;
  let n = waiting;
  waiting = 0;
  elementsUsed = 0;
  multicallStart((load<u32>(queue) & SG_FLAG) != 0 ? KIND_UNMAP_SG : KIND_UNMAP);
  for (let i: u32 = 0; i < n; i++) {
    let entry = load<u32>(queue + (<usize>i << 2));
    let e = E(entry & ~SG_FLAG);
    let count = load<u32>(e, 12);
    let pages: f64 = 0;
    for (let k: u32 = 0; k < count; k++) pages += pagesOf(load<u64>(e + <usize>k * ELEMENT_BYTES, 0), load<u32>(e + <usize>k * ELEMENT_BYTES, 8));
    pendingChange(-pages);
    if ((entry & SG_FLAG) != 0) coreUnmapSgOf(e, ELEMENT_BYTES, count, true);
    else coreUnmap(KIND_UNMAP, load<u64>(e, 0), load<u32>(e, 8), true);
  }
}
