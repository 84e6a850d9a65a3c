// Which configurations of a grid one shard evaluates. Round-robin by grid index (configuration i
// goes to shard i mod N): a grid's slow axes (the workload, the message size) vary slowest, so
// contiguous slices would hand one shard all the expensive configurations; round-robin spreads
// every axis's values over all shards. The same rule for every command and every I/N.

import { ConfigError } from "../errors.js";

export interface Shard {
  /** 0 … count − 1 */
  index: number;
  count: number;
}

const SHAPE = "I/N with whole numbers 0 ≤ I < N (e.g. 0/4), or auto (I and N from Slurm's SLURM_ARRAY_TASK_ID and SLURM_ARRAY_TASK_COUNT)";

/** `--shard I/N` or `--shard auto` (a Slurm job-array task: the array's task id and task count). */
export function parseShard(text: string, env: NodeJS.ProcessEnv = process.env): Shard {
  if (text === "auto") return shardFromSlurm(env);
  const m = /^(\d+)\/(\d+)$/.exec(text.trim());
  if (!m) throw new ConfigError("--shard", text, SHAPE);
  const index = Number(m[1]);
  const count = Number(m[2]);
  if (count < 1 || index >= count || !Number.isSafeInteger(count)) throw new ConfigError("--shard", text, SHAPE);
  return { index, count };
}

function slurmNumber(env: NodeJS.ProcessEnv, name: string, fallback?: number): number {
  const v = env[name];
  if (v === undefined || v === "") {
    if (fallback !== undefined) return fallback;
    throw new ConfigError(name, v, "a whole number, set by Slurm in each task of a job array (sbatch --array); outside a job array give --shard I/N");
  }
  if (!/^\d+$/.test(v.trim())) throw new ConfigError(name, v, "a whole number (Slurm sets it in each task of a job array)");
  return Number(v);
}

/**
 * I = SLURM_ARRAY_TASK_ID − SLURM_ARRAY_TASK_MIN (an array need not start at 0), N =
 * SLURM_ARRAY_TASK_COUNT. An array with a step (--array=0-10:2) or a hand-picked list has ids
 * that are not 0 … N − 1 after the shift: refused rather than evaluated as a wrong slice.
 */
export function shardFromSlurm(env: NodeJS.ProcessEnv): Shard {
  const id = slurmNumber(env, "SLURM_ARRAY_TASK_ID");
  const count = slurmNumber(env, "SLURM_ARRAY_TASK_COUNT");
  const min = slurmNumber(env, "SLURM_ARRAY_TASK_MIN", 0);
  if (count < 1) throw new ConfigError("SLURM_ARRAY_TASK_COUNT", env.SLURM_ARRAY_TASK_COUNT, "at least 1");
  const index = id - min;
  if (index < 0 || index >= count) {
    throw new ConfigError("SLURM_ARRAY_TASK_ID", env.SLURM_ARRAY_TASK_ID,
      `an id from SLURM_ARRAY_TASK_MIN (${min}) to ${min + count - 1}: --shard auto needs a contiguous array (--array=${min}-${min + count - 1}, no step)`);
  }
  return { index, count };
}

/** The grid indices shard `s` evaluates out of `total`, ascending. */
export function shardIndices(s: Shard, total: number): number[] {
  const out: number[] = [];
  for (let i = s.index; i < total; i += s.count) out.push(i);
  return out;
}
