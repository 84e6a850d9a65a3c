#!/usr/bin/env node
// iommu-sim command line. Exit codes: 0 done, 1 bad input (options, trace), 2 internal error.

import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { Command, InvalidArgumentError, Option } from "commander";
import { COUNTER_NAMES, FLUSH_POLICIES, type FlushPolicyName } from "./abi.js";
import type { IommuOptions } from "./config.js";
import { ConfigError } from "./errors.js";
import { createIommu } from "./node.js";
import { PLATFORMS, type PlatformName } from "./platforms.js";
import { DEFAULT_PROFILE, validateProfile, type CostProfile } from "./sim/cost-profile.js";
import { ENVIRONMENTS, type EnvironmentName } from "./sim/environments.js";
import { replayThroughSimulation } from "./sim/replay.js";
import { createSimulation, type SimPlatform } from "./sim/simulation.js";
import { STRATEGIES } from "./sim/strategies.js";
import { parseTrace, TraceError } from "./trace/parse.js";
import { calibrate, parseMeasured, type Calibration } from "./workloads/reproduction.js";
import { fidelity, formatFidelity, formatTables, formatWhatIf, reproduceRows, whatIf } from "./workloads/report.js";
import { ffsb } from "./workloads/ffsb.js";
import { priceRing } from "./workloads/dma-price.js";
import { simulateRow } from "./workloads/reproduction.js";
import { replayTrace } from "./trace/replay.js";

const EXIT_BAD_INPUT = 1;
const EXIT_INTERNAL = 2;

function cacheGeometry(v: string): { entries: number; ways: number } {
  const m = /^(\d+)(?:x(\d+))?$/.exec(v);
  if (!m) throw new InvalidArgumentError('expected ENTRIES or ENTRIESxWAYS, e.g. "64x4" or "0" for no cache');
  const entries = Number(m[1]);
  return { entries, ways: m[2] ? Number(m[2]) : entries === 0 ? 0 : Math.min(entries, 4) };
}

interface ReplayFlags {
  platform: PlatformName | "none";
  strategy?: string;
  environment?: EnvironmentName;
  profile?: string;
  batchSize?: number;
  tableSize?: string;
  cache?: { entries: number; ways: number };
  flushPolicy?: FlushPolicyName;
  emit?: string;
  lenient?: boolean;
  json?: boolean;
}

function replay(file: string, flags: ReplayFlags): void {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new ConfigError("TRACE", file, `a readable trace file (${(e as Error).message})`);
  }
  const trace = parseTrace(text, { lenient: flags.lenient });
  if (flags.strategy !== undefined || flags.environment !== undefined || flags.profile !== undefined || flags.platform === "none") {
    simulate(trace, flags);
    return;
  }
  const options: IommuOptions = { platform: flags.platform };
  if (flags.tableSize !== undefined) options.tableSize = flags.tableSize;
  if (flags.cache !== undefined) options.cache = flags.cache;
  if (flags.flushPolicy !== undefined) options.flushPolicy = flags.flushPolicy;
  const result = replayTrace(trace, (sizing) => createIommu({ ...options, ...sizing }), { lenient: flags.lenient });

  if (flags.json) {
    process.stdout.write(JSON.stringify({
      platform: flags.platform,
      operations: result.operations,
      skipped: result.skipped,
      ignoredEvents: result.ignored,
      stats: result.stats,
      ...(flags.emit === "addresses" ? { addresses: result.addresses } : {}),
    }, null, 2) + "\n");
    return;
  }
  const out: string[] = [];
  if (flags.emit === "addresses") {
    for (const a of result.addresses) {
      out.push(`${a.id} ${a.dma === null ? "error" : a.dma.map((d) => "0x" + d.toString(16)).join(" ")}`);
    }
  }
  for (const name of COUNTER_NAMES) out.push(`${name} ${result.stats[name]}`);
  out.push(`operations ${result.operations}`);
  out.push(`skipped ${result.skipped.length}`);
  if (result.ignored) out.push(`ignoredEvents ${result.ignored}`);
  process.stdout.write(out.join("\n") + "\n");
  for (const s of result.skipped) process.stderr.write(`skipped line ${s.line}: ${s.reason}: ${s.text.trim()}\n`);
}

function loadProfile(file: string | undefined): CostProfile {
  if (file === undefined) return DEFAULT_PROFILE;
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, "utf8"));
  } catch (e) {
    throw new ConfigError("--profile", file, `a readable JSON cost profile (${(e as Error).message})`);
  }
  return validateProfile(json, `profile ${file}`);
}

/** replay with --strategy / --environment / --profile (or --platform none): the priced run. */
function simulate(trace: ReturnType<typeof parseTrace>, flags: ReplayFlags): void {
  const iommu: Omit<IommuOptions, "platform" | "flushPolicy"> = {};
  if (flags.tableSize !== undefined) iommu.tableSize = flags.tableSize;
  if (flags.cache !== undefined) iommu.cache = flags.cache;
  if (flags.flushPolicy !== undefined) throw new ConfigError("--flush-policy", flags.flushPolicy, "to be left out with --strategy: use deferred-flush or strict-flush in the strategy");
  const sim = createSimulation(
    {
      platform: flags.platform as SimPlatform,
      strategy: flags.strategy,
      environment: flags.environment,
      profile: loadProfile(flags.profile),
      iommu,
      batchSize: flags.batchSize,
    },
    (o) => createIommu(o),
  );
  const r = replayThroughSimulation(trace, sim, flags.lenient);
  if (flags.json) {
    process.stdout.write(JSON.stringify({ ...r.report, operations: r.operations, skipped: r.skipped }, null, 2) + "\n");
    return;
  }
  const rep = r.report;
  const out = [
    `platform ${rep.platform}`,
    `strategy ${rep.strategy.mapping}${rep.strategy.flush ? "+" + rep.strategy.flush : ""}`,
    `environment ${rep.environment}`,
    `profile ${rep.profile.name} v${rep.profile.version}`,
    `operations ${r.operations}`,
    `skipped ${r.skipped.length}`,
    `crossings ${rep.crossings}`,
    `cycles ${Math.round(rep.cycles.total)}`,
    ...Object.entries(rep.cycles.byParty).map(([k, v]) => `cycles.${k} ${Math.round(v ?? 0)}`),
    ...Object.entries(rep.cycles.byOperation).map(([k, v]) => `cycles.op.${k} ${Math.round(v ?? 0)}`),
    `exposure.releasedButLivePeak ${rep.exposure.releasedButLivePeak}`,
    `exposure.releasedButLivePageSeconds ${rep.exposure.releasedButLivePageSeconds.toPrecision(6)}`,
    `exposure.dmaAfterRelease.reached ${rep.exposure.dmaAfterRelease.reached}`,
    `exposure.dmaAfterRelease.blocked ${rep.exposure.dmaAfterRelease.blocked}`,
    `exposure.reachableBytes ${rep.exposure.reachableBytes}`,
    `exposure.ioSpaceInUse.peakPages ${rep.exposure.ioSpaceInUse.peakPages}`,
    ...COUNTER_NAMES.map((n) => `${n} ${rep.counters[n]}`),
  ];
  process.stdout.write(out.join("\n") + "\n");
}

const PACKAGE_ROOT = new URL("../", import.meta.url);
const DEFAULT_MEASURED = new URL("data/seed-netperf.csv", PACKAGE_ROOT);
const DEFAULT_CALIBRATION = new URL("profiles/netperf-calibrated.json", PACKAGE_ROOT);
const HOLDOUT_CALIBRATION = new URL("profiles/netperf-holdout.json", PACKAGE_ROOT);

function readText(field: string, file: string | URL): string {
  try {
    return readFileSync(file, "utf8");
  } catch (e) {
    throw new ConfigError(field, String(file), `a readable file (${(e as Error).message})`);
  }
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
  holdout?: boolean;
  calibration?: string;
  data?: string;
  whatIf?: boolean;
}

function reproduce(flags: ReproduceFlags): void {
  const started = performance.now();
  const measured = parseMeasured(readText("--data", flags.data ?? DEFAULT_MEASURED));
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
  const what = flags.whatIf === false ? [] : whatIf(cal, createIommu);
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
    writeFileSync(flags.json, JSON.stringify(json, null, 2) + "\n");
  }
}

function runCalibrate(flags: { out?: string; holdout?: boolean; data?: string }): void {
  const measured = parseMeasured(readText("--data", flags.data ?? DEFAULT_MEASURED));
  const cal = calibrate(measured, createIommu, { holdout: flags.holdout });
  const target = flags.out ?? (flags.holdout ? HOLDOUT_CALIBRATION : DEFAULT_CALIBRATION);
  const path = typeof target === "string" ? target : target.pathname;
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, JSON.stringify(cal, null, 2) + "\n");
  for (const env of ENVIRONMENTS) {
    const e = cal.environments[env];
    process.stdout.write(`${env}: squared relative error ${e.error.toFixed(4)} over ${e.rows} rows; ${Object.entries(e.params).map(([k, v]) => `${k}=${(v as number).toPrecision(4)}`).join(" ")}\n`);
  }
  process.stdout.write(`wrote ${path}\n`);
}

const program = new Command()
  .name("iommu-sim")
  .description("What DMA protection costs with an IOMMU, and what it leaves exposed: IBM Calgary and DART models.")
  .showHelpAfterError()
  .exitOverride();

program
  .command("replay")
  .description("Replay a DMA trace (native format or the kernel's dma: tracepoint text) through a simulated IOMMU")
  .argument("<TRACE>", "trace file")
  .addOption(new Option("--platform <name>", 'IOMMU and driver era ("none": no IOMMU, DMA address = physical)').choices([...PLATFORMS, "none"]).makeOptionMandatory())
  .option("--strategy <s>", `mapping strategy, optionally +deferred-flush|+strict-flush: ${STRATEGIES.join(", ")} (prices the run)`)
  .addOption(new Option("--environment <e>", "who runs the driver and programs the IOMMU (prices the run)").choices(ENVIRONMENTS))
  .option("--profile <file>", "CostProfile JSON (default: the built-in assumed profile)")
  .option("--batch-size <n>", "operations per dma_map_multi / dma_unmap_multi (batched)", (v) => {
    if (!/^\d+$/.test(v)) throw new InvalidArgumentError("expected a whole number");
    return Number(v);
  })
  .option("--table-size <bytes>", 'translation table size: Calgary 64K|128K|256K|512K|1M|2M|4M|8M (default 8M), DART 2M')
  .option("--cache <geometry>", 'device-side cache as ENTRIESxWAYS (default 64x4; "0" for none)', cacheGeometry)
  .addOption(new Option("--flush-policy <policy>", "override the platform's flush policy").choices(FLUSH_POLICIES))
  .addOption(new Option("--emit <what>", "print the DMA address handed out for every map/alloc before the counters").choices(["addresses"]))
  .option("--lenient", "skip malformed or out-of-sequence lines and count them, instead of stopping")
  .option("--json", "print one JSON object")
  .action((file: string, flags: ReplayFlags) => replay(file, flags));

program
  .command("reproduce", { isDefault: false })
  .description("Print the study's three netperf tables, simulated beside measured, then the what-if tables per strategy")
  .option("--json <file>", "also write the rows as JSON")
  .option("--holdout", "use the hold-out calibration (fitted on half the message sizes) and report in- and out-of-sample error")
  .option("--calibration <file>", "a calibration written by iommu-sim calibrate (default: the shipped one)")
  .option("--data <csv>", "measured table (default: data/seed-netperf.csv)")
  .option("--no-what-if", "skip the what-if tables")
  .action((flags: ReproduceFlags) => reproduce(flags));

interface RunFlags {
  workload: "netperf" | "ffsb";
  platform: PlatformName;
  strategy?: string;
  environment?: EnvironmentName;
  messageSize?: number;
  pattern?: "sequential" | "random";
  read?: number;
  ioSize?: string;
  queueDepth?: number;
  json?: boolean;
}

const positiveInt = (v: string) => {
  if (!/^\d+$/.test(v)) throw new InvalidArgumentError("expected a whole number");
  return Number(v);
};

function run(flags: RunFlags): void {
  const env = flags.environment ?? "baremetal";
  const strategy = flags.strategy ?? "straightforward";
  let result: Record<string, unknown>;
  if (flags.workload === "netperf") {
    const size = flags.messageSize ?? 65536;
    const cal = loadCalibration(DEFAULT_CALIBRATION);
    const counts = { off: priceRing("none", env, "straightforward", createIommu).counts, on: priceRing(flags.platform, env, strategy, createIommu).counts };
    const r = simulateRow(env, size, cal.environments[env].params, counts, cal.costProfile);
    result = { workload: "netperf", messageBytes: size, off: r.off, on: r.on };
  } else {
    const ioBytes = flags.ioSize === undefined ? undefined : Number(resolveSize(flags.ioSize));
    const r = ffsb({ pattern: flags.pattern, readFraction: flags.read, ioBytes, queueDepth: flags.queueDepth }, flags.platform, env, strategy, createIommu);
    result = { workload: "ffsb", ...r };
  }
  const full = { platform: flags.platform, strategy, environment: env, ...result };
  if (flags.json) {
    process.stdout.write(JSON.stringify(full, null, 2) + "\n");
    return;
  }
  const lines = [`${flags.workload} on ${flags.platform}, ${strategy}, ${env} (CPU ${env === "baremetal" ? "out of 100" : "out of 800"})`];
  for (const side of ["off", "on"] as const) {
    const p = result[side] as Record<string, number | string>;
    lines.push(`IOMMU ${side.padEnd(3)} ${Object.entries(p).map(([k, v]) => `${k} ${typeof v === "number" ? +v.toPrecision(5) : v}`).join("  ")}`);
  }
  process.stdout.write(lines.join("\n") + "\n");
}

function resolveSize(v: string): number {
  const m = /^(\d+)([KM]?)$/i.exec(v);
  if (!m) throw new ConfigError("--io-size", v, 'bytes or a size such as "64K", "1M"');
  return Number(m[1]) * (m[2] === "" ? 1 : m[2].toUpperCase() === "K" ? 1024 : 1024 * 1024);
}

program
  .command("run")
  .description("One configuration of a workload (netperf or ffsb) with the IOMMU off and on")
  .addOption(new Option("--workload <w>", "netperf TCP_STREAM or ffsb-style block IO").choices(["netperf", "ffsb"]).default("netperf"))
  .addOption(new Option("--platform <name>", "IOMMU and driver era").choices(PLATFORMS).default("calgary-pcix"))
  .option("--strategy <s>", `mapping strategy (+deferred-flush|+strict-flush): ${STRATEGIES.join(", ")}`)
  .addOption(new Option("--environment <e>", "where it runs").choices(ENVIRONMENTS))
  .option("--message-size <bytes>", "netperf message size", positiveInt)
  .addOption(new Option("--pattern <p>", "ffsb access pattern").choices(["sequential", "random"]))
  .option("--read <share>", "ffsb share of reads, 0 … 1", (v) => Number(v))
  .option("--io-size <bytes>", "ffsb request size (64K, 1M, …)")
  .option("--queue-depth <n>", "ffsb requests outstanding", positiveInt)
  .option("--json", "print one JSON object")
  .action((flags: RunFlags) => run(flags));

program
  .command("calibrate")
  .description("Fit the netperf model's free parameters (8 per environment, bounded) to the measured tables, deterministically")
  .option("--out <file>", "where to write the calibration (default: profiles/netperf-calibrated.json, or netperf-holdout.json)")
  .option("--holdout", "fit on every other message size only")
  .option("--data <csv>", "measured table (default: data/seed-netperf.csv)")
  .action((flags: { out?: string; holdout?: boolean; data?: string }) => runCalibrate(flags));

try {
  program.parse();
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
