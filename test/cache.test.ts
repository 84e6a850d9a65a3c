// Device accesses through the translation cache: hit, miss, stale hit, fault; LRU; flush rules.
import { describe, expect, it } from "vitest";
import { createIommu } from "../bindings/node.js";

describe("Calgary TCE cache outcomes", () => {
  it("miss, then hit, then stale after unmap under deferred flush", () => {
    const io = createIommu({ platform: "calgary-pcix" });
    const dma = io.mapSingle(0x5000, 4096, "from-device")!;
    expect(io.deviceAccess(dma, 1500, "write")).toBe("miss");
    expect(io.deviceAccess(dma, 1500, "write")).toBe("hit");
    io.unmapSingle(dma, 4096);
    // the TCE is zero now, but the cache still holds it until the allocator wraps
    expect(io.deviceAccess(dma, 64, "write")).toBe("stale");
    const s = io.stats();
    expect([s.misses, s.hits, s.staleHits, s.faults]).toEqual([1, 1, 1, 0]);
  });

  it("strict flushing closes the window: the same access faults", () => {
    const io = createIommu({ platform: "calgary-pcix", flushPolicy: "strict" });
    const dma = io.mapSingle(0x5000, 4096)!;
    io.deviceAccess(dma, 64, "read");
    io.unmapSingle(dma, 4096);
    expect(io.deviceAccess(dma, 64, "read")).toBe("fault");
    expect(io.stats().flushes).toBe(1);
  });

  it("the wrap's blast also clears stale lines", () => {
    const io = createIommu({ platform: "calgary-pcix", tableSize: "64K" });
    const dma = io.mapSingle(0x5000, 4096)!;
    io.deviceAccess(dma, 64, "read");
    io.unmapSingle(dma, 4096);
    expect(io.mapSingle(0x100000, 8000 * 4096)).toBeNull(); // does not fit: wrap, blast, full
    expect(io.deviceAccess(dma, 64, "read")).toBe("fault");
  });

  it("faults on a write through a to-device TCE and on unmapped pages", () => {
    const io = createIommu({ platform: "calgary-pcix" });
    const dma = io.mapSingle(0x5000, 4096, "to-device")!;
    expect(io.deviceAccess(dma, 8, "read")).toBe("miss");
    expect(io.deviceAccess(dma, 8, "write")).toBe("fault");
    expect(io.deviceAccess(0x7000_0000, 8, "read")).toBe("fault");
  });

  it("a multi-page access reports its worst page and counts every page", () => {
    const io = createIommu({ platform: "calgary-pcix" });
    const dma = io.mapSingle(0x5000, 4096)!;
    expect(io.deviceAccess(dma, 8192, "read")).toBe("fault"); // second page is not mapped
    expect(io.stats().accesses).toBe(2);
  });

  it("evicts the least recently used line of a set", () => {
    const io = createIommu({ platform: "calgary-pcix", cache: { entries: 4, ways: 4 } });
    const d = [0, 1, 2, 3, 4].map((i) => io.mapSingle(0x10000 + i * 4096, 4096)!);
    for (const x of d.slice(0, 4)) io.deviceAccess(x, 8, "read");
    io.deviceAccess(d[0], 8, "read"); // touch the oldest: d[1] becomes LRU
    io.deviceAccess(d[4], 8, "read"); // evicts d[1]
    expect(io.stats().cacheEvictions).toBe(1);
    expect(io.deviceAccess(d[0], 8, "read")).toBe("hit");
    expect(io.deviceAccess(d[1], 8, "read")).toBe("miss");
    expect(io.cacheLines()).toBe(4);
  });

  it("with no cache every access walks the table and nothing is ever stale", () => {
    const io = createIommu({ platform: "calgary-pcix", cache: { entries: 0, ways: 0 } });
    const dma = io.mapSingle(0x5000, 4096)!;
    expect(io.deviceAccess(dma, 8, "read")).toBe("miss");
    io.unmapSingle(dma, 4096);
    expect(io.deviceAccess(dma, 8, "read")).toBe("fault");
  });
});

describe("DART TLB outcomes", () => {
  it("U3: unmap leaves the TLB line: stale until the next map's invalidate-all", () => {
    const io = createIommu({ platform: "dart-u3" });
    const dma = io.mapSingle(0x5000, 4096)!;
    io.deviceAccess(dma, 8, "write");
    io.unmapSingle(dma, 4096);
    expect(io.deviceAccess(dma, 8, "write")).toBe("stale");
    io.mapSingle(0x9000, 4096);
    // freed entries point at the spare page: the DMA is redirected, counted as a fault
    expect(io.deviceAccess(dma, 8, "write")).toBe("fault");
  });

  it("U4: stale until that entry is mapped again", () => {
    const io = createIommu({ platform: "dart-u4" });
    const a = io.mapSingle(0x5000, 4096)!; // entry 0
    io.deviceAccess(a, 8, "read");
    io.unmapSingle(a, 4096);
    io.mapSingle(0x9000, 4096); // entry 1: does not touch entry 0's line
    expect(io.deviceAccess(a, 8, "read")).toBe("stale");
  });
});

describe("never-free unmap", () => {
  it("returns the pages to the allocator but leaves the entry valid until reuse", () => {
    const io = createIommu({ platform: "calgary-pcix", tableSize: "64K" });
    const dma = io.mapSingle(0x5000, 4096)!;
    expect(io.unmapKeep(dma, 4096)).toBe("ok");
    expect(io.entryInUse(dma / 4096)).toBe(false);
    expect(io.entryWord(dma / 4096)).not.toBe(0n);
    expect(io.deviceAccess(dma, 8, "read")).toBe("miss"); // still translates: the exposure
    const s = io.stats();
    expect([s.tceWrites, s.pagesUnmapped, s.pagesInUse, s.staleHits]).toEqual([1, 1, 0, 0]);
  });

  it("counts stale cache lines", () => {
    const io = createIommu({ platform: "calgary-pcix" });
    const a = io.mapSingle(0x5000, 2 * 4096)!;
    io.deviceAccess(a, 8192, "read");
    expect(io.staleLines()).toBe(0);
    io.unmapSingle(a, 2 * 4096);
    expect(io.staleLines()).toBe(2);
  });
});
