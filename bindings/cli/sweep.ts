// `iommu-sim sweep`: a grid of configurations, in parallel over worker threads.

import type { Command } from "commander";
import { ConfigError } from "../errors.js";
import { writeAtomicallySync } from "../io/atomic.js";
import { progress } from "../io/progress.js";
import { loadRenderer, writePlot } from "../plot/render.js";
import { sweepCpuSpec } from "../plot/specs.js";
import { expandGrid, parseGridArg, resolveRun } from "../sweep/config.js";
import { sweep } from "../sweep/sweep.js";
import { jsonOutput } from "./json.js";
import { addRunOptions, checkOutputs, readConfig, runLayer, threadCount, type RunFlags } from "./options.js";
import { csvOf, formatResults } from "./results.js";

interface SweepFlags extends RunFlags {
  grid?: string[];
  threads?: number;
  serial?: boolean;
  csv?: string;
  plot?: string;
  quiet?: boolean;
  json?: boolean;
}

export function registerSweep(program: Command): void {
  addRunOptions(
    program
      .command("sweep")
      .description("Evaluate a grid of configurations (any run setting), in parallel over worker threads"),
  )
    .option("--grid <key=v1,v2,...>", "a grid axis; repeat for more axes (e.g. --grid messageBytes=64,1024,65536 --grid strategy=straightforward,batched)", (v: string, prev: string[] = []) => [...prev, v])
    .option("--threads <n>", "worker threads, 1 to twice the CPU count (default: one per CPU)", threadCount)
    .option("--serial", "evaluate in this thread")
    .option("--csv <file>", "write the results as CSV")
    .option("--json", "print the results as JSON")
    .option("--plot <file>", "plot on-CPU against the first grid axis (FILE.svg or FILE.html)")
    .option("--quiet", "no progress bar")
    .action(async (flags: SweepFlags) => {
      checkOutputs(["--csv", flags.csv], ["--plot", flags.plot]);
      if (flags.plot) await loadRenderer("--plot", flags.plot); // a missing renderer is reported before the sweep, not after
      const base = resolveRun(readConfig(flags.config), runLayer(flags));
      const grid = (flags.grid ?? []).map(parseGridArg);
      if (grid.length === 0) throw new ConfigError("--grid", undefined, "at least one axis, KEY=V1,V2,…");
      const configs = expandGrid(base, grid);
      const bar = progress(`sweep of ${configs.length}`, flags.quiet ?? false);
      const threads = flags.serial ? 1 : flags.threads;
      const results = await sweep(configs, { threads, onProgress: (d, t) => bar.update(d, t) });
      bar.stop();
      const keys = grid.map(([k]) => k);
      if (flags.json) process.stdout.write(jsonOutput("sweep", { runs: configs.map((config, i) => ({ config, result: results[i] })) }));
      else process.stdout.write(formatResults(configs, results, keys) + "\n");
      if (flags.csv) writeAtomicallySync(flags.csv, csvOf(configs, results));
      if (flags.plot) await writePlot(flags.plot, [sweepCpuSpec(configs, results.map((r) => r.onCpu), keys)]);
    });
}
