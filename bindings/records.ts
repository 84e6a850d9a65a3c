// Encoders for batch records (layout drawn in assembly/batch.ts). Each writes record `i` of
// `ops` and returns the index of the next free record. They are the hot path of a batched run, so
// they do not throw: a value a record cannot carry (not an integer, out of its word's range) is
// encoded as one the core refuses — all-ones pfn, handle or count, zero bytes, direction 15 — and
// the record's result is BAD_RECORD. Nothing is ever wrapped or truncated into another value.

import { IO_PAGE_SIZE, OP } from "./abi.js";

const U32_MAX = 0xffffffff;
/** Physical addresses a record can carry: page numbers of 44 bits. */
const PHYS_LIMIT = 2 ** 56;
const word = (v: number): number => (Number.isInteger(v) && v >= 0 && v <= U32_MAX ? v : U32_MAX);
const length = (v: number): number => (Number.isInteger(v) && v >= 1 && v <= U32_MAX ? v : 0);
const direction = (v: number): number => (v === 0 || v === 1 || v === 2 ? v : 15);

/** w0 bits 8..31 and w2 of a record for physical address `phys` (pfn all ones when it cannot be). */
function physWords(phys: number): [w0High: number, w2: number] {
  if (!(Number.isInteger(phys) && phys >= 0 && phys < PHYS_LIMIT)) return [0xfff00000, U32_MAX];
  const off = phys % IO_PAGE_SIZE;
  const pfn = (phys - off) / IO_PAGE_SIZE;
  const high = Math.floor(pfn / 0x1_0000_0000);
  return [((high << 20) | (off << 8)) >>> 0, pfn % 0x1_0000_0000];
}

/** Direction codes as Linux numbers them. */
export const DIR = { bidirectional: 0, toDevice: 1, fromDevice: 2 } as const;

export function putMap(ops: Uint32Array, i: number, handle: number, phys: number, bytes: number, dir: number): number {
  const o = i << 2;
  const [high, pfn] = physWords(phys);
  ops[o] = (OP.map | (direction(dir) << 4) | high) >>> 0;
  ops[o + 1] = word(handle);
  ops[o + 2] = pfn;
  ops[o + 3] = length(bytes);
  return i + 1;
}

export function putUnmap(ops: Uint32Array, i: number, handle: number): number {
  const o = i << 2;
  ops[o] = OP.unmap;
  ops[o + 1] = word(handle);
  return i + 1;
}

/** A map_sg header and its elements; element k is kept in handle `handle + k`. */
export function putMapSg(
  ops: Uint32Array, i: number, handle: number, segments: ReadonlyArray<{ phys: number; bytes: number }>, dir: number,
): number {
  let o = i << 2;
  ops[o] = OP.mapSg | (direction(dir) << 4);
  ops[o + 1] = word(handle);
  ops[o + 2] = segments.length;
  ops[o + 3] = 0;
  for (const s of segments) {
    o += 4;
    const [high, pfn] = physWords(s.phys);
    ops[o] = (OP.sgElem | high) >>> 0;
    ops[o + 1] = 0;
    ops[o + 2] = pfn;
    ops[o + 3] = length(s.bytes);
  }
  return i + 1 + segments.length;
}

export function putUnmapSg(ops: Uint32Array, i: number, handle: number, count: number): number {
  const o = i << 2;
  ops[o] = OP.unmapSg;
  ops[o + 1] = word(handle);
  ops[o + 2] = word(count);
  return i + 1;
}

export function putAlloc(ops: Uint32Array, i: number, handle: number, bytes: number): number {
  const o = i << 2;
  ops[o] = OP.alloc;
  ops[o + 1] = word(handle);
  ops[o + 3] = length(bytes);
  return i + 1;
}

export function putFree(ops: Uint32Array, i: number, handle: number): number {
  const o = i << 2;
  ops[o] = OP.free;
  ops[o + 1] = word(handle);
  return i + 1;
}

export function putAccess(ops: Uint32Array, i: number, handle: number, offset: number, bytes: number, write: boolean): number {
  const o = i << 2;
  const at = word(offset);
  ops[o] = OP.access | ((write ? 1 : 0) << 4);
  ops[o + 1] = word(handle);
  ops[o + 2] = at;
  ops[o + 3] = at === U32_MAX && offset !== U32_MAX ? 0 : length(bytes);
  return i + 1;
}

/** The records after this one run on CPU `cpu` (the IOVA allocator's per-CPU magazines). */
export function putCpu(ops: Uint32Array, i: number, cpu: number): number {
  const o = i << 2;
  ops[o] = OP.cpu;
  ops[o + 1] = 0;
  ops[o + 2] = word(cpu);
  ops[o + 3] = 0;
  return i + 1;
}
