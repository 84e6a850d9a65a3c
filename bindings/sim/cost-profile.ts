// CostProfile: the cycles each primitive costs, and the machine they run on. Named, versioned,
// JSON-serialisable and validated; the simulation multiplies counted primitives by these.

import { ConfigError } from "../errors.js";

export interface CostProfile {
  name: string;
  version: number;
  /** What the numbers rest on (measurement, fit, or assumption). */
  source: string;
  machine: { cores: number; clockHz: number };
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
  };
}

export const DEFAULT_PROFILE: CostProfile = {
  name: "assumed-2007-x86",
  version: 1,
  source:
    "Order-of-magnitude assumptions for a 2007 x86-64 server (8 CPUs at 3 GHz): uncached MMIO ~1 µs, " +
    "hypercall round trip ~1 µs, clflush ~100 cycles. Not fitted: calibration against the study's tables " +
    "comes with the reproduction (issue 4).",
  machine: { cores: 8, clockHz: 3.0e9 },
  cycles: {
    dmaApiEntry: 200,
    bitmapWordScan: 4,
    tceWrite: 20,
    tableCacheLineFlush: 100,
    mmioRead: 3000,
    mmioWrite: 600,
    flushWaitPoll: 3000,
    hypercallEntry: 1500,
    hypercallExit: 1500,
    hypervisorValidate: 400,
    multicallPerEntry: 300,
    grantOp: 1200,
    grantIssue: 150,
    mappingCacheLookup: 60,
    copyPerByte: 0.5,
  },
};

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
  for (const k of Object.keys(c)) {
    if (!CYCLE_KEYS.includes(k as keyof CostProfile["cycles"])) throw new ConfigError(`${where}.cycles.${k}`, c[k], `no such primitive; known: ${CYCLE_KEYS.join(", ")}`);
  }
  return o as CostProfile;
}
