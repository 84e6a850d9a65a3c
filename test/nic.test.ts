// The modern NIC workload (bindings/workloads/nic.ts): properties of the call sequence the driver
// makes, of the core's counts on it, and of the throughput/CPU model; WASM ≡ reference on it.
import { spawnSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ConfigError, createIommu, createReferenceIommu, PLATFORMS, simulateNic } from "../bindings/node.js";
import { driveNic } from "../bindings/workloads/nic/drive.js";
import { nicIommuOptions, resolveNicOptions, type NicOptions } from "../bindings/workloads/nic/options.js";
import { nicPrices } from "../bindings/workloads/nic/prices.js";
import { generateNicTrace, mssOf, sizeGoalOf } from "../bindings/workloads/nic/trace.js";
import { shapeAt } from "../bindings/workloads/nic.js";

// small windows keep every run to a fraction of a second
const FAST: Partial<NicOptions> = { windowCalls: 600, tableSize: "1M" };
// (vtd by default: the IOVA allocator, its magazines and flush queues on VT-d's preset)

function traced(options: Partial<NicOptions>, rateGbps = 9) {
  const o = resolveNicOptions({ ...FAST, ...options });
  const rate = o.test === "rr" ? 50_000 : (rateGbps * 1e9) / 8 / o.queues;
  const trace = generateNicTrace(o, shapeAt(o, rate));
  return { o, trace, iommuOptions: nicIommuOptions(o, trace.maxHandles) };
}

const configs = fc.record({
  test: fc.constantFrom("stream" as const, "rr" as const),
  role: fc.constantFrom("sender" as const, "receiver" as const),
  linkGbps: fc.constantFrom(10 as const, 25 as const, 40 as const, 100 as const),
  queues: fc.integer({ min: 1, max: 6 }),
  cpus: fc.integer({ min: 1, max: 6 }),
  mtu: fc.constantFrom(1500, 9000),
  messageBytes: fc.constantFrom(64, 1448, 16384, 65536),
});

describe("the driver's DMA-API calls", () => {
  it("maps a 64 KiB TSO skb as its header plus two or three 32 KiB page-frag pieces, unmapped one poll later", () => {
    // a send of exactly the size goal is one skb (a 64 KiB send leaves a 376-byte tail as a second one)
    const { trace } = traced({ queues: 1, cpus: 1, messageBytes: 45 * 1448 });
    const w = trace.window;
    expect(sizeGoalOf(mssOf(1500))).toBe(45 * 1448);
    expect(w.txMaps / w.txSkbs).toBeGreaterThanOrEqual(3);
    expect(w.txMaps / w.txSkbs).toBeLessThanOrEqual(4);
    expect(Math.abs(w.txMaps - w.txUnmaps)).toBeLessThanOrEqual(4 * 8); // one poll's skbs still in flight
  });

  it("keeps recycled RX pages mapped: the core sees map calls only for pool misses, unmaps only for pool overflow", () => {
    for (const rxBacklogBytes of [0, 87380, 256 << 10]) for (const rxRecycling of ["page-pool", "page-flip", "none", "hugepage-pool"] as const) {
      const { trace, iommuOptions } = traced({ role: "receiver", queues: 2, cpus: 2, rxBacklogBytes, rxRecycling, windowCalls: 3000 });
      const run = driveNic(createIommu(iommuOptions), trace);
      const w = trace.window;
      if (rxRecycling === "none") {
        // no recycling: a map and an unmap for every frame
        expect(w.rxPagesRecycled).toBe(0);
        expect(w.rxPagesMapped).toBe(w.rxFrames);
        expect(w.rxPagesUnmapped).toBe(w.rxFrames);
        expect(run.stats.maps).toBe(w.txMaps + w.rxPagesMapped);
        continue;
      }
      expect(w.rxPagesRecycled).toBeGreaterThan(0);
      // every core map in the window is a TX map or a page the pool did not have; nothing recycled was remapped
      expect(run.stats.maps).toBe(w.txMaps + w.rxPagesMapped);
      expect(run.stats.unmaps).toBe(w.txUnmaps + w.rxPagesUnmapped);
      // steady state: pages in circulation no longer grow, so the pool never misses
      expect(w.rxPagesMapped).toBe(0);
      if (rxRecycling === "hugepage-pool") expect(w.rxPagesUnmapped).toBe(0);
    }
  });

  it("half-page flipping remaps only the pages the stack still holds a lap later; the page pool never", () => {
    const backlog = { role: "receiver" as const, queues: 1, cpus: 1, rxRing: 128, rxBacklogBytes: 400 * 1448, windowCalls: 4000 };
    const flip = simulateNic({ ...FAST, ...backlog, rxRecycling: "page-flip" });
    const pool = simulateNic({ ...FAST, ...backlog, rxRecycling: "page-pool" });
    expect(flip.iommu.rxPagesUnmapped).toBeGreaterThan(0);
    expect(flip.iommu.rxRecycleRatio).toBeLessThan(1);
    expect(flip.iommu.perPacket.dmaCalls).toBeGreaterThan(pool.iommu.perPacket.dmaCalls);
    expect(pool.iommu.rxPagesMapped + pool.iommu.rxPagesUnmapped).toBe(0);
    // a reader that keeps up: both recycle every page
    const quick = simulateNic({ ...FAST, ...backlog, rxBacklogBytes: 16 * 1448, rxRecycling: "page-flip" });
    expect(quick.iommu.rxRecycleRatio).toBe(1);
    expect(() => resolveNicOptions({ rxRecycling: "page-flip", mtu: 9000 })).toThrow(/rxRecycling: "page-flip" is not allowed; expected page-pool with mtu 9000/);
  });

  it("takes the IOVA tree's global lock only when a CPU's magazines miss", () => {
    // a window long enough for the IOVAs in circulation to stop growing (the flush queues fill once)
    const r = simulateNic({ ...FAST, windowCalls: 3000, queues: 4, cpus: 4, invalidation: "lazy", role: "receiver" });
    const c = r.iommu;
    expect(c.iovaTreeAllocs).toBe(c.dmaMaps - c.magazineHits);
    expect(c.globalLockAcquisitions).toBe(c.iovaTreeAllocs + c.iovaTreeFrees);
    expect(c.globalLockAcquisitions).toBeLessThan(0.05 * (c.dmaMaps + c.dmaUnmaps));
    // strict frees each range back into the magazine it came from: the tree is never touched
    const strict = simulateNic({ ...FAST, queues: 4, cpus: 4, invalidation: "strict", role: "receiver" });
    expect(strict.iommu.globalLockAcquisitions).toBe(0);
    // without the magazines (before Linux 4.7) every allocation and every free takes it, and CPUs wait on each other
    const tree = simulateNic({ ...FAST, windowCalls: 3000, queues: 4, cpus: 4, invalidation: "lazy", role: "receiver", allocator: "iova-tree" });
    expect(tree.iommu.magazineHits).toBe(0);
    expect(tree.iommu.iovaTreeAllocs).toBe(tree.iommu.dmaMaps);
    expect(tree.iommu.globalLockAcquisitions).toBeGreaterThan(10 * c.globalLockAcquisitions);
    expect(tree.iommu.lockWaitCycles).toBeGreaterThan(0);
    expect(tree.cyclesPerPacket.iommu).toBeGreaterThan(r.cyclesPerPacket.iommu);
  });
});

describe("the model", () => {
  it("lazy invalidation never costs more CPU per packet than strict on the same run", () => {
    fc.assert(
      fc.property(configs, (c) => {
        const strict = simulateNic({ ...FAST, ...c, invalidation: "strict" });
        const lazy = simulateNic({ ...FAST, ...c, invalidation: "lazy" });
        expect(lazy.cyclesPerPacket.total).toBeLessThanOrEqual(strict.cyclesPerPacket.total * (1 + 1e-9));
        expect(lazy.iommu.iotlbInvalidations).toBeLessThanOrEqual(strict.iommu.iotlbInvalidations);
      }),
      { numRuns: 6, seed: 14 },
    );
  });

  it("a faster link never lowers throughput", () => {
    fc.assert(
      fc.property(configs, (c) => {
        let last = 0;
        for (const linkGbps of [10, 25, 40, 100] as const) {
          const r = simulateNic({ ...FAST, ...c, linkGbps });
          expect(r.throughputGbps).toBeGreaterThanOrEqual(last * (1 - 1e-9));
          last = r.throughputGbps;
        }
      }),
      { numRuns: 3, seed: 3 },
    );
  });

  it("any valid configuration runs: finite figures, no more than the link carries, CPUs at most busy", () => {
    const any = fc.record({
      test: fc.constantFrom("stream" as const, "rr" as const),
      role: fc.constantFrom("sender" as const, "receiver" as const),
      linkGbps: fc.constantFrom(1 as const, 10 as const, 50 as const, 200 as const),
      queues: fc.integer({ min: 1, max: 8 }),
      cpus: fc.integer({ min: 1, max: 8 }),
      mtu: fc.integer({ min: 576, max: 9000 }),
      messageBytes: fc.integer({ min: 1, max: 1 << 20 }),
      txRing: fc.constantFrom(64, 512),
      rxRing: fc.constantFrom(64, 1024),
      invalidation: fc.constantFrom("strict" as const, "lazy" as const),
      rxRecycling: fc.constantFrom("page-pool" as const, "none" as const, "hugepage-pool" as const),
      txFragBytes: fc.constantFrom(4096, 32768),
      allocator: fc.constantFrom("iova" as const, "iova-tree" as const),
    });
    fc.assert(
      fc.property(any, (c) => {
        const r = simulateNic({ ...FAST, windowCalls: 200, ...c });
        const goodput = c.linkGbps * (mssOf(c.mtu) / (mssOf(c.mtu) + 90));
        for (const p of [r, r.baseline]) {
          expect(Number.isFinite(p.throughputGbps) && p.throughputGbps > 0).toBe(true);
          // a stream never beats the payload share of the line (rr counts both directions)
          expect(p.throughputGbps).toBeLessThanOrEqual((c.test === "rr" ? 2 : 1) * goodput * (1 + 1e-9));
          for (const u of p.cpuUtilisation) expect(u).toBeLessThanOrEqual(1 + 1e-9);
        }
        expect(r.iommu.staleDeviceHits).toBe(0);
      }),
      { numRuns: 8, seed: 7 },
    );
  });

  it("exposure: lazy leaves unmapped pages reachable until the flush, strict none", () => {
    const lazy = simulateNic({ ...FAST, role: "receiver", invalidation: "lazy" });
    const strict = simulateNic({ ...FAST, role: "receiver", invalidation: "strict" });
    expect(lazy.exposure.pagesAwaitingFlushPeak).toBeGreaterThan(0);
    expect(lazy.exposure.staleIotlbLinesPeak).toBeGreaterThan(0);
    expect(lazy.exposure.staleWindowUs).toBeGreaterThan(0);
    expect(strict.exposure.staleIotlbLinesPeak).toBe(0);
    expect(strict.exposure.pagesAwaitingFlushPeak).toBe(0);
    for (const r of [lazy, strict]) expect(r.iommu.staleDeviceHits).toBe(0); // the driver never DMAs after unmap
  });

  it("on VT-d's radix tables, 2 MiB pool chunks take far fewer IOTLB misses and walk reads than 4 KiB pages", () => {
    const pages = simulateNic({ ...FAST, role: "receiver", linkGbps: 100 });
    const huge = simulateNic({ ...FAST, role: "receiver", linkGbps: 100, rxRecycling: "hugepage-pool" });
    expect(pages.iommu.walkReads).toBeGreaterThan(0);
    expect(huge.iommu.perPacket.iotlbMisses).toBeLessThan(pages.iommu.perPacket.iotlbMisses / 4);
    expect(huge.iommu.walkReads).toBeLessThan(pages.iommu.walkReads);
  });

  it("the IOMMU never makes it faster or cheaper than no IOMMU", () => {
    for (const invalidation of ["strict", "lazy"] as const) {
      const r = simulateNic({ ...FAST, linkGbps: 100, invalidation });
      expect(r.throughputGbps).toBeLessThanOrEqual(r.baseline.throughputGbps * (1 + 1e-9));
      expect(r.cyclesPerPacket.total).toBeGreaterThan(r.baseline.cyclesPerPacket.total);
    }
  });

  it("a profile's named prices override the defaults, and unknown ones are refused", () => {
    const p = nicPrices({ name: "x", cycles: { iotlbInvalidation: 100, invalidationWait: 900, dmaApiEntry: 300 }, nic: { stack: { copyPerByte: 0.2 } } });
    expect(p.iommu.invalidationWait).toBe(900);
    expect(p.iommu.dmaApiEntry).toBe(300);
    expect(p.stack.copyPerByte).toBe(0.2);
    // a CostProfile's primitives compose the NIC's: the queued-invalidation ones where it has them
    const q = nicPrices({ machine: { cores: 16, clockHz: 2.1e9 }, cycles: { dmaApiEntry: 150, tceWrite: 20, mmioWrite: 315, flushWaitPoll: 2100, invDescriptorWrite: 20, invWait: 2000, copyPerByte: 0.25 } });
    expect(q.iommu).toMatchObject({ dmaApiEntry: 150, pageTableWrite: 20, iotlbInvalidation: 2 * 20 + 315, invalidationWait: 2000 });
    expect(q.stack.copyPerByte).toBe(0.25);
    expect(q.clockHz).toBe(2.1e9);
    expect(nicPrices({ cycles: { mmioWrite: 600, flushWaitPoll: 3000 } }).iommu).toMatchObject({ iotlbInvalidation: 600, invalidationWait: 3000 });
    // explicit NIC prices win
    expect(nicPrices({ cycles: { invWait: 2000 }, nic: { iommu: { invalidationWait: 10 } } }).iommu.invalidationWait).toBe(10);
    expect(() => nicPrices({ nic: { stack: { bogus: 1 } as never } })).toThrow(/profile\.nic\.stack\.bogus: 1 is not allowed; expected no such price/);
  });
});

describe("the platform kernel's default invalidation", () => {
  it("is lazy on VT-d and AMD-Vi, strict on SMMUv3", () => {
    expect(resolveNicOptions({}).invalidation).toBe("lazy");
    expect(resolveNicOptions({ platform: "amd-vi" }).invalidation).toBe("lazy");
    expect(resolveNicOptions({ platform: "smmuv3" }).invalidation).toBe("strict");
    expect(resolveNicOptions({ platform: "smmuv3", invalidation: "lazy" }).invalidation).toBe("lazy");
  });
});

describe("refusals", () => {
  it.each([
    [{ linkGbps: 33 }, /linkGbps: 33 is not allowed; expected one of 1, 10, 25, 40, 50, 100, 200/],
    [{ invalidation: "deferred" }, /invalidation: "deferred" is not allowed; expected one of default, strict, lazy/],
    [{ queues: 0 }, /queues: 0 is not allowed; expected an integer from 1 to 64/],
    [{ rxRing: 1000 }, /rxRing: 1000 is not allowed; expected a power of two from 64 to 8192/],
    [{ txFragBytes: 8192 }, /txFragBytes: 8192 \(0x2000\) is not allowed; expected 4096 \(zero-copy/],
    [{ bogus: 1 }, /bogus: 1 is not allowed; expected no such NIC setting/],
  ])("%j", (given, message) => {
    expect(() => resolveNicOptions(given as never)).toThrow(ConfigError);
    expect(() => resolveNicOptions(given as never)).toThrow(message);
  });
});

describe("one core per device ring (how a ring IOMMU is driven)", () => {
  it("routes each ring's calls to its own core, in order, and leaves the coherent descriptor rings out", () => {
    const { trace, iommuOptions } = traced({ role: "receiver", queues: 2, cpus: 2, rxRecycling: "none" });
    const made: number[] = [];
    const run = driveNic({ perRing: (ring) => (made.push(ring), createIommu({ ...iommuOptions, cpus: 1 })) }, trace);
    expect(made.sort()).toEqual([0, 1, 2, 3]); // TX and RX of two queues
    const w = trace.window;
    expect(run.stats.maps).toBe(w.txMaps + w.rxPagesMapped);
    expect(run.stats.unmaps).toBe(w.txUnmaps + w.rxPagesUnmapped);
    expect(run.stats.allocs).toBe(0);
    expect(run.lateDma.probes).toBeGreaterThan(0);
  });
});

// the rIOMMU platform lands from its own branch: these run once it is a platform
describe.skipIf(!(PLATFORMS as readonly string[]).includes("riommu"))("on a ring IOMMU (riommu)", () => {
  const riommu = { windowCalls: 600, platform: "riommu" as never, queues: 2, cpus: 2 };

  it("maps each RX buffer per descriptor in ring order, takes no tree lock, leaves nothing stale", () => {
    const r = simulateNic({ ...riommu, role: "receiver" });
    expect(r.options).toMatchObject({ invalidation: "end-of-burst", rxRecycling: "none" });
    expect(r.iommu.rxPagesMapped).toBe(r.iommu.dataFrames);
    expect(r.iommu.globalLockAcquisitions).toBe(0);
    expect(r.exposure.staleIotlbLinesPeak).toBe(0);
    expect(r.iommu.staleDeviceHits).toBe(0);
    // fewer invalidations than strict on the same per-frame mappings
    const strict = simulateNic({ ...FAST, ...riommu, platform: "vtd", role: "receiver", rxRecycling: "none", invalidation: "strict" });
    expect(r.iommu.iotlbInvalidations).toBeLessThan(strict.iommu.iotlbInvalidations);
    expect(r.cyclesPerPacket.iommu).toBeLessThan(strict.cyclesPerPacket.iommu);
  });

  it("refuses what a ring IOMMU does not do, saying why", () => {
    expect(() => resolveNicOptions({ platform: "riommu" as never, rxRecycling: "page-pool" })).toThrow(/rxRecycling: "page-pool" is not allowed; expected none \(or default\) on riommu/);
    expect(() => resolveNicOptions({ platform: "riommu" as never, invalidation: "lazy" })).toThrow(/invalidation: "lazy" is not allowed; expected default on riommu/);
  });
});

describe("WASM core ≡ reference on the generated call sequence", () => {
  it.each([
    ["stream sender, lazy, 3 queues on 2 CPUs", { queues: 3, cpus: 2, invalidation: "lazy" }],
    ["stream receiver, strict", { role: "receiver", queues: 2, cpus: 2, invalidation: "strict" }],
    ["rr, lazy, jumbo frames", { test: "rr", mtu: 9000, messageBytes: 20000, queues: 2, cpus: 2 }],
  ] as const)("%s", (_, options) => {
    const { trace, iommuOptions } = traced(options as Partial<NicOptions>);
    // the reference walks the IOVA tree its own way: node visits are the one counter it does not match (as in test/differential.test.ts)
    const comparable = (io: Parameters<typeof driveNic>[0]) => {
      const run = driveNic(io, trace);
      return { ...run, stats: { ...run.stats, nodesVisited: 0 } };
    };
    expect(comparable(createIommu(iommuOptions))).toEqual(comparable(createReferenceIommu(iommuOptions)));
  });
});

describe("iommu-sim run / sweep --workload nic", () => {
  const CLI = join(__dirname, "..", "lib", "cli.js");
  const cli = (...args: string[]) => spawnSync("node", [CLI, ...args], { encoding: "utf8" });
  const cliIn = (cwd: string, ...args: string[]) => spawnSync("node", [CLI, ...args], { encoding: "utf8", cwd });

  it("prints the NIC's settings and results, the same for the same settings", () => {
    const args = ["run", "--workload", "nic", "--link", "25G", "--queues", "2", "--cpus", "2", "--invalidation", "strict", "--json"];
    const a = cli(...args);
    expect(a.status, a.stderr).toBe(0);
    const j = JSON.parse(a.stdout);
    expect(j.config).toMatchObject({ workload: "nic", platform: "vtd", link: 25, queues: 2, cpus: 2, invalidation: "strict" });
    expect(j.result.nic.cpuUtilisation).toHaveLength(2);
    expect(j.result.onMbps).toBeCloseTo(j.result.nic.throughputGbps * 1000, 6);
    expect(cli(...args).stdout).toBe(a.stdout);
    const table = cli("run", "--workload", "nic");
    expect(table.stdout).toMatch(/link │ queues │ cpus │ +mtu │ invalidation │ test +│ role/);
    expect(table.stdout).not.toMatch(/queueDepth/);
  });

  it.each([
    [["--link", "33"], /link: 33 is not allowed; expected one of 1, 10, 25, 40, 50, 100, 200/],
    [["--link", "fast"], /--link: "fast" is not allowed; expected a link speed in Gbit\/s/],
    [["--environment", "xen-dom0"], /environment: "xen-dom0" is not allowed; expected baremetal for the nic workload/],
    [["--strategy", "batched"], /strategy: "batched" is not allowed; expected straightforward for the nic workload/],
    [["--queues", "0"], /queues: 0 is not allowed; expected an integer from 1 to 64/],
    [["--iotlb-entries", "48"], /iotlbEntries: 48 is not allowed; expected 0 \(no IOTLB\) or a power of two up to 65536/],
    [["--rx-backlog-bytes", "lots"], /--rx-backlog-bytes: "lots" is not allowed; expected a byte count/],
  ])("refuses %j (exit 1, naming the field)", (flags, message) => {
    const r = cli("run", "--workload", "nic", ...flags);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(message);
  });

  it("refuses a NIC setting for another workload instead of ignoring it", () => {
    const r = cli("run", "--workload", "netperf", "--invalidation", "strict");
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/invalidation: "strict" is not allowed; expected left at its default \(default\) for netperf/);
  });

  it("sweeps its settings over worker threads with the serial results", () => {
    const grid = ["sweep", "--workload", "nic", "--grid", "link=10,100", "--grid", "invalidation=strict,lazy", "--json", "--quiet"];
    const pooled = cli(...grid, "--threads", "2");
    const serial = cli(...grid, "--serial");
    expect(pooled.status, pooled.stderr).toBe(0);
    expect(pooled.stdout).toBe(serial.stdout);
    const runs = JSON.parse(serial.stdout).runs;
    expect(runs.map((r: { config: { link: number; invalidation: string } }) => `${r.config.link}/${r.config.invalidation}`)).toEqual(["10/strict", "10/lazy", "100/strict", "100/lazy"]);
  });

  it("shards a NIC sweep, and the merged parts are the serial sweep byte for byte", () => {
    const dir = mkdtempSync(join(tmpdir(), "iommu-sim-nic-"));
    const grid = ["sweep", "--workload", "nic", "--grid", "link=10,100", "--grid", "invalidation=strict,lazy", "--quiet"];
    for (const i of [0, 1]) expect(cliIn(dir, ...grid, "--shard", `${i}/2`).status).toBe(0);
    const merged = cliIn(dir, "merge", "sweep.part-0-of-2.json", "sweep.part-1-of-2.json", "--json");
    expect(merged.status, merged.stderr).toBe(0);
    expect(merged.stdout).toBe(cliIn(dir, ...grid, "--serial", "--json").stdout);
  });
});
