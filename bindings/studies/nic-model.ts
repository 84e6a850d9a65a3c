// The NIC model a study's runs are predicted with. The studies depend only on this interface — a
// run (platform, invalidation mode, link, …) and a cost profile in, throughput and CPU out — so a
// test can hand them a model of its own; the CLI uses the NIC workload (nic-workload.ts).

import type { CostProfile } from "../sim/cost-profile.js";
import type { NicRun } from "./study.js";

export interface NicOutcome {
  /** Goodput, Gbit/s. */
  gbps: number;
  /** CPU busy on the busiest core, %. */
  cpuPct: number;
  /** Which model produced it. */
  model: string;
}

export type NicModel = (run: NicRun, profile: CostProfile) => NicOutcome;
