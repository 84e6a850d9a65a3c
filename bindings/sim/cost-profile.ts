// CostProfile: the cycles each primitive costs, and the machine they run on. Named, versioned,
// JSON-serialisable and validated; the simulation multiplies counted primitives by these.

import { ConfigError } from "../errors.js";

export interface CostProfile {
  name: string;
  version: number;
  /** What the numbers rest on (measurement, fit, or assumption). */
  source: string;
  machine: { cores: number; clockHz: number };
  /** Per primitive: its unit, a plausible range and what the price rests on (optional; not used in pricing). */
  notes?: Partial<Record<keyof CostProfile["cycles"], PriceNote>>;
  cycles: {
    /** Entering and leaving one DMA-API call (dma_map_single & co.), argument checks, locking. */
    dmaApiEntry: number;
    /** One 64-bit word of the allocator bitmap examined. */
    bitmapWordScan: number;
    /** One table entry written (the store itself). */
    tceWrite: number;
    /** One CPU cache-line flush of the table (clflush on x86, dcbf on PowerPC). */
    tableCacheLineFlush: number;
    /** One uncached read / write of an IOMMU register. */
    mmioRead: number;
    mmioWrite: number;
    /** One poll of Calgary's split-queue register while waiting for DMA in flight to drain. */
    flushWaitPoll: number;
    /** Trap into the hypervisor and back. */
    hypercallEntry: number;
    hypercallExit: number;
    /** Hypervisor checks of one TCE request (ownership, translation of the guest frame). */
    hypervisorValidate: number;
    /** One entry of a multicall: copy in, dispatch, result copy out. */
    multicallPerEntry: number;
    /** One grant operation in the hypervisor (map or unmap of a granted page). */
    grantOp: number;
    /** The front-end's side of a grant (writing the grant entry). */
    grantIssue: number;
    /** Looking up the DMA-API mapping cache (cached strategy). */
    mappingCacheLookup: number;
    /** Copying one byte into a persistent DMA buffer (persistent strategy). */
    copyPerByte: number;
    /** One page-table page allocated and zeroed (VT-d, AMD-Vi, SMMUv3: a missing table on a map). */
    ptPageAlloc: number;
    /** Writing one 16-byte command into a queued invalidation interface's ring (VT-d, AMD-Vi, SMMUv3). */
    invDescriptorWrite: number;
    /** Waiting for one queued invalidation to complete: the IOMMU's work and the CPU's spin on the status word. */
    invWait: number;
    /** One CPU memory barrier ordering the commands before the doorbell (SMMUv3's dma_wmb). */
    memoryBarrier: number;
  };
}

export interface PriceNote {
  unit: string;
  range: [number, number];
  basis: string;
}

export const DEFAULT_PROFILE: CostProfile = {
  name: "hardware-2007-x86",
  version: 2,
  source:
    "One set of hardware and hypervisor prices for a 2007 x86-64 server (8 CPUs at 3 GHz), the same in every " +
    "environment. Hypercall entry + exit ~1000 cycles (0.33 µs): a trap of the kind lmbench's lat_syscall times at " +
    "0.33 µs native and 0.55 µs when bounced through a dedicated Xen trap handler (Xen changeset 'Implement faster " +
    "int 0x80 handling for compat mode guests', I. Campbell, XenSource). A TCE store and its cache-line flush: one " +
    "memory access each (the bridge has fetched the line); a Calgary map + unmap comes to ~1900 cycles with the " +
    "DMA-API entry, below the 2316 software + 4593 hardware cycles measured for a strict map + unmap on Intel VT-d " +
    "(Amit, Ben-Yehuda, Tsafrir, Schuster: vIOMMU, USENIX ATC 2011), which also invalidates the IOTLB per unmap. " +
    "Per-primitive units, plausible ranges and sources: PRICE_NOTES in bindings/sim/cost-profile.ts and the README.",
  machine: { cores: 8, clockHz: 3.0e9 },
  cycles: {
    dmaApiEntry: 200,
    bitmapWordScan: 4,
    tceWrite: 350,
    tableCacheLineFlush: 400,
    mmioRead: 3000,
    mmioWrite: 600,
    flushWaitPoll: 3000,
    hypercallEntry: 500,
    hypercallExit: 500,
    hypervisorValidate: 300,
    multicallPerEntry: 300,
    grantOp: 1200,
    grantIssue: 150,
    mappingCacheLookup: 60,
    copyPerByte: 0.5,
    ptPageAlloc: 1000,
    invDescriptorWrite: 20,
    invWait: 2000,
    memoryBarrier: 40,
  },
};

/** Unit, plausible range and basis of each price: the README's price table is this. */
export const PRICE_NOTES: Record<keyof CostProfile["cycles"], PriceNote> = {
  dmaApiEntry: { unit: "cycles/call", range: [100, 600], basis: "function call, argument checks, spin_lock_irqsave/restore of the table lock (uncontended)" },
  bitmapWordScan: { unit: "cycles/word", range: [1, 20], basis: "one cached 64-bit word tested by find_next_zero_bit" },
  tceWrite: { unit: "cycles/entry", range: [20, 500], basis: "a store to a table line the bridge has fetched: a miss to memory" },
  tableCacheLineFlush: { unit: "cycles/line", range: [100, 600], basis: "clflush of the dirty table line, written back to memory" },
  mmioRead: { unit: "cycles/read", range: [1000, 6000], basis: "uncached read across the PCI-X/HyperTransport bridge, ~1 µs" },
  mmioWrite: { unit: "cycles/write", range: [200, 2000], basis: "posted uncached write" },
  flushWaitPoll: { unit: "cycles/poll", range: [1000, 6000], basis: "one uncached read of Calgary's split-queue register" },
  hypercallEntry: { unit: "cycles/trap", range: [300, 1500], basis: "half a trap round trip; lmbench lat_syscall 0.33 µs native, 0.55 µs through a Xen trap handler" },
  hypercallExit: { unit: "cycles/trap", range: [300, 1500], basis: "the other half (return to the guest)" },
  hypervisorValidate: { unit: "cycles/entry", range: [100, 1000], basis: "Xen checks the frame is the caller's (p2m lookup, page reference)" },
  multicallPerEntry: { unit: "cycles/entry", range: [100, 600], basis: "copy an entry in, dispatch, copy the result out" },
  grantOp: { unit: "cycles/op", range: [500, 5000], basis: "grant map/unmap or copy set-up in Xen: table lookup, reference counts, a page-table update" },
  grantIssue: { unit: "cycles/grant", range: [50, 500], basis: "netfront writes one grant entry" },
  mappingCacheLookup: { unit: "cycles/lookup", range: [20, 200], basis: "a hash lookup in the DMA mapping cache" },
  copyPerByte: { unit: "cycles/byte", range: [0.2, 2], basis: "memcpy of cached data" },
  ptPageAlloc: { unit: "cycles/page", range: [300, 3000], basis: "iommu_alloc_pages: an order-0 buddy allocation (~300 cycles) and clearing the 4 KiB page (64 lines, clear_page); an assumption, to be replaced by a measured price" },
  invDescriptorWrite: {
    unit: "cycles/descriptor", range: [10, 100],
    basis: "estimate: two 64-bit stores into the invalidation ring, a cache-resident write-back line the IOMMU reads coherently",
  },
  invWait: {
    unit: "cycles/wait", range: [500, 6000],
    basis: "estimate: the IOMMU fetches the queue, invalidates, stores the completion; the CPU spins on it. Most of the 4593 hardware cycles vIOMMU (ATC 2011) measured for a strict VT-d map + unmap",
  },
  memoryBarrier: { unit: "cycles/barrier", range: [10, 200], basis: "estimate: a store barrier (dma_wmb, DSB ST on arm64) draining the store buffer" },
};

// the profile carries its notes, so a calibration file says what each price is and rests on
DEFAULT_PROFILE.notes = PRICE_NOTES;

const CYCLE_KEYS = Object.keys(DEFAULT_PROFILE.cycles) as Array<keyof CostProfile["cycles"]>;

/** Checks a profile (e.g. parsed from JSON); every problem names its field. */
export function validateProfile(p: unknown, where = "profile"): CostProfile {
  const o = p as Partial<CostProfile> | null;
  if (o === null || typeof o !== "object") throw new ConfigError(where, p, "a JSON object with name, version, source, machine, cycles");
  if (typeof o.name !== "string" || o.name === "") throw new ConfigError(`${where}.name`, o.name, "a non-empty string");
  if (!Number.isInteger(o.version) || (o.version as number) < 1) throw new ConfigError(`${where}.version`, o.version, "an integer ≥ 1");
  if (typeof o.source !== "string") throw new ConfigError(`${where}.source`, o.source, "a string saying where the numbers come from");
  const m = o.machine;
  if (m === null || typeof m !== "object") throw new ConfigError(`${where}.machine`, m, "{ cores, clockHz }");
  if (!Number.isInteger(m.cores) || m.cores < 1 || m.cores > 4096) throw new ConfigError(`${where}.machine.cores`, m.cores, "an integer from 1 to 4096");
  if (typeof m.clockHz !== "number" || !(m.clockHz >= 1e6 && m.clockHz <= 1e11)) throw new ConfigError(`${where}.machine.clockHz`, m.clockHz, "a clock from 1e6 to 1e11 Hz");
  const c = o.cycles as Record<string, unknown> | undefined;
  if (c === null || typeof c !== "object") throw new ConfigError(`${where}.cycles`, c, `an object with ${CYCLE_KEYS.join(", ")}`);
  for (const k of CYCLE_KEYS) {
    const v = c[k];
    if (typeof v !== "number" || !Number.isFinite(v) || v < 0 || v > 1e9) throw new ConfigError(`${where}.cycles.${k}`, v, "a number of cycles from 0 to 1e9");
  }
  if (o.notes !== undefined) {
    const n = o.notes as Record<string, unknown> | null;
    if (n === null || typeof n !== "object" || Array.isArray(n)) throw new ConfigError(`${where}.notes`, n, "an object of { unit, range, basis } by primitive");
    for (const [k, v] of Object.entries(n)) {
      if (!CYCLE_KEYS.includes(k as keyof CostProfile["cycles"])) throw new ConfigError(`${where}.notes.${k}`, v, `no such primitive; known: ${CYCLE_KEYS.join(", ")}`);
      const note = v as Partial<PriceNote> | null;
      const range = note?.range;
      if (note === null || typeof note !== "object" || typeof note.unit !== "string" || typeof note.basis !== "string" ||
        !Array.isArray(range) || range.length !== 2 || !range.every((x) => typeof x === "number" && Number.isFinite(x)) || range[0] > range[1]) {
        throw new ConfigError(`${where}.notes.${k}`, JSON.stringify(v), "{ unit: string, range: [low, high], basis: string }");
      }
    }
  }
  for (const k of Object.keys(c)) {
    if (!CYCLE_KEYS.includes(k as keyof CostProfile["cycles"])) throw new ConfigError(`${where}.cycles.${k}`, c[k], `no such primitive; known: ${CYCLE_KEYS.join(", ")}`);
  }
  return o as CostProfile;
}
