// The studies' NIC model: the modern NIC workload (bindings/workloads/nic.ts) on the WASM core.
// A run maps onto its settings one to one; "none" is the workload's own IOMMU-off baseline of the
// same work (dma-direct), so the IOMMU's cost is the only difference between the two.

import type { IommuOptions } from "../config.js";
import type { PlatformName } from "../platforms.js";
import type { CostProfile } from "../sim/cost-profile.js";
import type { Iommu } from "../types.js";
import { simulateNicWith } from "../workloads/nic.js";
import type { NicOptions } from "../workloads/nic/options.js";
import type { NicModel } from "./nic-model.js";

/** The platform whose run also yields the no-IOMMU baseline: the baseline is the same work without an IOMMU, whatever the platform. */
const BASELINE_CARRIER: PlatformName = "vtd";

export function nicWorkloadOn(makeIommu: (o: IommuOptions) => Iommu): NicModel {
  return (run, profile: CostProfile) => {
    const options: Partial<NicOptions> = {
      platform: (run.platform === "none" ? BASELINE_CARRIER : run.platform) as PlatformName,
      // off: the baseline comes with any run; the carrier keeps its default
      invalidation: run.mode === "off" ? "default" : run.mode,
      linkGbps: run.linkGbps as NicOptions["linkGbps"],
      role: run.role,
      messageBytes: run.messageBytes,
      cpus: run.cpus,
      queues: run.cpus,
      rxRecycling: run.rxRecycling,
      allocator: run.allocator,
      txFragBytes: run.txFragBytes,
    };
    const r = simulateNicWith(makeIommu, options, profile);
    const point = run.mode === "off" ? r.baseline : r;
    return { gbps: point.throughputGbps, cpuPct: point.busiestCpu * 100, model: "nic-workload" };
  };
}
