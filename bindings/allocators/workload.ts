// Allocator workloads on the WASM core (assembly/workloads.ts generates and runs them inside
// WASM), and the figures users compare allocators by. Browser-safe: takes a compiled module.

import { ALLOCATORS, COUNTER_NAMES, type AllocatorName, type Stats } from "../abi.js";
import { resolveConfig, type IommuOptions } from "../config.js";
import { ConfigError } from "../errors.js";
import type { AllocatorState, Iommu } from "../types.js";
import { WasmIommu } from "../wasm-iommu.js";

export const WORKLOADS = ["ring", "storage", "storage-sg", "mixed", "occupancy"] as const;
export type WorkloadName = (typeof WORKLOADS)[number];

/** What `param` means per workload, its default and its range. */
export const WORKLOAD_PARAM: Record<WorkloadName, { meaning: string; default: number; min: number; max: number }> = {
  ring: { meaning: "ring size (one-page buffers in flight)", default: 256, min: 1, max: 65536 },
  storage: { meaning: "requests in flight (1–32 pages each, one contiguous mapping, random completion)", default: 32, min: 1, max: 65536 },
  "storage-sg": { meaning: "requests in flight (scatterlists of 1–32 one-page elements, map_sg / unmap_sg, random completion)", default: 32, min: 1, max: 16384 },
  mixed: { meaning: "long-lived 1–16-page buffers beside 64 short-lived 1–4-page ones", default: 1024, min: 0, max: 65536 },
  occupancy: { meaning: "target occupancy of the IO space, per mille", default: 900, min: 1, max: 1000 },
};

export interface AllocatorWorkloadOptions {
  workload: WorkloadName;
  /** See WORKLOAD_PARAM. */
  param?: number;
  /** Seed of the workload's xorshift32 stream (any u32; 0 picks a fixed one). @default 1 */
  seed?: number;
  /**
   * "dma": every operation is a full map_single / unmap_single (table writes, cache, flush
   * hooks). "allocator": the allocator alone, the same stream. @default "dma"
   */
  mode?: WorkloadMode;
}

export const WORKLOAD_MODES = ["dma", "allocator"] as const;
export type WorkloadMode = (typeof WORKLOAD_MODES)[number];

/** Figures over the steps run since the workload started (its initial fill excluded). */
export interface AllocatorFigures {
  allocator: AllocatorName;
  /** "trace": a replayed trace (param = its operation count). */
  workload: WorkloadName | "trace";
  param: number;
  mode: WorkloadMode;
  /** map + unmap calls (failed maps included). */
  operations: number;
  failedMaps: number;
  /** Failed maps per million map attempts. */
  failedPerMillion: number;
  wordsPerOp: number;
  nodesPerOp: number;
  wrapsPerMillion: number;
  flushesPerMillion: number;
  /** Share of the allocator's ranges served by the IOVA magazines (0 without them). */
  rcacheHitRate: number;
  /** Lowest and highest (exclusive) IO page ever handed out, and the pages between. */
  lowPage: number;
  highPage: number;
  spanPages: number;
  livePages: number;
  state: AllocatorState;
}

const WL_CODE: Record<WorkloadName, number> = { ring: 0, storage: 1, mixed: 2, occupancy: 3, "storage-sg": 4 };
/** Scratch bytes per slot (assembly/workloads.ts): 8, or a whole scatterlist for storage-sg. */
const SG_SLOT_BYTES = 16 + 32 * 16;
const U32 = 0xffffffff;

export interface AllocatorWorkload {
  readonly iommu: Iommu;
  readonly options: Required<AllocatorWorkloadOptions>;
  /** Runs `steps` steps inside WASM; returns the maps that failed. */
  run(steps: number): number;
  /** The figures since the start (the initial fill excluded). */
  figures(): AllocatorFigures;
}

/**
 * The figures from counter deltas `d` over a run: per operation (one DMA-API call), per million,
 * the share of ranges the magazines served, the span [low, high) handed out.
 */
export function figuresOf(
  what: Pick<AllocatorFigures, "allocator" | "workload" | "param" | "mode">,
  d: Stats, failed: number, low: number, high: number, livePages: number, state: AllocatorState,
): AllocatorFigures {
  const maps = d.maps + d.mapFailures + d.mapSgs + d.allocs;
  const ops = maps + d.unmaps + d.unmapSgs + d.frees;
  const per = (x: number) => (ops === 0 ? 0 : x / ops);
  return {
    ...what,
    operations: ops,
    failedMaps: failed,
    failedPerMillion: maps === 0 ? 0 : (failed / maps) * 1e6,
    wordsPerOp: per(d.wordsScanned),
    nodesPerOp: per(d.nodesVisited),
    wrapsPerMillion: per(d.wraps) * 1e6,
    flushesPerMillion: per(d.flushes) * 1e6,
    rcacheHitRate: d.rangesAllocated === 0 ? 0 : d.rcacheHits / d.rangesAllocated,
    lowPage: high === 0 ? 0 : low,
    highPage: high,
    spanPages: high === 0 ? 0 : high - low,
    livePages,
    state,
  };
}

function checkWorkload(o: AllocatorWorkloadOptions): Required<AllocatorWorkloadOptions> {
  if (o === null || typeof o !== "object") throw new ConfigError("workload options", o, "{ workload, param?, seed? }");
  if (!WORKLOADS.includes(o.workload)) throw new ConfigError("workload", o.workload, `one of ${WORKLOADS.join(", ")}`);
  const p = WORKLOAD_PARAM[o.workload];
  const param = o.param ?? p.default;
  if (!Number.isInteger(param) || param < p.min || param > p.max) {
    throw new ConfigError("param", param, `for ${o.workload} (${p.meaning}) an integer from ${p.min} to ${p.max}`);
  }
  const seed = o.seed ?? 1;
  if (!Number.isInteger(seed) || seed < 0 || seed > U32) throw new ConfigError("seed", seed, "an integer from 0 to 4294967295");
  const mode = o.mode ?? "dma";
  if (!WORKLOAD_MODES.includes(mode)) throw new ConfigError("mode", mode, `one of ${WORKLOAD_MODES.join(", ")}`);
  return { workload: o.workload, param, seed, mode };
}

/** Starts an allocator workload on a fresh IOMMU built from `options`. */
export function createAllocatorWorkloadWith(
  module: WebAssembly.Module,
  options: IommuOptions,
  workload: AllocatorWorkloadOptions,
): AllocatorWorkload {
  const w = checkWorkload(workload);
  const config = resolveConfig(options);
  const code = WL_CODE[w.workload];
  // one 8-byte slot per mapping the workload can hold (assembly/workloads.ts)
  const slots = w.workload === "mixed" ? 64 + w.param : w.workload === "occupancy" ? config.entries : w.param;
  const iommu = new WasmIommu(module, config, slots * (w.workload === "storage-sg" ? SG_SLOT_BYTES : 8));
  const core = iommu.coreExports;
  core.workloadInit(code, w.param, w.seed, config.cpus, w.mode === "allocator" ? 1 : 0);
  const start = iommu.stats();
  let failed = 0;
  return {
    iommu,
    options: w,
    run(steps: number): number {
      if (!Number.isInteger(steps) || steps < 0 || steps > 2 ** 31) throw new ConfigError("steps", steps, "an integer from 0 to 2^31");
      const f = core.workloadRun(steps) >>> 0;
      failed += f;
      return f;
    },
    figures(): AllocatorFigures {
      const now = iommu.stats();
      const d = {} as Stats;
      for (const k of COUNTER_NAMES) d[k] = now[k] - start[k];
      return figuresOf(
        { allocator: ALLOCATORS[config.allocator], workload: w.workload, param: w.param, mode: w.mode },
        d, failed, core.workloadLow() >>> 0, core.workloadHighEnd() >>> 0, core.workloadLivePages() >>> 0, iommu.allocatorState(),
      );
    },
  };
}
