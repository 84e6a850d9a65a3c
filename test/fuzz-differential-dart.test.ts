// Differential fuzzing on the DART platforms (test/helpers/fuzz-differential.ts): half of the
// ≥ 10^7 operations of `npm run fuzz`.
import { fuzzDifferential } from "./helpers/fuzz-differential.js";

fuzzDifferential(["dart-u3", "dart-u4"], 5_000_000);
