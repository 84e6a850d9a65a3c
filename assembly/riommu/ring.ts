// === rIOMMU (Malka, Amit, Ben-Yehuda, Tsafrir, ASPLOS 2015): the rRING of rPTEs ===
// What the paper's abstract says (http://nadav.amit.to/publications/riommu, DOI
// 10.1145/2694344.2694355): rIOMMU "replac[es] the virtual memory page table hierarchy with a
// circular, flat table"; "a flat table is adequately supported by exactly one IOTLB entry, making
// every new translation an implicit invalidation of the former and thus requiring explicit
// invalidations only at the end of I/O bursts". The paper's body was not in the sources we could
// search; everything below that goes beyond those sentences is this model's choice, said so where
// it is made (README, "rIOMMU: a ring-based IOMMU").
//
// The model: one device ring = one rRING, a flat circular array of rPTEs; the IO address of a
// mapping is its ring position (IO page number = position, so IOVA = position << 12 | offset; one
// ring per instance, ring id 0). The driver appends mappings at the tail (ALLOC_RING,
// allocator.ts) and clears an rPTE at unmap. The rIOTLB (the device cache, cache.ts, one set of two
// ways) holds the ring's current translation and the prefetched next one (dma.ts translate): a walk
// is one rPTE read, and a new translation evicts the former. Unmaps invalidate nothing; the first
// map after a run of unmaps ends the burst with one rIOTLB invalidation (FLUSH_END_OF_BURST,
// flush.ts), before the new rPTE can be used, so a reused position never meets its old translation.
//
// The model's rPTE, one per 4 KiB IO page, 8 bytes, stored little-endian (no hardware defines
// this layout; the paper's own rPTE is not reproduced here):
//
//   63        52 51                                        12 11      3  2   1   0
//  ╒════════════╤════════════════════════════════════════════╤═════════╤═══════╤═══╕
//  │  unused 0  │       physical page number (40 bits)       │ rsvd 0  │  dir  │ V │
//  ╘════════════╧════════════════════════════════════════════╧═════════╧═══════╧═══╛
//  V: valid.  dir: the mapping's DMA direction as Linux numbers it (0 bidirectional,
//  1 to-device: the device may only read memory, 2 from-device: it may only write).
//  A cleared rPTE is all zero: any DMA through it faults.

import { DMA_FROM_DEVICE, DMA_TO_DEVICE } from "../constants";

// @ts-ignore: decorator
@inline export const RPTE_VALID: u64 = 1;
// @ts-ignore: decorator
@inline export const RPTE_DIR_SHIFT: u64 = 1;
// @ts-ignore: decorator
@inline export const RPTE_PFN_SHIFT: u64 = 12;
// @ts-ignore: decorator
@inline export const RPTE_PFN_MASK: u64 = 0x000ffffffffff000;
// @ts-ignore: decorator
@inline export const RPTE_EMPTY: u64 = 0;
// @ts-ignore: decorator
@inline export const RPTE_ENTRY_SHIFT: u32 = 3; // 8 bytes an rPTE

/** The rPTE for physical page `pfn` mapped in direction `dir`. */
// @ts-ignore: decorator
@inline export function rpteEncode(pfn: u64, dir: u32): u64 {
  return ((pfn << RPTE_PFN_SHIFT) & RPTE_PFN_MASK) | (<u64>dir << RPTE_DIR_SHIFT) | RPTE_VALID;
}

/** Whether a device access is let through by this rPTE: valid, and the direction allows it. */
// @ts-ignore: decorator
@inline export function rptePermits(rpte: u64, write: bool): bool {
  if ((rpte & RPTE_VALID) == 0) return false;
  let dir = <u32>((rpte >> RPTE_DIR_SHIFT) & 3);
  return write ? dir != DMA_TO_DEVICE : dir != DMA_FROM_DEVICE;
}

// @ts-ignore: decorator
@inline export function rpteLoad(ring: usize, position: u32): u64 {
  return load<u64>(ring + (<usize>position << RPTE_ENTRY_SHIFT));
}

// @ts-ignore: decorator
@inline export function rpteStore(ring: usize, position: u32, rpte: u64): void {
  store<u64>(ring + (<usize>position << RPTE_ENTRY_SHIFT), rpte);
}
