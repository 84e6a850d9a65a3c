// A published study the model is compared with: the measured values exactly as the source gives
// them (a point, a range, or an "up to" bound), the source's locator and words, and for each
// measured value the modelled runs whose outcome predicts it. Study files live in data/studies/.

import { readdirSync, readFileSync } from "node:fs";
import { ConfigError } from "../errors.js";

/** How a measured value is stated by its source. */
export type Measured = { value: number } | { low: number; high: number } | { upTo: number };

/** One modelled NIC run (see nic-model.ts). */
export interface NicRun {
  /** "none": no IOMMU; the others are platforms the NIC workload runs on. */
  platform: string;
  /**
   * strict: invalidate on every unmap; lazy: Linux's flush queue; default: the platform's own rule
   * (a ring IOMMU invalidates at the end of each burst); off: no IOMMU in the path.
   */
  mode: "strict" | "lazy" | "default" | "off";
  linkGbps: number;
  /** The simulated host's end of the stream (the NIC workload's default when absent). */
  role?: "sender" | "receiver";
  messageBytes?: number;
  /** Queue pairs and CPUs (one flow per queue; the NIC workload's default when absent). */
  cpus?: number;
  /**
   * How RX buffers are recycled: a page pool of 4 KiB pages, pool pages carved from 2 MiB chunks
   * mapped whole, or none (drivers before page_pool: every RX buffer mapped and unmapped).
   */
  rxRecycling?: "page-pool" | "hugepage-pool" | "none";
  /** The IOVA allocator: per-CPU magazines before the tree (Linux ≥ 4.7), or the tree alone under its lock. */
  allocator?: "iova" | "iova-tree";
  /** TX page-fragment size: 4096 (one page per frag, tcp_sendmsg before 3.7) or 32768 (its page_frag). */
  txFragBytes?: 4096 | 32768;
}

/**
 * What a row's runs are turned into, each a function of modelled throughput only:
 * pct-of-line: run ÷ line × 100; throughput-ratio: numerator ÷ denominator;
 * drop-pct: (without − with) ÷ without × 100.
 */
export const QUANTITIES = {
  "pct-of-line": ["run"],
  "throughput-ratio": ["numerator", "denominator"],
  "drop-pct": ["with", "without"],
} as const;
export type Quantity = keyof typeof QUANTITIES;

export interface StudyRow {
  id: string;
  quantity: Quantity;
  unit: string;
  measured: Measured;
  /** The words of the source's quote the measured value is read from (checked to be in the quote). */
  reads: string;
  runs: Record<string, NicRun>;
}

export interface StudySource {
  citation: string;
  locator: string;
  /** Which part of the source (table, figure, abstract) and what could not be read. */
  where: string;
  /** The source's words the measured values are taken from. */
  quote: string;
}

export interface Study {
  name: string;
  title: string;
  source: StudySource;
  conditions: string;
  rows: StudyRow[];
}

export const STUDIES_DIR = new URL("../../data/studies/", import.meta.url);
const MODES = ["strict", "lazy", "default", "off"];
const RX_RECYCLING = ["page-pool", "hugepage-pool", "none"];
const ALLOCATORS = ["iova", "iova-tree"];
const TX_FRAG_BYTES = [4096, 32768];

/** The studies shipped in data/studies/, by name, sorted. */
export function studyNames(dir: URL = STUDIES_DIR): string[] {
  return readdirSync(dir).filter((f) => f.endsWith(".json")).map((f) => f.slice(0, -5)).sort();
}

export function loadStudy(name: string, dir: URL = STUDIES_DIR): Study {
  const names = studyNames(dir);
  if (!names.includes(name)) throw new ConfigError("--study", name, `one of ${names.join(", ")} (or "list")`);
  const where = `data/studies/${name}.json`;
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(new URL(`${name}.json`, dir), "utf8"));
  } catch (e) {
    throw new ConfigError(where, name, `a readable JSON study (${(e as Error).message})`);
  }
  const study = validateStudy(json, where);
  if (study.name !== name) throw new ConfigError(`${where}.name`, study.name, `the file's own name, "${name}"`);
  return study;
}

const isNum = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);
const isText = (v: unknown): v is string => typeof v === "string" && v.trim() !== "";

function validateMeasured(m: unknown, where: string): Measured {
  const o = m as Record<string, unknown> | null;
  const keys = o && typeof o === "object" ? Object.keys(o).sort().join(",") : "";
  if (keys === "value" && isNum(o!.value)) return { value: o!.value };
  if (keys === "high,low" && isNum(o!.low) && isNum(o!.high) && o!.low <= o!.high) return { low: o!.low, high: o!.high };
  if (keys === "upTo" && isNum(o!.upTo)) return { upTo: o!.upTo };
  throw new ConfigError(where, m, "{ value } or { low, high } with low ≤ high or { upTo }, finite numbers");
}

function validateRun(r: unknown, where: string): NicRun {
  const o = r as Record<string, unknown> | null;
  if (o === null || typeof o !== "object") throw new ConfigError(where, r, "{ platform, mode, linkGbps, … }");
  if (!isText(o.platform)) throw new ConfigError(`${where}.platform`, o.platform, "a platform name, or none");
  if (!MODES.includes(o.mode as string)) throw new ConfigError(`${where}.mode`, o.mode, MODES.join(" | "));
  if ((o.mode === "off") !== (o.platform === "none")) throw new ConfigError(`${where}.mode`, o.mode, 'off exactly when platform is "none"');
  if (!isNum(o.linkGbps) || o.linkGbps <= 0) throw new ConfigError(`${where}.linkGbps`, o.linkGbps, "a positive link rate in Gbit/s");
  if (o.role !== undefined && o.role !== "sender" && o.role !== "receiver") throw new ConfigError(`${where}.role`, o.role, "sender | receiver");
  for (const k of ["messageBytes", "cpus"] as const) {
    if (o[k] !== undefined && !(Number.isInteger(o[k]) && (o[k] as number) >= 1)) throw new ConfigError(`${where}.${k}`, o[k], "a whole number ≥ 1");
  }
  if (o.rxRecycling !== undefined && !RX_RECYCLING.includes(o.rxRecycling as string)) throw new ConfigError(`${where}.rxRecycling`, o.rxRecycling, RX_RECYCLING.join(" | "));
  if (o.allocator !== undefined && !ALLOCATORS.includes(o.allocator as string)) throw new ConfigError(`${where}.allocator`, o.allocator, ALLOCATORS.join(" | "));
  if (o.txFragBytes !== undefined && !TX_FRAG_BYTES.includes(o.txFragBytes as number)) throw new ConfigError(`${where}.txFragBytes`, o.txFragBytes, TX_FRAG_BYTES.join(" | "));
  const known = ["platform", "mode", "linkGbps", "role", "messageBytes", "cpus", "rxRecycling", "allocator", "txFragBytes"];
  for (const k of Object.keys(o)) if (!known.includes(k)) throw new ConfigError(`${where}.${k}`, o[k], `no such run setting; known: ${known.join(", ")}`);
  return o as unknown as NicRun;
}

/** Checks a parsed study file; every problem names its field. */
export function validateStudy(s: unknown, where = "study"): Study {
  const o = s as Partial<Study> | null;
  if (o === null || typeof o !== "object") throw new ConfigError(where, s, "a JSON object with name, title, source, conditions, rows");
  for (const k of ["name", "title", "conditions"] as const) if (!isText(o[k])) throw new ConfigError(`${where}.${k}`, o[k], "a non-empty string");
  const src = o.source as Partial<StudySource> | undefined;
  if (src === null || typeof src !== "object") throw new ConfigError(`${where}.source`, src, "{ citation, locator, where, quote }");
  for (const k of ["citation", "locator", "where", "quote"] as const) if (!isText(src[k])) throw new ConfigError(`${where}.source.${k}`, src[k], "a non-empty string");
  if (!Array.isArray(o.rows) || o.rows.length === 0) throw new ConfigError(`${where}.rows`, o.rows, "a non-empty array of rows");
  const ids = new Set<string>();
  o.rows.forEach((row, i) => {
    const at = `${where}.rows[${i}]`;
    if (!isText(row?.id) || ids.has(row.id)) throw new ConfigError(`${at}.id`, row?.id, "a non-empty id, unique in the study");
    ids.add(row.id);
    const roles = QUANTITIES[row.quantity as Quantity] as readonly string[] | undefined;
    if (!roles) throw new ConfigError(`${at}.quantity`, row.quantity, Object.keys(QUANTITIES).join(" | "));
    if (!isText(row.unit)) throw new ConfigError(`${at}.unit`, row.unit, "a non-empty string");
    validateMeasured(row.measured, `${at}.measured`);
    if (!isText(row.reads) || !src.quote!.includes(row.reads)) throw new ConfigError(`${at}.reads`, row.reads, "words of source.quote the measured value is read from");
    const runs = row.runs as Record<string, unknown> | undefined;
    if (runs === null || typeof runs !== "object" || Object.keys(runs).sort().join() !== [...roles].sort().join()) {
      throw new ConfigError(`${at}.runs`, runs && Object.keys(runs), `exactly the runs ${roles.join(", ")} for ${row.quantity}`);
    }
    for (const role of roles) validateRun(runs[role], `${at}.runs.${role}`);
  });
  return o as Study;
}
