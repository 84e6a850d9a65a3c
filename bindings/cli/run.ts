// `iommu-sim run`: one configuration, IOMMU off and on.

import type { Command } from "commander";
import { resolveRun, RUN_KEYS, WORKLOAD_KEYS } from "../sweep/config.js";
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
      else {
        // a workload's own settings, and none of another's
        const others = new Set(Object.entries(WORKLOAD_KEYS).filter(([w]) => w !== config.workload).flatMap(([, keys]) => keys));
        for (const k of WORKLOAD_KEYS[config.workload]) others.delete(k);
        process.stdout.write(formatResults([config], [result], RUN_KEYS.filter((k) => !others.has(k))) + "\n");
      }
    });
}
