// `iommu-sim run`: one configuration, IOMMU off and on.

import type { Command } from "commander";
import { resolveRun, RUN_KEYS } from "../sweep/config.js";
import { evaluate } from "../sweep/run.js";
import { jsonOutput } from "./json.js";
import { addRunOptions, readConfig, runLayer, type RunFlags } from "./options.js";
import { formatResults } from "./results.js";

export function registerRun(program: Command): void {
  addRunOptions(
    program
      .command("run")
      .description("One configuration (workload, platform, strategy, environment, workload knobs), IOMMU off and on"),
  )
    .option("--json", "print one JSON object")
    .action((flags: RunFlags) => {
      const config = resolveRun(readConfig(flags.config), runLayer(flags));
      const result = evaluate(config);
      if (flags.json) process.stdout.write(jsonOutput("run", { config, result }));
      else process.stdout.write(formatResults([config], [result], RUN_KEYS.filter((k) => config.workload === "ffsb" ? k !== "messageBytes" : !["pattern", "readFraction", "ioBytes", "queueDepth"].includes(k))) + "\n");
    });
}
