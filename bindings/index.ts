// iommu-sim: browser-safe entry point. Node users get createIommu from "iommu-sim" directly
// (node.ts); in a browser, compile build/iommu.wasm yourself and call createIommuWith.

export * from "./abi.js";
export { ConfigError } from "./errors.js";
export { resolveConfig, type IommuOptions, type ResolvedConfig } from "./config.js";
export { PLATFORMS, PLATFORM_PRESETS, type PlatformName, type Platform } from "./platforms.js";
export type { BatchArea, CoherentBuffer, DmaSegment, Iommu, SgSegment } from "./types.js";
export { createIommuWith } from "./wasm-iommu.js";
export { createReferenceIommu } from "./reference/index.js";
export * from "./records.js";
export { parseTrace, type TraceOp, type ParsedTrace } from "./trace/parse.js";
export { replayTrace, type ReplayResult, type ReplayOptions } from "./trace/replay.js";
export { createSimulation, Simulation, OP_KINDS, type SimulationOptions, type SimulationReport, type SimPlatform, type OpKind } from "./sim/simulation.js";
export { DEFAULT_PROFILE, validateProfile, type CostProfile } from "./sim/cost-profile.js";
export { ENVIRONMENTS, ENVIRONMENT_PRESETS, type EnvironmentName, type Environment, type Party } from "./sim/environments.js";
export { STRATEGIES, MAPPING_STRATEGIES, FLUSH_STRATEGIES, STRATEGY_TEXT, parseStrategy, type StrategyChoice } from "./sim/strategies.js";
export { replayThroughSimulation, type SimReplayResult } from "./sim/replay.js";

/** Compiles the core from a URL, Response or bytes (browser or Node). */
export async function loadIommuModule(source: URL | string | Response | ArrayBuffer | Uint8Array<ArrayBuffer>): Promise<WebAssembly.Module> {
  if (source instanceof ArrayBuffer || source instanceof Uint8Array) return WebAssembly.compile(source);
  const res = source instanceof Response ? source : await fetch(source);
  return WebAssembly.compile(await res.arrayBuffer());
}
