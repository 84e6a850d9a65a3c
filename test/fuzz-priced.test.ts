// Priced-model fuzzing (issue 14): the core's PricedSimulation against the TypeScript Simulation
// over the reference core, report for report (toStrictEqual), on today's page-table platforms
// (VT-d, AMD-Vi, SMMUv3) and the rIOMMU, with every strategy text, environment and random
// platform options (table size, cache geometry, CPUs, page-table levels and format, invalidation
// interface; on riommu its ring sizes and options it refuses). Traces: maps and sg lists of odd and large sizes, 2 MiB-aligned
// buffers of whole 2 MiB multiples, coherent buffers, unmaps in any order, double unmaps and
// unmaps of ids never mapped, accesses to live and released buffers, CPU switches. Both models
// must refuse the same options with the same ConfigError and skip the same lines for the same reasons.
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import {
  ConfigError, createPricedSimulation, createReferenceIommu, createSimulation, ENVIRONMENTS, MAPPING_STRATEGIES, parseTrace,
  replayThroughSimulation, type SimulationOptions,
} from "../bindings/node.js";
import { INVALIDATIONS } from "../bindings/abi.js";
import { PLATFORM_PRESETS, type PlatformName } from "../bindings/platforms.js";
import { counts, FULL_FUZZ, FUZZ_TIMEOUT, runs, seedOr } from "./helpers/fuzz-budget.js";

const PLATFORMS = ["vtd", "amd-vi", "smmuv3", "riommu"] as const satisfies readonly PlatformName[];
const STRATEGIES = MAPPING_STRATEGIES.flatMap((m) => [m, `${m}+deferred-flush`, `${m}+strict-flush`]);
const MiB2 = 2 << 20;
const DIRS = ["to-device", "from-device", "bidirectional"];

/** One trace line's worth of intent; ids are resolved against what is live when the text is written. */
type Step =
  | { k: "map"; pfn: number; off: number; bytes: number; dir: number }
  | { k: "sg"; segs: Array<[number, number, number]>; dir: number }
  | { k: "alloc"; bytes: number }
  | { k: "release"; pick: number }
  | { k: "again"; pick: number }
  | { k: "ghost" }
  | { k: "access"; pick: number; dead: boolean; off: number; bytes: number; write: boolean }
  | { k: "cpu"; cpu: number };

const bytesArb = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 1, max: 9000 }) },
  { weight: 3, arbitrary: fc.integer({ min: 1, max: 80 * 4096 }) },
  { weight: 2, arbitrary: fc.integer({ min: 1, max: 16 }).map((k) => k * MiB2) },
  { weight: 1, arbitrary: fc.tuple(fc.integer({ min: 1, max: 16 }), fc.integer({ min: -4097, max: 4097 })).map(([k, d]) => Math.max(1, k * MiB2 + d)) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 2 ** 31 }) },
);
/** Physical pages: anywhere in a 64 GiB guest-visible range, often on a 2 MiB boundary (large leaves). */
const pfnArb = fc.oneof(
  { weight: 2, arbitrary: fc.integer({ min: 0x100, max: 0xfffff }) },
  { weight: 2, arbitrary: fc.integer({ min: 1, max: 0x7ff }).map((r) => r * 512) },
);
const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { weight: 30, arbitrary: fc.record({ k: fc.constant("map" as const), pfn: pfnArb, off: fc.oneof(fc.constant(0), fc.nat({ max: 4095 })), bytes: bytesArb, dir: fc.nat({ max: 2 }) }) },
  { weight: 5, arbitrary: fc.record({ k: fc.constant("sg" as const), segs: fc.array(fc.tuple(pfnArb, fc.oneof(fc.constant(0), fc.nat({ max: 4095 })), bytesArb), { minLength: 1, maxLength: 5 }), dir: fc.nat({ max: 2 }) }) },
  { weight: 3, arbitrary: fc.record({ k: fc.constant("alloc" as const), bytes: fc.oneof(fc.integer({ min: 1, max: 65536 }), fc.integer({ min: 1, max: 8 << 20 })) }) },
  { weight: 30, arbitrary: fc.record({ k: fc.constant("release" as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant("again" as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.constant({ k: "ghost" as const }) },
  { weight: 15, arbitrary: fc.record({ k: fc.constant("access" as const), pick: fc.nat(), dead: fc.boolean(), off: fc.nat({ max: 3 * MiB2 }), bytes: fc.integer({ min: 1, max: 9000 }), write: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant("cpu" as const), cpu: fc.nat({ max: 7 }) }) },
);

/** The native trace text for the steps (the priced models take their ids). */
function traceText(steps: Step[]): string {
  const live: Array<{ id: string; kind: "map" | "sg" | "alloc" }> = [];
  const dead: Array<{ id: string; kind: "map" | "sg" | "alloc" }> = [];
  const release = { map: "unmap", sg: "unmap_sg", alloc: "free" } as const;
  const lines: string[] = [];
  steps.forEach((s, i) => {
    const id = `i${i}`;
    switch (s.k) {
      case "map":
        lines.push(`map ${id} ${(s.pfn * 4096 + s.off).toString(16)} ${s.bytes} ${DIRS[s.dir]}`);
        live.push({ id, kind: "map" });
        break;
      case "sg":
        lines.push(`map_sg ${id} ${DIRS[s.dir]} ${s.segs.map(([p, o, b]) => `${(p * 4096 + o).toString(16)}:${b}`).join(" ")}`);
        live.push({ id, kind: "sg" });
        break;
      case "alloc":
        lines.push(`alloc ${id} ${s.bytes}`);
        live.push({ id, kind: "alloc" });
        break;
      case "release": {
        if (live.length === 0) break;
        const [x] = live.splice(s.pick % live.length, 1);
        lines.push(`${release[x.kind]} ${x.id}`);
        dead.push(x);
        break;
      }
      case "again":
        if (dead.length) {
          const x = dead[s.pick % dead.length];
          lines.push(`${release[x.kind]} ${x.id}`);
        }
        break;
      case "ghost":
        lines.push(`unmap never${i}`);
        break;
      case "access": {
        const from = s.dead ? dead : live;
        if (from.length) lines.push(`access ${from[s.pick % from.length].id} ${s.off} ${s.bytes} ${s.write ? "write" : "read"}`);
        break;
      }
      case "cpu":
        lines.push(`cpu ${s.cpu}`);
        break;
    }
  });
  return lines.join("\n") + "\n";
}

const iommuArb = (platform: (typeof PLATFORMS)[number]) => {
  const p = PLATFORM_PRESETS[platform];
  if (platform === "riommu") {
    return fc.record({
      tableSize: fc.constantFrom(...p.tableSizes),
      cache: fc.oneof({ weight: 6, arbitrary: fc.constantFrom({ entries: 2, ways: 2 }, { entries: 0, ways: 0 }) }, { weight: 1, arbitrary: fc.constant({ entries: 64, ways: 4 }) }),
      cpus: fc.integer({ min: 1, max: 8 }),
    });
  }
  return fc.record({
    // small IO spaces (64K … 256K tables) fill and reuse within a trace; the 4 GiB one is drawn too
    tableSize: fc.oneof({ weight: 4, arbitrary: fc.constantFrom(65536, 131072, 262144) }, { weight: 1, arbitrary: fc.constantFrom(...p.tableSizes) }),
    cache: fc.constantFrom({ entries: 64, ways: 4 }, { entries: 4, ways: 1 }, { entries: 16, ways: 16 }, { entries: 0, ways: 0 }, { entries: 1024, ways: 8 }),
    cpus: fc.integer({ min: 1, max: 8 }),
    pageTableLevels: fc.constantFrom(...p.levels!),
    pageTableFormat: platform === "vtd" ? fc.constantFrom("second-level" as const, "first-level" as const) : fc.constant(undefined),
    invalidation: fc.constantFrom(...INVALIDATIONS),
  }).map(({ pageTableFormat, ...o }) => (pageTableFormat ? { ...o, pageTableFormat } : o));
};

const caseArb = fc.constantFrom(...PLATFORMS).chain((platform) => fc.record({
  platform: fc.constant(platform),
  strategy: fc.constantFrom(...STRATEGIES),
  environment: fc.constantFrom(...ENVIRONMENTS),
  iommu: iommuArb(platform),
  batchSize: fc.integer({ min: 1, max: 40 }),
  mappingCacheSize: fc.integer({ min: 1, max: 64 }),
  opIntervalNs: fc.integer({ min: 0, max: 5000 }),
  guestBytes: fc.constantFrom(2 ** 26, 2 ** 30, 2 ** 32),
  steps: fc.array(stepArb, FULL_FUZZ ? { minLength: 100, maxLength: 1200 } : { minLength: 20, maxLength: 300 }),
}));

const seen = { compared: 0, refused: 0, operations: 0, skipped: 0, largePages: 0, staleHits: 0, mapFailures: 0, reached: 0 };

/** A report without the IOVA tree's nodes visited, which the reference does not count (and nothing prices). */
function withoutNodes<R extends { counters: object | null }>(report: R): R {
  const { nodesVisited: _, ...counters } = report.counters as Record<string, number>;
  return { ...report, counters };
}

describe("fuzz: core-priced ≡ reference Simulation on vtd, amd-vi, smmuv3, riommu", () => {
  it("agrees report for report, refusal for refusal, skipped line for skipped line", { timeout: FUZZ_TIMEOUT }, () => {
    fc.assert(fc.property(caseArb, (c) => {
      counts.fuzzCases++;
      const { steps, ...opts } = c;
      const options = opts as SimulationOptions;
      const trace = parseTrace(traceText(steps));
      let ref;
      try {
        ref = createSimulation(options, createReferenceIommu);
      } catch (e) {
        expect(e).toBeInstanceOf(ConfigError);
        expect(() => createPricedSimulation(options)).toThrow((e as Error).message);
        seen.refused++;
        return;
      }
      const core = createPricedSimulation(options);
      const a = replayThroughSimulation(trace, core, true);
      const b = replayThroughSimulation(trace, ref, true);
      expect(a.skipped).toEqual(b.skipped);
      expect(a.operations).toBe(b.operations);
      expect(withoutNodes(a.report)).toStrictEqual(withoutNodes(b.report));
      seen.compared++;
      seen.operations += a.operations;
      seen.skipped += a.skipped.length;
      seen.largePages += a.report.counters.largePages;
      seen.staleHits += a.report.counters.staleHits;
      seen.mapFailures += a.report.counters.mapFailures;
      seen.reached += a.report.exposure.dmaAfterRelease.reached;
    }), { numRuns: runs(40, 6000), seed: seedOr(14014), endOnFailure: true });
  });
});

afterAll(() => {
  console.log(`priced fuzz: ${JSON.stringify(seen)}`);
  expect(seen.compared).toBeGreaterThan(0);
  expect(seen.refused).toBeGreaterThan(0);
});
