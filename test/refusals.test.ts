// Regression tests for issue 12: inputs that used to be silently changed or wrongly accepted are
// now refused with a ConfigError naming the field, the value and what is allowed — in the WASM
// model and the reference alike.
import { describe, expect, it } from "vitest";
import { ConfigError, createIommu, createPricedSimulation, createReferenceIommu, type Iommu, type IommuOptions } from "../bindings/node.js";
import { replayThroughSimulation } from "../bindings/sim/replay.js";
import { DIR, putAlloc, putMap, putMapSg } from "../bindings/records.js";
import { parseTrace } from "../bindings/trace/parse.js";
import { replayTrace } from "../bindings/trace/replay.js";

const both = (o: IommuOptions): Array<[string, Iommu]> => [["wasm", createIommu(o)], ["reference", createReferenceIommu(o)]];

describe.each(both({ platform: "calgary-pcix" }))("direction names (%s)", (_, io) => {
  it.each(["toString", "__proto__", "constructor", "valueOf", "hasOwnProperty"])("refuses %j, a name only the object prototype knows", (dir) => {
    expect(() => io.mapSingle(0x5000, 4096, dir as never)).toThrow(ConfigError);
    expect(() => io.mapSingle(0x5000, 4096, dir as never)).toThrow(/dir: .* is not allowed; expected bidirectional \| to-device \| from-device/);
    expect(() => io.mapSg([{ phys: 0x5000, bytes: 4096 }], dir as never)).toThrow(/dir: /);
    expect(io.stats().maps).toBe(0);
  });

  it("says NaN, not null, when given NaN", () => {
    expect(() => io.mapSingle(Number.NaN, 4096)).toThrow(/phys: NaN is not allowed/);
    expect(() => io.unmapSingle(0x20000, Number.NaN)).toThrow(/bytes: NaN is not allowed/);
    expect(() => io.mapSingle(Number.POSITIVE_INFINITY, 4096)).toThrow(/phys: Infinity is not allowed/);
  });
});

describe("physical addresses beyond what an entry holds (issue 12, item 1)", () => {
  it("carries page numbers above 2^32 into the TCE on Calgary, the same in WASM and reference", () => {
    for (const [, io] of both({ platform: "calgary-pcix" })) {
      const dma = io.mapSingle(2 ** 44 + 0x5000, 4096, "to-device");
      expect(dma).toBe(32 * 4096); // past the 32 emergency pages
      // TCE: RPN 0x100000005 << 12 | R (to-device: no W)
      expect(io.entryWord(32)).toBe(0x1_0000_0005_001n);
    }
  });

  it.each([
    ["calgary-pcix", 2 ** 48, 4096, /phys: .* a physical address from 0 to 0xffffffffffff \(what a calgary-pcix entry can hold\)/],
    ["calgary-pcix", 2 ** 48 - 4096, 8192, /bytes: 8192 .* ends the buffer at or below 0xffffffffffff .* ends at 0x1000000000fff/],
    ["dart-u3", 0x972c76be39, 4096, /phys: .* from 0 to 0xfffffffff \(what a dart-u3 entry can hold\)/],
    ["dart-u4", 0xffffff000, 4097, /bytes: 4097 .* at or below 0xfffffffff/],
  ] as const)("%s refuses phys %d for %d bytes", (platform, phys, bytes, message) => {
    for (const [, io] of both({ platform })) {
      expect(() => io.mapSingle(phys, bytes)).toThrow(message);
      expect(() => io.mapSg([{ phys: 0x1000, bytes: 4096 }, { phys, bytes }])).toThrow(message);
      expect(io.stats().maps + io.stats().mapSgs + io.stats().pagesMapped).toBe(0);
    }
  });

  it("a batch record with a page beyond the platform's RPN, or one it cannot carry, is BAD_RECORD and changes nothing", () => {
    for (const [, io] of both({ platform: "dart-u3", maxHandles: 16 })) {
      const { ops, results } = io.batch;
      let n = putMap(ops, 0, 0, 0x972c76be39, 4096, DIR.toDevice);
      n = putMap(ops, n, 1, Number.NaN, 4096, DIR.toDevice);
      n = putMap(ops, n, 2, 0x5000, 2 ** 32 + 1, DIR.toDevice); // would wrap to 1 byte in a u32
      n = putMap(ops, n, 3, 0x5000, 4096, 7);
      n = putMapSg(ops, n, 4, [{ phys: 0x1000, bytes: 4096 }, { phys: 2 ** 40, bytes: 4096 }], DIR.toDevice);
      n = putAlloc(ops, n, 6, 0);
      n = putMap(ops, n, 7, 0xffffff000, 4096, DIR.toDevice); // the last page an entry holds
      io.batch.run(n);
      expect(Array.from(results.subarray(0, n))).toEqual([-2, -2, -2, -2, -2, -2, -2, -2, 0]);
      expect(io.stats().maps).toBe(1);
      expect(io.entryWord(0)).toBe(0x80ffffffn);
    }
  });

  it("a batch record carries page numbers up to 2^44 (w0 bits 20..31)", () => {
    for (const [, io] of both({ platform: "calgary-pcix", maxHandles: 4 })) {
      putMap(io.batch.ops, 0, 0, (2 ** 36 - 1) * 4096 + 7, 100, DIR.bidirectional);
      io.batch.run(1);
      expect(io.batch.results[0]).toBe(32);
      expect(io.entryWord(32)).toBe(0xf_ffff_ffff_003n);
    }
  });

  it("alloc_coherent fails (NULL) rather than hand out pages an entry cannot hold", () => {
    for (const [, io] of both({ platform: "dart-u3", coherentBasePfn: 0xffffff - 1024 })) {
      expect(io.allocCoherent(4 << 20)?.phys).toBe(0xfffc00 * 4096);
      expect(io.allocCoherent(4 << 20)).toBeNull();
      expect(io.stats().mapFailures).toBe(1);
    }
  });

  it("plain replay refuses such a line with its number instead of printing a truncated address", () => {
    for (const make of [createIommu, createReferenceIommu]) {
      expect(() => replayTrace(parseTrace("map a 10000000000000 4096 bidirectional\n"), (s) => make({ platform: "calgary-pcix", ...s })))
        .toThrow(/line 1: phys: .* \(what a calgary-pcix entry can hold\): map a/);
      expect(() => replayTrace(parseTrace("map x 1000 4096 to-device\nmap a 972c76be39 4096 to-device\n"), (s) => make({ platform: "dart-u3", ...s })))
        .toThrow(/line 2: phys: .*what a dart-u3 entry can hold/);
      const lenient = replayTrace(parseTrace("map_sg s to-device 1000:4096 fffffffff000:8192\nmap b 5000 10 to-device\n"), (s) => make({ platform: "calgary-pcix", ...s }), { lenient: true });
      expect(lenient.skipped.map((l) => l.line)).toEqual([1]);
      expect(lenient.addresses.map((a) => a.id)).toEqual(["b"]);
    }
  });
});

describe("requests no IO space could hold fail at once (issue 12, item 8)", () => {
  // Counted in words of the bitmap searched, not in time: before, the boundary case scanned 20.9 M
  // words on an 8M Calgary table (the search tried every entry as a start).
  it.each([
    ["larger than the segment boundary", { platform: "calgary-pcix", segmentBoundary: 1 << 20 }, 2 << 20],
    ["larger than the segment boundary (first-fit)", { platform: "calgary-pcix", allocator: "first-fit", segmentBoundary: 1 << 16 }, 1 << 20],
    ["larger than the segment boundary (best-fit)", { platform: "calgary-pcix", tableSize: "64K", allocator: "best-fit", segmentBoundary: 1 << 16 }, 1 << 17],
    ["as large as the IO space (Calgary)", { platform: "calgary-pcix" }, 2 ** 32 - 1],
    ["as large as the IO space (best-fit)", { platform: "calgary-pcix", allocator: "best-fit" }, 2 ** 32 - 1],
    ["as large as the IO space (DART)", { platform: "dart-u3" }, 2 ** 31],
  ] as Array<[string, IommuOptions, number]>)("%s", (_, options, bytes) => {
    for (const [, io] of both(options)) {
      expect(io.mapSingle(0x1000, bytes)).toBeNull();
      const s = io.stats();
      expect(s.wordsScanned).toBe(0);
      expect([s.mapFailures, s.wraps, s.flushes]).toEqual([1, 0, 0]);
      expect(io.mapSg([{ phys: 0x1000, bytes: 4096 }, { phys: 0x9000, bytes }])).toBeNull();
      expect(io.stats().pagesInUse).toBe(s.pagesInUse);
    }
  });

  it("one page less than the IO space still fits where the table is empty (DART: all but the reserved last entry)", () => {
    for (const [, io] of both({ platform: "dart-u3" })) expect(io.mapSingle(0x1000, 2 ** 31 - 4096)).toBe(0);
  });
});

describe("priced replay of a buffer that starts where an entry reaches but ends beyond it", () => {
  it("is refused with the line and the limit, not an internal error", () => {
    const trace = parseTrace("map a fffffffff000 8192 to-device\n");
    const sim = createPricedSimulation({ platform: "calgary-pcix", strategy: "straightforward", environment: "baremetal" });
    expect(() => replayThroughSimulation(trace, sim)).toThrow(/line 1: bytes: 8192 .* at or below 0xffffffffffff .*: map a/);
    const sg = createPricedSimulation({ platform: "dart-u4", strategy: "batched", environment: "xen-dom0" });
    expect(() => replayThroughSimulation(parseTrace("map_sg s to-device 1000:4096 ffffff000:4097\n"), sg)).toThrow(/line 1: segments\[1\]\.bytes: 4097/);
  });
});

describe("coherent pages above 2^32 (a 36-bit Calgary RPN)", () => {
  it("start where coherentBasePfn says, in WASM as in the reference (it was cut to 32 bits)", () => {
    for (const [, io] of both({ platform: "calgary-pcix", coherentBasePfn: 2 ** 33 + 5 })) {
      expect(io.allocCoherent(4096)).toEqual({ dma: 32 * 4096, phys: (2 ** 33 + 5) * 4096 });
      expect(io.entryWord(32)).toBe(((2n ** 33n + 5n) << 12n) | 3n);
    }
  });
});
