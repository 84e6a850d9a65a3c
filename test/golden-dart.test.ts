// Golden addresses for DART with the 2.6.18 PowerPC allocator
// (../shared/reference/linux-semantics.md §3, §4.2): 524288 entries, halfpoint 393216,
// entry 0 not reserved, the last entry reserved, small ≤ 15 pages below 3/4, large above.
import { describe, expect, it } from "vitest";
import { createIommu } from "../bindings/node.js";

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
