// The reproduction: simulated beside measured, in the study's layout, with the fidelity summary,
// and the what-if tables for the study's fixes.

import type { IommuOptions } from "../config.js";
import type { Iommu } from "../types.js";
import { ENVIRONMENTS, type EnvironmentName } from "../sim/environments.js";
import { whatIfStrategies } from "./compared-strategies.js";
import { priceRing, type RingExposure } from "./dma-price.js";
import { simulateRow, type Calibration, type DmaCounts, type MeasuredRow } from "./reproduction.js";

export { whatIfStrategies };

export interface Quad {
  offMbps: number;
  offCpu: number;
  onMbps: number;
  onCpu: number;
}

export interface ReproRow {
  environment: EnvironmentName;
  messageBytes: number;
  simulated: Quad;
  measured: Quad;
  /** Fitted on this row (false: held out). */
  inSample: boolean;
}

export const tputDiff = (q: Quad) => ((q.onMbps - q.offMbps) / q.offMbps) * 100;
export const cpuDiff = (q: Quad) => ((q.offCpu - q.onCpu) / q.offCpu) * 100;
/** Simulated against measured, % of the measured figure. */
export const relErr = (sim: number, meas: number) => ((sim - meas) / meas) * 100;

/** What the study measured with the IOMMU on: the Calgary PCI-X bridge, mapped straightforwardly. */
export const MEASURED_SETUP = { platform: "calgary-pcix", strategy: "straightforward" } as const;

export function reproduceRows(measured: MeasuredRow[], cal: Calibration, makeIommu: (o: IommuOptions) => Iommu): ReproRow[] {
  const counts = {} as Record<EnvironmentName, DmaCounts>;
  for (const env of ENVIRONMENTS) {
    counts[env] = { off: priceRing("none", env, "straightforward", makeIommu).counts, on: priceRing(MEASURED_SETUP.platform, env, MEASURED_SETUP.strategy, makeIommu).counts };
  }
  return measured.map((m) => {
    const s = simulateRow(m.environment, m.messageBytes, cal.environments[m.environment].params, counts[m.environment], cal.costProfile);
    return {
      environment: m.environment,
      messageBytes: m.messageBytes,
      simulated: { offMbps: s.offMbps, offCpu: s.offCpu, onMbps: s.onMbps, onCpu: s.onCpu },
      measured: { offMbps: m.offMbps, offCpu: m.offCpu, onMbps: m.onMbps, onCpu: m.onCpu },
      inSample: cal.sizes === "all" || cal.sizes.includes(m.messageBytes),
    };
  });
}

export interface Fidelity {
  rows: number;
  tputWithin3Pct: number;
  cpuWithin10Pct: number;
  effectRows: number;
  effectsMatched: number;
  /** Rows whose throughput or CPU misses its target, for the README's validation section. */
  misses: string[];
  meanAbsTputErrPct: number;
  meanAbsCpuErrPct: number;
}

/** Targets of the reproduction: tput ±3 %, CPU ±10 % relative, effects > 5 points: same sign, ±8 points. */
export function fidelity(rows: ReproRow[]): Fidelity {
  let tputOk = 0;
  let cpuOk = 0;
  let effectRows = 0;
  let effectsOk = 0;
  let tSum = 0;
  let cSum = 0;
  const misses: string[] = [];
  for (const r of rows) {
    for (const side of ["off", "on"] as const) {
      const t = relErr(r.simulated[`${side}Mbps`], r.measured[`${side}Mbps`]);
      const c = relErr(r.simulated[`${side}Cpu`], r.measured[`${side}Cpu`]);
      tSum += Math.abs(t);
      cSum += Math.abs(c);
      if (Math.abs(t) <= 3) tputOk++;
      else misses.push(`${r.environment} ${r.messageBytes} ${side} tput ${t.toFixed(1)}%`);
      if (Math.abs(c) <= 10) cpuOk++;
      else misses.push(`${r.environment} ${r.messageBytes} ${side} cpu ${c.toFixed(1)}%`);
    }
    for (const [sim, meas] of [[tputDiff(r.simulated), tputDiff(r.measured)], [cpuDiff(r.simulated), cpuDiff(r.measured)]]) {
      if (Math.abs(meas) <= 5) continue;
      effectRows++;
      if (Math.sign(sim) === Math.sign(meas) && Math.abs(sim - meas) <= 8) effectsOk++;
    }
  }
  const n = rows.length * 2;
  return { rows: n, tputWithin3Pct: tputOk, cpuWithin10Pct: cpuOk, effectRows, effectsMatched: effectsOk, misses, meanAbsTputErrPct: tSum / n, meanAbsCpuErrPct: cSum / n };
}

export function formatFidelity(f: Fidelity, label = "all rows"): string {
  return [
    `Fidelity (${label}): throughput within ±3 %: ${f.tputWithin3Pct}/${f.rows} (target ≥ 90 %); CPU within ±10 %: ${f.cpuWithin10Pct}/${f.rows} (target ≥ 80 %);`,
    `  IOMMU effects > 5 points matched in sign and within ±8 points: ${f.effectsMatched}/${f.effectRows}; mean |error|: throughput ${f.meanAbsTputErrPct.toFixed(2)} %, CPU ${f.meanAbsCpuErrPct.toFixed(2)} %`,
  ].join("\n");
}

export interface WhatIfRow {
  environment: EnvironmentName;
  strategy: string;
  /** Large messages (64 KiB): CPU the IOMMU adds, % of the off figure. */
  cpuOverheadPct: number;
  /** Small messages (64 B): throughput the IOMMU takes, % of the off figure. */
  tputLossPct: number;
  exposure: RingExposure;
}


/** The same tables under each strategy, with the calibrated parameters: the study's "which we know how to fix". */
export function whatIf(cal: Calibration, makeIommu: (o: IommuOptions) => Iommu, onProgress?: (done: number, total: number) => void): WhatIfRow[] {
  const rows: WhatIfRow[] = [];
  let step = 0;
  for (const env of ENVIRONMENTS) {
    onProgress?.(step++, ENVIRONMENTS.length);
    const off = priceRing("none", env, "straightforward", makeIommu).counts;
    for (const strategy of whatIfStrategies(env)) {
      const priced = priceRing("calgary-pcix", env, strategy, makeIommu);
      const counts = { off, on: priced.counts };
      const params = cal.environments[env].params;
      const big = simulateRow(env, 65536, params, counts, cal.costProfile);
      const small = simulateRow(env, 64, params, counts, cal.costProfile);
      rows.push({
        environment: env,
        strategy,
        cpuOverheadPct: ((big.onCpu - big.offCpu) / big.offCpu) * 100,
        tputLossPct: ((small.offMbps - small.onMbps) / small.offMbps) * 100,
        exposure: priced.exposure,
      });
    }
  }
  return rows;
}
