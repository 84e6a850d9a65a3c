// === Shared constants of the core: the contract with the TypeScript side ===
// Every value here has a twin in bindings/abi.ts; the differential tests fail if they drift.

/** IO page = 4 KiB on every modelled IOMMU (PAGE_SHIFT 12, DART_PAGE_SHIFT 12). */
// @ts-ignore: decorator
@inline export const IO_PAGE_SHIFT: u32 = 12;
// @ts-ignore: decorator
@inline export const IO_PAGE_SIZE: u32 = 1 << IO_PAGE_SHIFT;
// @ts-ignore: decorator
@inline export const IO_PAGE_MASK: u32 = IO_PAGE_SIZE - 1;

/** DMA directions, numbered as Linux' enum dma_data_direction. */
// @ts-ignore: decorator
@inline export const DMA_BIDIRECTIONAL: u32 = 0;
// @ts-ignore: decorator
@inline export const DMA_TO_DEVICE: u32 = 1;
// @ts-ignore: decorator
@inline export const DMA_FROM_DEVICE: u32 = 2;

/** Table formats (the hardware side of the ops table in table.ts). */
// @ts-ignore: decorator
@inline export const FORMAT_CALGARY: u32 = 0;
// @ts-ignore: decorator
@inline export const FORMAT_DART: u32 = 1;
// @ts-ignore: decorator
@inline export const FORMAT_VTD: u32 = 2;       // Intel VT-d second-level page table
// @ts-ignore: decorator
@inline export const FORMAT_AMD_V1: u32 = 3;    // AMD-Vi v1 host I/O page table
// @ts-ignore: decorator
@inline export const FORMAT_ARM_LPAE: u32 = 4;  // Arm SMMUv3 stage 1, VMSAv8-64 4 KiB granule
// @ts-ignore: decorator
@inline export const FORMAT_RIOMMU: u32 = 5; // rIOMMU rRING of rPTEs (riommu/ring.ts)
// @ts-ignore: decorator
@inline export const FORMAT_VTD_FL: u32 = 6;    // Intel VT-d first-level (scalable mode) page table

/** IO-space allocators. */
// @ts-ignore: decorator
@inline export const ALLOC_CALGARY: u32 = 0; // 2.6.23 pci-calgary: next-fit, one hint, blast on wrap
// @ts-ignore: decorator
@inline export const ALLOC_PPC2007: u32 = 1; // 2.6.18 powerpc iommu.c: small/large halves, 3 passes
// @ts-ignore: decorator
@inline export const ALLOC_FIRST_FIT: u32 = 2; // lowest free run from entry 0, every time; never wraps
// @ts-ignore: decorator
@inline export const ALLOC_FREE_LIST: u32 = 3; // per-size LIFO of freed ranges, next-fit (Calgary) behind it
// @ts-ignore: decorator
@inline export const ALLOC_IOVA: u32 = 4;      // Linux iova.c: top-down rbtree + per-CPU magazines (iova.ts)
// @ts-ignore: decorator
@inline export const ALLOC_IOVA_TREE: u32 = 5; // the same tree without the magazines
// @ts-ignore: decorator
@inline export const ALLOC_BEST_FIT: u32 = 6;  // smallest free run that fits (README: the worked example)
// @ts-ignore: decorator
@inline export const ALLOC_RING: u32 = 7;      // rIOMMU: append at the ring's tail, no search (riommu/ring.ts)

/** The two IOVA allocators share iova.ts (tree, magazines, memory). */
// @ts-ignore: decorator
@inline export function isIova(kind: u32): bool {
  return kind == ALLOC_IOVA || kind == ALLOC_IOVA_TREE;
}

/** Most CPUs an instance models (per-CPU IOVA magazines). */
// @ts-ignore: decorator
@inline export const MAX_CPUS: u32 = 64;

/** Size classes (pages) and depth of the per-size free lists. */
// @ts-ignore: decorator
@inline export const FREE_LIST_CLASSES: u32 = 64;
// @ts-ignore: decorator
@inline export const FREE_LIST_DEPTH: u32 = 1024;

/** Flush policies (flush.ts). */
// @ts-ignore: decorator
@inline export const FLUSH_ON_WRAP: u32 = 0;        // Calgary deferred flush: blast when the allocator wraps
// @ts-ignore: decorator
@inline export const FLUSH_STRICT: u32 = 1;         // invalidate-all after every unmap (and on wrap)
// @ts-ignore: decorator
@inline export const FLUSH_ALL_AFTER_MAP: u32 = 2;  // DART U3: build marks dirty, the flush hook invalidates all
// @ts-ignore: decorator
@inline export const FLUSH_ONE_PER_PAGE: u32 = 3;   // DART U4: invalidate one entry per mapped page
// @ts-ignore: decorator
@inline export const FLUSH_NEVER: u32 = 4;
// @ts-ignore: decorator
@inline export const FLUSH_QUEUE: u32 = 5;         // dma-iommu lazy mode: unmaps queue per CPU, freed after a flush (flushqueue.ts)
// @ts-ignore: decorator
@inline export const FLUSH_END_OF_BURST: u32 = 6;  // rIOMMU: no invalidation per unmap; one rIOTLB invalidation when a burst of unmaps ends

/** Outcome of one device access, ordered so that the worst page of a multi-page access wins. */
// @ts-ignore: decorator
@inline export const ACCESS_HIT: i32 = 0;
// @ts-ignore: decorator
@inline export const ACCESS_MISS: i32 = 1;   // table walk, translation valid
// @ts-ignore: decorator
@inline export const ACCESS_STALE: i32 = 2;  // cache still holds a translation the table no longer has
// @ts-ignore: decorator
@inline export const ACCESS_FAULT: i32 = 3;  // blocked: no valid translation (or no permission)

/** Result of a free. */
// @ts-ignore: decorator
@inline export const FREE_OK: i32 = 0;
// @ts-ignore: decorator
@inline export const FREE_BAD: i32 = 1;        // ignored, as Linux ignores it (address outside what it hands out)
// @ts-ignore: decorator
@inline export const FREE_DOUBLE: i32 = 2;     // some pages were already free: Linux clears anyway, we count it
// @ts-ignore: decorator
@inline export const FREE_NOT_MAPPED: i32 = 3; // batch handle that holds no live mapping: nothing done

/** Allocation failure, returned where an entry index is expected. */
// @ts-ignore: decorator
@inline export const NO_ENTRY: i32 = -1;


/** Most elements one scatter-gather call may carry (size of the SG scratch area). */
// @ts-ignore: decorator
@inline export const SG_MAX: u32 = 4096;

/** Invalidation interfaces (assembly/invalidation/): how the driver tells the IOMMU its cache is stale. */
// @ts-ignore: decorator
@inline export const INV_NONE: u32 = 0;   // Calgary / DART: their own register sequences (flush.ts)
// @ts-ignore: decorator
@inline export const INV_VTD: u32 = 1;    // Intel VT-d invalidation queue
// @ts-ignore: decorator
@inline export const INV_AMD: u32 = 2;    // AMD-Vi command buffer
// @ts-ignore: decorator
@inline export const INV_SMMUV3: u32 = 3; // Arm SMMUv3 command queue

/** Capability bits of the interface, as init() takes them (bindings/config.ts packs them). */
// @ts-ignore: decorator
@inline export const CAP_MAMV_MASK: u32 = 0x3f; // VT-d CAP.MAMV: largest page-selective address mask
// @ts-ignore: decorator
@inline export const CAP_RWBF: u32 = 1 << 6;    // VT-d CAP.RWBF: the write buffer must be flushed after a map
// @ts-ignore: decorator
@inline export const CAP_RIL: u32 = 1 << 7;     // SMMUv3 IDR3.RIL: range invalidation
