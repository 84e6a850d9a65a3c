// Differential fuzzing (issues 12, 14): the WASM core against the reference model on every platform ×
// allocator × flush policy, with page numbers, buffer sizes, table sizes, segment boundaries,
// CPU counts and page-table levels drawn over their full legal ranges (and past them: both must
// refuse alike). Split by platform family over several test files so the full run
// (`npm run fuzz`) uses every core. The page-table platforms also get 2 MiB-aligned buffers of
// whole 2 MiB multiples (large leaves); riommu, which has no allocator option and maps ring
// buffers only, gets every flush policy with both accepted and refused options and operations.
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { ALLOCATORS, FLUSH_POLICIES, FORMAT_VTD_FL, INVALIDATIONS, isIova } from "../../bindings/abi.js";
import { createIommu, createReferenceIommu, type Iommu, type IommuOptions } from "../../bindings/node.js";
import { PLATFORM_PRESETS, type PlatformName } from "../../bindings/platforms.js";
import { ConfigError } from "../../bindings/errors.js";
import { maxPfnOf, opArbWith, pfnArbPaged, pfnArbUpTo, runBoth, type Live, type Op } from "./differential.js";
import { counts, FULL_FUZZ, FUZZ_TIMEOUT, runs, seedOr } from "./fuzz-budget.js";

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

const MiB2 = 2 << 20;
/**
 * Page-table platforms: the sizes above, and whole or nearly whole 2 MiB multiples (up to 64 MiB),
 * which dma-iommu maps with 2 MiB leaves where the IO and physical addresses are both aligned.
 */
const pagedSizeArb = (ioSpaceBytes: number) => fc.oneof(
  { weight: 6, arbitrary: sizeArb(ioSpaceBytes) },
  { weight: 2, arbitrary: fc.integer({ min: 1, max: 32 }).map((k) => k * MiB2) },
  { weight: 1, arbitrary: fc.tuple(fc.integer({ min: 1, max: 32 }), fc.integer({ min: -4097, max: 4097 })).map(([k, d]) => Math.max(1, k * MiB2 + d)) },
);

/** An invalidation interface (any of them, as a what-if) with capabilities it has. */
const invalidationArb: fc.Arbitrary<Pick<IommuOptions, "invalidation" | "invalidationCaps">> = fc.oneof(
  fc.constantFrom(...INVALIDATIONS).map((invalidation) => ({ invalidation })),
  fc.record({ mamv: fc.integer({ min: 0, max: 63 }), rwbf: fc.boolean() }).map((invalidationCaps) => ({ invalidation: "vtd-qi" as const, invalidationCaps })),
  fc.boolean().map((rangeInvalidation) => ({ invalidation: "smmuv3-cmdq" as const, invalidationCaps: { rangeInvalidation } })),
);

/** Whether the platform has a multi-level page table. */
const paged = (platform: PlatformName) => PLATFORM_PRESETS[platform].levels !== undefined;

const optionsArb = (platform: PlatformName, allocator: (typeof ALLOCATORS)[number] | undefined, flushPolicy: (typeof FLUSH_POLICIES)[number]) => {
  if (platform === "riommu") return riommuOptionsArb(flushPolicy);
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
    pageTableLevels: p.levels ? fc.option(fc.constantFrom(...p.levels), { nil: undefined }) : fc.constant(undefined),
    pageTableFormat: platform === "vtd" ? fc.option(fc.constantFrom("second-level" as const, "first-level" as const), { nil: undefined }) : fc.constant(undefined),
    invalidation: paged(platform) ? fc.option(invalidationArb, { nil: undefined }) : fc.constant(undefined),
  }).map((o) => {
    const options: IommuOptions = { platform, allocator, flushPolicy, tableSize: o.tableSize, cache: o.cache, cpus: o.cpus, vmerge: o.vmerge };
    if (o.pageTableLevels !== undefined) options.pageTableLevels = o.pageTableLevels;
    if (o.pageTableFormat !== undefined) options.pageTableFormat = o.pageTableFormat;
    if (o.invalidation !== undefined) Object.assign(options, o.invalidation);
    if (o.segmentBoundary !== undefined) options.segmentBoundary = o.segmentBoundary;
    if (o.dartDummyPfn !== undefined) options.dartDummyPfn = o.dartDummyPfn;
    if (o.coherentBasePfn !== undefined) options.coherentBasePfn = o.coherentBasePfn;
    return options;
  });
};

/**
 * rIOMMU: every ring size, its rIOTLB or none, CPUs; and, one case in four, an option it refuses
 * (an allocator, another cache geometry, a page-table level count, vmerge, a segment boundary,
 * a PCI window), which both models
 * must refuse with the same ConfigError.
 */
const riommuOptionsArb = (flushPolicy: (typeof FLUSH_POLICIES)[number]): fc.Arbitrary<IommuOptions> => fc.record({
  tableSize: fc.constantFrom(...PLATFORM_PRESETS.riommu.tableSizes),
  cache: fc.constantFrom({ entries: 2, ways: 2 }, { entries: 0, ways: 0 }),
  cpus: fc.integer({ min: 1, max: 64 }),
  refused: fc.oneof({ weight: 3, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.oneof(
    fc.integer({ min: 12, max: 40 }).map((k): Partial<IommuOptions> => ({ segmentBoundary: 2 ** k })),
    fc.nat({ max: 0xffff }).map((p): Partial<IommuOptions> => ({ pciWindows: [{ start: p * 4096, bytes: 4096 }] })),
    fc.constantFrom(...ALLOCATORS).map((a): Partial<IommuOptions> => ({ allocator: a })),
    fc.constantFrom({ entries: 64, ways: 4 }, { entries: 2, ways: 1 }, { entries: 4, ways: 2 }).map((c): Partial<IommuOptions> => ({ cache: c })),
    fc.integer({ min: 0, max: 6 }).map((l): Partial<IommuOptions> => ({ pageTableLevels: l })),
    fc.constant<Partial<IommuOptions>>({ vmerge: true }),
  ) }),
}).map((o) => {
  const options: IommuOptions = { platform: "riommu", flushPolicy, tableSize: o.tableSize, cache: o.cache, cpus: o.cpus };
  return { ...options, ...o.refused };
});

const opsArb = (platform: PlatformName, ioSpaceBytes: number): fc.Arbitrary<Op[]> => {
  const pfns = (paged(platform) ? pfnArbPaged : pfnArbUpTo)(maxPfnOf(platform));
  const op: fc.Arbitrary<Op> = fc.oneof(
    { weight: 30, arbitrary: opArbWith(paged(platform) ? pagedSizeArb(ioSpaceBytes) : sizeArb(ioSpaceBytes), pfns) },
    { weight: 2, arbitrary: fc.record({ t: fc.constant("cpu" as const), cpu: fc.nat({ max: 63 }) }) },
    { weight: 1, arbitrary: fc.record({ t: fc.constant("depot" as const) }) },
    { weight: 1, arbitrary: fc.record({ t: fc.constant("fqTimer" as const) }) },
  );
  // and one-page churn, so magazines, depots and flush queues fill and spill
  const churn: fc.Arbitrary<Op> = fc.oneof(
    { weight: 12, arbitrary: fc.record({ t: fc.constant("map" as const), pfn: pfns, off: fc.constant(0), bytes: fc.integer({ min: 1, max: 4096 }), dir: fc.constant("from-device" as const) }) },
    { weight: 2, arbitrary: fc.record({ t: fc.constant("access" as const), pick: fc.nat(), dead: fc.boolean(), off: fc.nat({ max: 4095 }), bytes: fc.integer({ min: 1, max: 4096 }), write: fc.boolean() }) },
    { weight: 10, arbitrary: fc.record({ t: fc.constant("unmap" as const), pick: fc.nat() }) },
    { weight: 1, arbitrary: fc.record({ t: fc.constant("cpu" as const), cpu: fc.nat({ max: 63 }) }) },
  );
  return fc.oneof(
    { weight: 3, arbitrary: fc.array(op, LENGTH) },
    { weight: 1, arbitrary: fc.array(churn, LENGTH).map((ops): Op[] => [...ops, { t: "drain" }, { t: "depot" }, { t: "fqTimer" }]) },
  );
};

const withoutNodes = ({ nodesVisited: _, ...rest }: ReturnType<Iommu["stats"]>) => rest;

/**
 * What the leaf translating IO page `page` says, read from the format's bits (not from either
 * model's code): the physical page it reaches and whether it lets the device read and write.
 * Checked against what the driver mapped there, so a fault both models share is caught too.
 */
function leafOf(io: Iommu, page: number): { pfn: number; read: boolean; write: boolean } | null {
  const e = io.entryRaw(page);
  const bit = (k: number) => ((e >> BigInt(k)) & 1n) === 1n;
  const addrPfn = (mask: bigint) => Number((e & mask) >> 12n);
  switch (io.config.platform) {
    case "vtd": {
      const base = addrPfn(0x000ffffffffff000n);
      const pfn = bit(7) ? base + (page % 512) : base;
      // first-level (x86-64 paging): P makes the page readable, RW writable; second-level: R, W
      if (io.config.format === FORMAT_VTD_FL) return bit(0) ? { pfn, read: true, write: bit(1) } : null;
      if ((e & 3n) === 0n) return null;
      return { pfn, read: bit(0), write: bit(1) };
    }
    case "smmuv3": {
      if ((e & 1n) === 0n) return null;
      const base = addrPfn(0x0000fffffffff000n);
      return { pfn: (e & 3n) === 1n ? base + (page % 512) : base, read: true, write: !bit(7) };
    }
    case "amd-vi": {
      if (!bit(0)) return null;
      const nl = Number((e >> 9n) & 7n);
      let order = 0;
      if (nl === 7) {
        order = 1;
        while (bit(order + 11)) order++; // the size is in the address: its lowest clear bit from 12 is bit order + 11
      } else if (io.pageTableEntry(page, 2) === e) {
        order = 9; // a level-2 leaf (Next Level 0): 2 MiB
      }
      const span = 2 ** order;
      const base = addrPfn(0x000ffffffffff000n);
      return { pfn: base - (base % span) + (page % span), read: bit(61), write: bit(62) };
    }
    case "riommu": {
      if (!bit(0)) return null;
      const dir = Number((e >> 1n) & 3n);
      return { pfn: addrPfn(0x000ffffffffff000n), read: dir !== 2, write: dir !== 1 };
    }
    default:
      return null;
  }
}

/** Every page of every live mapping (first, last and one between, for long ones) translates to what was mapped, as its direction allows. */
function checkLiveTranslations(io: Iommu, live: Live[]): void {
  for (const l of live) {
    for (const s of l.segs) {
      if (s.phys === undefined) continue;
      const first = Math.floor(s.dma / 4096);
      const pages = Math.floor(((s.dma % 4096) + s.bytes + 4095) / 4096);
      for (const i of new Set([0, pages >> 1, pages - 1])) {
        const got = leafOf(io, first + i);
        const pfn = Math.floor(s.phys / 4096) + i;
        const readable = io.config.platform === "smmuv3" || io.config.format === FORMAT_VTD_FL; // no write-only pages
        const readOnly = !readable && l.dir === "from-device";
        expect({ page: first + i, ...got }).toEqual({ page: first + i, pfn, read: !readOnly, write: l.dir !== "to-device" });
      }
    }
  }
}

/** Both models built from `options`, or the ConfigError message both refused them with. */
function build(options: IommuOptions): [Iommu, Iommu] | string {
  const made = [createIommu, createReferenceIommu].map((make) => {
    try {
      return make(options);
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      return e.message;
    }
  });
  if (typeof made[0] === "string" || typeof made[1] === "string") {
    expect(made[0]).toBe(made[1]);
    expect(made[0]).toMatch(/^[\w.[\]]+: .* is not allowed; expected .+/);
    return made[0] as string;
  }
  return made as [Iommu, Iommu];
}

/**
 * The suite for `platforms` × every allocator × every flush policy (riommu: × every flush policy,
 * its allocator being its own); the full run must reach `floor` operations in `budget` runs a
 * combination (`ci` under npm test, `full` under npm run fuzz; the 2007 platforms: RUNS).
 */
export function fuzzDifferential(platforms: readonly PlatformName[], floor: number, budget?: { ci: number; full: number }): void {
  const numRuns = budget === undefined ? RUNS : runs(budget.ci, budget.full);
  const COMBINATIONS = platforms.flatMap((p) => (p === "riommu" ? [undefined] : ALLOCATORS).flatMap((a) => FLUSH_POLICIES.map((f) => [p, a ?? "(ring)", f] as const)));
  let refusedConfigs = 0;
  /** Counters summed over the runs: the corners the suite reached, printed at the end. */
  const reached: Record<string, number> = {};
  describe(`fuzz: WASM core ≡ reference model over ${platforms.join(", ")} × every allocator × every flush policy`, () => {
    it.each(COMBINATIONS)("%s / %s / %s", { timeout: FUZZ_TIMEOUT }, (platform, allocatorName, flushPolicy) => {
      const allocator = allocatorName === "(ring)" ? undefined : allocatorName;
      const entriesMax = Math.max(...PLATFORM_PRESETS[platform].tableSizes) / (platform.startsWith("dart") ? 4 : 8);
      // the pages whose entries are compared at the end (page tables: the leaf translating each)
      const probes = fc.array(fc.nat({ max: entriesMax - 1 }), { maxLength: paged(platform) || platform === "riommu" ? 32 : 0 });
      fc.assert(
        fc.property(optionsArb(platform, allocator, flushPolicy), opsArb(platform, entriesMax * 4096), probes, (options, ops, pages) => {
          const built = build(options);
          if (typeof built === "string") {
            refusedConfigs++;
            return;
          }
          const [a, b] = built;
          runBoth(a, b, ops, paged(platform) || platform === "riommu" ? (live) => checkLiveTranslations(a, live) : undefined);
          counts.differentialOps += ops.length;
          if (paged(platform) || platform === "riommu") {
            // strict: the IOTLB is invalidated before the IO space is freed, so no DMA after an
            // unmap meets its old translation (unmapKeep, the never-free strategy's, keeps entries valid on purpose)
            if (options.flushPolicy === "strict" && !ops.some((o) => o.t === "unmapKeep")) expect(a.stats().staleHits).toBe(0);
          }
          for (const [k, v] of Object.entries(a.stats())) reached[k] = (reached[k] ?? 0) + v;
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
          for (const i of pages) if (i < a.config.entries) expect([i, a.entryRaw(i)]).toEqual([i, b.entryRaw(i)]);
        }),
        { numRuns, seed: seedOr(12012), endOnFailure: true },
      );
    });
  });

  afterAll(() => {
    console.log(`differential operations (${platforms.join(", ")}): ${counts.differentialOps} over ${COMBINATIONS.length} platform × allocator × flush-policy combinations; option sets refused alike: ${refusedConfigs}; reached ${JSON.stringify(reached)}`);
    if (FULL_FUZZ) expect(counts.differentialOps).toBeGreaterThanOrEqual(floor);
  });
}
