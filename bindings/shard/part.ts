// A shard's part file: the grid's fingerprint (command, settings, inputs such as the cost profile,
// tool version), which shard of how many, the rows with their grid indices, and a trailer with
// the row count and a SHA-256 of the rows. Written atomically (whole or not at all); read back
// with every check `merge` relies on, so a truncated, edited or mislabelled file is named.

import { createHash } from "node:crypto";
import { closeSync, openSync, readFileSync, readSync } from "node:fs";
import { ConfigError } from "../errors.js";
import { writeAtomicallySync } from "../io/atomic.js";
import { PACKAGE, stamp } from "../cli/json.js";
import { shardIndices, type Shard } from "./shard.js";

/** What a grid is: the command, its settings, and digests of the files it reads. */
export interface Study {
  command: string;
  /** The command's own description of the grid (JSON): what its output functions need. */
  spec: unknown;
  /** Digests of the inputs the results depend on (cost profile, trace), "sha256:…". */
  inputs: Record<string, string>;
  /** Configurations in the whole grid. */
  configurations: number;
}

export interface Part {
  file: string;
  version: string;
  study: Study;
  fingerprint: string;
  shard: Shard;
  rows: Array<{ index: number; row: unknown }>;
}

export const sha256 = (data: string | Uint8Array): string => createHash("sha256").update(data).digest("hex");

/**
 * The digest of a file's bytes, as a Study input. Read in 1 MiB chunks: a trace of 10^8 events is
 * gigabytes, and replay itself never holds more than a chunk of it.
 */
export function fileDigest(field: string, file: string | URL, what = "file"): string {
  const hash = createHash("sha256");
  let fd: number | undefined;
  try {
    fd = openSync(file, "r");
    const chunk = Buffer.allocUnsafe(1 << 20);
    for (let n; (n = readSync(fd, chunk, 0, chunk.length, null)) > 0;) hash.update(chunk.subarray(0, n));
  } catch (e) {
    throw new ConfigError(field, String(file), `a readable ${what} (${(e as Error).message})`);
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  return "sha256:" + hash.digest("hex");
}

/** One grid, one tool version: parts merge only when this is the same. */
export function fingerprintOf(study: Study, version: string): string {
  return sha256(JSON.stringify({ version, command: study.command, spec: study.spec, inputs: study.inputs, configurations: study.configurations }));
}

// JSON has no NaN, ±Infinity or −0; a row carries them tagged so the merged output prints them as
// the unsharded run does ("NaN" in a CSV, not "null")
const TAG = "$number";
function encodeNumbers(_key: string, v: unknown): unknown {
  if (typeof v === "number" && (!Number.isFinite(v) || Object.is(v, -0))) return { [TAG]: Object.is(v, -0) ? "-0" : String(v) };
  return v;
}
function decodeNumbers(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(decodeNumbers);
  if (v !== null && typeof v === "object") {
    const o = v as Record<string, unknown>;
    const keys = Object.keys(o);
    if (keys.length === 1 && keys[0] === TAG) return Number(o[TAG]);
    return Object.fromEntries(keys.map((k) => [k, decodeNumbers(o[k])]));
  }
  return v;
}

/** Writes shard `shard`'s rows (ascending grid indices) of `study` to `file`, atomically. */
export function writePart(file: string, study: Study, shard: Shard, rows: Array<{ index: number; row: unknown }>): void {
  const encoded = JSON.parse(JSON.stringify(rows, encodeNumbers)) as unknown[];
  const body = JSON.stringify(encoded);
  const head = { ...stamp("part"), study, fingerprint: fingerprintOf(study, PACKAGE.version), shard };
  // one row a line: a part stays readable with less, and diffs of two parts line up
  const lines = encoded.map((r) => JSON.stringify(r)).join(",\n");
  const text = `${JSON.stringify(head).slice(0, -1)},"rows":[\n${lines}\n],"trailer":${JSON.stringify({ rows: rows.length, sha256: sha256(body) })}}\n`;
  writeAtomicallySync(file, text);
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);

/** Reads and checks a part file: complete, untouched, and its rows exactly its shard's slice. */
export function readPart(file: string): Part {
  const bad = (why: string): never => {
    throw new ConfigError("part file", file, `a complete part file written by \`sweep|allocators|replay --shard\`; ${why}`);
  };
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    return bad(`it cannot be read (${(e as Error).message})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    return bad(`it is truncated or corrupt: not whole JSON (${(e as Error).message}); rerun its shard`);
  }
  if (!isObject(json) || !isObject(json.schema) || json.schema.name !== "part") return bad("it is not a part file (no part schema stamp)");
  if (json.schema.version !== stamp("part").schema.version) return bad(`its format is version ${String(json.schema.version)}, this tool reads ${stamp("part").schema.version}`);
  const trailer = json.trailer;
  if (!isObject(trailer)) return bad("it has no trailer: it is truncated; rerun its shard");
  if (!Array.isArray(json.rows)) return bad("it has no rows array");
  if (json.rows.length !== trailer.rows) return bad(`its trailer counts ${String(trailer.rows)} rows, it holds ${json.rows.length}: truncated or edited; rerun its shard`);
  if (sha256(JSON.stringify(json.rows)) !== trailer.sha256) return bad("its rows do not match the trailer's SHA-256: corrupt or edited; rerun its shard");
  const tool = json.tool as { version?: unknown } | undefined;
  const study = json.study as Study | undefined;
  const shard = json.shard as Shard | undefined;
  if (!isObject(tool) || typeof tool.version !== "string") return bad("it names no tool version");
  if (!isObject(study) || typeof study.command !== "string" || !Number.isInteger(study.configurations) || !isObject(study.inputs)) return bad("its grid description is missing or malformed");
  if (!isObject(shard) || !Number.isInteger(shard.count) || shard.count < 1 || !Number.isInteger(shard.index) || shard.index < 0 || shard.index >= shard.count) {
    return bad(`its shard ${JSON.stringify(shard)} is not I/N with 0 ≤ I < N`);
  }
  if (fingerprintOf(study, tool.version) !== json.fingerprint) return bad("its grid does not match its fingerprint: edited; rerun its shard");
  const rows = decodeNumbers(json.rows) as Array<{ index: number; row: unknown }>;
  const expected = shardIndices(shard, study.configurations);
  if (rows.length !== expected.length || rows.some((r, k) => !isObject(r) || r.index !== expected[k] || !("row" in r))) {
    return bad(`its rows are not shard ${shard.index}/${shard.count}'s configurations of ${study.configurations} (grid indices ${shard.index}, ${shard.index + shard.count}, …)`);
  }
  return { file, version: tool.version, study, fingerprint: json.fingerprint as string, shard, rows };
}
