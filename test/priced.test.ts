// The core's priced model (assembly/priced/, PricedSimulation) held to its reference, the
// TypeScript Simulation over the TypeScript reference core: the same report, bit for bit
// (cycles by party, operation and CPU, primitive counts, crossings, exposure, counters) on random
// traces, for every platform × strategy × environment the tool accepts.

import { describe, expect, it } from "vitest";
import fc from "fast-check";
import {
  ConfigError, createIommu, createPricedSimulation, createReferenceIommu, createSimulation, DEFAULT_PROFILE, ENVIRONMENTS,
  MAPPING_STRATEGIES, parseTrace, PRIMITIVES, replayThroughSimulation, type SimulationOptions,
} from "../lib/node.js";
import { OP_KINDS, PARTIES } from "../lib/sim/primitives.js";
import { randomTrace } from "./helpers/random-trace.js";
import { replayStreamOnto } from "../lib/trace/stream.js";

// Today's platforms are represented by vtd (lazy: the flush queue) and smmuv3 (strict): amd-vi
// differs from vtd only in its table format, which the differential suite covers.
const PLATFORMS = ["none", "calgary-pcix", "calioc2", "dart-u3", "dart-u4", "vtd", "smmuv3", "riommu"] as const;
const STRATEGIES = MAPPING_STRATEGIES.flatMap((m) => [m, `${m}+deferred-flush`, `${m}+strict-flush`]);

/** A report without the IOVA tree's nodes visited, which the reference does not count (and nothing prices). */
function withoutNodes<R extends { counters: object | null }>(report: R): R {
  if (!report.counters) return report;
  const { nodesVisited: _, ...counters } = report.counters as Record<string, number>;
  return { ...report, counters };
}

/** Both models on one trace; null when the combination is refused (by both, with the same message). */
function both(trace: ReturnType<typeof parseTrace>, opts: SimulationOptions) {
  let ref, core;
  try {
    ref = createSimulation(opts, createReferenceIommu);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    expect(() => createPricedSimulation(opts)).toThrow((e as Error).message);
    return null;
  }
  core = createPricedSimulation(opts);
  return { ref: replayThroughSimulation(trace, ref, true), core: replayThroughSimulation(trace, core, true) };
}

describe("core-priced ≡ reference Simulation, every platform × strategy × environment", () => {
  const trace = parseTrace(randomTrace(1500, 5));
  const cases = PLATFORMS.flatMap((p) => STRATEGIES.flatMap((s) => ENVIRONMENTS.map((e) => [p, s, e] as const)));
  it.each(cases)("%s / %s / %s", (platform, strategy, environment) => {
    // a small table so the trace wraps it and fills it: flushes, failures and unwinds are reached
    const iommu = platform === "none" ? undefined : { tableSize: platform.startsWith("dart") ? "2M" : "64K" };
    const r = both(trace, { platform, strategy, environment, iommu, guestBytes: 2 ** 26, batchSize: 5, mappingCacheSize: 7 });
    if (!r) return;
    expect(r.core.skipped).toEqual(r.ref.skipped);
    expect(withoutNodes(r.core.report)).toStrictEqual(withoutNodes(r.ref.report));
  });
});

/**
 * A trace that presses a 64K Calgary table (8192 entries): large buffers, unmaps lagging maps,
 * so the allocator wraps (deferred flushes), fills (failed maps, unwound lists) and late DMAs hit.
 */
function pressingTrace(ops: number, seed: number): string {
  let s = seed >>> 0 || 1;
  const rnd = (n: number) => {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    return s % n;
  };
  const dirs = ["to-device", "from-device", "bidirectional"];
  const live: Array<{ id: string; kind: string }> = [];
  const dead: string[] = [];
  const lines: string[] = [];
  const phys = () => (0x100 + rnd(0x4000)) * 4096 + rnd(4096);
  for (let i = 0; i < ops; i++) {
    const r = rnd(100);
    const id = `x${i}`;
    if (r < 40 || live.length === 0) {
      lines.push(`map ${id} ${phys().toString(16)} ${1 + rnd(48 * 4096)} ${dirs[rnd(3)]}`);
      live.push({ id, kind: "map" });
    } else if (r < 48) {
      lines.push(`map_sg ${id} ${dirs[rnd(3)]} ${Array.from({ length: 1 + rnd(6) }, () => `${phys().toString(16)}:${1 + rnd(24 * 4096)}`).join(" ")}`);
      live.push({ id, kind: "sg" });
    } else if (r < 51) {
      lines.push(`alloc ${id} ${1 + rnd(40000)}`);
      live.push({ id, kind: "alloc" });
    } else if (r < 85) {
      const [x] = live.splice(rnd(Math.min(live.length, 8)), 1); // mostly the oldest: a ring with stragglers
      lines.push(`${x.kind === "map" ? "unmap" : x.kind === "sg" ? "unmap_sg" : "free"} ${x.id}`);
      if (x.kind === "map") dead.push(x.id);
    } else if (r < 93 && dead.length) {
      lines.push(`access ${dead[dead.length - 1 - rnd(Math.min(dead.length, 16))]} 0 64 ${rnd(2) ? "read" : "write"}`);
    } else {
      const x = live[rnd(live.length)];
      if (x.kind === "map") lines.push(`access ${x.id} 0 1 read`);
    }
  }
  return lines.join("\n") + "\n";
}

describe("core-priced ≡ reference under pressure: wraps, full IO space, late DMAs", () => {
  const trace = parseTrace(pressingTrace(5000, 3));
  const seen = { flushes: 0, failures: 0, stale: 0, reached: 0, blocked: 0 };
  const cases = ["calgary-pcix", "calioc2", "dart-u3", "riommu"].flatMap((p) => STRATEGIES.flatMap((s) => ["baremetal", "xen-domU"].map((e) => [p, s, e] as const)));
  it.each(cases)("%s / %s / %s", (platform, strategy, environment) => {
    // rIOMMU: its own rIOTLB geometry; the trace's map_sg and alloc are refused (skipped) by both
    const cache = platform === "riommu" ? { entries: 2, ways: 2 } : { entries: 16, ways: 4 };
    const iommu = { tableSize: platform.startsWith("dart") ? "2M" : "64K", cache };
    const r = both(trace, { platform, strategy, environment, iommu, guestBytes: 2 ** 26, batchSize: 9, mappingCacheSize: 33 });
    if (!r) return;
    expect(r.core.report).toStrictEqual(r.ref.report);
    const c = r.core.report.counters;
    seen.flushes += c.flushes;
    seen.failures += c.mapFailures;
    seen.stale += c.staleHits;
    seen.reached += r.core.report.exposure.dmaAfterRelease.reached;
    seen.blocked += r.core.report.exposure.dmaAfterRelease.blocked;
  });
  it("reached every corner it is meant to", () => {
    for (const [k, v] of Object.entries(seen)) expect(v, k).toBeGreaterThan(0);
  });
});

describe("core-priced ≡ reference on random traces, options and profiles (property)", () => {
  it("agrees on every drawn configuration", () => {
    let compared = 0;
    fc.assert(
      fc.property(
        fc.record({
          seed: fc.integer({ min: 1, max: 2 ** 31 }),
          ops: fc.integer({ min: 1, max: 600 }),
          platform: fc.constantFrom(...PLATFORMS),
          strategy: fc.constantFrom(...STRATEGIES),
          environment: fc.constantFrom(...ENVIRONMENTS),
          batchSize: fc.integer({ min: 1, max: 40 }),
          cacheSize: fc.integer({ min: 1, max: 40 }),
          interval: fc.integer({ min: 0, max: 5000 }),
          cache: fc.constantFrom("0", "16x4", "64x4", "8x1"),
        }),
        (c) => {
          const trace = parseTrace(randomTrace(c.ops, c.seed));
          const iommu = c.platform === "none" ? undefined : { tableSize: c.platform.startsWith("dart") ? "2M" : "64K", cache: c.cache === "0" ? { entries: 0 } : { entries: Number(c.cache.split("x")[0]), ways: Number(c.cache.split("x")[1]) } };
          const r = both(trace, {
            platform: c.platform, strategy: c.strategy, environment: c.environment, iommu, guestBytes: 2 ** 26,
            batchSize: c.batchSize, mappingCacheSize: c.cacheSize, opIntervalNs: c.interval, profile: DEFAULT_PROFILE,
          });
          if (!r) return;
          compared++;
          expect(withoutNodes(r.core.report)).toStrictEqual(withoutNodes(r.ref.report));
        },
      ),
      { numRuns: 150, seed: 77 },
    );
    expect(compared).toBeGreaterThan(50);
  });
});

describe("the grid's layout is the core's", () => {
  it("counts each primitive where the reference does (one unit profile per primitive)", () => {
    // price = counts · profile: with one primitive at 1 cycle and the rest at 0, the cycles by
    // party are that primitive's counts — the same from the core's grid as from the reference's
    const trace = parseTrace(randomTrace(300, 9));
    for (const k of PRIMITIVES) {
      const cycles = Object.fromEntries(PRIMITIVES.map((p) => [p, p === k ? 1 : 0])) as typeof DEFAULT_PROFILE.cycles;
      const profile = { ...DEFAULT_PROFILE, name: `unit-${k}`, cycles };
      const r = both(trace, { platform: "calgary-pcix", strategy: "cached", environment: "xen-domU", profile, iommu: { tableSize: "64K" } });
      expect(r!.core.report.cycles).toStrictEqual(r!.ref.report.cycles);
      // the queued invalidation interfaces' primitives (descriptors, waits, barriers, doorbells) too
      for (const invalidation of ["vtd-qi", "smmuv3-cmdq"] as const) {
        const q = both(trace, {
          platform: "calgary-pcix", strategy: "straightforward+strict-flush", environment: "xen-dom0", profile,
          iommu: { tableSize: "64K", allocator: "iova", invalidation, invalidationCaps: invalidation === "vtd-qi" ? { rwbf: true } : {} },
        });
        expect(q!.core.report.cycles).toStrictEqual(q!.ref.report.cycles);
      }
    }
    expect(PARTIES.length * OP_KINDS.length * PRIMITIVES.length).toBe(608);
  });
});

describe("refusals of the id-level API are the reference's", () => {
  const opts: SimulationOptions = { platform: "calgary-pcix", strategy: "preallocated", guestBytes: 2 ** 24 };
  it.each([
    ["map twice", (s: ReturnType<typeof createPricedSimulation>) => { s.map("a", 0x1000, 10, "to-device"); s.map("a", 0x2000, 10, "to-device"); }],
    ["unmap unknown", (s: ReturnType<typeof createPricedSimulation>) => s.unmap("zz")],
    ["free of a map", (s: ReturnType<typeof createPricedSimulation>) => { s.map("a", 0x1000, 10, "to-device"); s.free("a"); }],
    ["outside the guest", (s: ReturnType<typeof createPricedSimulation>) => s.map("a", 2 ** 24, 10, "to-device")],
    ["access unknown", (s: ReturnType<typeof createPricedSimulation>) => s.access("q", 0, 1, "read")],
  ] as const)("%s", (_, act) => {
    const ref = createSimulation(opts, createReferenceIommu);
    let message = "";
    try {
      act(ref as never);
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).not.toBe("");
    expect(() => act(createPricedSimulation(opts))).toThrow(message);
  });
});

describe("an access whose address passes 4 GiB (found by npm run fuzz, issue 14)", () => {
  // dma-iommu hands out the top of the 32-bit space first: a buffer at 0xfffff000 accessed 8 KiB
  // in is at 2^32 + 0x1000. The reference refuses it (no DMA address is that large); the core took
  // it modulo 2^32 and answered for IO page 1. Both now refuse, with the same words.
  it.each(["vtd", "amd-vi", "smmuv3"] as const)("%s: refused alike by the core and the reference; the line is skipped alike", (platform) => {
    const trace = parseTrace("map a 5000 100 bidirectional\naccess a 8192 64 read\naccess a 0 64 read\n");
    const r = both(trace, { platform, strategy: "straightforward", environment: "xen-dom0" })!;
    expect(r.core.skipped).toEqual(r.ref.skipped);
    expect(r.core.skipped.map((s) => s.reason)).toEqual(["dma: 4294971392 (0x100001000) is not allowed; expected a DMA address from 0 to 0xffffffff"]);
    expect(withoutNodes(r.core.report)).toStrictEqual(withoutNodes(r.ref.report));
  });
});

describe("streamed priced replay ≡ the reference on the whole trace", () => {
  // the streamed runner recycles handles (an id mapped again keeps its handles): batched's queue
  // must keep its own copy of a waiting unmap, or the second map of an id would corrupt the first's
  const reuse = ["map a 10000000 4096 to-device", "unmap a", "map a 10001000 8192 to-device", "access a 0 64 read", "unmap a",
    "map_sg s from-device 20000000:4096 20002000:100", "unmap_sg s", "map_sg s from-device 20004000:4096 20006000:5000", "unmap_sg s",
    "map a 10003000 4096 bidirectional", "unmap a"].join("\n") + "\n";
  const traces = [reuse, randomTrace(2000, 17), pressingTrace(2500, 8)];
  it.each(STRATEGIES.flatMap((s) => ["xen-dom0", "xen-domU"].map((e) => [s, e] as const)))("%s / %s", async (strategy, environment) => {
    for (const text of traces) {
      const opts: SimulationOptions = { platform: "calgary-pcix", strategy, environment, iommu: { tableSize: "64K", maxHandles: 1 << 16, batchCapacity: 8192 }, batchSize: 3, mappingCacheSize: 5, guestBytes: 2 ** 30 };
      let ref;
      try {
        ref = replayThroughSimulation(parseTrace(text), createSimulation(opts, createReferenceIommu), true);
      } catch {
        return; // refused combination (the matrix above checks both refuse alike)
      }
      const sim = createPricedSimulation(opts);
      const bytes = new TextEncoder().encode(text);
      const chunks = Array.from({ length: Math.ceil(bytes.length / 777) }, (_, k) => bytes.subarray(k * 777, (k + 1) * 777));
      const r = await replayStreamOnto(chunks, sim.batch, { handles: sim.handles, ...sim.cpus, lenient: true, refusal: (_o, res) => sim.refusal(res) });
      sim.finish();
      expect(r.operations).toBe(ref.operations);
      expect(sim.report()).toStrictEqual(ref.report);
    }
  });
});

describe("the priced model's results are the plain core's", () => {
  it("straightforward: the same IO addresses, record for record, as the unpriced replay", async () => {
    const text = randomTrace(3000, 23);
    const chunks = [new TextEncoder().encode(text)];
    const opts = { platform: "calgary-pcix" as const, iommu: { tableSize: "64K", maxHandles: 1 << 16, batchCapacity: 8192 } };
    const sim = createPricedSimulation({ ...opts, strategy: "straightforward", environment: "xen-dom0" });
    const priced: Array<[string, number[] | null]> = [];
    await replayStreamOnto(chunks, sim.batch, { handles: sim.handles, ...sim.cpus, lenient: true, onAddress: (id, _l, dma) => priced.push([id, dma]) });
    const io = createIommu({ platform: "calgary-pcix", tableSize: "64K", maxHandles: 1 << 16, batchCapacity: 8192 });
    const plain: Array<[string, number[] | null]> = [];
    await replayStreamOnto(chunks, io.batch, { handles: 1 << 16, cpus: 1, perCpu: false, lenient: true, onAddress: (id, _l, dma) => plain.push([id, dma]) });
    expect(priced.length).toBeGreaterThan(500);
    expect(priced).toEqual(plain);
    expect(sim.report().counters).toEqual(io.stats());
  });
});

describe("core-priced ≡ reference with the IOVA allocator on several CPUs", () => {
  it.each(["straightforward", "cached", "batched", "never-free", "persistent"])("%s", (strategy) => {
    const trace = parseTrace(randomTrace(2500, 31, 4));
    expect(trace.ops.some((o) => o.kind === "cpu")).toBe(true);
    const r = both(trace, { platform: "calgary-pcix", strategy, environment: "xen-dom0", iommu: { tableSize: "64K", allocator: "iova", cpus: 4 }, batchSize: 4, mappingCacheSize: 9 });
    // the reference core keeps IOVA's ranges in a sorted array, not a tree: it has no tree nodes to
    // count (as in the core's own differential suite); everything else must agree
    expect(r!.core.report.counters.nodesVisited).toBeGreaterThanOrEqual(0);
    r!.core.report.counters.nodesVisited = r!.ref.report.counters.nodesVisited;
    expect(r!.core.report).toStrictEqual(r!.ref.report);
    expect(r!.core.report.counters.rcacheHits).toBeGreaterThan(0);
  });
});

describe("core-priced ≡ reference on the queued invalidation interfaces (VT-d, AMD-Vi, SMMUv3)", () => {
  const cases = (["vtd-qi", "amd-cmdbuf", "smmuv3-cmdq"] as const).flatMap((inv) =>
    ["straightforward+strict-flush", "straightforward", "batched+strict-flush", "never-free", "cached+strict-flush"].flatMap((s) =>
      (["baremetal", "xen-dom0"] as const).map((e) => [inv, s, e] as const)));
  it.each(cases)("%s / %s / %s", (invalidation, strategy, environment) => {
    const trace = parseTrace(randomTrace(1500, 17, 2));
    const r = both(trace, {
      platform: "calgary-pcix", strategy, environment, batchSize: 5, mappingCacheSize: 7,
      iommu: { tableSize: "64K", allocator: "iova", cpus: 2, invalidation, invalidationCaps: invalidation === "vtd-qi" ? { mamv: 4, rwbf: true } : {} },
    });
    r!.core.report.counters.nodesVisited = r!.ref.report.counters.nodesVisited; // the reference tree counts none
    expect(r!.core.report).toStrictEqual(r!.ref.report);
    if (strategy.endsWith("strict-flush")) {
      // strict: each unmap call's range invalidated and waited for, priced as such
      expect(r!.core.report.counters.invWaits).toBeGreaterThan(0);
      expect(r!.core.report.primitives.kernel?.invWait ?? r!.core.report.primitives.xen?.invWait).toBe(r!.core.report.counters.invWaits);
    }
  });
});

describe("the id-level API's handles", () => {
  it("reuses an id's handles when it is mapped again, lists included; new ids beyond maxHandles are refused clearly", () => {
    const sim = createPricedSimulation({ platform: "calgary-pcix", strategy: "straightforward", iommu: { tableSize: "64K", maxHandles: 64 } });
    for (let i = 0; i < 5000; i++) {
      const id = `q${i % 8}`;
      if (i >= 8) sim.unmapSg(id);
      sim.mapSg(id, [{ phys: 0x1000_0000 + (i % 100) * 8192, bytes: 4096 }, { phys: 0x2000_0000, bytes: 100 }, { phys: 0x3000_0000, bytes: 9000 }], "to-device");
    }
    expect(sim.report().counters.mapSgs).toBe(5000);
    expect(() => {
      for (let i = 0; i < 100; i++) sim.map(`fresh${i}`, 0x4000_0000, 64, "from-device");
    }).toThrow(/iommu.maxHandles: 64 is not allowed; expected more handles: 65 buffers/);
  });
});
