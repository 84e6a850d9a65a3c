// WasmIommu.reset(): the instance is back to a fresh one of the same configuration, in place
// (sweeps reuse cores this way), so a run after a reset gives what a run on a new instance gives.
import { describe, expect, it } from "vitest";
import { createIommu, type IommuOptions } from "../lib/node.js";
import type { WasmIommu } from "../lib/wasm-iommu.js";

function drive(io: ReturnType<typeof createIommu>, seed: number): Array<number | null> {
  let s = seed;
  const rnd = (n: number) => {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    return s % n;
  };
  const out: Array<number | null> = [];
  const live: Array<[number, number]> = [];
  for (let i = 0; i < 3000; i++) {
    if (live.length && rnd(3) === 0) {
      const [d, b] = live.splice(rnd(live.length), 1)[0];
      io.unmapSingle(d, b);
    } else {
      const b = 1 + rnd(20000);
      const d = io.mapSingle((0x1000 + i) * 4096 + rnd(4096), b, "to-device");
      out.push(d);
      if (d !== null) live.push([d, b]);
      if (d !== null && rnd(4) === 0) io.deviceAccess(d, 64, "read");
    }
  }
  return out;
}

describe("reset", () => {
  it.each([
    { platform: "calgary-pcix", tableSize: "64K" },
    { platform: "dart-u3" },
    { platform: "calgary-pcix", tableSize: "64K", allocator: "iova", flushPolicy: "flush-queue" },
  ] as IommuOptions[])("%o: a reset instance runs as a new one", (o) => {
    const used = createIommu(o) as WasmIommu;
    drive(used, 7);
    used.reset();
    expect(used.stats()).toEqual(createIommu(o).stats());
    const fresh = createIommu(o);
    expect(drive(used, 11)).toEqual(drive(fresh, 11));
    expect(used.stats()).toEqual(fresh.stats());
    expect(used.hint()).toBe(fresh.hint());
    for (let e = 0; e < 4096; e++) expect(used.entryRaw(e)).toBe(fresh.entryRaw(e));
  });
});

describe("a priced model on a reused core", () => {
  it("prices as on a new one, strategy after strategy on the same instance (the sweep's pool)", async () => {
    const { PricedSimulation } = await import("../lib/sim/priced.js");
    const { createPricedSimulation, parseTrace, replayThroughSimulation } = await import("../lib/node.js");
    const { randomTrace } = await import("./helpers/random-trace.js");
    const trace = parseTrace(randomTrace(1500, 41));
    const shared = createIommu({ platform: "calgary-pcix", tableSize: "64K" }) as WasmIommu;
    for (const strategy of ["cached", "straightforward", "persistent", "batched", "never-free"]) {
      const opts = { platform: "calgary-pcix" as const, strategy, environment: "xen-dom0" as const, iommu: { tableSize: "64K" } };
      const reused = replayThroughSimulation(trace, new PricedSimulation(opts, shared), true).report;
      const fresh = replayThroughSimulation(trace, createPricedSimulation(opts), true).report;
      expect(reused).toStrictEqual(fresh);
    }
  });
});
