// `iommu-sim replay`: a DMA trace through a simulated IOMMU; with a strategy, environment or
// profile, the priced run.

import { once } from "node:events";
import { readFileSync } from "node:fs";
import { type Command, Option } from "commander";
import { ALLOCATORS, countersShown, FLUSH_POLICIES, type AllocatorName, type FlushPolicyName } from "../abi.js";
import { resolveConfig, type IommuOptions } from "../config.js";
import { ConfigError } from "../errors.js";
import { createIommu, createPricedSimulation } from "../node.js";
import { PLATFORM_PRESETS, PLATFORMS, type PlatformName } from "../platforms.js";
import { DEFAULT_PROFILE, validateProfile, type CostProfile } from "../sim/cost-profile.js";
import { ENVIRONMENTS, type EnvironmentName } from "../sim/environments.js";
import { resolveSimulation, type SimPlatform, type SimulationOptions } from "../sim/setup.js";
import { STRATEGIES } from "../sim/strategies.js";
import { traceChunks } from "../io/trace-source.js";
import { replayStreamOnto, replayTraceStream, STREAM_SIZING } from "../trace/stream.js";
import { jsonOutput } from "./json.js";
import { cacheGeometry, wholeNumber } from "./options.js";
import { checkReplayGridOutputs, replayGridOutputs, replayGridRows, replayGridStudy } from "./replay-grid.js";
import { addShardOptions, runShard, shardOf, type GridOutputs, type ShardFlags } from "./shard.js";

export interface ReplayFlags {
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
  pageTableLevels?: number;
  emit?: string;
  lenient?: boolean;
  json?: boolean;
}

/** Stdout for a streamed run: held until 1 MiB (a short run that fails prints nothing), then written as it comes, at the pace stdout takes it. */
class StreamedOutput {
  private parts: string[] = [];
  private size = 0;
  private streaming = false;

  line(s: string): void {
    this.parts.push(s);
    this.size += s.length + 1;
    if (this.size >= 1 << 20) {
      this.streaming = true;
      this.flush();
    }
  }

  flush(): void {
    if (this.parts.length === 0) return;
    process.stdout.write(this.parts.join("\n") + "\n");
    this.parts = [];
    this.size = 0;
  }

  /** Waits while stdout's buffer is full (a slow reader must not make the output pile up in memory). */
  async drain(): Promise<void> {
    if (this.streaming && process.stdout.writableNeedDrain) await once(process.stdout, "drain");
  }
}

async function* paced(chunks: AsyncIterable<Uint8Array>, out: StreamedOutput): AsyncGenerator<Uint8Array> {
  for await (const c of chunks) {
    yield c;
    await out.drain();
  }
}

/** Whether the flags ask for the priced run (a strategy, an environment, a profile, or no IOMMU). */
export const isPriced = (flags: ReplayFlags): boolean =>
  flags.strategy !== undefined || flags.environment !== undefined || flags.profile !== undefined || flags.platform === "none";

function iommuOptions(flags: ReplayFlags): IommuOptions {
  // the unpriced replay makes one DMA-API call per trace line: a batch size would change nothing
  if (flags.batchSize !== undefined) throw new ConfigError("--batch-size", flags.batchSize, "to be given with a priced run (--strategy, --environment or --profile): the unpriced replay makes one call per trace line");
  const options: IommuOptions = { platform: flags.platform as PlatformName };
  if (flags.tableSize !== undefined) options.tableSize = flags.tableSize;
  if (flags.cache !== undefined) options.cache = flags.cache;
  if (flags.flushPolicy !== undefined) options.flushPolicy = flags.flushPolicy;
  if (flags.allocator !== undefined) options.allocator = flags.allocator;
  if (flags.pageTableLevels !== undefined) options.pageTableLevels = flags.pageTableLevels;
  return options;
}

/** The unpriced replay's --json body (without the stamp). */
function unpricedBody(flags: ReplayFlags, result: Awaited<ReturnType<typeof replayTraceStream>>, emit: boolean): object {
  return {
    platform: flags.platform,
    operations: result.operations,
    skipped: result.skipped,
    ignoredEvents: result.ignored,
    stats: result.stats,
    ...(emit ? { addresses: result.addresses } : {}),
  };
}

/** One replay as `replay --json` gives it: its schema's name and body. */
export async function replayJson(file: string, flags: ReplayFlags): Promise<{ schema: "replay" | "replay-priced"; body: object }> {
  if (isPriced(flags)) {
    const r = await pricedRun(file, flags);
    return { schema: "replay-priced", body: { ...r.report, operations: r.operations, skipped: r.skipped } };
  }
  const options = iommuOptions(flags);
  const result = await replayTraceStream(traceChunks(file), (sizing) => createIommu(unpricedOptions(options, sizing, flags)), { lenient: flags.lenient });
  return { schema: "replay", body: unpricedBody(flags, result, false) };
}

/** The unpriced replay's core options: the flags' over the stream's sizing. */
const unpricedOptions = (options: IommuOptions, sizing: Pick<IommuOptions, "maxHandles" | "batchCapacity" | "cpus">, flags: ReplayFlags): IommuOptions =>
  ({ ...options, ...sizing, cpus: flags.cpus ?? sizing.cpus });

/**
 * Checks one replay's settings as the replay itself would (every refusal that does not depend on
 * the trace's contents), without building a core: a grid checks every configuration before its
 * first run, and `slurm replay` before anything is queued.
 */
export function checkReplayFlags(flags: ReplayFlags): void {
  if (isPriced(flags)) {
    resolvePricedRun(flags);
    return;
  }
  resolveConfig(unpricedOptions(iommuOptions(flags), STREAM_SIZING, flags));
}

async function replay(file: string, flags: ReplayFlags): Promise<void> {
  if (isPriced(flags)) {
    await simulate(file, flags);
    return;
  }
  const options = iommuOptions(flags);
  const out = new StreamedOutput();
  const emit = flags.emit === "addresses";
  const result = await replayTraceStream(
    paced(traceChunks(file), out),
    (sizing) => createIommu(unpricedOptions(options, sizing, flags)),
    {
      lenient: flags.lenient,
      collectAddresses: emit && flags.json,
      onAddress: emit && !flags.json ? (id, _line, dma) => out.line(`${id} ${dma === null ? "error" : dma.map((d) => "0x" + d.toString(16)).join(" ")}`) : undefined,
    },
  );

  if (flags.json) {
    process.stdout.write(jsonOutput("replay", unpricedBody(flags, result, emit)));
    return;
  }
  for (const name of countersShown(resolveConfig(options).invalidation)) out.line(`${name} ${result.stats[name]}`);
  out.line(`operations ${result.operations}`);
  out.line(`skipped ${result.skipped.length}`);
  if (result.ignored) out.line(`ignoredEvents ${result.ignored}`);
  out.flush();
  const unit = result.format === "binary" ? "record" : "line";
  for (const s of result.skipped) process.stderr.write(`skipped ${unit} ${s.line}: ${s.reason}: ${s.text.trim()}\n`);
}

export function loadProfile(file: string | undefined): CostProfile {
  if (file === undefined) return DEFAULT_PROFILE;
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, "utf8"));
  } catch (e) {
    throw new ConfigError("--profile", file, `a readable JSON cost profile (${(e as Error).message})`);
  }
  return validateProfile(json, `profile ${file}`);
}

/** The priced run's options from the flags, checked (the profile read, the simulation and its core resolved). */
function resolvePricedRun(flags: ReplayFlags): SimulationOptions {
  // 2^18 live buffers (a priced buffer keeps 32 bytes, cached and persistent slots more): room for
  // any NIC's rings or disk queue, and the whole run within 200 MB
  const iommu: Omit<IommuOptions, "platform" | "flushPolicy"> = { ...STREAM_SIZING, maxHandles: 1 << 18 };
  if (flags.tableSize !== undefined) iommu.tableSize = flags.tableSize;
  if (flags.cache !== undefined) iommu.cache = flags.cache;
  if (flags.allocator !== undefined) iommu.allocator = flags.allocator;
  if (flags.cpus !== undefined) iommu.cpus = flags.cpus;
  if (flags.pageTableLevels !== undefined) iommu.pageTableLevels = flags.pageTableLevels;
  if (flags.flushPolicy !== undefined) throw new ConfigError("--flush-policy", flags.flushPolicy, "to be left out with --strategy: use deferred-flush or strict-flush in the strategy");
  const options: SimulationOptions = {
    platform: flags.platform as SimPlatform,
    strategy: flags.strategy,
    environment: flags.environment,
    profile: loadProfile(flags.profile),
    iommu,
    batchSize: flags.batchSize,
  };
  const { core } = resolveSimulation(options);
  if (core) resolveConfig(core);
  return options;
}

/** The priced run: the simulation's report, the operations replayed and the lines skipped. */
async function pricedRun(file: string, flags: ReplayFlags) {
  const sim = createPricedSimulation(resolvePricedRun(flags));
  const { cpus, perCpu } = sim.cpus;
  const streamed = await replayStreamOnto(traceChunks(file), sim.batch, {
    handles: sim.handles, cpus, perCpu, lenient: flags.lenient, refusal: (_op, result) => sim.refusal(result),
  });
  sim.finish();
  return { report: sim.report(), operations: streamed.operations, skipped: streamed.skipped };
}

/** replay with --strategy / --environment / --profile (or --platform none): the priced run. */
async function simulate(file: string, flags: ReplayFlags): Promise<void> {
  const r = await pricedRun(file, flags);
  if (flags.json) {
    process.stdout.write(jsonOutput("replay-priced", { ...r.report, operations: r.operations, skipped: r.skipped }));
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
    ...countersShown(rep.platform === "none" ? "none" : PLATFORM_PRESETS[rep.platform].invalidation).map((n) => `${n} ${rep.counters[n]}`),
  ];
  process.stdout.write(out.join("\n") + "\n");
}

/** The replay's argument and options, shared with `slurm replay`, which passes them on to each shard. */
export function addReplayOptions(cmd: Command): Command {
  return cmd
    .argument("<TRACE...>", 'trace file: native text, kernel dma: tracepoint text or binary, optionally gzipped; "-" reads stdin. Several: each is replayed under every configuration of the grid')
    .addOption(new Option("--platform <name>", 'IOMMU and driver era ("none": no IOMMU, DMA address = physical); required unless --grid platform=…').choices([...PLATFORMS, "none"]))
    .option("--strategy <s>", `mapping strategy, optionally +deferred-flush|+strict-flush: ${STRATEGIES.join(", ")} (prices the run)`)
    .addOption(new Option("--environment <e>", "who runs the driver and programs the IOMMU (prices the run)").choices(ENVIRONMENTS))
    .option("--profile <file>", "CostProfile JSON (default: the built-in assumed profile)")
    .option("--batch-size <n>", "operations per dma_map_multi / dma_unmap_multi (batched)", wholeNumber)
    .option("--table-size <bytes>", 'translation table size: Calgary 64K|128K|256K|512K|1M|2M|4M|8M (default 8M), DART 2M; vtd, amd-vi, smmuv3: the IO space at 8 bytes a page, 64K … 8M (default 8M = 4 GiB)')
    .option("--page-table-levels <n>", "levels of the I/O page table: vtd 4 (default) or 5; amd-vi 3; smmuv3 4", wholeNumber)
    .option("--cache <geometry>", 'device-side cache as ENTRIESxWAYS (default 64x4; "0" for none)', cacheGeometry)
    .addOption(new Option("--flush-policy <policy>", "override the platform's flush policy").choices(FLUSH_POLICIES))
    .addOption(new Option("--allocator <name>", "override the platform's IO-space allocator").choices(ALLOCATORS))
    .option("--cpus <n>", "CPUs modelled (per-CPU IOVA magazines and flush queues; default: the 64 a trace can name with `cpu N` lines or the [NNN] column of tracepoint lines, CPUs it never switches to changing nothing); a per-CPU allocator refuses a CPU beyond them", wholeNumber)
    .addOption(new Option("--emit <what>", "print the DMA address handed out for every map/alloc before the counters").choices(["addresses"]))
    .option("--lenient", "skip malformed or out-of-sequence lines and count them, instead of stopping")
    .option("--grid <key=v1,v2,...>", "replay every trace under every configuration of a grid, one row a run; repeat for more axes; keys: platform, strategy, environment, allocator, flushPolicy, tableSize, cache, cpus, batchSize, pageTableLevels", (v: string, prev: string[] = []) => [...prev, v])
    .option("--csv <file>", "several traces or --grid: write the runs as CSV")
    .option("--quiet", "no progress bar")
    .option("--json", "print one JSON object");
}

export function registerReplay(program: Command): void {
  addShardOptions(addReplayOptions(
    program
      .command("replay")
      .description("Replay a DMA trace (native format or the kernel's dma: tracepoint text) through a simulated IOMMU; several traces or --grid: every trace under every configuration, --shard: one slice of them, for `merge`"),
  ))
    .action(async (traces: string[], flags: ReplayFlags & GridOutputs & ShardFlags & { grid?: string[]; quiet?: boolean }) => {
      if (traces.length === 1 && flags.grid === undefined && flags.shard === undefined) {
        if (flags.csv !== undefined) throw new ConfigError("--csv", flags.csv, "to be given with several traces or --grid (a table of runs)");
        if (flags.platform === undefined) throw new ConfigError("--platform", undefined, `one of ${[...PLATFORMS, "none"].join(", ")}`);
        await replay(traces[0], flags);
        return;
      }
      const { study, spec } = replayGridStudy(traces, flags);
      const target = shardOf("replay", flags, flags);
      if (!target) checkReplayGridOutputs(flags);
      if (target) {
        await runShard(study, target, (indices) => replayGridRows(spec, indices, flags.quiet ?? false));
        return;
      }
      const rows = await replayGridRows(spec, Array.from({ length: study.configurations }, (_, i) => i), flags.quiet ?? false);
      replayGridOutputs(spec, rows, flags, (text) => process.stdout.write(text));
    });
}
