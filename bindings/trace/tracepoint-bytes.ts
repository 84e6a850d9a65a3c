// Kernel `dma:` tracepoint lines parsed straight from the bytes, for the streamed reader: the
// common events (dma_map_page / _phys / _resource, their unmaps, dma_map_sg, dma_unmap_sg,
// dma_alloc, dma_free, and the events that change no mapping) on printable-ASCII lines. It
// accepts exactly what parse.ts's tracepoint rules accept, with the same values; anything it is
// unsure of (a malformed field, a '#', odd bytes) it leaves to parse.ts (returns false), which
// decides and words the error.

import type { TraceConsumer } from "./consumer.js";
import { dec, hex, same } from "./line-bytes.js";
import { MAX_TRACE_CPU, type LineState } from "./parse.js";

const SPACE = 32;
const TAB = 9;
const COLON = 58;
const U32_MAX = 0xffffffff;

/** Fields the events use: index into the found[] table. */
const F_DIR = 0;
const F_DMA = 1;
const F_SIZE = 2;
const F_PHYS = 3;
const F_VIRT = 4;
const F_PHYS_ADDRS = 5;
const F_SIZES = 6;
const FIELDS = 7;

const EV_IGNORED = 0;
const EV_MAP = 1;
const EV_UNMAP = 2;
const EV_MAP_SG = 3;
const EV_UNMAP_SG = 4;
const EV_ALLOC = 5;
const EV_FREE = 6;
const EVENT_NAMES: Array<[string, number]> = [
  ["dma_map_page", EV_MAP], ["dma_map_phys", EV_MAP], ["dma_map_resource", EV_MAP],
  ["dma_unmap_page", EV_UNMAP], ["dma_unmap_phys", EV_UNMAP], ["dma_unmap_resource", EV_UNMAP],
  ["dma_map_sg", EV_MAP_SG], ["dma_unmap_sg", EV_UNMAP_SG], ["dma_alloc", EV_ALLOC], ["dma_free", EV_FREE],
];

function eventOf(b: Uint8Array, s: number, e: number): number {
  for (const [name, ev] of EVENT_NAMES) if (same(b, s, e, name)) return ev;
  return EV_IGNORED;
}

/** The field a key names (by its length first: most keys are told apart without a comparison), or -1. */
function fieldOf(b: Uint8Array, s: number, e: number): number {
  switch (e - s) {
    case 3: return same(b, s, e, "dir") ? F_DIR : -1;
    case 4: return same(b, s, e, "size") ? F_SIZE : -1;
    case 5: return same(b, s, e, "sizes") ? F_SIZES : -1;
    case 8: return same(b, s, e, "dma_addr") ? F_DMA : -1;
    case 9: return same(b, s, e, "phys_addr") ? F_PHYS : same(b, s, e, "virt_addr") ? F_VIRT : -1;
    case 10: return same(b, s, e, "phys_addrs") ? F_PHYS_ADDRS : -1;
    default: return -1;
  }
}

const PLAIN = 0;
const ODD = 1;
const COLON_BYTE = 2;
const BRACKET = 3;
/** Bytes the scan treats alike: printable ASCII, the ':' it looks for, and what it leaves to parse.ts. */
const BYTE_CLASS = new Uint8Array(256).fill(ODD);
for (let c = 32; c < 127; c++) BYTE_CLASS[c] = PLAIN;
BYTE_CLASS[TAB] = PLAIN;
BYTE_CLASS[35] = ODD; // '#'
BYTE_CLASS[COLON] = COLON_BYTE;
BYTE_CLASS[91] = BRACKET; // '[': where the CPU column may start

function ws(c: number): boolean {
  return c === SPACE || c === TAB;
}




function kernelDir(b: Uint8Array, s: number, e: number): number {
  if (same(b, s, e, "FROM_DEVICE")) return 2;
  if (same(b, s, e, "TO_DEVICE")) return 1;
  if (same(b, s, e, "BIDIRECTIONAL")) return 0;
  return -1;
}

export class TracepointBytes {
  private readonly found = new Int32Array(2 * FIELDS);
  private phys = new Float64Array(64);
  private bytes = new Float64Array(64);

  /** `id(b, s1, e1, s2, e2)`: the string of bytes [s1, e1) + "@" + [s2, e2), cached by the caller. */
  constructor(
    private readonly out: TraceConsumer,
    private readonly state: LineState,
    private readonly id: (b: Uint8Array, s1: number, e1: number, s2: number, e2: number) => string,
  ) {}

  /** Parses a tracepoint line [s, e); false when it is not one this path is sure of. */
  line(b: Uint8Array, s: number, e: number, line: number): boolean {
    while (s < e && ws(b[s])) s++;
    while (e > s && ws(b[e - 1])) e--;
    // TRACEPOINT: the leftmost ':' + whitespace + dma_[a-z_]+ + ':' + whitespace + a word.
    let colon = -1;
    let evS = 0;
    let evE = 0;
    let devS = 0;
    // (the bytes after the match are checked for odd ones as the fields are read)
    let bracket = -1;
    for (let p = s; p < e && colon < 0; p++) {
      const k = BYTE_CLASS[b[p]];
      if (k === PLAIN) continue;
      if (k === ODD) return false; // control bytes, non-ASCII or a comment: parse.ts
      if (k === BRACKET) {
        if (bracket < 0) bracket = p;
        continue;
      }
      let q = p + 1;
      if (q >= e || !ws(b[q])) continue;
      while (q < e && ws(b[q])) q++;
      if (!(q + 4 < e && b[q] === 100 && b[q + 1] === 109 && b[q + 2] === 97 && b[q + 3] === 95)) continue;
      let r = q + 4;
      while (r < e && ((b[r] >= 97 && b[r] <= 122) || b[r] === 95)) r++;
      if (r === q + 4 || r >= e || b[r] !== COLON) continue;
      let d = r + 1;
      if (d >= e || !ws(b[d])) continue;
      while (d < e && ws(b[d])) d++;
      if (d >= e) continue;
      colon = p;
      evS = q;
      evE = r;
      devS = d;
    }
    if (colon < 0) return false;
    for (let p = evE; p < devS; p++) if (BYTE_CLASS[b[p]] === ODD) return false;
    let devE = devS;
    while (devE < e && !ws(b[devE])) if (BYTE_CLASS[b[devE++]] === ODD) return false;

    // key=value fields after the device; the last of a key counts (as a Map.set would).
    const f = this.found;
    f.fill(-1);
    for (let i = devE; i < e; ) {
      while (i < e && ws(b[i])) i++;
      if (i >= e) break;
      const t = i;
      let eq = -1;
      while (i < e && !ws(b[i])) {
        const c = b[i];
        if (BYTE_CLASS[c] === ODD) return false;
        if (eq < 0 && c === 61) eq = i;
        i++;
      }
      if (eq <= t) continue;
      const k = fieldOf(b, t, eq);
      if (k >= 0) {
        f[2 * k] = eq + 1;
        f[2 * k + 1] = i;
      }
    }

    const ev = eventOf(b, evS, evE);
    const out = this.out;
    switch (ev) {
      case EV_IGNORED:
        out.ignore();
        this.state.ignored++;
        return true;
      case EV_MAP: {
        if (f[2 * F_DMA] < 0) return false;
        if (this.failed(b, f[2 * F_DMA], f[2 * F_DMA + 1])) return this.ignored();
        if (f[2 * F_PHYS] < 0 || f[2 * F_SIZE] < 0 || f[2 * F_DIR] < 0) return false;
        const phys = hex(b, f[2 * F_PHYS], f[2 * F_PHYS + 1]);
        const size = dec(b, f[2 * F_SIZE], f[2 * F_SIZE + 1]);
        const dir = kernelDir(b, f[2 * F_DIR], f[2 * F_DIR + 1]);
        if (phys < 0 || size < 1 || size > U32_MAX || dir < 0 || !this.cpu(b, s, bracket, colon, line)) return false;
        out.map(this.id(b, devS, devE, f[2 * F_DMA], f[2 * F_DMA + 1]), phys, size, dir, line);
        return true;
      }
      case EV_UNMAP:
      case EV_FREE:
        if (f[2 * F_DMA] < 0 || !this.cpu(b, s, bracket, colon, line)) return false;
        if (ev === EV_UNMAP) out.unmap(this.id(b, devS, devE, f[2 * F_DMA], f[2 * F_DMA + 1]), line);
        else out.free(this.id(b, devS, devE, f[2 * F_DMA], f[2 * F_DMA + 1]), line);
        return true;
      case EV_ALLOC: {
        if (f[2 * F_DMA] < 0) return false;
        if (this.failed(b, f[2 * F_DMA], f[2 * F_DMA + 1]) || f[2 * F_VIRT] < 0 || this.zeros(b, f[2 * F_VIRT], f[2 * F_VIRT + 1])) return this.ignored();
        if (f[2 * F_SIZE] < 0) return false;
        const size = dec(b, f[2 * F_SIZE], f[2 * F_SIZE + 1]);
        if (size < 1 || size > U32_MAX || !this.cpu(b, s, bracket, colon, line)) return false;
        out.alloc(this.id(b, devS, devE, f[2 * F_DMA], f[2 * F_DMA + 1]), size, line);
        return true;
      }
      case EV_MAP_SG: {
        if (f[2 * F_PHYS_ADDRS] < 0 || f[2 * F_SIZES] < 0 || f[2 * F_DIR] < 0) return false;
        const n = this.array(b, f[2 * F_PHYS_ADDRS], f[2 * F_PHYS_ADDRS + 1], 0);
        if (n <= 0) return false;
        const m = this.array(b, f[2 * F_SIZES], f[2 * F_SIZES + 1], 1);
        const dir = kernelDir(b, f[2 * F_DIR], f[2 * F_DIR + 1]);
        if (m !== n || dir < 0) return false;
        for (let k = 0; k < n; k++) if (this.bytes[k] < 1 || this.bytes[k] > U32_MAX) return false;
        if (!this.cpu(b, s, bracket, colon, line)) return false;
        out.mapSg(this.id(b, devS, devE, f[2 * F_PHYS_ADDRS], f[2 * F_PHYS_ADDRS + 1]), dir, this.phys, this.bytes, n, line);
        return true;
      }
      case EV_UNMAP_SG:
        if (f[2 * F_PHYS_ADDRS] < 0 || !this.cpu(b, s, bracket, colon, line)) return false;
        out.unmapSg(this.id(b, devS, devE, f[2 * F_PHYS_ADDRS], f[2 * F_PHYS_ADDRS + 1]), line);
        return true;
    }
    return false;
  }

  private ignored(): boolean {
    this.out.ignore();
    this.state.ignored++;
    return true;
  }

  /** dma_addr=ffffffffffffffff (any case): the traced kernel's map failed. */
  private failed(b: Uint8Array, s: number, e: number): boolean {
    if (e - s !== 16) return false;
    for (let i = s; i < e; i++) if ((b[i] | 32) !== 102) return false;
    return true;
  }

  /** virt_addr of zeros only (or empty): the allocation failed. */
  private zeros(b: Uint8Array, s: number, e: number): boolean {
    for (let i = s; i < e; i++) if (b[i] !== 48) return false;
    return true;
  }

  /** {a,b,…} of hex numbers into phys (which 0) or bytes (1); the count, or -1 (then parse.ts decides). */
  private array(b: Uint8Array, s: number, e: number, which: number): number {
    if (e - s < 2 || b[s] !== 123 || b[e - 1] !== 125) return -1;
    s++;
    e--;
    if (s === e) return 0;
    let count = 1;
    for (let i = s; i < e; i++) if (b[i] === 44) count++;
    if (count > this.phys.length) {
      const grow = (a: Float64Array) => {
        const g = new Float64Array(count * 2);
        g.set(a);
        return g;
      };
      this.phys = grow(this.phys);
      this.bytes = grow(this.bytes);
    }
    const into = which === 0 ? this.phys : this.bytes;
    let n = 0;
    for (let i = s; ; ) {
      let j = i;
      while (j < e && b[j] !== 44) j++;
      const v = hex(b, i, j);
      if (v < 0) return -1;
      into[n++] = v;
      if (j === e) return n;
      i = j + 1;
    }
  }

  /**
   * The [NNN] CPU column before `colon` (TRACE_CPU) of the line starting at `s`, searched from the
   * first '[' (-1: none); a switch when it changes. False: beyond the core's CPUs.
   */
  private cpu(b: Uint8Array, s: number, bracket: number, colon: number, line: number): boolean {
    if (bracket < 0 || bracket > colon) return true;
    for (let p = bracket; p < colon; p++) {
      if (b[p] !== 91 || (p > s && !ws(b[p - 1]))) continue;
      let q = p + 1;
      while (q < colon && b[q] >= 48 && b[q] <= 57) q++;
      if (q === p + 1 || q >= colon || b[q] !== 93 || !(q + 1 === colon || ws(b[q + 1]))) continue;
      const n = q - p - 1 > 3 ? MAX_TRACE_CPU + 1 : dec(b, p + 1, q);
      if (n > MAX_TRACE_CPU) return false;
      if (n !== this.state.cpu) this.out.cpu((this.state.cpu = n), line);
      return true;
    }
    return true;
  }
}
