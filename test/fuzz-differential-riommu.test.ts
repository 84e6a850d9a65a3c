// Differential fuzzing on the rIOMMU (test/helpers/fuzz-differential.ts): every ring size and flush
// policy, options and operations it accepts and ones it refuses (both models alike).
import { fuzzDifferential } from "./helpers/fuzz-differential.js";

fuzzDifferential(["riommu"], 3_000_000, { ci: 4, full: 1000 });
