// Golden addresses for DART with the 2.6.18 PowerPC allocator
// (../shared/reference/linux-semantics.md §3, §4.2): 524288 entries, halfpoint 393216,
// entry 0 not reserved, the last entry reserved, small ≤ 15 pages below 3/4, large above.
import { describe, expect, it } from "vitest";
import { createIommu, createReferenceIommu } from "../bindings/node.js";
import { DIR, putMapSg } from "../bindings/records.js";
import { parseTrace } from "../bindings/trace/parse.js";
import { replayTrace } from "../bindings/trace/replay.js";

const HALF = 393216;

describe.each(["dart-u3", "dart-u4"] as const)("%s allocator", (platform) => {
  it("hands out IO address 0 first, large allocations from the 3/4 point", () => {
    const io = createIommu({ platform });
    expect(io.config.entries).toBe(524288);
    expect(io.entryInUse(524287)).toBe(true);
    expect(io.mapSingle(0x1000000, 4096)).toBe(0x0);
    expect(io.mapSingle(0x2000010, 16 * 4096)).toBe(HALF * 4096 + 0x10); // 17 pages: large
    expect(io.mapSingle(0x3000000, 15 * 4096)).toBe(0x1000); // 15 pages: still small
  });

  it("aligns alloc_coherent to its order in IO space", () => {
    const io = createIommu({ platform });
    io.mapSingle(0x1000000, 4096); // entry 0, hint 1
    expect(io.allocCoherent(12288)!.dma).toBe(0x4000); // 3 pages, order 2 → aligned to 4 entries
    expect(io.hint()).toBe(7);
  });

  it("uses the previous element's end as the next element's start in map_sg", () => {
    const io = createIommu({ platform });
    io.mapSingle(0x1000000, 4096); // entry 0
    io.unmapSingle(0, 4096); // hint stays 1
    expect(io.mapSg([{ phys: 0x5000, bytes: 4096 }, { phys: 0x9000, bytes: 20 * 4096 }, { phys: 0x7000, bytes: 10 }]))
      // 1 page at 1 (hint → 2); 20 pages are large: handle 2 < halfpoint → start = halfpoint;
      // the third is small with handle HALF + 20 ≥ its limit (halfpoint) → start = it_hint = 2
      .toEqual([0x1000, HALF * 4096, 0x2000]);
  });

  it("restarts small allocations in three passes when the low 3/4 fills", () => {
    const small = createIommu({ platform });
    let n = 0;
    while (small.mapSingle(0x100000, 15 * 4096) !== null && small.hint() < HALF - 15) n++;
    expect(small.hint()).toBe(HALF - 6); // 26214 × 15 = 393210
    const w = small.stats().wraps;
    // 15 pages at 393210 would end at 393225 ≥ 393216: pass 1 from 0 (no room), pass 2 from the halfpoint
    expect(small.mapSingle(0x100000, 15 * 4096)).toBe(HALF * 4096);
    expect(small.stats().wraps - w).toBe(2);
    expect(n).toBeGreaterThan(0);
  });
});

describe("DART flush rules", () => {
  it("U3 invalidates the whole TLB once per map call, never on unmap", () => {
    const io = createIommu({ platform: "dart-u3" });
    const a = io.mapSingle(0x1000, 3 * 4096)!;
    io.mapSg([{ phys: 0x9000, bytes: 100 }, { phys: 0xa000, bytes: 100 }]);
    io.unmapSingle(a, 3 * 4096);
    const s = io.stats();
    expect(s.flushes).toBe(2);
    expect(s.entryInvalidations).toBe(0);
  });

  it("U4 invalidates one entry per mapped page and never the whole TLB", () => {
    const io = createIommu({ platform: "dart-u4" });
    const a = io.mapSingle(0x1000, 3 * 4096)!;
    io.unmapSingle(a, 3 * 4096);
    io.allocCoherent(8192);
    const s = io.stats();
    expect(s.flushes).toBe(0);
    expect(s.entryInvalidations).toBe(5);
  });
});

// ppc64's buddy allocator hands out orders up to 12 (CONFIG_FORCE_MAX_ZONEORDER 13) and
// iommu_alloc_coherent refuses order ≥ IOMAP_MAX_ORDER (13): 16 MiB is the largest coherent
// buffer on DART; x86-64 (Calgary) stops at order 10, 4 MiB.
describe.each([["wasm", createIommu], ["reference", createReferenceIommu]] as const)("coherent buffers up to order 12 on DART (%s)", (_, make) => {
  it("maps 6 000 000 bytes (1465 pages, order 11, aligned 2048) at the 3/4 point, 0x60000000", () => {
    const io = make({ platform: "dart-u3" });
    expect(io.allocCoherent(6_000_000)).toEqual({ dma: 0x60000000, phys: 0x100000 * 4096 });
    // 16 MiB, order 12: from the large hint 393216 + 1465, aligned up to 4096 pages: 397312
    expect(io.allocCoherent(16 << 20)).toEqual({ dma: 397312 * 4096, phys: 0x101000 * 4096 });
    // one byte more is order 13: refused, and nothing moves (the next buffer takes the next pages)
    expect(io.allocCoherent((16 << 20) + 1)).toBeNull();
    expect(io.allocCoherent(4096)).toEqual({ dma: 0, phys: 0x102000 * 4096 });
    expect(io.stats().mapFailures).toBe(1);
    // Calgary (x86-64) keeps order 10
    expect(make({ platform: "calgary-pcix" }).allocCoherent(6_000_000)).toBeNull();
    expect(make({ platform: "calgary-pcix" }).allocCoherent(4 << 20)).not.toBeNull();
  });

  it("a trace goes on exactly after a refused allocation", () => {
    const trace = parseTrace("alloc c 6000000\nalloc big 17000000\nalloc d 4096\nmap m 7000 4096 to-device\nfree c\nalloc e 6000000\n");
    const r = replayTrace(trace, (s) => make({ platform: "dart-u3", ...s }));
    expect(r.addresses.map((a) => `${a.id} ${a.dma === null ? "error" : a.dma.map((d) => d.toString(16)).join(" ")}`))
      .toEqual(["c 60000000", "big error", "d 0", "m 1000", "e 60800000"]);
  });
});

// ppc_iommu_map_sg with virtual merging (CONFIG_IOMMU_VMERGE, g5_defconfig): the allocations stay
// one per element, chained by the hint; an element whose DMA address is the previous one's end
// joins its DMA segment, so the call returns fewer segments.
describe.each([["wasm", createIommu], ["reference", createReferenceIommu]] as const)("map_sg virtual merging on DART (%s)", (_, make) => {
  const list = [{ phys: 0x1000, bytes: 4096 }, { phys: 0x2000, bytes: 4096 }, { phys: 0x5000, bytes: 100 }, { phys: 0x9010, bytes: 100 }];

  it.each([[false, 4], [true, 2]] as const)("vmerge %s: %d DMA segments, the same entries", (vmerge, segments) => {
    const io = make({ platform: "dart-u3", vmerge, maxHandles: 8 });
    putMapSg(io.batch.ops, 0, 0, list, DIR.toDevice);
    io.batch.run(5);
    // entries 0, 1, 2, 3 (dma 0x0, 0x1000, 0x2000, 0x3010): 0x1000 = 0 + 4096 and 0x2000 = 0x1000 + 4096 merge,
    // 0x3010 ≠ 0x2000 + 100 starts a new segment
    expect(Array.from(io.batch.results.subarray(0, 5))).toEqual([segments, 0, 1, 2, 3]);
    expect(io.mapSg(list)).toEqual([0x4000, 0x5000, 0x6000, 0x7010]);
  });

  it("is DART's alone, and off by default", () => {
    expect(make({ platform: "dart-u4" }).config.vmerge).toBe(false);
    expect(() => make({ platform: "calgary-pcix", vmerge: true })).toThrow(/vmerge: true is not allowed; expected false on calgary-pcix/);
    expect(() => make({ platform: "dart-u3", allocator: "iova", vmerge: true })).toThrow(/vmerge: true .* iova allocators/);
    expect(() => make({ platform: "dart-u3", vmerge: "yes" as never })).toThrow(/vmerge: "yes" .* true or false/);
  });
});
