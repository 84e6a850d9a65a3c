// `iommu-sim calibrate`: fit the netperf model's free parameters to the measured tables, or
// (--explain) print what a calibration says: shared prices, fitted parameters, a segment's path.

import type { Command } from "commander";
import { createIommu } from "../node.js";
import { writeAtomicallySync } from "../io/atomic.js";
import { progress } from "../io/progress.js";
import { ENVIRONMENTS } from "../sim/environments.js";
import { fittedTable, packetPath, priceTable } from "../workloads/explain.js";
import { calibrate, CALIBRATION_NAMES, parseMeasured, type FitSelection } from "../workloads/reproduction.js";
import { jsonOutput } from "./json.js";
import { loadCalibration } from "./load-calibration.js";
import { checkOutputs, DEFAULT_CALIBRATION, DEFAULT_MEASURED, readText } from "./options.js";
import { textTable } from "./table.js";

interface CalibrateFlags {
  out?: string;
  holdout?: boolean;
  extrapolate?: boolean;
  iommuOffOnly?: boolean;
  data?: string;
  quiet?: boolean;
  explain?: boolean;
  calibration?: string;
}

const g = (v: number) => (Math.abs(v) >= 100 ? v.toFixed(0) : v.toPrecision(3));

function explain(flags: CalibrateFlags): void {
  const cal = loadCalibration(flags.calibration ?? DEFAULT_CALIBRATION);
  const out: string[] = [`calibration: ${cal.name} v${cal.version}, fitted to ${cal.fittedTo}`, ""];
  out.push(`Hardware and hypervisor prices (${cal.costProfile.name} v${cal.costProfile.version}; the same in every environment, not fitted)`);
  out.push(textTable(["primitive", "cycles", "unit", "plausible", "basis"], priceTable(cal.costProfile).map((r) => [r.primitive, g(r.cycles), r.unit, `${g(r.range[0])}–${g(r.range[1])}`, r.basis]), [undefined, "right", "left", "left", "left"]));
  out.push("", `source: ${cal.costProfile.source}`, "");
  out.push("Fitted per environment (the rest of each path is priced from the table above)");
  out.push(textTable(["environment", "parameter", "value", "unit", "plausible range", "", "meaning"], fittedTable(cal).map((r) => [
    r.environment, r.parameter, g(r.value), r.unit, `${g(r.range[0])}–${g(r.range[1])}`, r.atBound ? "AT A BOUND" : "inside", r.meaning,
  ]), [undefined, undefined, "right", "left", "left", "left", "left"]));
  out.push("", "A segment's path: cycles per TX segment by CPU and step, IOMMU off → on (Calgary PCI-X, straightforward)");
  out.push(textTable(["environment", "message", "CPU", "step", "off", "on"], packetPath(cal, createIommu).map((s) => [
    s.environment, `${s.messageBytes} B`, s.cpu, s.step, s.off.toFixed(0), s.on.toFixed(0),
  ]), [undefined, "right", undefined, undefined, "right", "right"]));
  process.stdout.write(out.join("\n") + "\n");
}

function runCalibrate(flags: CalibrateFlags): void {
  if (flags.explain) return explain(flags);
  const selection: FitSelection = flags.extrapolate ? "extrapolate" : flags.iommuOffOnly ? "iommu-off" : flags.holdout ? "holdout" : "all";
  // the working directory, never the installed package: a consumer's calibration is theirs
  const path = flags.out ?? `${CALIBRATION_NAMES[selection]}.json`;
  checkOutputs(["--out", path]); // before the fit, which takes seconds
  const measured = parseMeasured(readText("--data", flags.data ?? DEFAULT_MEASURED), flags.data ? `--data ${flags.data}` : undefined);
  const bar = progress("calibrating", flags.quiet ?? false);
  bar.update(0, ENVIRONMENTS.length);
  const cal = calibrate(measured, createIommu, { selection, onProgress: (d, t) => bar.update(d, t) });
  bar.stop();
  writeAtomicallySync(path, jsonOutput("calibration", cal));
  for (const env of ENVIRONMENTS) {
    const e = cal.environments[env];
    process.stdout.write(`${env}: summed |relative error| ${e.error.toFixed(4)} over ${e.rows} rows; ${Object.entries(e.params).map(([k, v]) => `${k}=${(v as number).toPrecision(4)}`).join(" ")}\n`);
  }
  process.stdout.write(`wrote ${path}\n`);
}

export function registerCalibrate(program: Command): void {
  program
    .command("calibrate")
    .description("Fit each environment's own netperf parameters (3–4, bounded by plausible ranges; the hardware prices are shared and fixed) to the measured tables, deterministically; --explain prints a calibration's prices, fitted values and packet path")
    .option("--out <file>", "where to write the calibration (default: netperf-calibrated.json, netperf-holdout.json, netperf-extrapolation.json or netperf-iommu-off.json in the working directory; reproduce --calibration FILE uses it)")
    .option("--holdout", "fit on every other message size only")
    .option("--extrapolate", "fit on messages of 1024 B and more only (reproduce predicts 64–512 B from it)")
    .option("--iommu-off-only", "fit on the IOMMU-off figures only (reproduce predicts the IOMMU's effect from the shared prices)")
    .option("--data <csv>", "measured table (default: data/seed-netperf.csv)")
    .option("--explain", "print the shared prices, the fitted parameters with units and ranges, and a segment's path (no fit)")
    .option("--calibration <file>", "with --explain: the calibration to explain (default: the shipped one)")
    .option("--quiet", "no progress bar")
    .action((flags: CalibrateFlags) => runCalibrate(flags));
}
