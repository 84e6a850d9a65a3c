// === The price, counted: party × operation kind × CostProfile primitive ===
// Price is linear in primitive counts, so the core never multiplies by a cycle cost: it counts
// what each party executes, for which kind of operation, and TypeScript takes one dot product
// with the profile when a report is asked for (bindings/sim/primitives.ts, same indices).
//
//   grid: f64 × PARTIES × KINDS × PRIMS, index (party × KINDS + kind) × PRIMS + prim
//   (f64 so JS reads it as a Float64Array; every count is an integer below 2^53, so exact)

// @ts-ignore: decorator
@inline export const PARTY_KERNEL: u32 = 0;
// @ts-ignore: decorator
@inline export const PARTY_DOM0: u32 = 1;
// @ts-ignore: decorator
@inline export const PARTY_DOMU: u32 = 2;
// @ts-ignore: decorator
@inline export const PARTY_XEN: u32 = 3;
/** No such party (bare metal has no front-end). */
// @ts-ignore: decorator
@inline export const PARTY_NONE: u32 = 255;
// @ts-ignore: decorator
@inline export const PARTIES: u32 = 4;

// @ts-ignore: decorator
@inline export const KIND_SETUP: u32 = 0;
// @ts-ignore: decorator
@inline export const KIND_MAP: u32 = 1;
// @ts-ignore: decorator
@inline export const KIND_UNMAP: u32 = 2;
// @ts-ignore: decorator
@inline export const KIND_MAP_SG: u32 = 3;
// @ts-ignore: decorator
@inline export const KIND_UNMAP_SG: u32 = 4;
// @ts-ignore: decorator
@inline export const KIND_ALLOC: u32 = 5;
// @ts-ignore: decorator
@inline export const KIND_FREE: u32 = 6;
// @ts-ignore: decorator
@inline export const KIND_FLUSH: u32 = 7;
// @ts-ignore: decorator
@inline export const KINDS: u32 = 8;

// @ts-ignore: decorator
@inline export const P_DMA_API_ENTRY: u32 = 0;
// @ts-ignore: decorator
@inline export const P_BITMAP_WORD_SCAN: u32 = 1;
// @ts-ignore: decorator
@inline export const P_TCE_WRITE: u32 = 2;
// @ts-ignore: decorator
@inline export const P_TABLE_LINE_FLUSH: u32 = 3;
// @ts-ignore: decorator
@inline export const P_MMIO_READ: u32 = 4;
// @ts-ignore: decorator
@inline export const P_MMIO_WRITE: u32 = 5;
// @ts-ignore: decorator
@inline export const P_FLUSH_WAIT_POLL: u32 = 6;
// @ts-ignore: decorator
@inline export const P_HYPERCALL_ENTRY: u32 = 7;
// @ts-ignore: decorator
@inline export const P_HYPERCALL_EXIT: u32 = 8;
// @ts-ignore: decorator
@inline export const P_HYPERVISOR_VALIDATE: u32 = 9;
// @ts-ignore: decorator
@inline export const P_MULTICALL_PER_ENTRY: u32 = 10;
// @ts-ignore: decorator
@inline export const P_GRANT_OP: u32 = 11;
// @ts-ignore: decorator
@inline export const P_GRANT_ISSUE: u32 = 12;
// @ts-ignore: decorator
@inline export const P_MAPPING_CACHE_LOOKUP: u32 = 13;
// @ts-ignore: decorator
@inline export const P_COPY_PER_BYTE: u32 = 14;
// @ts-ignore: decorator
@inline export const P_PT_PAGE_ALLOC: u32 = 15;
// @ts-ignore: decorator
@inline export const P_INV_DESCRIPTOR: u32 = 16;
// @ts-ignore: decorator
@inline export const P_INV_WAIT: u32 = 17;
// @ts-ignore: decorator
@inline export const P_MEMORY_BARRIER: u32 = 18;
// @ts-ignore: decorator
@inline export const PRIMS: u32 = 19;

// @ts-ignore: decorator
@inline export const GRID_BYTES: u32 = PARTIES * KINDS * PRIMS * 8;

let grid: usize = 0;
/** Hypervisor entries: hypercalls, multicalls, grant operations. */
export let crossings: f64 = 0;
/** The hypercalls among them (a multicall's trap is a crossing, its entries are not hypercalls). */
export let hypercalls: f64 = 0;

export function countsInit(base: usize): void {
  grid = base;
  memory.fill(base, 0, GRID_BYTES);
  crossings = 0;
  hypercalls = 0;
}

export function gridPtr(): usize {
  return grid;
}

/** Where `party`'s counts start in the grid (the environment keeps one per role). */
export function partyAt(party: u32): usize {
  return grid + (<usize>(party * KINDS * PRIMS) << 3);
}

/** The party whose counts start at `party` (partyAt) executes `n` of `prim` for an operation of `kind`. */
// @ts-ignore: decorator
@inline export function count(party: usize, kind: u32, prim: u32, n: f64): void {
  let at = party + (<usize>(kind * PRIMS + prim) << 3);
  store<f64>(at, load<f64>(at) + n);
}

// @ts-ignore: decorator
@inline export function trap(n: f64, hypercall: bool): void {
  crossings += n;
  if (hypercall) hypercalls += n;
}
