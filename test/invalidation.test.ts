// The queued invalidation interfaces (VT-d invalidation queue, AMD-Vi command buffer, SMMUv3
// command queue) under dma-iommu's strict and lazy modes. Golden values are derived by hand from
// the specifications' descriptor layouts and the Linux drivers' rules (cache.c
// calculate_psi_aligned_address, amd/iommu.c build_inv_address, arm-smmu-v3.c range TLBIs and
// MAX_TLBI_OPS); the WASM core and the reference model must both give them, and agree with each
// other over random operation sequences. Most golden tests run the interfaces on a Calgary table
// through the `invalidation` option (first-fit addresses are known by hand); the platform tests
// and the differential runs also use the vtd, amd-vi and smmuv3 presets.
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ConfigError, createIommu, createReferenceIommu, type Iommu, type IommuOptions } from "../bindings/node.js";
import { INV_QUEUE_PHYS, type InvalidationName } from "../bindings/abi.js";
import { bytesArb, iovaOpArb, opArbWith, runBoth } from "./helpers/differential.js";

const PAGE = 4096;
const MODELS = [["core", createIommu], ["reference", createReferenceIommu]] as const;

/**
 * first-fit from entry 0 on a Calgary table: entries 0–31 are the emergency pages, so the first
 * map lands on page 32 and the next ones follow it: addresses known by hand.
 */
const at = (invalidation: InvalidationName, more: Partial<IommuOptions> = {}): IommuOptions => ({
  platform: "calgary-pcix", tableSize: "64K", allocator: "first-fit", flushPolicy: "strict", invalidation, ...more,
});

const counters = (io: Iommu) => {
  const s = io.stats();
  return {
    descriptors: s.invDescriptors, doorbells: s.invDoorbells, waits: s.invWaits, page: s.invPageSelective,
    domain: s.invDomainSelective, barriers: s.invBarriers, wbf: s.invWriteBufferFlushes,
  };
};

describe.each(MODELS)("VT-d invalidation queue (%s)", (_, make) => {
  it("strict unmap of 3 pages at 33–35: one PSI with AM 2 at page 32 and one wait descriptor; IQT moves 2 × 16 bytes", () => {
    const io = make(at("vtd-qi"));
    expect(io.mapSingle(0x100000, PAGE)).toBe(32 * PAGE);
    const x = io.mapSingle(0x200000, 3 * PAGE)!;
    expect(x).toBe(33 * PAGE);
    expect(io.invalidationQueue()!.tail).toBe(0);
    io.unmapSingle(x, 3 * PAGE);
    const q = io.invalidationQueue()!;
    expect(q.tail).toBe(32);
    // qw0: DID 1 << 16 | DR (bit 7) | DW (bit 6) | G = 3 (PSI) << 4 | type 2
    expect(q.slots[0][0]).toBe(0x1_00f2n);
    // qw1: ADDR = page 32 (33 & ~3) << 12 | IH (bit 6) | AM 2
    expect(q.slots[0][1]).toBe(BigInt(32 * PAGE) | 0x40n | 2n);
    // wait: status data QI_DONE (2) << 32 | SW (bit 5) | type 5; status word of slot 1, after the 4 KiB ring
    expect(q.slots[1]).toEqual([0x2_0000_0025n, BigInt(INV_QUEUE_PHYS + 256 * 16 + 4 * 1)]);
    expect(counters(io)).toEqual({ descriptors: 2, doorbells: 1, waits: 1, page: 1, domain: 0, barriers: 0, wbf: 0 });
  });

  it("a range straddling its aligned block widens the mask: pages 34–36 → AM 3 at page 32", () => {
    const io = make(at("vtd-qi"));
    io.mapSingle(0x100000, 2 * PAGE); // 32, 33
    const x = io.mapSingle(0x200000, 3 * PAGE)!;
    expect(x).toBe(34 * PAGE);
    io.unmapSingle(x, 3 * PAGE);
    expect(io.invalidationQueue()!.slots[0][1]).toBe(BigInt(32 * PAGE) | 0x40n | 3n);
  });

  it("a mask above CAP.MAMV falls back to a domain-selective invalidation", () => {
    const io = make(at("vtd-qi", { invalidationCaps: { mamv: 2 } }));
    io.mapSingle(0x100000, 2 * PAGE);
    const x = io.mapSingle(0x200000, 3 * PAGE)!;
    io.unmapSingle(x, 3 * PAGE);
    const q = io.invalidationQueue()!;
    expect(q.slots[0]).toEqual([0x1_00e2n, 0n]); // G = 2 (DSI), no address
    expect(counters(io)).toMatchObject({ page: 0, domain: 1, waits: 1 });
  });

  it("page-selective invalidation drops just its lines from the device cache", () => {
    const io = make(at("vtd-qi"));
    const a = io.mapSingle(0x100000, PAGE)!;
    const b = io.mapSingle(0x200000, 3 * PAGE)!;
    io.deviceAccess(a, PAGE, "read");
    io.deviceAccess(b, 3 * PAGE, "read");
    expect(io.cacheLines()).toBe(4);
    io.unmapSingle(b, 3 * PAGE); // PSI over pages 32–35 covers a's page 32 too: AM 2 rounds down
    expect(io.cacheLines()).toBe(0);
    const c = io.mapSingle(0x300000, PAGE)!; // page 33
    const d = io.mapSingle(0x400000, PAGE)!; // page 34
    io.deviceAccess(a, PAGE, "read");
    io.deviceAccess(c, PAGE, "read");
    io.deviceAccess(d, PAGE, "read");
    io.unmapSingle(d, PAGE); // PSI AM 0 on page 34 alone
    expect(io.cacheLines()).toBe(2);
    expect(io.deviceAccess(d, 1, "read")).toBe("fault");
  });

  it("lazy: unmaps write nothing; the flush queue's flush is one DSI and one wait", () => {
    const io = make(at("vtd-qi", { allocator: "iova", flushPolicy: "flush-queue" }));
    const x = io.mapSingle(0x100000, 3 * PAGE)!;
    io.deviceAccess(x, 3 * PAGE, "read");
    io.unmapSingle(x, 3 * PAGE);
    expect(counters(io).descriptors).toBe(0);
    expect(io.staleLines()).toBe(3); // the exposure lazy mode buys its speed with
    expect(io.flushQueueTimer()).toBe(true);
    const q = io.invalidationQueue()!;
    expect(q.slots[0]).toEqual([0x1_00e2n, 0n]);
    expect(q.tail).toBe(32);
    expect(counters(io)).toEqual({ descriptors: 2, doorbells: 1, waits: 1, page: 0, domain: 1, barriers: 0, wbf: 0 });
    expect(io.cacheLines()).toBe(0);
    expect(io.stats().flushes).toBe(1);
  });

  it("RWBF hardware: every map call flushes the write buffer; without it none", () => {
    const io = make(at("vtd-qi", { invalidationCaps: { rwbf: true } }));
    io.mapSingle(0x100000, PAGE);
    io.mapSg([{ phys: 0x200000, bytes: PAGE }, { phys: 0x300000, bytes: PAGE }]);
    io.allocCoherent(PAGE);
    expect(counters(io).wbf).toBe(3);
    const plain = make(at("vtd-qi"));
    plain.mapSingle(0x100000, PAGE);
    expect(counters(plain).wbf).toBe(0);
  });

  it("the ring wraps at 256 slots and the tail register follows it", () => {
    const io = make(at("vtd-qi"));
    for (let i = 0; i < 129; i++) io.unmapSingle(io.mapSingle(0x100000, PAGE)!, PAGE);
    // 129 submissions of 2 descriptors: 258 slots used, the tail is at slot 2
    expect(io.invalidationQueue()!.tail).toBe(2 << 4);
    expect(counters(io).descriptors).toBe(258);
  });
});

describe.each(MODELS)("AMD-Vi command buffer (%s)", (_, make) => {
  it("strict unmap of 3 pages at 33–35: INVALIDATE_IOMMU_PAGES with S over 32–35, then COMPLETION_WAIT; a doorbell each", () => {
    const io = make(at("amd-cmdbuf"));
    io.mapSingle(0x100000, PAGE);
    const x = io.mapSingle(0x200000, 3 * PAGE)!;
    io.unmapSingle(x, 3 * PAGE);
    const q = io.invalidationQueue()!;
    // word 0 PASID 0; word 1 opcode 3 << 28 | DomainID 1
    expect(q.slots[0][0]).toBe(0x3000_0001n << 32n);
    // 0x21000 … 0x23fff: highest differing bit 13 → address | 0x1fff, bits 11:0 cleared → 0x21000;
    // | S (bit 0) | PDE (bit 1). Lowest clear bit 13 → 16 KiB at 0x20000: pages 32–35.
    expect(q.slots[0][1]).toBe(0x21003n);
    // COMPLETION_WAIT: word 0 store address[31:3] | S; word 1 opcode 1 << 28 | address[51:32]; data 1
    const sem = INV_QUEUE_PHYS + 512 * 16;
    expect(q.slots[1]).toEqual([(0x1000_0000n << 32n) | BigInt(sem) | 1n, 1n]);
    expect(q.tail).toBe(32);
    expect(counters(io)).toEqual({ descriptors: 2, doorbells: 2, waits: 1, page: 1, domain: 0, barriers: 0, wbf: 0 });
  });

  it("one page: S clear, the page's own address", () => {
    const io = make(at("amd-cmdbuf"));
    const x = io.mapSingle(0x100000, 100)!;
    io.unmapSingle(x, 100);
    expect(io.invalidationQueue()!.slots[0][1]).toBe(BigInt(32 * PAGE) | 2n);
  });

  it("the domain flush names every page: 7FFF_FFFF_FFFF_F000 with S", () => {
    const io = make(at("amd-cmdbuf", { allocator: "iova", flushPolicy: "flush-queue" }));
    io.unmapSingle(io.mapSingle(0x100000, PAGE)!, PAGE);
    io.flushQueueTimer();
    expect(io.invalidationQueue()!.slots[0][1]).toBe(0x7fff_ffff_ffff_f003n);
    expect(counters(io)).toMatchObject({ domain: 1, page: 0, doorbells: 2, waits: 1 });
  });

  it("unmap_sg of disjoint elements (2007 allocator): AMD widens one gather instead of syncing twice", () => {
    const io = make(at("amd-cmdbuf"));
    const [a, b] = io.mapSg([{ phys: 0x100000, bytes: PAGE }, { phys: 0x200000, bytes: PAGE }])!; // 32, 33
    io.mapSingle(0x300000, PAGE); // 34
    const [c] = io.mapSg([{ phys: 0x400000, bytes: PAGE }])!; // 35
    expect([a, b, c]).toEqual([32 * PAGE, 33 * PAGE, 35 * PAGE]);
    io.unmapSg([{ dma: a, bytes: PAGE }, { dma: c, bytes: PAGE }]);
    expect(counters(io)).toMatchObject({ page: 1, waits: 1 });
    const vtd = make(at("vtd-qi"));
    const [va] = vtd.mapSg([{ phys: 0x100000, bytes: PAGE }, { phys: 0x200000, bytes: PAGE }])!;
    vtd.mapSingle(0x300000, PAGE);
    const [vc] = vtd.mapSg([{ phys: 0x400000, bytes: PAGE }])!;
    vtd.unmapSg([{ dma: va, bytes: PAGE }, { dma: vc, bytes: PAGE }]);
    expect(counters(vtd)).toMatchObject({ page: 2, waits: 2 }); // disjoint: the generic gather syncs first
  });
});

describe.each(MODELS)("SMMUv3 command queue (%s)", (_, make) => {
  it("strict unmap of 3 pages: 3 × CMD_TLBI_NH_VA and a CMD_SYNC, one producer write", () => {
    const io = make(at("smmuv3-cmdq"));
    io.mapSingle(0x100000, PAGE);
    const x = io.mapSingle(0x200000, 3 * PAGE)!;
    io.unmapSingle(x, 3 * PAGE);
    const q = io.invalidationQueue()!;
    for (let p = 0; p < 3; p++) expect(q.slots[p]).toEqual([(1n << 48n) | 0x12n, (BigInt(33 + p) << 12n) | 1n]); // ASID 1, LEAF
    // CMD_SYNC: CS = SIG_IRQ with MSIADDR = its own slot; the SMMU's MSI write of MSIDATA 0 has
    // zeroed the command's first word, which is what the CPU waited for
    expect(q.slots[3][1]).toBe(BigInt(INV_QUEUE_PHYS + 3 * 16));
    expect(q.slots[3][0] & 0xffff_ffffn).toBe(0n);
    expect(q.tail).toBe(4);
    expect(counters(io)).toEqual({ descriptors: 4, doorbells: 1, waits: 1, page: 3, domain: 0, barriers: 1, wbf: 0 });
  });

  it("with range invalidation (RIL) the 3 pages are one TLBI: NUM 2, SCALE 0, TG 4 KiB, TTL 3", () => {
    const io = make(at("smmuv3-cmdq", { invalidationCaps: { rangeInvalidation: true } }));
    io.mapSingle(0x100000, PAGE);
    const x = io.mapSingle(0x200000, 3 * PAGE)!;
    io.unmapSingle(x, 3 * PAGE);
    const q = io.invalidationQueue()!;
    expect(q.slots[0]).toEqual([(1n << 48n) | (2n << 12n) | 0x12n, BigInt(33 * PAGE) | (1n << 10n) | (3n << 8n) | 1n]);
    expect(counters(io)).toMatchObject({ descriptors: 2, page: 1 });
  });

  it("511 pages: per-page TLBIs in batches of 64 (8 producer writes); 512 pages: one TLBI_NH_ASID", () => {
    const io = make(at("smmuv3-cmdq"));
    io.unmapSingle(io.mapSingle(0x100000, 511 * PAGE)!, 511 * PAGE);
    expect(counters(io)).toEqual({ descriptors: 512, doorbells: 8, waits: 1, page: 511, domain: 0, barriers: 8, wbf: 0 });
    const big = make(at("smmuv3-cmdq"));
    big.unmapSingle(big.mapSingle(0x100000, 512 * PAGE)!, 512 * PAGE);
    expect(big.invalidationQueue()!.slots[0]).toEqual([(1n << 48n) | 0x11n, 0n]);
    expect(counters(big)).toMatchObject({ descriptors: 2, doorbells: 1, page: 0, domain: 1 });
    // the producer register carries the wrap bit (bit 8 of a 256-slot queue) once the index passes the end
    // 512 commands have gone round the 256-slot queue twice: index 0, the wrap bit (bit 8) back to 0
    expect(io.invalidationQueue()!.tail).toBe(0);
    const once = make(at("smmuv3-cmdq"));
    once.unmapSingle(once.mapSingle(0x100000, 255 * PAGE)!, 255 * PAGE); // 255 TLBIs + CMD_SYNC = 256
    expect(once.invalidationQueue()!.tail).toBe(1 << 8);
  });
});

describe.each(MODELS)("DART's flush policies as what-ifs on a queued interface (%s)", (_, make) => {
  it("one-per-page: a page-selective invalidation and a wait per mapped page; all-after-map: a domain flush per map call", () => {
    const io = make(at("vtd-qi", { flushPolicy: "one-per-page" }));
    io.mapSingle(0x100000, 3 * PAGE);
    expect(counters(io)).toMatchObject({ page: 3, waits: 3, domain: 0 });
    expect(io.invalidationQueue()!.slots[4][1]).toBe(BigInt(34 * PAGE) | 0x40n); // the third page, AM 0
    const all = make(at("amd-cmdbuf", { flushPolicy: "all-after-map" }));
    all.mapSingle(0x100000, 3 * PAGE);
    all.mapSg([{ phys: 0x200000, bytes: PAGE }]);
    expect(counters(all)).toMatchObject({ page: 0, domain: 2, waits: 2 });
  });
});

describe.each(MODELS)("on the vtd, amd-vi and smmuv3 platforms (%s)", (_, make) => {
  it("each platform's interface, with the kernel's default mode: VT-d and AMD lazy, SMMUv3 strict", () => {
    const modes = { vtd: ["vtd-qi", "flush-queue"], "amd-vi": ["amd-cmdbuf", "flush-queue"], smmuv3: ["smmuv3-cmdq", "strict"] } as const;
    for (const [platform, [inv, mode]] of Object.entries(modes)) {
      const io = make({ platform: platform as keyof typeof modes });
      expect([io.config.invalidation, io.config.flushPolicy]).toEqual([inv, mode]);
    }
  });

  it("VT-d strict (flushPolicy): an unmap_sg of a 3-page list is one range, one PSI and one wait", () => {
    const io = make({ platform: "vtd", flushPolicy: "strict" });
    const segs = [{ phys: 0x100000, bytes: PAGE }, { phys: 0x300000, bytes: 2 * PAGE }];
    const dma = io.mapSg(segs)!; // dma-iommu: one IOVA range of 3 pages, size-aligned to 4
    const first = dma[0] / PAGE;
    expect(dma[1]).toBe(dma[0] + PAGE);
    io.unmapSg(dma.map((d, k) => ({ dma: d, bytes: segs[k].bytes })));
    const q = io.invalidationQueue()!;
    expect(q.slots[0][1]).toBe(BigInt((first & ~3) * PAGE) | 0x40n | 2n);
    expect(counters(io)).toMatchObject({ descriptors: 2, doorbells: 1, waits: 1, page: 1 });
  });

  it("VT-d strict: IH = 1 when only leaves changed, IH = 0 when the unmap freed a page-table page", () => {
    const io = make({ platform: "vtd", flushPolicy: "strict", tableSize: "64K" });
    // a 2 MiB buffer one page off 2 MiB physically: 512 leaves in a leaf table of its own, freed at unmap
    const dma = io.mapSingle(0x40001000, 2 << 20)!;
    expect(dma % (2 << 20)).toBe(0);
    io.unmapSingle(dma, 2 << 20);
    expect(io.stats().ptTablesFreed).toBe(1);
    // 512 pages, aligned: AM 9 ≤ MAMV 18, at the buffer's address, IH clear
    expect(io.invalidationQueue()!.slots[0][1]).toBe(BigInt(dma) | 9n);
    const x = io.mapSingle(0x100000, PAGE)!;
    io.unmapSingle(x, PAGE); // one leaf cleared, its table kept
    expect(io.invalidationQueue()!.slots[2][1]).toBe(BigInt(x) | 0x40n);
  });

  it("VT-d lazy (its default): no descriptor until the flush queue's timer, then one DSI and one wait", () => {
    const io = make({ platform: "vtd" });
    for (let i = 0; i < 10; i++) io.unmapSingle(io.mapSingle(0x100000 + i * PAGE, PAGE)!, PAGE);
    expect(counters(io).descriptors).toBe(0);
    io.flushQueueTimer();
    expect(counters(io)).toMatchObject({ descriptors: 2, domain: 1, waits: 1, page: 0 });
  });

  it("SMMUv3 (strict by default): an unmap of 3 pages is 3 TLBI_NH_VA and a CMD_SYNC", () => {
    const io = make({ platform: "smmuv3" });
    const x = io.mapSingle(0x100000, 3 * PAGE)!;
    io.unmapSingle(x, 3 * PAGE);
    const q = io.invalidationQueue()!;
    for (let p = 0; p < 3; p++) expect(q.slots[p][1]).toBe((BigInt(x / PAGE + p) << 12n) | 1n);
    expect(counters(io)).toMatchObject({ descriptors: 4, doorbells: 1, waits: 1, page: 3, barriers: 1 });
  });
});

describe("replay through the CLI", () => {
  const CLI = join(import.meta.dirname, "..", "lib", "cli.js");
  const TRACE = join(import.meta.dirname, "..", "examples", "nic-ring.trace");
  const replay = (...args: string[]) => spawnSync("node", [CLI, "replay", ...args, TRACE], { encoding: "utf8" });
  const value = (out: string, name: string) => Number(new RegExp(`^${name} (\\d+)$`, "m").exec(out)?.[1]);

  it("lists the invalidation counters where the platform has a queue, and only there", () => {
    const calgary = replay("--platform", "calgary-pcix");
    expect(calgary.status).toBe(0);
    expect(calgary.stdout).not.toMatch(/^inv/m);
    const strict = replay("--platform", "vtd", "--flush-policy", "strict");
    expect(strict.status).toBe(0);
    // strict: one PSI + one wait descriptor per unmap call that freed something, one doorbell each
    expect(value(strict.stdout, "invDescriptors")).toBe(2 * value(strict.stdout, "invWaits"));
    expect(value(strict.stdout, "invWaits")).toBeGreaterThan(1000);
    const lazy = replay("--platform", "vtd");
    expect(value(lazy.stdout, "invPageSelective")).toBe(0);
    expect(value(lazy.stdout, "invWaits")).toBeLessThan(value(strict.stdout, "invWaits") / 100);
  });
});

describe("configuration", () => {
  it("Calgary and DART keep their own flushes: no queue, the new counters stay zero", () => {
    for (const platform of ["calgary-pcix", "dart-u4"] as const) {
      const io = createIommu({ platform });
      expect(io.config.invalidation).toBe("none");
      expect(io.invalidationQueue()).toBeNull();
      io.unmapSingle(io.mapSingle(0x100000, PAGE)!, PAGE);
      expect(counters(io)).toEqual({ descriptors: 0, doorbells: 0, waits: 0, page: 0, domain: 0, barriers: 0, wbf: 0 });
    }
  });

  it("refuses an unknown interface and a capability the interface lacks", () => {
    expect(() => createIommu({ platform: "calgary-pcix", invalidation: "x" as InvalidationName })).toThrow(ConfigError);
    expect(() => createIommu(at("amd-cmdbuf", { invalidationCaps: { mamv: 3 } }))).toThrow(/invalidationCaps\.mamv/);
    expect(() => createIommu(at("vtd-qi", { invalidationCaps: { rangeInvalidation: true } }))).toThrow(/has mamv, rwbf/);
    expect(() => createIommu(at("vtd-qi", { invalidationCaps: { mamv: 64 } }))).toThrow(/from 0 to 63/);
  });
});

describe("what strict and lazy guarantee (properties)", () => {
  const invArb = fc.constantFrom<InvalidationName>("vtd-qi", "amd-cmdbuf", "smmuv3-cmdq");
  const capsArb = fc.constantFrom({}, { small: true });
  const caps = (inv: InvalidationName, small: boolean) =>
    inv === "vtd-qi" ? { mamv: small ? 0 : 18 } : inv === "smmuv3-cmdq" ? { rangeInvalidation: small } : {};

  it("strict: no stale translation survives an unmap call, and every call that unmapped waited once", () => {
    fc.assert(
      fc.property(invArb, capsArb, fc.constantFrom("iova" as const, "first-fit" as const), fc.array(opArbWith(bytesArb), { minLength: 100, maxLength: 400 }), (inv, c, allocator, ops) => {
        const o: IommuOptions = { ...at(inv, { allocator, invalidationCaps: caps(inv, "small" in c) }) };
        const a = createIommu(o);
        runBoth(a, createReferenceIommu(o), ops.filter((op) => op.t !== "unmapKeep"));
        const s = a.stats();
        expect(s.staleHits).toBe(0);
        expect(a.staleLines()).toBe(0);
        // every sync is its invalidation command(s) and one wait, as each interface issues them
        const commands = s.invPageSelective + s.invDomainSelective;
        if (inv === "vtd-qi") expect([s.invDescriptors, s.invDoorbells, commands]).toEqual([2 * s.invWaits, s.invWaits, s.invWaits]);
        if (inv === "amd-cmdbuf") expect([s.invDescriptors, s.invDoorbells, commands]).toEqual([2 * s.invWaits, 2 * s.invWaits, s.invWaits]);
        if (inv === "smmuv3-cmdq") {
          expect(s.invDescriptors).toBe(commands + s.invWaits);
          expect(s.invBarriers).toBe(s.invDoorbells);
          expect(s.invDoorbells).toBeGreaterThanOrEqual(s.invWaits);
        }
        expect(s.invWaits > 0).toBe(s.pagesUnmapped > 0);
      }),
      { numRuns: 60, seed: 14, endOnFailure: true },
    );
  });

  it("lazy: unmaps leave stale lines until the queue's flush, which leaves none", () => {
    fc.assert(
      fc.property(invArb, fc.array(opArbWith(bytesArb), { minLength: 100, maxLength: 400 }), (inv, ops) => {
        const o = at(inv, { allocator: "iova", flushPolicy: "flush-queue" });
        const a = createIommu(o);
        runBoth(a, createReferenceIommu(o), ops.filter((op) => op.t !== "unmapKeep"));
        const before = a.stats();
        // between flushes nothing is page-selective: the only commands are the flushes' own
        expect(before.invPageSelective).toBe(0);
        expect(before.invDomainSelective).toBe(before.flushes);
        a.flushQueueTimer();
        expect(a.staleLines()).toBe(0);
      }),
      { numRuns: 60, seed: 15, endOnFailure: true },
    );
  });
});

describe("WASM core ≡ reference model on the queued interfaces", () => {
  const configArb = fc.record({
    invalidation: fc.constantFrom<InvalidationName>("vtd-qi", "amd-cmdbuf", "smmuv3-cmdq"),
    allocator: fc.constantFrom("iova" as const, "first-fit" as const, "calgary" as const),
    flushPolicy: fc.constantFrom("strict" as const, "strict" as const, "flush-queue" as const, "on-wrap" as const, "never" as const, "one-per-page" as const, "all-after-map" as const),
    cache: fc.constantFrom({ entries: 64, ways: 4 }, { entries: 4, ways: 1 }, { entries: 256, ways: 8 }),
    caps: fc.constantFrom("default", "small", "rich"),
    preset: fc.boolean(),
  }).map(({ invalidation, caps, preset, ...o }): IommuOptions => ({
    // the platform whose interface it is (its own reserved ranges and limits), or a Calgary table with it
    platform: preset ? ({ "vtd-qi": "vtd", "amd-cmdbuf": "amd-vi", "smmuv3-cmdq": "smmuv3" } as const)[invalidation as "vtd-qi"] : "calgary-pcix",
    tableSize: "64K", invalidation, ...o,
    invalidationCaps: caps === "default" ? {} : invalidation === "vtd-qi" ? (caps === "small" ? { mamv: 1, rwbf: true } : { mamv: 9 })
      : invalidation === "smmuv3-cmdq" ? { rangeInvalidation: caps === "rich" } : {},
  }));

  // the reference IOVA tree does not count the nodes it visits (as in test/differential.test.ts)
  const withoutNodes = ({ nodesVisited: _, ...rest }: ReturnType<Iommu["stats"]>) => rest;
  const reached: Record<string, number> = {};

  it("agrees on every result, counter (tree nodes visited aside), cache line and queue slot", () => {
    fc.assert(
      fc.property(configArb, fc.oneof(fc.array(opArbWith(bytesArb), { minLength: 200, maxLength: 600 }), fc.array(iovaOpArb, { minLength: 200, maxLength: 600 })), (o, ops) => {
        const a = createIommu(o);
        const b = createReferenceIommu(o);
        runBoth(a, b, ops);
        expect(withoutNodes(a.stats())).toEqual(withoutNodes(b.stats()));
        expect(a.cacheLines()).toBe(b.cacheLines());
        expect(a.staleLines()).toBe(b.staleLines());
        expect(a.invalidationQueue()).toEqual(b.invalidationQueue());
        for (const [k, v] of Object.entries(a.stats())) reached[k] = (reached[k] ?? 0) + v;
      }),
      { numRuns: 80, seed: 20261125, endOnFailure: true },
    );
  });

  it("the random runs reached every kind of invalidation", () => {
    for (const k of ["invPageSelective", "invDomainSelective", "invWaits", "invBarriers", "invWriteBufferFlushes", "staleHits"]) {
      expect(reached[k], k).toBeGreaterThan(0);
    }
  });
});
