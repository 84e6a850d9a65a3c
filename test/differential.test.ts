// Differential suite: the WASM core against the TypeScript reference model, event for event.
// Random operation sequences (fast-check) include wrap-around, a full IO space, misaligned
// buffers, scatter-gather lists, double and bad frees, and device accesses after unmap.
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { createIommu, createReferenceIommu, type Iommu, type IommuOptions } from "../bindings/node.js";
import { PLATFORM_PRESETS, PLATFORMS, type PlatformName } from "../bindings/platforms.js";
import { isIova } from "../bindings/abi.js";
import { DIR, putAccess, putAlloc, putFree, putMap, putMapSg, putUnmap, putUnmapSg } from "../bindings/records.js";
import {
  bytesArb, dartBytesArb, iovaOpArb, maxPfnOf, pfnArbPaged, withoutNodes, opArbWith, pfnArbUpTo, refusals, ringOpArb, runBoth, type Op,
} from "./helpers/differential.js";

/** rIOMMU: its ring sizes (small ones, so the tail wraps and the ring fills), its rIOTLB or none, every flush rule. */
const riommuConfigArb: fc.Arbitrary<IommuOptions> = fc.record({
  platform: fc.constant("riommu" as const),
  tableSize: fc.constantFrom("4K", "4K", "8K", "64K"),
  cache: fc.constantFrom({ entries: 2, ways: 2 }, { entries: 2, ways: 2 }, { entries: 0, ways: 0 }),
  flushPolicy: fc.constantFrom("end-of-burst", "end-of-burst", "on-wrap", "strict", "never", "flush-queue") as fc.Arbitrary<IommuOptions["flushPolicy"]>,
});

/** Ring mappings only on rIOMMU: map_sg and alloc_coherent are refused (test/riommu.test.ts). */
const ringOnly = (op: Op) => op.t !== "mapSg" && op.t !== "alloc";

const configArb = (platform: PlatformName): fc.Arbitrary<IommuOptions> =>
  platform === "riommu" ? riommuConfigArb : fc.record({
    platform: fc.constant(platform),
    tableSize: platform.startsWith("dart") ? fc.constant("2M") : fc.constantFrom("64K", "64K", "128K", "256K"),
    cache: fc.constantFrom({ entries: 64, ways: 4 }, { entries: 4, ways: 1 }, { entries: 16, ways: 16 }, { entries: 0, ways: 0 }),
    flushPolicy: fc.constantFrom("on-wrap", "strict", "all-after-map", "one-per-page", "never", "flush-queue") as fc.Arbitrary<IommuOptions["flushPolicy"]>,
    segmentBoundary: fc.constantFrom(undefined, 1 << 20, 1 << 24),
    // VT-d's two table formats: second level (legacy mode) and first level (scalable mode)
    pageTableFormat: platform === "vtd" ? fc.constantFrom(undefined, "first-level" as const) : fc.constant(undefined),
  }).map((o) => (o.segmentBoundary === undefined ? { ...o, segmentBoundary: undefined } : o)) as fc.Arbitrary<IommuOptions>;

function clean(o: IommuOptions): IommuOptions {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as unknown as IommuOptions;
}

/** Today's platforms default to the IOVA allocator. */
const iovaDefault = (p: PlatformName) => isIova(PLATFORM_PRESETS[p].allocator);
/** …and have multi-level page tables. */
const pageTable = (p: PlatformName) => PLATFORM_PRESETS[p].levels !== undefined;

const opsRun: Record<string, number> = {};
/** Counters summed over all runs per platform: the suite must reach the interesting corners. */
const reached: Record<string, Record<string, number>> = {};

describe.each(PLATFORMS)("WASM core ≡ reference model on %s", (platform) => {
  it("agrees on every result, counter and hint over random operation sequences", () => {
    fc.assert(
      fc.property(configArb(platform), fc.array(opArbWith(platform.startsWith("dart") ? dartBytesArb : bytesArb, (pageTable(platform) ? pfnArbPaged : pfnArbUpTo)(maxPfnOf(platform))).filter((op) => platform !== "riommu" || ringOnly(op)), { minLength: 1000, maxLength: 1300 }), (options, ops) => {
        const o = clean(options);
        const a = createIommu(o);
        const b = createReferenceIommu(o);
        runBoth(a, b, ops);
        opsRun[platform] = (opsRun[platform] ?? 0) + ops.length;
        const sum = (reached[platform] ??= {});
        for (const [k, v] of Object.entries(a.stats())) sum[k] = (sum[k] ?? 0) + v;
        // the reference does not count IOVA tree nodes (see the IOVA suite below)
        expect(iovaDefault(platform) ? withoutNodes(a.stats()) : a.stats()).toEqual(iovaDefault(platform) ? withoutNodes(b.stats()) : b.stats());
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
        if (iovaDefault(platform)) for (const out of outs) out.stats = withoutNodes(out.stats) as typeof out.stats;
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
    expect(refusals.count, "no operation reached the page-number limit").toBeGreaterThan(0);
    // the IOVA allocator of today's platforms never wraps, and no frees are bad below the table's end
    const corners = iovaDefault(p) ? ["staleHits", "faults", "hits", "doubleFrees", "mapSgs", "allocs", "mapFailures"] : ["wraps", "staleHits", "faults", "hits", "doubleFrees", "badFrees"];
    // rIOMMU maps ring buffers only (no map_sg, no alloc_coherent); its corners are its ring filling and its rIOTLB
    if (!iovaDefault(p) && p !== "riommu") corners.push("mapSgs", "allocs");
    if (p.startsWith("calgary") || p === "calioc2" || p === "riommu") corners.push("mapFailures", "flushes");
    if (p === "riommu") corners.push("rptePrefetches");
    // page tables: large leaves, walks the walk cache shortened, tables freed (VT-d and Arm only)
    if (pageTable(p)) corners.push("largePages", "walkCacheHits", "walkReads", "ctxWrites", "ctxReads", ...(p === "amd-vi" ? [] : ["ptTablesFreed"]));
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

describe("a batch access past 4 GiB faults, in both models (found by npm run fuzz, issue 14)", () => {
  // The IO address of an access record is the buffer's DMA address plus the record's offset. Both
  // models took it modulo 2^32, so an offset past the top of the IO space reached whatever was
  // mapped at the bottom. On vtd (64K table: IO space below 32 MiB, handed out top down) buffer A
  // is at 0x1fff000 and B at 0x1ffe000; A + 0xfffff000 = 2^32 + 0x1ffe000 is no IO address at all.
  it.each([["WASM", createIommu], ["reference", createReferenceIommu]] as const)("%s", (_, make) => {
    const io = make({ platform: "vtd", tableSize: "64K" });
    const { ops, results } = io.batch;
    let n = putMap(ops, 0, 0, 0x5000, 100, DIR.bidirectional);
    n = putMap(ops, n, 1, 0x6000, 100, DIR.bidirectional);
    n = putAccess(ops, n, 0, 0xfffff000, 64, false);
    n = putAccess(ops, n, 1, 0, 64, false);
    io.batch.run(n);
    expect(Array.from(results.subarray(0, n))).toEqual([0x1fff, 0x1ffe, 3, 1]); // IO pages; the access past 4 GiB faults, B's own misses
    expect(io.stats()).toMatchObject({ accesses: 2, faults: 1, misses: 1 });
  });
});
