// The streamed replay's back end: trace operations → batch records on a sink with the shape of
// BatchArea (the WASM core's io.batch, or any sink that consumes the same records, e.g. a priced
// simulation), run every time the batch fills. Ids become handles here (handles.ts), checked in
// sequence exactly as the whole-file replay (replay.ts) checks them, with the same messages.

import { BAD_RECORD, IO_PAGE_SIZE, OP, SG_MAX } from "../abi.js";
import { ConfigError } from "../errors.js";
import { putAccess, putAlloc, putCpu, putFree, putMap, putMapSg, putUnmap, putUnmapSg } from "../records.js";
import type { BatchArea } from "../types.js";
import type { TraceConsumer, TraceId } from "./consumer.js";
import { HandlesExhausted, HandleTable, KIND_COHERENT, KIND_SG, KIND_SINGLE, OutOfSequence } from "./handles.js";
import { TraceError, type SkippedLine, type TraceOp } from "./parse.js";

export interface RunnerOptions {
  /** Handles in the sink's handle table. */
  handles: number;
  /** CPUs the sink models. */
  cpus: number;
  /** The sink keeps per-CPU state (IOVA magazines, flush queues): a CPU beyond `cpus` is refused. */
  perCpu: boolean;
  lenient?: boolean;
  /** Released ids kept reachable for access-after-unmap (handles.ts). @default 65536 */
  releasedWindow?: number;
  /** Called for every map / map_sg / alloc with what the sink handed out (null: IO space full). */
  onAddress?: (id: string, line: number, dma: number[] | null) => void;
  /** "line" (text) or "record" (binary) in error messages. */
  unit?: string;
  /**
   * Why the sink refused a record (BAD_RECORD, or another result below it: the priced model's
   * refusals), given the operation and the result. @default a generic reason
   */
  refusal?: (op: TraceOp, result: number) => string;
}

const OP_MASK = 15;
/** Binary ids below this are looked up in a dense table (trace generate numbers ids by slot). */
const DENSE_IDS = 1 << 20;
const { map: OP_MAP, unmap: OP_UNMAP, mapSg: OP_MAP_SG, unmapSg: OP_UNMAP_SG, alloc: OP_ALLOC, free: OP_FREE, access: OP_ACCESS, cpu: OP_CPU } = OP;
const VERB: Record<number, TraceOp["kind"]> = { [OP_MAP]: "map", [OP_UNMAP]: "unmap", [OP_MAP_SG]: "map_sg", [OP_UNMAP_SG]: "unmap_sg", [OP_ALLOC]: "alloc", [OP_FREE]: "free", [OP_ACCESS]: "access" };

export class TraceRunner implements TraceConsumer {
  /** Operations applied (cpu switches excluded), as replay.ts counts them. */
  operations = 0;
  /** Malformed (reader) or out-of-sequence (here) lines skipped under lenient, in line order. */
  readonly skipped: SkippedLine[] = [];
  ignored = 0;
  /** Batches run. */
  batches = 0;

  private readonly ids = new Map<TraceId, number>();
  private dense: Int32Array | undefined;
  private readonly slotIds: TraceId[] = [];
  private readonly names = new Map<number, string>();
  readonly table: HandleTable;
  private readonly ops: Uint32Array;
  private readonly capacity: number;
  private n = 0;
  private readonly seg: Array<{ phys: number; bytes: number }> = [];
  /** Per record of the pending batch: its trace id and line, and (map, sg elements) phys and bytes. */
  private readonly recId: TraceId[];
  private readonly recLine: Float64Array;
  private readonly recPhys: Float64Array;
  private readonly recBytes: Float64Array;
  private readonly track: boolean;
  private readonly unit: string;

  constructor(private readonly sink: BatchArea, private readonly options: RunnerOptions) {
    if (sink.capacity < SG_MAX + 1) throw new ConfigError("batchCapacity", sink.capacity, `at least ${SG_MAX + 1} for a streamed replay (a map_sg of ${SG_MAX} elements is one batch)`);
    this.ops = sink.ops;
    this.capacity = sink.capacity;
    this.track = options.onAddress !== undefined;
    this.recId = new Array<TraceId>(sink.capacity);
    this.recLine = new Float64Array(sink.capacity);
    this.recPhys = new Float64Array(sink.capacity);
    this.recBytes = new Float64Array(sink.capacity);
    this.unit = options.unit ?? "line";
    this.table = new HandleTable({
      handles: options.handles,
      releasedWindow: options.releasedWindow,
      forget: (slot) => this.unlink(this.slotIds[slot]),
      show: (id) => JSON.stringify(this.show(id)),
    });
  }

  /** The id as the trace's text shows it. */
  show(id: TraceId): string {
    return typeof id === "string" ? id : (this.names.get(id) ?? String(id));
  }

  name(id: number, name: string): void {
    this.names.set(id, name);
  }

  map(id: TraceId, phys: number, bytes: number, dir: number, line: number): void {
    const h = this.bound(id, line, KIND_SINGLE, 1, "map", bytes);
    if (h < 0) return;
    this.recPhys[this.n] = phys;
    this.recBytes[this.n] = bytes;
    this.n = putMap(this.ops, this.n, h, phys, bytes, dir);
  }

  mapPacked(id: TraceId, w0: number, w2: number, bytes: number, phys: number, line: number): void {
    const h = this.bound(id, line, KIND_SINGLE, 1, "map", bytes);
    if (h < 0) return;
    this.recPhys[this.n] = phys;
    this.recBytes[this.n] = bytes;
    // the binary format's map record is putMap's record with the id for the handle (tested)
    const o = this.n++ << 2;
    this.ops[o] = w0;
    this.ops[o + 1] = h;
    this.ops[o + 2] = w2;
    this.ops[o + 3] = bytes;
  }

  alloc(id: TraceId, bytes: number, line: number): void {
    const h = this.bound(id, line, KIND_COHERENT, 1, "alloc", bytes);
    if (h >= 0) this.n = putAlloc(this.ops, this.n, h, bytes);
  }

  /**
   * Binds `id` to handles for a new mapping of `kind` (`n` of them; a single one holds `bytes`) and
   * notes the record about to be written; -1 after refusing the line.
   */
  private bound(id: TraceId, line: number, kind: number, n: number, verb: string, bytes: number): number {
    this.room(n === 1 ? 1 : 1 + n);
    let h: number;
    try {
      h = this.table.bind(this.slotOf(id), kind, n, id);
    } catch (e) {
      this.refuse(e, line, verb, id);
      return -1;
    }
    if (n === 1) this.table.lengths[h] = bytes;
    this.note(id, line);
    return h;
  }

  mapSg(id: TraceId, dir: number, phys: Float64Array, bytes: Float64Array, count: number, line: number): void {
    if (count > SG_MAX) return this.refuse(new OutOfSequence(`map_sg with ${count} segments; at most ${SG_MAX}`), line, "map_sg", id);
    this.room(1 + count);
    const slot = this.slotOf(id);
    let h: number;
    try {
      h = this.table.bind(slot, KIND_SG, count, id);
    } catch (e) {
      return this.refuse(e, line, "map_sg", id);
    }
    const seg = this.seg;
    for (let k = 0; k < count; k++) {
      if (k === seg.length) seg.push({ phys: 0, bytes: 0 });
      seg[k].phys = phys[k];
      seg[k].bytes = bytes[k];
      this.table.lengths[h + k] = bytes[k];
      this.recPhys[this.n + 1 + k] = phys[k];
      this.recBytes[this.n + 1 + k] = bytes[k];
    }
    seg.length = count;
    this.note(id, line);
    this.n = putMapSg(this.ops, this.n, h, seg, dir);
  }

  unmap(id: TraceId, line: number): void {
    const h = this.released(id, line, KIND_SINGLE, "unmap");
    if (h >= 0) this.n = putUnmap(this.ops, this.n, h);
  }

  free(id: TraceId, line: number): void {
    const h = this.released(id, line, KIND_COHERENT, "free");
    if (h >= 0) this.n = putFree(this.ops, this.n, h);
  }

  unmapSg(id: TraceId, line: number): void {
    const h = this.released(id, line, KIND_SG, "unmap_sg");
    if (h >= 0) this.n = putUnmapSg(this.ops, this.n, h, this.table.elements(this.lookup(id)!));
  }

  /** The first handle of the live mapping `id` releases (`verb` of `kind`), or -1 after refusing the line. */
  private released(id: TraceId, line: number, kind: number, verb: string): number {
    this.room(1);
    let h: number;
    try {
      h = this.table.release(this.lookup(id), kind, verb, id);
    } catch (e) {
      this.refuse(e, line, verb, id);
      return -1;
    }
    this.note(id, line);
    return h;
  }

  access(id: TraceId, offset: number, bytes: number, write: boolean, line: number): void {
    this.room(1);
    const t = this.table;
    try {
      t.access(this.lookup(id), offset, bytes, id);
    } catch (e) {
      return this.refuse(e, line, "access", id);
    }
    this.note(id, line);
    this.n = putAccess(this.ops, this.n, t.accessHandle, t.accessOffset, bytes, write);
  }

  cpu(cpu: number, line: number): void {
    if (this.options.perCpu && cpu >= this.options.cpus) {
      // Only the IOVA magazines and the flush queues are per CPU; elsewhere a switch changes nothing.
      throw new ConfigError("cpus", this.options.cpus, `at least ${cpu + 1}: the trace runs on CPUs up to ${cpu} (${this.unit} ${line})`);
    }
    this.room(1);
    this.n = putCpu(this.ops, this.n, cpu);
  }

  skip(line: number, text: string, reason: string): void {
    this.skipped.push({ line, text, reason });
  }

  ignore(): void {
    this.ignored++;
  }

  /** Runs what is pending; call once at the end of the trace. */
  finish(): void {
    this.flush();
  }

  /** The slot of a known id: small binary ids through a dense table, the rest through a Map. */
  private lookup(id: TraceId): number | undefined {
    if (typeof id === "number" && id < DENSE_IDS) {
      const s = this.dense === undefined ? -1 : this.dense[id];
      return s < 0 ? undefined : s;
    }
    return this.ids.get(id);
  }

  private slotOf(id: TraceId): number {
    let slot = this.lookup(id);
    if (slot === undefined) {
      slot = this.table.newSlot();
      if (typeof id === "number" && id < DENSE_IDS) (this.dense ??= new Int32Array(DENSE_IDS).fill(-1))[id] = slot;
      else this.ids.set(id, slot);
      this.slotIds[slot] = id;
    }
    return slot;
  }

  private unlink(id: TraceId): void {
    if (typeof id === "number" && id < DENSE_IDS) this.dense![id] = -1;
    else this.ids.delete(id);
  }

  /** The operation about to take record n (an operation that counts, as replay.ts counts them). */
  private note(id: TraceId, line: number): void {
    this.operations++;
    this.recId[this.n] = id;
    this.recLine[this.n] = line;
  }

  private refuse(e: unknown, line: number, verb: string, id: TraceId): void {
    const text = `${verb} ${this.show(id)}`;
    if (e instanceof HandlesExhausted) throw new TraceError(line, text, e.message, this.unit);
    if (!(e instanceof OutOfSequence)) throw e;
    if (!this.options.lenient) throw new TraceError(line, text, e.message, this.unit);
    this.skipped.push({ line, text, reason: e.message });
  }

  private room(records: number): void {
    if (this.n + records > this.capacity) this.flush();
  }

  private flush(): void {
    if (this.n === 0) return;
    const n = this.n;
    this.sink.run(n);
    this.batches++;
    this.n = 0;
    this.report(n);
  }

  /**
   * After a batch: records the sink refused (BAD_RECORD: it changed nothing) are errors, or
   * skipped under lenient, as replay.ts has them; every other map / map_sg / alloc goes to
   * onAddress (dma = page × 4096 + the record's page offset).
   */
  private report(n: number): void {
    const { ops } = this;
    const results = this.sink.results;
    const onAddress = this.options.onAddress;
    for (let i = 0; i < n; i++) {
      const w0 = ops[i << 2];
      const op = w0 & OP_MASK;
      const count = op === OP_MAP_SG ? ops[(i << 2) + 2] : 0;
      if (results[i] <= BAD_RECORD && op !== OP_CPU) {
        this.refused(i, op, count, results[i]);
      } else if (this.track && (op === OP_MAP || op === OP_ALLOC)) {
        const r = results[i];
        onAddress!(this.show(this.recId[i]), this.recLine[i], r < 0 ? null : [r * IO_PAGE_SIZE + (op === OP_MAP ? (w0 >>> 8) & 0xfff : 0)]);
      } else if (this.track && op === OP_MAP_SG) {
        let dma: number[] | null = null;
        if (results[i] !== 0) {
          dma = new Array<number>(count);
          for (let k = 0; k < count; k++) dma[k] = results[i + 1 + k] * IO_PAGE_SIZE + ((ops[(i + 1 + k) << 2] >>> 8) & 0xfff);
        }
        onAddress!(this.show(this.recId[i]), this.recLine[i], dma);
      }
      i += count;
    }
  }

  private refused(i: number, op: number, count: number, result: number): void {
    const id = this.show(this.recId[i]);
    const line = this.recLine[i];
    const kind = VERB[op];
    const text = `${kind} ${id}`;
    let reason = "the core refused this operation's batch record";
    if (this.options.refusal) {
      const described: TraceOp =
        op === OP_MAP ? { kind: "map", id, phys: this.recPhys[i], bytes: this.recBytes[i], dir: "bidirectional", line }
        : op === OP_MAP_SG ? { kind: "map_sg", id, dir: "bidirectional", segments: Array.from({ length: count }, (_, k) => ({ phys: this.recPhys[i + 1 + k], bytes: this.recBytes[i + 1 + k] })), line }
        : ({ kind, id, line } as TraceOp);
      reason = this.options.refusal(described, result);
    }
    if (!this.options.lenient) throw new TraceError(line, text, reason, this.unit);
    this.skipped.push({ line, text, reason });
  }
}
