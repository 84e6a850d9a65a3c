import type { AccessOutcome, Direction, FreeResult, Stats } from "./abi.js";
import type { ResolvedConfig } from "./config.js";

/** One physically contiguous piece of a scatter-gather list, as the driver hands it over. */
export interface SgSegment {
  phys: number;
  bytes: number;
}

/** One mapped piece of a scatter-gather list, as unmap_sg gets it back. */
export interface DmaSegment {
  dma: number;
  bytes: number;
}

export interface CoherentBuffer {
  dma: number;
  phys: number;
}

/**
 * A view of WASM (or reference) memory for batched operations: write records with the
 * encoders in records.ts, then run(count); results[i] holds record i's result.
 */
export interface BatchArea {
  readonly ops: Uint32Array;
  readonly results: Int32Array;
  readonly capacity: number;
  run(count: number): void;
}

/** The IO-space allocator's own state, for fragmentation and footprint figures. */
export interface AllocatorState {
  /** IOVA allocators: ranges in the red-black tree (allocated, cached in magazines, reserved). */
  treeNodes: number;
  /** IOVA with magazines: magazines allocated (two per CPU per size class, plus the depots). */
  magazines: number;
  /** IOVA with magazines: ranges parked in magazines (freed, not back in the tree). */
  cachedPfns: number;
  /** Longest run of IO pages the allocator could still hand out as one range. */
  largestFreeRun: number;
  /** Bytes the kernel would spend on the allocator's metadata in this state. */
  metadataBytes: number;
}

/** One simulated IOMMU translation table with its driver (the Linux DMA API over it). */
export interface Iommu {
  readonly config: ResolvedConfig;
  /** dma_map_single: the DMA address, or null when the IO space is full. */
  mapSingle(phys: number, bytes: number, dir?: Direction): number | null;
  unmapSingle(dma: number, bytes: number): FreeResult;
  /**
   * Never-free unmap: the pages return to the allocator but their entries stay valid (no table
   * write, no flush), so the device keeps reaching the buffer until the entries are reused.
   */
  unmapKeep(dma: number, bytes: number): FreeResult;
  /** dma_map_sg: one DMA address per segment, or null (nothing left mapped) when one does not fit. */
  mapSg(segments: readonly SgSegment[], dir?: Direction): number[] | null;
  unmapSg(segments: readonly DmaSegment[]): FreeResult;
  /** dma_alloc_coherent: whole pages, mapped bidirectional. */
  allocCoherent(bytes: number): CoherentBuffer | null;
  freeCoherent(dma: number, bytes: number): FreeResult;
  /** The device reads or writes `bytes` at `dma`; the worst outcome over the pages touched. */
  deviceAccess(dma: number, bytes: number, kind: "read" | "write"): AccessOutcome;
  stats(): Stats;
  /** Table entry `index` decoded (host order): Calgary TCE or DART entry; on a page table, the leaf translating IO page `index` (0n: none). */
  entryWord(index: number): bigint;
  /** Table entry `index` as its bytes sit in memory, big-endian, read back as a little-endian word (page tables are little-endian: the leaf itself). */
  entryRaw(index: number): bigint;
  entryInUse(index: number): boolean;
  /**
   * Page-table platforms (vtd, amd-vi, smmuv3): the raw 64-bit entry at `level` (1 = leaf table,
   * up to the root's level) on the walk of IO page `index`; 0n where the walk ends above that level.
   */
  pageTableEntry(index: number, level: number): bigint;
  /**
   * Page-table platforms: 64-bit word `index` of the device's structures the IOMMU reads before
   * the page table (assembly/pgtable/context.ts): VT-d root entry (0, 1) and context entry (2, 3);
   * AMD-Vi device table entry (0 … 3); SMMUv3 stream table entry (0 … 7) and context descriptor (8 … 15).
   */
  contextWord(index: number): bigint;
  /** Page-table platforms: a context-cache invalidation; the next IOTLB miss reads the device's structures again (ctxReads). */
  invalidateContextCache(): void;
  /** The allocator's next-fit hint (small allocations on PowerPC). */
  hint(): number;
  /** Lines of the device-side cache holding a translation. */
  cacheLines(): number;
  /** Lines of the device-side cache whose translation the table no longer holds. */
  staleLines(): number;
  /** The CPU the following calls run on (the IOVA allocator's per-CPU magazines): 0 … cpus − 1. */
  setCpu(cpu: number): void;
  /** One run of the IOVA depot's 100 ms delayed work; the magazines it gave back to the tree. */
  depotWork(): number;
  allocatorState(): AllocatorState;
  /**
   * flush-queue policy: the queue's 10 ms timer fires (flush, then free what every CPU queued);
   * true if it flushed. The caller keeps the time; false under any other policy.
   */
  flushQueueTimer(): boolean;
  /**
   * The queued invalidation interface's ring as it sits in memory (VT-d IQ, AMD-Vi command
   * buffer, SMMUv3 command queue), or null without one (Calgary, DART).
   */
  invalidationQueue(): InvalidationQueue | null;
  readonly batch: BatchArea;
}

/** An invalidation queue: every slot's two 64-bit words, and the tail (producer) register as last written. */
export interface InvalidationQueue {
  /** VT-d IQT (next slot << 4), AMD CMD_TAIL (byte offset), SMMUv3 CMDQ_PROD (index | wrap bit). */
  tail: number;
  slots: Array<[bigint, bigint]>;
}
