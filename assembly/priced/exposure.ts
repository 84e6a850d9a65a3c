// === Exposure: what the device can still reach that the driver has released ===
// Kept incrementally (each strategy adjusts its own gauge when it parks, pools, queues or keeps
// pages; the cache keeps its stale-line count), so the end of an operation is a few adds:
// no structure is rescanned per operation.

import { stats } from "../counters";
import { cacheStaleCount } from "../cache";

/** Pages of parked mappings not in use (cached). */
export let parkedIdlePages: f64 = 0;
/** Pages of pooled buffers not in use (persistent). */
export let pooledIdlePages: f64 = 0;
/** Pages whose unmap waits in a batch (batched). */
export let pendingPages: f64 = 0;
/** IO pages unmapped whose entries stay valid (never-free). */
export let keptPages: f64 = 0;
/** Whether the core's table is in use (false: no IOMMU, or preallocated's identity map). */
let coreInUse: bool = true;
let intervalNs: f64 = 0;

export let clock: f64 = 0;
export let exposedPeak: f64 = 0;
export let exposedIntegral: f64 = 0;
export let ioPeak: f64 = 0;
export let ioIntegral: f64 = 0;
/** Device DMAs to released buffers that reached memory, or were stopped. */
export let reached: f64 = 0;
export let blocked: f64 = 0;

export function exposureInit(interval: f64, core: bool): void {
  intervalNs = interval;
  coreInUse = core;
  parkedIdlePages = 0;
  pooledIdlePages = 0;
  pendingPages = 0;
  keptPages = 0;
  clock = 0;
  exposedPeak = 0;
  exposedIntegral = 0;
  ioPeak = 0;
  ioIntegral = 0;
  reached = 0;
  blocked = 0;
}

// @ts-ignore: decorator
@inline export function parkedChange(pages: f64): void {
  parkedIdlePages += pages;
}
// @ts-ignore: decorator
@inline export function pooledChange(pages: f64): void {
  pooledIdlePages += pages;
}
// @ts-ignore: decorator
@inline export function pendingChange(pages: f64): void {
  pendingPages += pages;
}
// @ts-ignore: decorator
@inline export function keptChange(pages: f64): void {
  keptPages += pages;
}

/** A device access to a released buffer: `stopped` when the IOMMU faulted it. */
// @ts-ignore: decorator
@inline export function lateAccess(stopped: bool): void {
  if (stopped) blocked += 1;
  else reached += 1;
}

/** End of an operation: advance simulated time and integrate exposure and IO-space use. */
// @ts-ignore: decorator
@inline export function tick(): void {
  let exposed = (coreInUse ? <f64>cacheStaleCount() : 0) + parkedIdlePages + pooledIdlePages + pendingPages + keptPages;
  let io: f64 = coreInUse ? <f64>stats.pagesInUse : 0;
  if (exposed > exposedPeak) exposedPeak = exposed;
  if (io > ioPeak) ioPeak = io;
  exposedIntegral += exposed * intervalNs;
  ioIntegral += io * intervalNs;
  clock += intervalNs;
}
