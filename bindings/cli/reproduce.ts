// `iommu-sim reproduce`: the study's netperf tables, simulated beside measured, and the what-if
// tables per strategy.

import type { Command } from "commander";
import { csvFormatRows } from "d3-dsv";
import { ConfigError } from "../errors.js";
import { createIommu } from "../node.js";
import { writeAtomicallySync } from "../io/atomic.js";
import { progress } from "../io/progress.js";
import { frontierSpec, messageSizeSpec, type VegaLiteSpec } from "../plot/specs.js";
import { loadRenderer, writePlot } from "../plot/render.js";
import { validateProfile } from "../sim/cost-profile.js";
import { parseMeasured, type Calibration } from "../workloads/reproduction.js";
import { ENVIRONMENTS, type EnvironmentName } from "../sim/environments.js";
import { cpuDiff, fidelity, formatFidelity, relErr, reproduceRows, tputDiff, whatIf, type ReproRow, type WhatIfRow } from "../workloads/report.js";
import { jsonOutput } from "./json.js";
import { checkOutputs, DEFAULT_CALIBRATION, DEFAULT_MEASURED, HOLDOUT_CALIBRATION, readText } from "./options.js";
import { textTable } from "./table.js";

const TITLES: Record<EnvironmentName, string> = {
  baremetal: "Bare metal (CPU out of 100: the whole 8-CPU machine)",
  "xen-dom0": "Xen dom0 (CPU out of 800: 8 CPUs summed)",
  "xen-domU": "Xen domU (CPU out of 800: 8 CPUs summed)",
};

const signed = (v: number, digits: number, unit = "") => (v >= 0 ? "+" : "") + v.toFixed(digits) + unit;

/** The three tables in the study's layout: each figure simulated, measured, relative error. */
function formatTables(rows: ReproRow[]): string {
  const trio = (name: string) => [`${name}\nsim`, "\nmeas", "\nerr"];
  const head = ["size", ...trio("off Mb/s"), ...trio("off CPU"), ...trio("on Mb/s"), ...trio("on CPU"), "tput %diff\nsim", "\nmeas", "CPU %diff\nsim", "\nmeas"];
  const out: string[] = [];
  for (const env of ENVIRONMENTS) {
    const body = rows.filter((x) => x.environment === env).map((r) => {
      const s = r.simulated;
      const m = r.measured;
      const cell = (sim: number, meas: number, digits: number) => [sim.toFixed(digits), meas.toFixed(digits), signed(relErr(sim, meas), 1, "%")];
      return [
        `${r.messageBytes}${r.inSample ? "" : "*"}`,
        ...cell(s.offMbps, m.offMbps, 1), ...cell(s.offCpu, m.offCpu, 2), ...cell(s.onMbps, m.onMbps, 1), ...cell(s.onCpu, m.onCpu, 2),
        tputDiff(s).toFixed(1), tputDiff(m).toFixed(1), cpuDiff(s).toFixed(1), cpuDiff(m).toFixed(1),
      ];
    });
    out.push("", TITLES[env], textTable(head, body));
  }
  return out.join("\n");
}

function formatWhatIf(rows: WhatIfRow[]): string {
  const head = ["environment", "strategy", "CPU overhead\n@64 KiB", "tput loss\n@64 B", "released-but-live\npeak", "late DMA\nreaches", "reachable\nmemory"];
  const body = rows.map((r) => [
    r.environment, r.strategy, `${r.cpuOverheadPct.toFixed(1)} %`, `${r.tputLossPct.toFixed(1)} %`, r.exposure.releasedButLivePeak,
    `${r.exposure.lateDmaReachedPct.toFixed(0)} %`, r.exposure.reachableBytes === "all" ? "all" : `${(r.exposure.reachableBytes / 2 ** 20).toFixed(2)} MiB`,
  ]);
  return ["", "What if: the IOMMU's price under each strategy (calibrated parameters, Calgary PCI-X, NIC ring of 32 buffers)",
    textTable(head, body, [undefined, undefined, undefined, undefined, undefined, undefined, "right"])].join("\n");
}

function loadCalibration(file: string | URL): Calibration {
  let c: Calibration;
  try {
    c = JSON.parse(readText("--calibration", file)) as Calibration;
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    throw new ConfigError("--calibration", String(file), `a calibration written by iommu-sim calibrate (${(e as Error).message})`);
  }
  validateProfile(c.costProfile, "calibration.costProfile");
  for (const env of ENVIRONMENTS) {
    if (!c.environments?.[env]?.params) throw new ConfigError(`calibration.environments.${env}`, undefined, "fitted parameters for every environment");
  }
  return c;
}

interface ReproduceFlags {
  json?: string;
  csv?: string;
  plot?: string;
  quiet?: boolean;
  holdout?: boolean;
  calibration?: string;
  data?: string;
  whatIf?: boolean;
}

async function reproduce(flags: ReproduceFlags): Promise<void> {
  const started = performance.now();
  checkOutputs(["--json", flags.json], ["--csv", flags.csv], ["--plot", flags.plot]);
  if (flags.plot) await loadRenderer("--plot", flags.plot); // a missing renderer is reported before the run, not after
  const measured = parseMeasured(readText("--data", flags.data ?? DEFAULT_MEASURED), flags.data ? `--data ${flags.data}` : undefined);
  const cal = loadCalibration(flags.calibration ?? (flags.holdout ? HOLDOUT_CALIBRATION : DEFAULT_CALIBRATION));
  const rows = reproduceRows(measured, cal, createIommu);
  const out: string[] = [
    "iommu-sim reproduce: netperf TCP_STREAM over 1 GbE, IOMMU off and on (Calgary PCI-X, straightforward mapping)",
    `calibration: ${cal.name} v${cal.version}, fitted to ${cal.fittedTo}${cal.sizes === "all" ? "" : ` on message sizes ${cal.sizes.join(", ")} (* = held out)`}`,
    "each cell: simulated, measured, relative error",
    formatTables(rows),
    "",
    formatFidelity(fidelity(rows)),
  ];
  if (cal.sizes !== "all") {
    const inS = fidelity(rows.filter((r) => r.inSample));
    const outS = fidelity(rows.filter((r) => !r.inSample));
    out.push(formatFidelity(inS, "in sample"), formatFidelity(outS, "held out"));
    out.push(`hold-out / in-sample mean |error|: throughput ${(outS.meanAbsTputErrPct / inS.meanAbsTputErrPct).toFixed(2)}×, CPU ${(outS.meanAbsCpuErrPct / inS.meanAbsCpuErrPct).toFixed(2)}× (target ≤ 1.5×)`);
  }
  const bar = progress("what-if", flags.quiet ?? false);
  const what = flags.whatIf === false ? [] : whatIf(cal, createIommu, (d, t) => bar.update(d, t));
  bar.stop();
  if (what.length) out.push(formatWhatIf(what));
  out.push("", `(${((performance.now() - started) / 1000).toFixed(2)} s wall)`);
  process.stdout.write(out.join("\n") + "\n");
  if (flags.json) {
    const json = {
      calibration: { name: cal.name, version: cal.version, fittedTo: cal.fittedTo, sizes: cal.sizes },
      rows: rows.map((r) => ({ environment: r.environment, messageBytes: r.messageBytes, simulated: r.simulated, measured: r.measured, inSample: r.inSample })),
      fidelity: fidelity(rows),
      whatIf: what,
    };
    writeAtomicallySync(flags.json, jsonOutput("reproduce", json));
  }
  if (flags.csv) {
    const head = ["environment", "message_bytes", "in_sample", "sim_off_mbps", "sim_off_cpu", "sim_on_mbps", "sim_on_cpu", "meas_off_mbps", "meas_off_cpu", "meas_on_mbps", "meas_on_cpu"];
    const body = rows.map((r) => [r.environment, r.messageBytes, r.inSample, r.simulated.offMbps, r.simulated.offCpu, r.simulated.onMbps, r.simulated.onCpu, r.measured.offMbps, r.measured.offCpu, r.measured.onMbps, r.measured.onCpu].map(String));
    writeAtomicallySync(flags.csv, csvFormatRows([head, ...body]) + "\n");
  }
  if (flags.plot) {
    const specs: VegaLiteSpec[] = [messageSizeSpec(rows)];
    if (what.length) specs.push(frontierSpec(what));
    await writePlot(flags.plot, specs);
  }
}

export function registerReproduce(program: Command): void {
  program
    .command("reproduce", { isDefault: false })
    .description("Print the study's three netperf tables, simulated beside measured, then the what-if tables per strategy")
    .option("--json <file>", "also write the rows as JSON")
    .option("--holdout", "use the hold-out calibration (fitted on half the message sizes) and report in- and out-of-sample error")
    .option("--calibration <file>", "a calibration written by iommu-sim calibrate (default: the shipped one)")
    .option("--data <csv>", "measured table (default: data/seed-netperf.csv)")
    .option("--no-what-if", "skip the what-if tables")
    .option("--csv <file>", "also write the rows as CSV")
    .option("--plot <file>", "also plot: FILE.svg (throughput and CPU against message size; -2.svg: the price-of-safety frontier) or FILE.html")
    .option("--quiet", "no progress output")
    .action((flags: ReproduceFlags) => reproduce(flags));
}
