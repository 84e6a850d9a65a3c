// Reading a calibration file back (reproduce, calibrate --explain), checked field by field.

import { ConfigError } from "../errors.js";
import { validateProfile } from "../sim/cost-profile.js";
import { ENVIRONMENTS } from "../sim/environments.js";
import { FITTED } from "../workloads/netperf.js";
import type { Calibration } from "../workloads/reproduction.js";
import { readText } from "./options.js";

export function loadCalibration(file: string | URL): Calibration {
  let c: Calibration;
  try {
    c = JSON.parse(readText("--calibration", file)) as Calibration;
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    throw new ConfigError("--calibration", String(file), `a calibration written by iommu-sim calibrate (${(e as Error).message})`);
  }
  validateProfile(c.costProfile, "calibration.costProfile");
  for (const env of ENVIRONMENTS) {
    const params = c.environments?.[env]?.params as unknown as Record<string, unknown> | undefined;
    if (!params) throw new ConfigError(`calibration.environments.${env}`, undefined, "fitted parameters for every environment");
    for (const k of FITTED[env]) {
      const v = params[k];
      if (typeof v !== "number" || !Number.isFinite(v) || v < 0) {
        throw new ConfigError(`calibration.environments.${env}.params.${k}`, v, `a number ≥ 0 (this model fits ${FITTED[env].join(", ")} for ${env}; recalibrate an older file with iommu-sim calibrate)`);
      }
    }
  }
  return c;
}
