#!/usr/bin/env node
// iommu-sim command line. Exit codes: 0 done, 1 bad input (options, trace), 2 internal error.

import { mkdirSync, readFileSync } from "node:fs";
import { dirname } from "node:path";
import { Command, InvalidArgumentError, Option } from "commander";
import { ALLOCATORS, COUNTER_NAMES, FLUSH_POLICIES, type AllocatorName, type FlushPolicyName } from "./abi.js";
import type { IommuOptions } from "./config.js";
import { ConfigError } from "./errors.js";
import { createAllocatorWorkload, createIommu } from "./node.js";
import {
  compareAllocators, compareOnTrace, csvOfFigures, DEFAULT_WORKLOADS, formatFigures, parseAllocatorList, parseWorkloadSpec,
  type WorkloadSpec,
} from "./allocators/compare.js";
import { WORKLOAD_MODES, WORKLOAD_PARAM, WORKLOADS, type WorkloadMode } from "./allocators/workload.js";
import { PLATFORM_PRESETS, PLATFORMS, type PlatformName } from "./platforms.js";
import { DEFAULT_PROFILE, validateProfile, type CostProfile } from "./sim/cost-profile.js";
import { ENVIRONMENTS, type EnvironmentName } from "./sim/environments.js";
import { replayThroughSimulation } from "./sim/replay.js";
import { createSimulation, type SimPlatform } from "./sim/simulation.js";
import { STRATEGIES } from "./sim/strategies.js";
import { parseTrace, TraceError } from "./trace/parse.js";
import { calibrate, parseMeasured, type Calibration } from "./workloads/reproduction.js";
import { fidelity, formatFidelity, formatTables, formatWhatIf, reproduceRows, whatIf } from "./workloads/report.js";
import { writeAtomicallySync } from "./io/atomic.js";
import { progress } from "./io/progress.js";
import { frontierSpec, messageSizeSpec, type VegaLiteSpec } from "./plot/specs.js";
import { writePlot } from "./plot/render.js";
import { expandGrid, parseGridArg, resolveRun, RUN_KEYS, type RunConfig } from "./sweep/config.js";
import { evaluate, type RunResult } from "./sweep/run.js";
import { sweep } from "./sweep/sweep.js";
import { replayTrace, traceCpus } from "./trace/replay.js";

const EXIT_BAD_INPUT = 1;
const EXIT_INTERNAL = 2;

function wholeNumber(v: string): number {
  if (!/^\d+$/.test(v)) throw new InvalidArgumentError("expected a whole number");
  return Number(v);
}

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
  allocator?: AllocatorName;
  cpus?: number;
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
  if (flags.allocator !== undefined) options.allocator = flags.allocator;
  const result = replayTrace(trace, (sizing) => createIommu({ ...options, ...sizing, cpus: flags.cpus ?? sizing.cpus }), { lenient: flags.lenient });

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
  if (flags.allocator !== undefined) iommu.allocator = flags.allocator;
  iommu.cpus = flags.cpus ?? traceCpus(trace);
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
    writeAtomicallySync(flags.json, JSON.stringify(json, null, 2) + "\n");
  }
  if (flags.csv) {
    const head = "environment,message_bytes,in_sample,sim_off_mbps,sim_off_cpu,sim_on_mbps,sim_on_cpu,meas_off_mbps,meas_off_cpu,meas_on_mbps,meas_on_cpu";
    const body = rows.map((r) => [r.environment, r.messageBytes, r.inSample, r.simulated.offMbps, r.simulated.offCpu, r.simulated.onMbps, r.simulated.onCpu, r.measured.offMbps, r.measured.offCpu, r.measured.onMbps, r.measured.onCpu].join(","));
    writeAtomicallySync(flags.csv, [head, ...body].join("\n") + "\n");
  }
  if (flags.plot) {
    const specs: VegaLiteSpec[] = [messageSizeSpec(rows)];
    if (what.length) specs.push(frontierSpec(what));
    await writePlot(flags.plot, specs);
  }
}

function runCalibrate(flags: { out?: string; holdout?: boolean; data?: string; quiet?: boolean }): void {
  const measured = parseMeasured(readText("--data", flags.data ?? DEFAULT_MEASURED));
  const bar = progress("calibrating", flags.quiet ?? false);
  bar.update(0, ENVIRONMENTS.length);
  const cal = calibrate(measured, createIommu, { holdout: flags.holdout, onProgress: (d, t) => bar.update(d, t) });
  bar.stop();
  const target = flags.out ?? (flags.holdout ? HOLDOUT_CALIBRATION : DEFAULT_CALIBRATION);
  const path = typeof target === "string" ? target : target.pathname;
  mkdirSync(dirname(path), { recursive: true });
  writeAtomicallySync(path, JSON.stringify(cal, null, 2) + "\n");
  for (const env of ENVIRONMENTS) {
    const e = cal.environments[env];
    process.stdout.write(`${env}: squared relative error ${e.error.toFixed(4)} over ${e.rows} rows; ${Object.entries(e.params).map(([k, v]) => `${k}=${(v as number).toPrecision(4)}`).join(" ")}\n`);
  }
  process.stdout.write(`wrote ${path}\n`);
}

const program = new Command()
  .name("iommu-sim")
  .version("0.1.0")
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
  .addOption(new Option("--allocator <name>", "override the platform's IO-space allocator").choices(ALLOCATORS))
  .option("--cpus <n>", "CPUs modelled (per-CPU IOVA magazines; default: as many as the trace names, `cpu N` lines or the [NNN] column of tracepoint lines)", wholeNumber)
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
  .option("--csv <file>", "also write the rows as CSV")
  .option("--plot <file>", "also plot: FILE.svg (throughput and CPU against message size; -2.svg: the price-of-safety frontier) or FILE.html")
  .option("--quiet", "no progress output")
  .action((flags: ReproduceFlags) => reproduce(flags));

interface RunFlags extends Partial<Record<keyof RunConfig, string>> {
  config?: string;
  json?: boolean;
}

/** Flags as RunConfig fields (numbers where numeric). */
function runLayer(flags: RunFlags): Partial<Record<string, unknown>> {
  const layer: Record<string, unknown> = {};
  for (const k of RUN_KEYS) {
    const v = flags[k];
    if (v === undefined) continue;
    layer[k] = ["messageBytes", "readFraction", "ioBytes", "queueDepth"].includes(k) ? Number(v) : v;
  }
  return layer;
}

function readConfig(file: string | undefined): Partial<Record<string, unknown>> | undefined {
  if (!file) return undefined;
  try {
    return JSON.parse(readText("--config", file)) as Record<string, unknown>;
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    throw new ConfigError("--config", file, `a JSON object of run settings (${(e as Error).message})`);
  }
}

function addRunOptions(cmd: Command): Command {
  return cmd
    .option("--config <file>", "JSON file of run settings; flags override it")
    .addOption(new Option("--workload <w>", "netperf TCP_STREAM or ffsb-style block IO").choices(["netperf", "ffsb"]))
    .addOption(new Option("--platform <name>", "IOMMU and driver era").choices(PLATFORMS))
    .option("--strategy <s>", `mapping strategy (+deferred-flush|+strict-flush): ${STRATEGIES.join(", ")}`)
    .addOption(new Option("--environment <e>", "where it runs").choices(ENVIRONMENTS))
    .option("--message-bytes <n>", "netperf message size")
    .addOption(new Option("--pattern <p>", "ffsb access pattern").choices(["sequential", "random"]))
    .option("--read-fraction <share>", "ffsb share of reads, 0 … 1")
    .option("--io-bytes <n>", "ffsb request size in bytes (multiple of 4096)")
    .option("--queue-depth <n>", "ffsb requests outstanding");
}

const RESULT_COLS: Array<keyof RunResult> = ["offMbps", "offCpu", "onMbps", "onCpu", "bottleneckOn", "releasedButLivePeak", "lateDmaReachedPct"];

function formatResults(configs: RunConfig[], results: RunResult[], keys: Array<keyof RunConfig>): string {
  const head = [...keys, ...RESULT_COLS];
  const lines = [head.join("\t")];
  configs.forEach((c, i) => {
    const r = results[i];
    lines.push([...keys.map((k) => c[k]), ...RESULT_COLS.map((k) => (typeof r[k] === "number" ? +(r[k] as number).toPrecision(5) : r[k]))].join("\t"));
  });
  return lines.join("\n");
}

function csvOf(configs: RunConfig[], results: RunResult[]): string {
  const head = [...RUN_KEYS, ...RESULT_COLS];
  return [head.join(","), ...configs.map((c, i) => [...RUN_KEYS.map((k) => c[k]), ...RESULT_COLS.map((k) => results[i][k])].join(","))].join("\n") + "\n";
}

addRunOptions(
  program
    .command("run")
    .description("One configuration (workload, platform, strategy, environment, workload knobs), IOMMU off and on"),
)
  .option("--json", "print one JSON object")
  .action((flags: RunFlags) => {
    const config = resolveRun(readConfig(flags.config), runLayer(flags));
    const result = evaluate(config);
    if (flags.json) process.stdout.write(JSON.stringify({ config, result }, null, 2) + "\n");
    else process.stdout.write(formatResults([config], [result], RUN_KEYS.filter((k) => config.workload === "ffsb" ? k !== "messageBytes" : !["pattern", "readFraction", "ioBytes", "queueDepth"].includes(k))) + "\n");
  });

interface SweepFlags extends RunFlags {
  grid?: string[];
  threads?: string;
  serial?: boolean;
  csv?: string;
  plot?: string;
  quiet?: boolean;
  json?: boolean;
}

addRunOptions(
  program
    .command("sweep")
    .description("Evaluate a grid of configurations (any run setting), in parallel over worker threads"),
)
  .option("--grid <key=v1,v2,...>", "a grid axis; repeat for more axes (e.g. --grid messageBytes=64,1024,65536 --grid strategy=straightforward,batched)", (v: string, prev: string[] = []) => [...prev, v])
  .option("--threads <n>", "worker threads (default: all cores)")
  .option("--serial", "evaluate in this thread")
  .option("--csv <file>", "write the results as CSV")
  .option("--json", "print the results as JSON")
  .option("--plot <file>", "plot on-CPU against the first grid axis (FILE.svg or FILE.html)")
  .option("--quiet", "no progress bar")
  .action(async (flags: SweepFlags) => {
    const base = resolveRun(readConfig(flags.config), runLayer(flags));
    const grid = (flags.grid ?? []).map(parseGridArg);
    if (grid.length === 0) throw new ConfigError("--grid", undefined, "at least one axis, KEY=V1,V2,…");
    const configs = expandGrid(base, grid);
    const bar = progress(`sweep of ${configs.length}`, flags.quiet ?? false);
    const threads = flags.serial ? 1 : flags.threads !== undefined ? Number(flags.threads) : undefined;
    const results = await sweep(configs, { threads, onProgress: (d, t) => bar.update(d, t) });
    bar.stop();
    const keys = grid.map(([k]) => k);
    if (flags.json) process.stdout.write(JSON.stringify(configs.map((config, i) => ({ config, result: results[i] })), null, 2) + "\n");
    else process.stdout.write(formatResults(configs, results, keys) + "\n");
    if (flags.csv) writeAtomicallySync(flags.csv, csvOf(configs, results));
    if (flags.plot) {
      const [xKey] = keys;
      const values = configs.map((c, i) => ({ x: c[xKey], series: keys.slice(1).map((k) => `${k}=${c[k]}`).join(" ") || "all", onCpu: results[i].onCpu, offCpu: results[i].offCpu, onMbps: results[i].onMbps }));
      await writePlot(flags.plot, [{
        $schema: "https://vega.github.io/schema/vega-lite/v5.json",
        title: `sweep: CPU with the IOMMU on against ${String(xKey)}`,
        data: { values },
        width: 480,
        height: 280,
        mark: { type: "line", point: true },
        encoding: {
          x: { field: "x", type: typeof values[0].x === "number" ? "quantitative" : "nominal", title: String(xKey) },
          y: { field: "onCpu", type: "quantitative", title: "CPU, IOMMU on (study's scale)" },
          color: { field: "series", type: "nominal", title: null },
        },
      }]);
    }
  });

interface AllocatorsFlags {
  platform: PlatformName;
  tableSize?: string;
  flushPolicy?: FlushPolicyName;
  cpus?: number;
  allocators?: string;
  workload?: string[];
  trace?: string;
  steps: number;
  mode: WorkloadMode;
  seed: number;
  json?: boolean;
  csv?: string;
  quiet?: boolean;
}

program
  .command("allocators")
  .description("Compare IO-space allocators on DMA-shaped workloads: failures, search work, wraps and flushes, fragmentation, footprint")
  .addOption(new Option("--platform <name>", "IOMMU whose table the allocators manage").choices(PLATFORMS).default("calgary-pcix"))
  .option("--table-size <bytes>", "translation table size (default: 1M on Calgary, 128 Ki entries, so the occupancy runs take seconds; DART 2M)")
  .option("--cpus <n>", "CPUs modelled; maps and unmaps land on random CPUs when > 1", wholeNumber)
  .addOption(new Option("--flush-policy <policy>", "override the platform's flush policy (IOVA never wraps: on-wrap never flushes it; strict flushes per unmap)").choices(FLUSH_POLICIES))
  .option("--allocators <list>", `comma-separated, default all: ${ALLOCATORS.join(",")}`)
  .option("--workload <name[:param]>", `repeatable; default ${DEFAULT_WORKLOADS.map((w) => `${w.workload}:${w.param}`).join(" ")}. ` +
    WORKLOADS.map((w) => `${w}: ${WORKLOAD_PARAM[w].meaning}`).join("; "), (v: string, prev: string[] = []) => [...prev, v])
  .option("--trace <file>", "also replay this trace (native or kernel dma: format) under each allocator")
  .option("--steps <n>", "steps per workload after its initial fill (a step is one unmap and one map)", wholeNumber, 200_000)
  .addOption(new Option("--mode <mode>", "dma: full map/unmap (table, cache, flushes); allocator: the allocator alone").choices(WORKLOAD_MODES).default("dma"))
  .option("--seed <n>", "seed of the workloads' random streams", wholeNumber, 1)
  .option("--json", "print the rows as JSON")
  .option("--csv <file>", "also write the rows as CSV")
  .option("--quiet", "no progress bar")
  .action((flags: AllocatorsFlags) => {
    const base: IommuOptions = { platform: flags.platform };
    base.tableSize = flags.tableSize ?? (PLATFORM_PRESETS[flags.platform].tableSizes.includes(1 << 20) ? "1M" : undefined);
    if (base.tableSize === undefined) delete base.tableSize;
    if (flags.flushPolicy !== undefined) base.flushPolicy = flags.flushPolicy;
    if (flags.cpus !== undefined) base.cpus = flags.cpus;
    const allocators = flags.allocators === undefined ? ALLOCATORS : parseAllocatorList(flags.allocators);
    const workloads: WorkloadSpec[] = flags.workload === undefined ? DEFAULT_WORKLOADS : flags.workload.map(parseWorkloadSpec);
    const bar = progress("allocators", flags.quiet ?? false);
    const rows = compareAllocators(createAllocatorWorkload, {
      base, allocators, workloads, steps: flags.steps, mode: flags.mode, seed: flags.seed,
    }, (d, t) => bar.update(d, t));
    bar.stop();
    if (flags.trace !== undefined) {
      let text: string;
      try {
        text = readFileSync(flags.trace, "utf8");
      } catch (e) {
        throw new ConfigError("--trace", flags.trace, `a readable trace file (${(e as Error).message})`);
      }
      const trace = parseTrace(text);
      rows.push(...compareOnTrace(createIommu, trace, base, allocators));
    }
    if (flags.json) process.stdout.write(JSON.stringify(rows, null, 2) + "\n");
    else process.stdout.write(formatFigures(rows) + "\n");
    if (flags.csv) writeAtomicallySync(flags.csv, csvOfFigures(rows));
  });

program
  .command("serve")
  .description("Serve the package on 127.0.0.1 for the demo page (web/index.html)")
  .option("--port <n>", "port (default: any free one)", "0")
  .action(async (flags: { port: string }) => {
    const { serve } = await import("./io/static-server.js");
    const root = decodeURIComponent(PACKAGE_ROOT.pathname).replace(/\/$/, "");
    const s = await serve(root, Number(flags.port));
    process.stdout.write(`demo page: ${s.url}/web/index.html (Ctrl-C to stop)\n`);
  });

program
  .command("calibrate")
  .description("Fit the netperf model's free parameters (8 per environment, bounded) to the measured tables, deterministically")
  .option("--out <file>", "where to write the calibration (default: profiles/netperf-calibrated.json, or netperf-holdout.json)")
  .option("--holdout", "fit on every other message size only")
  .option("--data <csv>", "measured table (default: data/seed-netperf.csv)")
  .option("--quiet", "no progress bar")
  .action((flags: { out?: string; holdout?: boolean; data?: string; quiet?: boolean }) => runCalibrate(flags));

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
