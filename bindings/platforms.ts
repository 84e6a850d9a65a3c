// Platform presets: the hardware and the driver era each named IOMMU comes with.
// Values are from the Linux sources of the study's era (2.6.23 Calgary, 2.6.18 PowerPC/DART;
// see ../shared/reference/linux-semantics.md §1, §3, §4.2) and, for today's IOMMUs (VT-d, AMD-Vi,
// SMMUv3), from Linux v6.x dma-iommu (§6) with the drivers' page-table formats.

import {
  ALLOC_CALGARY, ALLOC_IOVA, ALLOC_PPC2007, ALLOC_RING, FORMAT_AMD_V1, FORMAT_ARM_LPAE, FORMAT_CALGARY, FORMAT_DART, FORMAT_RIOMMU, FORMAT_VTD,
  type FlushPolicyName, type InvalidationName,
} from "./abi.js";

export const PLATFORMS = ["calgary-pcix", "calioc2", "dart-u3", "dart-u4", "vtd", "amd-vi", "smmuv3", "riommu"] as const;
/** The 2007 study's platforms (flat tables). */
export const PLATFORMS_2007 = ["calgary-pcix", "calioc2", "dart-u3", "dart-u4"] as const;
/** Today's IOMMUs under dma-iommu (multi-level page tables). */
export const PLATFORMS_MODERN = ["vtd", "amd-vi", "smmuv3"] as const;
/** Proposed designs, modelled beside the real ones. */
export const PLATFORMS_PROPOSED = ["riommu"] as const;
export type PlatformName = (typeof PLATFORMS)[number];

/** Reserved range in IO pages, [first, first + pages). */
export interface ReservedRange {
  first: number;
  pages: number;
  why: string;
}

export interface Platform {
  name: PlatformName;
  description: string;
  format: typeof FORMAT_CALGARY | typeof FORMAT_DART | typeof FORMAT_VTD | typeof FORMAT_AMD_V1 | typeof FORMAT_ARM_LPAE | typeof FORMAT_RIOMMU;
  allocator: typeof ALLOC_CALGARY | typeof ALLOC_PPC2007 | typeof ALLOC_IOVA | typeof ALLOC_RING;
  flushPolicy: FlushPolicyName;
  /**
   * Table sizes the hardware supports, in bytes of table; the first is the default. For the
   * page-table formats: 8 bytes of leaf entry per IO page of the IO space dma-iommu hands out
   * (8M = 2^20 pages, the 32-bit space it tries first for a PCI device; smaller = a narrower DMA mask).
   */
  tableSizes: readonly number[];
  reserved: (entries: number) => ReservedRange[];
  /** Frees below this DMA address are ignored (Calgary's emergency pages). */
  badFreeBelow: number;
  /** Largest physical page number an entry can hold. */
  maxPfn: number;
  /**
   * Largest page order alloc_coherent can get: x86-64's buddy allocator stops at order 10
   * (MAX_ORDER 11); ppc64's at 12 (CONFIG_FORCE_MAX_ZONEORDER 13), under IOMAP_MAX_ORDER 13.
   */
  maxCoherentOrder: number;
  /**
   * Device-side translation cache geometry. The Calgary TCE cache and DART TLB sizes are not in
   * any source we could read: these are assumptions, exposed as options.
   */
  cache: { entries: number; ways: number };
  /** Page-table formats: the levels the table may have, the first the default (absent: a flat table). */
  levels?: readonly number[];
  /**
   * How the driver invalidates the IOMMU's caches: "none" is Calgary's and DART's own register
   * sequences (flush.ts); "vtd-qi", "amd-cmdbuf", "smmuv3-cmdq" are the queued interfaces of
   * VT-d, AMD-Vi and SMMUv3 (assembly/invalidation/), with the hardware's capabilities.
   */
  invalidation: InvalidationName;
  invalidationCaps?: InvalidationCaps;
}

/** Capabilities of a queued invalidation interface that change what the driver issues. */
export interface InvalidationCaps {
  /** VT-d CAP.MAMV: largest address mask of a page-selective invalidation (0 … 63). @default 18 */
  mamv?: number;
  /** VT-d CAP.RWBF: the write buffer must be flushed after a map. @default false */
  rwbf?: boolean;
  /** SMMUv3 IDR3.RIL: range invalidation (SMMUv3.2). @default false */
  rangeInvalidation?: boolean;
}

const KiB = 1024;
const MiB = 1024 * KiB;

/** Calgary TCE_TABLE_SIZE_64K … _8M (spec 0 … 7): bytes of table, 8 bytes an entry. */
export const CALGARY_TABLE_SIZES = [8, 4, 2, 1, 0.5, 0.25, 0.125, 0.0625].map((m) => m * MiB);

/** 2.6.19+ EMERGENCY_PAGES: 32 pages from the error address 0. */
const EMERGENCY_PAGES = 32;

/** The DART driver's table: 1 << 21 bytes, 4 bytes an entry. */
const DART_TABLE_BYTES = 2 * MiB;

/** What both Calgary generations share (2.6.23 pci-calgary drives both). */
const CALGARY = {
  format: FORMAT_CALGARY,
  allocator: ALLOC_CALGARY,
  flushPolicy: "on-wrap",
  tableSizes: CALGARY_TABLE_SIZES,
  badFreeBelow: EMERGENCY_PAGES * 4096,
  maxPfn: 2 ** 36 - 1, // TCE_RPN_MASK: bits 12..47
  maxCoherentOrder: 10,
  cache: { entries: 64, ways: 4 },
  invalidation: "none",
} as const;

/** What U3 and U4 share: the DART driver and the 2.6.18 PowerPC allocator. */
const DART = {
  format: FORMAT_DART,
  allocator: ALLOC_PPC2007,
  tableSizes: [DART_TABLE_BYTES],
  reserved: (entries: number) => [{ first: entries - 1, pages: 1, why: "last entry (controller prefetch past the table)" }],
  badFreeBelow: 0,
  maxPfn: 0xffffff, // DARTMAP_RPNMASK
  maxCoherentOrder: 12,
  cache: { entries: 64, ways: 4 },
  invalidation: "none",
} as const;

/**
 * What VT-d, AMD-Vi and SMMUv3 share under Linux v6.x: dma-iommu over the IOVA allocator with
 * per-CPU magazines. dma-iommu first allocates below 4 GiB for a PCI device (iommu_dma_alloc_iova:
 * the 32-bit try unless iommu.forcedac), so the IO space modelled is those 2^20 pages; pfn 0 is never
 * handed out (iovad start_pfn 1, iova.ts). No frees are ignored as bad (iommu_dma_unmap looks the
 * IOVA up). alloc_coherent: one physically contiguous block (iommu_dma_alloc_pages, the non-blocking
 * path), at most the buddy allocator's largest, MAX_PAGE_ORDER 10 on x86-64 and on arm64 with 4 KiB
 * pages (ARCH_FORCE_MAX_ORDER 10); a blocking allocation (iommu_dma_alloc_remap, page by page, no
 * such limit) is not modelled.
 * The IOTLB geometry is not architectural and not published for any of the three: 64 entries,
 * 4 ways is an assumption (Neugebauer et al., SIGCOMM 2018, estimate ~64 IOTLB entries on Xeon
 * E5), exposed as the `cache` option.
 */
const DMA_IOMMU = {
  allocator: ALLOC_IOVA,
  tableSizes: CALGARY_TABLE_SIZES,
  badFreeBelow: 0,
  maxCoherentOrder: 10,
  cache: { entries: 64, ways: 4 },
} as const;

/** x86 interrupt range 0xfee00000–0xfeefffff, a reserved region dma-iommu keeps out of the IOVA space. */
const x86Msi = { first: 0xfee00, pages: 0x100, why: "MSI/interrupt window 0xfee00000–0xfeefffff (IOMMU_RESV_MSI)" };

/**
 * rIOMMU (Malka et al., ASPLOS 2015; assembly/riommu/ring.ts): one rRING of 8-byte rPTEs for one
 * device ring, the ring allocator, the end-of-burst invalidation, and an rIOTLB of two lines (the
 * current translation and the prefetched next). The ring sizes are the model's: 512 … 8192 rPTEs.
 */
export const RIOMMU_RING_SIZES = [64, 32, 16, 8, 4].map((k) => k * KiB);

/** Why map_sg and alloc_coherent are refused on riommu (the same words everywhere). */
export const RIOMMU_RING_ONLY =
  "map_single / unmap_single only on riommu: the rIOMMU translates ring buffers; the paper leaves other mappings (map_sg, alloc_coherent) to a baseline IOMMU beside it, which this platform does not model";

const emergency = { first: 0, pages: EMERGENCY_PAGES, why: "emergency pages at the error address 0" };

export const PLATFORM_PRESETS: Record<PlatformName, Platform> = {
  "calgary-pcix": {
    ...CALGARY,
    name: "calgary-pcix",
    description: "IBM Calgary PCI-X bridge (x86-64), Linux 2.6.23 pci-calgary",
    reserved: () => [emergency, { first: 160, pages: 96, why: "legacy hole 640 KiB–1 MiB" }],
  },
  calioc2: {
    ...CALGARY,
    name: "calioc2",
    description: "IBM CalIOC2 PCIe bridge (x86-64), Linux 2.6.23 pci-calgary",
    reserved: () => [emergency, { first: 0, pages: 512, why: "CalIOC2: first 2 MiB (2.6.23; 1 MiB from v4.x)" }],
  },
  "dart-u3": {
    ...DART,
    name: "dart-u3",
    description: "IBM/Apple DART on U3 (PowerPC), Linux 2.6.18 iommu.c + dart_iommu.c",
    flushPolicy: "all-after-map",
  },
  "dart-u4": {
    ...DART,
    name: "dart-u4",
    description: "IBM DART on U4/CPC945 (PowerPC), Linux 2.6.18 iommu.c + dart_iommu.c",
    flushPolicy: "one-per-page",
  },
  vtd: {
    ...DMA_IOMMU,
    name: "vtd",
    description: "Intel VT-d second-level translation, Linux v6.x intel-iommu + dma-iommu (lazy: x86 default)",
    format: FORMAT_VTD,
    // the invalidation queue; CAP.MAMV 18 and no RWBF, as Intel server IOMMUs report them
    invalidation: "vtd-qi",
    invalidationCaps: { mamv: 18, rwbf: false },
    // CONFIG_IOMMU_DEFAULT_DMA_LAZY is x86's default: unmaps go through the flush queue
    flushPolicy: "flush-queue",
    reserved: () => [x86Msi],
    maxPfn: 2 ** 40 - 1, // second-level PTE address bits 12..51 (HAW ≤ 52)
    levels: [4, 5], // 4-level (48-bit); 5-level where the hardware has it
  },
  "amd-vi": {
    ...DMA_IOMMU,
    name: "amd-vi",
    description: "AMD-Vi (AMD IOMMU) v1 I/O page tables, Linux v6.x amd-iommu + dma-iommu (lazy: x86 default)",
    format: FORMAT_AMD_V1,
    invalidation: "amd-cmdbuf",
    flushPolicy: "flush-queue",
    reserved: () => [x86Msi],
    maxPfn: 2 ** 40 - 1, // PTE address bits 12..51
    levels: [3], // v1_alloc_pgtable: PAGE_MODE_3_LEVEL (39 bits), grown only for IO addresses above
  },
  smmuv3: {
    ...DMA_IOMMU,
    name: "smmuv3",
    description: "Arm SMMUv3 stage-1 translation (LPAE, 4 KiB granule), Linux v6.x arm-smmu-v3 + dma-iommu (strict: arm64 default)",
    format: FORMAT_ARM_LPAE,
    // the command queue; no range invalidation (SMMUv3.1, e.g. MMU-600; RIL came with SMMUv3.2)
    invalidation: "smmuv3-cmdq",
    invalidationCaps: { rangeInvalidation: false },
    // arm64 defconfig keeps CONFIG_IOMMU_DEFAULT_DMA_STRICT: invalidate before the IOVA is freed
    flushPolicy: "strict",
    // the SMMU's MSI window is IOMMU_RESV_SW_MSI, which dma-iommu skips: nothing reserved
    reserved: () => [],
    maxPfn: 2 ** 36 - 1, // 48-bit output addresses (io-pgtable-arm, 4 KiB granule without LPA2)
    levels: [4], // 48-bit stage-1 input: ceil((48 − 12) / 9) levels, starting at level 0
  },
  riommu: {
    name: "riommu",
    description: "rIOMMU ring IOMMU (Malka, Amit, Ben-Yehuda, Tsafrir, ASPLOS 2015): one rRING per device ring",
    format: FORMAT_RIOMMU,
    allocator: ALLOC_RING,
    flushPolicy: "end-of-burst",
    tableSizes: RIOMMU_RING_SIZES,
    reserved: () => [],
    badFreeBelow: 0,
    maxPfn: 2 ** 40 - 1, // the model's rPTE: bits 12..51
    maxCoherentOrder: 10, // unused: alloc_coherent is refused
    cache: { entries: 2, ways: 2 },
    invalidation: "none", // its own end-of-burst register invalidation (flush.ts)
  },
};

export function entryBytesOf(format: number): number {
  return format === FORMAT_DART ? 4 : 8;
}
