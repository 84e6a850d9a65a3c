// === Calgary / CalIOC2 TCE: one 64-bit entry per 4 KiB IO page, stored big-endian ===
// see: include/asm-x86_64/tce.h (2.6.18 … 5.2, unchanged)
//
//   63          48 47                                  12 11    8 7      2   1   0
//  ╒══════════════╤══════════════════════════════════════╤════════╤════════╤═══╤═══╕
//  │   unused 0   │        real page number (RPN)        │ rsvd 0 │ hub id │ W │ R │
//  ╘══════════════╧══════════════════════════════════════╧════════╧════════╧═══╧═══╛
//  R: device may read memory (always set when built)   W: device may write memory
//  (set unless the direction is DMA_TO_DEVICE). A freed TCE is all zero: any DMA through it faults.

import { DMA_TO_DEVICE } from "./constants";

// @ts-ignore: decorator
@inline export const TCE_READ: u64 = 1 << 0;
// @ts-ignore: decorator
@inline export const TCE_WRITE: u64 = 1 << 1;
// @ts-ignore: decorator
@inline export const TCE_RPN_SHIFT: u64 = 12;
// @ts-ignore: decorator
@inline export const TCE_RPN_MASK: u64 = 0x0000fffffffff000;
// @ts-ignore: decorator
@inline export const TCE_EMPTY: u64 = 0;
// @ts-ignore: decorator
@inline export const TCE_ENTRY_SHIFT: u32 = 3; // 8 bytes an entry

/** The TCE for physical page `pfn` mapped in direction `dir`. */
// @ts-ignore: decorator
@inline export function tceEncode(pfn: u64, dir: u32): u64 {
  let v = ((pfn << TCE_RPN_SHIFT) & TCE_RPN_MASK) | TCE_READ;
  return dir == DMA_TO_DEVICE ? v : v | TCE_WRITE;
}

/** Whether a device access is let through by this TCE. */
// @ts-ignore: decorator
@inline export function tcePermits(tce: u64, write: bool): bool {
  return (tce & (write ? TCE_WRITE : TCE_READ)) != 0;
}

// @ts-ignore: decorator
@inline export function tceLoad(table: usize, entry: u32): u64 {
  return bswap<u64>(load<u64>(table + (<usize>entry << TCE_ENTRY_SHIFT)));
}

// @ts-ignore: decorator
@inline export function tceStore(table: usize, entry: u32, tce: u64): void {
  store<u64>(table + (<usize>entry << TCE_ENTRY_SHIFT), bswap<u64>(tce));
}
