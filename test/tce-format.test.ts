// Table entry bit layouts: Calgary TCEs (tce.h) and DART entries (dart.h), as stored in memory.
import { describe, expect, it } from "vitest";
import { createIommu } from "../bindings/node.js";

/** The bytes of a big-endian word, read back as a little-endian word (what a view of memory shows). */
const asStored = (word: bigint, bytes: number) => {
  let raw = 0n;
  for (let b = 0; b < bytes; b++) raw |= ((word >> BigInt(8 * (bytes - 1 - b))) & 0xffn) << BigInt(8 * b);
  return raw;
};

describe("Calgary TCE", () => {
  it.each([
    ["to-device", 0x1n], // R only
    ["from-device", 0x3n], // R | W
    ["bidirectional", 0x3n],
  ] as const)("%s: RPN from bit 12, permission bits %s", (dir, perms) => {
    const io = createIommu({ platform: "calgary-pcix" });
    const dma = io.mapSingle(0xabc_1234_5000, 4096, dir)!;
    const entry = dma / 4096;
    const word = io.entryWord(entry);
    expect(word).toBe(0xabc_1234_5000n | perms);
    expect(word & 0xffff_0000_0000_0000n).toBe(0n);
    expect(io.entryRaw(entry)).toBe(asStored(word, 8));
  });

  it("is all zero when freed", () => {
    const io = createIommu({ platform: "calgary-pcix" });
    const dma = io.mapSingle(0x5000, 4096)!;
    io.unmapSingle(dma, 4096);
    expect(io.entryWord(dma / 4096)).toBe(0n);
  });
});

describe("DART entry", () => {
  it("is VALID | 24-bit RPN, direction ignored; a free points it at the spare page", () => {
    const io = createIommu({ platform: "dart-u3", dartDummyPfn: 0x777 });
    expect(io.entryWord(5)).toBe(0x80000777n); // whole table initialised to the spare page
    const dma = io.mapSingle(0xf_3456_7000, 4096, "to-device")!;
    expect(io.entryWord(dma / 4096)).toBe(0x80f34567n);
    expect(io.entryRaw(dma / 4096)).toBe(asStored(0x80f34567n, 4));
    io.unmapSingle(dma, 4096);
    expect(io.entryWord(dma / 4096)).toBe(0x80000777n);
  });

  it("refuses a physical address beyond the 24-bit RPN with a clear error", () => {
    const io = createIommu({ platform: "dart-u4" });
    expect(() => io.mapSingle(2 ** 36, 4096)).toThrow(/phys: .* is not allowed; expected a physical address from 0 to 0xfffffffff/);
  });
});
