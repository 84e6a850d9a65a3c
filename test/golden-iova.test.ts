// Golden addresses for the Linux IOVA allocator, derived by hand from drivers/iommu/iova.c
// (../shared/reference/linux-semantics.md §6), on a Calgary PCI-X 64K table: 8192 entries,
// limit pfn 8192 (exclusive), nodes reserved over 0..31 and 160..255, the anchor above all.
import { describe, expect, it } from "vitest";
import { createIommu, createReferenceIommu, type Iommu, type IommuOptions } from "../bindings/node.js";

const PAGE = 4096;
const both = (o: IommuOptions): Iommu[] => [createIommu(o), createReferenceIommu(o)];

describe.each(["wasm", "reference"] as const)("IOVA allocator (%s)", (which) => {
  const make = (o: Omit<IommuOptions, "platform" | "tableSize">) => both({ platform: "calgary-pcix", tableSize: "64K", ...o })[which === "wasm" ? 0 : 1];

  it("allocates top-down, rounds sizes below 32 pages to a power of two and aligns to it (plain tree)", () => {
    const io = make({ allocator: "iova-tree" });
    // from the anchor: high = 8192, 1 page → 8191; the node below (160..255) leaves room
    expect(io.mapSingle(0x100000, PAGE)).toBe(8191 * PAGE);
    // 3 pages → size 4, aligned 4: high = lo(8191) = 8191 → (8191 − 4) & ~3 = 8184
    expect(io.mapSingle(0x200000, 3 * PAGE)).toBe(8184 * PAGE);
    expect(io.mapSingle(0x300000, PAGE)).toBe(8183 * PAGE);
    // 17 pages → size 32, aligned 32: (8183 − 32) & ~31 = 8128
    expect(io.mapSingle(0x400000, 17 * PAGE)).toBe(8128 * PAGE);
    // freeing 8184..8187 (at or above the cached node 8128) moves the cached node to the next, 8191
    expect(io.unmapSingle(8184 * PAGE, 3 * PAGE)).toBe("ok");
    // so the walk starts at 8191 again: 8190 fits above 8183
    expect(io.mapSingle(0x500000, PAGE)).toBe(8190 * PAGE);
    expect(io.allocatorState().treeNodes).toBe(2 + 4); // reserved 0..31, 160..255 + 8191, 8190, 8183, 8128
  });

  it("serves frees back from the per-CPU magazines without touching the tree", () => {
    const io = make({ allocator: "iova", cpus: 2 });
    expect(io.mapSingle(0x100000, PAGE)).toBe(8191 * PAGE);
    expect(io.mapSingle(0x200000, 3 * PAGE)).toBe(8184 * PAGE);
    expect(io.mapSingle(0x300000, PAGE)).toBe(8183 * PAGE);
    expect(io.mapSingle(0x400000, 17 * PAGE)).toBe(8128 * PAGE);
    // 3 pages go to the 4-page class of CPU 0; the node stays, so does the cached node (8128)
    expect(io.unmapSingle(8184 * PAGE, 3 * PAGE)).toBe("ok");
    expect(io.allocatorState().cachedPfns).toBe(1);
    // 1 page: that class is empty → the tree, below 8128
    expect(io.mapSingle(0x500000, PAGE)).toBe(8127 * PAGE);
    // 4 pages: the magazine's pfn
    expect(io.mapSingle(0x600000, 4 * PAGE)).toBe(8184 * PAGE);
    expect(io.stats().rcacheHits).toBe(1);
    // CPU 1 frees 8183 into its own magazine; CPU 0 does not see it and walks the tree
    io.setCpu(1);
    expect(io.unmapSingle(8183 * PAGE, PAGE)).toBe("ok");
    io.setCpu(0);
    expect(io.mapSingle(0x700000, PAGE)).toBe(8126 * PAGE);
    io.setCpu(1);
    expect(io.mapSingle(0x800000, PAGE)).toBe(8183 * PAGE);
    expect(() => io.setCpu(2)).toThrow(/cpu.*2.*from 0 to 1/);
  });

  it("fails a size fast after it failed once, until something is freed (max32_alloc_size)", () => {
    const io = make({ allocator: "iova-tree" });
    // 8192 pages, aligned 8192: (8192 − 8192) = 0 < start_pfn 1 → fail; retry not possible (anchor)
    expect(io.mapSingle(0x100000, 8192 * PAGE)).toBeNull();
    const visited = io.stats().nodesVisited;
    expect(io.mapSingle(0x100000, 8192 * PAGE)).toBeNull();
    expect(io.stats().nodesVisited).toBe(visited); // failed before the walk
    // 4096 pages, aligned 4096: first = 4096, above the reserved node 160..255
    expect(io.mapSingle(0x100000, 4096 * PAGE)).toBe(4096 * PAGE);
    expect(io.mapSingle(0x100000, 2048 * PAGE)).toBe(2048 * PAGE);
    expect(io.unmapSingle(2048 * PAGE, 2048 * PAGE)).toBe("ok");
    expect(io.stats().mapFailures).toBe(2);
  });

  it("fills magazines, pushes full ones to the depot, and the delayed work trims it to one per CPU", () => {
    const io = make({ allocator: "iova" });
    const dmas: number[] = [];
    for (let i = 0; i < 400; i++) dmas.push(io.mapSingle(0x100000 + i * PAGE, PAGE)!);
    expect(dmas[0]).toBe(8191 * PAGE);
    expect(dmas[399]).toBe((8191 - 399) * PAGE);
    for (const d of dmas) io.unmapSingle(d, PAGE);
    // loaded 127 → swapped to prev; 127 more → both full: loaded to the depot (1), a new one;
    // again at 381 (depot 2); 19 left in loaded
    let s = io.allocatorState();
    expect(s.cachedPfns).toBe(400);
    expect(s.magazines).toBe(12 + 2);
    expect(io.depotWork()).toBe(1); // depot 2 > 1 CPU: one magazine (127 pfns) back to the tree
    expect(io.depotWork()).toBe(0);
    s = io.allocatorState();
    expect(s.cachedPfns).toBe(273);
    expect(s.magazines).toBe(13);
    expect(s.treeNodes).toBe(2 + 400 - 127);
    // the loaded magazine is popped from its top: the last pfn freed comes back first
    expect(io.mapSingle(0x100000, PAGE)).toBe(dmas[399]);
  });
});

describe.each(["wasm", "reference"] as const)("flush queue, dma-iommu lazy mode (%s)", (which) => {
  const make = (o: Omit<IommuOptions, "platform" | "tableSize">) => both({ platform: "calgary-pcix", tableSize: "64K", flushPolicy: "flush-queue", ...o })[which === "wasm" ? 0 : 1];

  it("queues unmapped pages until a flush has completed, flushing when a CPU's 255 slots are full", () => {
    const io = make({ allocator: "iova" });
    const dmas: number[] = [];
    for (let i = 0; i < 300; i++) dmas.push(io.mapSingle(0x100000 + i * PAGE, PAGE)!);
    expect(io.deviceAccess(dmas[0], 64, "read")).toBe("miss");
    expect(io.unmapSingle(dmas[0], PAGE)).toBe("ok");
    // the entry is cleared but the cache still holds it: the device reaches the freed page
    expect(io.deviceAccess(dmas[0], 64, "read")).toBe("stale");
    let s = io.stats();
    expect([s.pagesQueued, s.pagesInUse, s.flushes]).toEqual([1, 300, 0]);
    // the page cannot be handed out again before a flush: a new map gets a new page
    const fresh = io.mapSingle(0x900000, PAGE)!;
    expect(fresh).toBe((8191 - 300) * PAGE);
    io.unmapSingle(fresh, PAGE);
    for (let i = 1; i < 254; i++) io.unmapSingle(dmas[i], PAGE);
    s = io.stats();
    expect([s.pagesQueued, s.flushes]).toEqual([255, 0]); // 255 slots used: full
    // the 256th unmap: nothing has been flushed → flush (start 1, finish 1), free all 255, queue it
    io.unmapSingle(dmas[254], PAGE);
    s = io.stats();
    expect([s.pagesQueued, s.flushes, s.pagesInUse]).toEqual([1, 1, 301 - 255]);
    expect(io.deviceAccess(dmas[0], 64, "read")).toBe("fault"); // flushed: blocked now
    // the timer: flush again and free what is ready
    expect(io.flushQueueTimer()).toBe(true);
    expect(io.flushQueueTimer()).toBe(false); // nothing queued since: not armed
    s = io.stats();
    expect([s.pagesQueued, s.flushes, s.pagesInUse]).toEqual([0, 2, 301 - 256]);
  });

  it("keeps one queue per CPU and counts a double unmap when the queue frees it", () => {
    const io = make({ allocator: "calgary", cpus: 2 });
    const a = io.mapSingle(0x100000, PAGE)!;
    expect(io.unmapSingle(a, PAGE)).toBe("ok");
    io.setCpu(1);
    expect(io.unmapSingle(a, PAGE)).toBe("ok"); // queued again, on CPU 1: Linux does not notice
    expect(io.stats().pagesQueued).toBe(2);
    expect(io.flushQueueTimer()).toBe(true);
    const s = io.stats();
    expect([s.pagesQueued, s.doubleFrees, s.pagesInUse]).toEqual([0, 1, 0]);
  });
});

// iommu_dma_map_sg / iommu_dma_unmap_sg (drivers/iommu/dma-iommu.c): the list's lengths, each
// padded to whole IO pages with its offset (and the previous one to the segment boundary when an
// element would cross it), summed into ONE IOVA allocation; element i at base + the padded lengths
// before it + its offset; unmap_sg frees that one range. Hand-derived on the Calgary 64K table.
describe.each(["wasm", "reference"] as const)("map_sg under the IOVA allocators, as dma-iommu (%s)", (which) => {
  const make = (o: Omit<IommuOptions, "platform" | "tableSize">) => both({ platform: "calgary-pcix", tableSize: "64K", ...o })[which === "wasm" ? 0 : 1];

  it("the issue's list: one 2-page range at 8190 (2 pages, aligned 2), elements in list order", () => {
    const io = make({ allocator: "iova", flushPolicy: "strict" });
    const dmas = io.mapSg([{ phys: 0x40000000, bytes: 4096 }, { phys: 0x40001000, bytes: 4096 }], "to-device")!;
    expect(dmas).toEqual([0x1ffe000, 0x1fff000]);
    expect(io.stats().rangesAllocated).toBe(1);
    expect(io.entryWord(8190)).toBe(0x40000001n); // to-device: R only
    expect(io.entryWord(8191)).toBe(0x40001001n);
    expect(io.unmapSg(dmas.map((dma) => ({ dma, bytes: 4096 })))).toBe("ok");
    const s = io.stats();
    expect([s.flushes, s.pagesInUse, s.unmapSgs]).toEqual([1, 0, 1]); // one range, one flush
  });

  it("offsets: 3 + 1 + 2 pages → one 6-page range, rounded to 8 and aligned 8: base 8184", () => {
    const io = make({ allocator: "iova-tree" });
    // 0x1234 + 0x2000 spans 3 pages; 0x50000 + 100 one; 0x7ff0 + 0x20 two
    const segs = [{ phys: 0x1234, bytes: 0x2000 }, { phys: 0x50000, bytes: 100 }, { phys: 0x7ff0, bytes: 0x20 }];
    const dmas = io.mapSg(segs)!;
    expect(dmas).toEqual([8184 * PAGE + 0x234, 8187 * PAGE, 8188 * PAGE + 0xff0]);
    expect(io.stats().pagesInUse).toBe(6);
    expect(io.allocatorState().treeNodes).toBe(2 + 1);
    // unmap_sg: from 0x1ff8234 to the end of the last element, 0x1ffd010: pages 8184 … 8189
    expect(io.unmapSg(dmas.map((dma, k) => ({ dma, bytes: segs[k].bytes })))).toBe("ok");
    expect(io.stats().pagesInUse).toBe(0);
    expect(io.allocatorState().treeNodes).toBe(2);
  });

  it("segment boundary of 8 pages: a 6-page element that would cross it starts on the next boundary", () => {
    const io = make({ allocator: "iova-tree", segmentBoundary: 8 * PAGE });
    // 4 pages at 0; pad (8 − 4) = 4 < 6 → the second at 8; 14 pages → 16, aligned 16: base 8176
    const dmas = io.mapSg([{ phys: 0x100000, bytes: 4 * PAGE }, { phys: 0x200000, bytes: 6 * PAGE }])!;
    expect(dmas).toEqual([8176 * PAGE, 8184 * PAGE]);
    expect(io.stats().pagesInUse).toBe(14);
    // 2 then 3 pages: the pad (6) is not below 3 → no padding; 5 → 8, aligned 8: base 8184
    const io2 = make({ allocator: "iova-tree", segmentBoundary: 8 * PAGE });
    expect(io2.mapSg([{ phys: 0x100000, bytes: 2 * PAGE }, { phys: 0x200000, bytes: 3 * PAGE }])).toEqual([8184 * PAGE, 8186 * PAGE]);
  });

  it("a list that does not fit maps nothing: one failure, no unwinding", () => {
    const io = make({ allocator: "iova" });
    expect(io.mapSg([{ phys: 0x1000, bytes: 4000 * PAGE }, { phys: 0x1000000, bytes: 4200 * PAGE }])).toBeNull();
    const s = io.stats();
    expect([s.mapFailures, s.pagesInUse, s.pagesMapped, s.tceWrites]).toEqual([1, 0, 0, 0]);
  });
});
