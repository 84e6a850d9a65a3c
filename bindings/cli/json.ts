// JSON outputs: each one names the tool version that wrote it and the schema it follows, published
// in the package as schema/<name>.json (JSON Schema draft-07). A schema's version goes up when
// an output changes in a way a reader would notice (a field removed, renamed or retyped).

import { readFileSync } from "node:fs";

export const PACKAGE = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { name: string; version: string };

export const OUTPUT_SCHEMAS = {
  replay: 1,
  "replay-priced": 1,
  run: 1,
  sweep: 1,
  allocators: 1,
  reproduce: 2,
  study: 1,
  calibration: 2,
  part: 1,
  "replay-grid": 1,
} as const;

export type OutputSchema = keyof typeof OUTPUT_SCHEMAS;

export interface Stamp {
  tool: { name: string; version: string };
  schema: { name: OutputSchema; version: number; file: string };
}

export function stamp(name: OutputSchema): Stamp {
  return {
    tool: { name: PACKAGE.name, version: PACKAGE.version },
    schema: { name, version: OUTPUT_SCHEMAS[name], file: `schema/${name}.json` },
  };
}

/** `body` as pretty JSON, the stamp first. */
export function jsonOutput(name: OutputSchema, body: object): string {
  return JSON.stringify({ ...stamp(name), ...body }, null, 2) + "\n";
}
