// The allocator workloads' DMA streams written as traces (iommu-sim trace generate), so users can
// make traces of any length without a kernel. The streams are assembly/workloads.ts's: the same
// xorshift32 from the same seed, the same slots, page counts and physical pages, one id per slot
// (its number). Replaying a generated trace gives the counters the built-in workload gives on one
// CPU (tested), with one difference a trace cannot avoid: the trace does not know which maps the
// model will refuse, so it unmaps every slot, and an unmap of a failed map is a no-op in the core.
// Time-driven work (the IOVA depot, the flush-queue timer) is not in a trace.

import { IO_PAGE_SIZE } from "../abi.js";
import { WORKLOAD_PARAM } from "../allocators/workload.js";
import { ConfigError } from "../errors.js";
import type { TraceConsumer } from "./consumer.js";

export const TRACE_WORKLOADS = ["ring", "storage-sg", "mixed"] as const;
export type TraceWorkload = (typeof TRACE_WORKLOADS)[number];

export interface GenerateOptions {
  workload: TraceWorkload;
  /** WORKLOAD_PARAM[workload] (ring size, requests in flight, long-lived buffers). */
  param?: number;
  /** Trace operations to write (the initial fill included). */
  ops: number;
  /** xorshift32 seed, as the built-in workloads take it (0 picks a fixed one). @default 1 */
  seed?: number;
}

const FROM_DEVICE = 2;
const FIRST_PFN = 0x10000;
const SG_MAX_BURST = 32;
const SHORT_SLOTS = 64;

/** Writes the workload's first `ops` operations to `out`; returns how many it wrote. */
export function generateTrace(out: TraceConsumer, options: GenerateOptions): number {
  let written = 0;
  for (const n of generateInSteps(out, options)) written = n;
  return written;
}

/** Operations between the pauses of generateInSteps (a writer can wait for its output there). */
const PAUSE_EVERY = 1 << 16;

/** generateTrace in steps: yields the operations written so far every ~65 536 and at the end. */
export function* generateInSteps(out: TraceConsumer, options: GenerateOptions): Generator<number> {
  const { workload, ops } = options;
  if (!TRACE_WORKLOADS.includes(workload)) throw new ConfigError("workload", workload, `one of ${TRACE_WORKLOADS.join(", ")}`);
  const spec = WORKLOAD_PARAM[workload];
  const param = options.param ?? spec.default;
  if (!Number.isInteger(param) || param < spec.min || param > spec.max) {
    throw new ConfigError("param", param, `${spec.meaning}: an integer from ${spec.min} to ${spec.max}`);
  }
  if (!Number.isSafeInteger(ops) || ops < 0) throw new ConfigError("ops", ops, "a whole number of operations");
  const seed = options.seed ?? 1;
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new ConfigError("seed", seed, "an integer from 0 to 4294967295");

  let rng = seed !== 0 ? seed >>> 0 : 0x9e3779b9;
  const below = (n: number) => {
    let x = rng;
    x = (x ^ (x << 13)) >>> 0;
    x = (x ^ (x >>> 17)) >>> 0;
    x = (x ^ (x << 5)) >>> 0;
    rng = x;
    return x % n;
  };
  let pfn = FIRST_PFN;
  let written = 0;
  let pause = PAUSE_EVERY;
  const phys = new Float64Array(SG_MAX_BURST);
  const bytes = new Float64Array(SG_MAX_BURST).fill(IO_PAGE_SIZE);
  const live = new Uint8Array(workload === "mixed" ? SHORT_SLOTS + param : param);

  const fill = (i: number, pages: number) => {
    out.map(i, pfn * IO_PAGE_SIZE, pages * IO_PAGE_SIZE, FROM_DEVICE, 0);
    pfn = (pfn + pages) & 0x00ffffff;
    live[i] = 1;
    written++;
  };
  const drain = (i: number) => {
    if (!live[i]) return;
    out.unmap(i, 0);
    live[i] = 0;
    written++;
  };
  const fillSg = (i: number, pages: number) => {
    for (let k = 0; k < pages; k++) {
      phys[k] = pfn * IO_PAGE_SIZE;
      pfn = (pfn + 2) & 0x00ffffff; // discontiguous pages
    }
    out.mapSg(i, FROM_DEVICE, phys, bytes, pages, 0);
    live[i] = 1;
    written++;
  };
  const drainSg = (i: number) => {
    if (!live[i]) return;
    out.unmapSg(i, 0);
    live[i] = 0;
    written++;
  };

  // The initial fill (workloadStart), then steps (workloadRun as one run), cut at `ops`.
  if (workload === "ring") {
    for (let i = 0; i < param && written < ops; i++) fill(i, 1);
    for (let head = 0; written < ops; head = head + 1 === param ? 0 : head + 1) {
      drain(head);
      if (written < ops) fill(head, 1);
      if (written >= pause) yield (pause += PAUSE_EVERY, written);
    }
  } else if (workload === "storage-sg") {
    for (let i = 0; i < param && written < ops; i++) fillSg(i, 1 + below(SG_MAX_BURST));
    while (written < ops) {
      const i = below(param);
      drainSg(i);
      if (written < ops) fillSg(i, 1 + below(SG_MAX_BURST));
      if (written >= pause) yield (pause += PAUSE_EVERY, written);
    }
  } else {
    for (let i = 0; i < SHORT_SLOTS && written < ops; i++) fill(i, 1 + below(4));
    for (let i = 0; i < param && written < ops; i++) fill(SHORT_SLOTS + i, 1 + below(16));
    for (let s = 0; written < ops; s++) {
      const long = (s & 15) === 15 && param > 0;
      const i = long ? SHORT_SLOTS + below(param) : below(SHORT_SLOTS);
      drain(i);
      if (written < ops) fill(i, 1 + below(long ? 16 : 4));
      if (written >= pause) yield (pause += PAUSE_EVERY, written);
    }
  }
  yield written;
}
