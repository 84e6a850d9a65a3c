// === Intel VT-d queued invalidation: the invalidation queue (IQ) of 128-bit descriptors ===
// see: VT-d specification §6.5.2 (queued invalidation), Linux drivers/iommu/intel/dmar.c
// (qi_submit_sync), cache.c (cache_tag_flush_range / _all, calculate_psi_aligned_address).
//
// IOTLB invalidate descriptor (type 2):
//   63        48 47        32 31          16 15 12 11  9 8  7    6    5   4 3    0
//  ╒════════════╤════════════╤══════════════╤═════╤═════╤══╤════╤════╤════════╤══════╕
//  │  rsvd 0    │  rsvd 0    │  DID         │ 0   │ 0   │0 │ DR │ DW │ G      │ 2    │ qw0
//  ╘════════════╧════════════╧══════════════╧═════╧═════╧══╧════╧════╧════════╧══════╛
//   127                                          76 75    71 70   69      64
//  ╒═══════════════════════════════════════════════╤════════╤════╤═════════╕
//  │ ADDR[63:12]                                   │ rsvd 0 │ IH │ AM      │         qw1
//  ╘═══════════════════════════════════════════════╧════════╧════╧═════════╛
//  G: 1 global, 2 domain-selective (DSI), 3 page-selective within the domain (PSI): 2^AM pages
//  from ADDR, which must be aligned to them. IH: only leaf entries changed (paging-structure
//  caches may be kept). DR/DW: drain reads/writes, set as the hardware reports DRD/DWD.
//
// Invalidation wait descriptor (type 5):
//   63                       32 31            8 7    6    5    4    3    0
//  ╒═══════════════════════════╤═══════════════╤════╤════╤════╤════╤══════╕
//  │ status data               │ rsvd 0        │ PD │ FN │ SW │ IF │ 5    │ qw0
//  ╘═══════════════════════════╧═══════════════╧════╧════╧════╧════╧══════╛
//  ╒═══════════════════════════════════════════════════════════╤══════════╕
//  │ status address[63:2]                                      │ 0        │ qw1
//  ╘═══════════════════════════════════════════════════════════╧══════════╛
//  SW: when every earlier descriptor is done, the IOMMU writes the status data (QI_DONE) there.
//
// qi_submit_sync: the descriptors, then a wait descriptor whose status word is that of its own
// slot, then ONE write of the tail register (IQT = next free slot << 4), then the CPU spins on
// the status word. The queue has QI_LENGTH 256 slots of 16 bytes (one 4 KiB page).

import { stats } from "../counters";
import { cacheInvalidateAll, cacheInvalidateRange } from "../cache";
import { physToMemory, queueNext, queuePut, queueTail, slotAt, statusPhys } from "./queue";

// @ts-ignore: decorator
@inline export const QI_LENGTH: u32 = 256;
// @ts-ignore: decorator
@inline const QI_IOTLB_TYPE: u64 = 0x2;
// @ts-ignore: decorator
@inline const QI_IWD_TYPE: u64 = 0x5;
// @ts-ignore: decorator
@inline const GRAN_GLOBAL: u64 = 1;
// @ts-ignore: decorator
@inline const GRAN_DSI: u64 = 2;
// @ts-ignore: decorator
@inline const GRAN_PSI: u64 = 3;
// @ts-ignore: decorator
@inline const QI_IWD_STATUS_WRITE: u64 = 1 << 5;
// @ts-ignore: decorator
@inline const QI_IN_USE: u32 = 1;
// @ts-ignore: decorator
@inline const QI_DONE: u32 = 2;
/** The one domain the model has (its domain id in every descriptor). */
// @ts-ignore: decorator
@inline export const VTD_DOMAIN_ID: u64 = 1;
/** calculate_psi_aligned_address's mask when no alignment covers the range: MAX_AGAW_PFN_WIDTH. */
// @ts-ignore: decorator
@inline const MAX_AGAW_PFN_WIDTH: u32 = 52;

/** CAP.MAMV: the largest address mask a page-selective invalidation may carry. */
let mamv: u32 = 0;
/** The tail register as the CPU last wrote it. */
let iqt: u32 = 0;

export function vtdInit(maxMask: u32): void {
  mamv = maxMask;
  iqt = 0;
}

export function vtdTailRegister(): u32 {
  return iqt;
}

/** qw0 of an IOTLB invalidate descriptor of granularity `gran` (DR and DW set: the hardware drains). */
// @ts-ignore: decorator
@inline function iotlbQw0(gran: u64): u64 {
  return (VTD_DOMAIN_ID << 16) | (<u64>1 << 7) | (<u64>1 << 6) | (gran << 4) | QI_IOTLB_TYPE;
}

/**
 * qi_submit_sync of the descriptor just queued: the wait descriptor, the tail register, the
 * IOMMU runs the queue, the CPU finds QI_DONE in the wait slot's status word.
 */
function submitSync(): void {
  let waitIndex = queueTail();
  let status = physToMemory(statusPhys(waitIndex), 4);
  store<u32>(status, QI_IN_USE);
  queuePut((<u64>QI_DONE << 32) | QI_IWD_STATUS_WRITE | QI_IWD_TYPE, statusPhys(waitIndex));
  iqt = queueTail() << 4;
  stats.invDoorbells++;
  vtdHardware();
  if (load<u32>(status) != QI_DONE) abort(); // the IOMMU model did not complete the wait
  stats.invWaits++;
}

/**
 * cache_tag_flush_range for IO pages [first, first + pages): the page-selective invalidation the
 * range rounds up to (calculate_psi_aligned_address), or a domain-selective one when its mask
 * exceeds MAMV; then the wait. `leavesOnly`: no page-table page was freed (the hint IH).
 */
export function vtdFlushRange(first: u64, pages: u64, leavesOnly: bool): void {
  let aligned: u64 = pages <= 1 ? 1 : <u64>1 << (64 - clz<u64>(pages - 1));
  let mask = <u32>ctz<u64>(aligned);
  let bitmask = aligned - 1;
  if ((first & bitmask) != 0) {
    // the range straddles an aligned block of its size: widen the mask until one block holds it
    let last = first + pages - 1;
    let shared = ~(first ^ last) & ~bitmask;
    mask = shared != 0 ? <u32>ctz<u64>(shared) : MAX_AGAW_PFN_WIDTH;
  }
  if (mask > mamv || mask >= MAX_AGAW_PFN_WIDTH) {
    queuePut(iotlbQw0(GRAN_DSI), 0);
    stats.invDomainSelective++;
  } else {
    let addr = (first >> <u64>mask) << <u64>(mask + 12);
    // IH = 1 when the gather's freelist is empty (intel_iommu_tlb_sync): only leaves changed
    queuePut(iotlbQw0(GRAN_PSI), addr | (leavesOnly ? <u64>1 << 6 : 0) | <u64>mask);
    stats.invPageSelective++;
  }
  submitSync();
}

/** cache_tag_flush_all: one domain-selective invalidation and the wait. */
export function vtdFlushDomain(): void {
  queuePut(iotlbQw0(GRAN_DSI), 0);
  stats.invDomainSelective++;
  submitSync();
}

/** The IOMMU's side: consume the queue up to the tail, decoding each descriptor from memory. */
function vtdHardware(): void {
  for (let i = queueNext(); i >= 0; i = queueNext()) {
    let s = slotAt(<u32>i);
    let qw0 = load<u64>(s, 0);
    let qw1 = load<u64>(s, 8);
    let type = qw0 & 0xf;
    if (type == QI_IOTLB_TYPE) {
      let gran = (qw0 >> 4) & 3;
      if (gran == GRAN_PSI) {
        let am = <u32>(qw1 & 0x3f);
        let page = (qw1 >> 12) & ~((<u64>1 << <u64>am) - 1); // the low AM bits of ADDR are ignored
        cacheInvalidateRange(page, <u64>1 << <u64>am);
      } else if (gran == GRAN_DSI || gran == GRAN_GLOBAL) {
        cacheInvalidateAll(); // one domain: its entries are all the cache holds
      }
    } else if (type == QI_IWD_TYPE) {
      if ((qw0 & QI_IWD_STATUS_WRITE) != 0) store<u32>(physToMemory(qw1 & ~(<u64>3), 4), <u32>(qw0 >> 32));
    } else {
      abort(); // the driver model wrote a descriptor this IOMMU model does not know
    }
  }
}
