// Runs a NIC call sequence through a core (the WASM core, or the TypeScript reference: both take
// the same batch records) and keeps what the throughput model needs: the core's counters over the
// measured window, the IOVA tree's growth (to tell tree frees from magazine frees), and the
// exposure sampled after every round of polls.

import { ACCESS_OUTCOMES, BAD_RECORD, COUNTER_NAMES, type Stats } from "../../abi.js";
import type { Iommu } from "../../types.js";
import { TAG_ALL, TAG_COHERENT, type NicTrace } from "./trace.js";

export interface NicExposureSamples {
  samples: number;
  /** IOTLB lines translating a page the table no longer maps (released but still reachable). */
  staleLinesPeak: number;
  staleLinesMean: number;
  /** Pages unmapped but waiting in a flush queue for the invalidation that frees them. */
  queuedPagesPeak: number;
  queuedPagesMean: number;
}

export interface NicCoreRun {
  /** Counter increments over the measured window (gauges: their value at its end). */
  stats: Stats;
  /** IOVA tree nodes at the window's end less at its start (tree allocations − tree frees). */
  treeNodesGrowth: number;
  /** Flush-queue timer firings and depot runs in the window. */
  timerFlushes: number;
  exposure: NicExposureSamples;
  /** Late DMAs after unmap (trace probes): how many, and how many still reached memory through a stale IOTLB line. */
  lateDma: { probes: number; reached: number };
}

const GAUGES = new Set(["pagesInUse", "peakPagesInUse", "pagesQueued"]);

const STALE = ACCESS_OUTCOMES.indexOf("stale");
const HIT = ACCESS_OUTCOMES.indexOf("hit");

/**
 * The cores a trace runs on: one IOMMU for the whole NIC, or — a ring IOMMU, which keeps one
 * translation ring per device ring — one core per device ring (`perRing(tag)`, made on first use;
 * the descriptor rings' coherent buffers and CPU switches are not theirs and are left out).
 */
export type NicCores = Iommu | { perRing: (ring: number) => Iommu };

class CoreSet {
  private readonly rings = new Map<number, Iommu>();
  constructor(private readonly cores: NicCores) {}

  all(): Iommu[] {
    return "perRing" in this.cores ? [...this.rings.values()] : [this.cores];
  }

  /** Runs `count` records (`tags` their device rings); `each` sees every record's result. */
  run(ops: Uint32Array, tags: Uint16Array, count: number, each?: (result: number) => void): void {
    if (!("perRing" in this.cores)) return runOn(this.cores, ops, count, each);
    const groups = new Map<number, number[]>();
    for (let i = 0; i < count; i++) {
      const t = tags[i];
      if (t === TAG_ALL || t === TAG_COHERENT) continue;
      let g = groups.get(t);
      if (!g) groups.set(t, (g = []));
      g.push(i);
    }
    for (const [tag, idx] of groups) {
      let io = this.rings.get(tag);
      if (!io) this.rings.set(tag, (io = this.cores.perRing(tag)));
      const mine = new Uint32Array(idx.length * 4);
      idx.forEach((i, k) => mine.set(ops.subarray(i * 4, i * 4 + 4), k * 4));
      runOn(io, mine, idx.length, each);
    }
  }

  stats(): Stats {
    const sum = Object.fromEntries(COUNTER_NAMES.map((k) => [k, 0])) as Stats;
    for (const io of this.all()) {
      const s = io.stats();
      for (const k of COUNTER_NAMES) sum[k] += s[k];
    }
    return sum;
  }

  treeNodes(): number {
    return this.all().reduce((n, io) => n + io.allocatorState().treeNodes, 0);
  }

  staleLines(): number {
    return this.all().reduce((n, io) => n + io.staleLines(), 0);
  }

  flushQueueTimer(): boolean {
    return this.all().map((io) => io.flushQueueTimer()).some(Boolean);
  }

  depotWork(): void {
    for (const io of this.all()) io.depotWork();
  }
}

function runOn(io: Iommu, ops: Uint32Array, count: number, each?: (result: number) => void): void {
  const cap = io.batch.capacity;
  for (let at = 0; at < count; at += cap) {
    const n = Math.min(cap, count - at);
    io.batch.ops.set(ops.subarray(at * 4, (at + n) * 4));
    io.batch.run(n);
    const results = io.batch.results;
    for (let i = 0; i < n; i++) {
      if (results[i] === BAD_RECORD) throw new Error(`iommu-sim: the core refused NIC record ${at + i} (op ${ops[(at + i) * 4] & 15}); this is a bug, please report it`);
      each?.(results[i]);
    }
  }
}

export function driveNic(cores: NicCores, trace: NicTrace): NicCoreRun {
  const io = new CoreSet(cores);
  let end: Stats | undefined;
  let treeEnd = 0;
  const lateDma = { probes: 0, reached: 0 };
  let start: Stats = io.stats();
  let treeStart = io.treeNodes();
  let inWindow = false;
  let timerFlushes = 0;
  const ex = { samples: 0, staleSum: 0, stalePeak: 0, queuedSum: 0, queuedPeak: 0 };
  for (const s of trace.steps) {
    switch (s.kind) {
      case "records":
        io.run(s.ops, s.tags, s.count);
        break;
      case "timer":
        if (io.flushQueueTimer() && inWindow) timerFlushes++;
        break;
      case "depot":
        io.depotWork();
        break;
      case "probes":
        io.run(s.ops, s.tags, s.count, (r) => {
          lateDma.probes++;
          if (r === STALE || r === HIT) lateDma.reached++;
        });
        break;
      case "probe":
        end = io.stats();
        treeEnd = io.treeNodes();
        inWindow = false;
        break;
      case "window":
        start = io.stats();
        treeStart = io.treeNodes();
        inWindow = true;
        break;
      case "sample": {
        if (!inWindow) break;
        const stale = io.staleLines();
        const queued = io.stats().pagesQueued;
        ex.samples++;
        ex.staleSum += stale;
        ex.queuedSum += queued;
        ex.stalePeak = Math.max(ex.stalePeak, stale);
        ex.queuedPeak = Math.max(ex.queuedPeak, queued);
        break;
      }
    }
  }
  const failures = io.stats().mapFailures;
  if (failures > 0) throw new Error(`iommu-sim: the NIC workload ran out of IO space (${failures} maps failed); give the platform a larger tableSize`);
  if (end === undefined) throw new Error("iommu-sim: a NIC trace without its window's end; this is a bug, please report it");
  const stats = {} as Stats;
  for (const k of COUNTER_NAMES) stats[k] = GAUGES.has(k) ? end[k] : end[k] - start[k];
  return {
    stats,
    treeNodesGrowth: treeEnd - treeStart,
    timerFlushes,
    exposure: {
      samples: ex.samples,
      staleLinesPeak: ex.stalePeak,
      staleLinesMean: ex.samples ? ex.staleSum / ex.samples : 0,
      queuedPagesPeak: ex.queuedPeak,
      queuedPagesMean: ex.samples ? ex.queuedSum / ex.samples : 0,
    },
    lateDma,
  };
}
