// Every platform on every surface: the DMA pricing ring (what `run`, `sweep`, `reproduce` and the
// demo page price with), `run` and `sweep` on the command line. The page is covered by browser.test.ts.
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createIommu, createReferenceIommu, ENVIRONMENTS, PLATFORMS, priceRing } from "../bindings/node.js";
import { priceSgIo } from "../bindings/workloads/dma-price.js";

const CLI = join(__dirname, "..", "lib", "cli.js");
const cli = (...args: string[]) => spawnSync("node", [CLI, ...args], { encoding: "utf8" });

describe("the DMA pricing ring on every platform", () => {
  it.each(PLATFORMS)("%s: priced in every environment", (platform) => {
    for (const environment of ENVIRONMENTS) {
      const { counts } = priceRing(platform, environment, "straightforward", createIommu);
      // one map and one unmap a pair, each entering the DMA API once and writing one entry:
      // the kernel does both on bare metal; under Xen dom0 enters the API and Xen writes the table
      const driver = environment === "baremetal" ? counts.kernel : counts.dom0;
      const tableWriter = environment === "baremetal" ? counts.kernel : counts.xen;
      expect(driver?.dmaApiEntry).toBe(2);
      expect(tableWriter?.tceWrite).toBe(2);
    }
  });

  it("prices the DART flush rules: U3 invalidates all after each map (2 reads + 1 write), U4 one page per map (1 read + 1 write)", () => {
    const u3 = priceRing("dart-u3", "baremetal", "straightforward", createIommu).counts.kernel!;
    const u4 = priceRing("dart-u4", "baremetal", "straightforward", createIommu).counts.kernel!;
    expect([u3.mmioRead, u3.mmioWrite]).toEqual([2, 1]);
    expect([u4.mmioRead, u4.mmioWrite]).toEqual([1, 1]);
    // Calgary flushes only when the allocator wraps: the ring is priced over a whole wrap, so its
    // blast (3 MMIO reads) is in the price once per trip of the hint through the 1M table's 2^17
    // entries less the 128 reserved (emergency pages, legacy hole) and the last (an allocation
    // must end below the table's end, assembly/allocator.ts areaAlloc), one pair an entry
    expect(priceRing("calgary-pcix", "baremetal", "straightforward", createIommu).counts.kernel!.mmioRead! * (2 ** 17 - 128 - 1)).toBeCloseTo(3, 9);
  });

  it.each(["vtd", "amd-vi"] as const)("%s lazy: the price holds the flush queue's domain invalidation, once per 255 unmaps (a full queue)", (platform) => {
    const lazy = priceRing(platform, "baremetal", "straightforward", createIommu).counts.kernel!;
    const strict = priceRing(platform, "baremetal", "straightforward+strict-flush", createIommu).counts.kernel!;
    // strict: one invalidation + one wait per unmap; lazy: one domain-wide invalidation + wait per
    // FQ_SIZE − 1 = 255 queued IOVAs (the short run before this fix counted none)
    expect(strict.invWait).toBe(1);
    expect(lazy.invWait).toBeCloseTo(1 / 255, 12);
    expect(lazy.invDescriptorWrite).toBeCloseTo(2 / 255, 12);
  });

  it.each(PLATFORMS)("%s: a block IO (map_sg of 16 pages) is priced (refused on riommu, naming why)", (platform) => {
    if (platform === "riommu") {
      expect(() => priceSgIo(platform, "baremetal", "straightforward", 16, 4, createIommu)).toThrow(/operation: "map_sg" is not allowed; expected map_single \/ unmap_single only on riommu/);
      return;
    }
    const counts = priceSgIo(platform, "baremetal", "straightforward", 16, 4, createIommu);
    expect(counts.kernel?.tceWrite).toBe(32); // 16 entries written on map, 16 cleared on unmap
  });
});

describe("run and sweep on every platform", () => {
  it.each(PLATFORMS)("run --platform %s (netperf and ffsb) exits 0 with the IOMMU costing CPU", (platform) => {
    for (const workload of ["netperf", "ffsb"]) {
      const r = cli("run", "--platform", platform, "--workload", workload, "--environment", "xen-dom0", "--json");
      if (platform === "riommu" && workload === "ffsb") {
        // block IO is map_sg: the rIOMMU serves ring buffers only
        expect(r.stderr).toMatch(/map_single \/ unmap_single only on riommu/);
        expect(r.status).toBe(1);
        continue;
      }
      expect(r.stderr).toBe("");
      expect(r.status).toBe(0);
      const { config, result } = JSON.parse(r.stdout);
      expect(config.platform).toBe(platform);
      expect(result.onCpu / result.onMbps).toBeGreaterThan(result.offCpu / result.offMbps);
    }
  });

  it("a sweep over every platform exits 0, the same in parallel as serial", () => {
    const grid = ["--grid", `platform=${PLATFORMS.join(",")}`, "--grid", "strategy=straightforward,batched", "--grid", "messageBytes=64,65536", "--json"];
    const parallel = cli("sweep", ...grid, "--threads", "2");
    expect(parallel.stderr).toBe("");
    expect(parallel.status).toBe(0);
    const rows = (JSON.parse(parallel.stdout) as { runs: Array<{ config: { platform: string } }> }).runs;
    expect(rows).toHaveLength(PLATFORMS.length * 4);
    expect(new Set(rows.map((r) => r.config.platform))).toEqual(new Set(PLATFORMS));
    expect(cli("sweep", ...grid, "--serial").stdout).toBe(parallel.stdout);
  });
});

describe("the ring priced over whole flush cycles, on both models", () => {
  it.each(["vtd", "amd-vi"] as const)("%s lazy: the WASM core's priced model and the TypeScript reference count the same per pair, exposure alike", (platform) => {
    const core = priceRing(platform, "baremetal", "straightforward", createIommu);
    const ref = priceRing(platform, "baremetal", "straightforward", createReferenceIommu);
    expect(ref.counts).toEqual(core.counts);
    expect(ref.exposure).toEqual(core.exposure);
  });
});
