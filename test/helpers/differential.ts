// The differential machinery shared by the CI suite (test/differential.test.ts) and the fuzz
// run (test/fuzz-differential.test.ts): operation arbitraries over the full legal ranges, and
// one step applied to the WASM core and the reference model with both answers returned.
import fc from "fast-check";
import { ConfigError, type Direction, type Iommu } from "../../bindings/node.js";
import { PLATFORM_PRESETS, type PlatformName } from "../../bindings/platforms.js";
import type { Stats } from "../../bindings/abi.js";

export type Op =
  | { t: "map"; pfn: number; off: number; bytes: number; dir: Direction }
  | { t: "unmap"; pick: number }
  | { t: "unmapAgain"; pick: number }
  | { t: "unmapKeep"; pick: number }
  | { t: "unmapRandom"; dma: number; bytes: number }
  | { t: "mapSg"; segs: Array<{ pfn: number; off: number; bytes: number }>; dir: Direction }
  | { t: "unmapSg"; pick: number }
  | { t: "alloc"; bytes: number }
  | { t: "free"; pick: number }
  | { t: "access"; pick: number; dead: boolean; off: number; bytes: number; write: boolean }
  | { t: "accessRandom"; dma: number; bytes: number; write: boolean }
  | { t: "cpu"; cpu: number }
  | { t: "depot" }
  | { t: "drain" }
  | { t: "fqTimer" };

export const dirArb = fc.constantFrom<Direction>("bidirectional", "to-device", "from-device");
/** Mostly small buffers, some multi-page, a few huge enough to fill a small table. */
export const bytesArb = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 1, max: 9000 }) },
  { weight: 3, arbitrary: fc.integer({ min: 1, max: 80 * 4096 }) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 1500 * 4096 }) },
);
/** DART's 2 GiB space needs bigger buffers to wrap its large-allocation region within a run. */
export const dartBytesArb = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 1, max: 9000 }) },
  { weight: 2, arbitrary: fc.integer({ min: 1, max: 15 * 4096 }) },
  { weight: 2, arbitrary: fc.integer({ min: 1, max: 8000 * 4096 }) },
);
/**
 * Page numbers over the whole legal range of a platform's entries (Calgary 36-bit RPN, DART
 * 24-bit), its top pages (where a buffer's end crosses the limit and is refused), and beyond.
 */
export const pfnArbUpTo = (maxPfn: number): fc.Arbitrary<number> => fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: 0, max: 0xfffff }) },
  { weight: 4, arbitrary: fc.integer({ min: 0, max: maxPfn }) },
  { weight: 1, arbitrary: fc.integer({ min: maxPfn - 2000, max: maxPfn }) },
  { weight: 1, arbitrary: fc.integer({ min: maxPfn + 1, max: maxPfn * 4 + 3 }) },
);
/** Page-table platforms: also physical pages on 2 MiB boundaries, where the driver maps large leaves. */
export const pfnArbPaged = (maxPfn: number): fc.Arbitrary<number> => fc.oneof(
  { weight: 3, arbitrary: pfnArbUpTo(maxPfn) },
  { weight: 2, arbitrary: fc.integer({ min: 0, max: 0x3fff }).map((r) => r * 512) },
);
export const CALGARY_MAX_PFN = 2 ** 36 - 1;
export const DART_MAX_PFN = 0xffffff;
export const maxPfnOf = (platform: PlatformName) => PLATFORM_PRESETS[platform].maxPfn;
/** Counters without the IOVA tree's nodes visited, which the reference does not count (and nothing prices). */
export const withoutNodes = ({ nodesVisited: _, ...rest }: Stats): Omit<Stats, "nodesVisited"> => rest;
const pick = fc.nat();

export const opArbWith = (bytesArb: fc.Arbitrary<number>, pfnArb = pfnArbUpTo(CALGARY_MAX_PFN)): fc.Arbitrary<Op> => fc.oneof(
  { weight: 8, arbitrary: fc.record({ t: fc.constant("map" as const), pfn: pfnArb, off: fc.integer({ min: 0, max: 4095 }), bytes: bytesArb, dir: dirArb }) },
  { weight: 7, arbitrary: fc.record({ t: fc.constant("unmap" as const), pick }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant("unmapAgain" as const), pick }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant("unmapKeep" as const), pick }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant("unmapRandom" as const), dma: fc.integer({ min: 0, max: 0xffffffff }), bytes: fc.integer({ min: 1, max: 20000 }) }) },
  {
    weight: 2,
    arbitrary: fc.record({
      t: fc.constant("mapSg" as const),
      segs: fc.array(fc.record({ pfn: pfnArb, off: fc.integer({ min: 0, max: 4095 }), bytes: bytesArb }), { minLength: 1, maxLength: 6 }),
      dir: dirArb,
    }),
  },
  { weight: 2, arbitrary: fc.record({ t: fc.constant("unmapSg" as const), pick }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant("alloc" as const), bytes: fc.oneof(fc.integer({ min: 1, max: 65536 }), fc.integer({ min: 1, max: 8 << 20 }), fc.integer({ min: 1, max: 20 << 20 })) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant("free" as const), pick }) },
  { weight: 5, arbitrary: fc.record({ t: fc.constant("access" as const), pick, dead: fc.boolean(), off: fc.nat({ max: 8191 }), bytes: fc.integer({ min: 1, max: 9000 }), write: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant("accessRandom" as const), dma: fc.integer({ min: 0, max: 0xffffffff }), bytes: fc.integer({ min: 1, max: 9000 }), write: fc.boolean() }) },
);


export interface Live {
  kind: "single" | "sg" | "coherent";
  /** Each segment's DMA address and length, and the physical address it was mapped to. */
  segs: Array<{ dma: number; bytes: number; phys?: number }>;
  dir?: Direction;
}


/** Operations both models refused (pages beyond an entry's RPN): the generators reach the limit. */
export const refusals = { count: 0 };

export function step(a: Iommu, b: Iommu, op: Op, live: Live[], dead: Live[]): [unknown, unknown] {
  // a refusal is an answer too: both must refuse, with the same words
  const answer = <T>(m: Iommu, f: (m: Iommu) => T): T => {
    try {
      return f(m);
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      refusals.count++;
      return { refused: e.message } as T;
    }
  };
  const both = <T>(f: (m: Iommu) => T): [T, T] => [answer(a, f), answer(b, f)];
  const take = (list: Live[], i: number, kind?: Live["kind"]) => {
    const candidates = list.filter((l) => !kind || l.kind === kind);
    if (candidates.length === 0) return undefined;
    const x = candidates[i % candidates.length];
    return x;
  };
  switch (op.t) {
    case "map": {
      const r = both((m) => m.mapSingle(op.pfn * 4096 + op.off, op.bytes, op.dir));
      if (typeof r[0] === "number") live.push({ kind: "single", segs: [{ dma: r[0], bytes: op.bytes, phys: op.pfn * 4096 + op.off }], dir: op.dir });
      return r;
    }
    case "mapSg": {
      const segs = op.segs.map((s) => ({ phys: s.pfn * 4096 + s.off, bytes: s.bytes }));
      const r = both((m) => m.mapSg(segs, op.dir));
      if (Array.isArray(r[0])) live.push({ kind: "sg", segs: r[0].map((dma, k) => ({ dma, bytes: segs[k].bytes, phys: segs[k].phys })), dir: op.dir });
      return r;
    }
    case "alloc": {
      const r = both((m) => m.allocCoherent(op.bytes));
      if (r[0] !== null) live.push({ kind: "coherent", segs: [{ dma: r[0].dma, bytes: op.bytes, phys: r[0].phys }], dir: "bidirectional" });
      return r;
    }
    case "unmap":
    case "unmapSg":
    case "free": {
      const kind = op.t === "unmap" ? "single" : op.t === "unmapSg" ? "sg" : "coherent";
      const x = take(live, op.pick, kind);
      if (!x) return [null, null];
      live.splice(live.indexOf(x), 1);
      dead.push(x);
      if (kind === "single") return both((m) => m.unmapSingle(x.segs[0].dma, x.segs[0].bytes));
      if (kind === "sg") return both((m) => m.unmapSg(x.segs));
      return both((m) => m.freeCoherent(x.segs[0].dma, x.segs[0].bytes));
    }
    case "unmapKeep": {
      const x = take(live, op.pick, "single");
      if (!x) return [null, null];
      live.splice(live.indexOf(x), 1);
      dead.push(x);
      return both((m) => [m.unmapKeep(x.segs[0].dma, x.segs[0].bytes), m.staleLines()]);
    }
    case "unmapAgain": {
      const x = take(dead, op.pick);
      if (!x) return [null, null];
      return x.kind === "sg" ? both((m) => m.unmapSg(x.segs)) : both((m) => m.unmapSingle(x.segs[0].dma, x.segs[0].bytes));
    }
    case "unmapRandom":
      return both((m) => m.unmapSingle(op.dma, op.bytes));
    case "access": {
      const x = take(op.dead ? dead : live, op.pick);
      if (!x) return [null, null];
      const dma = Math.min(x.segs[0].dma + op.off, 0xffffffff);
      return both((m) => m.deviceAccess(dma, op.bytes, op.write ? "write" : "read"));
    }
    case "accessRandom":
      return both((m) => m.deviceAccess(op.dma, op.bytes, op.write ? "write" : "read"));
    case "cpu":
      return both((m) => m.setCpu(op.cpu % m.config.cpus));
    case "depot":
      return both((m) => [m.depotWork(), m.allocatorState()]);
    case "fqTimer":
      return both((m) => [m.flushQueueTimer(), m.stats().pagesQueued, m.cacheLines()]);
    case "drain": {
      // every live single mapping unmapped in a row: hundreds of frees on one CPU
      const singles = live.filter((l) => l.kind === "single");
      const r = singles.map((x) => both((m) => m.unmapSingle(x.segs[0].dma, x.segs[0].bytes)));
      for (const x of singles) live.splice(live.indexOf(x), 1);
      return [r.map((p) => p[0]), r.map((p) => p[1])];
    }
  }
}

/**
 * Applies every op to both models and fails at the first answer they disagree on. `check`, if
 * given, sees what the caller still holds mapped while that is all it holds: at the end, or just
 * before the first stray unmap (a double unmap, or one of an address never mapped) that the models
 * applied, after which IO space may be freed twice and handed out twice, as in Linux.
 */
export function runBoth(a: Iommu, b: Iommu, ops: Op[], check?: (live: Live[]) => void): void {
  const live: Live[] = [];
  const dead: Live[] = [];
  let owned = true;
  ops.forEach((op, i) => {
    const stray = op.t === "unmapAgain" || op.t === "unmapRandom";
    if (stray && owned) check?.(live);
    const [x, y] = step(a, b, op, live, dead);
    if (JSON.stringify(x) !== JSON.stringify(y)) {
      throw new Error(`op ${i} ${JSON.stringify(op)}: wasm ${JSON.stringify(x)} vs reference ${JSON.stringify(y)}`);
    }
    if (stray && /"(ok|double)"/.test(JSON.stringify(x))) owned = false;
  });
  if (owned) check?.(live);
}


/** The IOVA runs add CPU switches and the depot's delayed work to the stream. */
export const iovaOpArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 30, arbitrary: opArbWith(bytesArb) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant("cpu" as const), cpu: fc.nat({ max: 63 }) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant("depot" as const) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant("fqTimer" as const) }) },
);
/** Small one-page-heavy buffers, so the one-page magazines fill and spill into the depot. */
export const ringOpArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 12, arbitrary: fc.record({ t: fc.constant("map" as const), pfn: fc.nat({ max: DART_MAX_PFN - 1 }), off: fc.constant(0), bytes: fc.integer({ min: 1, max: 2 * 4096 }), dir: dirArb }) },
  { weight: 7, arbitrary: fc.record({ t: fc.constant("unmap" as const), pick }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant("cpu" as const), cpu: fc.nat({ max: 63 }) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant("depot" as const) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant("fqTimer" as const) }) },
);
