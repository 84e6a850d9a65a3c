// Allocator × workload comparison: every allocator on the same streams, the same table, the
// same seed. Every figure comes from the core's counters and the allocator's own state; nothing
// here is timed (speed is the bench's business: bench/alloc.bench.js).

import { csvFormatRows } from "d3-dsv";
import { ALLOCATORS, IO_PAGE_SIZE, type AllocatorName } from "../abi.js";
import type { IommuOptions } from "../config.js";
import { ConfigError } from "../errors.js";
import type { ParsedTrace } from "../trace/parse.js";
import { replayTrace } from "../trace/replay.js";
import type { Iommu } from "../types.js";
import {
  figuresOf, WORKLOAD_PARAM, WORKLOADS, type AllocatorFigures, type AllocatorWorkload, type AllocatorWorkloadOptions,
  type WorkloadMode, type WorkloadName,
} from "./workload.js";

export interface WorkloadSpec {
  workload: WorkloadName;
  param: number;
}

/** The default grid: the ring sizes, storage bursts, mixed lifetimes, two occupancies. */
export const DEFAULT_WORKLOADS: WorkloadSpec[] = [
  { workload: "ring", param: 256 },
  { workload: "ring", param: 4096 },
  { workload: "storage", param: 32 },
  { workload: "storage-sg", param: 32 },
  { workload: "mixed", param: 1024 },
  { workload: "occupancy", param: 500 },
  { workload: "occupancy", param: 900 },
];

/** "ring:4096" → { ring, 4096 }; "storage" → its default parameter. */
export function parseWorkloadSpec(text: string): WorkloadSpec {
  const [name, p, extra] = text.split(":");
  if (extra !== undefined || !WORKLOADS.includes(name as WorkloadName)) {
    throw new ConfigError("workload", text, `NAME or NAME:PARAM with NAME one of ${WORKLOADS.join(", ")}`);
  }
  const w = name as WorkloadName;
  const spec = WORKLOAD_PARAM[w];
  const param = p === undefined ? spec.default : Number(p);
  if (!/^\d+$/.test(p ?? "0") || param < spec.min || param > spec.max) {
    throw new ConfigError("workload", text, `${w}:PARAM with PARAM (${spec.meaning}) an integer from ${spec.min} to ${spec.max}`);
  }
  return { workload: w, param };
}

export function parseAllocatorList(text: string): AllocatorName[] {
  return text.split(",").map((a) => {
    if (!ALLOCATORS.includes(a as AllocatorName)) throw new ConfigError("allocators", text, `a comma-separated list of ${ALLOCATORS.join(", ")}`);
    return a as AllocatorName;
  });
}

export interface CompareOptions {
  base: Omit<IommuOptions, "allocator">;
  allocators: readonly AllocatorName[];
  workloads: readonly WorkloadSpec[];
  /** Steps per workload after its initial fill (a step is an unmap and a map). */
  steps: number;
  mode: WorkloadMode;
  seed: number;
}

/** One allocator on one workload: a cell of the comparison. */
export interface CompareCell {
  workload: WorkloadSpec;
  allocator: AllocatorName;
}

/** The comparison's cells in its row order (workload by workload, every allocator on each), its options checked. */
export function compareCells(o: CompareOptions): CompareCell[] {
  if (!Number.isInteger(o.steps) || o.steps < 1 || o.steps > 2 ** 31) throw new ConfigError("steps", o.steps, "an integer from 1 to 2^31");
  return o.workloads.flatMap((workload) => o.allocators.map((allocator) => ({ workload, allocator })));
}

/** One cell on a fresh IOMMU: the same figures whichever cells ran before it, or none. */
export function compareCell(
  make: (options: IommuOptions, workload: AllocatorWorkloadOptions) => AllocatorWorkload,
  o: CompareOptions,
  { workload: w, allocator }: CompareCell,
): AllocatorFigures {
  const run = make({ ...o.base, allocator }, { workload: w.workload, param: w.param, seed: o.seed, mode: o.mode });
  run.run(o.steps);
  return run.figures();
}

export function compareAllocators(
  make: (options: IommuOptions, workload: AllocatorWorkloadOptions) => AllocatorWorkload,
  o: CompareOptions,
  onProgress?: (done: number, total: number) => void,
): AllocatorFigures[] {
  const cells = compareCells(o);
  const rows: AllocatorFigures[] = [];
  for (const cell of cells) {
    rows.push(compareCell(make, o, cell));
    onProgress?.(rows.length, cells.length);
  }
  return rows;
}

/** A trace replayed under each allocator, with the same figures (the trace's own stream). */
export function compareOnTrace(
  make: (options: IommuOptions) => Iommu,
  trace: ParsedTrace,
  base: Omit<IommuOptions, "allocator">,
  allocators: readonly AllocatorName[],
): AllocatorFigures[] {
  const bytesAt = new Map<number, number[]>();
  for (const op of trace.ops) {
    if (op.kind === "map" || op.kind === "alloc") bytesAt.set(op.line, [op.bytes]);
    else if (op.kind === "map_sg") bytesAt.set(op.line, op.segments.map((s) => s.bytes));
  }
  return allocators.map((allocator) => {
    let iommu: Iommu | undefined;
    const r = replayTrace(trace, (sizing) => (iommu = make({ ...base, allocator, ...sizing, cpus: base.cpus ?? sizing.cpus })));
    let low = Infinity;
    let high = 0;
    for (const a of r.addresses) {
      a.dma?.forEach((dma, k) => {
        const first = Math.floor(dma / IO_PAGE_SIZE);
        low = Math.min(low, first);
        high = Math.max(high, Math.ceil((dma + bytesAt.get(a.line)![k]) / IO_PAGE_SIZE));
      });
    }
    return figuresOf(
      { allocator, workload: "trace", param: trace.ops.length, mode: "dma" },
      r.stats, r.stats.mapFailures, high === 0 ? 0 : low, high, r.stats.pagesInUse, iommu!.allocatorState(),
    );
  });
}

const COLUMNS: Array<[string, (r: AllocatorFigures) => string]> = [
  ["workload", (r) => (r.workload === "trace" ? "trace" : `${r.workload}:${r.param}`)],
  ["allocator", (r) => r.allocator],
  ["ops", (r) => String(r.operations)],
  ["failed/M", (r) => r.failedPerMillion.toFixed(0)],
  ["words/op", (r) => r.wordsPerOp.toFixed(2)],
  ["nodes/op", (r) => r.nodesPerOp.toFixed(2)],
  ["wraps/M", (r) => r.wrapsPerMillion.toFixed(1)],
  ["flushes/M", (r) => r.flushesPerMillion.toFixed(1)],
  ["magazine hits", (r) => `${(r.rcacheHitRate * 100).toFixed(1)}%`],
  ["span pages", (r) => String(r.spanPages)],
  ["largest free run", (r) => String(r.state.largestFreeRun)],
  ["metadata KiB", (r) => (r.state.metadataBytes / 1024).toFixed(1)],
];

/** The figures as text cells, one row per allocator × workload: the CLI's table and CSV. */
export function figureCells(rows: readonly AllocatorFigures[]): { head: string[]; rows: string[][] } {
  return { head: COLUMNS.map(([h]) => h), rows: rows.map((r) => COLUMNS.map(([, f]) => f(r))) };
}

export function csvOfFigures(rows: readonly AllocatorFigures[]): string {
  const cells = figureCells(rows);
  return csvFormatRows([cells.head, ...cells.rows]) + "\n";
}
