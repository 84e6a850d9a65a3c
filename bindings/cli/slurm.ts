// `iommu-sim slurm sweep|allocators|replay … --shards N`: the grid as a Slurm job array (one task per
// shard, `--shard K/N`) and a merge job that runs once every task succeeded; written, printed
// (--dry-run) or submitted with sbatch (--submit). Slurm does the scheduling: no queue of ours.

import { spawnSync } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { type Command, InvalidArgumentError } from "commander";
import { ConfigError } from "../errors.js";
import { checkPlotFile } from "../plot/render.js";
import { checkSbatchValue, scriptFiles, slurmScripts, type SbatchOptions, type SlurmJob } from "../shard/slurm.js";
import { addAllocatorsOptions, allocatorsStudy, checkShardedTrace, type AllocatorsFlags } from "./allocators.js";
import { checkOutputs, wholeNumber } from "./options.js";
import { addReplayOptions, type ReplayFlags } from "./replay.js";
import { replayGridStudy } from "./replay-grid.js";
import { addSweepOptions, sweepStudy, type SweepFlags } from "./sweep.js";

/** The #SBATCH settings (SbatchOptions) and what `slurm` itself takes. */
interface SlurmFlags extends SbatchOptions {
  shards: number;
  dir?: string;
  submit?: boolean;
  dryRun?: boolean;
}

/** A command whose grid can be sharded: its options (and arguments), its grid's size, which options are the merge's. */
interface GridCommand {
  name: "sweep" | "allocators" | "replay";
  addOptions(cmd: Command): Command;
  configurations(flags: Record<string, unknown>, args: string[]): number;
  outputs: Array<"json" | "csv" | "plot">;
}

const GRID_COMMANDS: GridCommand[] = [
  { name: "sweep", addOptions: addSweepOptions, configurations: (f) => sweepStudy(f as SweepFlags).study.configurations, outputs: ["json", "csv", "plot"] },
  {
    name: "allocators", addOptions: addAllocatorsOptions, outputs: ["json", "csv"],
    configurations: (f) => {
      checkShardedTrace((f as unknown as AllocatorsFlags).trace);
      return allocatorsStudy(f as unknown as AllocatorsFlags).study.configurations;
    },
  },
  { name: "replay", addOptions: addReplayOptions, configurations: (f, traces) => replayGridStudy(traces, f as unknown as ReplayFlags).study.configurations, outputs: ["json", "csv"] },
];

const SLURM_OPTIONS = new Set(["shards", "partition", "time", "cpusPerTask", "account", "dir", "submit", "dryRun"]);

const atLeastOne = (v: string): number => {
  const n = wholeNumber(v);
  if (n < 1) throw new InvalidArgumentError("expected a whole number from 1");
  return n;
};

/**
 * The options given on the command line (not defaults), as words for each shard and for the merge.
 * Paths stay as given: the jobs run in this directory (--chdir), so every shard reads the same
 * files and the merged output names them as the unsharded command would.
 */
function forwarded(cmd: Command, grid: GridCommand, flags: Record<string, unknown>): { args: string[]; mergeArgs: string[] } {
  const args: string[] = [];
  const mergeArgs: string[] = [];
  for (const o of cmd.options) {
    const key = o.attributeName();
    if (SLURM_OPTIONS.has(key) || cmd.getOptionValueSource(key) !== "cli" || !o.long) continue;
    const value = flags[key];
    const into = (grid.outputs as string[]).includes(key) ? mergeArgs : args;
    for (const v of Array.isArray(value) ? value : [value]) {
      if (o.isBoolean()) {
        if (v) into.push(o.long);
      } else into.push(o.long, typeof v === "object" ? raw(key, v) : String(v));
    }
  }
  return { args, mergeArgs };
}

/** An option value a parser turned into an object, back in its command-line form (--cache 64x4). */
function raw(key: string, v: unknown): string {
  const c = v as { entries?: number; ways?: number };
  if (key === "cache" && c.entries !== undefined) return c.entries === 0 ? "0" : `${c.entries}x${c.ways}`;
  throw new Error(`option ${key}: no command-line form for ${JSON.stringify(v)}`);
}

function sbatch(args: string[]): string {
  const r = spawnSync("sbatch", ["--parsable", ...args], { encoding: "utf8" });
  if (r.error && (r.error as NodeJS.ErrnoException).code === "ENOENT") {
    throw new ConfigError("--submit", "sbatch", "Slurm's sbatch on PATH: it is not here (run on the cluster's login node, or leave out --submit to write the scripts, or --dry-run to print them)");
  }
  if (r.error) throw r.error;
  if (r.status !== 0) throw new ConfigError("sbatch", args.join(" "), `to be accepted by Slurm; sbatch said: ${r.stderr.trim() || `exit ${r.status}`}`);
  // --parsable prints "jobid" or "jobid;cluster"
  return r.stdout.trim().split(";")[0];
}

export function registerSlurm(program: Command): void {
  const slurm = program
    .command("slurm")
    .description("Run a grid on a Slurm cluster: a job array of --shard tasks and a merge job after them (sbatch)");
  for (const grid of GRID_COMMANDS) {
    const cmd = grid.addOptions(slurm.command(grid.name).description(`${grid.name} as a Slurm job array of N shards and a merge job`))
      .requiredOption("--shards <n>", "shards (array tasks); configuration i runs in shard i mod N", atLeastOne)
      .option("--partition <p>", "sbatch --partition of every job")
      .option("--time <t>", "sbatch --time of every job (e.g. 1:00:00)")
      .option("--cpus-per-task <c>", "sbatch --cpus-per-task of each shard (a sweep shard runs that many threads)", atLeastOne)
      .option("--account <a>", "sbatch --account of every job")
      .option("--dir <dir>", `the scripts, parts/, logs/ and the merged output (default: ./slurm-${grid.name})`)
      .option("--submit", "submit with sbatch and print the job ids")
      .option("--dry-run", "print the scripts and the sbatch commands; write and submit nothing");
    cmd.action((...given: unknown[]) => {
      const flags = cmd.opts() as SlurmFlags & Record<string, unknown>;
      const positional = (given.length > 2 ? given[0] : []) as string[];
      if (flags.submit && flags.dryRun) throw new ConfigError("--dry-run", true, "to be left out with --submit (one or the other)");
      for (const [field, v] of [["--partition", flags.partition], ["--time", flags.time], ["--account", flags.account]] as const) if (v !== undefined) checkSbatchValue(field, v);
      const dir = resolve(flags.dir ?? `slurm-${grid.name}`);
      checkSbatchValue("--dir", dir, true);
      // the grid is checked here, not on the compute nodes: a bad value costs no queueing
      const configurations = grid.configurations(flags, positional);
      const workdir = process.cwd();
      checkSbatchValue("the working directory", workdir, true);
      if (!flags.dryRun) checkOutputs(["--csv", flags.csv as string | undefined], ["--plot", flags.plot as string | undefined]);
      checkPlotFile("--plot", flags.plot as string | undefined);
      const forward = forwarded(cmd, grid, flags);
      const { mergeArgs } = forward;
      const args = [...positional, ...forward.args];
      // a sweep shard uses the CPUs Slurm gives it, unless told otherwise
      if (grid.name === "sweep" && flags.threads === undefined && !flags.serial) args.push(...((flags.cpusPerTask ?? 1) > 1 ? ["--threads", String(flags.cpusPerTask)] : ["--serial"]));
      const job: SlurmJob = {
        command: grid.name, configurations, shards: flags.shards, dir, workdir,
        node: process.execPath, cli: fileURLToPath(new URL("../cli.js", import.meta.url)),
        args, mergeArgs, result: resolve(dir, flags.json ? "result.json" : "result.txt"),
        sbatch: { partition: flags.partition, time: flags.time, cpusPerTask: flags.cpusPerTask, account: flags.account },
      };
      const scripts = slurmScripts(job);
      const files = scriptFiles(dir);
      const submitLines = [`array=$(sbatch --parsable ${files.shards})`, `sbatch --parsable --dependency=afterok:\${array%%;*} ${files.merge}`];
      if (flags.dryRun) {
        process.stdout.write(`# ${files.shards}\n${scripts.shards}\n# ${files.merge}\n${scripts.merge}\n# submit:\n${submitLines.join("\n")}\n`);
        return;
      }
      mkdirSync(resolve(dir, "parts"), { recursive: true });
      mkdirSync(resolve(dir, "logs"), { recursive: true });
      writeFileSync(files.shards, scripts.shards, { mode: 0o755 });
      writeFileSync(files.merge, scripts.merge, { mode: 0o755 });
      // a result left by an earlier submission must not pass for this one's
      rmSync(job.result, { force: true });
      if (!flags.submit) {
        process.stdout.write(`wrote ${files.shards} (${flags.shards} shards of ${configurations} configurations) and ${files.merge}; submit with:\n${submitLines.join("\n")}\n`);
        return;
      }
      const array = sbatch([files.shards]);
      const merge = sbatch([`--dependency=afterok:${array}`, files.merge]);
      process.stdout.write([
        `shards: job ${array} (array 0-${flags.shards - 1}, ${configurations} configurations), logs in ${resolve(dir, "logs")}`,
        `merge: job ${merge} after all shards succeed, writes ${job.result}`,
        `a failed shard K alone: sbatch --array=K ${files.shards}, then: scancel ${merge}; sbatch ${files.merge}`,
        "",
      ].join("\n"));
    });
  }
}
