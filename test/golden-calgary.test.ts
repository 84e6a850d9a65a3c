// Golden addresses derived by hand from the 2.6.23 pci-calgary rules
// (../shared/reference/linux-semantics.md §1.3–1.8). Each expectation says how it was derived.
import { describe, expect, it } from "vitest";
import { createIommu } from "../bindings/node.js";

const KiB = 1024;

describe("Calgary PCI-X, 8M table (1 Mi entries), fresh", () => {
  it("follows the worked example: emergency pages, hint walk, legacy hole", () => {
    const io = createIommu({ platform: "calgary-pcix" });
    // entries 0..31 (emergency) and 160..255 (640 KiB–1 MiB) are reserved; hint 0.
    // offset 0x234 + 0x2000 bytes spans 3 pages → entries 32..34 → 0x20000 | 0x234
    expect(io.mapSingle(0x7_0000_0234, 0x2000)).toBe(0x20234);
    expect(io.hint()).toBe(35);
    expect(io.mapSingle(0x7_0000_5000, 0x1000)).toBe(0x23000);
    // unmap frees 32..34 but the hint stays: no flush, no reuse before the wrap
    expect(io.unmapSingle(0x20234, 0x2000)).toBe("ok");
    expect(io.hint()).toBe(36);
    expect(io.stats().flushes).toBe(0);
    // 130 pages from 36 would cover 36..165 and hit 160: restart past the hole at 256
    expect(io.mapSingle(0x8_0000_0000, 130 * 4096)).toBe(0x100000);
    expect(io.hint()).toBe(386);
    expect(io.mapSingle(0x7_0000_9000, 1)).toBe(386 * 4096);
  });

  it("reserves PCI windows through the end of their last MiB", () => {
    // window 0x20000 + 0x1000: ((0x20fff | 0xfffff) + 1 − 0x20000) >> 12 = 224 pages: entries 32..255
    const io = createIommu({ platform: "calgary-pcix", pciWindows: [{ start: 0x20000, bytes: 0x1000 }] });
    expect(io.mapSingle(0x1000, 4096)).toBe(0x100000);
  });
});

describe("Calgary PCI-X, 64K table (8 Ki entries): wrap, flush, full", () => {
  it("wraps with one cache blast, never hands out the last entry, reports IOMMU full", () => {
    const io = createIommu({ platform: "calgary-pcix", tableSize: "64K" });
    expect(io.config.entries).toBe(8192);
    expect(io.mapSingle(0x100000, 3 * 4096)).toBe(0x20000); // 32..34
    expect(io.mapSingle(0x200000, 125 * 4096)).toBe(0x23000); // 35..159, ends at the hole
    // from 160 the first free entry is 256; 256 + 7935 = 8191 < 8192 → fits, leaves entry 8191
    expect(io.mapSingle(0x400000, 7935 * 4096)).toBe(0x100000);
    expect(io.hint()).toBe(8191);
    expect(io.entryInUse(8191)).toBe(false);
    // one page at 8191 would end at 8192 ≥ 8192: fail → blast → retry from 0 → nothing → full
    expect(io.mapSingle(0x300000, 4096)).toBeNull();
    let s = io.stats();
    expect([s.wraps, s.flushes, s.mapFailures]).toEqual([1, 1, 1]);
    // free 32..34; the next map fails from the hint again, blasts again, then reuses 32
    expect(io.unmapSingle(0x20000, 3 * 4096)).toBe("ok");
    expect(io.mapSingle(0x300000, 4096)).toBe(0x20000);
    s = io.stats();
    expect([s.wraps, s.flushes, s.mapFailures]).toEqual([2, 2, 1]);
    expect(io.hint()).toBe(33);
  });
});

describe("table size from RAM, as 2.6.23 sizes it", () => {
  it.each([
    [1024 ** 3, 2 * 1024 * KiB], // 1 GiB: get_order(2^30 >> 13 = 2^17) = 5 → 2M table (256 Ki entries, 1 GiB IO space)
    [2 * 1024 ** 3, 4 * 1024 * KiB], // 2 GiB → order 6 → 4M table
    [Math.round(2.2 * 1024 ** 3), 8 * 1024 * KiB], // just over 2 GiB → order 7 → 8M
    [64 * 1024 ** 3, 8 * 1024 * KiB], // capped at spec 7
    [256 * 1024 ** 2, 512 * KiB], // 256 MiB → order 3 → 512K
  ])("ram %d bytes → %d-byte table", (ramBytes, table) => {
    expect(createIommu({ platform: "calgary-pcix", ramBytes }).config.tableBytes).toBe(table);
  });
});

describe("CalIOC2", () => {
  it("reserves the first 2 MiB (2.6.23): the first map lands at 0x200000", () => {
    const io = createIommu({ platform: "calioc2" });
    expect(io.mapSingle(0x5000, 64)).toBe(0x200000);
  });
});

describe("frees as Linux treats them", () => {
  it("ignores a free below 0x20000 and counts it", () => {
    const io = createIommu({ platform: "calgary-pcix" });
    expect(io.unmapSingle(0x1f000, 4096)).toBe("bad");
    expect(io.stats().badFrees).toBe(1);
    expect(io.stats().tceWrites).toBe(0);
  });

  it("clears the bits of a double free anyway and counts it", () => {
    const io = createIommu({ platform: "calgary-pcix" });
    const dma = io.mapSingle(0x5000, 2 * 4096)!;
    expect(io.unmapSingle(dma, 2 * 4096)).toBe("ok");
    expect(io.unmapSingle(dma, 2 * 4096)).toBe("double");
    const s = io.stats();
    expect(s.doubleFrees).toBe(1);
    expect(s.pagesInUse).toBe(0);
    expect(s.tceWrites).toBe(6); // 2 built + 2 cleared + 2 cleared again
  });

  it("rejects a free past the end of the table as a bad free", () => {
    const io = createIommu({ platform: "calgary-pcix", tableSize: "64K" });
    expect(io.unmapSingle(8191 * 4096, 2 * 4096)).toBe("bad");
  });
});

describe("scatter-gather and coherent buffers", () => {
  it("maps each element separately, keeping each element's offset", () => {
    const io = createIommu({ platform: "calgary-pcix" });
    const dmas = io.mapSg([{ phys: 0x10100, bytes: 2048 }, { phys: 0x30000, bytes: 4097 }, { phys: 0x50ff0, bytes: 32 }]);
    // 1 page at 32, 2 pages at 33..34, 0xff0 + 32 spans 2 pages at 35..36
    expect(dmas).toEqual([0x20100, 0x21000, 0x23ff0]);
    expect(io.unmapSg([{ dma: 0x20100, bytes: 2048 }, { dma: 0x21000, bytes: 4097 }, { dma: 0x23ff0, bytes: 32 }])).toBe("ok");
    expect(io.stats().pagesInUse).toBe(0);
  });

  it("undoes a map_sg that does not fit and leaves nothing mapped", () => {
    const io = createIommu({ platform: "calgary-pcix", tableSize: "64K" });
    const before = io.stats().pagesInUse;
    expect(io.mapSg([{ phys: 0x1000, bytes: 4096 }, { phys: 0x100000, bytes: 9000 * 4096 }])).toBeNull();
    const s = io.stats();
    expect(s.pagesInUse).toBe(before);
    expect(s.mapFailures).toBe(1);
    expect(s.pagesMapped).toBe(0);
    expect(io.entryWord(32)).toBe(0n);
  });

  it("alloc_coherent maps whole pages bidirectionally without IO alignment", () => {
    const io = createIommu({ platform: "calgary-pcix" });
    io.mapSingle(0x1000, 4096); // entry 32
    const buf = io.allocCoherent(3 * KiB * 4)!; // 12 KiB → 3 pages, order 2 physical block
    expect(buf.dma).toBe(33 * 4096);
    expect(buf.phys % (4 * 4096)).toBe(0);
    expect(io.entryWord(33) & 3n).toBe(3n);
    expect(io.freeCoherent(buf.dma, 12 * KiB)).toBe("ok");
  });
});

describe("the other allocators, on a Calgary table", () => {
  it("first-fit reuses a freed range at once (and so never wraps)", () => {
    const io = createIommu({ platform: "calgary-pcix", allocator: "first-fit" });
    expect(io.mapSingle(0x1000, 3 * 4096)).toBe(0x20000); // 32..34
    expect(io.mapSingle(0x9000, 4096)).toBe(0x23000); // 35
    io.unmapSingle(0x20000, 3 * 4096);
    expect(io.mapSingle(0x5000, 4096)).toBe(0x20000); // 32 again; next-fit would say 36
    expect(io.stats().wraps).toBe(0);
  });

  it("free-list hands back the last freed range of the same size, next-fit otherwise", () => {
    const io = createIommu({ platform: "calgary-pcix", allocator: "free-list" });
    expect(io.mapSingle(0x1000, 2 * 4096)).toBe(0x20000); // 32..33 (next-fit)
    expect(io.mapSingle(0x9000, 2 * 4096)).toBe(0x22000); // 34..35
    io.unmapSingle(0x20000, 2 * 4096);
    expect(io.mapSingle(0x5000, 4096)).toBe(0x24000); // no 1-page range freed: next-fit, 36
    expect(io.mapSingle(0x7000, 2 * 4096)).toBe(0x20000); // the freed 2-page range
  });

  it("refuses an unknown allocator", () => {
    expect(() => createIommu({ platform: "calgary-pcix", allocator: "buddy" as never })).toThrow(/allocator: "buddy" .* calgary, ppc2007, first-fit, free-list/);
  });
});
