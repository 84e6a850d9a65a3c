// Differential fuzzing (issue 12): the WASM core against the reference model on every platform ×
// allocator × flush policy, with page numbers, buffer sizes, table sizes, segment boundaries and
// CPU counts drawn over their full legal ranges (and past them: both must refuse alike). Split
// by platform family over two test files so the full run (`npm run fuzz`) uses two cores.
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { ALLOCATORS, FLUSH_POLICIES, isIova } from "../../bindings/abi.js";
import { createIommu, createReferenceIommu, type Iommu, type IommuOptions } from "../../bindings/node.js";
import { PLATFORM_PRESETS, type PlatformName } from "../../bindings/platforms.js";
import { maxPfnOf, opArbWith, pfnArbUpTo, runBoth, type Op } from "./differential.js";
import { counts, FULL_FUZZ, FUZZ_TIMEOUT, runs } from "./fuzz-budget.js";

/** ≥ 10^7 operations over the 168 combinations in the full run: 96 runs of ~800 operations each. */
const RUNS = runs(1, 96);
const LENGTH = FULL_FUZZ ? { minLength: 200, maxLength: 1800, size: "max" as const } : { minLength: 20, maxLength: 120 };

const U32_MAX = 0xffffffff;
/**
 * Buffer sizes from 1 byte to 4 GiB − 1: mostly small, some multi-page and large, some around and
 * beyond the whole IO space (they fail at once), and a few anywhere in the range. (The reference
 * writes every entry of a mapping one by one: huge mappings that fit are kept rare.)
 */
const sizeArb = (ioSpaceBytes: number) => fc.oneof(
  { weight: 60, arbitrary: fc.integer({ min: 1, max: 9000 }) },
  { weight: 25, arbitrary: fc.integer({ min: 1, max: 80 * 4096 }) },
  { weight: 5, arbitrary: fc.integer({ min: 1, max: Math.min(U32_MAX, ioSpaceBytes / 64) }) },
  { weight: 3, arbitrary: fc.integer({ min: Math.min(U32_MAX, ioSpaceBytes) - 64 * 4096, max: U32_MAX }) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: U32_MAX }) },
);

const optionsArb = (platform: PlatformName, allocator: (typeof ALLOCATORS)[number], flushPolicy: (typeof FLUSH_POLICIES)[number]) => {
  const p = PLATFORM_PRESETS[platform];
  const dart = platform.startsWith("dart");
  // small tables wrap and fill within a run; the large ones are drawn too
  const sizes = p.tableSizes.length > 1 ? fc.oneof({ weight: 6, arbitrary: fc.constant(p.tableSizes.at(-1)!) }, { weight: 1, arbitrary: fc.constantFrom(...p.tableSizes) }) : fc.constant(p.tableSizes[0]);
  return fc.record({
    tableSize: sizes,
    cache: fc.constantFrom({ entries: 64, ways: 4 }, { entries: 4, ways: 1 }, { entries: 16, ways: 16 }, { entries: 0, ways: 0 }, { entries: 1024, ways: 8 }),
    segmentBoundary: fc.option(fc.integer({ min: 12, max: 40 }).map((k) => 2 ** k), { nil: undefined }),
    cpus: fc.oneof(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 64 })),
    vmerge: dart && !isIova(ALLOCATORS.indexOf(allocator)) ? fc.boolean() : fc.constant(false),
    dartDummyPfn: dart ? fc.nat({ max: p.maxPfn }) : fc.constant(undefined),
    coherentBasePfn: fc.option(fc.nat({ max: p.maxPfn - 1024 }), { nil: undefined }),
  }).map((o) => {
    const options: IommuOptions = { platform, allocator, flushPolicy, tableSize: o.tableSize, cache: o.cache, cpus: o.cpus, vmerge: o.vmerge };
    if (o.segmentBoundary !== undefined) options.segmentBoundary = o.segmentBoundary;
    if (o.dartDummyPfn !== undefined) options.dartDummyPfn = o.dartDummyPfn;
    if (o.coherentBasePfn !== undefined) options.coherentBasePfn = o.coherentBasePfn;
    return options;
  });
};

const opsArb = (platform: PlatformName, ioSpaceBytes: number): fc.Arbitrary<Op[]> => {
  const op: fc.Arbitrary<Op> = fc.oneof(
    { weight: 30, arbitrary: opArbWith(sizeArb(ioSpaceBytes), pfnArbUpTo(maxPfnOf(platform))) },
    { weight: 2, arbitrary: fc.record({ t: fc.constant("cpu" as const), cpu: fc.nat({ max: 63 }) }) },
    { weight: 1, arbitrary: fc.record({ t: fc.constant("depot" as const) }) },
    { weight: 1, arbitrary: fc.record({ t: fc.constant("fqTimer" as const) }) },
  );
  // and one-page churn, so magazines, depots and flush queues fill and spill
  const churn: fc.Arbitrary<Op> = fc.oneof(
    { weight: 12, arbitrary: fc.record({ t: fc.constant("map" as const), pfn: pfnArbUpTo(maxPfnOf(platform)), off: fc.constant(0), bytes: fc.integer({ min: 1, max: 4096 }), dir: fc.constant("from-device" as const) }) },
    { weight: 10, arbitrary: fc.record({ t: fc.constant("unmap" as const), pick: fc.nat() }) },
    { weight: 1, arbitrary: fc.record({ t: fc.constant("cpu" as const), cpu: fc.nat({ max: 63 }) }) },
  );
  return fc.oneof(
    { weight: 3, arbitrary: fc.array(op, LENGTH) },
    { weight: 1, arbitrary: fc.array(churn, LENGTH).map((ops): Op[] => [...ops, { t: "drain" }, { t: "depot" }, { t: "fqTimer" }]) },
  );
};

const withoutNodes = ({ nodesVisited: _, ...rest }: ReturnType<Iommu["stats"]>) => rest;

/** The suite for `platforms` × every allocator × every flush policy; the full run must reach `floor` operations. */
export function fuzzDifferential(platforms: readonly PlatformName[], floor: number): void {
  const COMBINATIONS = platforms.flatMap((p) => ALLOCATORS.flatMap((a) => FLUSH_POLICIES.map((f) => [p, a, f] as const)));
  describe(`fuzz: WASM core ≡ reference model over ${platforms.join(", ")} × every allocator × every flush policy`, () => {
    it.each(COMBINATIONS)("%s / %s / %s", { timeout: FUZZ_TIMEOUT }, (platform, allocator, flushPolicy) => {
      const entriesMax = Math.max(...PLATFORM_PRESETS[platform].tableSizes) / (platform.startsWith("dart") ? 4 : 8);
      fc.assert(
        fc.property(optionsArb(platform, allocator, flushPolicy), opsArb(platform, entriesMax * 4096), (options, ops) => {
          const a = createIommu(options);
          const b = createReferenceIommu(options);
          runBoth(a, b, ops);
          counts.differentialOps += ops.length;
          if (isIova(a.config.allocator)) {
            expect(withoutNodes(a.stats())).toEqual(withoutNodes(b.stats()));
            expect(a.allocatorState()).toEqual(b.allocatorState());
            expect((a as unknown as { treeCheck(): number }).treeCheck()).toBe(0);
          } else {
            expect(a.stats()).toEqual(b.stats());
            expect(a.hint()).toBe(b.hint());
          }
          expect(a.cacheLines()).toBe(b.cacheLines());
          expect(a.staleLines()).toBe(b.staleLines());
        }),
        { numRuns: RUNS, seed: 12012, endOnFailure: true },
      );
    });
  });

  afterAll(() => {
    console.log(`differential operations (${platforms.join(", ")}): ${counts.differentialOps} over ${COMBINATIONS.length} platform × allocator × flush-policy combinations`);
    if (FULL_FUZZ) expect(counts.differentialOps).toBeGreaterThanOrEqual(floor);
  });
}
