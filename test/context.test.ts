// Golden values for the per-device structures the IOMMU reads before the page table
// (assembly/pgtable/context.ts draws the layouts), derived by hand from the specifications and the
// Linux drivers, checked in the WASM core and the reference model alike. The device is requester
// ID / DeviceID / StreamID 0x0008 (bus 0, devfn 0x08); its structures sit in four pages at physical
// 0x7fffc000 (root table / device table / stream table), 0x7fffd000 (context table / CD table),
// 0x7fffe000 (PASID directory), 0x7ffff000 (PASID table); the page table's root, table 0, at 0x80000000.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createIommu, createReferenceIommu, type IommuOptions } from "../bindings/node.js";

const MODELS = [["WASM", createIommu], ["reference", createReferenceIommu]] as const;
const words = (io: { contextWord(i: number): bigint }, n: number) => Array.from({ length: n }, (_, i) => io.contextWord(i));

describe.each(MODELS)("device structures, bit for bit (%s)", (_, make) => {
  const open = (o: Omit<IommuOptions, "tableSize">) => make({ tableSize: "64K", ...o } as IommuOptions);

  it("VT-d legacy mode: root entry (bus 0) → context table; context entry (devfn 0x08) → second-level root, AW, DID", () => {
    const io = open({ platform: "vtd" });
    expect(words(io, 4)).toEqual([
      0x7fffd001n, // root entry low: context-table pointer 0x7fffd000 | P
      0n, // root entry high: reserved
      0x80000001n, // context entry low: SLPTPTR 0x80000000 | TT 00 (translate, no device TLB) | FPD 0 | P
      0x202n, // context entry high: DID 2 (IDA_START_DID) << 8 | AW 2 (agaw 2: 48-bit, 4 levels)
    ]);
    expect(io.stats().ctxWrites).toBe(2);
    expect(open({ platform: "vtd", pageTableLevels: 5 }).contextWord(3)).toBe(0x203n); // AW 3: 57-bit, 5 levels
  });

  it("VT-d scalable mode (first-level table): root entry → scalable context entry → PASID directory entry 0 → PASID table entry 0 (RID_PASID)", () => {
    const io = open({ platform: "vtd", pageTableFormat: "first-level" });
    expect(words(io, 15)).toEqual([
      0x7fffd001n, 0n, // root entry: lower context-table pointer 0x7fffd000 | LP; upper not allocated
      0x7fffe401n, 0n, 0n, 0n, // context entry (256 bits): PASID directory 0x7fffe000 | PDTS 2 << 9 | P; RID_PASID 0
      0x7ffff001n, // PASID directory entry 0: PASID table 0x7ffff000 | P
      0x49n, // PASID table entry word 0: PGTT 001 << 6 = 0x40 | AW 2 << 2 = 0x8 | P
      0x800002n, // word 1: PWSNP (bit 23) | DID 2
      0x80000000n, // word 2: first-level table pointer | FLPM 0 (4-level paging)
      0n, 0n, 0n, 0n, 0n,
    ]);
    expect(io.stats().ctxWrites).toBe(4);
    const five = open({ platform: "vtd", pageTableFormat: "first-level", pageTableLevels: 5 });
    expect([five.contextWord(7), five.contextWord(9)]).toEqual([0x4dn, 0x80000004n]); // AW 3; FLPM 1 (5-level)
  });

  it("AMD-Vi: the DTE = IW | IR | root | Mode 3 << 9 | TV | V, DomainID 1; interrupt-remapping words 0", () => {
    const io = open({ platform: "amd-vi" });
    // IW bit 62 | IR bit 61 = 0x6000…; root 0x80000000; Mode 3 << 9 = 0x600; TV 2 | V 1
    expect(words(io, 4)).toEqual([0x6000000080000603n, 1n, 0n, 0n]);
    expect(io.stats().ctxWrites).toBe(1);
  });

  it("SMMUv3: STE = CD table | Config 0b101 (S1 translate) | V; CD = T0SZ 16, 4 KiB granule, WBWA inner-shareable walks, IPS 48-bit, AA64, ASID 1; TTB0 = root", () => {
    const io = open({ platform: "smmuv3" });
    expect(words(io, 8)).toEqual([
      0x7fffd00bn, // S1ContextPtr 0x7fffd000 | S1Fmt 0 | Config 5 << 1 = 0xa | V
      0xd6n, // S1CSH 3 << 6 = 0xc0 | S1COR 1 << 4 | S1CIR 1 << 2 | S1DSS 2 (SSID0)
      0n, 0n, 0n, 0n, 0n, 0n,
    ]);
    // word 0: ASID 1 << 48 | ASET, A, R (bits 47, 46, 45) | AA64 (41) = 0x0001e200…; IPS 5 << 32;
    // V (31) | EPD1 (30) = 0xc0000000; SH0 3 << 12 | ORGN0 1 << 10 | IRGN0 1 << 8 | T0SZ 16 = 0x3510
    expect(words(io, 16).slice(8)).toEqual([0x0001e205c0003510n, 0x80000000n, 0n, 0xf404ff44n, 0n, 0n, 0n, 0n]);
    expect(io.stats().ctxWrites).toBe(2);
  });

  it("past the structures, and on a flat table, a clear error", () => {
    expect(() => open({ platform: "vtd" }).contextWord(4)).toThrow(/index.*0 to 3/);
    expect(() => open({ platform: "vtd", pageTableFormat: "first-level" }).contextWord(15)).toThrow(/index.*0 to 14/);
    expect(() => open({ platform: "smmuv3" }).contextWord(-1)).toThrow(/index.*0 to 15/);
    expect(() => make({ platform: "calgary-pcix" } as IommuOptions).contextWord(0)).toThrow(/platform/);
    expect(() => make({ platform: "calgary-pcix" } as IommuOptions).invalidateContextCache()).toThrow(/platform/);
  });
});

describe.each(MODELS)("the context cache: the first miss reads the device's structures (%s)", (_, make) => {
  // [platform, page-table levels, entries read for the context]
  const CASES = [["vtd", 4, 2, {}], ["vtd", 4, 4, { pageTableFormat: "first-level" }], ["amd-vi", 3, 1, {}], ["smmuv3", 4, 2, {}]] as const;

  it.each(CASES)("%s: first miss = context (%i levels, %i entries) + full walk; a second miss in the region = 1 read; after a context-cache invalidation the context again", (platform, levels, ctx, extra) => {
    const io = make({ platform, tableSize: "64K", ...extra } as IommuOptions);
    const dma = io.mapSingle(0x40001000, 8 * 4096, "bidirectional")!;
    expect(io.stats().ctxReads).toBe(0); // setup writes, the device has not looked yet
    expect(io.deviceAccess(dma, 4096, "read")).toBe("miss");
    let s = io.stats();
    expect([s.ctxReads, s.walkReads]).toEqual([ctx, levels]);
    expect(io.deviceAccess(dma + 4096, 4096, "read")).toBe("miss");
    s = io.stats();
    expect([s.ctxReads, s.walkReads]).toEqual([ctx, levels + 1]); // context cached; walk cache: the leaf only
    io.invalidateContextCache();
    expect(io.deviceAccess(dma + 2 * 4096, 4096, "read")).toBe("miss");
    s = io.stats();
    expect([s.ctxReads, s.walkReads]).toEqual([2 * ctx, levels + 2]);
    expect(io.deviceAccess(dma, 4096, "read")).toBe("hit"); // an IOTLB hit reads nothing
    expect(io.stats().ctxReads).toBe(2 * ctx);
  });
});

describe("property: the structures are read once per context-cache epoch that has a walk, in both models alike", () => {
  const PLATFORMS = [
    ["vtd", {}, 2, 4], ["vtd", { pageTableLevels: 5 }, 2, 4], ["vtd", { pageTableFormat: "first-level" }, 4, 15],
    ["amd-vi", {}, 1, 4], ["smmuv3", {}, 2, 16],
  ] as const;

  it.each(PLATFORMS)("%s %o", (platform, extra, perLookup, nWords) => {
    fc.assert(fc.property(
      fc.array(fc.oneof(
        fc.record({ t: fc.constant("map" as const), pages: fc.integer({ min: 1, max: 600 }) }),
        fc.record({ t: fc.constant("unmap" as const), pick: fc.nat() }),
        fc.record({ t: fc.constant("read" as const), pick: fc.nat(), page: fc.nat(700) }),
        fc.constant({ t: "invalidate" as const }),
      ), { maxLength: 60 }),
      (ops) => {
        const models = [createIommu, createReferenceIommu].map((make) => make({ platform, tableSize: "64K", ...extra } as IommuOptions));
        for (const io of models) {
          const live: [number, number][] = [];
          let expected = 0;
          let cold = true;
          for (const op of ops) {
            if (op.t === "map") {
              const dma = io.mapSingle(0x40000000, op.pages * 4096, "bidirectional");
              if (dma !== null) live.push([dma, op.pages]);
            } else if (op.t === "unmap" && live.length) {
              const [dma, pages] = live.splice(op.pick % live.length, 1)[0];
              io.unmapSingle(dma, pages * 4096);
            } else if (op.t === "read") {
              // reads of bidirectional mappings: only a walk ends in a miss or a fault
              // inside the IO space (dma-iommu allocates top down: below a mapping, others or nothing)
              const base = live.length ? live[op.pick % live.length][0] : 0x1fff000;
              const dma = Math.max(0, base - op.page * 4096);
              const outcome = io.deviceAccess(dma, 64, "read");
              if ((outcome === "miss" || outcome === "fault") && cold) {
                expected += perLookup;
                cold = false;
              }
            } else if (op.t === "invalidate") {
              io.invalidateContextCache();
              cold = true;
            }
          }
          expect(io.stats().ctxReads).toBe(expected);
        }
        // the IOVA tree's node visits are the WASM core's own bookkeeping (differential.test.ts leaves them out too)
        const [a, b] = models.map((io) => ({ ...io.stats(), nodesVisited: 0 }));
        expect(a).toEqual(b);
        expect(words(models[0], nWords)).toEqual(words(models[1], nWords));
      },
    ), { numRuns: 60 });
  });
});
