// `iommu-sim reproduce --study NAME`: one published modern measurement table, each value
// predicted by the NIC model with a literature-priced profile, beside the measurement, its error
// and its source. `--study list` names the studies.

import { readFileSync } from "node:fs";
import { ConfigError } from "../errors.js";
import { writeAtomicallySync } from "../io/atomic.js";
import { validateProfile, type CostProfile } from "../sim/cost-profile.js";
import { createIommu } from "../node.js";
import type { NicModel } from "../studies/nic-model.js";
import { nicWorkloadOn } from "../studies/nic-workload.js";
import { formatMeasured, predictStudy, type StudyPrediction } from "../studies/predict.js";
import { loadStudy, studyNames, type Study } from "../studies/study.js";
import { jsonOutput } from "./json.js";
import { PACKAGE_ROOT } from "./options.js";
import { textTable } from "./table.js";

export const DEFAULT_STUDY_PROFILE = new URL("profiles/xeon-skylake-sp.json", PACKAGE_ROOT);

/** The NIC model the studies are predicted with: the NIC workload on the WASM core. */
export const STUDY_NIC: NicModel = nicWorkloadOn(createIommu);

export function loadStudyProfile(file: string | URL = DEFAULT_STUDY_PROFILE): CostProfile {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, "utf8"));
  } catch (e) {
    throw new ConfigError("--profile", String(file), `a readable JSON cost profile (${(e as Error).message})`);
  }
  return validateProfile(json, `profile ${file}`);
}

const fmt = (v: number, unit: string) => (unit === "×" ? v.toFixed(2) : v.toFixed(1));
const signed = (v: number, unit: string) => (v > 0 ? "+" : "") + fmt(v, unit);

/** Each row as printed (and as the README's table shows it): predicted, measured, error, rel. error, verdict. */
export function studyCells(p: StudyPrediction): Array<{ id: string; unit: string; cells: [string, string, string, string, string] }> {
  return p.rows.map((r) => ({
    id: r.id, unit: r.unit,
    cells: [fmt(r.predicted, r.unit), formatMeasured(r.measured), signed(r.error, r.unit), r.relErrorPct === null ? "" : `${signed(r.relErrorPct, "%")} %`, r.verdict],
  }));
}

export function formatStudy(study: Study, p: StudyPrediction): string {
  const out = [
    `iommu-sim reproduce --study ${study.name}: ${study.title}`,
    `source: ${study.source.citation}`,
    `        ${study.source.locator} (${study.source.where})`,
    `conditions: ${study.conditions}`,
    `prices: profile ${p.profile.name} v${p.profile.version} (literature prices, none taken from this source); model: ${p.model}`,
  ];
  const body = studyCells(p).map((r) => [r.id, r.unit, ...r.cells, `${study.name}: ${study.source.locator.split(" ")[0]}`]);
  out.push(textTable(["row", "unit", "predicted", "measured", "error", "rel. error", "verdict", "source"], body, [undefined, undefined, "right", "right", "right", "right"]));
  out.push("error: predicted − the nearest value the source allows (0 inside its range or under its \"up to\")");
  return out.join("\n");
}

export function listStudies(): string {
  const rows = studyNames().map((n) => {
    const s = loadStudy(n);
    return [n, s.rows.length, s.title, s.source.citation];
  });
  return ["studies (iommu-sim reproduce --study NAME; without --study: the 2007 study)", textTable(["name", "rows", "what", "source"], rows)].join("\n");
}

export function reproduceStudy(name: string, flags: { json?: string; profile?: string }): void {
  if (name === "list") {
    process.stdout.write(listStudies() + "\n");
    return;
  }
  const study = loadStudy(name);
  const profile = loadStudyProfile(flags.profile ?? DEFAULT_STUDY_PROFILE);
  const p = predictStudy(study, profile, STUDY_NIC);
  process.stdout.write(formatStudy(study, p) + "\n");
  if (flags.json) writeAtomicallySync(flags.json, jsonOutput("study", { source: study.source, title: study.title, conditions: study.conditions, ...p }));
}
