// Streamed text traces: bytes in chunks of any size → operations for a TraceConsumer, with the
// same lines, line numbers, values and error messages as parseTrace on the whole text.
//
// A well-formed native line (printable ASCII) is parsed straight from the bytes, and so is a
// well-formed tracepoint line (tracepoint-bytes.ts); anything else (odd whitespace, non-ASCII,
// every malformed line) is decoded and handed to parse.ts's parseLine, which decides and words
// the error. Constant memory: only an unfinished
// line is carried between chunks, and a line is refused past MAX_LINE_BYTES. A line holding
// control bytes other than whitespace is not text (a binary file, /dev/zero, /dev/urandom): the
// replay stops there, under --lenient too, since skipping "lines" of such input never ends.

import { MAX_TRACE_CPU, parseLine, TraceError, type LineState, type SkippedLine, type TraceOp } from "./parse.js";
import type { TraceConsumer } from "./consumer.js";
import { DIRECTION_CODE } from "../inputs.js";
import { ascii, dec, hex, same } from "./line-bytes.js";
import { TracepointBytes } from "./tracepoint-bytes.js";

/** Longest line accepted: a map_sg of 4096 elements, written out in full, fits many times over. */
export const MAX_LINE_BYTES = 1 << 20;

const U32_MAX = 0xffffffff;
const SPACE = 32;
const TAB = 9;
const HASH = 35;
const COLON = 58;

/** A byte that text never holds (whitespace 9–13 aside). */
function isControl(c: number): boolean {
  return c < 9 || (c > 13 && c < 32) || c === 127;
}

function excerpt(b: Uint8Array, s: number, e: number): string {
  const n = Math.min(e - s, 64);
  let t = "";
  for (let i = s; i < s + n; i++) t += String.fromCharCode(b[i]);
  return JSON.stringify(t) + (e - s > n ? ` … (${e - s} bytes)` : "");
}





function direction(b: Uint8Array, s: number, e: number): number {
  switch (e - s) {
    case 9: return same(b, s, e, "to-device") ? 1 : -1;
    case 11: return same(b, s, e, "from-device") ? 2 : -1;
    case 13: return same(b, s, e, "bidirectional") ? 0 : -1;
    default: return -1;
  }
}

/**
 * The next `byte` in `b` from `from`, or -1. In Node, Buffer's indexOf is a memchr, five times the
 * speed of the typed array's own (the newline search is a fifth of a tracepoint line's parse);
 * browsers, without Buffer, take the typed array's. Nothing is imported: this module stays browser-safe.
 */
const bufferIndexOf = (globalThis as { Buffer?: { prototype: { indexOf(this: Uint8Array, v: number, from: number): number } } }).Buffer?.prototype.indexOf;
const findByte: (b: Uint8Array, byte: number, from: number) => number = bufferIndexOf
  ? (b, byte, from) => bufferIndexOf.call(b, byte, from)
  : (b, byte, from) => b.indexOf(byte, from);

const ID_CACHE = 4096;
/** First letters of the native verbs (map, map_sg, unmap, unmap_sg, alloc, free, access, cpu). */
const VERB_START = new Uint8Array(128);
for (const c of "mufac") VERB_START[c.charCodeAt(0)] = 1;

export class TextTraceReader {
  /** Lines seen so far. */
  line = 0;
  private carry = new Uint8Array(0);
  private carryLen = 0;
  private readonly state: LineState = { cpu: 0, ignored: 0 };
  private readonly slowOps: TraceOp[] = [];
  private readonly slowSkipped: SkippedLine[] = [];
  private tok = new Int32Array(64);
  private phys = new Float64Array(64);
  private bytes = new Float64Array(64);
  private readonly utf8 = new TextDecoder();
  /** Recently seen ids by a hash of their bytes: a hit reuses the string (no allocation, hash kept). */
  private readonly idCache: string[] = new Array<string>(ID_CACHE).fill("");
  private pair = new Uint8Array(64);

  private readonly tracepoints: TracepointBytes;

  constructor(private readonly out: TraceConsumer, private readonly lenient = false) {
    this.tracepoints = new TracepointBytes(out, this.state, (b, s1, e1, s2, e2) => this.idPair(b, s1, e1, s2, e2));
  }

  /** Feeds the next bytes of the trace (any split). */
  push(bytes: Uint8Array): void {
    // A plain Uint8Array view (not a Buffer): one array shape keeps the byte loops monomorphic.
    const chunk = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length);
    let pos = 0;
    if (this.carryLen > 0) {
      const nl = findByte(chunk, 10, 0);
      if (nl < 0) return this.hold(chunk, 0);
      this.hold(chunk.subarray(0, nl), 0);
      this.lineAt(this.carry, 0, this.carryLen);
      this.carryLen = 0;
      pos = nl + 1;
    }
    for (;;) {
      const nl = findByte(chunk, 10, pos);
      if (nl < 0) break;
      this.lineAt(chunk, pos, nl);
      pos = nl + 1;
    }
    if (pos < chunk.length) this.hold(chunk, pos);
  }

  /** The end of the trace: its last line, if it has no newline. */
  end(): void {
    if (this.carryLen > 0) {
      this.lineAt(this.carry, 0, this.carryLen, true);
      this.carryLen = 0;
    }
  }

  /** Keeps an unfinished line; refuses it once it is too long or shows it is not text. */
  private hold(b: Uint8Array, s: number): void {
    const n = b.length - s;
    const line = this.line + 1;
    for (let i = s; i < b.length; i++) {
      if (isControl(b[i])) throw new TraceError(line, excerpt(b, s, b.length), `not text (byte 0x${b[i].toString(16).padStart(2, "0")}); a trace is text or the binary format`);
    }
    if (this.carryLen + n > MAX_LINE_BYTES) {
      throw new TraceError(line, this.carryLen ? excerpt(this.carry, 0, this.carryLen) : excerpt(b, s, b.length), `line longer than ${MAX_LINE_BYTES} bytes`);
    }
    if (this.carryLen + n > this.carry.length) {
      const c = new Uint8Array(Math.max(this.carryLen + n, this.carry.length * 2, 256));
      c.set(this.carry.subarray(0, this.carryLen));
      this.carry = c;
    }
    this.carry.set(b.subarray(s), this.carryLen);
    this.carryLen += n;
  }

  /** Line [s, e) without its newline; `last`: the trace's unterminated last line, which keeps a '\r' (as split(/\r?\n/) does). */
  private lineAt(b: Uint8Array, s: number, e: number, last = false): void {
    const line = ++this.line;
    if (e - s > MAX_LINE_BYTES) throw new TraceError(line, excerpt(b, s, e), `line longer than ${MAX_LINE_BYTES} bytes`);
    if (!last && e > s && b[e - 1] === 13) e--;
    if (!this.fast(b, s, e, line) && !this.tracepoints.line(b, s, e, line)) this.slow(b, s, e, line);
  }

  /** The id in bytes [s, e) (printable ASCII) as a string, from the cache when it was seen lately. */
  private id(b: Uint8Array, s: number, e: number): string {
    let h = e - s;
    for (let i = s; i < e; i++) h = (Math.imul(h, 31) + b[i]) | 0;
    const k = (h ^ (h >>> 12)) & (ID_CACHE - 1);
    const c = this.idCache[k];
    if (c.length === e - s) {
      let i = 0;
      while (i < c.length && c.charCodeAt(i) === b[s + i]) i++;
      if (i === c.length) return c;
    }
    return (this.idCache[k] = ascii(b, s, e));
  }

  /** `dev@addr`, a tracepoint id, from bytes [s1, e1) and [s2, e2), cached like id(). */
  private idPair(b: Uint8Array, s1: number, e1: number, s2: number, e2: number): string {
    // the device rarely changes: its length and last byte are enough in the hash (the compare decides)
    let h = (e1 - s1) * 131 + (e1 > s1 ? b[e1 - 1] : 0);
    for (let i = s2; i < e2; i++) h = (Math.imul(h, 31) + b[i]) | 0;
    const k = (h ^ (h >>> 12)) & (ID_CACHE - 1);
    const c = this.idCache[k];
    const n1 = e1 - s1;
    if (c.length === n1 + 1 + e2 - s2 && c.charCodeAt(n1) === 64) {
      let i = 0;
      while (i < n1 && c.charCodeAt(i) === b[s1 + i]) i++;
      if (i === n1) {
        let j = 0;
        while (j < e2 - s2 && c.charCodeAt(n1 + 1 + j) === b[s2 + j]) j++;
        if (j === e2 - s2) return c;
      }
    }
    // one flat string (a concatenation would be a cons string, slower to hash and compare)
    const n = n1 + 1 + e2 - s2;
    if (n > this.pair.length) this.pair = new Uint8Array(n * 2);
    this.pair.set(b.subarray(s1, e1), 0);
    this.pair[n1] = 64;
    this.pair.set(b.subarray(s2, e2), n1 + 1);
    return (this.idCache[k] = ascii(this.pair, 0, n));
  }

  /** Splits printable-ASCII words into tok (start, end pairs) up to a '#'; -1 on any other byte. */
  private words(b: Uint8Array, s: number, e: number): number {
    let n = 0;
    let i = s;
    for (;;) {
      while (i < e && (b[i] === SPACE || b[i] === TAB)) i++;
      if (i === e) return n;
      if (b[i] === HASH) {
        // parse.ts cuts /#.*$/, which does not reach past a '\r' or U+2028/9: leave those to it
        for (let j = i; j < e; j++) if (b[j] === 13 || b[j] > 127) return -1;
        return n;
      }
      const start = i;
      for (; i < e; i++) {
        const c = b[i];
        if (c === SPACE || c === TAB) break;
        if (c === HASH) {
          for (let j = i; j < e; j++) if (b[j] === 13 || b[j] > 127) return -1;
          break;
        }
        if (c < 33 || c > 126) return -1;
      }
      // Not a native verb (a tracepoint line, say): stop here, the other paths take it.
      if (n === 0 && (i - start > 8 || !VERB_START[b[start]])) return -1;
      if (2 * n + 2 > this.tok.length) {
        const t = new Int32Array(this.tok.length * 2);
        t.set(this.tok);
        this.tok = t;
      }
      this.tok[2 * n] = start;
      this.tok[2 * n + 1] = i;
      n++;
    }
  }

  /** A well-formed native line straight from the bytes; false sends it to the slow path. */
  private fast(b: Uint8Array, s: number, e: number, line: number): boolean {
    const n = this.words(b, s, e);
    if (n <= 0) return n === 0;
    const t = this.tok;
    const v0 = t[0];
    const v1 = t[1];
    const out = this.out;
    switch (v1 - v0) {
      case 3:
        if (same(b, v0, v1, "map")) {
          if (n !== 5) return false;
          const phys = hex(b, t[4], t[5]);
          const bytes = dec(b, t[6], t[7]);
          const dir = direction(b, t[8], t[9]);
          if (phys < 0 || bytes < 1 || bytes > U32_MAX || dir < 0) return false;
          out.map(this.id(b, t[2], t[3]), phys, bytes, dir, line);
          return true;
        }
        if (same(b, v0, v1, "cpu")) {
          if (n !== 2) return false;
          const cpu = dec(b, t[2], t[3]);
          if (cpu < 0 || cpu > MAX_TRACE_CPU) return false;
          this.state.cpu = cpu;
          out.cpu(cpu, line);
          return true;
        }
        return false;
      case 5:
        if (same(b, v0, v1, "unmap")) {
          if (n !== 2) return false;
          out.unmap(this.id(b, t[2], t[3]), line);
          return true;
        }
        if (same(b, v0, v1, "alloc")) {
          if (n !== 3) return false;
          const bytes = dec(b, t[4], t[5]);
          if (bytes < 1 || bytes > U32_MAX) return false;
          out.alloc(this.id(b, t[2], t[3]), bytes, line);
          return true;
        }
        return false;
      case 4:
        if (same(b, v0, v1, "free")) {
          if (n !== 2) return false;
          out.free(this.id(b, t[2], t[3]), line);
          return true;
        }
        return false;
      case 6:
        if (same(b, v0, v1, "access")) {
          if (n !== 5) return false;
          const offset = dec(b, t[4], t[5]);
          const bytes = dec(b, t[6], t[7]);
          const w = same(b, t[8], t[9], "write");
          if (offset < 0 || offset > U32_MAX || bytes < 1 || bytes > U32_MAX || (!w && !same(b, t[8], t[9], "read"))) return false;
          out.access(this.id(b, t[2], t[3]), offset, bytes, w, line);
          return true;
        }
        if (same(b, v0, v1, "map_sg")) return n >= 4 && this.mapSg(b, n, line);
        return false;
      case 8:
        if (same(b, v0, v1, "unmap_sg")) {
          if (n !== 2) return false;
          out.unmapSg(this.id(b, t[2], t[3]), line);
          return true;
        }
        return false;
      default:
        return false;
    }
  }

  private mapSg(b: Uint8Array, n: number, line: number): boolean {
    const t = this.tok;
    const dir = direction(b, t[4], t[5]);
    if (dir < 0) return false;
    const count = n - 3;
    if (count > this.phys.length) {
      this.phys = new Float64Array(count * 2);
      this.bytes = new Float64Array(count * 2);
    }
    for (let k = 0; k < count; k++) {
      const s = t[6 + 2 * k];
      const e = t[7 + 2 * k];
      const colon = b.indexOf(COLON, s);
      if (colon < 0 || colon >= e) return false;
      const phys = hex(b, s, colon);
      const bytes = dec(b, colon + 1, e);
      if (phys < 0 || bytes < 1 || bytes > U32_MAX) return false; // a second ':' fails dec
      this.phys[k] = phys;
      this.bytes[k] = bytes;
    }
    this.out.mapSg(this.id(b, t[2], t[3]), dir, this.phys, this.bytes, count, line);
    return true;
  }

  /** Tracepoint lines, malformed lines and anything unusual: parse.ts decides, as for a whole file. */
  private slow(b: Uint8Array, s: number, e: number, line: number): void {
    for (let i = s; i < e; i++) {
      if (isControl(b[i])) {
        throw new TraceError(line, excerpt(b, s, e), `not text (byte 0x${b[i].toString(16).padStart(2, "0")} at column ${i - s + 1}); a trace is text or the binary format`);
      }
    }
    const raw = this.utf8.decode(b.subarray(s, e));
    const ops = this.slowOps;
    const skipped = this.slowSkipped;
    const ignoredBefore = this.state.ignored;
    ops.length = 0;
    skipped.length = 0;
    parseLine(raw, line, this.state, ops, this.lenient ? skipped : undefined);
    const out = this.out;
    for (let k = this.state.ignored - ignoredBefore; k > 0; k--) out.ignore();
    for (const x of skipped) out.skip(x.line, x.text, x.reason);
    for (const op of ops) {
      switch (op.kind) {
        case "map": out.map(op.id, op.phys, op.bytes, DIRECTION_CODE[op.dir], line); break;
        case "unmap": out.unmap(op.id, line); break;
        case "map_sg": {
          const count = op.segments.length;
          if (count > this.phys.length) {
            this.phys = new Float64Array(count * 2);
            this.bytes = new Float64Array(count * 2);
          }
          op.segments.forEach((x, k) => {
            this.phys[k] = x.phys;
            this.bytes[k] = x.bytes;
          });
          out.mapSg(op.id, DIRECTION_CODE[op.dir], this.phys, this.bytes, count, line);
          break;
        }
        case "unmap_sg": out.unmapSg(op.id, line); break;
        case "alloc": out.alloc(op.id, op.bytes, line); break;
        case "free": out.free(op.id, line); break;
        case "access": out.access(op.id, op.offset, op.bytes, op.write, line); break;
        case "cpu": out.cpu(op.cpu, line); break;
      }
    }
  }
}
