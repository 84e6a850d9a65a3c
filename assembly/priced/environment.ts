// === Environment: who executes each step, and which crossings it costs ===
// Bare metal: the kernel runs the driver and writes the table. Xen dom0: dom0's driver asks Xen
// to write each entry (a hypercall, validated). Xen domU: the front-end grants its pages, dom0's
// back-end maps them, Xen programs the IOMMU. With grant-table integration the grant operation
// carries the table update, so it costs one crossing, not one per entry.

import { FORMAT_CALGARY, FORMAT_DART, FORMAT_RIOMMU } from "../constants";
import { stats } from "../counters";
import {
  count, partyAt, KIND_FLUSH, KIND_MAP, KIND_MAP_SG, P_BITMAP_WORD_SCAN, P_DMA_API_ENTRY, P_FLUSH_WAIT_POLL, P_GRANT_ISSUE,
  P_GRANT_OP, P_HYPERCALL_ENTRY, P_HYPERCALL_EXIT, P_HYPERVISOR_VALIDATE, P_INV_DESCRIPTOR, P_INV_WAIT, P_MEMORY_BARRIER,
  P_MMIO_READ, P_MMIO_WRITE, P_MULTICALL_PER_ENTRY, P_PT_PAGE_ALLOC, P_TABLE_LINE_FLUSH, P_TCE_WRITE, PARTY_KERNEL, PARTY_NONE,
  PARTY_XEN, trap,
} from "./counts";

/** How a table update reaches Xen. */
// @ts-ignore: decorator
@inline export const CROSS_PER_ENTRY: u32 = 0; // one hypercall per entry
// @ts-ignore: decorator
@inline export const CROSS_ONE: u32 = 1; // one hypercall or grant op carries them all
// @ts-ignore: decorator
@inline export const CROSS_MULTICALL_ENTRY: u32 = 2; // inside a multicall whose trap is paid

/** Whose flush sequence the platform has. */
// @ts-ignore: decorator
@inline export const FLUSHER_CALGARY_PCIX: u32 = 0;
// @ts-ignore: decorator
@inline export const FLUSHER_CALIOC2: u32 = 1;
// @ts-ignore: decorator
@inline export const FLUSHER_DART: u32 = 2;
// @ts-ignore: decorator
@inline export const FLUSHER_RIOMMU: u32 = 3;
/** A queued invalidation interface (VT-d, AMD-Vi, SMMUv3): priced from what it wrote and waited for. */
// @ts-ignore: decorator
@inline export const FLUSHER_QUEUED: u32 = 4;

/** The kernel that runs the driver and the DMA API. */
export let driver: u32 = PARTY_KERNEL;
/** Who writes entries and flushes: the kernel, or Xen. */
export let owner: u32 = PARTY_KERNEL;
/** The PV front-end granting its pages, or PARTY_NONE. */
let frontend: u32 = PARTY_NONE;
/** Where each role's counts start in the grid (counts.ts partyAt). */
export let driverAt: usize = 0;
export let ownerAt: usize = 0;
let frontendAt: usize = 0;
let xenAt: usize = 0;
/** grant-table integration: the grant op programs the IOMMU. */
export let integrated: bool = false;
let flusher: u32 = FLUSHER_CALGARY_PCIX;
let format: u32 = FORMAT_CALGARY;
/** The queued interface's counters as last charged (queuedWork charges what they moved since). */
let seenDescriptors: u64 = 0;
let seenDoorbells: u64 = 0;
let seenWaits: u64 = 0;
let seenBarriers: u64 = 0;
let seenWriteBufferFlushes: u64 = 0;

export function environmentInit(drv: u32, own: u32, front: u32, grantIntegrated: bool, flush: u32, fmt: u32): void {
  driver = drv;
  owner = own;
  frontend = front;
  driverAt = partyAt(drv);
  ownerAt = partyAt(own);
  frontendAt = front == PARTY_NONE ? 0 : partyAt(front);
  xenAt = partyAt(PARTY_XEN);
  integrated = grantIntegrated;
  flusher = flush;
  format = fmt;
  seenDescriptors = stats.invDescriptors;
  seenDoorbells = stats.invDoorbells;
  seenWaits = stats.invWaits;
  seenBarriers = stats.invBarriers;
  seenWriteBufferFlushes = stats.invWriteBufferFlushes;
}

/** The driver kernel's share of a DMA-API call: its entries and the allocator's bitmap scan. */
// @ts-ignore: decorator
@inline export function driverWork(kind: u32, entries: f64, wordsScanned: f64): void {
  if (entries != 0) count(driverAt, kind, P_DMA_API_ENTRY, entries);
  if (wordsScanned != 0) count(driverAt, kind, P_BITMAP_WORD_SCAN, wordsScanned);
}

/**
 * Table cache lines the CPU flushes after writing `pages` entries (Calgary: one per TCE; DART:
 * 128-byte lines, one extra entry; VT-d, AMD-Vi, SMMUv3: none, their walks are cache-coherent
 * on the machines modelled — ECAP.C, AMD always, SMMU_IDR0.COHACC — so Linux skips the clflush;
 * rIOMMU, a proposal for the same chipsets: none either, the model's assumption).
 */
// @ts-ignore: decorator
@inline function tableLines(pages: f64): f64 {
  return format == FORMAT_CALGARY ? pages : format == FORMAT_DART ? Math.ceil(((pages + 1) * 4) / 128) : 0;
}

/**
 * Entries a core call wrote: `pages` for the flat tables (one entry a page), the core's count of
 * page-table entries written for VT-d, AMD-Vi and SMMUv3 (a 2 MiB leaf is one entry; a new table
 * adds its parent's entry) since `pt0`, the ptWrites counter before the call.
 */
// @ts-ignore: decorator
@inline export function entriesWritten(pages: f64, pt0: u64): f64 {
  return format == FORMAT_CALGARY || format == FORMAT_DART || format == FORMAT_RIOMMU ? pages : <f64>(stats.ptWrites - pt0);
}

/** Page-table pages a core call allocated and zeroed (ptTablesAllocated was `ta0` before it), paid by the table's owner. */
// @ts-ignore: decorator
@inline export function pageTableWork(kind: u32, ta0: u64): void {
  let tables = stats.ptTablesAllocated - ta0;
  if (tables != 0) count(ownerAt, kind, P_PT_PAGE_ALLOC, <f64>tables);
}

/** `pages` entries written and their lines flushed, reaching Xen as `crossing` says. */
// @ts-ignore: decorator
@inline export function tableWork(kind: u32, pages: f64, crossing: u32): void {
  if (pages == 0) return;
  count(ownerAt, kind, P_TCE_WRITE, pages);
  count(ownerAt, kind, P_TABLE_LINE_FLUSH, tableLines(pages));
  if (owner == PARTY_KERNEL) return;
  let traps: f64 = crossing == CROSS_PER_ENTRY ? pages : crossing == CROSS_ONE ? 1 : 0;
  trap(traps, true);
  count(ownerAt, kind, P_HYPERCALL_ENTRY, traps);
  count(ownerAt, kind, P_HYPERCALL_EXIT, traps);
  count(ownerAt, kind, P_HYPERVISOR_VALIDATE, pages);
  if (crossing == CROSS_MULTICALL_ENTRY) count(ownerAt, kind, P_MULTICALL_PER_ENTRY, pages);
}

/** Device-cache flushes the core just performed, at the platform's price; `inFlight` sets Calgary's polls. */
// @ts-ignore: decorator
@inline export function flushWork(flushes: f64, invalidations: f64, inFlight: f64): void {
  if (flusher == FLUSHER_QUEUED) {
    queuedWork();
    return;
  }
  if (flushes == 0 && invalidations == 0) return; // the common case: nothing was flushed
  if (flushes > 0) {
    if (flusher == FLUSHER_RIOMMU) {
      // the end-of-burst rIOTLB invalidation: one register write, one read to see it done (the
      // model's assumption: the paper's sequence is not in the sources we could read)
      count(ownerAt, KIND_FLUSH, P_MMIO_WRITE, flushes);
      count(ownerAt, KIND_FLUSH, P_MMIO_READ, flushes);
    } else if (flusher == FLUSHER_DART) {
      // invalidate-all: set the bit, poll once
      count(ownerAt, KIND_FLUSH, P_MMIO_READ, flushes * 2);
      count(ownerAt, KIND_FLUSH, P_MMIO_WRITE, flushes);
    } else {
      // stop arbitration, push, poll the split queue until DMA in flight drains (≤ 100), rewrite TAR, restore
      count(ownerAt, KIND_FLUSH, P_MMIO_READ, flushes * (flusher == FLUSHER_CALGARY_PCIX ? 3 : 6));
      count(ownerAt, KIND_FLUSH, P_MMIO_WRITE, flushes * 3);
      count(ownerAt, KIND_FLUSH, P_FLUSH_WAIT_POLL, flushes * Math.min(100, 1 + inFlight));
    }
  }
  // DART U4: write IONE, poll
  count(ownerAt, KIND_FLUSH, P_MMIO_WRITE, invalidations);
  count(ownerAt, KIND_FLUSH, P_MMIO_READ, invalidations);
}

/**
 * What the queued interface did since it was last charged: commands written, doorbells (tail or
 * producer register writes), completions waited for, barriers; VT-d's write-buffer flush is a
 * register write and a status read.
 */
function queuedWork(): void {
  let descriptors = <f64>(stats.invDescriptors - seenDescriptors);
  let wbf = <f64>(stats.invWriteBufferFlushes - seenWriteBufferFlushes);
  if (descriptors == 0 && wbf == 0) return;
  let doorbells = <f64>(stats.invDoorbells - seenDoorbells);
  let waits = <f64>(stats.invWaits - seenWaits);
  let barriers = <f64>(stats.invBarriers - seenBarriers);
  seenDescriptors = stats.invDescriptors;
  seenDoorbells = stats.invDoorbells;
  seenWaits = stats.invWaits;
  seenBarriers = stats.invBarriers;
  seenWriteBufferFlushes = stats.invWriteBufferFlushes;
  count(ownerAt, KIND_FLUSH, P_INV_DESCRIPTOR, descriptors);
  count(ownerAt, KIND_FLUSH, P_MMIO_WRITE, doorbells + wbf);
  count(ownerAt, KIND_FLUSH, P_MMIO_READ, wbf);
  count(ownerAt, KIND_FLUSH, P_INV_WAIT, waits);
  count(ownerAt, KIND_FLUSH, P_MEMORY_BARRIER, barriers);
}

/**
 * xen-domU: the front-end grants its pages and dom0 grant-maps them (unmaps after), whatever
 * the strategy, one grant operation per buffer; paid with the IOMMU off too.
 */
// @ts-ignore: decorator
@inline export function grantWork(kind: u32, pages: f64): void {
  if (frontend != PARTY_NONE && pages != 0) grants(kind, pages);
}

function grants(kind: u32, pages: f64): void {
  if (kind == KIND_MAP || kind == KIND_MAP_SG) count(frontendAt, kind, P_GRANT_ISSUE, pages);
  count(xenAt, kind, P_GRANT_OP, pages);
  if (integrated) return;
  trap(1, true);
  count(xenAt, kind, P_HYPERCALL_ENTRY, 1);
  count(xenAt, kind, P_HYPERCALL_EXIT, 1);
}

/** A dma_map_multi / dma_unmap_multi call starts: one API entry, one multicall trap under Xen. */
export function multicallStart(kind: u32): void {
  count(driverAt, kind, P_DMA_API_ENTRY, 1);
  if (owner == PARTY_XEN) {
    trap(1, false);
    count(xenAt, kind, P_HYPERCALL_ENTRY, 1);
    count(xenAt, kind, P_HYPERCALL_EXIT, 1);
  }
}
