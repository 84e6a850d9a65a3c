// Replays a parsed trace through an Iommu: TypeScript plans (ids → batch handles, checks that
// every unmap names a live mapping), the core applies the records in batches.

import { BAD_RECORD, IO_PAGE_SIZE, SG_MAX, type Stats } from "../abi.js";
import { isPerCpu, type IommuOptions, type ResolvedConfig } from "../config.js";
import { ConfigError } from "../errors.js";
import { checkBuffer, checkRingOnly } from "../inputs.js";
import { DIR, putAccess, putAlloc, putCpu, putFree, putMap, putMapSg, putUnmap, putUnmapSg } from "../records.js";
import type { Iommu } from "../types.js";
import { TraceError, type ParsedTrace, type SkippedLine, type TraceOp } from "./parse.js";

export interface ReplayOptions {
  /** Skip lines that make no sense in sequence (unmap of an unknown id, …) instead of stopping. */
  lenient?: boolean;
}

/** One map/alloc/map_sg of the trace and what the model handed out (null: IO space full). */
export interface MappedAddress {
  id: string;
  line: number;
  dma: number[] | null;
}

export interface ReplayResult {
  addresses: MappedAddress[];
  stats: Stats;
  /** Operations applied. */
  operations: number;
  /** Lines skipped: malformed (parse) or out of sequence (replay), under lenient. */
  skipped: SkippedLine[];
  ignored: number;
}

type Kind = "single" | "sg" | "coherent";

interface IdState {
  kind: Kind;
  handle: number;
  /** Segment byte lengths (one for single and coherent). */
  lengths: number[];
  live: boolean;
}

interface Planned {
  op: TraceOp;
  handle: number;
  records: number;
  /** access: segment-relative offset; unmap_sg: segment count. */
  offset?: number;
}

const DIR_CODE = { bidirectional: DIR.bidirectional, "to-device": DIR.toDevice, "from-device": DIR.fromDevice } as const;

class OutOfSequence extends Error {}

function plan(trace: ParsedTrace, lenient: boolean): { steps: Planned[]; handles: number; skipped: SkippedLine[] } {
  const ids = new Map<string, IdState>();
  const steps: Planned[] = [];
  const skipped: SkippedLine[] = [];
  let nextHandle = 0;

  const bind = (id: string, kind: Kind, lengths: number[]): IdState => {
    const s = ids.get(id);
    if (s?.live) throw new OutOfSequence(`id ${JSON.stringify(id)} is already mapped (line of its map: still live)`);
    if (s && s.kind === kind && s.lengths.length >= lengths.length) {
      Object.assign(s, { lengths, live: true });
      return s;
    }
    const fresh: IdState = { kind, handle: nextHandle, lengths, live: true };
    nextHandle += lengths.length;
    ids.set(id, fresh);
    return fresh;
  };
  const release = (id: string, kind: Kind, verb: string): IdState => {
    const s = ids.get(id);
    if (!s || !s.live) throw new OutOfSequence(`${verb} of id ${JSON.stringify(id)}, which is not mapped`);
    if (s.kind !== kind) throw new OutOfSequence(`${verb} of id ${JSON.stringify(id)}, which was mapped by ${s.kind === "sg" ? "map_sg" : s.kind === "coherent" ? "alloc" : "map"}`);
    s.live = false;
    return s;
  };

  for (const op of trace.ops) {
    try {
      switch (op.kind) {
        case "map":
          steps.push({ op, handle: bind(op.id, "single", [op.bytes]).handle, records: 1 });
          break;
        case "alloc":
          steps.push({ op, handle: bind(op.id, "coherent", [op.bytes]).handle, records: 1 });
          break;
        case "map_sg":
          if (op.segments.length > SG_MAX) throw new OutOfSequence(`map_sg with ${op.segments.length} segments; at most ${SG_MAX}`);
          steps.push({ op, handle: bind(op.id, "sg", op.segments.map((s) => s.bytes)).handle, records: 1 + op.segments.length });
          break;
        case "unmap":
          steps.push({ op, handle: release(op.id, "single", "unmap").handle, records: 1 });
          break;
        case "free":
          steps.push({ op, handle: release(op.id, "coherent", "free").handle, records: 1 });
          break;
        case "unmap_sg": {
          const s = release(op.id, "sg", "unmap_sg");
          steps.push({ op, handle: s.handle, records: 1, offset: s.lengths.length });
          break;
        }
        case "cpu":
          steps.push({ op, handle: 0, records: 1 });
          break;
        case "access": {
          const s = ids.get(op.id);
          if (!s) throw new OutOfSequence(`access to id ${JSON.stringify(op.id)}, which was never mapped`);
          // Find the segment the access falls in; it must not run past that segment's end.
          let offset = op.offset;
          let seg = 0;
          while (seg < s.lengths.length - 1 && offset >= s.lengths[seg]) offset -= s.lengths[seg++];
          if (offset + op.bytes > s.lengths[seg]) {
            throw new OutOfSequence(`access at offset ${op.offset} for ${op.bytes} bytes runs past the end of ${s.kind === "sg" ? "its segment" : "the mapping"}`);
          }
          steps.push({ op, handle: s.handle + seg, records: 1, offset });
          break;
        }
      }
    } catch (e) {
      if (!(e instanceof OutOfSequence)) throw e;
      if (!lenient) throw new TraceError(op.line, opText(op), e.message);
      skipped.push({ line: op.line, text: opText(op), reason: e.message });
    }
  }
  return { steps, handles: nextHandle, skipped };
}

function opText(op: TraceOp): string {
  return op.kind === "cpu" ? `cpu ${op.cpu}` : `${op.kind} ${op.id}`;
}

/** Why the core refused an operation's record (BAD_RECORD): the API's own words for it. */
export function refusal(op: TraceOp, config: ResolvedConfig): string {
  try {
    if (op.kind === "map_sg") checkRingOnly("map_sg", config);
    if (op.kind === "alloc") checkRingOnly("alloc_coherent", config);
    if (op.kind === "map") checkBuffer("phys", "bytes", op.phys, op.bytes, config);
    if (op.kind === "map_sg") op.segments.forEach((s, k) => checkBuffer(`segment ${k + 1} phys`, `segment ${k + 1} bytes`, s.phys, s.bytes, config));
  } catch (e) {
    if (e instanceof ConfigError) return e.message;
    throw e;
  }
  return "the core refused this operation's batch record";
}

/** CPUs a trace needs the IOMMU to model: its highest `cpu` + 1. */
export function traceCpus(trace: ParsedTrace): number {
  return trace.ops.reduce((m, op) => (op.kind === "cpu" ? Math.max(m, op.cpu + 1) : m), 1);
}

/**
 * Replays `trace` on an IOMMU made by `make` (given the handle count, batch capacity and CPUs the
 * trace needs: spread them into the options). Deterministic: the same trace and options give the same addresses and counters.
 */
export function replayTrace(
  trace: ParsedTrace,
  make: (sizing: Pick<IommuOptions, "maxHandles" | "batchCapacity" | "cpus">) => Iommu,
  options: ReplayOptions = {},
): ReplayResult {
  const { steps, handles, skipped } = plan(trace, options.lenient ?? false);
  const longest = steps.reduce((m, s) => Math.max(m, s.records), 1);
  const cpus = traceCpus(trace);
  const iommu = make({ maxHandles: Math.max(1, handles), batchCapacity: Math.max(4096, longest), cpus });
  // Only the IOVA magazines and the flush queues are per CPU; elsewhere a switch changes nothing.
  if (isPerCpu(iommu.config) && iommu.config.cpus < cpus) {
    throw new ConfigError("cpus", iommu.config.cpus, `at least ${cpus}: the trace runs on CPUs up to ${cpus - 1}`);
  }
  const { ops, results, capacity } = iommu.batch;
  const addresses: MappedAddress[] = [];

  let first = 0;
  while (first < steps.length) {
    let n = 0;
    let last = first;
    for (; last < steps.length && n + steps[last].records <= capacity; last++) {
      const { op, handle } = steps[last];
      switch (op.kind) {
        case "map": n = putMap(ops, n, handle, op.phys, op.bytes, DIR_CODE[op.dir]); break;
        case "unmap": n = putUnmap(ops, n, handle); break;
        case "map_sg": n = putMapSg(ops, n, handle, op.segments, DIR_CODE[op.dir]); break;
        case "unmap_sg": n = putUnmapSg(ops, n, handle, steps[last].offset!); break;
        case "alloc": n = putAlloc(ops, n, handle, op.bytes); break;
        case "free": n = putFree(ops, n, handle); break;
        case "access": n = putAccess(ops, n, handle, steps[last].offset!, op.bytes, op.write); break;
        case "cpu": n = putCpu(ops, n, op.cpu); break;
      }
    }
    iommu.batch.run(n);
    let r = 0;
    for (let k = first; k < last; k++) {
      const { op, records } = steps[k];
      // (a cpu beyond those modelled is refused by the core; only per-CPU models need it, checked above)
      if (results[r] === BAD_RECORD && op.kind !== "cpu") {
        // the core refused the record and changed nothing: say why, as the API would
        const reason = refusal(op, iommu.config);
        if (!options.lenient) throw new TraceError(op.line, opText(op), reason);
        skipped.push({ line: op.line, text: opText(op), reason });
        r += records;
        continue;
      }
      if (op.kind === "map") {
        addresses.push({ id: op.id, line: op.line, dma: results[r] < 0 ? null : [results[r] * IO_PAGE_SIZE + (op.phys % IO_PAGE_SIZE)] });
      } else if (op.kind === "alloc") {
        addresses.push({ id: op.id, line: op.line, dma: results[r] < 0 ? null : [results[r] * IO_PAGE_SIZE] });
      } else if (op.kind === "map_sg") {
        addresses.push({
          id: op.id,
          line: op.line,
          dma: results[r] === 0 ? null : op.segments.map((s, i) => results[r + 1 + i] * IO_PAGE_SIZE + (s.phys % IO_PAGE_SIZE)),
        });
      }
      r += records;
    }
    first = last;
  }

  const all = [...trace.skipped, ...skipped].sort((a, b) => a.line - b.line);
  const operations = steps.filter((s) => s.op.kind !== "cpu").length;
  return { addresses, stats: iommu.stats(), operations, skipped: all, ignored: trace.ignored };
}
