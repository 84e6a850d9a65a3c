// The built-in NIC ring (assembly/ring.ts) keeps its steady state in locals; it must leave the
// core exactly as the same ring driven one public call at a time does: counters, hint, table.
import { describe, expect, it } from "vitest";
import { createIommu, createNicRing, type IommuOptions } from "../bindings/node.js";

function perCallRing(options: IommuOptions, ring: number, steps: number) {
  const io = createIommu(options);
  let pfn = 0x10000;
  const slots: Array<number | null> = [];
  for (let i = 0; i < ring; i++) slots.push(io.mapSingle(pfn++ * 4096, 1536, "from-device"));
  let h = 0;
  let failed = 0;
  for (let i = 0; i < steps; i++) {
    const d = slots[h];
    if (d !== null) io.unmapSingle(d, 1536);
    slots[h] = io.mapSingle(pfn * 4096, 1536, "from-device");
    if (slots[h] === null) failed++;
    pfn = (pfn + 1) & 0xffffff;
    h = h + 1 === ring ? 0 : h + 1;
  }
  return { io, failed };
}

describe("built-in NIC ring ≡ the same ring through the public API", () => {
  const cases: Array<[string, IommuOptions, number, number]> = [
    ["Calgary 8M, ring 256", { platform: "calgary-pcix" }, 256, 20_000],
    ["Calgary 64K, ring 1000: wraps and blasts", { platform: "calgary-pcix", tableSize: "64K" }, 1000, 30_000],
    ["Calgary 64K, ring 8100: IO space full, failed maps", { platform: "calgary-pcix", tableSize: "64K" }, 8100, 20_000],
    ["CalIOC2 128K, flush never", { platform: "calioc2", tableSize: "128K", flushPolicy: "never" }, 300, 30_000],
    ["Calgary 64K, strict flush (general loop)", { platform: "calgary-pcix", tableSize: "64K", flushPolicy: "strict" }, 500, 20_000],
    ["DART U4 (general loop)", { platform: "dart-u4" }, 256, 20_000],
    ["Calgary 64K, first-fit (general loop)", { platform: "calgary-pcix", tableSize: "64K", allocator: "first-fit" }, 256, 20_000],
  ];
  it.each(cases)("%s", (name, options, ring, steps) => {
    const fast = createNicRing(options, ring);
    const failed = fast.run(steps / 2) + fast.run(steps / 2); // two calls: state carried over
    const slow = perCallRing(options, ring, steps);
    expect(failed).toBe(slow.failed);
    if (name.includes("wraps")) expect(slow.io.stats().flushes).toBeGreaterThan(0);
    if (name.includes("failed")) expect(failed).toBeGreaterThan(0);
    expect(fast.iommu.stats()).toEqual(slow.io.stats());
    expect(fast.iommu.hint()).toBe(slow.io.hint());
    const n = Math.min(fast.iommu.config.entries, 65536);
    for (let e = 0; e < n; e++) {
      if (fast.iommu.entryRaw(e) !== slow.io.entryRaw(e) || fast.iommu.entryInUse(e) !== slow.io.entryInUse(e)) {
        throw new Error(`entry ${e} differs`);
      }
    }
  });
});
