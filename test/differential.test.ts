// Differential suite: the WASM core against the TypeScript reference model, event for event.
// Random operation sequences (fast-check) include wrap-around, a full IO space, misaligned
// buffers, scatter-gather lists, double and bad frees, and device accesses after unmap.
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { ConfigError, createIommu, createReferenceIommu, type Direction, type Iommu, type IommuOptions } from "../bindings/node.js";
import { PLATFORMS, type PlatformName } from "../bindings/platforms.js";
import { DIR, putAccess, putAlloc, putFree, putMap, putMapSg, putUnmap, putUnmapSg } from "../bindings/records.js";

type Op =
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

const dirArb = fc.constantFrom<Direction>("bidirectional", "to-device", "from-device");
/** Mostly small buffers, some multi-page, a few huge enough to fill a small table. */
const bytesArb = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 1, max: 9000 }) },
  { weight: 3, arbitrary: fc.integer({ min: 1, max: 80 * 4096 }) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 1500 * 4096 }) },
);
/** DART's 2 GiB space needs bigger buffers to wrap its large-allocation region within a run. */
const dartBytesArb = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 1, max: 9000 }) },
  { weight: 2, arbitrary: fc.integer({ min: 1, max: 15 * 4096 }) },
  { weight: 2, arbitrary: fc.integer({ min: 1, max: 8000 * 4096 }) },
);
/**
 * Page numbers over the whole legal range of a platform's entries (Calgary 36-bit RPN, DART
 * 24-bit), its top pages (where a buffer's end crosses the limit and is refused), and beyond.
 */
const pfnArbUpTo = (maxPfn: number): fc.Arbitrary<number> => fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: 0, max: 0xfffff }) },
  { weight: 4, arbitrary: fc.integer({ min: 0, max: maxPfn }) },
  { weight: 1, arbitrary: fc.integer({ min: maxPfn - 2000, max: maxPfn }) },
  { weight: 1, arbitrary: fc.integer({ min: maxPfn + 1, max: maxPfn * 4 + 3 }) },
);
const CALGARY_MAX_PFN = 2 ** 36 - 1;
const DART_MAX_PFN = 0xffffff;
const maxPfnOf = (platform: PlatformName) => (platform.startsWith("dart") ? DART_MAX_PFN : CALGARY_MAX_PFN);
const pick = fc.nat();

const opArbWith = (bytesArb: fc.Arbitrary<number>, pfnArb = pfnArbUpTo(CALGARY_MAX_PFN)): fc.Arbitrary<Op> => fc.oneof(
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
  { weight: 1, arbitrary: fc.record({ t: fc.constant("alloc" as const), bytes: fc.oneof(fc.integer({ min: 1, max: 65536 }), fc.integer({ min: 1, max: 8 << 20 })) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant("free" as const), pick }) },
  { weight: 5, arbitrary: fc.record({ t: fc.constant("access" as const), pick, dead: fc.boolean(), off: fc.nat({ max: 8191 }), bytes: fc.integer({ min: 1, max: 9000 }), write: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant("accessRandom" as const), dma: fc.integer({ min: 0, max: 0xffffffff }), bytes: fc.integer({ min: 1, max: 9000 }), write: fc.boolean() }) },
);

const configArb = (platform: PlatformName): fc.Arbitrary<IommuOptions> =>
  fc.record({
    platform: fc.constant(platform),
    tableSize: platform.startsWith("dart") ? fc.constant("2M") : fc.constantFrom("64K", "64K", "128K", "256K"),
    cache: fc.constantFrom({ entries: 64, ways: 4 }, { entries: 4, ways: 1 }, { entries: 16, ways: 16 }, { entries: 0, ways: 0 }),
    flushPolicy: fc.constantFrom("on-wrap", "strict", "all-after-map", "one-per-page", "never", "flush-queue") as fc.Arbitrary<IommuOptions["flushPolicy"]>,
    segmentBoundary: fc.constantFrom(undefined, 1 << 20, 1 << 24),
  }).map((o) => (o.segmentBoundary === undefined ? { ...o, segmentBoundary: undefined } : o)) as fc.Arbitrary<IommuOptions>;

function clean(o: IommuOptions): IommuOptions {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as unknown as IommuOptions;
}

interface Live {
  kind: "single" | "sg" | "coherent";
  segs: Array<{ dma: number; bytes: number }>;
}

const opsRun: Record<string, number> = {};
/** Operations both models refused (pages beyond an entry's RPN): the generators reach the limit. */
let refusals = 0;
/** Counters summed over all runs per platform: the suite must reach the interesting corners. */
const reached: Record<string, Record<string, number>> = {};

/** Applies one op to both models; returns what each said, for comparison. */
function step(a: Iommu, b: Iommu, op: Op, live: Live[], dead: Live[]): [unknown, unknown] {
  // a refusal is an answer too: both must refuse, with the same words
  const answer = <T>(m: Iommu, f: (m: Iommu) => T): T => {
    try {
      return f(m);
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      refusals++;
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
      if (typeof r[0] === "number") live.push({ kind: "single", segs: [{ dma: r[0], bytes: op.bytes }] });
      return r;
    }
    case "mapSg": {
      const segs = op.segs.map((s) => ({ phys: s.pfn * 4096 + s.off, bytes: s.bytes }));
      const r = both((m) => m.mapSg(segs, op.dir));
      if (Array.isArray(r[0])) live.push({ kind: "sg", segs: r[0].map((dma, k) => ({ dma, bytes: segs[k].bytes })) });
      return r;
    }
    case "alloc": {
      const r = both((m) => m.allocCoherent(op.bytes));
      if (r[0] !== null) live.push({ kind: "coherent", segs: [{ dma: r[0].dma, bytes: op.bytes }] });
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

/** Applies every op to both models and fails at the first answer they disagree on. */
function runBoth(a: Iommu, b: Iommu, ops: Op[]): void {
  const live: Live[] = [];
  const dead: Live[] = [];
  ops.forEach((op, i) => {
    const [x, y] = step(a, b, op, live, dead);
    if (JSON.stringify(x) !== JSON.stringify(y)) {
      throw new Error(`op ${i} ${JSON.stringify(op)}: wasm ${JSON.stringify(x)} vs reference ${JSON.stringify(y)}`);
    }
  });
}

describe.each(PLATFORMS)("WASM core ≡ reference model on %s", (platform) => {
  it("agrees on every result, counter and hint over random operation sequences", () => {
    fc.assert(
      fc.property(configArb(platform), fc.array(opArbWith(platform.startsWith("dart") ? dartBytesArb : bytesArb, pfnArbUpTo(maxPfnOf(platform))), { minLength: 1000, maxLength: 1300 }), (options, ops) => {
        const o = clean(options);
        const a = createIommu(o);
        const b = createReferenceIommu(o);
        runBoth(a, b, ops);
        opsRun[platform] = (opsRun[platform] ?? 0) + ops.length;
        const sum = (reached[platform] ??= {});
        for (const [k, v] of Object.entries(a.stats())) sum[k] = (sum[k] ?? 0) + v;
        expect(a.stats()).toEqual(b.stats());
        expect(a.hint()).toBe(b.hint());
        expect(a.cacheLines()).toBe(b.cacheLines());
        expect(a.staleLines()).toBe(b.staleLines());
      }),
      { numRuns: 100, seed: 20071001, endOnFailure: true },
    );
  });
});

describe.each(["first-fit", "free-list", "ppc2007", "calgary", "best-fit"] as const)("WASM core ≡ reference model with the %s allocator on a Calgary 64K table", (allocator) => {
  it("agrees on every result, counter and hint", () => {
    fc.assert(
      fc.property(fc.constantFrom<IommuOptions["flushPolicy"]>("on-wrap", "strict", "never", "flush-queue"), fc.constantFrom(undefined, 1 << 17, 1 << 20), fc.array(opArbWith(bytesArb), { minLength: 200, maxLength: 800 }), (flushPolicy, segmentBoundary, ops) => {
        const o: IommuOptions = clean({ platform: "calgary-pcix", tableSize: "64K", allocator, flushPolicy, segmentBoundary });
        const a = createIommu(o);
        const b = createReferenceIommu(o);
        runBoth(a, b, ops);
        expect(a.stats()).toEqual(b.stats());
        expect(a.hint()).toBe(b.hint());
      }),
      { numRuns: 25, seed: 7, endOnFailure: true },
    );
  });
});

describe("batched records ≡ reference batch interpreter", () => {
  const DIRS = [DIR.bidirectional, DIR.toDevice, DIR.fromDevice];
  const recordArb = fc.oneof(
    fc.tuple(fc.constant(0), fc.nat({ max: 40 }), pfnArbUpTo(2 ** 44 - 1), fc.integer({ min: 0, max: 4095 }), bytesArb, fc.nat({ max: 2 })),
    fc.tuple(fc.constant(1), fc.nat({ max: 40 }), fc.nat(), fc.nat(), fc.nat(), fc.nat()),
    fc.tuple(fc.constant(2), fc.nat({ max: 40 }), fc.integer({ min: 1, max: 4 }), pfnArbUpTo(2 ** 44 - 100), bytesArb, fc.nat({ max: 2 })),
    fc.tuple(fc.constant(3), fc.nat({ max: 40 }), fc.integer({ min: 1, max: 4 }), fc.nat(), fc.nat(), fc.nat()),
    fc.tuple(fc.constant(4), fc.nat({ max: 40 }), fc.nat(), fc.nat(), fc.integer({ min: 1, max: 70000 }), fc.nat()),
    fc.tuple(fc.constant(5), fc.nat({ max: 40 }), fc.nat(), fc.nat(), fc.nat(), fc.nat()),
    fc.tuple(fc.constant(6), fc.nat({ max: 40 }), fc.nat({ max: 9000 }), fc.nat(), fc.integer({ min: 1, max: 9000 }), fc.nat({ max: 1 })),
    fc.tuple(fc.constant(7), fc.nat(), fc.nat(), fc.nat(), fc.nat(), fc.nat()), // raw garbage record
  );

  it.each(PLATFORMS)("%s: same results for the same records, including refused ones", (platform) => {
    fc.assert(
      fc.property(fc.array(recordArb, { minLength: 1, maxLength: 400 }), fc.boolean(), (recs, merge) => {
        const dart = platform.startsWith("dart");
        const o: IommuOptions = { platform, tableSize: dart ? "2M" : "64K", maxHandles: 32, batchCapacity: 2048, ...(dart && merge ? { vmerge: true } : {}) };
        const models = [createIommu(o), createReferenceIommu(o)];
        const outs = models.map((m) => {
          const { ops } = m.batch;
          let n = 0;
          for (const [k, h, x, y, z, w] of recs) {
            if (k === 0) n = putMap(ops, n, h, x * 4096 + y, z, DIRS[w]);
            else if (k === 1) n = putUnmap(ops, n, h);
            else if (k === 2) n = putMapSg(ops, n, h, Array.from({ length: x }, (_, i) => ({ phys: (y + i * 7) * 4096 + i, bytes: z })), DIRS[w]);
            else if (k === 3) n = putUnmapSg(ops, n, h, x);
            else if (k === 4) n = putAlloc(ops, n, h, z);
            else if (k === 5) n = putFree(ops, n, h);
            else if (k === 6) n = putAccess(ops, n, h, x, z, w === 1);
            else {
              ops.set([x >>> 0, h >>> 0, y >>> 0, z >>> 0], n * 4);
              n++;
            }
          }
          m.batch.run(n);
          return { results: Array.from(m.batch.results.subarray(0, n)), stats: m.stats() };
        });
        expect(outs[0]).toEqual(outs[1]);
      }),
      { numRuns: 60, seed: 42, endOnFailure: true },
    );
  });
});

afterAll(() => {
  // The floor: at least 10^5 random operations per platform in CI.
  for (const p of PLATFORMS) {
    expect(opsRun[p] ?? 0).toBeGreaterThanOrEqual(100_000);
    expect(refusals, "no operation reached the page-number limit").toBeGreaterThan(0);
    const corners = ["wraps", "staleHits", "faults", "hits", "doubleFrees", "badFrees", "mapSgs", "allocs"];
    if (p.startsWith("calgary") || p === "calioc2") corners.push("mapFailures", "flushes");
    for (const c of corners) expect(reached[p]?.[c] ?? 0, `${p} never reached ${c}`).toBeGreaterThan(0);
  }
  // The IOVA runs must reach the magazines, the depot, failures (the rcache flush) and the tree.
  for (const a of ["iova", "iova-tree"]) {
    expect(opsRun[a] ?? 0).toBeGreaterThanOrEqual(50_000);
    const corners = ["mapFailures", "doubleFrees", "nodesVisited", "mapSgs", "allocs"];
    if (a === "iova") corners.push("rcacheHits", "depotMagazines", "queueFlushes");
    for (const c of corners) expect(reached[a]?.[c] ?? 0, `${a} never reached ${c}`).toBeGreaterThan(0);
  }
});

/** The IOVA runs add CPU switches and the depot's delayed work to the stream. */
const iovaOpArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 30, arbitrary: opArbWith(bytesArb) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant("cpu" as const), cpu: fc.nat({ max: 63 }) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant("depot" as const) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant("fqTimer" as const) }) },
);
/** Small one-page-heavy buffers, so the one-page magazines fill and spill into the depot. */
const ringOpArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 12, arbitrary: fc.record({ t: fc.constant("map" as const), pfn: fc.nat({ max: DART_MAX_PFN - 1 }), off: fc.constant(0), bytes: fc.integer({ min: 1, max: 2 * 4096 }), dir: dirArb }) },
  { weight: 7, arbitrary: fc.record({ t: fc.constant("unmap" as const), pick }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant("cpu" as const), cpu: fc.nat({ max: 63 }) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant("depot" as const) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant("fqTimer" as const) }) },
);

const withoutNodes = ({ nodesVisited: _, ...rest }: ReturnType<Iommu["stats"]>) => rest;

describe.each(["iova", "iova-tree"] as const)("WASM core ≡ reference model with the %s allocator", (allocator) => {
  it("agrees on every result, counter (tree nodes visited aside) and allocator state; the red-black tree stays sound", () => {
    fc.assert(
      fc.property(
        fc.constantFrom("calgary-pcix", "calioc2", "dart-u4") as fc.Arbitrary<PlatformName>,
        fc.integer({ min: 1, max: 4 }),
        fc.constantFrom<IommuOptions["flushPolicy"]>("on-wrap", "strict", "never", "flush-queue"),
        fc.oneof(fc.array(iovaOpArb, { minLength: 300, maxLength: 1000 }), fc.array(ringOpArb, { minLength: 1000, maxLength: 3000 }).map((ops): Op[] => [...ops, { t: "drain" }, { t: "depot" }])),
        (platform, cpus, flushPolicy, ops) => {
          const o: IommuOptions = { platform, tableSize: platform.startsWith("dart") ? "2M" : "64K", allocator, flushPolicy, cpus };
          const a = createIommu(o);
          const b = createReferenceIommu(o);
          runBoth(a, b, ops);
          opsRun[allocator] = (opsRun[allocator] ?? 0) + ops.length;
          const sum = (reached[allocator] ??= {});
          for (const [k, v] of Object.entries(a.stats())) sum[k] = (sum[k] ?? 0) + v;
          sum.depotMagazines = (sum.depotMagazines ?? 0) + Math.max(0, a.allocatorState().magazines - 12 * cpus);
          if (flushPolicy === "flush-queue") sum.queueFlushes = (sum.queueFlushes ?? 0) + a.stats().flushes;
          expect(withoutNodes(a.stats())).toEqual(withoutNodes(b.stats()));
          expect(a.allocatorState()).toEqual(b.allocatorState());
          expect((a as unknown as { treeCheck(): number }).treeCheck()).toBe(0);
        },
      ),
      { numRuns: 60, seed: 20161101, endOnFailure: true },
    );
  });
});
