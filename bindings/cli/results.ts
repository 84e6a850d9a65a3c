// The result table of `run` and `sweep`: text (aligned columns) and CSV.

import { csvFormatRows } from "d3-dsv";
import { RUN_KEYS, type RunConfig } from "../sweep/config.js";
import type { RunResult } from "../sweep/run.js";
import { textTable } from "./table.js";

const RESULT_COLS: Array<keyof RunResult> = ["offMbps", "offCpu", "onMbps", "onCpu", "bottleneckOn", "releasedButLivePeak", "lateDmaReachedPct"];

export function formatResults(configs: RunConfig[], results: RunResult[], keys: Array<keyof RunConfig>): string {
  const rows = configs.map((c, i) => {
    const r = results[i];
    return [...keys.map((k) => String(c[k])), ...RESULT_COLS.map((k) => String(typeof r[k] === "number" ? +(r[k] as number).toPrecision(5) : r[k]))];
  });
  return textTable([...keys, ...RESULT_COLS], rows);
}

export function csvOf(configs: RunConfig[], results: RunResult[]): string {
  const head = [...RUN_KEYS, ...RESULT_COLS];
  return csvFormatRows([head, ...configs.map((c, i) => [...RUN_KEYS.map((k) => String(c[k])), ...RESULT_COLS.map((k) => String(results[i][k]))])]) + "\n";
}
