// One run's configuration (workload, platform, strategy, environment and workload knobs), checked,
// and the grid a sweep expands into. Shared by the CLI, the serial sweep and the pool's workers.

import { parseSize } from "../config.js";
import { ConfigError } from "../errors.js";
import { parseStrategy } from "../sim/strategies.js";
import { checkFfsb, FFSB_DEFAULTS } from "../workloads/ffsb.js";
import { ENVIRONMENTS, type EnvironmentName } from "../sim/environments.js";
import { PLATFORMS, RIOMMU_RING_ONLY, type PlatformName } from "../platforms.js";
import { INVALIDATIONS, isRingIommu, LINK_GBPS, NIC_ROLES, NIC_TESTS, resolveNicOptions, type Invalidation, type LinkGbps, type NicOptions } from "../workloads/nic/options.js";

export const WORKLOADS = ["netperf", "ffsb", "nic"] as const;

export interface RunConfig {
  workload: (typeof WORKLOADS)[number];
  platform: PlatformName;
  strategy: string;
  environment: EnvironmentName;
  /** netperf */
  messageBytes: number;
  /** ffsb */
  pattern: "sequential" | "random";
  readFraction: number;
  ioBytes: number;
  queueDepth: number;
  /** nic: link speed (Gbit/s), queue pairs, CPUs, MTU, invalidation, netperf test, simulated end */
  link: LinkGbps;
  queues: number;
  cpus: number;
  mtu: number;
  invalidation: Invalidation;
  test: NicOptions["test"];
  role: NicOptions["role"];
  rxRecycling: NicOptions["rxRecycling"];
  rxBacklogBytes: number;
  iovaAllocator: NicOptions["allocator"];
  /** nic: IOTLB entries (4-way, or fully associative below 4; 0: none). */
  iotlbEntries: number;
}

/** Settings only one workload reads (the others are left at their defaults and not printed for it). */
export const WORKLOAD_KEYS: Record<RunConfig["workload"], Array<keyof RunConfig>> = {
  netperf: ["messageBytes"],
  ffsb: ["pattern", "readFraction", "ioBytes", "queueDepth"],
  nic: ["messageBytes", "link", "queues", "cpus", "mtu", "invalidation", "test", "role", "rxRecycling", "rxBacklogBytes", "iovaAllocator", "iotlbEntries"],
};

export const RUN_DEFAULTS: RunConfig = {
  workload: "netperf",
  platform: "calgary-pcix",
  strategy: "straightforward",
  environment: "baremetal",
  messageBytes: 65536,
  pattern: "random",
  readFraction: 0.7,
  ioBytes: 65536,
  queueDepth: 8,
  link: 10,
  queues: 4,
  cpus: 4,
  mtu: 1500,
  invalidation: "default",
  test: "stream",
  role: "sender",
  rxRecycling: "default",
  rxBacklogBytes: 87380,
  iovaAllocator: "iova",
  iotlbEntries: 64,
};

const SIZES = new Set<keyof RunConfig>(["messageBytes", "ioBytes", "rxBacklogBytes"]);
const NUMERIC = new Set<keyof RunConfig>([...SIZES, "readFraction", "queueDepth", "link", "queues", "cpus", "mtu", "iotlbEntries"]);
export const RUN_KEYS = Object.keys(RUN_DEFAULTS) as Array<keyof RunConfig>;

/**
 * A setting's value as given on the command line, in a grid or a config file: sizes take K / M
 * suffixes ("1k", "64K"), other numbers must read as numbers; errors say what was given.
 */
export function runValue(key: keyof RunConfig, v: unknown, field: string = key): unknown {
  if (typeof v !== "string" || !NUMERIC.has(key)) return v;
  if (SIZES.has(key)) return parseSize(field, v);
  // a link speed reads as Gbit/s: 10, 10G, 10GbE
  if (key === "link") {
    const m = /^\s*(\d+)\s*(?:G|Gb|GbE|Gbps)?\s*$/i.exec(v);
    if (!m) throw new ConfigError(field, v, `a link speed in Gbit/s: ${LINK_GBPS.join(", ")} (10G, 10GbE accepted)`);
    return Number(m[1]);
  }
  const n = v.trim() === "" ? NaN : Number(v);
  if (!Number.isFinite(n)) throw new ConfigError(field, v, "a number");
  return n;
}

/** Merges a JSON config (file) with flags (flags win) over the defaults, and checks every field. */
export function resolveRun(...layers: Array<Partial<Record<string, unknown>> | undefined>): RunConfig {
  // the nic workload models today's hardware: its platform, unless one is given, is VT-d
  const platformGiven = layers.some((l) => l?.platform !== undefined);
  const nic = layers.reduce<unknown>((w, l) => l?.workload ?? w, RUN_DEFAULTS.workload) === "nic";
  const merged: Record<string, unknown> = { ...RUN_DEFAULTS, ...(nic && !platformGiven ? { platform: "vtd" } : {}) };
  for (const layer of layers) {
    for (const [k, v] of Object.entries(layer ?? {})) {
      if (v === undefined) continue;
      if (!RUN_KEYS.includes(k as keyof RunConfig)) throw new ConfigError(k, v, `no such setting; known: ${RUN_KEYS.join(", ")}`);
      merged[k] = runValue(k as keyof RunConfig, v);
    }
  }
  const c = merged as unknown as RunConfig;
  if (!WORKLOADS.includes(c.workload)) throw new ConfigError("workload", c.workload, WORKLOADS.join(" | "));
  if (!PLATFORMS.includes(c.platform)) throw new ConfigError("platform", c.platform, PLATFORMS.join(", "));
  if (!ENVIRONMENTS.includes(c.environment)) throw new ConfigError("environment", c.environment, ENVIRONMENTS.join(", "));
  if (typeof c.strategy !== "string") throw new ConfigError("strategy", c.strategy, "a strategy name");
  if (!Number.isInteger(c.messageBytes) || c.messageBytes < 1 || c.messageBytes > 1 << 20) throw new ConfigError("messageBytes", c.messageBytes, "an integer from 1 to 1048576");
  // checked here, before any simulation, so a sweep refuses a bad grid value before its workers start
  parseStrategy(c.strategy, c.platform, c.environment);
  if (c.workload === "nic") {
    // the NIC workload is today's dma-iommu on bare metal: map per DMA, strict or lazy invalidation
    if (c.environment !== "baremetal") throw new ConfigError("environment", c.environment, "baremetal for the nic workload (it models today's Linux on the hardware)");
    if (c.strategy !== "straightforward") throw new ConfigError("strategy", c.strategy, "straightforward for the nic workload (dma-iommu maps per DMA; choose strict or lazy with invalidation)");
    nicOptionsOf(c);
  } else {
    // the NIC's settings mean nothing to the other workloads: refused rather than silently ignored
    for (const k of WORKLOAD_KEYS.nic) {
      if (k !== "messageBytes" && c[k] !== RUN_DEFAULTS[k]) throw new ConfigError(k, c[k], `left at its default (${RUN_DEFAULTS[k]}) for ${c.workload}: it is a setting of the nic workload`);
    }
  }
  if (c.workload === "ffsb") checkFfsb({ ...FFSB_DEFAULTS, pattern: c.pattern, readFraction: c.readFraction, ioBytes: c.ioBytes, queueDepth: c.queueDepth });
  // ffsb maps every IO as a scatter list, which the rIOMMU refuses: said here, not by a worker mid-sweep
  if (c.workload === "ffsb" && c.platform === "riommu") throw new ConfigError("platform", c.platform, `a platform with map_sg for the ffsb workload (${RIOMMU_RING_ONLY})`);
  return c;
}

/** The NIC workload's options for a run configuration (checked: errors name the run setting). */
export function nicOptionsOf(c: RunConfig): Partial<NicOptions> {
  const as: Array<[keyof RunConfig, keyof NicOptions, readonly unknown[]]> = [
    ["link", "linkGbps", LINK_GBPS], ["invalidation", "invalidation", INVALIDATIONS], ["test", "test", NIC_TESTS], ["role", "role", NIC_ROLES],
  ];
  for (const [k, , allowed] of as) if (!allowed.includes(c[k])) throw new ConfigError(k, c[k], `one of ${allowed.join(", ")}`);
  if (c.iovaAllocator !== "iova" && c.iovaAllocator !== "iova-tree") throw new ConfigError("iovaAllocator", c.iovaAllocator, "one of iova, iova-tree");
  const e = c.iotlbEntries;
  if (!Number.isInteger(e) || e < 0 || e > 65536 || (e & (e - 1)) !== 0) throw new ConfigError("iotlbEntries", e, "0 (no IOTLB) or a power of two up to 65536");
  const options: Partial<NicOptions> = {
    platform: c.platform, linkGbps: c.link, queues: c.queues, cpus: c.cpus, mtu: c.mtu, invalidation: c.invalidation,
    test: c.test, role: c.role, messageBytes: c.messageBytes, rxRecycling: c.rxRecycling, rxBacklogBytes: c.rxBacklogBytes,
    allocator: c.iovaAllocator,
    // the IOTLB setting left at its default means the platform's own (a ring IOMMU has its rIOTLB)
    iotlb: c.iotlbEntries === RUN_DEFAULTS.iotlbEntries && isRingIommu(c.platform) ? undefined : { entries: c.iotlbEntries, ways: Math.min(4, Math.max(1, c.iotlbEntries)) },
  };
  resolveNicOptions(options); // checked now, before any simulation
  return options;
}

/** `key=v1,v2,…` → the values, numbers where the key is numeric. */
export function parseGridArg(arg: string): [keyof RunConfig, Array<string | number>] {
  const eq = arg.indexOf("=");
  const key = arg.slice(0, eq) as keyof RunConfig;
  if (eq <= 0 || !RUN_KEYS.includes(key)) throw new ConfigError("--grid", arg, `KEY=V1,V2,… with KEY one of ${RUN_KEYS.join(", ")}`);
  const values = arg.slice(eq + 1).split(",").map((s) => s.trim()).filter(Boolean);
  if (values.length === 0) throw new ConfigError("--grid", arg, "at least one value after =");
  return [key, values.map((v) => runValue(key, v, `--grid ${key}`) as string | number)];
}

/** The cross product of the grid over a base configuration, in a fixed order (last key fastest). */
export function expandGrid(base: Partial<RunConfig>, grid: Array<[keyof RunConfig, Array<string | number>]>): RunConfig[] {
  let configs: Array<Partial<RunConfig>> = [{ ...base }];
  for (const [key, values] of grid) configs = configs.flatMap((c) => values.map((v) => ({ ...c, [key]: v })));
  return configs.map((c) => resolveRun(c));
}
