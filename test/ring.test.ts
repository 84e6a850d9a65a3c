// The built-in NIC ring (assembly/ring.ts) keeps its steady state in locals; it must leave the
// core exactly as the same ring driven one public call at a time does: counters, hint, table.
import { describe, expect, it } from "vitest";
import { createIommu, createNicRing, createReferenceIommu, DIR, putAccess, putMap, putUnmap, type IommuOptions } from "../bindings/node.js";

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

describe("the batch's fast lane (one-page maps and unmaps in locals) ≡ the reference batch interpreter", () => {
  // A NIC ring as batch records, with the records that must leave the lane mixed in: wraps and
  // blasts (64K table), a full IO space, double and unknown unmaps, multi-page and misaligned
  // buffers, page numbers an entry cannot hold, a bad direction, garbage, accesses.
  function ringRecords(ops: Uint32Array, ring: number, steps: number, seed: number): number {
    let s = seed;
    const rnd = (n: number) => {
      s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
      return s % n;
    };
    let n = 0;
    for (let i = 0; i < steps; i++) {
      const h = i % ring;
      const r = rnd(100);
      if (r < 3) n = putUnmap(ops, n, rnd(ring + 4)); // a double or unknown unmap (or a handle out of range)
      else if (r < 5) n = putMap(ops, n, h, (0x10000 + i) * 4096 + rnd(4096), 1 + rnd(9000), DIR.toDevice); // may span pages
      else if (r < 6) n = putMap(ops, n, h, 2 ** 50, 100, DIR.fromDevice); // an entry cannot hold it
      else if (r < 7) n = putAccess(ops, n, h, 0, 64, true);
      else if (r < 8) {
        ops.set([rnd(2 ** 32), rnd(ring), rnd(2 ** 32), rnd(2 ** 32)], n * 4);
        n++;
      } else {
        n = putUnmap(ops, n, h);
        n = putMap(ops, n, h, ((0x10000 + i * 7) % 0xffffff) * 4096 + (r < 20 ? 64 : 0), 1536, DIR.fromDevice);
      }
    }
    return n;
  }
  it.each([
    ["Calgary 64K, ring 1000", { platform: "calgary-pcix", tableSize: "64K" }, 1000],
    ["Calgary 64K, ring 8100 (full)", { platform: "calgary-pcix", tableSize: "64K" }, 8100],
    ["Calgary 8M, ring 256", { platform: "calgary-pcix" }, 256],
    ["CalIOC2 128K, flush never", { platform: "calioc2", tableSize: "128K", flushPolicy: "never" }, 300],
  ] as Array<[string, IommuOptions, number]>)("%s", (_, options, ring) => {
    const o = { ...options, maxHandles: ring + 2, batchCapacity: 4096 };
    const models = [createIommu(o), createReferenceIommu(o)];
    const outs = models.map((m) => {
      const results: number[] = [];
      for (let round = 0; round < 12; round++) {
        const n = ringRecords(m.batch.ops, ring, 1800, 1 + round);
        m.batch.run(n);
        results.push(...m.batch.results.subarray(0, n));
      }
      return { results, stats: m.stats(), hint: m.hint() };
    });
    expect(outs[0]).toEqual(outs[1]);
    expect(outs[0].stats.maps).toBeGreaterThan(1000);
    if (ring === 1000) expect(outs[0].stats.flushes).toBeGreaterThan(0);
    if (ring === 8100) expect(outs[0].stats.mapFailures).toBeGreaterThan(0);
  });
});
