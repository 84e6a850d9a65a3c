// Platform presets: the hardware and the driver era each named IOMMU comes with.
// Values are from the Linux sources of the study's era (2.6.23 Calgary, 2.6.18 PowerPC/DART);
// see ../shared/reference/linux-semantics.md §1, §3, §4.2.

import { ALLOC_CALGARY, ALLOC_PPC2007, FORMAT_CALGARY, FORMAT_DART, type FlushPolicyName } from "./abi.js";

export const PLATFORMS = ["calgary-pcix", "calioc2", "dart-u3", "dart-u4"] as const;
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
  format: typeof FORMAT_CALGARY | typeof FORMAT_DART;
  allocator: typeof ALLOC_CALGARY | typeof ALLOC_PPC2007;
  flushPolicy: FlushPolicyName;
  /** Table sizes the hardware supports, in bytes of table; the first is the default. */
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
} as const;

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
};

export function entryBytesOf(format: number): number {
  return format === FORMAT_CALGARY ? 8 : 4;
}
