// Differential fuzzing on the Calgary platforms (test/helpers/fuzz-differential.ts): half of the
// ≥ 10^7 operations of `npm run fuzz`.
import { fuzzDifferential } from "./helpers/fuzz-differential.js";

fuzzDifferential(["calgary-pcix", "calioc2"], 5_000_000);
