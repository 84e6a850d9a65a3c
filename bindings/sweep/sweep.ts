// Sweeps: a grid of configurations evaluated serially or over a worker-thread pool (Piscina), in
// chunks, results returned in grid order either way.

import { availableParallelism } from "node:os";
import type { RunConfig } from "./config.js";
import { evaluate, type RunResult } from "./run.js";

export interface SweepOptions {
  /** Worker threads; 0 or 1 = serial in this thread. @default available cores */
  threads?: number;
  onProgress?: (done: number, total: number) => void;
}

export async function sweep(configs: RunConfig[], options: SweepOptions = {}): Promise<RunResult[]> {
  const threads = options.threads ?? availableParallelism();
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
  const pool = new Piscina({ filename: new URL("./worker.js", import.meta.url).href, minThreads: threads, maxThreads: threads });
  try {
    // chunks keep each worker's priced rings warm while still spreading the grid
    const size = Math.max(1, Math.ceil(configs.length / (threads * 32)));
    const chunks: RunConfig[][] = [];
    for (let i = 0; i < configs.length; i += size) chunks.push(configs.slice(i, i + size));
    let done = 0;
    const results = await Promise.all(chunks.map(async (chunk) => {
      const r = (await pool.run(chunk)) as RunResult[];
      done += chunk.length;
      progress(done, configs.length);
      return r;
    }));
    return results.flat();
  } finally {
    await pool.destroy();
  }
}
