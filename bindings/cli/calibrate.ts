// `iommu-sim calibrate`: fit the netperf model's free parameters to the measured tables.

import type { Command } from "commander";
import { createIommu } from "../node.js";
import { writeAtomicallySync } from "../io/atomic.js";
import { progress } from "../io/progress.js";
import { ENVIRONMENTS } from "../sim/environments.js";
import { calibrate, parseMeasured } from "../workloads/reproduction.js";
import { jsonOutput } from "./json.js";
import { checkOutputs, DEFAULT_MEASURED, readText } from "./options.js";

function runCalibrate(flags: { out?: string; holdout?: boolean; data?: string; quiet?: boolean }): void {
  // the working directory, never the installed package: a consumer's calibration is theirs
  const path = flags.out ?? (flags.holdout ? "netperf-holdout.json" : "netperf-calibrated.json");
  checkOutputs(["--out", path]); // before the fit, which takes seconds
  const measured = parseMeasured(readText("--data", flags.data ?? DEFAULT_MEASURED), flags.data ? `--data ${flags.data}` : undefined);
  const bar = progress("calibrating", flags.quiet ?? false);
  bar.update(0, ENVIRONMENTS.length);
  const cal = calibrate(measured, createIommu, { holdout: flags.holdout, onProgress: (d, t) => bar.update(d, t) });
  bar.stop();
  writeAtomicallySync(path, jsonOutput("calibration", cal));
  for (const env of ENVIRONMENTS) {
    const e = cal.environments[env];
    process.stdout.write(`${env}: squared relative error ${e.error.toFixed(4)} over ${e.rows} rows; ${Object.entries(e.params).map(([k, v]) => `${k}=${(v as number).toPrecision(4)}`).join(" ")}\n`);
  }
  process.stdout.write(`wrote ${path}\n`);
}

export function registerCalibrate(program: Command): void {
  program
    .command("calibrate")
    .description("Fit the netperf model's free parameters (8 per environment, bounded) to the measured tables, deterministically")
    .option("--out <file>", "where to write the calibration (default: netperf-calibrated.json, or netperf-holdout.json, in the working directory; reproduce --calibration FILE uses it)")
    .option("--holdout", "fit on every other message size only")
    .option("--data <csv>", "measured table (default: data/seed-netperf.csv)")
    .option("--quiet", "no progress bar")
    .action((flags: { out?: string; holdout?: boolean; data?: string; quiet?: boolean }) => runCalibrate(flags));
}
