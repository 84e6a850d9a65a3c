// === DART (Apple U3 / U4, IBM CPC925/CPC945) entry: 32 bits, big-endian ===
// see: arch/powerpc/sysdev/dart.h, dart_iommu.c
//
//    31  30         24 23                                   0
//  ╒═══╤══════════════╤══════════════════════════════════════╕
//  │ V │   unused 0   │        real page number (24 bits)    │
//  ╘═══╧══════════════╧══════════════════════════════════════╛
//  V: DARTMAP_VALID. Linux ignores the direction: there are no permission bits.
//  Freed entries are not invalidated: they point at a spare zeroed page (dart_emptyval), so a DMA
//  through a freed entry lands harmlessly in that page. We count it as a blocked access (fault).

// @ts-ignore: decorator
@inline export const DARTMAP_VALID: u32 = 0x80000000;
// @ts-ignore: decorator
@inline export const DARTMAP_RPNMASK: u32 = 0x00ffffff;
// @ts-ignore: decorator
@inline export const DART_ENTRY_SHIFT: u32 = 2; // 4 bytes an entry

// @ts-ignore: decorator
@inline export function dartEncode(pfn: u64): u32 {
  // dart_build masks the rpn; pages beyond the 24 bits are refused before they get here
  return DARTMAP_VALID | (<u32>pfn & DARTMAP_RPNMASK);
}

/** A DMA through `entry` reaches real memory: valid and not the spare page. */
// @ts-ignore: decorator
@inline export function dartPermits(entry: u32, empty: u32): bool {
  return (entry & DARTMAP_VALID) != 0 && entry != empty;
}

// @ts-ignore: decorator
@inline export function dartLoad(table: usize, entry: u32): u32 {
  return bswap<u32>(load<u32>(table + (<usize>entry << DART_ENTRY_SHIFT)));
}

// @ts-ignore: decorator
@inline export function dartStore(table: usize, entry: u32, value: u32): void {
  store<u32>(table + (<usize>entry << DART_ENTRY_SHIFT), bswap<u32>(value));
}
