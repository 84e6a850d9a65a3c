// The result table of `run` and `sweep`: text and CSV.

import { csvFormatRows } from "d3-dsv";
import { RUN_KEYS, type RunConfig } from "../sweep/config.js";
import type { RunResult } from "../sweep/run.js";

const RESULT_COLS: Array<keyof RunResult> = ["offMbps", "offCpu", "onMbps", "onCpu", "bottleneckOn", "releasedButLivePeak", "lateDmaReachedPct"];

export function formatResults(configs: RunConfig[], results: RunResult[], keys: Array<keyof RunConfig>): string {
  const head = [...keys, ...RESULT_COLS];
  const lines = [head.join("\t")];
  configs.forEach((c, i) => {
    const r = results[i];
    lines.push([...keys.map((k) => c[k]), ...RESULT_COLS.map((k) => (typeof r[k] === "number" ? +(r[k] as number).toPrecision(5) : r[k]))].join("\t"));
  });
  return lines.join("\n");
}

export function csvOf(configs: RunConfig[], results: RunResult[]): string {
  const head = [...RUN_KEYS, ...RESULT_COLS];
  return csvFormatRows([head, ...configs.map((c, i) => [...RUN_KEYS.map((k) => String(c[k])), ...RESULT_COLS.map((k) => String(results[i][k]))])]) + "\n";
}
