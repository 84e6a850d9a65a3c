// Streamed traces end to end: bytes in chunks (text, kernel tracepoint text or the binary format,
// told apart by the binary header) → a TraceConsumer; and the streamed replay onto a batch sink.
// Browser-safe: chunks come from any (async) iterable of bytes (node:fs / zlib / stdin in io/).

import { isPerCpu, type IommuOptions } from "../config.js";
import { DIRECTIONS, type Stats } from "../abi.js";
import type { BatchArea, Iommu } from "../types.js";
import { BinaryTraceReader, BINARY_MAGIC, isBinaryTrace } from "./binary.js";
import type { TraceConsumer, TraceId } from "./consumer.js";
import { MAX_TRACE_CPU, type ParsedTrace, type SkippedLine, type TraceOp } from "./parse.js";
import { refusal, type MappedAddress } from "./replay.js";
import { TraceRunner, type RunnerOptions } from "./runner.js";
import { TextTraceReader } from "./text-reader.js";

export type TraceFormat = "text" | "binary";

/** Any trace's bytes → a consumer: the format is decided by the first bytes (the binary header). */
export class TraceReader {
  private reader: TextTraceReader | BinaryTraceReader | undefined;
  private head: Uint8Array = new Uint8Array(0);
  format: TraceFormat | undefined;

  /** `consumerFor` is asked once, when the format is known (errors say "line" or "record"). */
  constructor(private readonly consumerFor: (format: TraceFormat) => TraceConsumer, private readonly lenient = false) {}

  /** Lines (text) or records (binary) read. */
  get position(): number {
    return this.reader === undefined ? 0 : this.reader instanceof BinaryTraceReader ? this.reader.record : this.reader.line;
  }

  push(chunk: Uint8Array): void {
    if (this.reader !== undefined) return this.reader.push(chunk);
    this.head = concat(this.head, chunk);
    if (this.head.length >= BINARY_MAGIC.length) this.start();
  }

  end(): void {
    if (this.reader === undefined) this.start();
    this.reader!.end();
  }

  private start(): void {
    const first = this.head;
    this.head = new Uint8Array(0);
    this.format = isBinaryTrace(first) ? "binary" : "text";
    const out = this.consumerFor(this.format);
    this.reader = this.format === "binary" ? new BinaryTraceReader(out, this.lenient) : new TextTraceReader(out, this.lenient);
    this.reader.push(first);
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b;
  const c = new Uint8Array(a.length + b.length);
  c.set(a);
  c.set(b, a.length);
  return c;
}

/** Feeds every chunk of `chunks` to `reader`, then ends it. */
export async function pump(chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, reader: { push(c: Uint8Array): void; end(): void }): Promise<void> {
  for await (const c of chunks) reader.push(c);
  reader.end();
}

/**
 * Collects a streamed trace as parseTrace's result (operations, skipped lines, ignored events):
 * for callers that need the whole trace as objects (allocators --trace). Binary ids become their
 * names (or decimal numbers), record numbers stand for line numbers. Memory grows with the trace.
 */
export async function collectTrace(chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, options: { lenient?: boolean } = {}): Promise<ParsedTrace> {
  const ops: TraceOp[] = [];
  const skipped: SkippedLine[] = [];
  let ignored = 0;
  const names = new Map<number, string>();
  const id = (x: TraceId) => (typeof x === "string" ? x : (names.get(x) ?? String(x)));
  const out: TraceConsumer = {
    map: (x, phys, bytes, dir, line) => void ops.push({ kind: "map", id: id(x), phys, bytes, dir: DIRECTIONS[dir], line }),
    unmap: (x, line) => void ops.push({ kind: "unmap", id: id(x), line }),
    mapSg: (x, dir, phys, bytes, count, line) =>
      void ops.push({ kind: "map_sg", id: id(x), dir: DIRECTIONS[dir], segments: Array.from({ length: count }, (_, k) => ({ phys: phys[k], bytes: bytes[k] })), line }),
    unmapSg: (x, line) => void ops.push({ kind: "unmap_sg", id: id(x), line }),
    alloc: (x, bytes, line) => void ops.push({ kind: "alloc", id: id(x), bytes, line }),
    free: (x, line) => void ops.push({ kind: "free", id: id(x), line }),
    access: (x, offset, bytes, write, line) => void ops.push({ kind: "access", id: id(x), offset, bytes, write, line }),
    cpu: (cpu, line) => void ops.push({ kind: "cpu", cpu, line }),
    name: (x, name) => void names.set(x, name),
    skip: (line, text, reason) => void skipped.push({ line, text, reason }),
    ignore: () => void ignored++,
  };
  await pump(chunks, new TraceReader(() => out, options.lenient));
  return { ops, skipped, ignored };
}

export interface StreamReplayOptions extends Pick<RunnerOptions, "refusal"> {
  lenient?: boolean;
  /** Released ids kept reachable for access-after-unmap. @default 65536 */
  releasedWindow?: number;
  /** Called for every map / map_sg / alloc, in trace order, as batches complete. */
  onAddress?: (id: string, line: number, dma: number[] | null) => void;
}

export interface StreamReplayResult {
  format: TraceFormat;
  /** Operations applied (cpu switches excluded). */
  operations: number;
  skipped: SkippedLine[];
  ignored: number;
  batches: number;
  /** Ids remembered and handles in use at the end: bounded by the live set and the released window. */
  footprint: { slots: number; handles: number };
}

/**
 * Replays a trace streamed in chunks onto any sink with the shape of BatchArea (the WASM core's
 * io.batch, or a priced sink consuming the same records): `handles` is the sink's handle table
 * size, `cpus` the CPUs it models and `perCpu` whether it keeps per-CPU state (then a CPU beyond
 * `cpus` is refused). Memory stays bounded whatever the trace's length.
 */
export async function replayStreamOnto(
  chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  sink: BatchArea,
  options: StreamReplayOptions & Pick<RunnerOptions, "handles" | "cpus" | "perCpu">,
): Promise<StreamReplayResult> {
  let runner: TraceRunner | undefined;
  const reader = new TraceReader((format) => (runner = new TraceRunner(sink, { ...options, unit: format === "binary" ? "record" : "line" })), options.lenient);
  await pump(chunks, reader);
  const r = runner!;
  r.finish();
  // in line order, as replay.ts gives them (a refused record is found when its batch runs)
  const skipped = r.skipped.sort((a, b) => a.line - b.line);
  return { format: reader.format!, operations: r.operations, skipped, ignored: r.ignored, batches: r.batches, footprint: r.table.footprint() };
}

/** The streamed replay's handle table and batch: large enough for any realistic live set. */
export const STREAM_SIZING = { maxHandles: 1 << 20, batchCapacity: 8192, cpus: MAX_TRACE_CPU + 1 } as const;

export interface StreamedReplay extends StreamReplayResult {
  stats: Stats;
  /** Every address handed out, when `collectAddresses` (memory grows with the trace). */
  addresses: MappedAddress[];
}

/**
 * replayTrace's streamed twin: replays chunks on an IOMMU made by `make` (spread the sizing into
 * its options; `cpus` may be overridden: a per-CPU configuration then refuses CPUs beyond it).
 */
export async function replayTraceStream(
  chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  make: (sizing: Pick<IommuOptions, "maxHandles" | "batchCapacity" | "cpus">) => Iommu,
  options: StreamReplayOptions & { collectAddresses?: boolean } = {},
): Promise<StreamedReplay> {
  const iommu = make({ ...STREAM_SIZING });
  const addresses: MappedAddress[] = [];
  const onAddress = options.collectAddresses
    ? (id: string, line: number, dma: number[] | null) => {
        addresses.push({ id, line, dma });
        options.onAddress?.(id, line, dma);
      }
    : options.onAddress;
  const r = await replayStreamOnto(chunks, iommu.batch, {
    ...options,
    onAddress,
    handles: iommu.config.maxHandles,
    cpus: iommu.config.cpus,
    perCpu: isPerCpu(iommu.config),
    refusal: (op) => refusal(op, iommu.config),
  });
  return { ...r, stats: iommu.stats(), addresses };
}
