// === persistent: the driver allocates its DMA buffers once and reuses them ===
// Buffers come from alloc_coherent on first need and return to a pool by size (LIFO) instead of
// being unmapped; data is copied into them (to the device) or out (from it). Pooled buffers stay
// mapped for the driver's life: the exposure.

import { DMA_FROM_DEVICE, DMA_TO_DEVICE } from "../constants";
import { count, P_COPY_PER_BYTE, P_DMA_API_ENTRY } from "./counts";
import { driverAt } from "./environment";
import { pooledChange } from "./exposure";
import { coreAlloc } from "./mapping";
import { pagesOf } from "./buffers";
import { hashDelete, hashGet, hashPut, nextOf, setInUse, setNext, slotBase, slotNew, slotPages } from "./slots";

/** The slot the last persistentMap used. */
export let mappedSlot: u32 = 0;

/** Every pooled buffer holds at least one IO page for good, so the IO space bounds them. */
export function persistentSlots(entries: u32): u32 {
  return entries;
}

/** The largest buffer alloc_coherent takes in one call (bytes must fit in 32 bits). */
// @ts-ignore: decorator
@inline export const PERSISTENT_MAX_PAGES: u32 = 0xfffff;

export function persistentMap(kind: u32, phys: u64, bytes: u32, dir: u32): i64 {
  let pages = pagesOf(phys, bytes);
  let top = hashGet(<u64>pages);
  let slot: u32;
  if (top != 0) {
    let below = nextOf(top);
    if (below != 0) hashPut(<u64>pages, below);
    else hashDelete(<u64>pages);
    pooledChange(-<f64>pages);
    count(driverAt, kind, P_DMA_API_ENTRY, 1);
    slot = top;
  } else {
    let dma = coreAlloc(kind, pages << 12);
    if (dma < 0) {
      mappedSlot = 0;
      return -1;
    }
    slot = slotNew(<u64>pages, <u32>dma, pages);
  }
  setInUse(slot, true);
  if (dir != DMA_FROM_DEVICE) count(driverAt, kind, P_COPY_PER_BYTE, <f64>bytes);
  mappedSlot = slot;
  return <i64>slotBase(slot) + <i64>(phys & 0xfff);
}

export function persistentUnmap(kind: u32, slot: u32, dir: u32, bytes: u32): void {
  count(driverAt, kind, P_DMA_API_ENTRY, 1);
  if (dir != DMA_TO_DEVICE) count(driverAt, kind, P_COPY_PER_BYTE, <f64>bytes);
  setInUse(slot, false);
  let pages = slotPages(slot);
  setNext(slot, hashGet(<u64>pages));
  hashPut(<u64>pages, slot);
  pooledChange(<f64>pages);
}
