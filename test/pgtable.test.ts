// Golden values for the multi-level page tables, derived by hand from the specifications and the
// Linux drivers (assembly/pgtable/vtd.ts, amd.ts, lpae.ts draw the layouts), checked in the WASM
// core and the reference model alike. Table i of the pool sits at physical 0x80000000 + i·4 KiB;
// the root is table 0, so on a fresh table the first walk's tables are 1, 2, 3 … top down.
//
// The IO addresses are dma-iommu's: on a 64K table (8192 pages) the IOVA allocator hands out the
// highest free range below the limit, aligned to its size rounded to a power of two: the first
// page is 0x1fff (DMA 0x1fff000); a 512-page buffer after it gets [0x1c00, 0x1e00), 2 MiB aligned.
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  createIommu, createPricedSimulation, createReferenceIommu, createSimulation, parseTrace, replayThroughSimulation,
  type Iommu, type IommuOptions, type SimulationOptions,
} from "../bindings/node.js";

const PAGE = 0x1fff;
const BIG = 0x1c00;
const MODELS = [["WASM", createIommu], ["reference", createReferenceIommu]] as const;

/** The raw entries on the walk of `page`, root first. */
const walk = (io: Iommu, page: number, levels: number) => Array.from({ length: levels }, (_, i) => io.pageTableEntry(page, levels - i));

describe.each(MODELS)("page-table entries, bit for bit (%s)", (_, make) => {
  const open = (o: Omit<IommuOptions, "tableSize">) => make({ tableSize: "64K", ...o } as IommuOptions);

  it("VT-d second level, 4 levels: table entries = next table | R | W; a leaf = page | R (to-device) / W (from-device)", () => {
    const io = open({ platform: "vtd" });
    expect(io.mapSingle(0x12345000, 4096, "bidirectional")).toBe(PAGE * 4096);
    // levels 4, 3, 2 point at tables 1, 2, 3: (0x80000 + i) << 12 | R (bit 0) | W (bit 1); the leaf R | W
    expect(walk(io, PAGE, 4)).toEqual([0x80001003n, 0x80002003n, 0x80003003n, 0x12345003n]);
    expect(io.entryRaw(PAGE)).toBe(0x12345003n); // little-endian: the stored bytes read back as the word
    expect(io.mapSingle(0x2000, 100, "to-device")).toBe((PAGE - 1) * 4096);
    expect(io.pageTableEntry(PAGE - 1, 1)).toBe(0x2001n); // R only
    expect(io.mapSingle(0x3000, 100, "from-device")).toBe((PAGE - 2) * 4096);
    expect(io.pageTableEntry(PAGE - 2, 1)).toBe(0x3002n); // W only: dma-iommu maps from-device write-only
    const s = io.stats();
    expect([s.ptTablesAllocated, s.ptWrites]).toEqual([4, 6]); // root + 3 tables; 3 table entries + 3 leaves
  });

  it("VT-d first level (scalable mode): x86-64 entries — table = next | P | RW | US | A; leaf = page | P | US | A, + RW | D when writable", () => {
    const io = open({ platform: "vtd", pageTableFormat: "first-level" });
    io.mapSingle(0x12345000, 4096, "bidirectional");
    // P 0x1 | RW 0x2 | US 0x4 | A 0x20 = 0x27; a writable leaf adds D 0x40: 0x67
    expect(walk(io, PAGE, 4)).toEqual([0x80001027n, 0x80002027n, 0x80003027n, 0x12345067n]);
    io.mapSingle(0x2000, 1, "to-device");
    io.mapSingle(0x3000, 1, "from-device");
    expect(io.pageTableEntry(PAGE - 1, 1)).toBe(0x2025n); // read-only: P | US | A
    expect(io.pageTableEntry(PAGE - 2, 1)).toBe(0x3067n); // P makes it readable too: no write-only
    expect(io.mapSingle(0x40000000, 2 << 20, "bidirectional")).toBe(BIG * 4096);
    expect(io.pageTableEntry(BIG, 2)).toBe(0x400000e7n); // + PS 0x80
    expect(io.deviceAccess((PAGE - 2) * 4096, 64, "read")).toBe("miss");
    expect(io.deviceAccess((PAGE - 1) * 4096, 64, "write")).toBe("fault");
  });

  it("VT-d with 5 levels: one more table above, the same leaf", () => {
    const io = open({ platform: "vtd", pageTableLevels: 5 });
    io.mapSingle(0x12345000, 4096, "bidirectional");
    expect(walk(io, PAGE, 5)).toEqual([0x80001003n, 0x80002003n, 0x80003003n, 0x80004003n, 0x12345003n]);
  });

  it("AMD-Vi v1, 3 levels: PDE = next table | Next Level (the level below) << 9 | PR | IR | IW; leaf = page | PR | FC | IR / IW", () => {
    const io = open({ platform: "amd-vi" });
    io.mapSingle(0x12345000, 4096, "bidirectional");
    // level 3 entry: NL 2 (0x400), level 2 entry: NL 1 (0x200); IR bit 61 | IW bit 62 = 0x6000…; PR bit 0
    // leaf: NL 0, FC bit 60 | IR | IW = 0x7000…
    expect(walk(io, PAGE, 3)).toEqual([0x6000000080001401n, 0x6000000080002201n, 0x7000000012345001n]);
    io.mapSingle(0x2000, 1, "to-device");
    io.mapSingle(0x3000, 1, "from-device");
    expect(io.pageTableEntry(PAGE - 1, 1)).toBe(0x3000000000002001n); // FC | IR | PR
    expect(io.pageTableEntry(PAGE - 2, 1)).toBe(0x5000000000003001n); // FC | IW | PR
  });

  it("SMMUv3 stage 1 (LPAE, 4 KiB granule, 48-bit input: 4 levels): table = next | 0b11; page = address | nG | AF | SH inner | AP[1] | AttrIndx 1 | 0b11", () => {
    const io = open({ platform: "smmuv3" });
    io.mapSingle(0x12345000, 4096, "bidirectional");
    // nG 0x800 | AF 0x400 | SH 0x300 | AP[1] 0x40 | AttrIndx 1 << 2 = 0x4 | page 0b11 = 0xf47
    expect(walk(io, PAGE, 4)).toEqual([0x80001003n, 0x80002003n, 0x80003003n, 0x12345f47n]);
    io.mapSingle(0x2000, 1, "to-device");
    io.mapSingle(0x3000, 1, "from-device");
    expect(io.pageTableEntry(PAGE - 1, 1)).toBe(0x2fc7n); // + AP[2] read-only 0x80
    expect(io.pageTableEntry(PAGE - 2, 1)).toBe(0x3f47n); // stage 1 has no write-only: read-write
  });
});

describe.each(MODELS)("large pages: where iommu_map makes them (%s)", (_, make) => {
  const open = (platform: IommuOptions["platform"]) => make({ platform, tableSize: "64K" });

  it.each([
    ["vtd", 0x40000083n, 0x40000081n], // page | PS (bit 7) | R | W; to-device: R only
    ["amd-vi", 0x7000000040000001n, 0x3000000040000001n], // a level-2 leaf has Next Level 0
    ["smmuv3", 0x40000f45n, 0x40000fc5n], // a level-2 block: bits 1:0 = 0b01
  ] as const)("%s: a 2 MiB buffer at a 2 MiB-aligned IO and physical address is one level-2 leaf", (platform, bidi, toDevice) => {
    const io = open(platform);
    io.mapSingle(0x12345000, 4096, "bidirectional"); // page 0x1fff: the tables down to level 1
    const before = io.stats();
    expect(io.mapSingle(0x40000000, 2 << 20, "bidirectional")).toBe(BIG * 4096);
    expect(io.pageTableEntry(BIG, 2)).toBe(bidi);
    expect(io.pageTableEntry(BIG + 7, 1)).toBe(0n); // the walk ends at level 2
    expect(io.entryWord(BIG + 7)).toBe(bidi); // the leaf translating the page
    const after = io.stats();
    // the level-2 table exists already (page 0x1fff shares it): one entry written, no table allocated
    expect([after.ptWrites - before.ptWrites, after.ptTablesAllocated - before.ptTablesAllocated, after.largePages]).toEqual([1, 0, 1]);
    const io2 = open(platform);
    io2.mapSingle(0x40000000, 2 << 20, "to-device");
    expect(io2.pageTableEntry(0x1e00, 2)).toBe(toDevice); // first range on a fresh table: [0x1e00, 0x2000)
  });

  it.each(["vtd", "amd-vi", "smmuv3"] as const)("%s: physically misaligned by a page, the same buffer takes 512 leaves in a new table", (platform) => {
    const io = open(platform);
    expect(io.mapSingle(0x40001000, 2 << 20, "bidirectional")).toBe(0x1e00 * 4096);
    const s = io.stats();
    const levels = platform === "amd-vi" ? 3 : 4;
    // tables below the root: levels − 1; entries: levels − 1 table entries + 512 leaves
    expect([s.ptTablesAllocated, s.ptWrites, s.largePages]).toEqual([levels, levels - 1 + 512, 0]);
  });

  it.each([
    ["vtd", 1, 1], // dma_pte_clear_level: the range covers the leaf table's span: free it, clear its entry
    ["smmuv3", 1, 1], // __arm_lpae_unmap at the 2 MiB block size finds a table: free it, clear its entry
    ["amd-vi", 0, 512], // iommu_v1_unmap_pages clears the 512 leaves and keeps the table
  ] as const)("%s: unmapping those 512 pages frees %i table(s) and writes %i entries", (platform, freed, writes) => {
    const io = open(platform);
    const dma = io.mapSingle(0x40001000, 2 << 20, "bidirectional")!;
    const before = io.stats();
    io.unmapSingle(dma, 2 << 20);
    const after = io.stats();
    expect([after.ptTablesFreed - before.ptTablesFreed, after.ptWrites - before.ptWrites]).toEqual([freed, writes]);
    expect(io.entryWord(0x1e00 + 3)).toBe(0n);
  });
});

describe.each(MODELS)("map_sg: physically contiguous elements are one iommu_map call (%s)", (_, make) => {
  it("two 1 MiB elements, contiguous and 2 MiB-aligned: one 2 MiB leaf over both; apart: 512 leaves", () => {
    const io = make({ platform: "vtd", tableSize: "64K" });
    const [a, b] = io.mapSg([{ phys: 0x40000000, bytes: 1 << 20 }, { phys: 0x40100000, bytes: 1 << 20 }], "bidirectional")!;
    expect([a, b]).toEqual([0x1e00 * 4096, 0x1f00 * 4096]);
    expect(io.pageTableEntry(0x1e00, 2)).toBe(0x40000083n);
    expect(io.stats().largePages).toBe(1);
    const apart = make({ platform: "vtd", tableSize: "64K" });
    apart.mapSg([{ phys: 0x40000000, bytes: 1 << 20 }, { phys: 0x40200000, bytes: 1 << 20 }], "bidirectional");
    expect(apart.stats().largePages).toBe(0);
    expect(apart.pageTableEntry(0x1f00, 1)).toBe(0x40200003n);
  });
});

describe.each(MODELS)("AMD-Vi v1 pages between the natural sizes: replicated Next-Level-7 entries (%s)", (_, make) => {
  // AMD_IOMMU_PGSIZES offers every power of two from 4 KiB: iommu_map gives a range aligned to
  // 2^k pages (IO and physical) one 2^k-page page. PAGE_SIZE_PTE(addr, size) sets address bits
  // 12 … log2(size) − 2 and clears bit log2(size) − 1; Next Level 7 (0xe00); PR | FC | IR | IW.
  it("8 pages (32 KiB) at a 32 KiB-aligned address: 8 identical entries, size bits 0x3000", () => {
    const io = make({ platform: "amd-vi", tableSize: "64K" });
    expect(io.mapSingle(0x40000000, 8 * 4096, "bidirectional")).toBe(0x1ff8 * 4096); // 8-aligned, top down
    for (let i = 0; i < 8; i++) expect(io.pageTableEntry(0x1ff8 + i, 1)).toBe(0x7000000040003e01n);
    expect(io.stats().ptWrites).toBe(2 + 8); // two table entries, eight leaves
  });

  it("2 pages at an odd physical page: two plain 4 KiB leaves", () => {
    const io = make({ platform: "amd-vi", tableSize: "64K" });
    io.mapSingle(0x40001000, 2 * 4096, "to-device");
    expect([io.pageTableEntry(0x1ffe, 1), io.pageTableEntry(0x1fff, 1)]).toEqual([0x3000000040001001n, 0x3000000040002001n]);
  });

  it("4 MiB at a 4 MiB-aligned address: two identical level-2 entries (size bits 0x1ff000), not two 2 MiB leaves", () => {
    const io = make({ platform: "amd-vi", tableSize: "64K" });
    expect(io.mapSingle(0x40000000, 4 << 20, "bidirectional")).toBe(0x1c00 * 4096);
    expect([io.pageTableEntry(0x1c00, 2), io.pageTableEntry(0x1e00, 2)]).toEqual([0x70000000401ffe01n, 0x70000000401ffe01n]);
    expect(io.stats().largePages).toBe(2);
    // the device: one 2 MiB line per region
    expect(io.deviceAccess(0x1c00 * 4096, 4 << 20, "read")).toBe("miss");
    expect(io.cacheLines()).toBe(2);
  });
});

describe.each(MODELS)("the device side: IOTLB, walks, the walk cache (%s)", (_, make) => {
  it("a 2 MiB leaf fills one IOTLB line that serves all 512 pages; the walk stops at level 2", () => {
    const io = make({ platform: "vtd", tableSize: "64K" });
    const dma = io.mapSingle(0x40000000, 2 << 20, "from-device")!;
    expect(io.deviceAccess(dma, 4096, "write")).toBe("miss");
    expect(io.stats().walkReads).toBe(3); // levels 4, 3, 2
    expect(io.deviceAccess(dma + 4096, (2 << 20) - 4096, "write")).toBe("hit");
    expect(io.cacheLines()).toBe(1);
    expect(io.deviceAccess(dma, 64, "read")).toBe("fault"); // from-device: W only
  });

  it("4 KiB leaves: a full walk (4 reads), then walks in the same 2 MiB region read only the leaf", () => {
    const io = make({ platform: "vtd", tableSize: "64K" });
    const dma = io.mapSingle(0x40001000, 8 * 4096, "bidirectional")!;
    expect(io.deviceAccess(dma, 4096, "read")).toBe("miss");
    expect(io.deviceAccess(dma + 4096, 4096, "read")).toBe("miss");
    const s = io.stats();
    expect([s.walkReads, s.walkCacheHits]).toEqual([4 + 1, 1]);
  });

  it("lazy (vtd's default flush queue): after unmap the IOTLB line is stale until the queue flushes; strict (smmuv3's default): blocked at once", () => {
    const lazy = make({ platform: "vtd", tableSize: "64K" });
    let dma = lazy.mapSingle(0x40001000, 4096, "bidirectional")!;
    lazy.deviceAccess(dma, 64, "write");
    lazy.unmapSingle(dma, 4096);
    expect(lazy.staleLines()).toBe(1);
    expect(lazy.deviceAccess(dma, 64, "write")).toBe("stale");
    const strict = make({ platform: "smmuv3", tableSize: "64K" });
    dma = strict.mapSingle(0x40001000, 4096, "bidirectional")!;
    strict.deviceAccess(dma, 64, "write");
    strict.unmapSingle(dma, 4096);
    expect(strict.staleLines()).toBe(0);
    expect(strict.deviceAccess(dma, 64, "write")).toBe("fault");
  });

  it("refuses pageTableEntry on a flat table and levels outside the table", () => {
    expect(() => make({ platform: "calgary-pcix", tableSize: "64K" }).pageTableEntry(0, 1)).toThrow(/platform: "calgary-pcix" .* a page-table platform/);
    expect(() => make({ platform: "amd-vi", tableSize: "64K" }).pageTableEntry(0, 4)).toThrow(/level: 4 .* from 1 \(leaf\) to 3 \(root\)/);
    expect(() => make({ platform: "smmuv3", tableSize: "64K", pageTableLevels: 5 })).toThrow(/pageTableLevels: 5 .* for smmuv3 one of 4/);
    expect(() => make({ platform: "smmuv3", tableSize: "64K", pageTableFormat: "first-level" })).toThrow(/pageTableFormat: "first-level" .* left out on smmuv3: only vtd has two table formats/);
    expect(() => make({ platform: "vtd", tableSize: "64K", pageTableFormat: "third" as "first-level" })).toThrow(/pageTableFormat: "third" .* second-level or first-level/);
    expect(() => make({ platform: "dart-u4", pageTableLevels: 4 })).toThrow(/pageTableLevels: 4 .* left out on dart-u4: its table is flat/);
    expect(() => make({ platform: "vtd", pageTableLevels: "5" as unknown as number })).toThrow(/pageTableLevels: "5" .* for vtd one of 4, 5/);
  });
});

describe("large pages through the priced model ≡ the reference (exposure tracked incrementally in WASM, counted by a scan in the reference)", () => {
  /** 2 MiB-aligned and misaligned buffers of 1 … 1100 pages, unmaps in random order, late accesses. */
  function largeTrace(ops: number, seed: number): string {
    let s = seed;
    const rnd = (n: number) => {
      s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
      return s % n;
    };
    const live: string[] = [];
    const dead: string[] = [];
    const lines: string[] = [];
    for (let i = 0; i < ops; i++) {
      const r = rnd(10);
      if (r < 4 || live.length === 0) {
        const id = `m${i}`;
        const phys = rnd(3) === 0 ? (0x200 + rnd(64)) * 0x200000 : 0x40000000 + rnd(0x100000) * 4096;
        const pages = rnd(3) === 0 ? 512 * (1 + rnd(2)) + (rnd(2) ? 0 : rnd(80)) : 1 + rnd(16);
        lines.push(`map ${id} ${phys.toString(16)} ${pages * 4096} ${["to-device", "from-device", "bidirectional"][rnd(3)]}`);
        live.push(id);
      } else if (r < 7) {
        const [id] = live.splice(rnd(live.length), 1);
        lines.push(`unmap ${id}`);
        dead.push(id);
      } else {
        const pool = rnd(3) === 0 && dead.length ? dead : live;
        lines.push(`access ${pool[rnd(pool.length)]} ${rnd(8) * 4096} ${1 + rnd(3 * 4096)} ${rnd(2) ? "read" : "write"}`);
      }
    }
    return lines.join("\n") + "\n";
  }
  const withoutNodes = <R extends { counters: object | null }>(r: R) => ({ ...r, counters: r.counters && { ...r.counters, nodesVisited: 0 } });

  it.each(["vtd", "amd-vi", "smmuv3"] as const)("%s", (platform) => {
    let large = 0;
    let stale = 0;
    for (const strategy of ["straightforward", "straightforward+strict-flush", "never-free", "cached"]) {
      const trace = parseTrace(largeTrace(1500, 11 + strategy.length));
      const opts: SimulationOptions = { platform, strategy, environment: "baremetal", iommu: { tableSize: "64K", cache: { entries: 16, ways: 4 } }, guestBytes: 2 ** 31 };
      const core = replayThroughSimulation(trace, createPricedSimulation(opts), true);
      const ref = replayThroughSimulation(trace, createSimulation(opts, createReferenceIommu), true);
      expect(withoutNodes(core.report)).toStrictEqual(withoutNodes(ref.report));
      large += core.report.counters!.largePages;
      stale += core.report.counters!.staleHits;
    }
    expect(large).toBeGreaterThan(0);
    expect(stale).toBeGreaterThan(0);
  });
});

describe("every live mapping translates to its own physical page, every freed page to nothing (property)", () => {
  /**
   * The physical page a leaf gives IO page `page`, decoded by the format's rules (not the model's
   * code); `atLevel2`: the walk ended at level 2 (the level-1 entry on its path is 0).
   */
  function target(platform: string, word: bigint, page: number, atLevel2: boolean): number | null {
    if (word === 0n) return null;
    const addr = Number((word & 0x000ffffffffff000n) >> 12n);
    if (platform === "vtd") return word & 0x80n ? addr + (page % 512) : addr; // PS
    if (platform === "smmuv3") return (word & 3n) === 1n ? addr + (page % 512) : addr; // block
    if (((word >> 9n) & 7n) === 7n) {
      // replicated: the lowest clear address bit from 12 is bit order + 11; the page is 2^order IO pages
      let order = 1;
      while (addr & (2 ** (order - 1))) order++;
      const span = 2 ** order;
      return addr - (addr % span) + (page % span);
    }
    return atLevel2 ? addr + (page % 512) : addr; // Next Level 0: the page size of the entry's level
  }

  it.each(["vtd", "vtd-first-level", "amd-vi", "smmuv3"] as const)("%s", (name) => {
    const platform = name === "vtd-first-level" ? "vtd" : name;
    const extra = name === "vtd-first-level" ? { pageTableFormat: "first-level" as const } : {};
    let large = 0;
    fc.assert(fc.property(
      fc.array(fc.oneof(
        fc.record({ t: fc.constant("map" as const), pfn: fc.oneof(fc.integer({ min: 0, max: 2 ** 30 }), fc.integer({ min: 0, max: 2 ** 21 }).map((x) => x * 512)), pages: fc.oneof(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 500, max: 1100 })) }),
        fc.record({ t: fc.constant("unmap" as const), pick: fc.nat() }),
      ), { minLength: 1, maxLength: 120 }),
      (ops) => {
        for (const make of [createIommu, createReferenceIommu]) {
          const io = make({ platform, tableSize: "64K", flushPolicy: "strict", ...extra });
          const live: Array<{ dma: number; pfn: number; pages: number }> = [];
          const freed = new Set<number>();
          for (const op of ops) {
            if (op.t === "map") {
              const dma = io.mapSingle(op.pfn * 4096, op.pages * 4096, "bidirectional");
              if (dma === null) continue;
              live.push({ dma, pfn: op.pfn, pages: op.pages });
              for (let i = 0; i < op.pages; i++) freed.delete(dma / 4096 + i);
            } else if (live.length) {
              const [m] = live.splice(op.pick % live.length, 1);
              io.unmapSingle(m.dma, m.pages * 4096);
              for (let i = 0; i < m.pages; i++) freed.add(m.dma / 4096 + i);
            }
          }
          for (const m of live) {
            for (let i = 0; i < m.pages; i++) {
              const page = m.dma / 4096 + i;
              expect(target(platform, io.entryWord(page), page, io.pageTableEntry(page, 1) === 0n)).toBe(m.pfn + i);
            }
          }
          for (const page of freed) expect(io.entryWord(page)).toBe(0n);
          const s = io.stats();
          large += s.largePages;
          // never more tables than the IO space can need: root + 1 per level below + 16 leaf tables (8192 pages)
          expect(s.ptTablesAllocated - s.ptTablesFreed).toBeLessThanOrEqual(platform === "amd-vi" ? 1 + 1 + 16 : 1 + 1 + 1 + 16);
        }
      },
    ), { numRuns: 40, seed: 2026 });
    expect(large).toBeGreaterThan(0);
  });
});

describe("replay --page-table-levels", () => {
  const cli = (...args: string[]) => spawnSync("node", [join(__dirname, "..", "lib", "cli.js"), ...args], { encoding: "utf8" });
  const trace = join(__dirname, "..", "examples", "nic-ring.trace");

  it("a 5-level VT-d table: one more table per first walk than 4 levels, the same addresses", () => {
    const [four, five] = ["4", "5"].map((n) => JSON.parse(cli("replay", trace, "--platform", "vtd", "--page-table-levels", n, "--json", "--emit", "addresses").stdout));
    expect(five.addresses).toEqual(four.addresses);
    expect(five.stats.ptTablesAllocated).toBe(four.stats.ptTablesAllocated + 1);
  });

  it("refuses a level count the platform does not have, exit 1", () => {
    const r = cli("replay", trace, "--platform", "smmuv3", "--page-table-levels", "5");
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/pageTableLevels: 5 is not allowed; expected for smmuv3 one of 4/);
  });
});
