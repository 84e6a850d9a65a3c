// The numeric contract with the WASM core (assembly/constants.ts, counters.ts, batch.ts).
// The reference model uses the same numbers so the two can be compared record for record.

/** Counter names in the order of the core's counter slots. */
export const COUNTER_NAMES = [
  "maps", "unmaps", "mapSgs", "unmapSgs", "allocs", "frees", "pagesMapped", "pagesUnmapped",
  "tceWrites", "wordsScanned", "wraps", "flushes", "entryInvalidations", "accesses", "hits",
  "misses", "staleHits", "faults", "mapFailures", "badFrees", "doubleFrees", "cacheEvictions",
  "pagesInUse", "peakPagesInUse", "nodesVisited", "rcacheHits", "pagesQueued",
  "rangesAllocated", "ptWrites", "ptTablesAllocated", "ptTablesFreed", "walkReads", "walkCacheHits", "largePages", "rptePrefetches",
  "invDescriptors", "invDoorbells", "invWaits", "invPageSelective", "invDomainSelective", "invWriteBufferFlushes", "invBarriers",
  "ctxWrites", "ctxReads",
] as const;

export type CounterName = (typeof COUNTER_NAMES)[number];
/** The queued invalidation interfaces' counters (zero by construction where the platform has none). */
export const INVALIDATION_COUNTERS = [
  "invDescriptors", "invDoorbells", "invWaits", "invPageSelective", "invDomainSelective", "invWriteBufferFlushes", "invBarriers",
] as const satisfies readonly CounterName[];
export type Stats = Record<CounterName, number>;

export const IO_PAGE_SHIFT = 12;
export const IO_PAGE_SIZE = 1 << IO_PAGE_SHIFT;
export const SG_MAX = 4096;

export const FORMAT_CALGARY = 0;
export const FORMAT_DART = 1;
/** Intel VT-d second-level (legacy-mode) I/O page table, 4 KiB pages. */
export const FORMAT_VTD = 2;
/** AMD-Vi (AMD IOMMU) v1 host I/O page table. */
export const FORMAT_AMD_V1 = 3;
/** Arm SMMUv3 stage 1: the VMSAv8-64 (LPAE) long-descriptor table, 4 KiB granule. */
export const FORMAT_ARM_LPAE = 4;
export const FORMAT_RIOMMU = 5;
/** Intel VT-d first-level (scalable-mode) table: the x86-64 paging format, 4 KiB pages. */
export const FORMAT_VTD_FL = 6;
export const ALLOC_CALGARY = 0;
export const ALLOC_PPC2007 = 1;
export const ALLOC_FIRST_FIT = 2;
export const ALLOC_FREE_LIST = 3;
export const ALLOC_IOVA = 4;
export const ALLOC_IOVA_TREE = 5;
export const ALLOC_BEST_FIT = 6;
export const ALLOC_RING = 7;
export const IOVA_MAG_SIZE = 127;
export const isIova = (allocator: number) => allocator === ALLOC_IOVA || allocator === ALLOC_IOVA_TREE;
export const MAX_CPUS = 64;
export const FREE_LIST_CLASSES = 64;
export const FREE_LIST_DEPTH = 1024;

/**
 * The IO-space allocators, by the names options use (index = the core's code). ALLOC_RING is the
 * riommu platform's own (its IO addresses are ring positions): no option names it.
 */
export const ALLOCATORS = ["calgary", "ppc2007", "first-fit", "free-list", "iova", "iova-tree", "best-fit"] as const;
export type AllocatorName = (typeof ALLOCATORS)[number];

export const FLUSH_POLICIES = ["on-wrap", "strict", "all-after-map", "one-per-page", "never", "flush-queue", "end-of-burst"] as const;
export type FlushPolicyName = (typeof FLUSH_POLICIES)[number];

export const DIRECTIONS = ["bidirectional", "to-device", "from-device"] as const;
export type Direction = (typeof DIRECTIONS)[number];

export const ACCESS_OUTCOMES = ["hit", "miss", "stale", "fault"] as const;
export type AccessOutcome = (typeof ACCESS_OUTCOMES)[number];

export const FREE_RESULTS = ["ok", "bad", "double", "not-mapped"] as const;
export type FreeResult = (typeof FREE_RESULTS)[number];

export const NO_ENTRY = -1;
export const BAD_RECORD = -2;

/** Batch record opcodes (low 4 bits of word 0). */
export const OP = {
  map: 1,
  unmap: 2,
  mapSg: 3,
  sgElem: 4,
  unmapSg: 5,
  alloc: 6,
  free: 7,
  access: 8,
  cpu: 9,
} as const;

export const RECORD_WORDS = 4;

/** Invalidation interfaces (index = the core's code, assembly/constants.ts INV_*). */
export const INVALIDATIONS = ["none", "vtd-qi", "amd-cmdbuf", "smmuv3-cmdq"] as const;
export type InvalidationName = (typeof INVALIDATIONS)[number];

/**
 * The counters a text output lists: all of them, less the queued interface's where there is no such
 * interface (Calgary, DART, no IOMMU), so those outputs read as they did before the interfaces existed.
 */
export function countersShown(invalidation: InvalidationName): readonly CounterName[] {
  return invalidation === "none" ? COUNTER_NAMES.filter((n) => !(INVALIDATION_COUNTERS as readonly string[]).includes(n)) : COUNTER_NAMES;
}
export const CAP_MAMV_MASK = 0x3f;
export const CAP_RWBF = 1 << 6;
export const CAP_RIL = 1 << 7;
/** Where the model places the invalidation queue in physical memory (descriptors carry addresses into it). */
export const INV_QUEUE_PHYS = 0x7ff0_0000;
