// === Queued invalidation: which interface, and the unmap gather that feeds it ===
// dma-iommu's strict unmap (__iommu_dma_unmap) collects what one unmap call tore down in an
// iommu_iotlb_gather and syncs it once at the end of the call: one range invalidation and one
// wait per unmap / unmap_sg / free_coherent. Lazy mode (the flush queue) gathers nothing; its
// flush is a domain-wide invalidation and a wait (flush_iotlb_all). The interface files write the
// commands into the queue in memory and the modelled IOMMU carries them out on the device cache.
//
// The gather (include/linux/iommu.h): iommu_iotlb_gather_add_page syncs first when the new range
// is disjoint from the gathered one (neither overlapping nor adjacent), then widens the range;
// AMD's own add_page does not sync on a disjoint range (one wider flush is cheaper than two on
// bare metal, amd_iommu_iotlb_gather_add_page) and only widens it.
//
// What each command covers of the IOMMU's caches: today the model has one device-side cache of
// leaf translations (cache.ts), and every command's range is applied to it. Paging-structure
// (walk) caches, where a platform models them, follow the commands' own rules: a VT-d PSI here
// carries IH = 1 (only leaves changed: walk caches may be kept; dma-iommu's 4 KiB unmaps free no
// table pages), a DSI drops everything of the domain; AMD's INVALIDATE_IOMMU_PAGES carries PDE = 1
// (directory entries in the range too); SMMUv3's TLBI_NH_VA carries LEAF = 1 (walk caches kept),
// TLBI_NH_ASID drops everything of the ASID.

import { CAP_MAMV_MASK, CAP_RIL, CAP_RWBF, INV_AMD, INV_NONE, INV_SMMUV3, INV_VTD } from "../constants";
import { stats } from "../counters";
import { queueBase, queueBytes, queueEntries, queueInit } from "./queue";
import { QI_LENGTH, vtdFlushDomain, vtdFlushRange, vtdInit, vtdTailRegister } from "./vtd";
import { AMD_CMD_ENTRIES, amdFlushDomain, amdFlushRange, amdInit, amdTailRegister } from "./amd";
import { SMMU_CMDQ_ENTRIES, smmuFlushDomain, smmuFlushRange, smmuInit, smmuProdRegister } from "./smmuv3";

let kind: u32 = INV_NONE;
/** VT-d CAP.RWBF: flush the write buffer after a map (iotlb_sync_map without caching mode). */
let writeBuffer: bool = false;
let gathered: bool = false;
/** The gathered range, IO pages [gatherFirst, gatherEnd] inclusive. */
let gatherFirst: u64 = 0;
let gatherEnd: u64 = 0;
/** The gather's freelist is empty: only leaf entries changed (VT-d's invalidation hint, IH). */
let leavesOnly: bool = true;

function entriesOf(k: u32): u32 {
  return k == INV_VTD ? QI_LENGTH : k == INV_AMD ? AMD_CMD_ENTRIES : k == INV_SMMUV3 ? SMMU_CMDQ_ENTRIES : 0;
}

/** Bytes of memory the interface's queue needs (0 for none). */
export function invBytes(k: u32): usize {
  return k == INV_NONE ? 0 : queueBytes(entriesOf(k));
}

export function invInit(k: u32, caps: u32, base: usize): void {
  kind = k;
  gathered = false;
  writeBuffer = k == INV_VTD && (caps & CAP_RWBF) != 0;
  if (k == INV_NONE) return;
  queueInit(base, entriesOf(k));
  if (k == INV_VTD) vtdInit(caps & CAP_MAMV_MASK);
  else if (k == INV_AMD) amdInit();
  else smmuInit((caps & CAP_RIL) != 0);
}

export function invKind(): u32 {
  return kind;
}

/** The tail / producer register as the CPU last wrote it. */
export function invTailRegister(): u32 {
  return kind == INV_VTD ? vtdTailRegister() : kind == INV_AMD ? amdTailRegister() : kind == INV_SMMUV3 ? smmuProdRegister() : 0;
}

export function invQueueAt(): usize {
  return kind == INV_NONE ? 0 : queueBase();
}

export function invQueueEntries(): u32 {
  return kind == INV_NONE ? 0 : queueEntries();
}

/**
 * iommu_iotlb_gather_add_page (amd_iommu_iotlb_gather_add_page on AMD) for IO pages [first,
 * first + pages); `tablesFreed`: the unmap freed page-table pages (they join the gather's freelist).
 */
export function invGatherAdd(first: u32, pages: u32, tablesFreed: bool): void {
  if (pages == 0) return;
  let f = <u64>first;
  let e = f + <u64>pages - 1;
  if (gathered && kind != INV_AMD && (e + 1 < gatherFirst || f > gatherEnd + 1)) invSync();
  if (!gathered) {
    gathered = true;
    gatherFirst = f;
    gatherEnd = e;
    leavesOnly = !tablesFreed;
    return;
  }
  if (f < gatherFirst) gatherFirst = f;
  if (e > gatherEnd) gatherEnd = e;
  if (tablesFreed) leavesOnly = false;
}

/** iommu_iotlb_sync: the gathered range invalidated through the interface, and the wait. */
export function invSync(): void {
  if (!gathered) return;
  gathered = false;
  invRange(gatherFirst, gatherEnd - gatherFirst + 1, leavesOnly);
}

/** The interface's range invalidation of IO pages [first, first + pages), and the wait. */
export function invRange(first: u64, pages: u64, leaves: bool): void {
  if (kind == INV_VTD) vtdFlushRange(first, pages, leaves);
  else if (kind == INV_AMD) amdFlushRange(first, pages);
  else smmuFlushRange(first, pages);
}

/** flush_iotlb_all: a domain-wide invalidation and the wait. */
export function invDomain(): void {
  if (kind == INV_VTD) vtdFlushDomain();
  else if (kind == INV_AMD) amdFlushDomain();
  else smmuFlushDomain();
}

/** iotlb_sync_map after a map call: VT-d's write-buffer flush (GCMD.WBF, poll GSTS.WBFS) where RWBF asks for it. */
// @ts-ignore: decorator
@inline export function invAfterMap(): void {
  if (writeBuffer) stats.invWriteBufferFlushes++;
}
