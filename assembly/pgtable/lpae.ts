// === Arm SMMUv3 stage-1 translation descriptor (VMSAv8-64, 4 KiB granule): 64 bits, little-endian ===
// see: Arm ARM D8.3 (VMSAv8-64 translation table descriptors), SMMUv3 spec §3.3 (stage 1 uses the
// VMSAv8-64 format); Linux drivers/iommu/io-pgtable-arm.c (ARM_64_LPAE_S1: arm_lpae_prot_to_pte,
// arm_lpae_init_pte).
//
//   63   54 53 52 51 50 48 47                                12 11  10  9  8  7   6   5   4  2  1   0
//  ╒═══════╤═════╤══╤═════╤════════════════════════════════════╤══╤═══╤═════╤════╤═══╤═══╤═════╤═══╤═══╕
//  │  0    │ XN  │ 0│ 0   │  output address / next-level table │nG│AF │ SH  │AP2 │AP1│NS │AIdx │ T │ V │
//  ╘═══════╧═════╧══╧═════╧════════════════════════════════════╧══╧═══╧═════╧════╧═══╧═══╧═════╧═══╧═══╛
//  bits 1:0 — 0b11 table (levels 0–2) or page (level 3); 0b01 block (here: a 2 MiB level-2 block);
//  0bx0 invalid. Linux's table descriptor: next table | 0b11. Leaves (stage 1, a coherent SMMU,
//  IOMMU_CACHE): nG | AF | SH inner-shareable (0b11) | AP[1] (unprivileged) | AttrIndx 1 (cacheable
//  write-back, MAIR index 1) | type; AP[2] (read-only) when the mapping is to-device. Stage 1 cannot
//  express write-only: from-device maps read-write.

import { DMA_TO_DEVICE } from "../constants";

// @ts-ignore: decorator
@inline export const LPAE_VALID: u64 = 1;
// @ts-ignore: decorator
@inline export const LPAE_TYPE_TABLE: u64 = 3; // also "page" at level 3
// @ts-ignore: decorator
@inline export const LPAE_TYPE_BLOCK: u64 = 1;
// @ts-ignore: decorator
@inline export const LPAE_ATTRINDX_CACHE: u64 = 1 << 2;
// @ts-ignore: decorator
@inline export const LPAE_AP_UNPRIV: u64 = 1 << 6;
// @ts-ignore: decorator
@inline export const LPAE_AP_RDONLY: u64 = 1 << 7;
// @ts-ignore: decorator
@inline export const LPAE_SH_IS: u64 = 3 << 8;
// @ts-ignore: decorator
@inline export const LPAE_AF: u64 = 1 << 10;
// @ts-ignore: decorator
@inline export const LPAE_NG: u64 = 1 << 11;

// @ts-ignore: decorator
@inline export function lpaeLeaf(pfn: u64, dir: u32, large: bool): u64 {
  let v = (pfn << 12) | LPAE_NG | LPAE_AF | LPAE_SH_IS | LPAE_AP_UNPRIV | LPAE_ATTRINDX_CACHE;
  if (dir == DMA_TO_DEVICE) v |= LPAE_AP_RDONLY;
  return v | (large ? LPAE_TYPE_BLOCK : LPAE_TYPE_TABLE);
}

// @ts-ignore: decorator
@inline export function lpaeTable(tablePfn: u64): u64 {
  return (tablePfn << 12) | LPAE_TYPE_TABLE;
}

// @ts-ignore: decorator
@inline export function lpaePresent(e: u64): bool {
  return (e & LPAE_VALID) != 0;
}

/** A valid entry above level 3 (here: level 2) that is a block rather than a table. */
// @ts-ignore: decorator
@inline export function lpaeLarge(e: u64): bool {
  return (e & 3) == LPAE_TYPE_BLOCK;
}

// @ts-ignore: decorator
@inline export function lpaePermits(e: u64, write: bool): bool {
  return (e & LPAE_VALID) != 0 && (!write || (e & LPAE_AP_RDONLY) == 0);
}
