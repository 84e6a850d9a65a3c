// `iommu-sim allocators`: IO-space allocators compared on DMA-shaped workloads and traces; with
// --shard, one slice of the allocator × workload grid for a cluster (`merge` joins the parts).

import { type Command, Option } from "commander";
import { ALLOCATORS, FLUSH_POLICIES, type AllocatorName, type FlushPolicyName } from "../abi.js";
import {
  compareCell, compareCells, compareOnTrace, csvOfFigures, DEFAULT_WORKLOADS, figureCells, parseAllocatorList, parseWorkloadSpec,
  type CompareCell, type CompareOptions, type WorkloadSpec,
} from "../allocators/compare.js";
import { WORKLOAD_MODES, WORKLOAD_PARAM, WORKLOADS, type AllocatorFigures, type WorkloadMode } from "../allocators/workload.js";
import type { IommuOptions } from "../config.js";
import { ConfigError } from "../errors.js";
import { writeAtomicallySync } from "../io/atomic.js";
import { progress } from "../io/progress.js";
import { createAllocatorWorkload, createIommu } from "../node.js";
import { PLATFORM_PRESETS, PLATFORMS, type PlatformName } from "../platforms.js";
import { traceChunks } from "../io/trace-source.js";
import { collectTrace } from "../trace/stream.js";
import { fileDigest, type Study } from "../shard/part.js";
import { shardIndices } from "../shard/shard.js";
import { jsonOutput } from "./json.js";
import { checkOutputs, wholeNumber } from "./options.js";
import { addShardOptions, runShard, shardOf, type GridOutputs, type ShardFlags } from "./shard.js";
import { textTable } from "./table.js";

export interface AllocatorsFlags extends ShardFlags {
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

/** The comparison the flags describe: the workloads' cells, then the trace's (one per allocator). */
export interface AllocatorsSpec extends CompareOptions {
  trace: string | null;
}

/** What `allocators` prints (the table, or JSON with --json) and its --csv file: for the whole grid or merged parts alike. */
export function allocatorsOutputs(rows: AllocatorFigures[], out: GridOutputs, print: (text: string) => void): void {
  if (out.json) print(jsonOutput("allocators", { rows }));
  else {
    const cells = figureCells(rows);
    print(textTable(cells.head, cells.rows) + "\n");
  }
  if (out.csv) writeAtomicallySync(out.csv, csvOfFigures(rows));
}

/** The comparison's options, shared with `slurm allocators`, which passes them on to each shard. */
export function addAllocatorsOptions(cmd: Command): Command {
  return cmd
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
    .option("--quiet", "no progress bar");
}

/** The grid the flags describe: the workloads' cells, then the trace's, one per allocator. */
export function allocatorsStudy(flags: AllocatorsFlags): { study: Study; spec: AllocatorsSpec; cells: CompareCell[]; traceRows: readonly AllocatorName[] } {
  // every row sets the allocator, which the rIOMMU's ring does not let one choose
  if (flags.platform === "riommu") throw new ConfigError("--platform", flags.platform, `a platform whose IO-space allocator can be chosen (${PLATFORMS.filter((p) => p !== "riommu").join(", ")}): the rIOMMU appends at its ring's tail, there is no allocator to compare`);
  const base: IommuOptions = { platform: flags.platform };
  base.tableSize = flags.tableSize ?? (PLATFORM_PRESETS[flags.platform].tableSizes.includes(1 << 20) ? "1M" : undefined);
  if (base.tableSize === undefined) delete base.tableSize;
  if (flags.flushPolicy !== undefined) base.flushPolicy = flags.flushPolicy;
  if (flags.cpus !== undefined) base.cpus = flags.cpus;
  const allocators = flags.allocators === undefined ? ALLOCATORS : parseAllocatorList(flags.allocators);
  const workloads: WorkloadSpec[] = flags.workload === undefined ? DEFAULT_WORKLOADS : flags.workload.map(parseWorkloadSpec);
  const spec: AllocatorsSpec = { base, allocators, workloads, steps: flags.steps, mode: flags.mode, seed: flags.seed, trace: flags.trace ?? null };
  const cells = compareCells(spec);
  const traceRows = flags.trace === undefined ? [] : allocators;
  // the trace is another grid when its bytes differ, whatever its path
  const inputs: Record<string, string> = flags.trace === undefined || flags.trace === "-" ? {} : { trace: fileDigest("--trace", flags.trace, "trace file") };
  const study: Study = { command: "allocators", spec, inputs, configurations: cells.length + traceRows.length };
  return { study, spec, cells, traceRows };
}

/** Every shard reads the trace again (`--shard`, `slurm allocators`): stdin cannot be read twice, nor on another node. */
export function checkShardedTrace(trace: string | undefined): void {
  if (trace === "-") throw new ConfigError("--trace", "-", "a file with --shard or slurm (every shard reads it)");
}

export function registerAllocators(program: Command): void {
  addShardOptions(addAllocatorsOptions(
    program
      .command("allocators")
      .description("Compare IO-space allocators on DMA-shaped workloads: failures, search work, wraps and flushes, fragmentation, footprint; --shard: one slice of them, for `merge`"),
  ))
    .action(async (flags: AllocatorsFlags) => {
      const { study, spec, cells, traceRows } = allocatorsStudy(flags);
      if (flags.shard !== undefined) checkShardedTrace(flags.trace);
      const target = shardOf("allocators", flags, { json: flags.json, csv: flags.csv });
      // every input is checked before the workloads run: a bad trace or output path must not wait for them
      checkOutputs(["--csv", flags.csv]);
      const needsTrace = target === undefined ? traceRows.length > 0 : shardIndices(target.shard, study.configurations).some((i) => i >= cells.length);
      const trace = needsTrace ? await collectTrace(traceChunks(flags.trace!, "--trace")) : undefined;
      const evaluate = (indices: number[]): AllocatorFigures[] => {
        const bar = progress("allocators", flags.quiet ?? false);
        const rows = indices.map((i, k) => {
          const row = i < cells.length ? compareCell(createAllocatorWorkload, spec, cells[i]) : compareOnTrace(createIommu, trace!, spec.base, [traceRows[i - cells.length]])[0];
          bar.update(k + 1, indices.length);
          return row;
        });
        bar.stop();
        return rows;
      };
      if (target) {
        await runShard(study, target, evaluate);
        return;
      }
      allocatorsOutputs(evaluate(Array.from({ length: study.configurations }, (_, i) => i)), flags, (text) => process.stdout.write(text));
    });
}

