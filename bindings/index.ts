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

/** Compiles the core from a URL, Response or bytes (browser or Node). */
export async function loadIommuModule(source: URL | string | Response | ArrayBuffer | Uint8Array<ArrayBuffer>): Promise<WebAssembly.Module> {
  if (source instanceof ArrayBuffer || source instanceof Uint8Array) return WebAssembly.compile(source);
  const res = source instanceof Response ? source : await fetch(source);
  return WebAssembly.compile(await res.arrayBuffer());
}
