// A trace's price of safety: the same trace replayed under every strategy in every environment,
// each beside the same environment with no IOMMU, so its cost is what the IOMMU adds per DMA
// operation and its exposure is what the Simulation saw left reachable. Browser-safe: the demo
// page runs it in a Web Worker on a dropped trace; Node runs it in the tests.

import type { IommuOptions } from "../config.js";
import type { Iommu } from "../types.js";
import type { PlatformName } from "../platforms.js";
import { ENVIRONMENTS, type EnvironmentName } from "../sim/environments.js";
import { replayThroughSimulation } from "../sim/replay.js";
import type { SimPlatform, SimulationReport } from "../sim/simulation.js";
import { pricedModelOn } from "../sim/priced.js";
import { ConfigError } from "../errors.js";
import { TraceError, type ParsedTrace } from "../trace/parse.js";
import { traceCpus } from "../trace/replay.js";
import type { FrontierPoint } from "../plot/specs.js";
import { whatIfStrategies } from "./compared-strategies.js";

/** A configuration that cannot run this trace, and why (e.g. preallocated: a buffer outside the guest it maps). */
export interface TraceFrontierRefusal {
  environment: EnvironmentName;
  strategy: string;
  refused: string;
}

export type TraceFrontierRow = TraceFrontierPriced | TraceFrontierRefusal;

export interface TraceFrontierPriced {
  environment: EnvironmentName;
  strategy: string;
  refused?: undefined;
  /** Trace operations replayed (cpu switches included). */
  operations: number;
  /** Cycles of every party for the whole trace, IOMMU on and with no IOMMU. */
  cycles: number;
  cyclesNoIommu: number;
  /** What the IOMMU adds, in cycles per replayed operation. */
  addedCyclesPerOp: number;
  crossings: number;
  exposure: SimulationReport["exposure"];
}

/** One priced replay (the CLI's `replay --strategy S --environment E` on the default profile). */
export function replayPriced(
  trace: ParsedTrace, platform: SimPlatform, strategy: string, environment: EnvironmentName,
  makeIommu: (o: IommuOptions) => Iommu,
): { report: SimulationReport; operations: number } {
  const sim = pricedModelOn({ platform, strategy, environment, iommu: { cpus: traceCpus(trace) } }, makeIommu);
  const r = replayThroughSimulation(trace, sim);
  return { report: r.report, operations: r.operations };
}

/** The configurations `traceFrontier` replays, in its order. */
export function traceFrontierConfigurations(): Array<{ environment: EnvironmentName; strategy: string }> {
  return ENVIRONMENTS.flatMap((environment) => whatIfStrategies(environment).map((strategy) => ({ environment, strategy })));
}

/**
 * Replays `trace` on `platform` under every strategy of the what-if table in every environment;
 * `onRow` sees each row as it is done (the page streams them to the table and the plot). A
 * configuration that refuses the trace gives a refusal row; a trace that even the run without an
 * IOMMU refuses (a malformed or out-of-sequence line) is refused as a whole, with that error.
 */
export function traceFrontier(
  trace: ParsedTrace, platform: PlatformName, makeIommu: (o: IommuOptions) => Iommu,
  onRow?: (row: TraceFrontierRow, done: number, total: number) => void,
): TraceFrontierRow[] {
  const configurations = traceFrontierConfigurations();
  const baseline = new Map<EnvironmentName, number>();
  const rows: TraceFrontierRow[] = [];
  for (const { environment, strategy } of configurations) {
    if (!baseline.has(environment)) baseline.set(environment, replayPriced(trace, "none", "straightforward", environment, makeIommu).report.cycles.total);
    let priced: ReturnType<typeof replayPriced>;
    try {
      priced = replayPriced(trace, platform, strategy, environment, makeIommu);
    } catch (e) {
      if (!(e instanceof TraceError || e instanceof ConfigError)) throw e;
      rows.push({ environment, strategy, refused: e.message });
      onRow?.(rows[rows.length - 1], rows.length, configurations.length);
      continue;
    }
    const { report, operations } = priced;
    const cyclesNoIommu = baseline.get(environment)!;
    const row: TraceFrontierPriced = {
      environment, strategy, operations,
      cycles: report.cycles.total,
      cyclesNoIommu,
      addedCyclesPerOp: operations === 0 ? 0 : (report.cycles.total - cyclesNoIommu) / operations,
      crossings: report.crossings,
      exposure: report.exposure,
    };
    rows.push(row);
    onRow?.(row, rows.length, configurations.length);
  }
  return rows;
}

/** The rows as points of the price-of-safety frontier. */
export function traceFrontierPoints(rows: TraceFrontierRow[]): FrontierPoint[] {
  return rows.filter((r): r is TraceFrontierPriced => r.refused === undefined).map((r) => {
    const late = r.exposure.dmaAfterRelease;
    return {
      environment: r.environment, strategy: r.strategy, price: r.addedCyclesPerOp, reachableBytes: r.exposure.reachableBytes,
      exposed: r.exposure.releasedButLivePeak > 0 || late.reached > 0,
      releasedButLivePeak: r.exposure.releasedButLivePeak,
    };
  });
}
