// What a calibration says, in words and units: the shared hardware prices, each environment's
// fitted parameters against their plausible ranges, and the path a segment takes — every step's
// cycles and the CPU that pays them — at a small and a large message. `calibrate --explain` prints it.

import type { IommuOptions } from "../config.js";
import type { Iommu } from "../types.js";
import { PRICE_NOTES, type CostProfile } from "../sim/cost-profile.js";
import { ENVIRONMENTS, type EnvironmentName } from "../sim/environments.js";
import { FITTED, PARAM_BOUNDS, PARAM_DOCS, type ParamKey } from "./netperf.js";
import { dmaCounts, simulateRow, type Calibration } from "./reproduction.js";

export interface FittedRow {
  environment: EnvironmentName;
  parameter: ParamKey;
  value: number;
  unit: string;
  range: [number, number];
  /** Within 1 % (log scale) of either end of its range: the fit wanted to go further. */
  atBound: boolean;
  meaning: string;
}

export function fittedTable(cal: Calibration): FittedRow[] {
  const rows: FittedRow[] = [];
  for (const env of ENVIRONMENTS) {
    for (const k of FITTED[env]) {
      const value = cal.environments[env].params[k] as number;
      const [lo, hi] = PARAM_BOUNDS[k];
      const atBound = Math.abs(Math.log(value / lo)) < 0.01 * Math.log(hi / lo) || Math.abs(Math.log(hi / value)) < 0.01 * Math.log(hi / lo);
      rows.push({ environment: env, parameter: k, value, unit: PARAM_DOCS[k].unit, range: [lo, hi], atBound, meaning: PARAM_DOCS[k].meaning });
    }
  }
  return rows;
}

export interface PriceRow {
  primitive: keyof CostProfile["cycles"];
  cycles: number;
  unit: string;
  range: [number, number];
  basis: string;
}

export function priceTable(profile: CostProfile): PriceRow[] {
  return (Object.keys(profile.cycles) as Array<keyof CostProfile["cycles"]>).map((k) => ({
    primitive: k, cycles: profile.cycles[k], unit: PRICE_NOTES[k].unit, range: PRICE_NOTES[k].range, basis: PRICE_NOTES[k].basis,
  }));
}

export interface PathStep {
  environment: EnvironmentName;
  messageBytes: number;
  /** CPU role: sender (the netperf process's CPU / the guest's VCPU), irq (dom0's other VCPU), backend (dom0 under a PV guest). */
  cpu: string;
  step: string;
  /** Cycles per segment, IOMMU off and on (Calgary PCI-X, straightforward). */
  off: number;
  on: number;
}

/** Every step of a segment's path with its cycles, IOMMU off and on, at each of `sizes`. */
export function packetPath(cal: Calibration, makeIommu: (o: IommuOptions) => Iommu, sizes = [64, 65536]): PathStep[] {
  const steps: PathStep[] = [];
  for (const env of ENVIRONMENTS) {
    const counts = dmaCounts(env, "straightforward", makeIommu);
    for (const m of sizes) {
      const r = simulateRow(env, m, cal.environments[env].params, counts, cal.costProfile);
      for (const [cpu, byStep] of Object.entries(r.on.perSegment)) {
        for (const [step, on] of Object.entries(byStep)) {
          steps.push({ environment: env, messageBytes: m, cpu, step, off: r.off.perSegment[cpu]?.[step] ?? 0, on });
        }
      }
    }
  }
  return steps;
}
