// Sweeps: a grid of configurations evaluated serially or over a worker-thread pool (Piscina), in
// chunks, results returned in grid order either way.

import { availableParallelism } from "node:os";
import { fileURLToPath } from "node:url";
import { ConfigError } from "../errors.js";
import type { RunConfig } from "./config.js";
import { evaluate, type RunResult } from "./run.js";
import type { ChunkOutcome } from "./worker.js";

/** More workers than this only adds memory: each holds its own WASM instances and priced rings. */
export function maxSweepThreads(): number {
  return 2 * availableParallelism();
}

export interface SweepOptions {
  /** Worker threads, up to maxSweepThreads(); 0 or 1 = serial in this thread. @default available cores */
  threads?: number;
  onProgress?: (done: number, total: number) => void;
}

export async function sweep(configs: RunConfig[], options: SweepOptions = {}): Promise<RunResult[]> {
  const threads = options.threads ?? availableParallelism();
  const cap = maxSweepThreads();
  if (!Number.isInteger(threads) || threads < 0 || threads > cap) {
    throw new ConfigError("threads", threads, `a whole number from 0 (serial) to ${cap} (twice the ${availableParallelism()} CPUs here)`);
  }
  const progress = options.onProgress ?? (() => {});
  if (threads <= 1) {
    const out: RunResult[] = [];
    for (const c of configs) {
      out.push(evaluate(c));
      progress(out.length, configs.length);
    }
    return out;
  }
  const { Piscina } = await import("piscina"); // only parallel sweeps pay for loading it
  const pool = new Piscina({ filename: fileURLToPath(new URL("./worker-entry.cjs", import.meta.url)), minThreads: threads, maxThreads: threads });
  try {
    // coarse chunks (four a worker): each worker keeps its WASM instance and priced rings across a
    // chunk, and a message round trip per configuration would cost more than small ones take
    const size = Math.max(1, Math.ceil(configs.length / (threads * 4)));
    const chunks: RunConfig[][] = [];
    for (let i = 0; i < configs.length; i += size) chunks.push(configs.slice(i, i + size));
    let done = 0;
    const outcomes = await Promise.all(chunks.map(async (chunk) => {
      const r = (await pool.run(chunk)) as ChunkOutcome;
      done += chunk.length;
      progress(done, configs.length);
      return r;
    }));
    // the first refusal in grid order, as a serial sweep would meet it
    const refused = outcomes.find((o) => "refused" in o);
    if (refused && "refused" in refused) throw new ConfigError(refused.refused.field, refused.refused.value, refused.refused.allowed);
    return outcomes.flatMap((o) => ("results" in o ? o.results : []));
  } finally {
    await pool.destroy();
  }
}
