// Calibration against the study's netperf tables and the reproduction that prints them.

import { csvParseRows } from "d3-dsv";
import type { IommuOptions } from "../config.js";
import { ConfigError } from "../errors.js";
import type { Iommu } from "../types.js";
import { DEFAULT_PROFILE, type CostProfile } from "../sim/cost-profile.js";
import { ENVIRONMENTS, type EnvironmentName } from "../sim/environments.js";
import { pairCounts, pairCycles, type PairCounts, type Primitive } from "./dma-price.js";
import { netperfPoint, PARAM_BOUNDS, type NetperfParams, type NetperfPoint } from "./netperf.js";

export interface MeasuredRow {
  environment: EnvironmentName;
  messageBytes: number;
  offMbps: number;
  offCpu: number;
  onMbps: number;
  onCpu: number;
}

const MEASURED_FIGURES = [
  ["off_mbps", "offMbps", "a throughput above 0 Mbit/s"],
  ["off_cpu", "offCpu", "a CPU use above 0 (the study's scale)"],
  ["on_mbps", "onMbps", "a throughput above 0 Mbit/s"],
  ["on_cpu", "onCpu", "a CPU use above 0 (the study's scale)"],
] as const;

/**
 * Parses seed-netperf.csv (header: environment,message_bytes,off_mbps,off_cpu,on_mbps,on_cpu,…).
 * Every cell is checked and a bad one named by row (the header is row 1) and column: an empty or
 * zero figure would otherwise turn into an infinite relative error.
 */
export function parseMeasured(csv: string, source = "measured data"): MeasuredRow[] {
  const [header = [], ...records] = csvParseRows(csv.trim());
  const at = (name: string) => {
    const i = header.indexOf(name);
    if (i < 0) throw new ConfigError(`${source} header`, header.join(","), `a CSV header with the column ${name}`);
    return i;
  };
  const env = at("environment");
  const size = at("message_bytes");
  const figures = MEASURED_FIGURES.map(([column, key, allowed]) => ({ column, key, allowed, i: at(column) }));
  const rows: MeasuredRow[] = [];
  records.forEach((f, k) => {
    if (f.length === 1 && f[0].trim() === "") return; // a blank line
    const cell = (column: string, i: number, allowed: string) => {
      if (f.length !== header.length) throw new ConfigError(`${source} row ${k + 2}`, f.join(","), `${header.length} cells, as in the header`);
      return { field: `${source} row ${k + 2} column ${column}`, text: f[i].trim(), allowed };
    };
    const e = cell("environment", env, ENVIRONMENTS.join(", "));
    if (!ENVIRONMENTS.includes(e.text as EnvironmentName)) throw new ConfigError(e.field, e.text, e.allowed);
    const m = cell("message_bytes", size, "a message size in bytes, a whole number from 1");
    if (!/^\d+$/.test(m.text) || Number(m.text) < 1) throw new ConfigError(m.field, m.text, m.allowed);
    const row = { environment: e.text as EnvironmentName, messageBytes: Number(m.text) } as MeasuredRow;
    for (const { column, key, allowed, i } of figures) {
      const c = cell(column, i, allowed);
      const v = c.text === "" ? NaN : Number(c.text);
      if (!(Number.isFinite(v) && v > 0)) throw new ConfigError(c.field, c.text, c.allowed);
      row[key] = v;
    }
    rows.push(row);
  });
  if (rows.length === 0) throw new ConfigError(source, `${records.length} rows`, "at least one measured row under the header");
  return rows;
}

/**
 * The IOMMU's own work, scaled by iommuScale. The hypervisor trap keeps the profile's price: it is
 * paid with the IOMMU off too (grant operations), so it cannot be told apart from the rest here.
 */
const IOMMU_WORK: Primitive[] = ["tceWrite", "tableCacheLineFlush", "bitmapWordScan", "mmioRead", "mmioWrite", "flushWaitPoll", "hypervisorValidate", "multicallPerEntry"];

export function scaledCycles(profile: CostProfile, p: NetperfParams): CostProfile["cycles"] {
  const c = { ...profile.cycles };
  for (const k of IOMMU_WORK) c[k] *= p.iommuScale;
  return c;
}

/** DMA price counts for IOMMU off (no IOMMU) and on (Calgary PCI-X under `strategy`). */
export interface DmaCounts {
  off: PairCounts;
  on: PairCounts;
}

export function dmaCounts(env: EnvironmentName, strategy: string, makeIommu: (o: IommuOptions) => Iommu): DmaCounts {
  return { off: pairCounts("none", env, "straightforward", makeIommu), on: pairCounts("calgary-pcix", env, strategy, makeIommu) };
}

export interface SimulatedRow {
  offMbps: number;
  offCpu: number;
  onMbps: number;
  onCpu: number;
  off: NetperfPoint;
  on: NetperfPoint;
}

export function simulateRow(env: EnvironmentName, messageBytes: number, p: NetperfParams, counts: DmaCounts, profile: CostProfile): SimulatedRow {
  const cycles = scaledCycles(profile, p);
  const off = netperfPoint(env, messageBytes, p, pairCycles(counts.off, cycles), profile.machine);
  const on = netperfPoint(env, messageBytes, p, pairCycles(counts.on, cycles), profile.machine);
  return { offMbps: off.mbps, offCpu: off.cpu, onMbps: on.mbps, onCpu: on.cpu, off, on };
}

/** Squared relative errors of throughput and CPU, IOMMU off and on, over `rows`. */
export function objective(env: EnvironmentName, rows: MeasuredRow[], p: NetperfParams, counts: DmaCounts, profile: CostProfile): number {
  let sum = 0;
  for (const r of rows) {
    const s = simulateRow(env, r.messageBytes, p, counts, profile);
    sum += (s.offMbps / r.offMbps - 1) ** 2 + (s.onMbps / r.onMbps - 1) ** 2;
    sum += (s.offCpu / r.offCpu - 1) ** 2 + (s.onCpu / r.onCpu - 1) ** 2;
  }
  return sum;
}

const KEYS = Object.keys(PARAM_BOUNDS) as Array<keyof NetperfParams>;

/**
 * Deterministic bounded fit: coordinate descent on log-parameters (each step multiplies or
 * divides one parameter by 1 + step, kept inside its bounds; the step halves when a full sweep
 * improves nothing), from the geometric centre of the bounds and from four fixed corners of it;
 * the best end point wins. No randomness: the same data give the same parameters, bit for bit.
 */
export function fitEnvironment(env: EnvironmentName, rows: MeasuredRow[], counts: DmaCounts, profile: CostProfile): { params: NetperfParams; error: number; evaluations: number } {
  const centre = Object.fromEntries(KEYS.map((k) => [k, Math.sqrt(PARAM_BOUNDS[k][0] * PARAM_BOUNDS[k][1])])) as unknown as NetperfParams;
  // the centre, then 8 points of a Halton sequence over the log-box (bases 2, 3, 5, … per parameter)
  const starts: NetperfParams[] = [centre];
  const PRIMES = [2, 3, 5, 7, 11, 13, 17, 19];
  const halton = (i: number, b: number) => {
    let f = 1;
    let r = 0;
    for (let n = i; n > 0; n = Math.floor(n / b)) {
      f /= b;
      r += f * (n % b);
    }
    return r;
  };
  for (let i = 1; i <= 8; i++) {
    starts.push(Object.fromEntries(KEYS.map((k, j) => {
      const [lo, hi] = PARAM_BOUNDS[k];
      return [k, lo * (hi / lo) ** halton(i, PRIMES[j])];
    })) as unknown as NetperfParams);
  }
  let best = { params: centre, error: Infinity };
  let evaluations = 0;
  for (const start of starts) {
    let p = { ...start };
    let err = objective(env, rows, p, counts, profile);
    evaluations++;
    let step = 1;
    while (step > 1e-3) {
      let improved = false;
      for (const k of KEYS) {
        for (const dir of [1 + step, 1 / (1 + step)]) {
          const [lo, hi] = PARAM_BOUNDS[k];
          const v = Math.min(hi, Math.max(lo, p[k] * dir));
          if (v === p[k]) continue;
          const q = { ...p, [k]: v };
          const e = objective(env, rows, q, counts, profile);
          evaluations++;
          if (e < err) {
            p = q;
            err = e;
            improved = true;
          }
        }
      }
      if (!improved) step /= 2;
    }
    if (err < best.error) best = { params: p, error: err };
  }
  return { ...best, evaluations };
}

export interface Calibration {
  name: string;
  version: number;
  fittedTo: string;
  optimizer: string;
  costProfile: CostProfile;
  /** "all" or the message sizes used for the fit (hold-out). */
  sizes: "all" | number[];
  environments: Record<EnvironmentName, { params: NetperfParams; error: number; rows: number }>;
}

export function calibrate(
  measured: MeasuredRow[], makeIommu: (o: IommuOptions) => Iommu,
  options: { holdout?: boolean; source?: string; onProgress?: (done: number, total: number) => void } = {},
): Calibration {
  const sizes = [...new Set(measured.map((r) => r.messageBytes))].sort((a, b) => a - b);
  const fitSizes = options.holdout ? sizes.filter((_, i) => i % 2 === 0) : sizes;
  const environments = {} as Calibration["environments"];
  for (const env of ENVIRONMENTS) {
    const rows = measured.filter((r) => r.environment === env && fitSizes.includes(r.messageBytes));
    const counts = dmaCounts(env, "straightforward", makeIommu);
    const fit = fitEnvironment(env, rows, counts, DEFAULT_PROFILE);
    environments[env] = { params: fit.params, error: fit.error, rows: rows.length };
    options.onProgress?.(Object.keys(environments).length, ENVIRONMENTS.length);
  }
  return {
    name: options.holdout ? "netperf-holdout" : "netperf-calibrated",
    version: 1,
    fittedTo: options.source ?? "data/seed-netperf.csv (Ben-Yehuda et al., The Price of Safety, OLS 2007)",
    optimizer: "bounded coordinate descent on log-parameters from 9 fixed starts (box centre + 8 Halton points), step halving to 1e-3 (deterministic)",
    costProfile: DEFAULT_PROFILE,
    sizes: options.holdout ? fitSizes : "all",
    environments,
  };
}
