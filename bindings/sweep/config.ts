// One run's configuration (workload, platform, strategy, environment and workload knobs), checked,
// and the grid a sweep expands into. Shared by the CLI, the serial sweep and the pool's workers.

import { parseSize } from "../config.js";
import { ConfigError } from "../errors.js";
import { parseStrategy } from "../sim/strategies.js";
import { checkFfsb, FFSB_DEFAULTS } from "../workloads/ffsb.js";
import { ENVIRONMENTS, type EnvironmentName } from "../sim/environments.js";
import { PLATFORMS, type PlatformName } from "../platforms.js";

export interface RunConfig {
  workload: "netperf" | "ffsb";
  platform: PlatformName;
  strategy: string;
  environment: EnvironmentName;
  /** netperf */
  messageBytes: number;
  /** ffsb */
  pattern: "sequential" | "random";
  readFraction: number;
  ioBytes: number;
  queueDepth: number;
}

export const RUN_DEFAULTS: RunConfig = {
  workload: "netperf",
  platform: "calgary-pcix",
  strategy: "straightforward",
  environment: "baremetal",
  messageBytes: 65536,
  pattern: "random",
  readFraction: 0.7,
  ioBytes: 65536,
  queueDepth: 8,
};

const SIZES = new Set<keyof RunConfig>(["messageBytes", "ioBytes"]);
const NUMERIC = new Set<keyof RunConfig>([...SIZES, "readFraction", "queueDepth"]);
export const RUN_KEYS = Object.keys(RUN_DEFAULTS) as Array<keyof RunConfig>;

/**
 * A setting's value as given on the command line, in a grid or a config file: sizes take K / M
 * suffixes ("1k", "64K"), other numbers must read as numbers; errors say what was given.
 */
export function runValue(key: keyof RunConfig, v: unknown, field: string = key): unknown {
  if (typeof v !== "string" || !NUMERIC.has(key)) return v;
  if (SIZES.has(key)) return parseSize(field, v);
  const n = v.trim() === "" ? NaN : Number(v);
  if (!Number.isFinite(n)) throw new ConfigError(field, v, "a number");
  return n;
}

/** Merges a JSON config (file) with flags (flags win) over the defaults, and checks every field. */
export function resolveRun(...layers: Array<Partial<Record<string, unknown>> | undefined>): RunConfig {
  const merged: Record<string, unknown> = { ...RUN_DEFAULTS };
  for (const layer of layers) {
    for (const [k, v] of Object.entries(layer ?? {})) {
      if (v === undefined) continue;
      if (!RUN_KEYS.includes(k as keyof RunConfig)) throw new ConfigError(k, v, `no such setting; known: ${RUN_KEYS.join(", ")}`);
      merged[k] = runValue(k as keyof RunConfig, v);
    }
  }
  const c = merged as unknown as RunConfig;
  if (c.workload !== "netperf" && c.workload !== "ffsb") throw new ConfigError("workload", c.workload, "netperf | ffsb");
  if (!PLATFORMS.includes(c.platform)) throw new ConfigError("platform", c.platform, PLATFORMS.join(", "));
  if (!ENVIRONMENTS.includes(c.environment)) throw new ConfigError("environment", c.environment, ENVIRONMENTS.join(", "));
  if (typeof c.strategy !== "string") throw new ConfigError("strategy", c.strategy, "a strategy name");
  if (!Number.isInteger(c.messageBytes) || c.messageBytes < 1 || c.messageBytes > 1 << 20) throw new ConfigError("messageBytes", c.messageBytes, "an integer from 1 to 1048576");
  // checked here, before any simulation, so a sweep refuses a bad grid value before its workers start
  parseStrategy(c.strategy, c.platform, c.environment);
  if (c.workload === "ffsb") checkFfsb({ ...FFSB_DEFAULTS, pattern: c.pattern, readFraction: c.readFraction, ioBytes: c.ioBytes, queueDepth: c.queueDepth });
  return c;
}

/** `key=v1,v2,…` → the values, numbers where the key is numeric. */
export function parseGridArg(arg: string): [keyof RunConfig, Array<string | number>] {
  const eq = arg.indexOf("=");
  const key = arg.slice(0, eq) as keyof RunConfig;
  if (eq <= 0 || !RUN_KEYS.includes(key)) throw new ConfigError("--grid", arg, `KEY=V1,V2,… with KEY one of ${RUN_KEYS.join(", ")}`);
  const values = arg.slice(eq + 1).split(",").map((s) => s.trim()).filter(Boolean);
  if (values.length === 0) throw new ConfigError("--grid", arg, "at least one value after =");
  return [key, values.map((v) => runValue(key, v, `--grid ${key}`) as string | number)];
}

/** The cross product of the grid over a base configuration, in a fixed order (last key fastest). */
export function expandGrid(base: Partial<RunConfig>, grid: Array<[keyof RunConfig, Array<string | number>]>): RunConfig[] {
  let configs: Array<Partial<RunConfig>> = [{ ...base }];
  for (const [key, values] of grid) configs = configs.flatMap((c) => values.map((v) => ({ ...c, [key]: v })));
  return configs.map((c) => resolveRun(c));
}
