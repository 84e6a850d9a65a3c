// The price of safety across IOMMUs: the same NIC ring (dma-price.ts priceRing) on each platform
// in its own invalidation mode — the 2007 study's Calgary (deferred and strict) and DART U4,
// today's VT-d and AMD-Vi (lazy: the kernel's x86 default; strict) and SMMUv3 (strict: arm64's
// default), and two proposals: the rIOMMU (one-at-a-time completions, and NAPI-style bursts of 16)
// and shadow DMA buffers (Markuze, Morrison, Tsafrir, ASPLOS 2016: the device reaches only buffers
// that are never unmapped, data is copied to and from them — the `persistent` strategy's mechanics,
// here on VT-d) — priced with one cost profile, beside the same environment with no IOMMU.

import type { IommuOptions } from "../config.js";
import type { Iommu } from "../types.js";
import type { PlatformName } from "../platforms.js";
import { DEFAULT_PROFILE, type CostProfile } from "../sim/cost-profile.js";
import { ENVIRONMENTS } from "../sim/environments.js";
import type { FrontierPoint } from "../plot/specs.js";
import { pairCycles, priceRing, type PairCounts } from "./dma-price.js";

/** One point of the comparison: a platform, the strategy it is priced with, the ring's bursts. */
export interface PlatformConfiguration {
  label: string;
  platform: PlatformName;
  strategy: string;
  burst: number;
}

/**
 * What the figure compares: each platform in its kernel's default mode, VT-d and AMD-Vi strict
 * too; SMMUv3's lazy mode (not arm64's default) is left out. Today's platforms' invalidations are
 * priced from the commands their queues carry and the waits (assembly/invalidation/).
 */
export const PLATFORM_CONFIGURATIONS: readonly PlatformConfiguration[] = [
  { label: "calgary-pcix deferred", platform: "calgary-pcix", strategy: "straightforward", burst: 1 },
  { label: "calgary-pcix strict", platform: "calgary-pcix", strategy: "straightforward+strict-flush", burst: 1 },
  { label: "dart-u4", platform: "dart-u4", strategy: "straightforward", burst: 1 },
  { label: "vtd lazy", platform: "vtd", strategy: "straightforward", burst: 1 },
  { label: "vtd strict", platform: "vtd", strategy: "straightforward+strict-flush", burst: 1 },
  { label: "amd-vi lazy", platform: "amd-vi", strategy: "straightforward", burst: 1 },
  { label: "amd-vi strict", platform: "amd-vi", strategy: "straightforward+strict-flush", burst: 1 },
  { label: "smmuv3 strict", platform: "smmuv3", strategy: "straightforward", burst: 1 },
  { label: "riommu", platform: "riommu", strategy: "straightforward", burst: 1 },
  { label: "riommu, bursts of 16", platform: "riommu", strategy: "straightforward", burst: 16 },
  { label: "vtd shadow buffers", platform: "vtd", strategy: "persistent", burst: 1 },
];

const total = (counts: PairCounts, cycles: CostProfile["cycles"]) => Object.values(pairCycles(counts, cycles)).reduce((a, b) => a + (b ?? 0), 0);

/** Cycles the IOMMU adds per map + unmap pair, and what the ring leaves reachable, per configuration and environment. */
export function platformFrontier(makeIommu: (o: IommuOptions) => Iommu, profile: CostProfile = DEFAULT_PROFILE): FrontierPoint[] {
  return ENVIRONMENTS.flatMap((environment) => {
    const none = new Map<number, number>();
    return PLATFORM_CONFIGURATIONS.map(({ label, platform, strategy, burst }) => {
      if (!none.has(burst)) none.set(burst, total(priceRing("none", environment, "straightforward", makeIommu, burst).counts, profile.cycles));
      const { counts, exposure } = priceRing(platform, environment, strategy, makeIommu, burst);
      return {
        environment, strategy: label, price: total(counts, profile.cycles) - none.get(burst)!, reachableBytes: exposure.reachableBytes,
        exposed: exposure.releasedButLivePeak > 0 || exposure.lateDmaReachedPct > 0, releasedButLivePeak: exposure.releasedButLivePeak,
      };
    });
  });
}
