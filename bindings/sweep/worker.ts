// A sweep worker: one WASM instance per thread (created on first use), evaluating configurations.
// A refused configuration comes back as data: an Error crossing the thread boundary loses its
// class, and the CLI must report it as bad input (exit 1), exactly as a serial sweep does.
import { ConfigError } from "../errors.js";
import type { RunConfig } from "./config.js";
import { evaluate, type RunResult } from "./run.js";

export type ChunkOutcome =
  | { results: RunResult[] }
  | { refused: { field: string; value: unknown; allowed: string } };

export default function work(configs: RunConfig[]): ChunkOutcome {
  try {
    return { results: configs.map(evaluate) };
  } catch (e) {
    if (e instanceof ConfigError) return { refused: { field: e.field, value: e.value, allowed: e.allowed } };
    throw e;
  }
}
