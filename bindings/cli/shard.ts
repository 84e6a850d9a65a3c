// What `--shard I/N|auto` and `--out FILE` mean for every command that evaluates a grid: the
// shard's slice evaluated, written as a part file for `merge`; the command's own outputs (table,
// --json, --csv, --plot) come from `merge`, which hands the rows to the same output functions.

import type { Command } from "commander";
import { ConfigError } from "../errors.js";
import { writePart, type Study } from "../shard/part.js";
import { parseShard, shardIndices, type Shard } from "../shard/shard.js";
import { checkOutputs } from "./options.js";

export interface ShardFlags {
  shard?: string;
  out?: string;
}

/** The outputs a grid's rows are turned into, by the command itself or by `merge`. */
export interface GridOutputs {
  json?: boolean;
  csv?: string;
  plot?: string;
}

export function addShardOptions(cmd: Command): Command {
  return cmd
    .option("--shard <I/N|auto>", "evaluate only shard I of N (configurations I, I+N, I+2N, … of the grid) and write a part file for `merge`; auto: I and N from Slurm's SLURM_ARRAY_TASK_ID / SLURM_ARRAY_TASK_COUNT (minus SLURM_ARRAY_TASK_MIN)")
    .option("--out <file>", "with --shard: the part file (default: COMMAND.part-I-of-N.json here)");
}

/**
 * The shard to evaluate, or undefined for the whole grid. With a shard the results go to the part
 * file only: the table, --json, --csv and --plot are the merge's, refused here before any work.
 */
export function shardOf(command: string, flags: ShardFlags, outputs: GridOutputs): { shard: Shard; file: string } | undefined {
  if (flags.shard === undefined) {
    if (flags.out !== undefined) throw new ConfigError("--out", flags.out, "to be given with --shard (the part file); without --shard the results are printed");
    return undefined;
  }
  const shard = parseShard(flags.shard);
  for (const [field, given] of [["--json", outputs.json], ["--csv", outputs.csv], ["--plot", outputs.plot]] as const) {
    if (given !== undefined && given !== false) throw new ConfigError(field, given, `to be left out with --shard: a shard writes a part file; give ${field} to \`iommu-sim merge\``);
  }
  const file = flags.out ?? `${command}.part-${shard.index}-of-${shard.count}.json`;
  checkOutputs(["--out", file]);
  return { shard, file };
}

/** Evaluates the shard's slice of `study` with `evaluate` (rows in the order of the indices given) and writes its part file. */
export async function runShard<Row>(study: Study, target: { shard: Shard; file: string }, evaluate: (indices: number[]) => Promise<Row[]> | Row[]): Promise<void> {
  const indices = shardIndices(target.shard, study.configurations);
  const rows = await evaluate(indices);
  writePart(target.file, study, target.shard, indices.map((index, k) => ({ index, row: rows[k] })));
  process.stderr.write(`shard ${target.shard.index}/${target.shard.count}: ${indices.length} of ${study.configurations} configurations → ${target.file}\n`);
}
