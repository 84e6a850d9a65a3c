// Option parsing shared by the commands: number and geometry parsers, readable-file checks, the
// package's shipped data, and the run settings that `run` and `sweep` both take.

import { accessSync, constants, readFileSync, statSync } from "node:fs";
import { availableParallelism } from "node:os";
import { dirname, resolve } from "node:path";
import { type Command, InvalidArgumentError, Option } from "commander";
import { ConfigError } from "../errors.js";
import { PLATFORMS } from "../platforms.js";
import { ENVIRONMENTS } from "../sim/environments.js";
import { STRATEGIES } from "../sim/strategies.js";
import { RUN_KEYS, runValue, type RunConfig } from "../sweep/config.js";
import { maxSweepThreads } from "../sweep/sweep.js";

export function wholeNumber(v: string): number {
  if (!/^\d+$/.test(v)) throw new InvalidArgumentError("expected a whole number");
  return Number(v);
}

export function cacheGeometry(v: string): { entries: number; ways: number } {
  const m = /^(\d+)(?:x(\d+))?$/.exec(v);
  if (!m) throw new InvalidArgumentError('expected ENTRIES or ENTRIESxWAYS, e.g. "64x4" or "0" for no cache');
  const entries = Number(m[1]);
  return { entries, ways: m[2] ? Number(m[2]) : entries === 0 ? 0 : Math.min(entries, 4) };
}

/** --threads: 1 … maxSweepThreads(), checked before any worker starts. */
export function threadCount(v: string): number {
  const cap = maxSweepThreads();
  if (!/^\d+$/.test(v) || Number(v) < 1 || Number(v) > cap) {
    throw new InvalidArgumentError(`expected a whole number from 1 to ${cap} (twice the ${availableParallelism()} CPUs here)`);
  }
  return Number(v);
}

export const PACKAGE_ROOT = new URL("../../", import.meta.url);
export const DEFAULT_MEASURED = new URL("data/seed-netperf.csv", PACKAGE_ROOT);
export const DEFAULT_CALIBRATION = new URL("profiles/netperf-calibrated.json", PACKAGE_ROOT);
export const HOLDOUT_CALIBRATION = new URL("profiles/netperf-holdout.json", PACKAGE_ROOT);
export const EXTRAPOLATION_CALIBRATION = new URL("profiles/netperf-extrapolation.json", PACKAGE_ROOT);
export const IOMMU_OFF_CALIBRATION = new URL("profiles/netperf-iommu-off.json", PACKAGE_ROOT);

export function readText(field: string, file: string | URL): string {
  try {
    return readFileSync(file, "utf8");
  } catch (e) {
    throw new ConfigError(field, String(file), `a readable file (${(e as Error).message})`);
  }
}

/**
 * A grid's axes (parsed `--grid KEY=…`, in the order given) name each key once: a second axis of
 * the same key would override the first in every configuration, running each twice under one label.
 */
export function checkDistinctAxes<K extends string>(grid: ReadonlyArray<readonly [K, readonly unknown[]]>): void {
  const seen = new Set<K>();
  for (const [key] of grid) {
    if (seen.has(key)) throw new ConfigError("--grid", key, "each key once: give all its values in one --grid KEY=V1,V2,…");
    seen.add(key);
  }
}

/**
 * Output files named by `field` (e.g. ["--csv", "out.csv"]) can be written: each into a writable
 * directory and not itself a directory. Checked before the run, so a typo costs no simulation.
 */
export function checkOutputs(...outputs: Array<[field: string, file: string | undefined]>): void {
  for (const [field, file] of outputs) {
    if (file === undefined) continue;
    try {
      if (statSync(file, { throwIfNoEntry: false })?.isDirectory()) throw new Error("it is a directory");
      accessSync(dirname(resolve(file)), constants.W_OK);
    } catch (e) {
      throw new ConfigError(field, file, `a file in an existing, writable directory (${(e as Error).message})`);
    }
  }
}

export interface RunFlags extends Partial<Record<keyof RunConfig, string>> {
  config?: string;
  json?: boolean;
}

/** Flags as RunConfig fields (numbers where numeric, sizes with their suffixes). */
export function runLayer(flags: RunFlags): Partial<Record<string, unknown>> {
  const layer: Record<string, unknown> = {};
  for (const k of RUN_KEYS) {
    const v = flags[k];
    if (v !== undefined) layer[k] = runValue(k, v, `--${k.replace(/[A-Z]/g, (c) => "-" + c.toLowerCase())}`);
  }
  return layer;
}

export function readConfig(file: string | undefined): Partial<Record<string, unknown>> | undefined {
  if (!file) return undefined;
  try {
    return JSON.parse(readText("--config", file)) as Record<string, unknown>;
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    throw new ConfigError("--config", file, `a JSON object of run settings (${(e as Error).message})`);
  }
}

export function addRunOptions(cmd: Command): Command {
  return cmd
    .option("--config <file>", "JSON file of run settings; flags override it")
    .addOption(new Option("--workload <w>", "netperf TCP_STREAM (2007, 1 GbE), ffsb-style block IO, or nic (today's multi-queue NIC)").choices(["netperf", "ffsb", "nic"]))
    .addOption(new Option("--platform <name>", "IOMMU and driver era").choices(PLATFORMS))
    .option("--strategy <s>", `mapping strategy (+deferred-flush|+strict-flush): ${STRATEGIES.join(", ")}`)
    .addOption(new Option("--environment <e>", "where it runs").choices(ENVIRONMENTS))
    .option("--message-bytes <size>", "netperf message size in bytes (1k, 64K … accepted)")
    .addOption(new Option("--pattern <p>", "ffsb access pattern").choices(["sequential", "random"]))
    .option("--read-fraction <share>", "ffsb share of reads, 0 … 1")
    .option("--io-bytes <size>", "ffsb request size in bytes, a multiple of 4096 (64K … accepted)")
    .option("--queue-depth <n>", "ffsb requests outstanding")
    .option("--link <gbps>", "nic link speed, Gbit/s: 10 (default), 25, 40, 100; also 1, 50, 200 (10G, 10GbE accepted)")
    .option("--queues <n>", "nic queue pairs (one flow each), 1 … 64")
    .option("--cpus <n>", "nic CPUs the queues and netperf run on, 1 … 64")
    .option("--mtu <bytes>", "nic MTU, 576 … 9000")
    .addOption(new Option("--invalidation <mode>", "nic IOTLB invalidation: strict (one per unmap), lazy (dma-iommu's flush queue: the flush-queue policy) or default (the platform kernel's: lazy on vtd / amd-vi, strict on smmuv3)").choices(["default", "strict", "lazy"]))
    .addOption(new Option("--test <t>", "nic netperf test: stream (TCP_STREAM) or rr (TCP_RR)").choices(["stream", "rr"]))
    .addOption(new Option("--role <r>", "nic stream: the simulated host sends the data or receives it").choices(["sender", "receiver"]))
    .addOption(new Option("--rx-recycling <how>", "nic RX buffers: page-pool (mlx5: pages stay mapped while they cycle), page-flip (ixgbe / i40e half pages), none (a buffer mapped per frame) hugepage-pool (pool pages from 2 MiB chunks mapped whole) or default (page-pool; none on a ring IOMMU)").choices(["default", "page-pool", "page-flip", "none", "hugepage-pool"]))
    .addOption(new Option("--iova-allocator <a>", "nic IOVA allocator: iova (per-CPU magazines, Linux ≥ 4.7) or iova-tree (the tree alone, every call under its lock)").choices(["iova", "iova-tree"]))
    .option("--iotlb-entries <n>", "nic IOTLB entries, 4-way: 0 (none) or a power of two (default 64)")
    .option("--rx-backlog-bytes <size>", "nic receiver: payload the socket holds before the reader copies it (87380; 4M … accepted)");
}
