// ffsb-style block IO: disk- and CPU-bound regimes, IOMMU off and on, bad options.
import { describe, expect, it } from "vitest";
import { ConfigError, createIommu } from "../bindings/node.js";
import { ffsb } from "../bindings/workloads/ffsb.js";

describe("ffsb model", () => {
  it("large sequential requests run at the disk's bandwidth", () => {
    const r = ffsb({ pattern: "sequential", ioBytes: 1 << 20, queueDepth: 4, disk: { bandwidthMBps: 120, positioningUs: 8000 } }, "calgary-pcix", "baremetal", "straightforward", createIommu);
    expect(r.off.bottleneck).toBe("disk");
    expect(r.off.mbps).toBeCloseTo(120, 6);
    expect(r.on.mbps).toBeCloseTo(120, 6);
    expect(r.on.cpu).toBeGreaterThan(r.off.cpu); // 256 TCEs per request written and cleared
  });

  it("random requests overlap positioning across the queue", () => {
    const q1 = ffsb({ pattern: "random", ioBytes: 4096, queueDepth: 1, disk: { bandwidthMBps: 100, positioningUs: 5000 } }, "calgary-pcix", "baremetal", "straightforward", createIommu);
    const q8 = ffsb({ pattern: "random", ioBytes: 4096, queueDepth: 8, disk: { bandwidthMBps: 100, positioningUs: 5000 } }, "calgary-pcix", "baremetal", "straightforward", createIommu);
    expect(q1.off.iops).toBeCloseTo(1 / (0.005 + 4096 / 1e8), 3);
    expect(q8.off.iops / q1.off.iops).toBeCloseTo(8, 6);
  });

  it("a fast device makes small requests CPU-bound, and the IOMMU then costs throughput", () => {
    const r = ffsb({ pattern: "sequential", ioBytes: 4096, queueDepth: 32, disk: { bandwidthMBps: 50_000, positioningUs: 0 }, requestCycles: 30000 }, "calgary-pcix", "xen-dom0", "straightforward", createIommu);
    expect(r.off.bottleneck).toBe("cpu");
    expect(r.on.iops).toBeLessThan(r.off.iops);
  });

  it("refuses a request size that is not whole pages", () => {
    expect(() => ffsb({ ioBytes: 1000 }, "calgary-pcix", "baremetal", "straightforward", createIommu)).toThrow(ConfigError);
    expect(() => ffsb({ ioBytes: 1000 }, "calgary-pcix", "baremetal", "straightforward", createIommu)).toThrow(/ioBytes: 1000 .* a multiple of 4096/);
  });
});
