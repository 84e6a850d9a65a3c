// Evaluates one RunConfig (Node: loads the WASM core and the shipped calibration). Used by the
// serial sweep, the pool's workers and the `run` command alike, so their results are identical.

import { readFileSync } from "node:fs";
import type { IommuOptions } from "../config.js";
import { createIommu } from "../node.js";
import type { Iommu } from "../types.js";
import { WasmIommu } from "../wasm-iommu.js";
import { validateProfile } from "../sim/cost-profile.js";
import { priceRing, type PairCounts, type RingExposure } from "../workloads/dma-price.js";
import { ffsb } from "../workloads/ffsb.js";
import { simulateRow, type Calibration, type DmaCounts } from "../workloads/reproduction.js";
import { simulateNicWith, type NicResult } from "../workloads/nic.js";
import { nicOptionsOf, type RunConfig } from "./config.js";

let calibration: Calibration | undefined;

/**
 * The cores this thread prices with, one per configuration, reset between runs: a sweep prices
 * thousands of runs, and a new instance (and its memory) each time would cost more than the run,
 * and serialise the pool's threads on the process's memory mappings.
 */
const cores = new Map<string, WasmIommu>();
function pooledIommu(o: IommuOptions): Iommu {
  const key = JSON.stringify(o);
  const io = cores.get(key);
  if (io) {
    io.reset();
    return io;
  }
  const made = createIommu(o);
  if (made instanceof WasmIommu) cores.set(key, made);
  return made;
}
const priced = new Map<string, { counts: PairCounts; exposure: RingExposure }>();

function shippedCalibration(): Calibration {
  if (!calibration) {
    calibration = JSON.parse(readFileSync(new URL("../../profiles/netperf-calibrated.json", import.meta.url), "utf8")) as Calibration;
    validateProfile(calibration.costProfile);
  }
  return calibration;
}

function ring(platform: "none" | RunConfig["platform"], env: RunConfig["environment"], strategy: string) {
  const key = `${platform}|${env}|${strategy}`;
  let p = priced.get(key);
  if (!p) {
    p = priceRing(platform, env, strategy, pooledIommu);
    priced.set(key, p);
  }
  return p;
}

export interface RunResult {
  offMbps: number;
  offCpu: number;
  onMbps: number;
  onCpu: number;
  /** ffsb only */
  offIops?: number;
  onIops?: number;
  bottleneckOn: string;
  releasedButLivePeak: number;
  lateDmaReachedPct: number;
  /** nic only: what the table's columns summarise. */
  nic?: NicRunDetails;
}

export interface NicRunDetails {
  throughputGbps: number;
  transactionsPerSecond: number;
  cpuUtilisation: number[];
  cyclesPerPacket: NicResult["cyclesPerPacket"];
  baseline: { throughputGbps: number; transactionsPerSecond: number; cpuUtilisation: number[]; cyclesPerPacket: NicResult["cyclesPerPacket"]; bottleneck: string };
  iommu: NicResult["iommu"];
  exposure: NicResult["exposure"];
  /** The invalidation run (the platform kernel's default resolved) and the price set's name. */
  invalidation: "strict" | "lazy" | "end-of-burst";
  /** The RX recycling run (the platform's default resolved). */
  rxRecycling: string;
  prices: string;
}

/** The NIC workload's result in the run table's terms: Mbit/s, CPU out of 100 for the modelled CPUs. */
function nicRun(c: RunConfig): RunResult {
  // fresh cores, not the pool: a NIC run's handle count varies with its settings, and pooling a core
  // per count would keep tens of MiB per configuration alive for the sweep's life
  const r = simulateNicWith(createIommu, nicOptionsOf(c));
  const cpu = (u: number[]) => (100 * u.reduce((a, b) => a + b, 0)) / u.length;
  const b = r.baseline;
  return {
    offMbps: b.throughputGbps * 1000, offCpu: cpu(b.cpuUtilisation), onMbps: r.throughputGbps * 1000, onCpu: cpu(r.cpuUtilisation),
    bottleneckOn: r.bottleneck, releasedButLivePeak: r.exposure.staleIotlbLinesPeak, lateDmaReachedPct: r.exposure.lateDmaReachedPct,
    nic: {
      throughputGbps: r.throughputGbps, transactionsPerSecond: r.transactionsPerSecond, cpuUtilisation: r.cpuUtilisation, cyclesPerPacket: r.cyclesPerPacket,
      baseline: { throughputGbps: b.throughputGbps, transactionsPerSecond: b.transactionsPerSecond, cpuUtilisation: b.cpuUtilisation, cyclesPerPacket: b.cyclesPerPacket, bottleneck: b.bottleneck },
      iommu: r.iommu, exposure: r.exposure, invalidation: r.options.invalidation, rxRecycling: r.options.rxRecycling, prices: r.prices.name,
    },
  };
}

export function evaluate(c: RunConfig): RunResult {
  if (c.workload === "nic") return nicRun(c);
  const exposure = ring(c.platform, c.environment, c.strategy).exposure;
  if (c.workload === "netperf") {
    const cal = shippedCalibration();
    const counts: DmaCounts = { off: ring("none", c.environment, "straightforward").counts, on: ring(c.platform, c.environment, c.strategy).counts };
    if (c.environment === "xen-domU") {
      // dom0's own buffers (the header copy, the ACK's RX buffer), as dmaCounts prices them
      counts.offLocal = ring("none", "xen-dom0", "straightforward").counts;
      counts.onLocal = ring(c.platform, "xen-dom0", c.strategy === "grant-table" ? "straightforward" : c.strategy).counts;
    }
    const r = simulateRow(c.environment, c.messageBytes, cal.environments[c.environment].params, counts, cal.costProfile);
    return { offMbps: r.offMbps, offCpu: r.offCpu, onMbps: r.onMbps, onCpu: r.onCpu, bottleneckOn: r.on.bottleneck, releasedButLivePeak: exposure.releasedButLivePeak, lateDmaReachedPct: exposure.lateDmaReachedPct };
  }
  const r = ffsb({ pattern: c.pattern, readFraction: c.readFraction, ioBytes: c.ioBytes, queueDepth: c.queueDepth }, c.platform, c.environment, c.strategy, pooledIommu);
  return { offMbps: r.off.mbps * 8, offCpu: r.off.cpu, onMbps: r.on.mbps * 8, onCpu: r.on.cpu, offIops: r.off.iops, onIops: r.on.iops, bottleneckOn: r.on.bottleneck, releasedButLivePeak: exposure.releasedButLivePeak, lateDmaReachedPct: exposure.lateDmaReachedPct };
}
