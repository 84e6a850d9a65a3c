// ffsb-style block IO: sequential or random reads and writes of a given size and mix, a queue of
// outstanding requests, each request a scatter-gather list of pages mapped for DMA (map_sg on
// submission, unmap_sg on completion), a disk with a bandwidth and a positioning time. The
// throughput is what the disk or the CPU allows, whichever binds; CPU is reported on the study's
// scale. The CPU costs per request are assumptions (no measured ffsb table ships with the project).

import type { IommuOptions } from "../config.js";
import { ConfigError } from "../errors.js";
import type { Iommu } from "../types.js";
import { DEFAULT_PROFILE, type CostProfile } from "../sim/cost-profile.js";
import type { EnvironmentName, Party } from "../sim/environments.js";
import type { SimPlatform } from "../sim/simulation.js";
import { pairCycles, priceSgIo } from "./dma-price.js";

export interface FfsbOptions {
  pattern: "sequential" | "random";
  /** Share of reads, 0 … 1 (the rest are writes). */
  readFraction: number;
  /** Bytes per request (a multiple of 4096). */
  ioBytes: number;
  /** Requests outstanding. */
  queueDepth: number;
  disk: { bandwidthMBps: number; positioningUs: number };
  /** Cycles per request in the block layer and driver (submission and completion interrupt). */
  requestCycles: number;
}

export const FFSB_DEFAULTS: FfsbOptions = {
  pattern: "random",
  readFraction: 0.7,
  ioBytes: 64 * 1024,
  queueDepth: 8,
  disk: { bandwidthMBps: 80, positioningUs: 8000 },
  requestCycles: 30000,
};

export interface FfsbPoint {
  mbps: number;
  iops: number;
  cpu: number;
  bottleneck: "disk" | "cpu";
}

export interface FfsbResult {
  off: FfsbPoint;
  on: FfsbPoint;
}

export function checkFfsb(o: FfsbOptions): FfsbOptions {
  if (o.pattern !== "sequential" && o.pattern !== "random") throw new ConfigError("pattern", o.pattern, "sequential | random");
  if (!(o.readFraction >= 0 && o.readFraction <= 1)) throw new ConfigError("readFraction", o.readFraction, "a share from 0 to 1");
  if (!Number.isInteger(o.ioBytes) || o.ioBytes < 4096 || o.ioBytes % 4096 !== 0 || o.ioBytes > 16 << 20) throw new ConfigError("ioBytes", o.ioBytes, "a multiple of 4096 from 4096 to 16 MiB");
  if (!Number.isInteger(o.queueDepth) || o.queueDepth < 1 || o.queueDepth > 256) throw new ConfigError("queueDepth", o.queueDepth, "an integer from 1 to 256");
  if (!(o.disk.bandwidthMBps > 0 && o.disk.bandwidthMBps <= 1e5)) throw new ConfigError("disk.bandwidthMBps", o.disk.bandwidthMBps, "a bandwidth from 0 to 100000 MB/s");
  if (!(o.disk.positioningUs >= 0 && o.disk.positioningUs <= 1e6)) throw new ConfigError("disk.positioningUs", o.disk.positioningUs, "0 to 1e6 µs");
  if (!(o.requestCycles >= 0 && o.requestCycles <= 1e9)) throw new ConfigError("requestCycles", o.requestCycles, "0 to 1e9 cycles");
  return o;
}

function point(o: FfsbOptions, env: EnvironmentName, dmaPerIo: Partial<Record<Party, number>>, profile: CostProfile): FfsbPoint {
  const transferS = o.ioBytes / (o.disk.bandwidthMBps * 1e6);
  // sequential requests skip positioning; random ones overlap it across the queue (command queueing)
  const positionS = o.pattern === "random" ? o.disk.positioningUs * 1e-6 : 0;
  const diskIops = Math.min(o.queueDepth / (positionS + transferS), 1 / transferS);
  // writes and reads map the same way; the driver's CPU carries requests and DMA work, Xen its own
  const perIo: Record<number, number> = {};
  const cpuOf = (party: Party) => (env === "xen-domU" && party === "domU" ? 1 : 0);
  perIo[0] = o.requestCycles;
  for (const [party, c] of Object.entries(dmaPerIo) as Array<[Party, number]>) perIo[cpuOf(party)] = (perIo[cpuOf(party)] ?? 0) + c;
  if (env === "xen-domU") perIo[1] = (perIo[1] ?? 0) + o.requestCycles / 2; // blkfront's half of the request
  const busiest = Math.max(...Object.values(perIo));
  const cpuIops = profile.machine.clockHz / busiest;
  const iops = Math.min(diskIops, cpuIops);
  const cycles = Object.values(perIo).reduce((a, b) => a + b, 0) * iops;
  const cpu = env === "baremetal" ? (cycles / (profile.machine.cores * profile.machine.clockHz)) * 100 : (cycles / profile.machine.clockHz) * 100;
  return { mbps: (iops * o.ioBytes) / 1e6, iops, cpu, bottleneck: iops === diskIops ? "disk" : "cpu" };
}

/** One ffsb configuration with the IOMMU off (no IOMMU) and on (`platform` under `strategy`). */
export function ffsb(
  options: Partial<FfsbOptions>, platform: SimPlatform, env: EnvironmentName, strategy: string,
  makeIommu: (o: IommuOptions) => Iommu, profile: CostProfile = DEFAULT_PROFILE,
): FfsbResult {
  const given = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as Partial<FfsbOptions>;
  const o = checkFfsb({ ...FFSB_DEFAULTS, ...given, disk: { ...FFSB_DEFAULTS.disk, ...(given.disk ?? {}) } });
  const pages = o.ioBytes / 4096;
  const depth = Math.min(o.queueDepth, 16);
  const off = pairCycles(priceSgIo("none", env, "straightforward", pages, depth, makeIommu), profile.cycles);
  const on = pairCycles(priceSgIo(platform, env, strategy, pages, depth, makeIommu), profile.cycles);
  return { off: point(o, env, off, profile), on: point(o, env, on, profile) };
}
