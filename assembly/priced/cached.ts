// === cached: the DMA API parks unmapped mappings and reuses them for the same pages ===
// A map of the same (page, pages, direction) as a parked mapping takes it back without touching
// the table or crossing to Xen; parked mappings beyond the cache size are really unmapped, least
// recently released first. Parked pages stay reachable by the device: the exposure.
//   idle list: the parked slots, least recently released at the head

import { count, P_DMA_API_ENTRY, P_MAPPING_CACHE_LOOKUP } from "./counts";
import { driverAt } from "./environment";
import { parkedChange } from "./exposure";
import { coreMap, coreUnmap } from "./mapping";
import { pagesOf } from "./buffers";
import {
  hashDelete, hashGet, hashPut, nextOf, prevOf, setInUse, setNext, setPrev, slotBase, slotInUse, slotNew,
  slotPages, slotRelease, S,
} from "./slots";

let limit: u32 = 0;
let idleHead: u32 = 0;
let idleTail: u32 = 0;
let idleCount: u32 = 0;
/** The slot the last cachedMap used (0: the mapping is not cached). */
export let mappedSlot: u32 = 0;

/** Slots the cache can need: every parked one, one over the limit before eviction, one per live buffer. */
export function cachedSlots(size: u32, handles: u32): u32 {
  return size + 1 + handles;
}

export function cachedInit(size: u32): void {
  limit = size;
  idleHead = 0;
  idleTail = 0;
  idleCount = 0;
}

// @ts-ignore: decorator
@inline function keyOf(phys: u64, pages: u32, dir: u32): u64 {
  return ((phys >> 12) << 23) | (<u64>pages << 2) | <u64>dir;
}

function idleRemove(i: u32): void {
  let p = prevOf(i);
  let n = nextOf(i);
  if (p != 0) setNext(p, n);
  else idleHead = n;
  if (n != 0) setPrev(n, p);
  else idleTail = p;
  idleCount--;
}

function idleAppend(i: u32): void {
  setPrev(i, idleTail);
  setNext(i, 0);
  if (idleTail != 0) setNext(idleTail, i);
  else idleHead = i;
  idleTail = i;
  idleCount++;
}

/** map through the cache; the DMA address or -1, and `mappedSlot`. */
export function cachedMap(kind: u32, phys: u64, bytes: u32, dir: u32): i64 {
  let pages = pagesOf(phys, bytes);
  let key = keyOf(phys, pages, dir);
  count(driverAt, kind, P_MAPPING_CACHE_LOOKUP, 1);
  let hit = hashGet(key);
  if (hit != 0 && !slotInUse(hit)) {
    setInUse(hit, true);
    idleRemove(hit);
    parkedChange(-<f64>pages);
    count(driverAt, kind, P_DMA_API_ENTRY, 1);
    mappedSlot = hit;
    return <i64>slotBase(hit) + <i64>(phys & 0xfff);
  }
  mappedSlot = 0;
  let dma = coreMap(kind, phys, bytes, dir, false);
  if (dma < 0) return -1;
  if (hit != 0) return dma; // the same pages mapped twice at once: the second is not cached
  let slot = slotNew(key, <u32>(dma - <i64>(phys & 0xfff)), pages);
  hashPut(key, slot);
  mappedSlot = slot;
  return dma;
}

/** unmap of a cached mapping: park it, then evict beyond the limit. */
export function cachedUnmap(kind: u32, slot: u32): void {
  count(driverAt, kind, P_DMA_API_ENTRY, 1);
  count(driverAt, kind, P_MAPPING_CACHE_LOOKUP, 1);
  setInUse(slot, false);
  idleAppend(slot);
  parkedChange(<f64>slotPages(slot));
  while (idleCount > limit) {
    let victim = idleHead;
    idleRemove(victim);
    hashDelete(load<u64>(S(victim), 0));
    parkedChange(-<f64>slotPages(victim));
    coreUnmap(kind, <u64>slotBase(victim), slotPages(victim) << 12, false);
    slotRelease(victim);
  }
}

