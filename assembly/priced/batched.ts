// === batched: dma_map_multi / dma_unmap_multi, one crossing per batch of B operations ===
// Maps open a multicall every B maps and ride in it; unmaps wait in a queue of B and go in one
// dma_unmap_multi. Queued unmaps are released by the driver but still mapped: the exposure.
//   pending: the handles whose unmap waits, in order

import { B, bytesOf, dmaOf, elementsOf, flagsOf, kindOf, BUF_SG, PENDING, pagesOf, setFlags } from "./buffers";
import { KIND_UNMAP, KIND_UNMAP_SG } from "./counts";
import { multicallStart } from "./environment";
import { pendingChange } from "./exposure";
import { coreUnmap, coreUnmapSg } from "./mapping";

let size: u32 = 1;
let fill: u32 = 0;
let pending: usize = 0;
let waiting: u32 = 0;

export function batchedBytes(batch: u32): usize {
  return <usize>batch << 2;
}

export function batchedInit(at: usize, batch: u32): void {
  pending = at;
  size = batch;
  fill = 0;
  waiting = 0;
}

/** A map joins the current dma_map_multi, opening one every B maps. */
export function batchedMapEntry(kind: u32): void {
  if (fill == 0) multicallStart(kind);
  fill = (fill + 1) % size;
}

function pagesHeld(h: u32): f64 {
  let b = B(h);
  let n: u32 = kindOf(b) == BUF_SG ? elementsOf(b) : 1;
  let pages: f64 = 0;
  for (let k: u32 = 0; k < n; k++) pages += pagesOf(dmaOf(B(h + k)), bytesOf(B(h + k)));
  return pages;
}

/** The driver released handle `h`: its unmap waits for the batch. */
export function batchedQueue(h: u32): void {
  store<u32>(pending + (<usize>waiting << 2), h);
  waiting++;
  setFlags(B(h), flagsOf(B(h)) | PENDING);
  pendingChange(pagesHeld(h));
  if (waiting >= size) batchedDrain();
}

/** dma_unmap_multi over the queued unmaps. */
export function batchedDrain(): void {
  if (waiting == 0) return;
  let n = waiting;
  waiting = 0;
  multicallStart(kindOf(B(load<u32>(pending))) == BUF_SG ? KIND_UNMAP_SG : KIND_UNMAP);
  for (let i: u32 = 0; i < n; i++) {
    let h = load<u32>(pending + (<usize>i << 2));
    let b = B(h);
    setFlags(b, flagsOf(b) & ~PENDING);
    pendingChange(-pagesHeld(h));
    if (kindOf(b) == BUF_SG) coreUnmapSg(h, elementsOf(b), true);
    else coreUnmap(KIND_UNMAP, dmaOf(b), bytesOf(b), true);
  }
}
