#!/usr/bin/env node
// iommu-sim command line. Exit codes: 0 done, 1 bad input (options, trace), 2 internal error.
// Each command lives in bindings/cli/<command>.ts; the options they share in bindings/cli/options.ts.

import { Command } from "commander";
import { ConfigError } from "./errors.js";
import { TraceError } from "./trace/parse.js";
import { registerAllocators } from "./cli/allocators.js";
import { PACKAGE } from "./cli/json.js";
import { registerCalibrate } from "./cli/calibrate.js";
import { registerMerge } from "./cli/merge.js";
import { registerReplay } from "./cli/replay.js";
import { registerReproduce } from "./cli/reproduce.js";
import { registerRun } from "./cli/run.js";
import { registerServe } from "./cli/serve.js";
import { registerSlurm } from "./cli/slurm.js";
import { registerSweep } from "./cli/sweep.js";
import { registerTrace } from "./cli/trace.js";

const EXIT_BAD_INPUT = 1;
const EXIT_INTERNAL = 2;

const program = new Command()
  .name("iommu-sim")
  .version(PACKAGE.version)
  .description("What DMA protection costs with an IOMMU, and what it leaves exposed: IBM Calgary and DART models.")
  .showHelpAfterError()
  .exitOverride();

registerReplay(program);
registerReproduce(program);
registerRun(program);
registerSweep(program);
registerAllocators(program);
registerMerge(program);
registerSlurm(program);
registerServe(program);
registerCalibrate(program);
registerTrace(program);

// a reader that stops early (| head) ends the output, not the run with a stack trace
process.stdout.on("error", (e: NodeJS.ErrnoException) => {
  if (e.code === "EPIPE") process.exit(0);
  throw e;
});

try {
  await program.parseAsync();
} catch (e) {
  const err = e as { code?: string; exitCode?: number };
  if (err.code === "commander.helpDisplayed" || err.code === "commander.version" || err.code === "commander.help") process.exit(0);
  if (typeof err.code === "string" && err.code.startsWith("commander.")) process.exit(EXIT_BAD_INPUT);
  if (e instanceof ConfigError || e instanceof TraceError) {
    process.stderr.write(`iommu-sim: ${e.message}\n`);
    process.exit(EXIT_BAD_INPUT);
  }
  process.stderr.write(`iommu-sim: internal error: ${(e as Error).stack ?? e}\n`);
  process.exit(EXIT_INTERNAL);
}
