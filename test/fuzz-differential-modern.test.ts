// Differential fuzzing on today's page-table platforms (test/helpers/fuzz-differential.ts): VT-d,
// AMD-Vi and SMMUv3 × every allocator × every flush policy, their page-table levels, 2 MiB leaves.
import { fuzzDifferential } from "./helpers/fuzz-differential.js";

fuzzDifferential(["vtd", "amd-vi", "smmuv3"], 3_000_000, { ci: 1, full: 40 });
