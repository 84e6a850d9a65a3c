// `npm run fuzz`: the fuzz suites at full size (≥ 10^5 fuzz cases, ≥ 10^7 differential
// operations); each file prints its count. `npm test` runs the same files, bounded.
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/fuzz*.test.ts"],
    env: { IOMMU_SIM_FUZZ: "full" },
    testTimeout: 4 * 3600_000,
    hookTimeout: 120_000,
  },
});
