// What a streamed trace reader hands its operations to: the replay (records onto a batch sink),
// or a writer of the other format (trace convert, trace generate). Plain numbers only, no
// objects per operation: this is the hot path of a 10^8-operation replay.
//
// Ids are strings in text traces and u32 numbers in binary ones (a binary trace may name a
// number with `name`); `line` is the line (text) or record (binary) number, for errors.

/** Direction codes as Linux numbers them (records.ts DIR). */
export type DirCode = 0 | 1 | 2;

export type TraceId = string | number;

export interface TraceConsumer {
  map(id: TraceId, phys: number, bytes: number, dir: number, line: number): void;
  unmap(id: TraceId, line: number): void;
  /** Elements in phys[0 … count) and bytes[0 … count); the arrays are reused by the caller. */
  mapSg(id: TraceId, dir: number, phys: Float64Array, bytes: Float64Array, count: number, line: number): void;
  unmapSg(id: TraceId, line: number): void;
  alloc(id: TraceId, bytes: number, line: number): void;
  free(id: TraceId, line: number): void;
  access(id: TraceId, offset: number, bytes: number, write: boolean, line: number): void;
  cpu(cpu: number, line: number): void;
  /** Binary traces: number `id` is shown (and written as text) as `name` from now on. */
  name(id: number, name: string): void;
  /**
   * Optional: a map whose batch-record words the binary format already holds (w0 = op | dir << 4
   * | page offset << 8 | pfn bits 32…43 << 20, w2 = pfn bits 0…31): a sink of batch records
   * copies them as they are. Readers call map() when it is absent.
   */
  mapPacked?(id: TraceId, w0: number, w2: number, bytes: number, phys: number, line: number): void;
  /** A malformed line skipped under lenient. */
  skip(line: number, text: string, reason: string): void;
  /** A tracepoint event that changes no mapping (dma_sync_*, a failed map). */
  ignore(): void;
}
