// The binary trace format: the native text format's operations as fixed 16-byte records laid
// out like the core's batch records (assembly/batch.ts), with trace ids where the batch has
// handles. Little-endian whatever the host; documented in the README ("Binary traces").
//
//  header (16 bytes): magic 89 49 4F 54 52 41 43 45 ("\x89IOTRACE"), u16 version = 1,
//                     u16 record size = 16, u32 flags = 0
//  record:  w0: op | arg << 4 | page offset << 8 | pfn bits 32…43 << 20,  w1: id,  w2,  w3
//    1 map       arg = dir (0 bidirectional, 1 to-device, 2 from-device)  w2 = pfn bits 0…31  w3 = bytes
//    2 unmap
//    3 map_sg    arg = dir   w2 = element count n (1 … 4096); the next n records are elements:
//    4 sg elem   page offset, pfn as in map                               w2 = pfn bits 0…31  w3 = bytes
//    5 unmap_sg
//    6 alloc                                                                                  w3 = bytes
//    7 free
//    8 access    arg = 1 for a write                                      w2 = byte offset    w3 = bytes
//    9 cpu       the following records run on CPU w2 (0 … 63)
//   15 name      number w1 is called by the UTF-8 name of w2 bytes (1 … 1024) in the next ⌈w2/16⌉
//                records (zero-padded); ids without one are shown as their decimal number
//
// The pfn carries 44 bits (physical addresses up to 2^56; text traces stop at 2^53).

import { OP, SG_MAX } from "../abi.js";
import { ConfigError } from "../errors.js";
import type { TraceConsumer, TraceId } from "./consumer.js";
import { MAX_TRACE_CPU, TraceError } from "./parse.js";

export const BINARY_MAGIC = Uint8Array.of(0x89, 0x49, 0x4f, 0x54, 0x52, 0x41, 0x43, 0x45);
export const BINARY_VERSION = 1;
export const RECORD_BYTES = 16;
export const HEADER_BYTES = 16;
export const MAX_NAME_BYTES = 1024;

// The batch record's operation codes, and one of the format's own.
const { map: OP_MAP, unmap: OP_UNMAP, mapSg: OP_MAP_SG, sgElem: OP_SG_ELEM, unmapSg: OP_UNMAP_SG, alloc: OP_ALLOC, free: OP_FREE, access: OP_ACCESS, cpu: OP_CPU } = OP;
const OP_NAME = 15;

const TWO32 = 2 ** 32;
const LITTLE_ENDIAN_HOST = new Uint8Array(Uint32Array.of(1).buffer)[0] === 1;
/** Ids the text → binary writer numbers itself (names that are not a small decimal number). */
const NAMED_IDS_FROM = 2 ** 31;

/** A name text traces can carry as an id: a word, no whitespace, no comment. */
export function isTextId(name: string): boolean {
  return name !== "" && !/[\s#]/.test(name);
}

/** True if `b` starts with the binary trace magic. */
export function isBinaryTrace(b: Uint8Array): boolean {
  if (b.length < BINARY_MAGIC.length) return false;
  for (let i = 0; i < BINARY_MAGIC.length; i++) if (b[i] !== BINARY_MAGIC[i]) return false;
  return true;
}

function swap32(b: Uint8Array, n: number): void {
  for (let i = 0; i + 3 < n; i += 4) {
    const x = b[i];
    b[i] = b[i + 3];
    b[i + 3] = x;
    const y = b[i + 1];
    b[i + 1] = b[i + 2];
    b[i + 2] = y;
  }
}

function header(): Uint8Array {
  const h = new Uint8Array(HEADER_BYTES);
  h.set(BINARY_MAGIC);
  h[8] = BINARY_VERSION;
  h[10] = RECORD_BYTES;
  return h;
}

/** Binary trace bytes → operations for a TraceConsumer. Errors name the record (1 = first after the header). */
export class BinaryTraceReader {
  /** Records read so far. */
  record = 0;
  private work = new Uint8Array(1 << 16);
  private words = new Uint32Array(this.work.buffer);
  private have = 0;
  private headerSeen = false;
  private phys = new Float64Array(SG_MAX);
  private bytes = new Float64Array(SG_MAX);
  private readonly utf8 = new TextDecoder();

  constructor(private readonly out: TraceConsumer, private readonly lenient = false) {}

  push(chunk: Uint8Array): void {
    let pos = 0;
    while (pos < chunk.length) {
      const room = this.work.length - this.have;
      const n = Math.min(room, chunk.length - pos);
      this.work.set(chunk.subarray(pos, pos + n), this.have);
      this.have += n;
      pos += n;
      this.drain(false);
    }
  }

  end(): void {
    this.drain(true);
    if (!this.headerSeen) throw new TraceError(0, "", "binary trace shorter than its 16-byte header", "record");
    if (this.have > 0) {
      throw new TraceError(this.record + 1, `${this.have} bytes`, `the trace ends inside a record (records are ${RECORD_BYTES} bytes)`, "record");
    }
  }

  /** Decodes the complete records held; keeps an unfinished one (or a map_sg / name with its tail) for later. */
  private drain(atEnd: boolean): void {
    let at = 0;
    if (!this.headerSeen) {
      if (this.have < HEADER_BYTES) return;
      this.checkHeader();
      at = HEADER_BYTES;
      this.headerSeen = true;
    }
    const avail = this.have - ((this.have - at) % RECORD_BYTES);
    if (!LITTLE_ENDIAN_HOST) swap32(this.work.subarray(at, avail), avail - at);
    const w = this.words;
    const out = this.out;
    const packed = out.mapPacked !== undefined;
    while (at + RECORD_BYTES <= avail) {
      const i = at >> 2;
      const w0 = w[i];
      const op = w0 & 15;
      const arg = (w0 >>> 4) & 15;
      const line = this.record + 1;
      let used = 1;
      switch (op) {
        case OP_MAP: {
          const phys = this.physOf(w0, w[i + 2]);
          if (arg > 2 || w[i + 3] === 0 || phys < 0) {
            this.bad(line, at, arg > 2 ? `direction ${arg}; expected 0, 1 or 2` : w[i + 3] === 0 ? "bytes 0; expected 1 or more" : "physical address beyond 2^53");
            break;
          }
          if (packed) out.mapPacked!(w[i + 1], w0, w[i + 2], w[i + 3], phys, line);
          else out.map(w[i + 1], phys, w[i + 3], arg, line);
          break;
        }
        case OP_UNMAP: out.unmap(w[i + 1], line); break;
        case OP_UNMAP_SG: out.unmapSg(w[i + 1], line); break;
        case OP_FREE: out.free(w[i + 1], line); break;
        case OP_ALLOC:
          if (w[i + 3] === 0) this.bad(line, at, "bytes 0; expected 1 or more");
          else out.alloc(w[i + 1], w[i + 3], line);
          break;
        case OP_ACCESS:
          if (arg > 1 || w[i + 3] === 0) this.bad(line, at, arg > 1 ? `access kind ${arg}; expected 0 (read) or 1 (write)` : "bytes 0; expected 1 or more");
          else out.access(w[i + 1], w[i + 2], w[i + 3], arg === 1, line);
          break;
        case OP_CPU:
          if (w[i + 2] > MAX_TRACE_CPU) this.bad(line, at, `cpu ${w[i + 2]}; expected 0 to ${MAX_TRACE_CPU}`);
          else out.cpu(w[i + 2], line);
          break;
        case OP_MAP_SG: {
          const count = w[i + 2];
          if (count === 0 || count > SG_MAX || arg > 2) {
            this.fatal(line, at, arg > 2 ? `direction ${arg}; expected 0, 1 or 2` : `map_sg of ${count} elements; expected 1 to ${SG_MAX}`);
          }
          if (at + (1 + count) * RECORD_BYTES > avail) {
            if (atEnd) this.fatal(line, at, `the trace ends inside this map_sg's ${count} elements`);
            return this.keep(at);
          }
          let ok = true;
          for (let k = 0; k < count; k++) {
            const e = i + 4 * (k + 1);
            const phys = this.physOf(w[e], w[e + 2]);
            if ((w[e] & 15) !== OP_SG_ELEM) this.fatal(line + 1 + k, at + (k + 1) * RECORD_BYTES, `record ${k + 1} of a map_sg of ${count} is not an sg element`);
            if (phys < 0 || w[e + 3] === 0) {
              ok = false;
              this.bad(line + 1 + k, at + (k + 1) * RECORD_BYTES, phys < 0 ? "physical address beyond 2^53" : "bytes 0; expected 1 or more");
              break;
            }
            this.phys[k] = phys;
            this.bytes[k] = w[e + 3];
          }
          if (ok) out.mapSg(w[i + 1], arg, this.phys, this.bytes, count, line);
          used = 1 + count;
          break;
        }
        case OP_NAME: {
          const len = w[i + 2];
          if (len === 0 || len > MAX_NAME_BYTES) this.fatal(line, at, `name of ${len} bytes; expected 1 to ${MAX_NAME_BYTES}`);
          const tail = Math.ceil(len / RECORD_BYTES);
          if (at + (1 + tail) * RECORD_BYTES > avail) {
            if (atEnd) this.fatal(line, at, "the trace ends inside this name");
            return this.keep(at);
          }
          const start = at + RECORD_BYTES;
          if (!LITTLE_ENDIAN_HOST) swap32(this.work.subarray(start, start + tail * RECORD_BYTES), tail * RECORD_BYTES);
          const name = this.utf8.decode(this.work.subarray(start, start + len));
          if (!isTextId(name)) this.fatal(line, at, `name ${JSON.stringify(name)} cannot be a trace id (it holds whitespace or '#')`);
          out.name(w[i + 1], name);
          if (!LITTLE_ENDIAN_HOST) swap32(this.work.subarray(start, start + tail * RECORD_BYTES), tail * RECORD_BYTES);
          used = 1 + tail;
          break;
        }
        default:
          this.bad(line, at, `record type ${op}; expected 1–9 or 15`);
      }
      this.record += used;
      at += used * RECORD_BYTES;
    }
    this.keep(at);
  }

  /** Moves the bytes from `at` on to the front of the work buffer (growing it for a long map_sg). */
  private keep(at: number): void {
    if (!LITTLE_ENDIAN_HOST) {
      const whole = this.have - ((this.have - at) % RECORD_BYTES);
      swap32(this.work.subarray(at, whole), whole - at); // back to file order: drain swaps again
    }
    this.work.copyWithin(0, at, this.have);
    this.have -= at;
    if (this.have === this.work.length) {
      const w = new Uint8Array(this.work.length * 2);
      w.set(this.work);
      this.work = w;
      this.words = new Uint32Array(w.buffer);
    }
  }

  private physOf(w0: number, lo: number): number {
    const pfn = (w0 >>> 20) * TWO32 + lo;
    const phys = pfn * 4096 + ((w0 >>> 8) & 0xfff);
    return phys > Number.MAX_SAFE_INTEGER ? -1 : phys;
  }

  private checkHeader(): void {
    const b = this.work;
    if (!isBinaryTrace(b)) throw new TraceError(0, "", "not a binary trace (no \\x89IOTRACE magic)", "record");
    const version = b[8] | (b[9] << 8);
    const size = b[10] | (b[11] << 8);
    if (version !== BINARY_VERSION) throw new TraceError(0, `version ${version}`, `binary trace version ${version}; this iommu-sim reads version ${BINARY_VERSION}`, "record");
    if (size !== RECORD_BYTES) throw new TraceError(0, `record size ${size}`, `binary trace records of ${size} bytes; version 1 has ${RECORD_BYTES}`, "record");
  }

  private text(at: number): string {
    const w = this.words;
    const i = at >> 2;
    return [w[i], w[i + 1], w[i + 2], w[i + 3]].map((x) => x.toString(16).padStart(8, "0")).join(" ");
  }

  /** A malformed record: stop, or skip it under lenient. */
  private bad(line: number, at: number, reason: string): void {
    if (!this.lenient) this.fatal(line, at, reason);
    this.out.skip(line, this.text(at), reason);
  }

  /** A record the reader cannot step over (its length is in doubt). */
  private fatal(line: number, at: number, reason: string): never {
    throw new TraceError(line, this.text(at), reason, "record");
  }
}

/** Operations → binary trace bytes, handed to `write` in chunks (the header first). */
export class BinaryTraceWriter implements TraceConsumer {
  private buf: Uint8Array;
  private w: Uint32Array;
  private n = 0;
  private readonly numbers = new Map<string, number>();
  private nextNamed = NAMED_IDS_FROM;
  private readonly utf8 = new TextEncoder();

  constructor(private readonly write: (bytes: Uint8Array) => void, chunkRecords = 1 << 16) {
    this.buf = new Uint8Array(chunkRecords * RECORD_BYTES);
    this.w = new Uint32Array(this.buf.buffer);
    write(header());
  }

  /** A text id's number: a decimal number below 2^31 stands for itself, any other id is numbered and named. */
  private idOf(id: TraceId): number {
    if (typeof id === "number") return id;
    const known = this.numbers.get(id);
    if (known !== undefined) return known;
    let n: number;
    if (/^(0|[1-9]\d{0,9})$/.test(id) && Number(id) < NAMED_IDS_FROM) {
      n = Number(id);
    } else {
      n = this.nextNamed++;
      if (n >= TWO32) throw new ConfigError("id", id, "one of at most 2^31 named ids in one trace");
      this.name(n, id);
    }
    this.numbers.set(id, n);
    return n;
  }

  private room(records: number): void {
    if ((this.n + records) * 4 > this.w.length) this.flush();
    if (records * 4 > this.w.length) {
      this.buf = new Uint8Array(records * RECORD_BYTES);
      this.w = new Uint32Array(this.buf.buffer);
    }
  }

  private put(w0: number, id: number, w2: number, w3: number): void {
    const o = this.n++ << 2;
    this.w[o] = w0;
    this.w[o + 1] = id;
    this.w[o + 2] = w2;
    this.w[o + 3] = w3;
  }

  private putPhys(op: number, arg: number, id: number, phys: number, bytes: number): void {
    const pfn = Math.floor(phys / 4096);
    this.put(op | (arg << 4) | ((phys % 4096) << 8) | (Math.floor(pfn / TWO32) << 20), id, pfn % TWO32, bytes);
  }

  map(id: TraceId, phys: number, bytes: number, dir: number): void {
    const n = this.idOf(id);
    this.room(1);
    this.putPhys(OP_MAP, dir, n, phys, bytes);
  }

  mapSg(id: TraceId, dir: number, phys: Float64Array, bytes: Float64Array, count: number): void {
    const n = this.idOf(id);
    this.room(1 + count);
    this.put(OP_MAP_SG | (dir << 4), n, count, 0);
    for (let k = 0; k < count; k++) this.putPhys(OP_SG_ELEM, 0, 0, phys[k], bytes[k]);
  }

  unmap(id: TraceId): void {
    this.simple(OP_UNMAP, id);
  }

  unmapSg(id: TraceId): void {
    this.simple(OP_UNMAP_SG, id);
  }

  free(id: TraceId): void {
    this.simple(OP_FREE, id);
  }

  alloc(id: TraceId, bytes: number): void {
    const n = this.idOf(id);
    this.room(1);
    this.put(OP_ALLOC, n, 0, bytes);
  }

  access(id: TraceId, offset: number, bytes: number, write: boolean): void {
    const n = this.idOf(id);
    this.room(1);
    this.put(OP_ACCESS | ((write ? 1 : 0) << 4), n, offset, bytes);
  }

  cpu(cpu: number): void {
    this.room(1);
    this.put(OP_CPU, 0, cpu, 0);
  }

  name(id: number, name: string): void {
    const bytes = this.utf8.encode(name);
    if (bytes.length === 0 || bytes.length > MAX_NAME_BYTES) throw new ConfigError("id", name, `1 to ${MAX_NAME_BYTES} bytes of UTF-8 (the binary format's longest name)`);
    const tail = Math.ceil(bytes.length / RECORD_BYTES);
    this.room(1 + tail);
    this.put(OP_NAME, id, bytes.length, 0);
    const at = this.n * RECORD_BYTES;
    this.buf.fill(0, at, at + tail * RECORD_BYTES);
    this.buf.set(bytes, at);
    if (!LITTLE_ENDIAN_HOST) swap32(this.buf.subarray(at, at + tail * RECORD_BYTES), tail * RECORD_BYTES); // flush swaps it back
    this.n += tail;
  }

  skip(): void {}

  ignore(): void {}

  /** Writes what is buffered; call at the end. */
  flush(): void {
    if (this.n === 0) return;
    const bytes = this.buf.slice(0, this.n * RECORD_BYTES);
    if (!LITTLE_ENDIAN_HOST) swap32(bytes, bytes.length);
    this.write(bytes);
    this.n = 0;
  }

  private simple(op: number, id: TraceId): void {
    const n = this.idOf(id);
    this.room(1);
    this.put(op, n, 0, 0);
  }
}
