// The NIC workload's settings: a netperf-style test (TCP_STREAM or TCP_RR) over a multi-queue
// 10/25/40/100 GbE NIC, as today's Linux drivers drive it. Checked once; every refusal names the
// field, the value and what is allowed.

import type { IommuOptions } from "../../config.js";
import { ConfigError } from "../../errors.js";
import { PLATFORM_PRESETS, PLATFORMS, type PlatformName } from "../../platforms.js";

/** Ethernet speeds (Gbit/s): 1 for the 2007 study's NIC, 10–100 as asked, 50 and 200 for published runs at those speeds. */
export const LINK_GBPS = [1, 10, 25, 40, 50, 100, 200] as const;
export type LinkGbps = (typeof LINK_GBPS)[number];
export const NIC_TESTS = ["stream", "rr"] as const;
export const NIC_ROLES = ["sender", "receiver"] as const;
/**
 * strict: an IOTLB invalidation per unmap (iommu.strict=1, arm64's default); lazy: dma-iommu's
 * flush queue (x86's default); default: the platform kernel's default.
 */
export const INVALIDATIONS = ["default", "strict", "lazy"] as const;
export type Invalidation = (typeof INVALIDATIONS)[number];

export interface NicOptions {
  /** netperf TCP_STREAM ("stream") or TCP_RR ("rr", one transaction outstanding per flow). */
  test: (typeof NIC_TESTS)[number];
  /** The simulated host's end of a stream: the data sender (TSO out, ACKs in) or receiver (GRO in, ACKs out). */
  role: (typeof NIC_ROLES)[number];
  linkGbps: LinkGbps;
  /** Queue pairs in use, one flow each (RSS / XPS steer flow i to queue i, queue i's interrupt to CPU i mod cpus). */
  queues: number;
  /** CPUs the queues' interrupts and the netperf processes run on. */
  cpus: number;
  mtu: number;
  /** netperf's send size (-m) for stream, request = response size (-r) for rr. */
  messageBytes: number;
  invalidation: Invalidation;
  /** Descriptors per ring (mlx5's default is 1024 for both; ixgbe / i40e default to 512). */
  txRing: number;
  rxRing: number;
  /** Translation cache of the IOMMU (the IOTLB): entries × ways. */
  iotlb: { entries: number; ways: number };
  /**
   * Interrupt coalescing (rx-usecs / tx-usecs): how long the NIC gathers completions before it
   * interrupts; it sets packets per NAPI poll, hence TX completion batches and GRO batches.
   */
  coalesceUs: number;
  /** Payload bytes a stream receiver's socket holds before the reader copies them out (netperf's recv size). */
  rxBacklogBytes: number;
  /** TX payload page fragments: 32768 (tcp_sendmsg copies into 32 KiB page_frag pages), 4096 (zero-copy / sendfile: one page a frag). */
  txFragBytes: number;
  /**
   * RX buffer recycling: "page-pool" (page_pool keeps pages mapped while they cycle: mlx5, bnxt),
   * "page-flip" (ixgbe / i40e: a page per descriptor, its two halves used in turn) or "none" (a
   * buffer mapped per descriptor and unmapped when its frame arrives, as drivers did before) or
   * "hugepage-pool" (the page pool's pages carved from 2 MiB chunks, each mapped whole);
   * "default": page-pool, or none on a ring IOMMU (which translates ring-ordered buffers only).
   */
  rxRecycling: "default" | "page-pool" | "page-flip" | "none" | "hugepage-pool";
  /**
   * The IOVA allocator: "iova" (per-CPU magazines in front of the tree, Linux ≥ 4.7) or "iova-tree"
   * (the tree alone, every allocation and free under its lock, as before the magazines).
   */
  allocator: "iova" | "iova-tree";
  /** IOMMU platform and table (default: the IOVA allocator on the platform's table). */
  platform: PlatformName;
  tableSize?: string | number;
  /** DMA-API calls the measured window holds per queue (after a warm-up of half as many). */
  windowCalls: number;
}

export const NIC_DEFAULTS: NicOptions = {
  test: "stream",
  role: "sender",
  linkGbps: 10,
  queues: 4,
  cpus: 4,
  mtu: 1500,
  messageBytes: 65536,
  invalidation: "default",
  txRing: 1024,
  rxRing: 1024,
  iotlb: { entries: 64, ways: 4 },
  coalesceUs: 16,
  rxBacklogBytes: 87380,
  txFragBytes: 32768,
  rxRecycling: "default",
  allocator: "iova",
  platform: "vtd",
  windowCalls: 3000,
};

/**
 * Ring IOMMUs: one translation ring per device ring, buffers mapped and unmapped in ring order,
 * invalidation at the end of each burst (the rIOMMU of Malka et al., ASPLOS 2015).
 */
export const RING_IOMMUS: readonly string[] = ["riommu"];
export const isRingIommu = (platform: string) => RING_IOMMUS.includes(platform);

/** With the platform's defaults decided: its invalidation, its RX recycling. */
export type ResolvedNicOptions = Omit<NicOptions, "invalidation" | "rxRecycling"> & {
  invalidation: "strict" | "lazy" | "end-of-burst";
  rxRecycling: "page-pool" | "page-flip" | "none" | "hugepage-pool";
};

const isPow2 = (n: number) => Number.isInteger(n) && n > 0 && (n & (n - 1)) === 0;

function int(field: string, v: unknown, min: number, max: number): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) throw new ConfigError(field, v, `an integer from ${min} to ${max}`);
  return v;
}

function oneOf<T>(field: string, v: unknown, allowed: readonly T[]): T {
  if (!allowed.includes(v as T)) throw new ConfigError(field, v, `one of ${allowed.join(", ")}`);
  return v as T;
}

export const NIC_KEYS = Object.keys(NIC_DEFAULTS).concat("tableSize") as Array<keyof NicOptions>;

/** Defaults filled in and every field checked. */
export function resolveNicOptions(given: Partial<NicOptions> = {}): ResolvedNicOptions {
  if (given === null || typeof given !== "object") throw new ConfigError("options", given, "an object of NIC workload settings");
  for (const k of Object.keys(given)) {
    if (!NIC_KEYS.includes(k as keyof NicOptions)) throw new ConfigError(k, (given as Record<string, unknown>)[k], `no such NIC setting; known: ${NIC_KEYS.join(", ")}`);
  }
  const defined = Object.fromEntries(Object.entries(given).filter(([, v]) => v !== undefined)) as Partial<NicOptions>;
  const o: NicOptions = { ...NIC_DEFAULTS, ...defined, iotlb: { ...NIC_DEFAULTS.iotlb, ...(defined.iotlb ?? {}) } };
  oneOf("test", o.test, NIC_TESTS);
  oneOf("role", o.role, NIC_ROLES);
  oneOf("linkGbps", o.linkGbps, LINK_GBPS);
  oneOf("invalidation", o.invalidation, INVALIDATIONS);
  oneOf("platform", o.platform, PLATFORMS);
  int("queues", o.queues, 1, 64);
  int("cpus", o.cpus, 1, 64);
  int("mtu", o.mtu, 576, 9000);
  int("messageBytes", o.messageBytes, 1, 1 << 20);
  for (const f of ["txRing", "rxRing"] as const) {
    if (!isPow2(o[f]) || o[f] < 64 || o[f] > 8192) throw new ConfigError(f, o[f], "a power of two from 64 to 8192 descriptors");
  }
  int("iotlb.entries", o.iotlb.entries, 0, 1 << 16);
  if (o.iotlb.entries !== 0 && !isPow2(o.iotlb.entries)) throw new ConfigError("iotlb.entries", o.iotlb.entries, "0 (no IOTLB) or a power of two");
  if (o.iotlb.entries !== 0 && (!isPow2(o.iotlb.ways) || o.iotlb.ways > o.iotlb.entries)) {
    throw new ConfigError("iotlb.ways", o.iotlb.ways, `a power of two up to iotlb.entries (${o.iotlb.entries})`);
  }
  if (typeof o.coalesceUs !== "number" || !(o.coalesceUs >= 0 && o.coalesceUs <= 1000)) throw new ConfigError("coalesceUs", o.coalesceUs, "0 to 1000 µs");
  int("rxBacklogBytes", o.rxBacklogBytes, 0, 64 << 20);
  if (o.txFragBytes !== 4096 && o.txFragBytes !== 32768) throw new ConfigError("txFragBytes", o.txFragBytes, "4096 (zero-copy: a page per frag) or 32768 (tcp_sendmsg's page_frag)");
  int("windowCalls", o.windowCalls, 100, 1 << 20);
  oneOf("rxRecycling", o.rxRecycling, ["default", "page-pool", "page-flip", "none", "hugepage-pool"] as const);
  oneOf("allocator", o.allocator, ["iova", "iova-tree"] as const);
  if (o.rxRecycling === "page-flip" && o.mtu > 1522) throw new ConfigError("rxRecycling", o.rxRecycling, `page-pool with mtu ${o.mtu}: page-flip splits a page into two 2 KiB halves, so frames up to an MTU of 1522`);
  if (isRingIommu(o.platform)) {
    // a ring IOMMU translates buffers mapped and unmapped in ring order, invalidating per burst
    const why = `on ${o.platform}: it translates ring buffers mapped and unmapped in ring order and invalidates at the end of each burst`;
    if (o.rxRecycling !== "default" && o.rxRecycling !== "none") throw new ConfigError("rxRecycling", o.rxRecycling, `none (or default) ${why}; a page pool keeps pages mapped out of ring order`);
    if (o.invalidation !== "default") throw new ConfigError("invalidation", o.invalidation, `default ${why}`);
    if (defined.iotlb !== undefined) throw new ConfigError("iotlb", JSON.stringify(defined.iotlb), `left out ${why}: its rIOTLB is its own`);
    if (defined.allocator !== undefined && defined.allocator !== "iova") throw new ConfigError("allocator", defined.allocator, `left out ${why}: its ring allocator is its own`);
    return { ...o, invalidation: "end-of-burst", rxRecycling: "none" };
  }
  // the platform kernel's default: strict where it invalidates per unmap (smmuv3), else the flush queue
  const invalidation = o.invalidation === "default" ? (PLATFORM_PRESETS[o.platform].flushPolicy === "strict" ? "strict" : "lazy") : o.invalidation;
  return { ...o, invalidation, rxRecycling: o.rxRecycling === "default" ? "page-pool" : o.rxRecycling };
}

/**
 * The core the workload drives: the platform's table under today's IOVA allocator and the chosen
 * invalidation; on a ring IOMMU, the platform as it is (one core per device ring).
 */
export function nicIommuOptions(o: ResolvedNicOptions, maxHandles: number): IommuOptions {
  if (isRingIommu(o.platform)) {
    const ring: IommuOptions = { platform: o.platform, maxHandles, batchCapacity: 4096 };
    if (o.tableSize !== undefined) ring.tableSize = o.tableSize;
    return ring;
  }
  const core: IommuOptions = {
    platform: o.platform,
    allocator: o.allocator,
    flushPolicy: o.invalidation === "strict" ? "strict" : "flush-queue",
    cpus: o.cpus,
    cache: o.iotlb.entries === 0 ? { entries: 0, ways: 0 } : { ...o.iotlb },
    maxHandles,
    batchCapacity: 4096,
  };
  if (o.tableSize !== undefined) core.tableSize = o.tableSize;
  return core;
}
