// Encoders for batch records (layout drawn in assembly/batch.ts). Each writes record `i` of
// `ops` and returns the index of the next free record. They check nothing on purpose: they are
// the hot path of a batched run. The core refuses a record whose handle is out of range with
// BAD_RECORD instead of trapping.

import { IO_PAGE_SIZE, OP } from "./abi.js";

/** Direction codes as Linux numbers them. */
export const DIR = { bidirectional: 0, toDevice: 1, fromDevice: 2 } as const;

export function putMap(ops: Uint32Array, i: number, handle: number, phys: number, bytes: number, dir: number): number {
  const o = i << 2;
  ops[o] = OP.map | (dir << 4) | ((phys % IO_PAGE_SIZE) << 8);
  ops[o + 1] = handle;
  ops[o + 2] = Math.floor(phys / IO_PAGE_SIZE);
  ops[o + 3] = bytes;
  return i + 1;
}

export function putUnmap(ops: Uint32Array, i: number, handle: number): number {
  const o = i << 2;
  ops[o] = OP.unmap;
  ops[o + 1] = handle;
  return i + 1;
}

/** A map_sg header and its elements; element k is kept in handle `handle + k`. */
export function putMapSg(
  ops: Uint32Array, i: number, handle: number, segments: ReadonlyArray<{ phys: number; bytes: number }>, dir: number,
): number {
  let o = i << 2;
  ops[o] = OP.mapSg | (dir << 4);
  ops[o + 1] = handle;
  ops[o + 2] = segments.length;
  ops[o + 3] = 0;
  for (const s of segments) {
    o += 4;
    ops[o] = OP.sgElem | ((s.phys % IO_PAGE_SIZE) << 8);
    ops[o + 1] = 0;
    ops[o + 2] = Math.floor(s.phys / IO_PAGE_SIZE);
    ops[o + 3] = s.bytes;
  }
  return i + 1 + segments.length;
}

export function putUnmapSg(ops: Uint32Array, i: number, handle: number, count: number): number {
  const o = i << 2;
  ops[o] = OP.unmapSg;
  ops[o + 1] = handle;
  ops[o + 2] = count;
  return i + 1;
}

export function putAlloc(ops: Uint32Array, i: number, handle: number, bytes: number): number {
  const o = i << 2;
  ops[o] = OP.alloc;
  ops[o + 1] = handle;
  ops[o + 3] = bytes;
  return i + 1;
}

export function putFree(ops: Uint32Array, i: number, handle: number): number {
  const o = i << 2;
  ops[o] = OP.free;
  ops[o + 1] = handle;
  return i + 1;
}

export function putAccess(ops: Uint32Array, i: number, handle: number, offset: number, bytes: number, write: boolean): number {
  const o = i << 2;
  ops[o] = OP.access | ((write ? 1 : 0) << 4);
  ops[o + 1] = handle;
  ops[o + 2] = offset;
  ops[o + 3] = bytes;
  return i + 1;
}

/** The records after this one run on CPU `cpu` (the IOVA allocator's per-CPU magazines). */
export function putCpu(ops: Uint32Array, i: number, cpu: number): number {
  const o = i << 2;
  ops[o] = OP.cpu;
  ops[o + 1] = 0;
  ops[o + 2] = cpu;
  ops[o + 3] = 0;
  return i + 1;
}
