// === Statistics: plain counters ===
// Kept in WASM globals (a namespace of `let`s) so the hot path never touches memory to count.
// `writeCounters` lays them into linear memory in this order when JS asks (bindings/abi.ts keeps
// the names in the same order). Counting never branches on anything but the event itself.

export namespace stats {
  /** Internal: pages built then cleared again by a failed map_sg (for tceWrites). */
  export let pagesUnwound: u64 = 0;
  /** Internal: pages released by unmapKeep, whose entries were not cleared (for tceWrites). */
  export let pagesKept: u64 = 0;
  /** successful map_single */
  export let maps: u64 = 0;
  /** unmap_single calls (incl. bad and double frees) */
  export let unmaps: u64 = 0;
  /** successful map_sg */
  export let mapSgs: u64 = 0;
  /** unmap_sg calls */
  export let unmapSgs: u64 = 0;
  /** successful alloc_coherent */
  export let allocs: u64 = 0;
  /** free_coherent calls */
  export let frees: u64 = 0;
  /** IO pages mapped */
  export let pagesMapped: u64 = 0;
  /** IO pages unmapped */
  export let pagesUnmapped: u64 = 0;
  /** 64-bit bitmap words loaded by the allocator's searches */
  export let wordsScanned: u64 = 0;
  /** allocator restarts from the start of its range */
  export let wraps: u64 = 0;
  /** whole-cache invalidations (Calgary blast, DART invalidate-all) */
  export let flushes: u64 = 0;
  /** single-entry invalidations (DART U4) */
  export let entryInvalidations: u64 = 0;
  /** device page accesses translated */
  export let accesses: u64 = 0;
  /** cache hits, translation current */
  export let hits: u64 = 0;
  /** table walks that found a valid translation */
  export let misses: u64 = 0;
  /** cache hits on a translation the table no longer holds */
  export let staleHits: u64 = 0;
  /** blocked accesses */
  export let faults: u64 = 0;
  /** IOMMU full (or a coherent order too large) */
  export let mapFailures: u64 = 0;
  /** frees Linux ignores (below 0x20000 on Calgary, past the table) */
  export let badFrees: u64 = 0;
  /** frees of pages already free (Linux clears them anyway) */
  export let doubleFrees: u64 = 0;
  /** cache lines replaced by LRU */
  export let cacheEvictions: u64 = 0;
  /** gauge: IO pages allocated now (reserved ranges excluded) */
  export let pagesInUse: u64 = 0;
  /** gauge: highest pagesInUse so far */
  export let peakPagesInUse: u64 = 0;
  /** IOVA tree nodes visited by searches, walks and inserts */
  export let nodesVisited: u64 = 0;
  /** IOVA allocations served from a per-CPU magazine or the depot */
  export let rcacheHits: u64 = 0;
  /** gauge: IO pages unmapped and waiting in a flush queue (not yet back with the allocator) */
  export let pagesQueued: u64 = 0;
  /** ranges the allocator handed out (one per map_single, per sg element, per coherent buffer) */
  export let rangesAllocated: u64 = 0;
  /** page-table entries written (leaves set or cleared, table entries set or cleared; page tables only) */
  export let ptWrites: u64 = 0;
  /** page-table pages allocated and zeroed (the root at setup included) */
  export let ptTablesAllocated: u64 = 0;
  /** page-table pages freed (VT-d and Arm on unmaps of a whole table's span; any format under a large leaf) */
  export let ptTablesFreed: u64 = 0;
  /** page-table entries the IOMMU read walking after IOTLB misses */
  export let walkReads: u64 = 0;
  /** walks the paging-structure (walk) cache shortened to one read */
  export let walkCacheHits: u64 = 0;
  /** 2 MiB leaves written */
  export let largePages: u64 = 0;
  /** rIOMMU: next rPTEs the rIOTLB read ahead on a walk (riommu/ring.ts) */
  export let rptePrefetches: u64 = 0;
  // ── the queued invalidation interfaces (assembly/invalidation/; zero on Calgary and DART) ──
  /** descriptors / commands the CPU wrote into the invalidation queue (waits and syncs included) */
  export let invDescriptors: u64 = 0;
  /** MMIO writes of the queue's tail (VT-d IQT, AMD CMD_TAIL) or producer (SMMUv3 CMDQ_PROD) register */
  export let invDoorbells: u64 = 0;
  /** completions the CPU waited for (VT-d wait descriptor, AMD COMPLETION_WAIT, SMMUv3 CMD_SYNC) */
  export let invWaits: u64 = 0;
  /** page-selective invalidations (VT-d PSI, AMD INVALIDATE_IOMMU_PAGES of a range, SMMUv3 TLBI_NH_VA) */
  export let invPageSelective: u64 = 0;
  /** domain-wide invalidations (VT-d DSI, AMD all pages of the domain, SMMUv3 TLBI_NH_ASID) */
  export let invDomainSelective: u64 = 0;
  /** VT-d write-buffer flushes (map on hardware reporting RWBF) */
  export let invWriteBufferFlushes: u64 = 0;
  /** CPU memory barriers ordering the commands before the doorbell (SMMUv3: dma_wmb per submission) */
  export let invBarriers: u64 = 0;
  // ── the per-device structures before the page table (assembly/pgtable/context.ts) ──
  /** root / context entries, device table entries, stream table entries and context descriptors written at setup */
  export let ctxWrites: u64 = 0;
  /** those entries the IOMMU read on IOTLB misses its context cache did not cover */
  export let ctxReads: u64 = 0;
}

// @ts-ignore: decorator
@inline export const N_COUNTERS: u32 = 44;

/** Pages-in-use gauge with its peak. */
// @ts-ignore: decorator
@inline export function pagesTaken(n: u32): void {
  stats.rangesAllocated++;
  stats.pagesInUse += n;
  if (stats.pagesInUse > stats.peakPagesInUse) stats.peakPagesInUse = stats.pagesInUse;
}

// @ts-ignore: decorator
@inline export function pagesReturned(n: u32): void {
  stats.pagesInUse -= n;
}

/** Stores every counter at `base`, u64 each, in declaration order. */
/** Every built page and every cleared page is one TCE store: derived, not counted per event. */
// @ts-ignore: decorator
@inline export function tceWrites(): u64 {
  return stats.pagesMapped + stats.pagesUnmapped - stats.pagesKept + 2 * stats.pagesUnwound;
}

export function writeCounters(base: usize): void {
  store<u64>(base, stats.maps, 0);
  store<u64>(base, stats.unmaps, 8);
  store<u64>(base, stats.mapSgs, 16);
  store<u64>(base, stats.unmapSgs, 24);
  store<u64>(base, stats.allocs, 32);
  store<u64>(base, stats.frees, 40);
  store<u64>(base, stats.pagesMapped, 48);
  store<u64>(base, stats.pagesUnmapped, 56);
  store<u64>(base, tceWrites(), 64);
  store<u64>(base, stats.wordsScanned, 72);
  store<u64>(base, stats.wraps, 80);
  store<u64>(base, stats.flushes, 88);
  store<u64>(base, stats.entryInvalidations, 96);
  store<u64>(base, stats.accesses, 104);
  store<u64>(base, stats.hits, 112);
  store<u64>(base, stats.misses, 120);
  store<u64>(base, stats.staleHits, 128);
  store<u64>(base, stats.faults, 136);
  store<u64>(base, stats.mapFailures, 144);
  store<u64>(base, stats.badFrees, 152);
  store<u64>(base, stats.doubleFrees, 160);
  store<u64>(base, stats.cacheEvictions, 168);
  store<u64>(base, stats.pagesInUse, 176);
  store<u64>(base, stats.peakPagesInUse, 184);
  store<u64>(base, stats.nodesVisited, 192);
  store<u64>(base, stats.rcacheHits, 200);
  store<u64>(base, stats.pagesQueued, 208);
  store<u64>(base, stats.rangesAllocated, 216);
  store<u64>(base, stats.ptWrites, 224);
  store<u64>(base, stats.ptTablesAllocated, 232);
  store<u64>(base, stats.ptTablesFreed, 240);
  store<u64>(base, stats.walkReads, 248);
  store<u64>(base, stats.walkCacheHits, 256);
  store<u64>(base, stats.largePages, 264);
  store<u64>(base, stats.rptePrefetches, 272);
  store<u64>(base, stats.invDescriptors, 280);
  store<u64>(base, stats.invDoorbells, 288);
  store<u64>(base, stats.invWaits, 296);
  store<u64>(base, stats.invPageSelective, 304);
  store<u64>(base, stats.invDomainSelective, 312);
  store<u64>(base, stats.invWriteBufferFlushes, 320);
  store<u64>(base, stats.invBarriers, 328);
  store<u64>(base, stats.ctxWrites, 336);
  store<u64>(base, stats.ctxReads, 344);
}

export function resetCounters(): void {
  stats.maps = 0;
  stats.unmaps = 0;
  stats.mapSgs = 0;
  stats.unmapSgs = 0;
  stats.allocs = 0;
  stats.frees = 0;
  stats.pagesMapped = 0;
  stats.pagesUnmapped = 0;
  stats.pagesUnwound = 0;
  stats.pagesKept = 0;
  stats.wordsScanned = 0;
  stats.wraps = 0;
  stats.flushes = 0;
  stats.entryInvalidations = 0;
  stats.accesses = 0;
  stats.hits = 0;
  stats.misses = 0;
  stats.staleHits = 0;
  stats.faults = 0;
  stats.mapFailures = 0;
  stats.badFrees = 0;
  stats.doubleFrees = 0;
  stats.cacheEvictions = 0;
  stats.pagesInUse = 0;
  stats.peakPagesInUse = 0;
  stats.nodesVisited = 0;
  stats.rcacheHits = 0;
  stats.pagesQueued = 0;
  stats.rangesAllocated = 0;
  stats.ptWrites = 0;
  stats.ptTablesAllocated = 0;
  stats.ptTablesFreed = 0;
  stats.walkReads = 0;
  stats.walkCacheHits = 0;
  stats.largePages = 0;
  stats.rptePrefetches = 0;
  stats.invDescriptors = 0;
  stats.invDoorbells = 0;
  stats.invWaits = 0;
  stats.invPageSelective = 0;
  stats.invDomainSelective = 0;
  stats.invWriteBufferFlushes = 0;
  stats.invBarriers = 0;
  stats.ctxWrites = 0;
  stats.ctxReads = 0;
}
