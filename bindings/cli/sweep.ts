// `iommu-sim sweep`: a grid of configurations, in parallel over worker threads; with --shard, one
// slice of it for a cluster (`merge` joins the parts into this command's own outputs).

import type { Command } from "commander";
import { ConfigError } from "../errors.js";
import { writeAtomicallySync } from "../io/atomic.js";
import { progress } from "../io/progress.js";
import { checkPlotFile, loadRenderer, writePlot } from "../plot/render.js";
import { sweepCpuSpec } from "../plot/specs.js";
import { fileDigest, type Study } from "../shard/part.js";
import { expandGrid, parseGridArg, resolveRun, type RunConfig } from "../sweep/config.js";
import type { RunResult } from "../sweep/run.js";
import { sweep } from "../sweep/sweep.js";
import { jsonOutput } from "./json.js";
import { addRunOptions, checkDistinctAxes, checkOutputs, DEFAULT_CALIBRATION, readConfig, runLayer, threadCount, type RunFlags } from "./options.js";
import { csvOf, formatResults } from "./results.js";
import { addShardOptions, runShard, shardOf, type GridOutputs, type ShardFlags } from "./shard.js";

export interface SweepFlags extends RunFlags, ShardFlags {
  grid?: string[];
  threads?: number;
  serial?: boolean;
  csv?: string;
  plot?: string;
  quiet?: boolean;
  json?: boolean;
}

/** A sweep's grid: the base configuration and the axes over it, in the order given. */
export interface SweepSpec {
  base: RunConfig;
  grid: Array<[keyof RunConfig, Array<string | number>]>;
}

/** The sweep's options, shared with `slurm sweep`, which passes them on to each shard. */
export function addSweepOptions(cmd: Command): Command {
  return addRunOptions(cmd)
    .option("--grid <key=v1,v2,...>", "a grid axis; repeat for more axes (e.g. --grid messageBytes=64,1024,65536 --grid strategy=straightforward,batched)", (v: string, prev: string[] = []) => [...prev, v])
    .option("--threads <n>", "worker threads, 1 to twice the CPU count (default: one per CPU)", threadCount)
    .option("--serial", "evaluate in this thread")
    .option("--csv <file>", "write the results as CSV")
    .option("--json", "print the results as JSON")
    .option("--plot <file>", "plot on-CPU against the first grid axis (FILE.svg or FILE.html)")
    .option("--quiet", "no progress bar");
}

/** The grid the flags describe, checked (every configuration resolved) before anything runs. */
export function sweepStudy(flags: SweepFlags): { study: Study; configs: RunConfig[] } {
  const base = resolveRun(readConfig(flags.config), runLayer(flags));
  const grid = (flags.grid ?? []).map(parseGridArg);
  if (grid.length === 0) throw new ConfigError("--grid", undefined, "at least one axis, KEY=V1,V2,…");
  checkDistinctAxes(grid);
  const configs = expandGrid(base, grid);
  const spec: SweepSpec = { base, grid };
  // netperf runs are priced with the shipped calibration: another profile is another grid
  return { study: { command: "sweep", spec, inputs: { profile: fileDigest("profile", DEFAULT_CALIBRATION) }, configurations: configs.length }, configs };
}

/** Checks the output files and the renderer before any work (a typo costs no simulation). */
export async function checkSweepOutputs(out: GridOutputs): Promise<void> {
  checkOutputs(["--csv", out.csv], ["--plot", out.plot]);
  checkPlotFile("--plot", out.plot);
  if (out.plot) await loadRenderer("--plot", out.plot);
}

/** What a sweep prints (the table, or JSON with --json), and its --csv and --plot files: for the whole grid or merged parts alike. */
export async function sweepOutputs(spec: SweepSpec, results: RunResult[], out: GridOutputs, print: (text: string) => void): Promise<void> {
  const configs = expandGrid(spec.base, spec.grid);
  const keys = spec.grid.map(([k]) => k);
  print(out.json ? jsonOutput("sweep", { runs: configs.map((config, i) => ({ config, result: results[i] })) }) : formatResults(configs, results, keys) + "\n");
  if (out.csv) writeAtomicallySync(out.csv, csvOf(configs, results));
  if (out.plot) await writePlot(out.plot, [sweepCpuSpec(configs, results.map((r) => r.onCpu), keys)]);
}

export function registerSweep(program: Command): void {
  addShardOptions(addSweepOptions(
    program
      .command("sweep")
      .description("Evaluate a grid of configurations (any run setting), in parallel over worker threads; --shard: one slice of it, for `merge`"),
  ))
    .action(async (flags: SweepFlags) => {
      const { study, configs } = sweepStudy(flags);
      const target = shardOf("sweep", flags, flags);
      if (!target) await checkSweepOutputs(flags);
      const threads = flags.serial ? 1 : flags.threads;
      const evaluate = async (todo: RunConfig[]) => {
        const bar = progress(`sweep of ${todo.length}`, flags.quiet ?? false);
        const results = await sweep(todo, { threads, onProgress: (d, t) => bar.update(d, t) });
        bar.stop();
        return results;
      };
      if (target) {
        await runShard(study, target, (indices) => evaluate(indices.map((i) => configs[i])));
        return;
      }
      await sweepOutputs(study.spec as SweepSpec, await evaluate(configs), flags, (text) => process.stdout.write(text));
    });
}
