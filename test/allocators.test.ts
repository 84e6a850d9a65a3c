// Allocator workloads (assembly/workloads.ts) and the comparison built on them: determinism,
// what each allocator must show on each stream, and the refusals.
import { execFileSync, spawnSync } from "node:child_process";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ALLOCATORS, createAllocatorWorkload, createIommu, type AllocatorFigures, type IommuOptions } from "../bindings/node.js";
import { WORKLOADS, type WorkloadName } from "../bindings/allocators/workload.js";
import { parseWorkloadSpec } from "../bindings/allocators/compare.js";

const SMALL: IommuOptions = { platform: "calgary-pcix", tableSize: "256K" }; // 32 Ki entries
const CLI = new URL("../lib/cli.js", import.meta.url).pathname;

function run(allocator: (typeof ALLOCATORS)[number], workload: WorkloadName, param: number, steps: number, extra: Partial<IommuOptions> = {}, mode: "dma" | "allocator" = "dma"): AllocatorFigures {
  const w = createAllocatorWorkload({ ...SMALL, allocator, ...extra }, { workload, param, seed: 7, mode });
  w.run(steps);
  return w.figures();
}

describe("allocator workloads", () => {
  it("are a pure function of their arguments", () => {
    for (const workload of WORKLOADS) {
      expect(run("iova", workload, workload === "occupancy" ? 800 : 64, 5000, { cpus: 3 })).toEqual(run("iova", workload, workload === "occupancy" ? 800 : 64, 5000, { cpus: 3 }));
    }
  });

  it("hand the same addresses in allocator mode as through the full DMA path (property)", () => {
    fc.assert(
      fc.property(fc.constantFrom(...ALLOCATORS), fc.constantFrom(...WORKLOADS), fc.integer({ min: 1, max: 600 }), (allocator, workload, p) => {
        const param = workload === "occupancy" ? Math.max(1, Math.min(1000, p * 2)) : p;
        const a = run(allocator, workload, param, 3000, {}, "dma");
        const b = run(allocator, workload, param, 3000, {}, "allocator");
        for (const k of ["failedMaps", "wrapsPerMillion", "flushesPerMillion", "lowPage", "highPage", "livePages", "wordsPerOp", "rcacheHitRate"] as const) {
          expect(b[k], k).toBe(a[k]);
        }
        expect(b.state).toEqual(a.state);
      }),
      { numRuns: 40, seed: 11 },
    );
  });

  it("on the NIC ring: next-fit sweeps the whole space, first-fit and IOVA stay in one ring's worth, magazines serve every map", () => {
    const entries = 32768;
    const calgary = run("calgary", "ring", 256, 50_000);
    expect(calgary.spanPages).toBeGreaterThan(entries - 300); // the hint walks the table and wraps
    expect(calgary.wrapsPerMillion).toBeGreaterThan(0);
    expect(calgary.flushesPerMillion).toBe(calgary.wrapsPerMillion); // one blast per wrap (on-wrap policy)
    const first = run("first-fit", "ring", 256, 50_000);
    // 32..159 below the legacy hole, then 256..383: 352 pages from the first to the last
    expect([first.lowPage, first.highPage]).toEqual([32, 384]);
    expect(first.wrapsPerMillion).toBe(0);
    const mag = run("iova", "ring", 256, 50_000);
    expect(mag.rcacheHitRate).toBe(1);
    expect(mag.nodesPerOp).toBe(0);
    expect(mag.highPage).toBe(entries); // top-down from the aperture end
    expect(mag.spanPages).toBe(256);
    const tree = run("iova-tree", "ring", 256, 50_000);
    expect(tree.nodesPerOp).toBeGreaterThan(2);
    expect(tree.spanPages).toBe(256);
  });

  it("at a target occupancy hold the live pages there; IOVA's power-of-two rounding fails where the bitmaps do not", () => {
    for (const allocator of ALLOCATORS) {
      const w = createAllocatorWorkload({ ...SMALL, allocator }, { workload: "occupancy", param: 850, seed: 3 });
      w.run(60_000);
      const f = w.figures();
      expect(f.livePages).toBeLessThanOrEqual(Math.floor(32768 * 0.85));
      if (allocator.startsWith("iova")) {
        expect(f.livePages).toBeLessThan(32768 * 0.75);
        // 1–32-page requests round up to 1.29× their pages on average: 85 % live needs > 100 %
        expect(f.failedPerMillion).toBeGreaterThan(100_000);
        expect((w.iommu as unknown as { treeCheck(): number }).treeCheck()).toBe(0);
      }
      else expect(f.livePages).toBeGreaterThan(32768 * 0.85 - 1000);
      if (allocator === "first-fit") expect(f.failedMaps).toBe(0);
    }
  });

  it("per-CPU magazines: with maps and unmaps on random CPUs the depot fills and the delayed work drains it", () => {
    const w = createAllocatorWorkload({ platform: "calgary-pcix", allocator: "iova", cpus: 4 }, { workload: "ring", param: 4096, seed: 7 });
    w.run(200_000);
    const f = w.figures();
    // a CPU whose two magazines are empty goes to the depot, then to the tree: hits fall short of 1
    expect(f.rcacheHitRate).toBeGreaterThan(0.99);
    expect(f.rcacheHitRate).toBeLessThan(1);
    expect(f.nodesPerOp).toBeGreaterThan(0);
    expect(f.state.magazines).toBeGreaterThan(2 * 6 * 4); // a full magazine sits in a depot
    expect((w.iommu as unknown as { treeCheck(): number }).treeCheck()).toBe(0);
  });

  it("under the flush queue: flushes come from full rings and the 10 ms timer, and pages wait in the queue", () => {
    const w = createAllocatorWorkload({ ...SMALL, allocator: "iova", flushPolicy: "flush-queue", cpus: 2 }, { workload: "ring", param: 256, seed: 5 });
    w.run(100_000);
    const f = w.figures();
    const s = w.iommu.stats();
    // 200 000 unmaps over 2 CPUs fill a 255-slot ring about every 255 unmaps per CPU, and the timer
    // fires every 6 550 operations: between 200 000 / 255 / 2 ... 200 000 / 255 flushes, plus ~30
    expect(f.flushesPerMillion).toBeGreaterThan((1e6 / 255 / 2) * 0.9 * 0.5);
    expect(s.pagesQueued).toBeGreaterThan(0);
    expect(s.pagesQueued).toBeLessThanOrEqual(2 * 255);
    expect(s.pagesInUse).toBe(256 + s.pagesQueued);
    expect(f.failedMaps).toBe(0);
  });

  it("storage-sg maps each request with map_sg, one range per one-page element", () => {
    const w = createAllocatorWorkload({ ...SMALL, allocator: "ppc2007" }, { workload: "storage-sg", param: 16, seed: 9 });
    w.run(5000);
    const s = w.iommu.stats();
    expect(s.maps).toBe(0);
    expect(s.mapSgs).toBe(16 + 5000);
    expect(s.unmapSgs).toBe(5000);
    expect(s.rangesAllocated).toBe(s.pagesMapped);
    expect(s.pagesInUse).toBe(w.figures().livePages);
  });

  it("refuse bad workload options by name", () => {
    expect(() => createAllocatorWorkload(SMALL, { workload: "ring", param: 0 })).toThrow(/param: 0.*ring.*from 1 to 65536/);
    expect(() => createAllocatorWorkload(SMALL, { workload: "nope" as WorkloadName })).toThrow(/workload: "nope".*ring, storage, storage-sg, mixed, occupancy/);
    expect(() => createAllocatorWorkload(SMALL, { workload: "ring", mode: "fast" as "dma" })).toThrow(/mode: "fast"/);
    expect(() => createAllocatorWorkload({ ...SMALL, cpus: 65 }, { workload: "ring" })).toThrow(/cpus: 65.*1 to 64/);
    expect(() => parseWorkloadSpec("ring:1:2")).toThrow(/NAME or NAME:PARAM/);
    expect(() => createIommu({ ...SMALL, allocator: "iova" }).setCpu(1)).toThrow(/cpu: 1.*from 0 to 0/);
  });
});

describe("iommu-sim allocators", () => {
  it("prints one row per allocator × workload, and the trace's rows, as JSON", () => {
    const out = execFileSync("node", [CLI, "allocators", "--workload", "ring:64", "--workload", "storage:8", "--steps", "2000", "--trace", "examples/nic-ring.trace", "--json"], { encoding: "utf8" });
    const rows = JSON.parse(out).rows as AllocatorFigures[];
    expect(rows).toHaveLength(3 * ALLOCATORS.length);
    expect(rows.map((r) => r.workload)).toEqual([...ALLOCATORS.map(() => "ring"), ...ALLOCATORS.map(() => "storage"), ...ALLOCATORS.map(() => "trace")]);
    const trace = rows.filter((r) => r.workload === "trace");
    expect(trace.every((r) => r.failedMaps === 0 && r.operations === trace[0].operations)).toBe(true);
  });

  it("refuses a bad workload with exit code 1 and the reason", () => {
    const r = spawnSync("node", [CLI, "allocators", "--workload", "ring:0"], { encoding: "utf8" });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/ring:PARAM.*from 1 to 65536/);
  });
});
