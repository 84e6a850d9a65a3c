// Mapping strategies of the study, and which combinations make sense.

import { ConfigError } from "../errors.js";
import type { EnvironmentName } from "./environments.js";

/** How buffers get IO addresses (one of these per run). */
export const MAPPING_STRATEGIES = [
  "straightforward", "preallocated", "persistent", "cached", "batched", "never-free", "grant-table",
] as const;
/** When the device-side cache learns of unmaps (at most one per run, combinable with the above). */
export const FLUSH_STRATEGIES = ["deferred-flush", "strict-flush"] as const;
export const STRATEGIES = [...MAPPING_STRATEGIES, ...FLUSH_STRATEGIES] as const;

export type MappingStrategy = (typeof MAPPING_STRATEGIES)[number];
export type FlushStrategy = (typeof FLUSH_STRATEGIES)[number];

export interface StrategyChoice {
  mapping: MappingStrategy;
  /** null: the platform's own flush rule. */
  flush: FlushStrategy | null;
}

export const STRATEGY_TEXT: Record<MappingStrategy | FlushStrategy, string> = {
  straightforward: "map on every DMA, unmap on completion; each a TCE write (a hypercall under Xen)",
  preallocated: "whole guest mapped once at start, guest-physical = DMA address; map/unmap cost only the API call",
  persistent: "driver DMA buffers allocated once and reused; data is copied into them",
  cached: "unmap parks the mapping; a later map of the same pages reuses it (bounded, LRU eviction)",
  batched: "dma_map_multi / dma_unmap_multi: one crossing per batch of B operations",
  "never-free": "unmap returns the IO pages to the allocator but leaves the entries valid until reused",
  "grant-table": "PV driver domain: the grant map programs the IOMMU, no separate TCE hypercall",
  "deferred-flush": "freed entries cleared, the device cache flushed only when the allocator wraps (Calgary's rule)",
  "strict-flush": "the device cache is flushed after every unmap",
};

/**
 * Parses "cached", "batched+deferred-flush", "strict-flush" … and refuses what does not make
 * sense on this platform and environment, saying why.
 */
export function parseStrategy(text: string, platform: string, environment: EnvironmentName): StrategyChoice {
  const parts = text.split(/[+,]/).map((s) => s.trim()).filter(Boolean);
  const mapping = parts.filter((p): p is MappingStrategy => (MAPPING_STRATEGIES as readonly string[]).includes(p));
  const flush = parts.filter((p): p is FlushStrategy => (FLUSH_STRATEGIES as readonly string[]).includes(p));
  const unknown = parts.filter((p) => !(STRATEGIES as readonly string[]).includes(p));
  const refuse = (why: string) => {
    throw new ConfigError("strategy", text, why);
  };
  if (parts.length === 0 || unknown.length) refuse(`one of ${MAPPING_STRATEGIES.join(", ")}, optionally + ${FLUSH_STRATEGIES.join(" | ")}`);
  if (mapping.length > 1) refuse(`one mapping strategy at a time (got ${mapping.join(" and ")})`);
  if (flush.length > 1) refuse("deferred-flush and strict-flush exclude each other");
  const choice: StrategyChoice = { mapping: mapping[0] ?? "straightforward", flush: flush[0] ?? null };
  if (platform === "none" && (choice.mapping !== "straightforward" || choice.flush)) {
    refuse("with no IOMMU there is nothing to map, cache or flush: only straightforward applies");
  }
  if (choice.mapping === "grant-table" && environment !== "xen-domU") {
    refuse("grant-table integration is for PV driver domains: it needs the xen-domU environment");
  }
  if (choice.mapping === "preallocated" && choice.flush) {
    refuse("preallocated never unmaps, so no flush rule applies");
  }
  if (choice.mapping === "never-free" && choice.flush === "strict-flush") {
    refuse("never-free leaves entries valid after unmap; flushing after each unmap would contradict it");
  }
  if (choice.mapping === "persistent" && platform === "riommu") {
    refuse("persistent buffers are coherent allocations, which the rIOMMU leaves to a baseline IOMMU this platform does not model (riommu maps ring buffers only)");
  }
  if (choice.mapping === "persistent" && choice.flush === "strict-flush") {
    refuse("persistent buffers are never unmapped while the driver lives, so strict flushing never happens");
  }
  return choice;
}
