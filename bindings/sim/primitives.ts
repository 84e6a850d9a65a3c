// The accounting grid the price is counted on: party × operation kind × CostProfile primitive.
// Price is linear in these counts, so a run counts them (in the WASM core, or in the TypeScript
// reference) and a report multiplies by a profile once. The indices are the core's too
// (assembly/priced/counts.ts); test/priced.test.ts holds the two in step.

import { DEFAULT_PROFILE, type CostProfile } from "./cost-profile.js";
import type { Environment, Party } from "./environments.js";

export const PARTIES = ["kernel", "dom0", "domU", "xen"] as const satisfies readonly Party[];
export const OP_KINDS = ["setup", "map", "unmap", "map_sg", "unmap_sg", "alloc", "free", "flush"] as const;
export type OpKind = (typeof OP_KINDS)[number];
export type Primitive = keyof CostProfile["cycles"];
/** In the order of the profile's `cycles` object. */
export const PRIMITIVES = Object.keys(DEFAULT_PROFILE.cycles) as Primitive[];

export const PARTY_INDEX = Object.fromEntries(PARTIES.map((p, i) => [p, i])) as Record<Party, number>;
export const KIND_INDEX = Object.fromEntries(OP_KINDS.map((k, i) => [k, i])) as Record<OpKind, number>;
export const PRIM_INDEX = Object.fromEntries(PRIMITIVES.map((k, i) => [k, i])) as Record<Primitive, number>;
/** Length of a count grid: counts[(party × kinds + kind) × primitives + primitive]. */
export const GRID_SIZE = PARTIES.length * OP_KINDS.length * PRIMITIVES.length;

export const gridIndex = (party: number, kind: number, prim: number) => (party * OP_KINDS.length + kind) * PRIMITIVES.length + prim;

/** Counts by party and primitive (summed over operation kinds), only the non-zero ones. */
export type PrimitiveCounts = Partial<Record<Party, Partial<Record<Primitive, number>>>>;

export interface PricedCycles {
  total: number;
  byParty: Partial<Record<Party, number>>;
  byOperation: Partial<Record<OpKind, number>>;
  byCpu: number[];
}

/**
 * The one dot product: cycles by party, operation and CPU from a count grid. Both the core's
 * counts and the reference's go through here, so equal counts give bit-identical reports.
 */
export function priceGrid(grid: ArrayLike<number>, profile: CostProfile, env: Environment): PricedCycles {
  const byParty: Partial<Record<Party, number>> = {};
  const byOperation: Partial<Record<OpKind, number>> = {};
  const byCpu = new Array<number>(profile.machine.cores).fill(0);
  const price = PRIMITIVES.map((k) => profile.cycles[k]);
  let total = 0;
  for (let p = 0; p < PARTIES.length; p++) {
    const party = PARTIES[p];
    const cpu = env.cpuOf[party] ?? env.cpuOf[env.driver] ?? 0;
    for (let k = 0; k < OP_KINDS.length; k++) {
      let cycles = 0;
      for (let q = 0; q < PRIMITIVES.length; q++) cycles += grid[gridIndex(p, k, q)] * price[q];
      if (cycles === 0) continue;
      byParty[party] = (byParty[party] ?? 0) + cycles;
      byOperation[OP_KINDS[k]] = (byOperation[OP_KINDS[k]] ?? 0) + cycles;
      if (cpu < byCpu.length) byCpu[cpu] += cycles;
      total += cycles;
    }
  }
  return { total, byParty, byOperation, byCpu };
}

/** The grid summed over operation kinds, as { party: { primitive: count } }. */
export function primitiveCounts(grid: ArrayLike<number>): PrimitiveCounts {
  const out: PrimitiveCounts = {};
  for (let p = 0; p < PARTIES.length; p++) {
    for (let q = 0; q < PRIMITIVES.length; q++) {
      let n = 0;
      for (let k = 0; k < OP_KINDS.length; k++) n += grid[gridIndex(p, k, q)];
      if (n !== 0) (out[PARTIES[p]] ??= {})[PRIMITIVES[q]] = n;
    }
  }
  return out;
}
