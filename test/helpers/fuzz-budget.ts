// How much the fuzz suites run: a small bounded number under `npm test` (CI stays fast), the
// full count under `npm run fuzz` (vitest.fuzz.config.ts sets IOMMU_SIM_FUZZ=full).

export const FULL_FUZZ = process.env.IOMMU_SIM_FUZZ === "full";

/** Runs of a property: `ci` under npm test, `full` under npm run fuzz. */
export const runs = (ci: number, full: number): number => (FULL_FUZZ ? full : ci);

/** Per-test time limit: the full run takes minutes per test. */
export const FUZZ_TIMEOUT = FULL_FUZZ ? 4 * 3600_000 : 120_000;

/** Counts printed at the end of each fuzz file (and held to the floors under the full run). */
export const counts = { fuzzCases: 0, differentialOps: 0 };

/** A suite's seed, or IOMMU_SIM_FUZZ_SEED's (a long run over other cases; a failure prints the seed to replay it with). */
export const seedOr = (dflt: number): number => {
  const s = process.env.IOMMU_SIM_FUZZ_SEED;
  return s === undefined ? dflt : Number(s) + dflt;
};
