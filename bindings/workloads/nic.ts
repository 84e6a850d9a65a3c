// The modern NIC workload: netperf TCP_STREAM / TCP_RR over a multi-queue 10–100 GbE NIC, its
// DMA-API calls run through the core (nic/trace.ts → nic/drive.ts), priced and turned into
// throughput and CPU per core here.
//
// Throughput is the tightest of these bounds, solved as a fixed point (contention grows with rate):
//   - the link: line rate × payload / wire bytes (headers, FCS, preamble, gap);
//   - the busiest CPU: stack cycles (prices.ts) + the IOMMU's cycles — the core's counts (DMA
//     calls, page-table entries written, IOTLB invalidations, IOVA tree nodes visited, tree
//     allocations and frees) × prices — + the time spinning on the two global resources below;
//   - the IOVA tree lock (iova_rbtree_lock), taken only when a CPU's magazines miss: the tree
//     allocations and frees the core counted, each holding the lock for its tree walk; its wait
//     is M/D/1 with the other CPUs' arrivals, and its rate cannot exceed 1 / hold time;
//   - the IOMMU's invalidation queue: every IOTLB invalidation (strict: one per unmap; lazy: one
//     per flush-queue flush) posts and waits with the queue serialised across CPUs;
//   - the IOTLB's page walks: each miss the core counted (device accesses to pages the IOTLB does
//     not hold) occupies one of the IOMMU's walkers for its walk — the memory reads the core's
//     radix walk made × walkReadNs where the platform counts them (multi-level tables with their
//     walk cache), else iotlbMissNs a miss — so walk time per second ≤ walkers; beyond that the
//     device's DMA stalls and the line cannot be filled;
//   - TCP_RR: one transaction outstanding per flow, so a flow's rate is 1 / its round trip: the
//     base latency + both hosts' CPU time for it (the peer assumed to cost what this host does) +
//     the IOTLB misses' walk time on both ends.

import type { Stats } from "../abi.js";
import type { IommuOptions } from "../config.js";
import type { Iommu } from "../types.js";
import { driveNic, type NicCoreRun } from "./nic/drive.js";
import { isRingIommu, nicIommuOptions, resolveNicOptions, type NicOptions, type ResolvedNicOptions } from "./nic/options.js";
import { nicPrices, type NicPrices, type NicProfile } from "./nic/prices.js";
import {
  generateNicTrace, groMaxOf, mssOf, NAPI_BUDGET, WIRE_OVERHEAD, type NicShape, type NicTally,
} from "./nic/trace.js";

export type Bottleneck = "link" | "cpu" | "iova-lock" | "invalidation-queue" | "iotlb-walks" | "round-trip";

export interface NicPoint {
  throughputGbps: number;
  /** TCP_RR only (else 0): transactions per second over all flows. */
  transactionsPerSecond: number;
  bottleneck: Bottleneck;
  /** Per CPU, 0 … 1 (CPUs with no queue are idle). */
  cpuUtilisation: number[];
  busiestCpu: number;
  /** Cycles per data frame on the wire, in all and by whom. */
  cyclesPerPacket: { total: number; stack: number; iommu: number; lockWait: number };
}

export interface NicIommuCounts {
  /** Over the measured window. */
  dmaMaps: number;
  dmaUnmaps: number;
  pagesMapped: number;
  pagesUnmapped: number;
  pageTableWrites: number;
  iotlbInvalidations: number;
  flushQueueTimerFlushes: number;
  magazineHits: number;
  iovaTreeAllocs: number;
  iovaTreeFrees: number;
  iovaNodesVisited: number;
  /** iova_rbtree_lock acquisitions (tree allocations + frees: magazine misses), and the wait per acquisition. */
  globalLockAcquisitions: number;
  lockWaitCycles: number;
  deviceAccesses: number;
  iotlbHits: number;
  iotlbMisses: number;
  /** Memory reads the misses' page walks made (platforms with radix tables and a walk cache; else 0). */
  walkReads: number;
  /** Device accesses through a translation already unmapped: a correct driver makes none. */
  staleDeviceHits: number;
  /** RX pages the refill took from the pool (mapping kept), mapped anew, and unmapped from a full pool. */
  rxPagesRecycled: number;
  rxPagesMapped: number;
  rxPagesUnmapped: number;
  rxRecycleRatio: number;
  dataFrames: number;
  /** Per data frame. */
  perPacket: { dmaCalls: number; iotlbInvalidations: number; iotlbMisses: number; globalLockAcquisitions: number };
}

export interface NicExposure {
  /** IOTLB lines still translating unmapped pages (stale: the device could still reach them). */
  staleIotlbLinesPeak: number;
  staleIotlbLinesMean: number;
  /** Unmapped pages waiting in flush queues for the invalidation that retires them. */
  pagesAwaitingFlushPeak: number;
  pagesAwaitingFlushMean: number;
  /** Mean time an unmapped page stays reachable (Little's law over the flush queues), µs. */
  staleWindowUs: number;
  /** A device DMA to each TX header right after NAPI unmapped it: the share that still reached memory, %. */
  lateDmaReachedPct: number;
}

export interface NicResult extends NicPoint {
  options: ResolvedNicOptions;
  prices: NicPrices;
  /** The same work with no IOMMU (dma-direct). */
  baseline: NicPoint;
  iommu: NicIommuCounts;
  exposure: NicExposure;
  /** Operating point the call sequence was generated for (per queue). */
  shape: NicShape;
}

const STREAM_BYTES_PER_POLL_MAX = 256 * 1024;

/** How a poll looks at `rate` (per queue: payload bytes/s for a stream, transactions/s for rr). */
export function shapeAt(o: ResolvedNicOptions, rate: number): NicShape {
  const mss = mssOf(o.mtu);
  const coalesce = o.coalesceUs * 1e-6;
  if (o.test === "rr") return { unitsPerPoll: 1, acksPerPacket: 0, roundSeconds: 1 / rate };
  const framesPerSecond = rate / mss;
  const peerFramesPerPoll = Math.min(NAPI_BUDGET, Math.max(1, framesPerSecond * coalesce));
  // the peer ACKs each GRO skb, and at least every second full frame (delayed ACK)
  const acksPerPacket = 1 / Math.max(2, Math.min(groMaxOf(mss), peerFramesPerPoll));
  if (o.role === "sender") {
    const sends = Math.max(1, Math.round(Math.min(rate * coalesce, STREAM_BYTES_PER_POLL_MAX) / o.messageBytes));
    return { unitsPerPoll: sends, acksPerPacket, roundSeconds: (sends * o.messageBytes) / rate };
  }
  const frames = Math.max(1, Math.min(NAPI_BUDGET, Math.round(framesPerSecond * coalesce)));
  return { unitsPerPoll: frames, acksPerPacket, roundSeconds: frames / framesPerSecond };
}

interface Work {
  stack: number;
  /** IOMMU cycles before contention; 0 with no IOMMU. */
  iommu: number;
  /** Global resources: acquisitions per window and hold (cycles). */
  treeLock: { acquisitions: number; hold: number };
  invalidations: { acquisitions: number; hold: number };
  /** Seconds of page walking (IOTLB misses) per window, summed over walks. */
  walkSeconds: number;
  wireBytes: number;
  payloadBytes: number;
  dataFrames: number;
  transactions: number;
}

function stackCycles(o: ResolvedNicOptions, p: NicPrices, w: NicTally): number {
  const s = p.stack;
  // a stream receiver's ACK is built inside TCP's receive (rxSkb); only its completion is extra
  const txSkb = o.test === "stream" && o.role === "receiver" ? 0 : s.txSkb;
  return (w.sends + w.recvs) * s.syscall + w.payloadBytes * s.copyPerByte + w.txSkbs * (txSkb + s.txCompletion) +
    w.rxFrames * s.rxFrame + w.rxSkbs * s.rxSkb + w.polls * s.interrupt + w.rxPagesMapped * s.pageAlloc;
}

/** The window's work, with the core's counts (IOMMU on) or without an IOMMU (run null: dma-direct). */
function work(o: ResolvedNicOptions, p: NicPrices, w: NicTally, run: NicCoreRun | null): Work {
  const wire = o.test === "rr" ? (w.payloadBytes + w.dataFrames * WIRE_OVERHEAD) / 2 : w.payloadBytes + w.dataFrames * WIRE_OVERHEAD;
  const base = { wireBytes: wire, payloadBytes: w.payloadBytes, dataFrames: w.dataFrames, transactions: w.transactions };
  if (run === null) {
    const calls = w.txMaps + w.txUnmaps + w.rxPagesMapped + w.rxPagesUnmapped;
    return { ...base, stack: stackCycles(o, p, w) + calls * p.stack.dmaDirect, iommu: 0, treeLock: { acquisitions: 0, hold: 0 }, invalidations: { acquisitions: 0, hold: 0 }, walkSeconds: 0 };
  }
  const c = run.stats;
  const calls = c.maps + c.unmaps + c.mapSgs + c.unmapSgs + c.allocs + c.frees;
  const { treeAllocs, treeFrees } = treeWork(o, run);
  const treeOps = treeAllocs + treeFrees;
  const active = Math.min(o.cpus, o.queues);
  const i = p.iommu;
  // a ring IOMMU's end-of-burst invalidation is a register write and read of its own ring, no queue
  const ring = isRingIommu(o.platform);
  const inv = invalidationWork(c, p, ring);
  const invalidations = inv.syncs;
  const lazyQueued = o.invalidation === "lazy" ? c.unmaps + c.unmapSgs : 0;
  const lineMoves = active > 1 ? i.lockLineTransfer * (active - 1) / active : 0;
  const treeHold = treeOps > 0 ? i.lock + (c.nodesVisited / treeOps) * i.iovaNodeVisit : 0;
  return {
    ...base,
    stack: stackCycles(o, p, w),
    iommu: calls * i.dmaApiEntry + pteWrites(c) * i.pageTableWrite + inv.cycles +
      c.nodesVisited * i.iovaNodeVisit + treeOps * (i.lock + lineMoves) + lazyQueued * i.flushQueueEntry,
    treeLock: { acquisitions: treeOps, hold: treeHold + lineMoves },
    // per-ring registers: nothing shared to queue on
    invalidations: ring || invalidations === 0 ? { acquisitions: 0, hold: 0 } : { acquisitions: invalidations, hold: inv.cycles / invalidations },
    walkSeconds: walkSeconds(c, p),
  };
}

/**
 * IOVA tree allocations (ranges the magazines did not supply) and frees (from the tree's growth);
 * none on a ring IOMMU, whose ring allocator takes the ring's tail under no shared lock.
 */
function treeWork(o: ResolvedNicOptions, run: NicCoreRun): { treeAllocs: number; treeFrees: number } {
  if (isRingIommu(o.platform)) return { treeAllocs: 0, treeFrees: 0 };
  const c = run.stats;
  const treeAllocs = Math.max(0, c.rangesAllocated - c.rcacheHits);
  return { treeAllocs, treeFrees: Math.max(0, treeAllocs - run.treeNodesGrowth) };
}

/**
 * The window's IOTLB invalidations: how many times a CPU synchronised with the IOMMU (each one a
 * turn on its invalidation queue) and the cycles they cost. Where the core models the queued
 * interface (VT-d's invalidation queue, AMD-Vi's command buffer, SMMUv3's command queue) it counts
 * what was written and waited for: descriptors, doorbells, waits, barriers. Elsewhere each flush
 * or entry invalidation is one post and one wait.
 */
function invalidationWork(c: Stats, p: NicPrices, ring: boolean): { syncs: number; cycles: number } {
  const i = p.iommu;
  const waits = counter(c, "invWaits");
  if (waits > 0) {
    const cycles = counter(c, "invDescriptors") * i.invDescriptorWrite + counter(c, "invDoorbells") * i.invDoorbell +
      waits * i.invalidationWait + counter(c, "invBarriers") * i.memoryBarrier;
    return { syncs: waits, cycles };
  }
  const n = c.flushes + c.entryInvalidations;
  return { syncs: n, cycles: n * (ring ? i.ringInvalidation : i.iotlbInvalidation + i.invalidationWait) };
}

/** Counters only some platforms have (multi-level page tables): absent or 0 elsewhere. */
const counter = (c: Stats, name: string): number => (c as unknown as Partial<Record<string, number>>)[name] ?? 0;

/** PTEs written: the radix tables' own count where the platform keeps one, else one per page mapped or cleared. */
const pteWrites = (c: Stats) => counter(c, "ptWrites") || c.tceWrites;

/** Device time the window's IOTLB misses spend walking. */
function walkSeconds(c: Stats, p: NicPrices): number {
  const reads = counter(c, "walkReads");
  return (reads > 0 ? reads * p.device.walkReadNs : c.misses * p.device.iotlbMissNs) * 1e-9;
}

/** M/D/1 wait (cycles) per acquisition of a resource held `hold` cycles, `rate` acquisitions/s, `n` CPUs. */
function lockWait(hold: number, rate: number, clockHz: number, n: number): number {
  if (n < 2 || hold === 0) return 0;
  const rho = Math.min(0.999, (rate * hold) / clockHz);
  return (rho * ((n - 1) / n) * hold) / (2 * (1 - rho));
}

/** The operating point of `wk` (windows per second solved as a fixed point). */
function solve(o: ResolvedNicOptions, p: NicPrices, wk: Work): NicPoint {
  const f = p.clockHz;
  const active = Math.min(o.cpus, o.queues);
  const perCpuQueues = Array.from({ length: o.cpus }, (_, c) => Math.floor(o.queues / o.cpus) + (c < o.queues % o.cpus ? 1 : 0));
  const busiestShare = Math.max(...perCpuQueues) / o.queues;
  const wait = (s: number) =>
    wk.treeLock.acquisitions * lockWait(wk.treeLock.hold, s * wk.treeLock.acquisitions, f, active) +
    wk.invalidations.acquisitions * lockWait(wk.invalidations.hold, s * wk.invalidations.acquisitions, f, active);
  const bounds = (s: number) => {
    const cycles = wk.stack + wk.iommu + wait(s);
    const b: Array<[Bottleneck, number]> = [
      ["link", (o.linkGbps * 1e9) / (8 * wk.wireBytes)],
      ["cpu", f / (cycles * busiestShare)],
    ];
    if (wk.treeLock.acquisitions > 0 && active > 1) b.push(["iova-lock", f / (wk.treeLock.acquisitions * wk.treeLock.hold)]);
    if (wk.invalidations.acquisitions > 0 && active > 1) b.push(["invalidation-queue", f / (wk.invalidations.acquisitions * wk.invalidations.hold)]);
    if (wk.walkSeconds > 0) b.push(["iotlb-walks", p.device.pageWalkers / wk.walkSeconds]);
    if (o.test === "rr") {
      const perTxn = wk.transactions / o.queues;
      const cpuSeconds = cycles / wk.transactions / f;
      const walkSeconds = wk.walkSeconds / wk.transactions;
      const serialise = (8 * wk.wireBytes) / wk.transactions / (o.linkGbps * 1e9);
      const roundTrip = p.device.rrBaseLatencyUs * 1e-6 + 2 * (cpuSeconds + walkSeconds + serialise);
      b.push(["round-trip", 1 / (roundTrip * perTxn)]);
    }
    return { cycles, b };
  };
  // the bounds fall as the rate rises (waits grow with it): the operating point is where the
  // tightest bound equals the rate, found by bisection between nothing and the link
  const tightest = (rate: number) => Math.min(...bounds(rate).b.map(([, v]) => v));
  let lo = 0;
  let hi = bounds(0).b[0][1];
  if (tightest(hi) >= hi) lo = hi;
  for (let k = 0; k < 200 && hi - lo > 1e-12 * hi; k++) {
    const mid = 0.5 * (lo + hi);
    if (tightest(mid) >= mid) lo = mid;
    else hi = mid;
  }
  let s = lo;
  let at = bounds(s);
  // the binding bound: the smallest at the solution (ties go to the first, the link)
  let bottleneck: Bottleneck = at.b[0][0];
  let least = Infinity;
  for (const [name, v] of at.b) if (v < least * (1 - 1e-9)) [bottleneck, least] = [name, v];
  s = Math.min(s, least);
  at = bounds(s);
  const lockWaitCycles = wait(s);
  const perQueue = (at.cycles * s) / o.queues / f;
  const cpuUtilisation = perCpuQueues.map((k) => k * perQueue);
  return {
    throughputGbps: (s * 8 * wk.payloadBytes) / 1e9,
    transactionsPerSecond: s * wk.transactions,
    bottleneck,
    cpuUtilisation,
    busiestCpu: Math.max(...cpuUtilisation),
    cyclesPerPacket: {
      total: at.cycles / wk.dataFrames,
      stack: wk.stack / wk.dataFrames,
      iommu: wk.iommu / wk.dataFrames,
      lockWait: lockWaitCycles / wk.dataFrames,
    },
  };
}

function counts(o: ResolvedNicOptions, run: NicCoreRun, w: NicTally, lockWaitPerAcquisition: number): NicIommuCounts {
  const c: Stats = run.stats;
  const { treeAllocs, treeFrees } = treeWork(o, run);
  const per = (n: number) => (w.dataFrames ? n / w.dataFrames : 0);
  const refills = w.rxPagesRecycled + w.rxPagesMapped;
  return {
    dmaMaps: c.maps + c.mapSgs,
    dmaUnmaps: c.unmaps + c.unmapSgs,
    pagesMapped: c.pagesMapped,
    pagesUnmapped: c.pagesUnmapped,
    pageTableWrites: pteWrites(c),
    iotlbInvalidations: counter(c, "invWaits") || c.flushes + c.entryInvalidations,
    flushQueueTimerFlushes: run.timerFlushes,
    magazineHits: c.rcacheHits,
    iovaTreeAllocs: treeAllocs,
    iovaTreeFrees: treeFrees,
    iovaNodesVisited: c.nodesVisited,
    globalLockAcquisitions: treeAllocs + treeFrees,
    lockWaitCycles: lockWaitPerAcquisition,
    deviceAccesses: c.accesses,
    iotlbHits: c.hits,
    iotlbMisses: c.misses,
    walkReads: counter(c, "walkReads"),
    staleDeviceHits: c.staleHits,
    rxPagesRecycled: w.rxPagesRecycled,
    rxPagesMapped: w.rxPagesMapped,
    rxPagesUnmapped: w.rxPagesUnmapped,
    rxRecycleRatio: refills ? w.rxPagesRecycled / refills : 1,
    dataFrames: w.dataFrames,
    perPacket: {
      dmaCalls: per(c.maps + c.unmaps + c.mapSgs + c.unmapSgs),
      iotlbInvalidations: per(counter(c, "invWaits") || c.flushes + c.entryInvalidations),
      iotlbMisses: per(c.misses),
      globalLockAcquisitions: per(treeAllocs + treeFrees),
    },
  };
}

/**
 * Regenerates the calls at the rate the model solves for until it settles (the shape of a poll —
 * sends per poll, GRO batch, ACK ratio, flush-queue timer — depends on the rate): from line rate,
 * at most four rounds, within 3 %.
 */
function settle<T extends { point: NicPoint; shape: NicShape }>(o: ResolvedNicOptions, p: NicPrices, at: (shape: NicShape) => T): T {
  const mss = mssOf(o.mtu);
  const lineBytes = ((o.linkGbps * 1e9) / 8) * (mss / (mss + WIRE_OVERHEAD)) / o.queues;
  let rate = o.test === "rr" ? 1 / (p.device.rrBaseLatencyUs * 1e-6) : lineBytes;
  let out = at(shapeAt(o, rate));
  for (let round = 1; round < 4; round++) {
    const solved = o.test === "rr" ? out.point.transactionsPerSecond / o.queues : (out.point.throughputGbps * 1e9) / 8 / o.queues;
    if (Math.abs(solved - rate) <= 0.03 * rate) break;
    rate = solved;
    out = at(shapeAt(o, rate));
  }
  return out;
}

/** One NIC configuration, IOMMU on (as configured) and off, on the cores `makeIommu` makes. */
export function simulateNicWith(makeIommu: (o: IommuOptions) => Iommu, options: Partial<NicOptions> = {}, profile?: NicProfile): NicResult {
  const o = resolveNicOptions(options);
  const p = nicPrices(profile);
  // no IOMMU: the same driver at its own operating point (the calls only, no core needed)
  const baseline = settle(o, p, (shape) => ({ shape, point: solve(o, p, work(o, p, generateNicTrace(o, shape).window, null)) })).point;
  const on = settle(o, p, (shape) => {
    const trace = generateNicTrace(o, shape);
    const core = nicIommuOptions(o, trace.maxHandles);
    const run = driveNic(isRingIommu(o.platform) ? { perRing: () => makeIommu(core) } : makeIommu(core), trace);
    const wk = work(o, p, trace.window, run);
    return { shape, trace, run, wk, point: solve(o, p, wk) };
  });
  const { trace, run, wk, point, shape } = on;
  const windows = o.test === "rr" ? point.transactionsPerSecond / trace.window.transactions : (point.throughputGbps * 1e9) / (8 * trace.window.payloadBytes);
  const lockWaitPerAcquisition = wk.treeLock.acquisitions ? lockWait(wk.treeLock.hold, windows * wk.treeLock.acquisitions, p.clockHz, Math.min(o.cpus, o.queues)) : 0;
  const unmappedPagesPerSecond = run.stats.pagesUnmapped * windows;
  return {
    options: o,
    prices: p,
    ...point,
    baseline,
    iommu: counts(o, run, trace.window, lockWaitPerAcquisition),
    exposure: {
      staleIotlbLinesPeak: run.exposure.staleLinesPeak,
      staleIotlbLinesMean: run.exposure.staleLinesMean,
      pagesAwaitingFlushPeak: run.exposure.queuedPagesPeak,
      pagesAwaitingFlushMean: run.exposure.queuedPagesMean,
      staleWindowUs: unmappedPagesPerSecond > 0 ? (run.exposure.queuedPagesMean / unmappedPagesPerSecond) * 1e6 : 0,
      lateDmaReachedPct: run.lateDma.probes ? (100 * run.lateDma.reached) / run.lateDma.probes : 0,
    },
    shape,
  };
}
