// Argument checks shared by the WASM-backed model and the reference model, so both refuse the
// same input with the same words (never a WASM trap, never a silent clamp).

import { ALLOC_FREE_LIST, DIRECTIONS, isIova, FORMAT_RIOMMU, FREE_LIST_CLASSES, FREE_LIST_DEPTH, IO_PAGE_SIZE, SG_MAX } from "./abi.js";
import { RIOMMU_RING_ONLY } from "./platforms.js";
import type { ResolvedConfig } from "./config.js";
import { ConfigError } from "./errors.js";
import type { AllocatorState, DmaSegment, SgSegment } from "./types.js";

export const U32_MAX = 0xffffffff;

/** rIOMMU maps ring buffers only: map_sg and alloc_coherent are refused, naming why. */
export function checkRingOnly(operation: "map_sg" | "alloc_coherent", config: { format: number }): void {
  if (config.format === FORMAT_RIOMMU) throw new ConfigError("operation", operation, RIOMMU_RING_ONLY);
}

export function checkBytes(field: string, v: unknown): number {
  if (!Number.isInteger(v) || (v as number) < 1 || (v as number) > U32_MAX) {
    throw new ConfigError(field, v, "a whole number of bytes from 1 to 4294967295");
  }
  return v as number;
}

export function checkDma(field: string, v: unknown): number {
  if (!Number.isInteger(v) || (v as number) < 0 || (v as number) > U32_MAX) {
    throw new ConfigError(field, v, "a DMA address from 0 to 0xffffffff");
  }
  return v as number;
}

export function checkPhys(field: string, v: unknown, cfg: ResolvedConfig): number {
  const max = (cfg.maxPfn + 1) * IO_PAGE_SIZE - 1;
  if (!Number.isInteger(v) || (v as number) < 0 || (v as number) > max) {
    throw new ConfigError(field, v, `a physical address from 0 to 0x${max.toString(16)} (what a ${cfg.platform} entry can hold)`);
  }
  return v as number;
}

/**
 * Direction name → Linux code. No prototype: "toString", "__proto__", "constructor" … must not
 * resolve through Object.prototype (the hot path looks names up here directly).
 */
/**
 * A buffer [phys, phys + bytes) whose every page an entry can hold: the hardware keeps only the
 * RPN's bits (Calgary 36, DART 24) and would silently map another page, so more is refused.
 */
export function checkBuffer(physField: string, bytesField: string, phys: unknown, bytes: unknown, cfg: ResolvedConfig): void {
  checkPhys(physField, phys, cfg);
  checkBytes(bytesField, bytes);
  const max = (cfg.maxPfn + 1) * IO_PAGE_SIZE - 1;
  const last = (phys as number) + (bytes as number) - 1;
  if (last > max) {
    throw new ConfigError(
      bytesField, bytes,
      `a length that ends the buffer at or below 0x${max.toString(16)} (what a ${cfg.platform} entry can hold); this one ends at 0x${last.toString(16)}`,
    );
  }
}

/** Physical page numbers are carried as two 32-bit words (batch records, core calls). */
export const pfnLow = (pfn: number): number => pfn % 0x1_0000_0000;
export const pfnHigh = (pfn: number): number => Math.floor(pfn / 0x1_0000_0000);

export const DIRECTION_CODE: Record<string, number> = Object.assign(
  Object.create(null) as Record<string, number>,
  Object.fromEntries(DIRECTIONS.map((d, i) => [d, i])),
);

export function checkDirection(v: unknown): number {
  const i = typeof v === "string" ? DIRECTION_CODE[v] : undefined;
  if (i === undefined) throw new ConfigError("dir", v, DIRECTIONS.join(" | "));
  return i;
}

export function checkAccessKind(v: unknown): boolean {
  if (v !== "read" && v !== "write") throw new ConfigError("kind", v, "read | write");
  return v === "write";
}

export function checkSgList<T extends SgSegment | DmaSegment>(field: string, list: readonly T[]): void {
  if (!Array.isArray(list) || list.length < 1 || list.length > SG_MAX) {
    throw new ConfigError(field, Array.isArray(list) ? `${list.length} segments` : list, `a list of 1 to ${SG_MAX} segments`);
  }
}

/** Physical address → page number and offset in page. */
export function splitPhys(phys: number): [pfn: number, offset: number] {
  return [Math.floor(phys / IO_PAGE_SIZE), phys % IO_PAGE_SIZE];
}

export function checkCpu(v: unknown, cfg: ResolvedConfig): number {
  if (!Number.isInteger(v) || (v as number) < 0 || (v as number) >= cfg.cpus) {
    throw new ConfigError("cpu", v, `a CPU from 0 to ${cfg.cpus - 1} (the instance models cpus: ${cfg.cpus})`);
  }
  return v as number;
}

/**
 * Bytes the kernel would spend on the allocator's state: the bitmap (one bit per entry), the
 * free lists as allocated, or for IOVA one struct iova (40 B on 64-bit) per tree node and one
 * struct iova_magazine (1024 B) per magazine.
 */
export function allocatorStateOf(
  cfg: ResolvedConfig,
  s: Omit<AllocatorState, "metadataBytes">,
): AllocatorState {
  let bytes: number;
  if (isIova(cfg.allocator)) bytes = 40 * (s.treeNodes + 1) + 1024 * s.magazines;
  else bytes = cfg.entries / 8 + (cfg.allocator === ALLOC_FREE_LIST ? 4 * FREE_LIST_CLASSES * (FREE_LIST_DEPTH + 1) : 0);
  return { ...s, metadataBytes: bytes };
}
