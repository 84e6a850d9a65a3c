// `replay TRACE… --grid KEY=V1,V2`: a list of traces, each replayed under every configuration of
// a grid of replay settings (platform, strategy, environment, allocator, table, cache, flush
// policy, CPUs, batch size), one row a run; with --shard, one slice of it for a cluster (`merge`
// joins the parts). Each run is the single `replay --json` run of that trace and configuration.

import { csvFormatRows } from "d3-dsv";
import { InvalidArgumentError } from "commander";
import { ALLOCATORS, COUNTER_NAMES, FLUSH_POLICIES, type CounterName } from "../abi.js";
import { ConfigError } from "../errors.js";
import { writeAtomicallySync } from "../io/atomic.js";
import { progress } from "../io/progress.js";
import { PLATFORMS } from "../platforms.js";
import { ENVIRONMENTS } from "../sim/environments.js";
import { fileDigest, type Study } from "../shard/part.js";
import { jsonOutput } from "./json.js";
import { cacheGeometry, checkDistinctAxes, checkOutputs, wholeNumber } from "./options.js";
import { checkReplayFlags, replayJson, type ReplayFlags } from "./replay.js";
import type { GridOutputs } from "./shard.js";
import { textTable } from "./table.js";

/** The settings a replay grid varies, each checked as its flag is. */
const GRID_KEYS: Record<string, (v: string) => unknown> = {
  platform: choice([...PLATFORMS, "none"]),
  strategy: (v) => v,
  environment: choice(ENVIRONMENTS),
  allocator: choice(ALLOCATORS),
  flushPolicy: choice(FLUSH_POLICIES),
  tableSize: (v) => v,
  cache: cacheGeometry,
  cpus: wholeNumber,
  batchSize: wholeNumber,
  pageTableLevels: wholeNumber,
};

function choice(allowed: readonly string[]): (v: string) => string {
  return (v) => {
    if (!allowed.includes(v)) throw new InvalidArgumentError(`one of ${allowed.join(", ")}`);
    return v;
  };
}

/** The traces (as given), the settings common to every run, the axes (values as given). */
export interface ReplayGridSpec {
  traces: string[];
  base: Partial<ReplayFlags>;
  grid: Array<[string, string[]]>;
}

export interface ReplayGridRow {
  schema: "replay" | "replay-priced";
  result: Record<string, unknown>;
}

/** `key=v1,v2,…`, each value checked. */
function parseReplayGridArg(arg: string): [string, string[]] {
  const eq = arg.indexOf("=");
  const key = arg.slice(0, eq);
  if (eq <= 0 || !(key in GRID_KEYS)) throw new ConfigError("--grid", arg, `KEY=V1,V2,… with KEY one of ${Object.keys(GRID_KEYS).join(", ")}`);
  const values = arg.slice(eq + 1).split(",").map((s) => s.trim()).filter(Boolean);
  if (values.length === 0) throw new ConfigError("--grid", arg, "at least one value after =");
  for (const v of values) {
    try {
      GRID_KEYS[key](v);
    } catch (e) {
      throw new ConfigError(`--grid ${key}`, v, (e as Error).message.replace(/^expected /, ""));
    }
  }
  return [key, values];
}

/** Every run's settings: trace by trace, the grid's last axis fastest. */
function cellsOf(spec: ReplayGridSpec): Array<{ trace: string; values: Record<string, string> }> {
  let combos: Array<Record<string, string>> = [{}];
  for (const [key, values] of spec.grid) combos = combos.flatMap((c) => values.map((v) => ({ ...c, [key]: v })));
  return spec.traces.flatMap((trace) => combos.map((values) => ({ trace, values })));
}

function flagsOf(spec: ReplayGridSpec, values: Record<string, string>): ReplayFlags {
  const flags = { ...spec.base } as Record<string, unknown>;
  for (const [k, v] of Object.entries(values)) flags[k] = GRID_KEYS[k](v);
  if (flags.platform === undefined) throw new ConfigError("--platform", undefined, `one of ${[...PLATFORMS, "none"].join(", ")}, or --grid platform=…`);
  return flags as unknown as ReplayFlags;
}

const BASE_KEYS = ["platform", "strategy", "environment", "profile", "batchSize", "tableSize", "cache", "flushPolicy", "allocator", "cpus", "pageTableLevels", "lenient"] as const;

/** The grid the traces and flags describe, checked before any replay. */
export function replayGridStudy(traces: string[], flags: ReplayFlags & { grid?: string[] }): { study: Study; cells: ReturnType<typeof cellsOf>; spec: ReplayGridSpec } {
  if (flags.emit !== undefined) throw new ConfigError("--emit", flags.emit, "to be left out with several traces or --grid (one row a run)");
  if (traces.includes("-")) throw new ConfigError("TRACE", "-", "files with several traces or --grid: each configuration reads the trace again");
  const base: Partial<ReplayFlags> = {};
  for (const k of BASE_KEYS) if (flags[k] !== undefined) (base as Record<string, unknown>)[k] = flags[k];
  const spec: ReplayGridSpec = { traces, base, grid: (flags.grid ?? []).map(parseReplayGridArg) };
  checkDistinctAxes(spec.grid);
  const cells = cellsOf(spec);
  // every configuration checked before the first run (and before `slurm replay` queues anything)
  for (const c of cells.slice(0, cells.length / traces.length)) {
    try {
      checkReplayFlags(flagsOf(spec, c.values));
    } catch (e) {
      throw inConfiguration(e, c.values);
    }
  }
  // the results depend on the traces' and the profile's bytes, not on their names
  const inputs: Record<string, string> = {};
  for (const t of new Set(traces)) inputs[`trace ${t}`] = fileDigest("TRACE", t, "trace file");
  if (flags.profile !== undefined) inputs.profile = fileDigest("--profile", flags.profile, "cost profile");
  return { study: { command: "replay", spec, inputs, configurations: cells.length }, cells, spec };
}

/** A configuration's refusal, saying which configuration of the grid it is. */
function inConfiguration(e: unknown, values: Record<string, string>): unknown {
  if (!(e instanceof ConfigError) || Object.keys(values).length === 0) return e;
  return new ConfigError(e.field, e.value, `${e.allowed} (in the grid's configuration ${Object.entries(values).map(([k, v]) => `${k}=${v}`).join(" ")})`);
}

/** Replays the runs at `indices` (grid order), each as `replay --json` would. */
export async function replayGridRows(spec: ReplayGridSpec, indices: number[], quiet: boolean): Promise<ReplayGridRow[]> {
  const cells = cellsOf(spec);
  const bar = progress(`replay of ${indices.length}`, quiet);
  const rows: ReplayGridRow[] = [];
  for (const i of indices) {
    const { schema, body } = await replayJson(cells[i].trace, flagsOf(spec, cells[i].values));
    rows.push({ schema, result: body as Record<string, unknown> });
    bar.update(rows.length, indices.length);
  }
  bar.stop();
  return rows;
}

const counters = (r: ReplayGridRow): Record<CounterName, number> => (r.schema === "replay" ? r.result.stats : r.result.counters) as Record<CounterName, number>;
const priced = (r: ReplayGridRow) => r.result as { cycles: { total: number }; crossings: number; exposure: { releasedButLivePeak: number } };

/** What a replay grid prints (a table, or JSON with --json) and its --csv: for the whole grid or merged parts alike. */
export function replayGridOutputs(spec: ReplayGridSpec, rows: ReplayGridRow[], out: GridOutputs, print: (text: string) => void): void {
  const cells = cellsOf(spec);
  const keys = spec.grid.map(([k]) => k);
  const head = ["trace", ...keys, "operations", "skipped"];
  const settings = (i: number) => [cells[i].trace, ...keys.map((k) => cells[i].values[k]), String(rows[i].result.operations), String((rows[i].result.skipped as unknown[]).length)];
  if (out.json) {
    print(jsonOutput("replay-grid", { runs: rows.map((r, i) => ({ trace: cells[i].trace, config: cells[i].values, schema: r.schema, result: r.result })) }));
  } else {
    const figures = (r: ReplayGridRow) => r.schema === "replay" ? ["-", "-", "-"] : [String(Math.round(priced(r).cycles.total)), String(priced(r).crossings), String(priced(r).exposure.releasedButLivePeak)];
    print(textTable([...head, "mapFailures", "flushes", "cycles", "crossings", "releasedButLivePeak"], rows.map((r, i) => [...settings(i), String(counters(r).mapFailures), String(counters(r).flushes), ...figures(r)])) + "\n");
  }
  if (out.csv) {
    const figures = (r: ReplayGridRow) => r.schema === "replay" ? ["", "", ""] : [String(priced(r).cycles.total), String(priced(r).crossings), String(priced(r).exposure.releasedButLivePeak)];
    writeAtomicallySync(out.csv, csvFormatRows([[...head, ...COUNTER_NAMES, "cycles", "crossings", "releasedButLivePeak"], ...rows.map((r, i) => [...settings(i), ...COUNTER_NAMES.map((n) => String(counters(r)[n])), ...figures(r)])]) + "\n");
  }
}

export function checkReplayGridOutputs(out: GridOutputs): void {
  checkOutputs(["--csv", out.csv]);
}
