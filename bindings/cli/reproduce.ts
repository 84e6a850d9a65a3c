// `iommu-sim reproduce`: the study's netperf tables, simulated beside measured, and the what-if
// tables per strategy.

import type { Command } from "commander";
import { ConfigError } from "../errors.js";
import { csvFormatRows } from "d3-dsv";
import { createIommu } from "../node.js";
import { writeAtomicallySync } from "../io/atomic.js";
import { progress } from "../io/progress.js";
import { frontierSpec, messageSizeSpec, platformFrontierSpec, type FrontierPoint, type VegaLiteSpec } from "../plot/specs.js";
import { platformFrontier } from "../workloads/platform-frontier.js";
import { checkPlotFile, loadRenderer, writePlot } from "../plot/render.js";
import { parseMeasured } from "../workloads/reproduction.js";
import { ENVIRONMENTS, type EnvironmentName } from "../sim/environments.js";
import {
  cpuDiff, effectPrediction, extrapolation, fidelity, formatFidelity, largestCpuIncrease, measuredSetupCounts, multicallEffect, relErr,
  reproduceRows, tputDiff, whatIf, type ReproRow, type WhatIfRow,
} from "../workloads/report.js";
import { EXTRAPOLATION_FROM_BYTES, type MeasuredRow } from "../workloads/reproduction.js";
import { FITTED } from "../workloads/netperf.js";
import type { DmaCounts } from "../workloads/reproduction.js";
import { jsonOutput } from "./json.js";
import { reproduceStudy } from "./reproduce-study.js";
import { loadCalibration } from "./load-calibration.js";
import { checkOutputs, DEFAULT_CALIBRATION, DEFAULT_MEASURED, EXTRAPOLATION_CALIBRATION, HOLDOUT_CALIBRATION, IOMMU_OFF_CALIBRATION, readText } from "./options.js";
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
  return ["", "What if: the IOMMU's price under each strategy (calibrated parameters, Calgary PCI-X — last, the rIOMMU instead — NIC ring of 32 buffers)",
    textTable(head, body, [undefined, undefined, undefined, undefined, undefined, undefined, "right"])].join("\n");
}

function formatAcross(points: FrontierPoint[]): string {
  const head = ["environment", "platform, invalidation", "cycles added\nper map + unmap", "released-but-live\npeak", "late DMA or live\ntranslations", "reachable\nmemory"];
  const body = points.map((p) => [
    p.environment, p.strategy, p.price.toFixed(0), p.releasedButLivePeak, p.exposed ? "yes" : "no",
    p.reachableBytes === "all" ? "all" : `${(p.reachableBytes / 2 ** 20).toFixed(2)} MiB`,
  ]);
  return ["", "Across IOMMUs: the same ring on each platform in its invalidation mode, the rIOMMU and shadow DMA buffers among them (calibrated cost profile; a deferred flush — lazy, Calgary deferred — priced over whole flush cycles)",
    textTable(head, body, [undefined, undefined, "right", "right", undefined, "right"])].join("\n");
}

/**
 * The validations that do not depend on the calibration in use: each loads a shipped calibration
 * fitted on part of the seed table and predicts the rest. Returns the text and the figures.
 */
function validations(measured: MeasuredRow[], rows: ReproRow[], counts: Record<EnvironmentName, DmaCounts>) {
  const pct = (v: number) => `${v.toFixed(1)} %`;
  const out: string[] = ["", "Validation (each fit below saw only part of the table; the rest is predicted)"];
  const extrapCal = loadCalibration(EXTRAPOLATION_CALIBRATION);
  const extrap = extrapolation(reproduceRows(measured, extrapCal, createIommu, counts));
  out.push(`  extrapolation: fitted on messages ≥ ${EXTRAPOLATION_FROM_BYTES} B, predicting ${extrap[0].sizes.join(", ")} B — median |error| (target: throughput ≤ 15 % in every environment):`);
  out.push(textTable(["environment", "throughput", "CPU", ""], extrap.map((e) => [e.environment, pct(e.medianAbsTputErrPct), pct(e.medianAbsCpuErrPct), e.medianAbsTputErrPct <= 15 ? "met" : "missed"])));
  const holdCal = loadCalibration(HOLDOUT_CALIBRATION);
  const holdRows = reproduceRows(measured, holdCal, createIommu, counts);
  const inS = fidelity(holdRows.filter((r) => r.inSample));
  const outS = fidelity(holdRows.filter((r) => !r.inSample));
  const holdRatio = { tput: outS.meanAbsTputErrPct / inS.meanAbsTputErrPct, cpu: outS.meanAbsCpuErrPct / inS.meanAbsCpuErrPct };
  out.push(`  hold-out (every other size fitted): held-out / in-sample mean |error|: throughput ${holdRatio.tput.toFixed(2)}×, CPU ${holdRatio.cpu.toFixed(2)}× (target ≤ 1.5×)`);
  const offCal = loadCalibration(IOMMU_OFF_CALIBRATION);
  const eff = effectPrediction(reproduceRows(measured, offCal, createIommu, counts));
  const domU = fidelity(rows.filter((r) => r.environment === "xen-domU"));
  out.push(`  xen-domU from shared prices: no hardware or hypervisor price is fitted (one profile for all three), domU fits only its own ${FITTED["xen-domU"].join(", ")}: ` +
    `throughput ${domU.tputWithin3Pct}/${domU.rows}, CPU ${domU.cpuWithin10Pct}/${domU.rows}, effects ${domU.effectsMatched}/${domU.effectRows}`);
  out.push("  the IOMMU from the shared prices: each environment fitted on IOMMU-off figures only, IOMMU-on figures predicted:");
  out.push(textTable(["environment", "on tput ±3 %", "on CPU ±10 %", "effects matched"], eff.map((e) => [e.environment, `${e.onTputWithin3Pct}/${e.onCells}`, `${e.onCpuWithin10Pct}/${e.onCells}`, `${e.effectsMatched}/${e.effectRows}`]), [undefined, "right", "right", "right"]));
  const simMax = largestCpuIncrease(rows, "simulated");
  const measMax = largestCpuIncrease(rows, "measured");
  const mc = multicallEffect(loadCalibration(DEFAULT_CALIBRATION), counts["xen-dom0"]);
  const bm = rows.filter((r) => r.environment === "baremetal" && r.measured.offMbps >= 900);
  const bmWorst = Math.max(...bm.map((r) => Math.abs(tputDiff(r.simulated))));
  out.push("", "The study's claims, from the model:");
  out.push(`  "up to 60 % more CPU": largest simulated increase ${simMax.pct.toFixed(1)} % (${simMax.environment}, ${simMax.messageBytes} B); measured ${measMax.pct.toFixed(1)} % (${measMax.environment}, ${measMax.messageBytes} B)`);
  out.push(`  "costs little throughput at line rate" (bare metal, ${bm.length} sizes at ≥ 900 Mbit/s): largest simulated loss ${bmWorst.toFixed(2)} %`);
  out.push(`  "Xen multicalls don't help" (dom0, 64 KiB, IOMMU CPU overhead ${mc.plain.toFixed(1)} % with one hypercall per TCE update): as multicalls of n entries — ` +
    mc.rows.map((r) => `n = ${r.entriesPerCall}: ${r.cpuOverheadPct.toFixed(1)} %`).join(", ") +
    "; the DMA API hands over one buffer per call, so the straightforward path has n = 1: the trap stays, validation and the TCE work stay, and each entry adds its copy-in");
  return { text: out, extrapolation: extrap, holdout: holdRatio, iommuFromSharedPrices: eff, largestCpuIncrease: { simulated: simMax, measured: measMax }, multicall: mc, bareMetalLineRateLossPct: bmWorst };
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
  study?: string;
  profile?: string;
}

async function reproduce(flags: ReproduceFlags): Promise<void> {
  const started = performance.now();
  if (flags.study !== undefined) {
    // the modern studies have their own inputs and outputs; the 2007 study's options do not apply
    for (const [opt, v] of [["--csv", flags.csv], ["--plot", flags.plot], ["--holdout", flags.holdout], ["--calibration", flags.calibration], ["--data", flags.data]] as const) {
      if (v !== undefined) throw new ConfigError(opt, v, "no value with --study (it applies to the 2007 study only)");
    }
    if (flags.json) checkOutputs(["--json", flags.json]);
    reproduceStudy(flags.study, flags);
    return;
  }
  if (flags.profile !== undefined) throw new ConfigError("--profile", flags.profile, "no value without --study (the 2007 study takes its prices from --calibration)");
  checkOutputs(["--json", flags.json], ["--csv", flags.csv], ["--plot", flags.plot]);
  checkPlotFile("--plot", flags.plot);
  if (flags.plot) await loadRenderer("--plot", flags.plot); // a missing renderer is reported before the run, not after
  const measured = parseMeasured(readText("--data", flags.data ?? DEFAULT_MEASURED), flags.data ? `--data ${flags.data}` : undefined);
  const cal = loadCalibration(flags.calibration ?? (flags.holdout ? HOLDOUT_CALIBRATION : DEFAULT_CALIBRATION));
  const counts = measuredSetupCounts(createIommu);
  const rows = reproduceRows(measured, cal, createIommu, counts);
  const out: string[] = [
    "iommu-sim reproduce: netperf TCP_STREAM over 1 GbE, IOMMU off and on (Calgary PCI-X, straightforward mapping)",
    `calibration: ${cal.name} v${cal.version}, fitted to ${cal.fittedTo}${cal.sizes === "all" ? "" : ` on message sizes ${cal.sizes.join(", ")} (* = held out)`}`,
    "each cell: simulated, measured, relative error",
    formatTables(rows),
    "",
    formatFidelity(fidelity(rows)),
  ];
  for (const env of ENVIRONMENTS) out.push(formatFidelity(fidelity(rows.filter((r) => r.environment === env)), env));
  const valid = flags.data ? undefined : validations(measured, rows, counts);
  if (valid) out.push(...valid.text);
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
  // the same ring across IOMMUs, the proposals among them (the --plot's -3 figure)
  const across = what.length ? platformFrontier(createIommu, cal.costProfile) : [];
  if (across.length) out.push(formatAcross(across));
  out.push("", `(${((performance.now() - started) / 1000).toFixed(2)} s wall)`);
  process.stdout.write(out.join("\n") + "\n");
  if (flags.json) {
    const json = {
      calibration: { name: cal.name, version: cal.version, fittedTo: cal.fittedTo, sizes: cal.sizes },
      rows: rows.map((r) => ({ environment: r.environment, messageBytes: r.messageBytes, simulated: r.simulated, measured: r.measured, inSample: r.inSample })),
      fidelity: fidelity(rows),
      validation: valid ? { extrapolation: valid.extrapolation, holdout: valid.holdout, iommuFromSharedPrices: valid.iommuFromSharedPrices } : null,
      claims: valid ? { largestCpuIncrease: valid.largestCpuIncrease, multicall: valid.multicall, bareMetalLineRateLossPct: valid.bareMetalLineRateLossPct } : null,
      whatIf: what,
      acrossIommus: across,
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
    if (what.length) specs.push(frontierSpec(what), platformFrontierSpec(across));
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
    .option("--plot <file>", "also plot: FILE.svg (throughput and CPU against message size; -2.svg: the price-of-safety frontier; -3.svg: the same across IOMMUs, the rIOMMU among them) or FILE.html")
    .option("--quiet", "no progress output")
    .option("--study <name>", "a published modern study instead of the 2007 one: predicted beside measured with error and source (\"list\" names them)")
    .option("--profile <file>", "with --study: the CostProfile JSON to price with (default: profiles/xeon-skylake-sp.json)")
    .action((flags: ReproduceFlags) => reproduce(flags));
}
