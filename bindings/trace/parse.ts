// DMA traces: the native format (one operation a line, ids name mappings) and the Linux
// kernel's `dma:` tracepoint text as ftrace / trace-cmd print it (v6.12+ formats).
//
//   map <id> <phys-hex> <bytes> <to-device|from-device|bidirectional>
//   unmap <id>
//   map_sg <id> <dir> <phys-hex>:<bytes> [<phys-hex>:<bytes> ...]
//   unmap_sg <id>
//   alloc <id> <bytes>
//   free <id>
//   access <id> <offset> <bytes> <read|write>
//
// Tracepoint lines are keyed by device and DMA address (map_sg / unmap_sg by device and the
// physical addresses, which is all dma_unmap_sg prints).

import { DIRECTIONS, type Direction } from "../abi.js";

export type TraceOp =
  | { kind: "map"; id: string; phys: number; bytes: number; dir: Direction; line: number }
  | { kind: "unmap"; id: string; line: number }
  | { kind: "map_sg"; id: string; dir: Direction; segments: Array<{ phys: number; bytes: number }>; line: number }
  | { kind: "unmap_sg"; id: string; line: number }
  | { kind: "alloc"; id: string; bytes: number; line: number }
  | { kind: "free"; id: string; line: number }
  | { kind: "access"; id: string; offset: number; bytes: number; write: boolean; line: number }
  /** The operations after this one run on CPU `cpu` (native `cpu N`; the `[NNN]` of a tracepoint line). */
  | { kind: "cpu"; cpu: number; line: number };

/** Highest CPU number a trace can name (the core models up to 64 CPUs). */
export const MAX_TRACE_CPU = 63;

export interface SkippedLine {
  line: number;
  text: string;
  reason: string;
}

export interface ParsedTrace {
  ops: TraceOp[];
  /** Malformed lines skipped under `lenient`. */
  skipped: SkippedLine[];
  /** Tracepoint events that carry no mapping change (dma_sync_*, failed maps in the traced kernel). */
  ignored: number;
}

export class TraceError extends Error {
  /** `unit`: "line" for text traces, "record" for the binary format. */
  constructor(readonly line: number, readonly text: string, readonly reason: string, readonly unit = "line") {
    super(`${unit} ${line}: ${reason}: ${text.trim()}`);
    this.name = "TraceError";
  }
}

class Malformed extends Error {}

const U32_MAX = 0xffffffff;

function hex(field: string, s: string | undefined): number {
  if (s === undefined || !/^(0x)?[0-9a-f]+$/i.test(s)) throw new Malformed(`${field} must be hexadecimal, got ${JSON.stringify(s ?? "")}`);
  const v = Number.parseInt(s.replace(/^0x/i, ""), 16);
  if (!Number.isSafeInteger(v)) throw new Malformed(`${field} ${s} is too large`);
  return v;
}

function count(field: string, s: string | undefined, min: number): number {
  if (s === undefined || !/^\d+$/.test(s)) throw new Malformed(`${field} must be a decimal number, got ${JSON.stringify(s ?? "")}`);
  const v = Number(s);
  if (v < min || v > U32_MAX) throw new Malformed(`${field} must be from ${min} to ${U32_MAX}, got ${s}`);
  return v;
}

function direction(s: string | undefined): Direction {
  if (!DIRECTIONS.includes(s as Direction)) throw new Malformed(`direction must be one of ${DIRECTIONS.join(", ")}, got ${JSON.stringify(s ?? "")}`);
  return s as Direction;
}

function arity(words: string[], n: number, usage: string): void {
  if (words.length !== n) throw new Malformed(`expected "${usage}"`);
}

function parseNative(words: string[], line: number): TraceOp {
  const [verb, id] = words;
  switch (verb) {
    case "map":
      arity(words, 5, "map <id> <phys-hex> <bytes> <dir>");
      return { kind: "map", id, phys: hex("phys", words[2]), bytes: count("bytes", words[3], 1), dir: direction(words[4]), line };
    case "unmap":
      arity(words, 2, "unmap <id>");
      return { kind: "unmap", id, line };
    case "map_sg": {
      if (words.length < 4) throw new Malformed('expected "map_sg <id> <dir> <phys-hex>:<bytes> ..."');
      const segments = words.slice(3).map((w) => {
        const [p, b, extra] = w.split(":");
        if (extra !== undefined || b === undefined) throw new Malformed(`segment must be <phys-hex>:<bytes>, got ${JSON.stringify(w)}`);
        return { phys: hex("segment phys", p), bytes: count("segment bytes", b, 1) };
      });
      return { kind: "map_sg", id, dir: direction(words[2]), segments, line };
    }
    case "unmap_sg":
      arity(words, 2, "unmap_sg <id>");
      return { kind: "unmap_sg", id, line };
    case "alloc":
      arity(words, 3, "alloc <id> <bytes>");
      return { kind: "alloc", id, bytes: count("bytes", words[2], 1), line };
    case "free":
      arity(words, 2, "free <id>");
      return { kind: "free", id, line };
    case "cpu": {
      arity(words, 2, "cpu <n>");
      const cpu = count("cpu", words[1], 0);
      if (cpu > MAX_TRACE_CPU) throw new Malformed(`cpu must be from 0 to ${MAX_TRACE_CPU}, got ${cpu}`);
      return { kind: "cpu", cpu, line };
    }
    case "access": {
      arity(words, 5, "access <id> <offset> <bytes> <read|write>");
      const rw = words[4];
      if (rw !== "read" && rw !== "write") throw new Malformed(`access kind must be read or write, got ${JSON.stringify(rw)}`);
      return { kind: "access", id, offset: count("offset", words[2], 0), bytes: count("bytes", words[3], 1), write: rw === "write", line };
    }
    default:
      throw new Malformed(`unknown operation ${JSON.stringify(verb)}; expected map, unmap, map_sg, unmap_sg, alloc, free, access, cpu`);
  }
}

const TRACEPOINT = /:\s+(dma_[a-z_]+):\s+(\S+)\s*(.*)$/;
/** The CPU column of an ftrace line: `task-pid [003] flags timestamp:`. */
const TRACE_CPU = /\s\[(\d+)\]\s/;
const KERNEL_DIRS: Record<string, Direction> = { BIDIRECTIONAL: "bidirectional", TO_DEVICE: "to-device", FROM_DEVICE: "from-device" };

function fields(rest: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const kv of rest.trim().split(/\s+/)) {
    const eq = kv.indexOf("=");
    if (eq > 0) m.set(kv.slice(0, eq), kv.slice(eq + 1));
  }
  return m;
}

function need(f: Map<string, string>, key: string): string {
  const v = f.get(key);
  if (v === undefined) throw new Malformed(`missing ${key}=`);
  return v;
}

function array(field: string, s: string): number[] {
  const m = /^\{(.*)\}$/.exec(s);
  if (!m) throw new Malformed(`${field} must be {a,b,...}, got ${JSON.stringify(s)}`);
  return m[1] === "" ? [] : m[1].split(",").map((x) => hex(field, x));
}

const FAILED_DMA = "ffffffffffffffff";

/** One tracepoint line → an operation, or null for events that change no mapping. */
function parseTracepoint(event: string, dev: string, rest: string, line: number): TraceOp | null {
  const f = fields(rest);
  const dirOf = () => {
    const name = need(f, "dir");
    const d = Object.hasOwn(KERNEL_DIRS, name) ? KERNEL_DIRS[name] : undefined; // not "toString" through the prototype
    if (!d) throw new Malformed(`dir must be BIDIRECTIONAL, TO_DEVICE or FROM_DEVICE, got ${f.get("dir")}`);
    return d;
  };
  switch (event) {
    case "dma_map_page":
    case "dma_map_phys":
    case "dma_map_resource": {
      const dma = need(f, "dma_addr");
      if (dma.toLowerCase() === FAILED_DMA) return null;
      return { kind: "map", id: `${dev}@${dma}`, phys: hex("phys_addr", need(f, "phys_addr")), bytes: count("size", need(f, "size"), 1), dir: dirOf(), line };
    }
    case "dma_unmap_page":
    case "dma_unmap_phys":
    case "dma_unmap_resource":
      return { kind: "unmap", id: `${dev}@${need(f, "dma_addr")}`, line };
    case "dma_map_sg": {
      const phys = array("phys_addrs", need(f, "phys_addrs"));
      const sizes = array("sizes", need(f, "sizes"));
      if (phys.length !== sizes.length || phys.length === 0) {
        throw new Malformed(`map_sg with ${phys.length} inputs merged into ${sizes.length} segments: the input lengths are not in the trace`);
      }
      return { kind: "map_sg", id: `${dev}@${need(f, "phys_addrs")}`, dir: dirOf(), segments: phys.map((p, i) => ({ phys: p, bytes: sizes[i] })), line };
    }
    case "dma_unmap_sg":
      return { kind: "unmap_sg", id: `${dev}@${need(f, "phys_addrs")}`, line };
    case "dma_alloc": {
      const dma = need(f, "dma_addr");
      if (dma.toLowerCase() === FAILED_DMA || (f.get("virt_addr") ?? "").replace(/0/g, "") === "") return null;
      return { kind: "alloc", id: `${dev}@${dma}`, bytes: count("size", need(f, "size"), 1), line };
    }
    case "dma_free":
      return { kind: "free", id: `${dev}@${need(f, "dma_addr")}`, line };
    default:
      return null;
  }
}

/** Where a line parser is: the CPU the last line ran on, and the events that changed no mapping. */
export interface LineState {
  cpu: number;
  ignored: number;
}

/**
 * Parses one line (native or tracepoint) into `out` (a tracepoint line off the current CPU adds a
 * `cpu` switch first). A malformed line throws TraceError unless `skipped` is given (lenient),
 * which records it. Shared by the whole-text parser and the streamed one.
 */
export function parseLine(raw: string, line: number, state: LineState, out: TraceOp[], skipped?: SkippedLine[]): void {
  const body = raw.replace(/#.*$/, "").trim();
  if (body === "") return;
  try {
    const tp = TRACEPOINT.exec(body);
    if (tp) {
      const op = parseTracepoint(tp[1], tp[2], tp[3], line);
      if (op) {
        const c = TRACE_CPU.exec(` ${body.slice(0, tp.index)} `);
        if (c) {
          const n = Number(c[1]);
          if (n > MAX_TRACE_CPU) throw new Malformed(`CPU [${c[1]}] beyond the ${MAX_TRACE_CPU + 1} CPUs the core models`);
          if (n !== state.cpu) out.push({ kind: "cpu", cpu: (state.cpu = n), line });
        }
        out.push(op);
      } else {
        state.ignored++;
      }
    } else {
      const op = parseNative(body.split(/\s+/), line);
      if (op.kind === "cpu") state.cpu = op.cpu;
      out.push(op);
    }
  } catch (e) {
    if (!(e instanceof Malformed)) throw e;
    if (!skipped) throw new TraceError(line, raw, e.message);
    skipped.push({ line, text: raw, reason: e.message });
  }
}

/** Parses a trace; a malformed line throws TraceError unless `lenient`, which skips and records it. */
export function parseTrace(text: string, opts: { lenient?: boolean } = {}): ParsedTrace {
  const ops: TraceOp[] = [];
  const skipped: SkippedLine[] = [];
  const state: LineState = { cpu: 0, ignored: 0 };
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, i) => parseLine(raw, i + 1, state, ops, opts.lenient ? skipped : undefined));
  return { ops, skipped, ignored: state.ignored };
}
