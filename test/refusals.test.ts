// Regression tests for issue 12: inputs that used to be silently changed or wrongly accepted are
// now refused with a ConfigError naming the field, the value and what is allowed — in the WASM
// model and the reference alike.
import { describe, expect, it } from "vitest";
import { ConfigError, createIommu, createReferenceIommu, type Iommu, type IommuOptions } from "../bindings/node.js";

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
