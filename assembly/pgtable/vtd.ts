// === Intel VT-d second-level paging entry: 64 bits, little-endian, 512 to a 4 KiB table ===
// see: Intel VT-d specification §9.8 (second-level paging entries); Linux drivers/iommu/intel
// (DMA_PTE_READ, DMA_PTE_WRITE, DMA_PTE_LARGE_PAGE; dma_pte_present = R | W).
//
//   63 62        52 51                                      12 11 10     8  7   6    2   1   0
//  ╒═══╤═══════════╤══════════════════════════════════════════╤═══╤════════╤════╤═══════╤═══╤═══╕
//  │ 0 │  ignored  │   address of the page / next table       │SNP│ ignored│ PS │  0    │ W │ R │
//  ╘═══╧═══════════╧══════════════════════════════════════════╧═══╧════════╧════╧═══════╧═══╧═══╛
//  Table entry (Linux): next table's address | R | W.  Leaf: page address | R? | W? ; PS = 1 in a
//  level-2 entry makes it a 2 MiB leaf. dma-iommu: to-device → R, from-device → W only, both → R | W
//  (write-only since Jason Gunthorpe's 2025 change to __domain_mapping; before it every leaf also
//  had bit 0 set, as DMA_FL_PTE_PRESENT, so from-device mapped R | W). Snoop (SNP) stays clear:
//  Linux sets it only for domains that force snooping. Not present: R = W = 0.
//
// First-level (scalable mode, `pageTableFormat: "first-level"`): the x86-64 paging format.
//
//   63 62        52 51                                      12 11   8  7   6   5   4   3   2   1   0
//  ╒═══╤═══════════╤══════════════════════════════════════════╤══════╤════╤═══╤═══╤═══╤═══╤═══╤═══╤═══╕
//  │XD │  ignored  │   address of the page / next table       │ ign. │ PS │ D │ A │PCD│PWT│US │RW │ P │
//  ╘═══╧═══════════╧══════════════════════════════════════════╧══════╧════╧═══╧═══╧═══╧═══╧═══╧═══╧═══╛
//  Linux (pfn_to_dma_pte, __domain_mapping): table entry = next table | P | RW | US | A; leaf =
//  page | P | RW? | US | A | D (when writable), PS in a 2 MiB leaf. P makes every present page
//  readable: from-device maps read-write.

import { DMA_FROM_DEVICE, DMA_TO_DEVICE } from "../constants";

// @ts-ignore: decorator
@inline export const VTD_R: u64 = 1;
// @ts-ignore: decorator
@inline export const VTD_W: u64 = 2;
// @ts-ignore: decorator
@inline export const VTD_PS: u64 = 1 << 7;

// @ts-ignore: decorator
@inline export function vtdLeaf(pfn: u64, dir: u32, large: bool): u64 {
  let v = pfn << 12;
  if (dir != DMA_FROM_DEVICE) v |= VTD_R;
  if (dir != DMA_TO_DEVICE) v |= VTD_W;
  return large ? v | VTD_PS : v;
}

// @ts-ignore: decorator
@inline export function vtdTable(tablePfn: u64): u64 {
  return (tablePfn << 12) | VTD_R | VTD_W;
}

// @ts-ignore: decorator
@inline export function vtdPresent(e: u64): bool {
  return (e & (VTD_R | VTD_W)) != 0;
}

/** A present entry above level 1 that maps a page rather than pointing at a table. */
// @ts-ignore: decorator
@inline export function vtdLarge(e: u64): bool {
  return (e & VTD_PS) != 0;
}

// @ts-ignore: decorator
@inline export function vtdPermits(e: u64, write: bool): bool {
  return (e & (write ? VTD_W : VTD_R)) != 0;
}

// @ts-ignore: decorator
@inline export const FL_P: u64 = 1;
// @ts-ignore: decorator
@inline export const FL_RW: u64 = 2;
// @ts-ignore: decorator
@inline export const FL_US: u64 = 1 << 2;
// @ts-ignore: decorator
@inline export const FL_A: u64 = 1 << 5;
// @ts-ignore: decorator
@inline export const FL_D: u64 = 1 << 6;

// @ts-ignore: decorator
@inline export function vtdFlLeaf(pfn: u64, dir: u32, large: bool): u64 {
  let v = (pfn << 12) | FL_P | FL_US | FL_A;
  if (dir != DMA_TO_DEVICE) v |= FL_RW | FL_D;
  return large ? v | VTD_PS : v;
}

// @ts-ignore: decorator
@inline export function vtdFlTable(tablePfn: u64): u64 {
  return (tablePfn << 12) | FL_P | FL_RW | FL_US | FL_A;
}

// @ts-ignore: decorator
@inline export function vtdFlPermits(e: u64, write: bool): bool {
  return (e & FL_P) != 0 && (!write || (e & FL_RW) != 0);
}
