// A sweep worker: one WASM instance per thread (created on first use), evaluating configurations.
import type { RunConfig } from "./config.js";
import { evaluate } from "./run.js";

export default function work(configs: RunConfig[]) {
  return configs.map(evaluate);
}
