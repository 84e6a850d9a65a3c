// The streamed replay's back end: trace operations → batch records on a sink with the shape of
// BatchArea (the WASM core's io.batch, or any sink that consumes the same records, e.g. a priced
// simulation), run every time the batch fills. Ids become handles here (handles.ts), checked in
// sequence exactly as the whole-file replay (replay.ts) checks them, with the same messages.

import { IO_PAGE_SIZE, SG_MAX } from "../abi.js";
import { ConfigError } from "../errors.js";
import { putAccess, putAlloc, putCpu, putFree, putMap, putMapSg, putUnmap, putUnmapSg } from "../records.js";
import type { BatchArea } from "../types.js";
import type { TraceConsumer, TraceId } from "./consumer.js";
import { HandleTable, KIND_COHERENT, KIND_SG, KIND_SINGLE, OutOfSequence } from "./handles.js";
import { TraceError, type SkippedLine } from "./parse.js";

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
}

const OP_MASK = 15;
/** Binary ids below this are looked up in a dense table (trace generate numbers ids by slot). */
const DENSE_IDS = 1 << 20;
const OP_MAP = 1;
const OP_MAP_SG = 3;
const OP_ALLOC = 6;

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
  /** Ids and lines of the addressed records of the pending batch, in record order. */
  private addrIds: TraceId[] = [];
  private addrLines: number[] = [];
  private readonly track: boolean;
  private readonly unit: string;

  constructor(private readonly sink: BatchArea, private readonly options: RunnerOptions) {
    if (sink.capacity < SG_MAX + 1) throw new ConfigError("batchCapacity", sink.capacity, `at least ${SG_MAX + 1} for a streamed replay (a map_sg of ${SG_MAX} elements is one batch)`);
    this.ops = sink.ops;
    this.capacity = sink.capacity;
    this.track = options.onAddress !== undefined;
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
    this.room(1);
    const slot = this.slotOf(id);
    let h: number;
    try {
      h = this.table.bind(slot, KIND_SINGLE, 1, id);
    } catch (e) {
      return this.refuse(e, line, "map", id);
    }
    this.table.lengths[h] = bytes;
    this.n = putMap(this.ops, this.n, h, phys, bytes, dir);
    this.addressed(id, line);
  }

  alloc(id: TraceId, bytes: number, line: number): void {
    this.room(1);
    const slot = this.slotOf(id);
    let h: number;
    try {
      h = this.table.bind(slot, KIND_COHERENT, 1, id);
    } catch (e) {
      return this.refuse(e, line, "alloc", id);
    }
    this.table.lengths[h] = bytes;
    this.n = putAlloc(this.ops, this.n, h, bytes);
    this.addressed(id, line);
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
    }
    seg.length = count;
    this.n = putMapSg(this.ops, this.n, h, seg, dir);
    this.addressed(id, line);
  }

  unmap(id: TraceId, line: number): void {
    this.room(1);
    let h: number;
    try {
      h = this.table.release(this.lookup(id), KIND_SINGLE, "unmap", id);
    } catch (e) {
      return this.refuse(e, line, "unmap", id);
    }
    this.n = putUnmap(this.ops, this.n, h);
    this.operations++;
  }

  free(id: TraceId, line: number): void {
    this.room(1);
    let h: number;
    try {
      h = this.table.release(this.lookup(id), KIND_COHERENT, "free", id);
    } catch (e) {
      return this.refuse(e, line, "free", id);
    }
    this.n = putFree(this.ops, this.n, h);
    this.operations++;
  }

  unmapSg(id: TraceId, line: number): void {
    this.room(1);
    const slot = this.lookup(id);
    let h: number;
    try {
      h = this.table.release(slot, KIND_SG, "unmap_sg", id);
    } catch (e) {
      return this.refuse(e, line, "unmap_sg", id);
    }
    this.n = putUnmapSg(this.ops, this.n, h, this.table.elements(slot!));
    this.operations++;
  }

  access(id: TraceId, offset: number, bytes: number, write: boolean, line: number): void {
    this.room(1);
    const t = this.table;
    try {
      t.access(this.lookup(id), offset, bytes, id);
    } catch (e) {
      return this.refuse(e, line, "access", id);
    }
    this.n = putAccess(this.ops, this.n, t.accessHandle, t.accessOffset, bytes, write);
    this.operations++;
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

  private addressed(id: TraceId, line: number): void {
    this.operations++;
    if (this.track) {
      this.addrIds.push(id);
      this.addrLines.push(line);
    }
  }

  private refuse(e: unknown, line: number, verb: string, id: TraceId): void {
    if (!(e instanceof OutOfSequence)) throw e;
    const text = `${verb} ${this.show(id)}`;
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
    if (this.track) this.report(n);
  }

  /** Hands each addressed record's result to onAddress (dma = page × 4096 + the record's page offset). */
  private report(n: number): void {
    const { ops } = this;
    const results = this.sink.results;
    const onAddress = this.options.onAddress!;
    let a = 0;
    for (let i = 0; i < n; i++) {
      const w0 = ops[i << 2];
      const op = w0 & OP_MASK;
      if (op === OP_MAP || op === OP_ALLOC) {
        const r = results[i];
        onAddress(this.show(this.addrIds[a]), this.addrLines[a++], r < 0 ? null : [r * IO_PAGE_SIZE + (op === OP_MAP ? (w0 >>> 8) & 0xfff : 0)]);
      } else if (op === OP_MAP_SG) {
        const count = ops[(i << 2) + 2];
        let dma: number[] | null = null;
        if (results[i] !== 0) {
          dma = new Array<number>(count);
          for (let k = 0; k < count; k++) dma[k] = results[i + 1 + k] * IO_PAGE_SIZE + ((ops[(i + 1 + k) << 2] >>> 8) & 0xfff);
        }
        onAddress(this.show(this.addrIds[a]), this.addrLines[a++], dma);
        i += count;
      }
    }
    this.addrIds = [];
    this.addrLines = [];
  }
}
