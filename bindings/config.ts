// Options in, a validated and fully resolved configuration out. Every refusal names the field,
// the value and what is allowed.

import {
  ALLOC_IOVA, ALLOCATORS, CAP_RIL, CAP_RWBF, isIova, INVALIDATIONS, MAX_CPUS, FLUSH_POLICIES, FORMAT_AMD_V1, FORMAT_CALGARY, FORMAT_DART, FORMAT_RIOMMU, FORMAT_VTD,
  FORMAT_VTD_FL, IO_PAGE_SIZE, type AllocatorName, type FlushPolicyName, type InvalidationName,
} from "./abi.js";
import { ConfigError } from "./errors.js";
import { entryBytesOf, PLATFORM_PRESETS, PLATFORMS, type InvalidationCaps, type PlatformName, type ReservedRange } from "./platforms.js";

export interface IommuOptions {
  /** Which IOMMU and driver era. */
  platform: PlatformName;
  /**
   * Bytes of translation table: Calgary "64K" … "8M" (default "8M", 4 GiB of IO space); DART "2M";
   * vtd, amd-vi, smmuv3: the IO space dma-iommu hands out, as 8 bytes a page ("8M" = 4 GiB, the default).
   */
  tableSize?: string | number;
  /**
   * Highest RAM address of the machine, in bytes. Without `tableSize`, Calgary sizes its table
   * from it as 2.6.18–2.6.23 do: spec = min(get_order(ram >> 13), 7). Default: a machine with
   * ≥ 4 GiB, hence the 8M table.
   */
  ramBytes?: number;
  /** Device-side cache geometry; `entries: 0` models no cache. */
  cache?: { entries: number; ways: number };
  /** Override the platform's IO-space allocator: calgary, ppc2007, first-fit, free-list, iova, iova-tree. */
  allocator?: AllocatorName;
  /** Override the platform's flush policy (what-if: strict, never, …). */
  flushPolicy?: FlushPolicyName;
  /** PCI MEM windows that the bridge reserves in IO space (Calgary MEM_1 / MEM_2), in bytes. */
  pciWindows?: Array<{ start: number; bytes: number }>;
  /** DMA segment boundary in bytes (power of two ≥ 4096), as the kernel's iommu_area_alloc; default none. */
  segmentBoundary?: number;
  /** DART spare page that freed entries point at (physical page number). */
  dartDummyPfn?: number;
  /** First physical page handed to alloc_coherent buffers. */
  coherentBasePfn?: number;
  /** Handles available to batches (mappings a batch can name at once). @default 65536 */
  maxHandles?: number;
  /** Records one batch call can carry. @default 4096 */
  batchCapacity?: number;
  /** CPUs modelled (the IOVA allocator keeps magazines per CPU), 1 … 64. @default 1 */
  cpus?: number;
  /**
   * DART only: PowerPC map_sg virtual merging (CONFIG_IOMMU_VMERGE; off in Kconfig, on in
   * g5_defconfig): an element whose DMA address continues the previous one joins its DMA segment.
   * @default false
   */
  vmerge?: boolean;
  /**
   * Page-table platforms: levels of the I/O page table. vtd: 4 (48-bit) or 5 (57-bit, on
   * hardware with 5-level support); amd-vi: 3 (Linux v1 starts at PAGE_MODE_3_LEVEL, enough for
   * the 4 GiB IO space); smmuv3: 4 (48-bit input addresses, 4 KiB granule). @default the first
   */
  pageTableLevels?: number;
  /**
   * Override the platform's invalidation interface (what-if: "vtd-qi", "amd-cmdbuf",
   * "smmuv3-cmdq", or "none" for Calgary's / DART's register sequences).
   */
  invalidation?: InvalidationName;
  /** Capabilities of the queued interface (VT-d mamv, rwbf; SMMUv3 rangeInvalidation); the platform's by default. */
  invalidationCaps?: InvalidationCaps;
  /**
   * vtd only: "second-level" (legacy mode; the default) or "first-level" (the x86-64 paging
   * format Linux uses for DMA domains in scalable mode when the hardware has it).
   */
  pageTableFormat?: "second-level" | "first-level";
}

/** The levels option against the platform; 0 for the flat tables. */
export function checkPageTableLevel(c: ResolvedConfig, level: number): void {
  if (c.levels === 0) throw new ConfigError("platform", c.platform, "a page-table platform (vtd, amd-vi, smmuv3) for pageTableEntry");
  if (!Number.isInteger(level) || level < 1 || level > c.levels) throw new ConfigError("level", level, `an integer from 1 (leaf) to ${c.levels} (root)`);
}

/** Words of the per-device structures (assembly/pgtable/context.ts): VT-d root + context entry
 *  (scalable mode: + PASID directory and table entries), AMD's DTE, SMMUv3's STE + CD. */
export function contextWords(c: ResolvedConfig): number {
  return c.format === FORMAT_VTD || c.format === FORMAT_AMD_V1 ? 4 : c.format === FORMAT_VTD_FL ? 15 : 16;
}

/** `index` against the platform's per-device structures; returns it. */
export function checkContextWord(c: ResolvedConfig, index: number): number {
  if (c.levels === 0) throw new ConfigError("platform", c.platform, "a page-table platform (vtd, amd-vi, smmuv3) for its device structures");
  const n = contextWords(c);
  if (!Number.isInteger(index) || index < 0 || index >= n) throw new ConfigError("index", index, `an integer from 0 to ${n - 1} (the ${c.platform} device structures' 64-bit words)`);
  return index;
}

export interface ResolvedConfig {
  platform: PlatformName;
  format: number;
  allocator: number;
  flushPolicy: FlushPolicyName;
  tableBytes: number;
  entries: number;
  ioSpaceBytes: number;
  cacheEntries: number;
  cacheWays: number;
  reserved: ReservedRange[];
  badFreeBelow: number;
  /** Table word a free writes (DART: VALID | dummy page), decoded. */
  emptyWord: bigint;
  maxPfn: number;
  /** Largest page order alloc_coherent gets (Calgary 10, DART 12). */
  maxCoherentOrder: number;
  vmerge: boolean;
  /** Page-table levels (0: a flat table). */
  levels: number;
  coherentBasePfn: number;
  boundaryPages: number;
  maxHandles: number;
  batchCapacity: number;
  cpus: number;
  invalidation: InvalidationName;
  /** The interface's capabilities packed as the core takes them (CAP_* in abi.ts). */
  invCaps: number;
}

/** VT-d CAP.MAMV when the platform does not say: 18, as Intel server IOMMUs report it. */
const DEFAULT_MAMV = 18;

/** An option's value, or its default when left out; null is a value (refused by its check), not "left out". */
const given = <T>(v: T | undefined, dflt: T): T => (v === undefined ? dflt : v);

const isPow2 = (n: number) => Number.isInteger(n) && n > 0 && (n & (n - 1)) === 0;

/** A byte count, or a size with a K / M / G suffix (binary: 64K = 65536), as every size option takes. */
export function parseSize(field: string, v: string | number): number {
  if (typeof v === "number") return v;
  if (typeof v !== "string") throw new ConfigError(field, v, 'a byte count or a size such as "64K", "2M", "8M"');
  const m = /^(\d+)\s*([KMG]?)i?B?$/i.exec(v.trim());
  if (!m) throw new ConfigError(field, v, 'a byte count or a size such as "64K", "2M", "8M"');
  const unit = { "": 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 }[m[2].toUpperCase() as "" | "K" | "M" | "G"];
  return Number(m[1]) * unit;
}

function checkInt(field: string, v: unknown, min: number, max: number): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
    throw new ConfigError(field, v, `an integer from ${min} to ${max}`);
  }
  return v;
}

const fmtSize = (b: number) => (b >= 1024 * 1024 ? `${b / 1024 / 1024}M` : `${b / 1024}K`);

/** 2.6.23 calgary_init_one: spec = min(get_order(end_pfn · 4096 >> 13), 7); table = 64 KiB << spec. */
export function calgaryTableFromRam(ramBytes: number): number {
  const x = Math.floor(ramBytes / 8192);
  let order = 0;
  while (4096 * 2 ** order < x) order++;
  return 65536 * 2 ** Math.min(order, 7);
}

export function resolveConfig(options: IommuOptions): ResolvedConfig {
  if (options === null || typeof options !== "object") {
    throw new ConfigError("options", options, "an object with at least { platform }");
  }
  const known = new Set([
    "platform", "tableSize", "ramBytes", "cache", "allocator", "flushPolicy", "pciWindows", "segmentBoundary",
    "dartDummyPfn", "coherentBasePfn", "maxHandles", "batchCapacity", "cpus", "vmerge", "pageTableLevels", "invalidation", "invalidationCaps", "pageTableFormat",
  ]);
  for (const k of Object.keys(options)) {
    if (!known.has(k)) throw new ConfigError(k, (options as unknown as Record<string, unknown>)[k], `no such option; known: ${[...known].join(", ")}`);
  }
  if (!PLATFORMS.includes(options.platform)) {
    throw new ConfigError("platform", options.platform, `one of ${PLATFORMS.join(", ")}`);
  }
  const p = PLATFORM_PRESETS[options.platform];

  let tableBytes = options.tableSize === undefined ? p.tableSizes[0] : parseSize("tableSize", options.tableSize);
  if (options.ramBytes !== undefined) {
    const ram = checkInt("ramBytes", options.ramBytes, 1, 2 ** 52);
    if (options.tableSize !== undefined) throw new ConfigError("ramBytes", ram, "to be left out when tableSize is given (one decides the table size)");
    if (p.format === FORMAT_CALGARY) tableBytes = calgaryTableFromRam(ram);
  }
  if (!p.tableSizes.includes(tableBytes)) {
    throw new ConfigError("tableSize", options.tableSize, `for ${p.name} one of ${p.tableSizes.map(fmtSize).join(", ")}`);
  }
  const entries = tableBytes / entryBytesOf(p.format);

  const cache = given(options.cache, p.cache);
  if (cache === null || typeof cache !== "object") throw new ConfigError("cache", cache, "{ entries, ways }");
  const cacheEntries = checkInt("cache.entries", cache.entries, 0, 1 << 20);
  if (cacheEntries !== 0 && !isPow2(cacheEntries)) throw new ConfigError("cache.entries", cacheEntries, "0 or a power of two");
  const cacheWays = cacheEntries === 0 ? 0 : checkInt("cache.ways", cache.ways, 1, cacheEntries);
  if (cacheEntries !== 0 && !isPow2(cacheWays)) throw new ConfigError("cache.ways", cacheWays, `a power of two dividing cache.entries (${cacheEntries})`);
  if (p.format === FORMAT_RIOMMU && cacheEntries !== 0 && (cacheEntries !== 2 || cacheWays !== 2)) {
    throw new ConfigError("cache", cache, "{ entries: 2, ways: 2 } on riommu (the rIOTLB: the ring's current rPTE and the prefetched next), or { entries: 0 } for none");
  }

  const flushPolicy = given(options.flushPolicy, p.flushPolicy);
  if (!FLUSH_POLICIES.includes(flushPolicy)) {
    throw new ConfigError("flushPolicy", flushPolicy, `one of ${FLUSH_POLICIES.join(", ")}`);
  }

  let allocator: number = p.allocator;
  if (options.allocator !== undefined && p.format === FORMAT_RIOMMU) {
    throw new ConfigError("allocator", options.allocator, "to be left out on riommu: its IO addresses are positions in the ring, appended at the tail");
  }
  if (options.allocator !== undefined) {
    allocator = ALLOCATORS.indexOf(options.allocator);
    if (allocator < 0) throw new ConfigError("allocator", options.allocator, `one of ${ALLOCATORS.join(", ")}`);
  }

  // the ring hands out positions in order from its tail, skipping nothing: a reserved window would
  // stop the tail for good (every later map failing), and a segment boundary would be ignored
  if (p.format === FORMAT_RIOMMU && options.pciWindows !== undefined) {
    throw new ConfigError("pciWindows", options.pciWindows, "to be left out on riommu: its IO addresses are ring positions taken in order from the tail, which cannot skip a reserved window");
  }
  if (p.format === FORMAT_RIOMMU && options.segmentBoundary !== undefined) {
    throw new ConfigError("segmentBoundary", options.segmentBoundary, "to be left out on riommu: its IO addresses are ring positions taken in order from the tail, which cannot skip to a segment boundary");
  }

  const reserved = p.reserved(entries);
  const windows = given(options.pciWindows, []);
  if (!Array.isArray(windows)) throw new ConfigError("pciWindows", windows, "a list of { start, bytes } windows");
  windows.forEach((w, i) => {
    const start = checkInt(`pciWindows[${i}].start`, w?.start, 0, 2 ** 52);
    const bytes = checkInt(`pciWindows[${i}].bytes`, w?.bytes, 1, 2 ** 52);
    const first = Math.floor(start / IO_PAGE_SIZE);
    // Calgary reserves through the end of the window's last MiB: ((limit | 0xfffff) + 1 − start) >> 12.
    const limit = start + bytes - 1;
    const end = (Math.floor(limit / 0x100000) + 1) * 0x100000;
    reserved.push({ first, pages: Math.floor((end - start) / IO_PAGE_SIZE), why: `PCI window ${i}` });
  });

  let boundaryPages = 0;
  if (options.segmentBoundary !== undefined) {
    const b = options.segmentBoundary;
    if (!isPow2(b) || b < IO_PAGE_SIZE) throw new ConfigError("segmentBoundary", b, "a power of two ≥ 4096 bytes");
    boundaryPages = b / IO_PAGE_SIZE;
  }

  const dummyPfn = checkInt("dartDummyPfn", given(options.dartDummyPfn, 0x3ffff), 0, p.maxPfn);
  const coherentBasePfn = checkInt("coherentBasePfn", given(options.coherentBasePfn, 0x100000), 0, p.maxPfn - 1024);
  const vmerge = given(options.vmerge, false);
  if (typeof vmerge !== "boolean") throw new ConfigError("vmerge", vmerge, "true or false");
  if (vmerge && p.format !== FORMAT_DART) throw new ConfigError("vmerge", vmerge, `false on ${p.name}: only PowerPC's map_sg (dart-u3, dart-u4) merges`);
  if (vmerge && isIova(allocator)) throw new ConfigError("vmerge", vmerge, "false with the iova allocators: they map a list as dma-iommu does, one range for it all");
  const allowedLevels = p.levels ?? [];
  let levels = allowedLevels[0] ?? 0;
  if (options.pageTableLevels !== undefined) {
    levels = options.pageTableLevels;
    if (!allowedLevels.includes(levels)) {
      throw new ConfigError("pageTableLevels", levels, allowedLevels.length ? `for ${p.name} one of ${allowedLevels.join(", ")}` : `left out on ${p.name}: its table is flat`);
    }
  }
  const { invalidation, invCaps } = resolveInvalidation(options, p.invalidation, p.invalidationCaps);
  let format: number = p.format;
  if (options.pageTableFormat !== undefined) {
    if (p.format !== FORMAT_VTD) throw new ConfigError("pageTableFormat", options.pageTableFormat, `left out on ${p.name}: only vtd has two table formats`);
    if (options.pageTableFormat !== "second-level" && options.pageTableFormat !== "first-level") {
      throw new ConfigError("pageTableFormat", options.pageTableFormat, "second-level or first-level");
    }
    if (options.pageTableFormat === "first-level") format = FORMAT_VTD_FL;
  }
  const emptyWord = p.format === FORMAT_DART ? BigInt((0x80000000 | dummyPfn) >>> 0) : 0n;

  return {
    platform: p.name,
    format,
    allocator,
    flushPolicy,
    tableBytes,
    entries,
    ioSpaceBytes: entries * IO_PAGE_SIZE,
    cacheEntries,
    cacheWays,
    reserved,
    badFreeBelow: p.badFreeBelow,
    emptyWord,
    maxPfn: p.maxPfn,
    maxCoherentOrder: p.maxCoherentOrder,
    vmerge,
    levels,
    coherentBasePfn,
    boundaryPages,
    maxHandles: checkInt("maxHandles", given(options.maxHandles, 65536), 1, 1 << 24),
    batchCapacity: checkInt("batchCapacity", given(options.batchCapacity, 4096), 1, 1 << 20),
    cpus: checkInt("cpus", given(options.cpus, 1), 1, MAX_CPUS),
    invalidation,
    invCaps,
  };
}

/** The invalidation interface and its capabilities: the platform's, or the options' what-if. */
function resolveInvalidation(
  options: IommuOptions, platformInterface: InvalidationName, platformCaps: InvalidationCaps | undefined,
): { invalidation: InvalidationName; invCaps: number } {
  const invalidation = given(options.invalidation, platformInterface);
  if (!INVALIDATIONS.includes(invalidation)) throw new ConfigError("invalidation", invalidation, `one of ${INVALIDATIONS.join(", ")}`);
  const caps = given(options.invalidationCaps, options.invalidation === undefined ? platformCaps ?? {} : {});
  if (caps === null || typeof caps !== "object") throw new ConfigError("invalidationCaps", caps, "{ mamv?, rwbf?, rangeInvalidation? }");
  const allowed: Record<InvalidationName, string[]> = { none: [], "vtd-qi": ["mamv", "rwbf"], "amd-cmdbuf": [], "smmuv3-cmdq": ["rangeInvalidation"] };
  for (const k of Object.keys(caps)) {
    if (!allowed[invalidation].includes(k)) {
      // a key that is no name (" ", "a.b") would break the field path: name the whole object then
      const named = /^\w+$/.test(k);
      throw new ConfigError(named ? `invalidationCaps.${k}` : "invalidationCaps", named ? (caps as Record<string, unknown>)[k] : caps, allowed[invalidation].length
        ? `left out: the ${invalidation} interface has ${allowed[invalidation].join(", ")}`
        : `left out: the ${invalidation} interface has no capabilities to set`);
    }
  }
  const flag = (k: "rwbf" | "rangeInvalidation") => {
    const v = given(caps[k], false);
    if (typeof v !== "boolean") throw new ConfigError(`invalidationCaps.${k}`, v, "true or false");
    return v;
  };
  const mamv = checkInt("invalidationCaps.mamv", given(caps.mamv, DEFAULT_MAMV), 0, 63);
  const invCaps = invalidation === "vtd-qi" ? mamv | (flag("rwbf") ? CAP_RWBF : 0)
    : invalidation === "smmuv3-cmdq" && flag("rangeInvalidation") ? CAP_RIL : 0;
  return { invalidation, invCaps };
}

/** Whether calls on different CPUs behave differently: the IOVA magazines, the flush queues. */
export function isPerCpu(c: ResolvedConfig): boolean {
  return c.allocator === ALLOC_IOVA || c.flushPolicy === "flush-queue";
}
