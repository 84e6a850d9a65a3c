// iommu-sim: browser-safe entry point. Node users get createIommu from "iommu-sim" directly
// (node.ts); in a browser, compile build/iommu.wasm yourself and call createIommuWith.

export * from "./abi.js";
export { ConfigError } from "./errors.js";
export { resolveConfig, type IommuOptions, type ResolvedConfig } from "./config.js";
export { PLATFORMS, PLATFORM_PRESETS, type PlatformName, type Platform, type InvalidationCaps } from "./platforms.js";
export type { AllocatorState, BatchArea, CoherentBuffer, DmaSegment, InvalidationQueue, Iommu, SgSegment } from "./types.js";
export {
  createAllocatorWorkloadWith, WORKLOADS, WORKLOAD_PARAM, type AllocatorFigures, type AllocatorWorkload,
  type AllocatorWorkloadOptions, type WorkloadName,
} from "./allocators/workload.js";
export {
  compareAllocators, figureCells, parseWorkloadSpec, DEFAULT_WORKLOADS, type CompareOptions, type WorkloadSpec,
} from "./allocators/compare.js";
export { createIommuWith, createNicRingWith, type NicRing } from "./wasm-iommu.js";
export { createReferenceIommu } from "./reference/index.js";
export * from "./records.js";
export { parseTrace, type TraceOp, type ParsedTrace } from "./trace/parse.js";
export { replayTrace, type ReplayResult, type ReplayOptions } from "./trace/replay.js";
export {
  replayStreamOnto, replayTraceStream, TraceReader, pump, collectTrace, STREAM_SIZING, type StreamReplayOptions, type StreamReplayResult,
  type StreamedReplay, type TraceFormat,
} from "./trace/stream.js";
export type { TraceConsumer, TraceId } from "./trace/consumer.js";
export { BinaryTraceReader, BinaryTraceWriter, isBinaryTrace, BINARY_MAGIC, BINARY_VERSION } from "./trace/binary.js";
export { TextTraceReader, MAX_LINE_BYTES } from "./trace/text-reader.js";
export { TextTraceWriter } from "./trace/text-writer.js";
export { generateTrace, generateInSteps, TRACE_WORKLOADS, type GenerateOptions, type TraceWorkload } from "./trace/generate.js";
export { createSimulation, Simulation, OP_KINDS, type SimulationOptions, type SimulationReport, type SimPlatform, type OpKind } from "./sim/simulation.js";
export { DEFAULT_PROFILE, validateProfile, type CostProfile } from "./sim/cost-profile.js";
export { ENVIRONMENTS, ENVIRONMENT_PRESETS, type EnvironmentName, type Environment, type Party } from "./sim/environments.js";
export { STRATEGIES, MAPPING_STRATEGIES, FLUSH_STRATEGIES, STRATEGY_TEXT, parseStrategy, type StrategyChoice } from "./sim/strategies.js";
export { createPricedSimulationWith, PricedSimulation, PRICED } from "./sim/priced.js";
export { PARTIES, PRIMITIVES, priceGrid, primitiveCounts, type PrimitiveCounts, type Primitive, type PricedCycles } from "./sim/primitives.js";
export { replayThroughSimulation, type SimReplayResult } from "./sim/replay.js";
export { priceRing, pairCycles, type PairCounts, type RingExposure } from "./workloads/dma-price.js";
export { platformFrontier, PLATFORM_CONFIGURATIONS, type PlatformConfiguration } from "./workloads/platform-frontier.js";
export { netperfPoint, MSS, FRAME_OVERHEAD, PARAM_BOUNDS, type NetperfParams, type NetperfPoint } from "./workloads/netperf.js";
export { parseMeasured, simulateRow, calibrate, dmaCounts, type Calibration, type MeasuredRow, type DmaCounts } from "./workloads/reproduction.js";
export {
  fidelity, reproduceRows, whatIf, whatIfStrategies, RIOMMU_WHAT_IF, tputDiff, cpuDiff, MEASURED_SETUP, type ReproRow, type WhatIfRow, type Quad,
} from "./workloads/report.js";
export { traceFrontier, traceFrontierConfigurations, traceFrontierPoints, replayPriced, type TraceFrontierRow, type TraceFrontierPriced, type TraceFrontierRefusal } from "./workloads/trace-frontier.js";
export { resolveRun, RUN_DEFAULTS, type RunConfig } from "./sweep/config.js";
export { simulateNicWith, shapeAt, type NicResult, type NicPoint, type NicIommuCounts, type NicExposure, type Bottleneck } from "./workloads/nic.js";
export { resolveNicOptions, NIC_DEFAULTS, LINK_GBPS, INVALIDATIONS, type NicOptions } from "./workloads/nic/options.js";
export { nicPrices, NIC_DEFAULT_PRICES, NIC_PRICE_BASIS, type NicPrices, type NicProfile } from "./workloads/nic/prices.js";
export {
  messageSizeSpec, frontierSpec, frontierPlot, platformFrontierSpec, traceFrontierSpec, sweepSpec, sweepCpuSpec, cpuTitle, OKABE_ITO,
  type VegaLiteSpec, type CurveRow, type FrontierPoint,
} from "./plot/specs.js";

/**
 * Compiles the core from a URL, Response or bytes (browser or Node). From a URL it streams
 * (WebAssembly.compileStreaming, the server must send application/wasm).
 */
export async function loadIommuModule(source: URL | string | Response | ArrayBuffer | Uint8Array<ArrayBuffer>): Promise<WebAssembly.Module> {
  if (source instanceof ArrayBuffer || source instanceof Uint8Array) return WebAssembly.compile(source);
  const res = source instanceof Response ? source : fetch(source);
  return WebAssembly.compileStreaming(res);
}
