// Strategies × environments, priced with a profile whose primitives are distinct powers of ten
// so that every expected figure below can be derived by hand from the accounting rules.
import { describe, expect, it } from "vitest";
import {
  ConfigError, createIommu, createReferenceIommu, createSimulation, DEFAULT_PROFILE, ENVIRONMENTS,
  MAPPING_STRATEGIES, parseTrace, replayThroughSimulation, validateProfile, type CostProfile,
  type SimulationOptions,
} from "../bindings/node.js";
import { randomTrace } from "./helpers/random-trace.js";

const P: CostProfile = {
  name: "test-powers-of-ten",
  version: 1,
  source: "hand-derivation fixture",
  machine: { cores: 8, clockHz: 1e9 },
  cycles: {
    dmaApiEntry: 100, bitmapWordScan: 1, tceWrite: 10, tableCacheLineFlush: 1000,
    mmioRead: 0, mmioWrite: 0, flushWaitPoll: 0,
    hypercallEntry: 10_000, hypercallExit: 20_000, hypervisorValidate: 100_000,
    multicallPerEntry: 1_000_000, grantOp: 10_000_000, grantIssue: 100_000_000,
    mappingCacheLookup: 5, copyPerByte: 1, ptPageAlloc: 0, invDescriptorWrite: 0, invWait: 0, memoryBarrier: 0,
  },
};

const sim = (o: Partial<SimulationOptions>) => createSimulation({ platform: "calgary-pcix", profile: P, ...o }, createIommu);

/** Four one-page maps, then their four unmaps. */
function fourPairs(s: ReturnType<typeof sim>): number[] {
  const dmas = [0, 1, 2, 3].map((i) => s.map(`b${i}`, 0x100000 + i * 4096, 4096, "to-device")!);
  for (let i = 0; i < 4; i++) s.unmap(`b${i}`);
  s.finish();
  return dmas;
}

describe("straightforward in each environment (4 one-page maps, 4 unmaps, Calgary)", () => {
  it("baremetal: the kernel pays entry + 2 words + TCE write + clflush per map", () => {
    const s = sim({});
    fourPairs(s);
    const r = s.report();
    // map 100 + 2 + 10 + 1000 = 1112; unmap 100 + 10 + 1000 = 1110
    expect(r.cycles.byParty).toEqual({ kernel: 4 * 1112 + 4 * 1110 });
    expect(r.crossings).toBe(0);
    expect(r.counters.tceWrites).toBe(8);
  });

  it("xen-dom0: one hypercall per TCE update, Xen validates and writes", () => {
    const s = sim({ environment: "xen-dom0" });
    fourPairs(s);
    const r = s.report();
    expect(r.crossings).toBe(8);
    // dom0: 4 × (100 + 2) + 4 × 100; Xen per update: 30 000 + 100 000 + 10 + 1000
    expect(r.cycles.byParty).toEqual({ dom0: 808, xen: 8 * 131_010 });
    expect(r.cycles.byCpu[0]).toBe(808 + 8 * 131_010);
  });

  it("xen-domU: grants on top — the front-end grants, dom0 grant-maps and grant-unmaps", () => {
    const s = sim({ environment: "xen-domU" });
    fourPairs(s);
    const r = s.report();
    expect(r.crossings).toBe(16);
    expect(r.cycles.byParty).toEqual({ dom0: 808, domU: 4 * 100_000_000, xen: 8 * 131_010 + 8 * (30_000 + 10_000_000) });
    expect(r.cycles.byCpu[1]).toBe(4 * 100_000_000); // domU on its own CPU
  });
});

describe("every strategy × environment on the same stream (4 one-page maps, then 4 unmaps)", () => {
  // crossings per environment, derived from the rules: Xen pays one trap per TCE update, a
  // multicall per batch, a grant map + unmap per buffer for a PV domU (batched with the mappings
  // under batched, folded into one crossing under grant-table); preallocation maps the 16 MiB
  // guest (4096 pages) once at setup.
  const expected: Array<[string, number, Record<string, number | null>]> = [
    // strategy, TCE writes by the core, crossings { baremetal, xen-dom0, xen-domU } (null: refused)
    ["straightforward", 8, { baremetal: 0, "xen-dom0": 8, "xen-domU": 16 }],
    ["preallocated", 0, { baremetal: 0, "xen-dom0": 4096, "xen-domU": 4096 + 8 }],
    ["persistent", 4, { baremetal: 0, "xen-dom0": 4, "xen-domU": 12 }],
    ["cached", 4, { baremetal: 0, "xen-dom0": 4, "xen-domU": 12 }],
    ["batched", 8, { baremetal: 0, "xen-dom0": 2, "xen-domU": 2 + 8 }],
    ["never-free", 4, { baremetal: 0, "xen-dom0": 4, "xen-domU": 12 }],
    ["grant-table", 8, { baremetal: null, "xen-dom0": null, "xen-domU": 8 }],
  ];
  it.each(expected.flatMap(([st, tce, byEnv]) => ENVIRONMENTS.map((e) => [st, e, tce, byEnv[e]] as const)))(
    "%s / %s",
    (strategy, environment, tceWrites, crossings) => {
      const make = () => sim({ strategy, environment, guestBytes: 1 << 24 });
      if (crossings === null) {
        expect(make).toThrow(ConfigError);
        return;
      }
      const s = make();
      fourPairs(s);
      const r = s.report();
      expect(r.crossings).toBe(crossings);
      expect(r.counters.tceWrites).toBe(tceWrites);
      expect(Object.keys(r.cycles.byParty).sort()).toEqual(
        environment === "baremetal" ? ["kernel"] : environment === "xen-dom0" ? ["dom0", "xen"] : ["dom0", "domU", "xen"],
      );
    },
  );
});

describe("the study's fixes", () => {
  it("grant-table: the grant operation programs the IOMMU, one crossing per map or unmap", () => {
    const s = sim({ environment: "xen-domU", strategy: "grant-table" });
    fourPairs(s);
    const r = s.report();
    expect(r.crossings).toBe(8);
    expect(r.cycles.byParty.xen).toBe(8 * (30_000 + 100_000 + 10 + 1000 + 10_000_000));
  });

  it.each([[1, 8], [2, 4], [3, 4], [4, 2], [16, 2]])("batched, B = %d: ⌈4/B⌉ crossings for the maps and as many for the unmaps", (B, crossings) => {
    const s = sim({ environment: "xen-dom0", strategy: "batched", batchSize: B });
    fourPairs(s);
    expect(s.report().crossings).toBe(crossings);
    // under xen-domU the grant map and unmap of each buffer stay one crossing each
    const u = sim({ environment: "xen-domU", strategy: "batched", batchSize: B });
    fourPairs(u);
    expect(u.report().crossings).toBe(crossings + 8);
  });

  it("batched B = 2 under xen-domU, cycle by cycle: the multicall saves the traps, not the per-entry work", () => {
    const s = sim({ environment: "xen-domU", strategy: "batched", batchSize: 2 });
    fourPairs(s);
    const r = s.report();
    // per mapping: validate + multicall entry + write + flush = 1 101 010; grants stay per buffer
    expect(r.cycles.byParty).toEqual({
      dom0: 4 * 100 + 8,
      domU: 4 * 100_000_000,
      xen: 4 * 30_000 + 8 * 1_101_010 + 8 * (30_000 + 10_000_000),
    });
  });

  it("cached: the second map of the same page hits the parked mapping", () => {
    const s = sim({ strategy: "cached" });
    const a = s.map("a", 0x200000, 4096, "to-device");
    s.unmap("a");
    const b = s.map("b", 0x200000, 4096, "to-device");
    s.unmap("b");
    const r = s.report();
    expect(b).toBe(a);
    expect(r.counters.tceWrites).toBe(1);
    expect(r.cycles.byParty.kernel).toBe(5 + 1112 + 105 + 105 + 105);
    expect(r.exposure.releasedButLivePeak).toBe(1); // the parked page
  });

  it("cached: parked mappings beyond the cache size are really unmapped, least recently used first", () => {
    const s = sim({ strategy: "cached", mappingCacheSize: 1 });
    s.map("a", 0x200000, 4096, "to-device");
    s.map("b", 0x300000, 4096, "to-device");
    s.unmap("a");
    s.unmap("b"); // two parked > 1: a (older) is unmapped
    const r = s.report();
    expect(r.counters.unmaps).toBe(1);
    expect(r.counters.pagesInUse).toBe(1);
  });

  it("persistent: one coherent buffer, reused; data copied instead of mapped", () => {
    const s = sim({ strategy: "persistent" });
    s.map("a", 0x200000, 4096, "to-device");
    s.unmap("a");
    s.map("b", 0x900000, 4096, "to-device");
    s.unmap("b");
    const r = s.report();
    expect(r.counters.allocs).toBe(1);
    expect(r.counters.tceWrites).toBe(1);
    // alloc 100 + 2 + 10 + 1000, copy 4096; unmap 100; reuse 100 + 4096; unmap 100
    expect(r.cycles.byParty.kernel).toBe(1112 + 4096 + 100 + 4196 + 100);
  });

  it("preallocated: the whole guest mapped at setup, then only the API call", () => {
    const s = sim({ strategy: "preallocated", guestBytes: 65536 });
    expect(s.map("a", 0x3000, 100, "to-device")).toBe(0x3000); // DMA address = guest physical
    s.unmap("a");
    const r = s.report();
    expect(r.cycles.byOperation).toEqual({ setup: 16 * (10 + 1000), map: 100, unmap: 100 });
    expect(r.exposure.reachableBytes).toBe(65536);
    expect(s.access("a", 0, 8, "write")).toBe("unchecked");
    expect(s.report().exposure.dmaAfterRelease.reached).toBe(1);
  });

  it("preallocated refuses a guest larger than the IO space", () => {
    expect(() => sim({ platform: "dart-u3", strategy: "preallocated", guestBytes: 2 ** 32 })).toThrow(
      /guestBytes: .* at most the IO space of dart-u3 \(2147483648 bytes\)/,
    );
  });

  it("never-free: no TCE write on unmap, and the device still reaches the buffer", () => {
    const s = sim({ strategy: "never-free" });
    s.map("a", 0x200000, 4096, "from-device");
    s.unmap("a");
    expect(s.access("a", 0, 64, "write")).not.toBe("fault");
    const r = s.report();
    expect(r.counters.tceWrites).toBe(1);
    expect(r.cycles.byParty.kernel).toBe(1112 + 100);
    expect(r.exposure.dmaAfterRelease).toEqual({ reached: 1, blocked: 0 });
    expect(r.exposure.releasedButLivePeak).toBe(1);
  });
});

describe("flush strategies and their price", () => {
  const flushy: CostProfile = { ...P, cycles: { ...P.cycles, mmioRead: 1, mmioWrite: 2, flushWaitPoll: 4 } };

  it("strict-flush on Calgary PCI-X: a blast per unmap, its polls growing with DMA in flight", () => {
    const s = createSimulation({ platform: "calgary-pcix", profile: flushy, strategy: "strict-flush" }, createIommu);
    s.map("a", 0x200000, 4096, "to-device");
    s.map("b", 0x300000, 4096, "to-device");
    s.unmap("a"); // b still mapped: polls = 1 + 1
    s.unmap("b"); // polls = 1
    const r = s.report();
    expect(r.counters.flushes).toBe(2);
    expect(r.cycles.byOperation.flush).toBe(3 * 1 + 3 * 2 + 2 * 4 + (3 * 1 + 3 * 2 + 1 * 4));
  });

  it("deferred-flush: nothing flushed until the allocator wraps; the stale window is counted", () => {
    const s = createSimulation({ platform: "calgary-pcix", profile: flushy, strategy: "deferred-flush" }, createIommu);
    s.map("a", 0x200000, 4096, "to-device");
    s.access("a", 0, 64, "read");
    s.unmap("a");
    expect(s.access("a", 0, 64, "read")).toBe("stale");
    const r = s.report();
    expect(r.counters.flushes).toBe(0);
    expect(r.exposure.dmaAfterRelease.reached).toBe(1);
    expect(r.exposure.releasedButLivePeak).toBe(1);
  });

  it("a scatterlist is one map_sg call: one U3 invalidate-all, PowerPC's chained addresses", () => {
    const s = createSimulation({ platform: "dart-u3", profile: flushy }, createIommu);
    const dmas = s.mapSg("l", [{ phys: 0x5000, bytes: 4096 }, { phys: 0x9000, bytes: 100 }, { phys: 0x7000, bytes: 10 }], "to-device");
    expect(dmas).toEqual([0x0, 0x1000, 0x2000]);
    s.unmapSg("l");
    const r = s.report();
    expect([r.counters.mapSgs, r.counters.unmapSgs, r.counters.flushes, r.counters.maps]).toEqual([1, 1, 1, 0]);
    expect(r.cycles.byParty.kernel).toBe(100 + 6 + 3 * 10 + 1000 + 4 + (100 + 3 * 10 + 1000));
  });

  it("DART U3: an invalidate-all after every map call", () => {
    const s = createSimulation({ platform: "dart-u3", profile: flushy }, createIommu);
    s.map("a", 0x200000, 3 * 4096, "to-device");
    s.unmap("a");
    const r = s.report();
    expect(r.counters.flushes).toBe(1);
    expect(r.cycles.byOperation.flush).toBe(2 * 1 + 2);
  });
});

describe("no IOMMU", () => {
  it("hands out physical addresses, costs only the API call, protects nothing", () => {
    const s = createSimulation({ platform: "none", profile: P, environment: "xen-dom0" }, createIommu);
    expect(s.map("a", 0x7_0000_1234, 100, "to-device")).toBe(0x7_0000_1234);
    s.unmap("a");
    expect(s.access("a", 0, 8, "read")).toBe("unchecked");
    const r = s.report();
    expect(r.cycles.byParty).toEqual({ dom0: 200 });
    expect(r.crossings).toBe(0);
    expect(r.exposure.reachableBytes).toBe("all");
    expect(r.exposure.dmaAfterRelease.reached).toBe(1);
  });
});

describe("every platform × strategy × environment runs or is refused with a reason", () => {
  const trace = parseTrace(randomTrace(400, 3));
  const platforms = ["none", "calgary-pcix", "calioc2", "dart-u3", "dart-u4"] as const;
  // every mapping strategy alone and with each flush rule, the flush rules alone, and two refusals
  const strategies = [
    ...MAPPING_STRATEGIES.flatMap((m) => [m, `${m}+deferred-flush`, `${m}+strict-flush`]),
    "deferred-flush", "strict-flush", "cached+batched", "deferred-flush+strict-flush",
  ];
  const cases = platforms.flatMap((p) => strategies.flatMap((s) => ENVIRONMENTS.map((e) => [p, s, e] as const)));

  it.each(cases)("%s / %s / %s", (platform, strategy, environment) => {
    let s;
    try {
      s = createSimulation({ platform, strategy, environment, profile: DEFAULT_PROFILE, guestBytes: 2 ** 30 }, createIommu);
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      expect((e as Error).message).toMatch(/^(strategy|guestBytes): .+ expected .{10,}/);
      return;
    }
    const r = replayThroughSimulation(trace, s, true).report;
    expect(r.cycles.total).toBeGreaterThan(0);
    expect(Object.values(r.cycles.byParty).reduce((a, b) => a + (b ?? 0), 0)).toBeCloseTo(r.cycles.total, 6);
    expect(r.cycles.byCpu.reduce((a, b) => a + b, 0)).toBeCloseTo(r.cycles.total, 6);
  });
});

describe("WASM core ≡ reference model under every strategy", () => {
  const trace = parseTrace(randomTrace(3000, 11));
  it.each(MAPPING_STRATEGIES.flatMap((s) => ["calgary-pcix", "dart-u4"].map((p) => [s, p] as const)))("%s on %s", (strategy, platform) => {
    const environment = strategy === "grant-table" ? "xen-domU" : "xen-dom0";
    const opts: SimulationOptions = { platform, strategy, environment, iommu: { tableSize: platform === "calgary-pcix" ? "128K" : "2M" }, guestBytes: 2 ** 25 };
    const a = replayThroughSimulation(trace, createSimulation(opts, createIommu), true);
    const b = replayThroughSimulation(trace, createSimulation(opts, createReferenceIommu), true);
    expect(a.report).toEqual(b.report);
  });
});

describe("CostProfile", () => {
  it("round-trips through JSON and is validated field by field", () => {
    expect(validateProfile(JSON.parse(JSON.stringify(DEFAULT_PROFILE)))).toEqual(DEFAULT_PROFILE);
    const bad = JSON.parse(JSON.stringify(DEFAULT_PROFILE));
    bad.cycles.tceWrite = -3;
    expect(() => validateProfile(bad)).toThrow(/profile.cycles.tceWrite: -3 is not allowed; expected a number of cycles from 0 to 1e9/);
    delete bad.cycles.tceWrite;
    bad.cycles.tceWirte = 3;
    expect(() => validateProfile(bad)).toThrow(/tceWrite: undefined/);
  });
});
