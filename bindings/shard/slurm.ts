// The Slurm batch scripts of a sharded grid: a job array, one task per shard, each writing its part
// file, and a merge job run after the whole array succeeded (sbatch --dependency=afterok). Plain
// text from the job's description; submitting them is bindings/cli/slurm.ts's business.

import { join } from "node:path";
import { ConfigError } from "../errors.js";

export interface SbatchOptions {
  partition?: string;
  time?: string;
  cpusPerTask?: number;
  account?: string;
}

export interface SlurmJob {
  /** The grid's command ("sweep", "allocators"). */
  command: string;
  configurations: number;
  shards: number;
  /** Absolute: the scripts, parts/, logs/ and the merged output. */
  dir: string;
  /** Absolute: where the jobs run (the command's paths are relative to it, as given). */
  workdir: string;
  /** Absolute paths: compute nodes run the tool from where this one found it. */
  node: string;
  cli: string;
  /** The command's settings, passed to every shard. */
  args: string[];
  /** The output options, passed to the merge. */
  mergeArgs: string[];
  /** The merged output (what the unsharded command prints). */
  result: string;
  sbatch: SbatchOptions;
}

/** A word for sh, quoted so nothing in it is expanded. */
export const shellWord = (s: string): string => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

export const partOf = (dir: string, shard: number | string): string => join(dir, "parts", `part-${shard}.json`);

export function scriptFiles(dir: string): { shards: string; merge: string } {
  return { shards: join(dir, "shards.sh"), merge: join(dir, "merge.sh") };
}

/** #SBATCH lines take no quoting: a value with a blank, a newline or (in a path) Slurm's % patterns would be misread. */
export function checkSbatchValue(field: string, value: string, path = false): void {
  if (/[\s]/.test(value) || (path && value.includes("%")) || value === "") {
    throw new ConfigError(field, value, `a value without blanks${path ? " or %" : ""} (it goes on an #SBATCH line, which takes no quoting)`);
  }
}

function sbatchLines(o: SbatchOptions): string[] {
  const lines: string[] = [];
  if (o.partition !== undefined) lines.push(`#SBATCH --partition=${o.partition}`);
  if (o.time !== undefined) lines.push(`#SBATCH --time=${o.time}`);
  if (o.cpusPerTask !== undefined) lines.push(`#SBATCH --cpus-per-task=${o.cpusPerTask}`);
  if (o.account !== undefined) lines.push(`#SBATCH --account=${o.account}`);
  return lines;
}

/** The job array's script and the merge job's. */
export function slurmScripts(job: SlurmJob): { shards: string; merge: string } {
  const files = scriptFiles(job.dir);
  const tool = [job.node, job.cli].map(shellWord).join(" ");
  const n = job.shards;
  const shards = [
    "#!/bin/sh",
    `#SBATCH --job-name=iommu-sim-${job.command}`,
    `#SBATCH --array=0-${n - 1}`,
    `#SBATCH --output=${join(job.dir, "logs", "shard-%a.out")}`,
    `#SBATCH --chdir=${job.workdir}`,
    ...sbatchLines(job.sbatch),
    `# iommu-sim ${job.command}: ${job.configurations} configurations in ${n} shards; task K evaluates`,
    `# configurations K, K+${n}, K+${2 * n}, … and writes ${partOf(job.dir, "K")}.`,
    `# A failed shard K alone: sbatch --array=K ${files.shards}, then sbatch ${files.merge}`,
    "set -eu",
    `# the shard is K of the grid's ${n}, not of this array's tasks: a shard resubmitted alone (--array=K) is still K/${n}`,
    ["exec", tool, job.command, ...job.args.map(shellWord), "--shard", `"$SLURM_ARRAY_TASK_ID/${n}"`, "--out", `${shellWord(join(job.dir, "parts"))}/part-"$SLURM_ARRAY_TASK_ID".json`].join(" "),
    "",
  ].join("\n");
  const parts = Array.from({ length: n }, (_, k) => shellWord(partOf(job.dir, k)));
  const merge = [
    "#!/bin/sh",
    `#SBATCH --job-name=iommu-sim-${job.command}-merge`,
    `#SBATCH --output=${join(job.dir, "logs", "merge.out")}`,
    `#SBATCH --chdir=${job.workdir}`,
    ...sbatchLines({ ...job.sbatch, cpusPerTask: undefined }),
    `# Joins the ${n} parts into ${job.result}: what \`iommu-sim ${job.command}\` prints unsharded.`,
    `# Submitted with --dependency=afterok:<the array's job id>; on its own once every part is there.`,
    "set -eu",
    `exec ${tool} merge ${parts.join(" ")} ${[...job.mergeArgs, "--out", job.result].map(shellWord).join(" ")}`,
    "",
  ].join("\n");
  return { shards, merge };
}
