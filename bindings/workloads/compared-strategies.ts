// The strategies the what-if table and a trace's frontier compare. Its own module so the page's
// trace worker can import it without the reproduction's CSV reader (a bare import a worker has
// no import map for).

import type { EnvironmentName } from "../sim/environments.js";
import { MAPPING_STRATEGIES } from "../sim/strategies.js";

/** Every mapping strategy that applies in `environment`, and strict flushing. */
export function whatIfStrategies(environment: EnvironmentName): string[] {
  return [...MAPPING_STRATEGIES.filter((s) => s !== "grant-table" || environment === "xen-domU"), "straightforward+strict-flush"];
}
