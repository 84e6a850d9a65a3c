// === AMD-Vi (AMD IOMMU) v1 I/O page-table entry: 64 bits, little-endian, 512 to a 4 KiB table ===
// see: AMD I/O Virtualization Technology (IOMMU) specification §2.2.3 (I/O page tables); Linux
// drivers/iommu/amd/io_pgtable.c, amd_iommu_types.h (IOMMU_PTE_PR/FC/IR/IW, PM_LEVEL_ENC, PM_LEVEL_PDE).
//
//   63  62   61   60   59  58        52 51                                  12 11  9 8       1  0
//  ╒═══╤════╤════╤════╤═══╤════════════╤══════════════════════════════════════╤══════╤═════════╤════╕
//  │ 0 │ IW │ IR │ FC │ U │  ignored   │   address of the page / next table   │  NL  │ ignored │ PR │
//  ╘═══╧════╧════╧════╧═══╧════════════╧══════════════════════════════════════╧══════╧═════════╧════╛
//  PR present. NL (Next Level): in a table entry, the level (1-based) of the table it points to;
//  0 in a leaf (a level-2 entry with NL 0 is a 2 MiB page); 7 marks the replicated entries of a
//  page size between the natural ones. Linux's page-table entries (PM_LEVEL_PDE) carry NL = the
//  level below, PR, IR and IW; it never skips levels ("No level skipping support yet": a PDE whose
//  NL is not the next level makes the walk fail). Leaves: page | PR | FC (force coherent) | IR? | IW?.
//  dma-iommu: to-device → IR, from-device → IW, both → IR | IW. Linux's v1 page sizes are every
//  power of two from 4 KiB (AMD_IOMMU_PGSIZES, 512 GiB excepted), so iommu_map gives a range
//  aligned to 2^k pages (IO and physical) a 2^k-page page: k = 9 one level-2 leaf (NL 0), 0 < k < 9
//  2^k replicated level-1 entries, 9 < k ≤ 17 2^(k−9) replicated level-2 entries (NL 7, the size
//  encoded in the address bits: PAGE_SIZE_PTE).

import { DMA_FROM_DEVICE, DMA_TO_DEVICE } from "../constants";

// @ts-ignore: decorator
@inline export const AMD_PR: u64 = 1;
// @ts-ignore: decorator
@inline export const AMD_FC: u64 = <u64>1 << 60;
// @ts-ignore: decorator
@inline export const AMD_IR: u64 = <u64>1 << 61;
// @ts-ignore: decorator
@inline export const AMD_IW: u64 = <u64>1 << 62;
// @ts-ignore: decorator
@inline export const AMD_NL_SHIFT: u64 = 9;
// @ts-ignore: decorator
@inline export const AMD_NL_MASK: u64 = 7 << 9;

// @ts-ignore: decorator
@inline export function amdLeaf(pfn: u64, dir: u32): u64 {
  let v = (pfn << 12) | AMD_PR | AMD_FC;
  if (dir != DMA_FROM_DEVICE) v |= AMD_IR;
  if (dir != DMA_TO_DEVICE) v |= AMD_IW;
  return v;
}

/** The entry of a level-`level` table (1-based) pointing at a table of the level below. */
// @ts-ignore: decorator
@inline export function amdTable(tablePfn: u64, level: u32): u64 {
  return (tablePfn << 12) | (<u64>(level - 1) << AMD_NL_SHIFT) | AMD_PR | AMD_IR | AMD_IW;
}

// @ts-ignore: decorator
@inline export function amdPresent(e: u64): bool {
  return (e & AMD_PR) != 0;
}

/** A present entry above level 1 that maps a page: Next Level 0 (its natural size) or 7 (replicated). */
// @ts-ignore: decorator
@inline export function amdLarge(e: u64): bool {
  let nl = e & AMD_NL_MASK;
  return nl == 0 || nl == AMD_NL_MASK;
}

/**
 * One of the 2^(order − levelShift) identical entries of a page of 2^order IO pages between the
 * natural sizes (Next Level 7): the page's address with bits 12 … order + 10 set and bit
 * order + 11 clear, which encodes the size (PAGE_SIZE_PTE), then PR | FC | IR? | IW?.
 */
// @ts-ignore: decorator
@inline export function amdReplicated(pfn: u64, order: u32, dir: u32): u64 {
  let size = <u64>1 << (<u64>order + 12);
  let addr = ((pfn << 12) | (size - 1)) & ~(size >> 1) & 0x000ffffffffff000;
  return (amdLeaf(0, dir) | addr) | AMD_NL_MASK;
}

/** The first physical page of the page a Next-Level-7 entry maps, and its order (IO pages = 2^order). */
// @ts-ignore: decorator
@inline export function amdReplicatedOrder(e: u64): u32 {
  // the lowest clear address bit from 12 is bit order + 11
  return <u32>ctz<u64>(~(e >> 12)) + 1;
}

// @ts-ignore: decorator
@inline export function amdPermits(e: u64, write: bool): bool {
  return (e & (write ? AMD_IW : AMD_IR)) != 0;
}
