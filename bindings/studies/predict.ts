// A study's predictions: each row's runs go through the NIC model with one cost profile, the
// row's quantity is computed from the modelled throughputs, and set beside the measured value
// with its error. Nothing here reads a measured value to make a prediction.

import type { CostProfile } from "../sim/cost-profile.js";
import type { NicModel, NicOutcome } from "./nic-model.js";
import type { Measured, Study, StudyRow } from "./study.js";

export type Verdict = "within" | "above" | "below" | "consistent" | "exceeds";

export interface RowPrediction {
  id: string;
  quantity: StudyRow["quantity"];
  unit: string;
  predicted: number;
  measured: Measured;
  /** predicted − the nearest measured value the source allows (0 inside a range or under an "up to"), in the row's unit. */
  error: number;
  /** error relative to a point value, %; null for ranges, bounds and a measured 0. */
  relErrorPct: number | null;
  verdict: Verdict;
  runs: Record<string, NicOutcome>;
}

export interface StudyPrediction {
  study: string;
  model: string;
  profile: { name: string; version: number };
  rows: RowPrediction[];
}

function quantityOf(row: StudyRow, t: (role: string) => number, line: number): number {
  switch (row.quantity) {
    case "pct-of-line": return (t("run") / line) * 100;
    case "throughput-ratio": return t("numerator") / t("denominator");
    case "drop-pct": return ((t("without") - t("with")) / t("without")) * 100;
  }
}

/** The error and verdict of a prediction against what the source states. */
export function compare(predicted: number, m: Measured): { error: number; relErrorPct: number | null; verdict: Verdict } {
  if ("value" in m) {
    const error = predicted - m.value;
    return { error, relErrorPct: m.value === 0 ? null : (error / m.value) * 100, verdict: error === 0 ? "within" : error > 0 ? "above" : "below" };
  }
  if ("upTo" in m) return predicted <= m.upTo ? { error: 0, relErrorPct: null, verdict: "consistent" } : { error: predicted - m.upTo, relErrorPct: null, verdict: "exceeds" };
  if (predicted < m.low) return { error: predicted - m.low, relErrorPct: null, verdict: "below" };
  if (predicted > m.high) return { error: predicted - m.high, relErrorPct: null, verdict: "above" };
  return { error: 0, relErrorPct: null, verdict: "within" };
}

export function predictStudy(study: Study, profile: CostProfile, nic: NicModel): StudyPrediction {
  const models = new Set<string>();
  const rows = study.rows.map((row) => {
    const runs: Record<string, NicOutcome> = {};
    for (const [role, run] of Object.entries(row.runs)) {
      runs[role] = nic(run, profile);
      models.add(runs[role].model);
    }
    const line = Object.values(row.runs)[0].linkGbps;
    const predicted = quantityOf(row, (role) => runs[role].gbps, line);
    return { id: row.id, quantity: row.quantity, unit: row.unit, predicted, measured: row.measured, ...compare(predicted, row.measured), runs };
  });
  return { study: study.name, model: [...models].join("+"), profile: { name: profile.name, version: profile.version }, rows };
}

/** How the source states it, for tables: "43", "0.77–1.00", "≤ 7.56". */
export function formatMeasured(m: Measured, digits = 2): string {
  if ("value" in m) return String(m.value);
  if ("upTo" in m) return `≤ ${m.upTo}`;
  const show = (v: number) => (Number.isInteger(m.low) && Number.isInteger(m.high) ? String(v) : v.toFixed(digits));
  return `${show(m.low)}–${show(m.high)}`;
}
