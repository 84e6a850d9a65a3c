// Parts back into one grid's rows, in grid order, or a refusal that names the file and the
// problem: another tool version or grid, another split, a shard twice or not at all.

import { ConfigError } from "../errors.js";
import type { Part, Study } from "./part.js";

export interface Merged {
  study: Study;
  /** One row per configuration, in grid order. */
  rows: unknown[];
}

/** `version`: the merging tool's own; the merged output is stamped with it, so parts must match it. */
export function mergeParts(parts: readonly Part[], version: string): Merged {
  if (parts.length === 0) throw new ConfigError("merge", [], "one part file or more");
  const [first] = parts;
  const refuse = (p: Part, expected: string): never => {
    throw new ConfigError("part file", p.file, expected);
  };
  for (const p of parts) {
    if (p.version !== version) refuse(p, `a part written by this iommu-sim (${version}); it was written by ${p.version}: merge with that version or rerun its shards`);
    if (p.study.command !== first.study.command) refuse(p, `a part of the same command as ${first.file} (${first.study.command}); it is a part of ${p.study.command}`);
    if (p.fingerprint !== first.fingerprint) {
      const what = JSON.stringify(p.study.spec) !== JSON.stringify(first.study.spec) ? "its settings or grid axes differ"
        : JSON.stringify(p.study.inputs) !== JSON.stringify(first.study.inputs) ? `its inputs differ (${Object.keys(p.study.inputs).join(", ")})`
        : "its grid differs";
      refuse(p, `a part of the same grid as ${first.file}; ${what}`);
    }
    if (p.shard.count !== first.shard.count) refuse(p, `a part of the same ${first.shard.count}-shard split as ${first.file}; it is shard ${p.shard.index}/${p.shard.count}`);
  }
  const byShard = new Map<number, Part>();
  for (const p of parts) {
    const seen = byShard.get(p.shard.index);
    if (seen) refuse(p, `each shard once; shard ${p.shard.index}/${p.shard.count} is also ${seen.file}`);
    byShard.set(p.shard.index, p);
  }
  const count = first.shard.count;
  const missing = Array.from({ length: count }, (_, i) => i).filter((i) => !byShard.has(i));
  if (missing.length > 0) {
    throw new ConfigError("merge", parts.map((p) => p.file), `all ${count} shards of the grid; missing ${missing.map((i) => `${i}/${count}`).join(", ")}`);
  }
  const rows: unknown[] = new Array(first.study.configurations);
  for (const p of parts) for (const r of p.rows) rows[r.index] = r.row;
  return { study: first.study, rows };
}
