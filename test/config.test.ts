// Bad input is refused with the field, the value and what is allowed; never a WASM trap.
import { describe, expect, it } from "vitest";
import { ConfigError, createIommu, createReferenceIommu, type IommuOptions } from "../bindings/node.js";
import { putMap } from "../bindings/records.js";

describe("options", () => {
  it.each([
    [{ platform: "vt-d" }, /platform: "vt-d" is not allowed; expected one of calgary-pcix, calioc2, dart-u3, dart-u4, vtd, amd-vi, smmuv3/],
    [{ platform: "calgary-pcix", tableSize: "16M" }, /tableSize: "16M" .* one of 8M, 4M, 2M, 1M, 512K, 256K, 128K, 64K/],
    [{ platform: "calgary-pcix", tableSize: "big" }, /tableSize: "big" .* a byte count or a size/],
    [{ platform: "calgary-pcix", cache: { entries: 48, ways: 4 } }, /cache.entries: 48 .* 0 or a power of two/],
    [{ platform: "calgary-pcix", cache: { entries: 64, ways: 3 } }, /cache.ways: 3 .* a power of two dividing cache.entries \(64\)/],
    [{ platform: "calgary-pcix", flushPolicy: "sometimes" }, /flushPolicy: "sometimes" .* on-wrap, strict, all-after-map, one-per-page, never/],
    [{ platform: "calgary-pcix", segmentBoundary: 1000 }, /segmentBoundary: 1000 .* a power of two ≥ 4096/],
    [{ platform: "calgary-pcix", tabelSize: "8M" }, /tabelSize: "8M" .* no such option/],
    [{ platform: "dart-u3", dartDummyPfn: 2 ** 24 }, /dartDummyPfn: .* an integer from 0 to 16777215/],
    [{ platform: "vtd", invalidation: "qi" }, /invalidation: "qi" .* one of none, vtd-qi, amd-cmdbuf, smmuv3-cmdq/],
    [{ platform: "amd-vi", invalidationCaps: { mamv: 9 } }, /invalidationCaps.mamv: 9 .* left out: the amd-cmdbuf interface has no capabilities to set/],
    [{ platform: "vtd", invalidationCaps: { rangeInvalidation: true } }, /invalidationCaps.rangeInvalidation: true .* the vtd-qi interface has mamv, rwbf/],
    [{ platform: "vtd", invalidationCaps: { mamv: 64 } }, /invalidationCaps.mamv: 64 .* an integer from 0 to 63/],
    [{ platform: "smmuv3", invalidationCaps: { rangeInvalidation: "yes" } }, /invalidationCaps.rangeInvalidation: "yes" .* true or false/],
    [{ platform: "vtd", invalidationCaps: null }, /invalidationCaps: null .* \{ mamv\?, rwbf\?, rangeInvalidation\? \}/],
    // found by npm run fuzz (issue 14): a key that is no name made the field "invalidationCaps. "
    [{ platform: "calgary-pcix", invalidationCaps: { " ": {} } }, /^invalidationCaps: \{" ":\{\}\} is not allowed; expected left out: the none interface/],
  ])("refuses %j", (options, message) => {
    expect(() => createIommu(options as unknown as IommuOptions)).toThrow(ConfigError);
    expect(() => createIommu(options as unknown as IommuOptions)).toThrow(message);
    expect(() => createReferenceIommu(options as unknown as IommuOptions)).toThrow(message);
  });
});

describe("operation arguments", () => {
  const io = createIommu({ platform: "calgary-pcix" });
  it.each([
    [() => io.mapSingle(0x1000, 0), /bytes: 0 .* from 1 to 4294967295/],
    [() => io.mapSingle(-1, 10), /phys: -1 .* a physical address from 0 to/],
    [() => io.mapSingle(0x1000, 10, "sideways" as never), /dir: "sideways" .* bidirectional \| to-device \| from-device/],
    [() => io.unmapSingle(2 ** 32, 10), /dma: .* a DMA address from 0 to 0xffffffff/],
    [() => io.mapSg([]), /segments: "0 segments" .* a list of 1 to 4096 segments/],
    [() => io.deviceAccess(0, 8, "poke" as never), /kind: "poke" .* read \| write/],
    [() => io.entryWord(1 << 20), /index: .* a table entry from 0 to 1048575/],
    [() => io.batch.run(io.batch.capacity + 1), /count: 4097 .* from 0 to the batch capacity 4096/],
  ])("refuses %#", (f, message) => {
    expect(f).toThrow(message);
  });

  it("answers a batch record with an out-of-range handle with BAD_RECORD, not a trap", () => {
    const m = createIommu({ platform: "calgary-pcix", maxHandles: 8 });
    putMap(m.batch.ops, 0, 8, 0x1000, 64, 0);
    m.batch.run(1);
    expect(m.batch.results[0]).toBe(-2);
    expect(m.stats().maps).toBe(0);
  });
});

describe("determinism", () => {
  it("the same operations give the same results bit for bit in a fresh instance", () => {
    const run = () => {
      const m = createIommu({ platform: "dart-u3" });
      const out: unknown[] = [];
      for (let i = 0; i < 2000; i++) out.push(m.mapSingle((i * 2654435761) % 2 ** 30, 1 + ((i * 40503) % 70000)));
      return [out, m.stats()];
    };
    expect(run()).toEqual(run());
  });
});
