// Sharded grids without a scheduler: every split of a grid (N = 1, 2, 3, 7, more shards than
// configurations), merged in any order, gives the unsharded command's table, --json and --csv
// byte for byte; every refusal of `--shard`, of a part file and of `merge` names its problem; the
// Slurm scripts of `slurm … --dry-run` hold what a compute node needs, and run (as Slurm would
// run them, task by task) to the serial output. A real Slurm: `npm run test:cluster`.
import { spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { sweepOutputs, sweepStudy, type SweepFlags, type SweepSpec } from "../bindings/cli/sweep.js";
import { runShard } from "../bindings/cli/shard.js";
import { PACKAGE } from "../bindings/cli/json.js";
import { ConfigError } from "../bindings/errors.js";
import { mergeParts } from "../bindings/shard/merge.js";
import { fingerprintOf, readPart, writePart, type Study } from "../bindings/shard/part.js";
import { parseShard, shardIndices } from "../bindings/shard/shard.js";
import { sweep } from "../bindings/sweep/sweep.js";
import type { RunResult } from "../bindings/sweep/run.js";

const root = join(__dirname, "..");
const CLI = join(root, "lib", "cli.js");
const dir = mkdtempSync(join(tmpdir(), "iommu-sim-shard-"));
/** The environment without Slurm's variables (this suite may itself run inside a Slurm job). */
const cleanEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("SLURM_")));
const cli = (args: string[], env: Record<string, string | undefined> = {}, cwd = dir) =>
  spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8", cwd, env: { ...cleanEnv, ...env } });
const ok = (args: string[], env: Record<string, string | undefined> = {}, cwd = dir) => {
  const r = cli(args, env, cwd);
  expect(r.status, r.stderr).toBe(0);
  return r.stdout;
};
const refused = (args: string[], message: RegExp, env: Record<string, string | undefined> = {}) => {
  const r = cli(args, env);
  expect(r.status, r.stdout).toBe(1);
  expect(r.stderr).toMatch(message);
};
let fresh = 0;
const subdir = () => {
  const d = join(dir, `d${fresh++}`);
  mkdirSync(d);
  return d;
};

const GRIDS: Record<string, string[]> = {
  "netperf strategies × sizes": ["--environment", "xen-dom0", "--grid", "strategy=straightforward,batched,cached", "--grid", "messageBytes=64,1k,64K"],
  "ffsb, three axes": ["--workload", "ffsb", "--grid", "pattern=sequential,random", "--grid", "queueDepth=1,16", "--grid", "platform=calgary-pcix,dart-u4"],
  "one configuration": ["--grid", "environment=xen-domU"],
};

/** `sweep` flags as commander hands them to the action, from the same words. */
function sweepFlags(words: string[]): SweepFlags {
  const flags: Record<string, unknown> = {};
  for (let i = 0; i < words.length; i += 2) {
    const key = words[i].slice(2).replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
    flags[key] = key === "grid" ? [...((flags.grid as string[]) ?? []), words[i + 1]] : words[i + 1];
  }
  return flags as SweepFlags;
}

async function writeParts(study: Study, evaluate: (indices: number[]) => Promise<unknown[]>, count: number, into: string): Promise<string[]> {
  const files: string[] = [];
  for (let index = 0; index < count; index++) {
    const file = join(into, `p${index}.json`);
    await runShard(study, { shard: { index, count }, file }, evaluate);
    files.push(file);
  }
  return files;
}

describe("shards of a sweep, merged, are the unsharded sweep byte for byte", () => {
  it.each(Object.entries(GRIDS))("%s, N = 1, 2, 3, 7 and more than the configurations, parts in any order", async (_, words) => {
    const d = subdir();
    const table = ok(["sweep", ...words, "--serial", "--quiet", "--csv", join(d, "serial.csv")]);
    const json = ok(["sweep", ...words, "--serial", "--quiet", "--json"]);
    const { study, configs } = sweepStudy(sweepFlags(words));
    const results = await sweep(configs, { threads: 1 });
    for (const n of [1, 2, 3, 7, configs.length + 3]) {
      const nd = join(d, `n${n}`);
      mkdirSync(nd);
      const files = await writeParts(study, async (ix) => ix.map((i) => results[i]), n, nd);
      // the last part first, the first last: order must not matter
      const merged = mergeParts([...files].reverse().map(readPart), PACKAGE.version);
      expect(merged.rows).toEqual(results);
      let printed = "";
      await sweepOutputs(merged.study.spec as SweepSpec, merged.rows as RunResult[], { csv: join(nd, "merged.csv") }, (t) => (printed += t));
      expect(printed).toBe(table);
      expect(readFileSync(join(nd, "merged.csv"), "utf8")).toBe(readFileSync(join(d, "serial.csv"), "utf8"));
      printed = "";
      await sweepOutputs(merged.study.spec as SweepSpec, merged.rows as RunResult[], { json: true }, (t) => (printed += t));
      expect(printed).toBe(json);
    }
  }, 60_000);

  it("through the CLI: sweep --shard K/3 three times, merge in a shuffled order, --json, --csv, --plot and the table", () => {
    const d = subdir();
    const words = GRIDS["netperf strategies × sizes"];
    for (const k of [0, 1, 2]) ok(["sweep", ...words, "--quiet", "--threads", "2", "--shard", `${k}/3`, "--out", `part${k}.json`], {}, d);
    const parts = ["part2.json", "part0.json", "part1.json"];
    expect(ok(["merge", ...parts, "--csv", "merged.csv"], {}, d)).toBe(ok(["sweep", ...words, "--serial", "--quiet", "--csv", "serial.csv"], {}, d));
    expect(readFileSync(join(d, "merged.csv"), "utf8")).toBe(readFileSync(join(d, "serial.csv"), "utf8"));
    const json = ok(["sweep", ...words, "--serial", "--json"], {}, d);
    expect(ok(["merge", ...parts, "--json"], {}, d)).toBe(json);
    ok(["merge", ...parts, "--json", "--out", "merged.json"], {}, d);
    expect(readFileSync(join(d, "merged.json"), "utf8")).toBe(json);
    ok(["merge", ...parts, "--plot", "merged.svg"], {}, d);
    ok(["sweep", ...words, "--serial", "--quiet", "--plot", "serial.svg"], {}, d);
    expect(readFileSync(join(d, "merged.svg"), "utf8")).toBe(readFileSync(join(d, "serial.svg"), "utf8"));
  });

  it("a shard's default part file is COMMAND.part-I-of-N.json; --shard auto takes I and N from the array task", () => {
    const d = subdir();
    ok(["sweep", "--grid", "messageBytes=64,1k,64K", "--quiet", "--shard", "0/2"], {}, d);
    // an array --array=10-12: task 11 is shard 1 of 3
    ok(["sweep", "--grid", "messageBytes=64,1k,64K", "--quiet", "--shard", "auto"], { SLURM_ARRAY_TASK_ID: "11", SLURM_ARRAY_TASK_MIN: "10", SLURM_ARRAY_TASK_COUNT: "3" }, d);
    expect(readPart(join(d, "sweep.part-0-of-2.json")).rows.map((r) => r.index)).toEqual([0, 2]);
    expect(readPart(join(d, "sweep.part-1-of-3.json")).shard).toEqual({ index: 1, count: 3 });
  });
});

describe("shards of the allocator comparison, merged, are the unsharded comparison byte for byte", () => {
  it("workload and trace rows over 4 shards, --json, the table and --csv", () => {
    const d = subdir();
    const words = ["allocators", "--workload", "ring:16", "--workload", "storage:4", "--allocators", "calgary,iova,first-fit", "--steps", "300", "--trace", join(root, "examples", "nic-ring.trace"), "--quiet"];
    for (const k of [3, 1, 0, 2]) ok([...words, "--shard", `${k}/4`, "--out", `a${k}.json`], {}, d);
    const parts = ["a1.json", "a3.json", "a0.json", "a2.json"];
    expect(ok(["merge", ...parts, "--json"], {}, d)).toBe(ok([...words, "--json"], {}, d));
    expect(ok(["merge", ...parts, "--csv", "m.csv"], {}, d)).toBe(ok([...words, "--csv", "s.csv"], {}, d));
    expect(readFileSync(join(d, "m.csv"), "utf8")).toBe(readFileSync(join(d, "s.csv"), "utf8"));
    refused(["merge", ...parts.map((p) => join(d, p)), "--plot", join(d, "x.svg")], /--plot: .* expected to be left out: allocators has no --plot/);
  });
});

describe("shards of a replay grid (traces × configurations), merged, are the unsharded grid byte for byte", () => {
  it("two traces (text and binary) × platforms × allocators, unpriced (N = 1, 3, 9 > 8 runs) and priced (N = 2)", () => {
    const d = subdir();
    ok(["trace", "generate", "--workload", "storage-sg:8", "--ops", "1500", "-o", "sg.trace"], {}, d);
    ok(["trace", "generate", "--workload", "ring:32", "--ops", "2000", "--format", "binary", "-o", "ring.bin"], {}, d);
    for (const [grid, splits] of [
      [["--grid", "platform=calgary-pcix,dart-u3", "--grid", "allocator=iova,first-fit", "--cache", "16x4"], [1, 3, 9]],
      [["--platform", "calgary-pcix", "--grid", "strategy=straightforward,cached+deferred-flush", "--grid", "environment=baremetal,xen-domU"], [2]],
    ] as Array<[string[], number[]]>) {
      const words = ["replay", "sg.trace", "ring.bin", ...grid, "--quiet"];
      const table = ok([...words, "--csv", "serial.csv"], {}, d);
      const json = ok([...words, "--json"], {}, d);
      expect(JSON.parse(json).runs).toHaveLength(8);
      for (const n of splits) {
        const parts = Array.from({ length: n }, (_, k) => `r${k}of${n}.json`);
        parts.forEach((p, k) => ok([...words, "--shard", `${k}/${n}`, "--out", p], {}, d));
        const shuffled = [...parts.slice(1), parts[0]];
        expect(ok(["merge", ...shuffled, "--csv", "merged.csv"], {}, d)).toBe(table);
        expect(readFileSync(join(d, "merged.csv"), "utf8")).toBe(readFileSync(join(d, "serial.csv"), "utf8"));
        expect(ok(["merge", ...shuffled, "--json"], {}, d)).toBe(json);
      }
    }
    // a run of the grid is the single replay of that trace and configuration
    const single = JSON.parse(ok(["replay", "ring.bin", "--platform", "dart-u3", "--allocator", "first-fit", "--cache", "16x4", "--json"], {}, d));
    const run = JSON.parse(ok(["replay", "sg.trace", "ring.bin", "--grid", "platform=calgary-pcix,dart-u3", "--grid", "allocator=iova,first-fit", "--cache", "16x4", "--json", "--quiet"], {}, d)).runs[7];
    expect(run).toMatchObject({ trace: "ring.bin", config: { platform: "dart-u3", allocator: "first-fit" }, schema: "replay" });
    const { tool: _t, schema: _s, ...body } = single;
    expect(run.result).toEqual(body);
  }, 120_000);

  it("refuses what a grid of runs cannot take, and a changed trace between shards", () => {
    const d = subdir();
    const trace = join(root, "examples", "nic-ring.trace");
    refused(["replay", trace, trace, "--platform", "dart-u4", "--emit", "addresses"], /--emit: "addresses" is not allowed; expected to be left out with several traces or --grid/);
    refused(["replay", "-", "--grid", "platform=dart-u4"], /TRACE: "-" is not allowed; expected files with several traces or --grid/);
    refused(["replay", trace, "--grid", "platform=dart-u9"], /--grid platform: "dart-u9" is not allowed; expected one of calgary-pcix/);
    refused(["replay", trace, "--grid", "colour=red"], /--grid: "colour=red" is not allowed; expected KEY=V1,V2,… with KEY one of platform, strategy/);
    refused(["replay", trace, "--grid", "allocator=iova"], /--platform: undefined is not allowed; expected one of .*, or --grid platform=…/);
    refused(["replay", trace, "--platform", "dart-u4", "--csv", join(d, "x.csv")], /--csv: .* expected to be given with several traces or --grid/);
    // every configuration is checked before the first run, naming the configuration: a bad value
    // in the grid's last cell costs no replays (and, through `slurm replay`, no queueing)
    refused(["replay", trace, "--platform", "vtd", "--grid", "tableSize=8M,3K"], /tableSize: "3K" is not allowed; expected for vtd one of 8M, .* \(in the grid's configuration tableSize=3K\)/);
    refused(["replay", trace, "--platform", "vtd", "--grid", "strategy=straightforward,bogus"], /strategy: "bogus" is not allowed; .* \(in the grid's configuration strategy=bogus\)/);
    refused(["replay", trace, "--grid", "platform=vtd,riommu", "--grid", "cache=64x4"], /cache: .* expected \{ entries: 2, ways: 2 \} on riommu .*\(in the grid's configuration platform=riommu cache=64x4\)/);
    refused(["replay", trace, "--grid", "platform=vtd", "--strategy", "batched", "--flush-policy", "strict"], /--flush-policy: "strict" is not allowed; expected to be left out with --strategy/);
    refused(["slurm", "replay", trace, "--platform", "vtd", "--grid", "tableSize=8M,3K", "--shards", "2", "--dir", join(d, "job")], /tableSize: "3K" is not allowed/);
    expect(existsSync(join(d, "job"))).toBe(false);
    // a batch size only the priced run uses: on an unpriced run every row would be the same
    refused(["replay", trace, "--platform", "vtd", "--grid", "batchSize=1,16"], /--batch-size: 1 is not allowed; expected to be given with a priced run .* \(in the grid's configuration batchSize=1\)/);
    refused(["replay", trace, "--platform", "vtd", "--batch-size", "4"], /--batch-size: 4 is not allowed; expected to be given with a priced run/);
    ok(["replay", trace, "--platform", "vtd", "--strategy", "batched", "--grid", "batchSize=1,16"]);
    // a key given twice would override itself in every run: two identical rows under one label
    refused(["replay", trace, "--grid", "platform=vtd", "--grid", "platform=amd-vi"], /--grid: "platform" is not allowed; expected each key once: give all its values in one --grid KEY=V1,V2,…/);
    refused(["sweep", "--grid", "strategy=straightforward", "--grid", "strategy=batched"], /--grid: "strategy" is not allowed; expected each key once/);
    // the same name, other bytes: another grid
    writeFileSync(join(d, "t.trace"), readFileSync(trace));
    ok(["replay", "t.trace", "--grid", "platform=dart-u4,calgary-pcix", "--shard", "0/2", "--out", "p0.json"], {}, d);
    writeFileSync(join(d, "t.trace"), readFileSync(trace, "utf8").replace(/\n[^\n]*\n?$/, "\n"));
    ok(["replay", "t.trace", "--grid", "platform=dart-u4,calgary-pcix", "--shard", "1/2", "--out", "p1.json"], {}, d);
    refused(["merge", join(d, "p0.json"), join(d, "p1.json")], /p1\.json" is not allowed; expected a part of the same grid as .*p0\.json; its inputs differ \(trace t\.trace\)/);
  });
});

describe("part files", () => {
  const study: Study = { command: "sweep", spec: { base: {}, grid: [] }, inputs: {}, configurations: 5 };

  it("carry NaN, ±Infinity, −0 and nested rows through unchanged, for any split", () => {
    const special = [NaN, Infinity, -Infinity, -0, 0, 1e-300, 2 ** 53 + 2, 0.1 + 0.2];
    fc.assert(fc.property(
      fc.array(fc.record({ a: fc.oneof(fc.double(), fc.constantFrom(...special)), b: fc.string(), c: fc.array(fc.constantFrom(...special), { maxLength: 3 }) }), { minLength: 0, maxLength: 12 }),
      fc.integer({ min: 1, max: 15 }),
      fc.integer(),
      (rows, count, seed) => {
        const s: Study = { ...study, configurations: rows.length };
        const files = Array.from({ length: count }, (_, index) => {
          const file = join(dir, `prop-${index}.json`);
          writePart(file, s, { index, count }, shardIndices({ index, count }, rows.length).map((i) => ({ index: i, row: rows[i] })));
          return file;
        });
        // any order of the parts
        const order = files.map((f, k) => [((seed ^ (k * 2654435761)) >>> 0) % 1000, f] as const).sort((x, y) => x[0] - y[0]).map(([, f]) => f);
        const merged = mergeParts(order.map(readPart), PACKAGE.version);
        expect(merged.rows.length).toBe(rows.length);
        merged.rows.forEach((r, i) => {
          const want = rows[i];
          const got = r as typeof want;
          expect(Object.is(got.a, want.a)).toBe(true);
          expect(got.b).toBe(want.b);
          got.c.forEach((x, k) => expect(Object.is(x, want.c[k])).toBe(true));
        });
      },
    ), { numRuns: 60 });
  });

  it("a part cut short anywhere is refused as truncated or corrupt", () => {
    const file = join(dir, "whole.json");
    writePart(file, study, { index: 1, count: 2 }, [{ index: 1, row: { x: 1.5 } }, { index: 3, row: { x: 2 } }]);
    const text = readFileSync(file, "utf8");
    expect(readPart(file).rows).toHaveLength(2);
    for (let cut = 0; cut < text.trimEnd().length; cut++) {
      writeFileSync(join(dir, "cut.json"), text.slice(0, cut));
      expect(() => readPart(join(dir, "cut.json")), `cut at ${cut}`).toThrow(/truncated|corrupt/);
    }
  });

  it("an edited row, grid or shard is refused, naming what does not hold", () => {
    const file = join(dir, "edit.json");
    writePart(file, study, { index: 1, count: 2 }, [{ index: 1, row: { x: 1.5 } }, { index: 3, row: { x: 2 } }]);
    const text = readFileSync(file, "utf8");
    const edited = (from: string | RegExp, to: string) => {
      const f = join(dir, "edited.json");
      writeFileSync(f, text.replace(from, to));
      return () => readPart(f);
    };
    expect(edited('"x":1.5', '"x":1.6')).toThrow(/SHA-256: corrupt or edited/);
    expect(edited('"configurations":5', '"configurations":6')).toThrow(/does not match its fingerprint/);
    expect(edited('"shard":{"index":1,"count":2}', '"shard":{"index":0,"count":2}')).toThrow(/not shard 0\/2's configurations/);
    expect(edited('"shard":{"index":1,"count":2}', '"shard":{"index":2,"count":2}')).toThrow(/not I\/N with 0 ≤ I < N/);
    expect(edited(/"trailer":\{[^}]*\}/, '"trailer":{"rows":3,"sha256":"0"}')).toThrow(/trailer counts 3 rows, it holds 2/);
    expect(edited(/,"trailer":\{[^}]*\}/, "")).toThrow(/no trailer: it is truncated/);
    expect(edited('"name":"part"', '"name":"sweep"')).toThrow(/not a part file/);
  });
});

describe("refusals, each naming its problem (exit 1)", () => {
  const d = subdir();
  const gridA = ["sweep", "--grid", "messageBytes=64,1k", "--quiet"];
  const gridB = ["sweep", "--grid", "messageBytes=64,2k", "--quiet"];
  const A = (k: number, n = 2) => join(d, `A${k}of${n}.json`);
  beforeAll(() => {
    ok([...gridA, "--shard", "0/2", "--out", A(0)]);
    ok([...gridA, "--shard", "1/2", "--out", A(1)]);
    ok([...gridA, "--shard", "1/3", "--out", A(1, 3)]);
    ok([...gridB, "--shard", "1/2", "--out", join(d, "B1.json")]);
    ok([...gridA, "--environment", "xen-dom0", "--shard", "1/2", "--out", join(d, "C1.json")]);
  });

  it("parts of different grids", () => {
    refused(["merge", A(0), join(d, "B1.json")], /B1\.json" is not allowed; expected a part of the same grid as .*A0of2\.json; its settings or grid axes differ/);
    refused(["merge", A(0), join(d, "C1.json")], /C1\.json" is not allowed; expected a part of the same grid/);
  });

  it("parts of another tool version, or of another command", () => {
    const old = join(d, "old.json");
    const part = JSON.parse(readFileSync(A(1), "utf8"));
    part.tool.version = "0.0.9";
    part.fingerprint = fingerprintOf(part.study, "0.0.9");
    writeFileSync(old, JSON.stringify(part));
    expect(readPart(old).version).toBe("0.0.9"); // whole and consistent: refused by merge, not as corrupt
    refused(["merge", A(0), old], new RegExp(`old\\.json" is not allowed; expected a part written by this iommu-sim \\(${PACKAGE.version.replace(/\./g, "\\.")}\\); it was written by 0\\.0\\.9`));
    const alloc = join(d, "alloc.json");
    ok(["allocators", "--workload", "ring:4", "--steps", "10", "--allocators", "calgary", "--quiet", "--shard", "1/2", "--out", alloc]);
    refused(["merge", A(0), alloc], /alloc\.json" is not allowed; expected a part of the same command as .*A0of2\.json \(sweep\); it is a part of allocators/);
  });

  it("a missing shard, a duplicated shard, parts of different splits", () => {
    refused(["merge", A(1)], /merge: .* is not allowed; expected all 2 shards of the grid; missing 0\/2/);
    refused(["merge", A(0), A(1), A(1)], /A1of2\.json" is not allowed; expected each shard once; shard 1\/2 is also .*A1of2\.json/);
    copyFileSync(A(0), join(d, "copy.json"));
    refused(["merge", A(0), A(1), join(d, "copy.json")], /copy\.json" is not allowed; expected each shard once; shard 0\/2 is also .*A0of2\.json/);
    refused(["merge", A(0), A(1, 3)], /A1of3\.json" is not allowed; expected a part of the same 2-shard split as .*; it is shard 1\/3/);
  });

  it("a truncated part, a missing file, a file that is not a part", () => {
    const text = readFileSync(A(1), "utf8");
    writeFileSync(join(d, "short.json"), text.slice(0, Math.floor(text.length / 2)));
    refused(["merge", A(0), join(d, "short.json")], /part file: ".*short\.json" is not allowed; expected a complete part file .*truncated or corrupt/);
    refused(["merge", A(0), join(d, "nope.json")], /nope\.json" is not allowed; expected a complete part file .*cannot be read/);
    writeFileSync(join(d, "out.json"), ok(["sweep", "--grid", "messageBytes=64", "--serial", "--json"]));
    refused(["merge", join(d, "out.json")], /not a part file/);
  });

  it("bad --shard values", () => {
    for (const v of ["2/2", "3/2", "0/0", "x", "1", "1/2/3", "-1/2", "1/-2", "a/b", "", "1.5/3"]) {
      expect(() => parseShard(v, {}), v).toThrow(ConfigError);
      expect(() => parseShard(v, {}), v).toThrow(/--shard: .* expected I\/N with whole numbers 0 ≤ I < N/);
    }
    expect(parseShard("0/1", {})).toEqual({ index: 0, count: 1 });
    expect(parseShard("6/7", {})).toEqual({ index: 6, count: 7 });
    refused([...gridA, "--shard", "2/2"], /--shard: "2\/2" is not allowed; expected I\/N/);
  });

  it("--shard auto without, or with unusable, SLURM_ARRAY_* variables", () => {
    expect(() => parseShard("auto", {})).toThrow(/SLURM_ARRAY_TASK_ID: undefined is not allowed; expected a whole number, set by Slurm in each task of a job array .* outside a job array give --shard I\/N/);
    expect(() => parseShard("auto", { SLURM_ARRAY_TASK_ID: "1" })).toThrow(/SLURM_ARRAY_TASK_COUNT: undefined is not allowed/);
    expect(() => parseShard("auto", { SLURM_ARRAY_TASK_ID: "x", SLURM_ARRAY_TASK_COUNT: "2" })).toThrow(/SLURM_ARRAY_TASK_ID: "x" is not allowed; expected a whole number/);
    expect(() => parseShard("auto", { SLURM_ARRAY_TASK_ID: "1", SLURM_ARRAY_TASK_COUNT: "0" })).toThrow(/SLURM_ARRAY_TASK_COUNT: "0" is not allowed; expected at least 1/);
    expect(() => parseShard("auto", { SLURM_ARRAY_TASK_ID: "1", SLURM_ARRAY_TASK_COUNT: "2", SLURM_ARRAY_TASK_MIN: "-1" })).toThrow(/SLURM_ARRAY_TASK_MIN: "-1"/);
    // --array=0-10:2: six tasks, ids 0, 2, … 10: not a contiguous 0 … 5
    expect(() => parseShard("auto", { SLURM_ARRAY_TASK_ID: "8", SLURM_ARRAY_TASK_COUNT: "6", SLURM_ARRAY_TASK_MIN: "0" })).toThrow(/SLURM_ARRAY_TASK_ID: "8" is not allowed; expected an id from SLURM_ARRAY_TASK_MIN \(0\) to 5: --shard auto needs a contiguous array/);
    expect(parseShard("auto", { SLURM_ARRAY_TASK_ID: "3", SLURM_ARRAY_TASK_COUNT: "4" })).toEqual({ index: 3, count: 4 });
    expect(parseShard("auto", { SLURM_ARRAY_TASK_ID: "7", SLURM_ARRAY_TASK_COUNT: "4", SLURM_ARRAY_TASK_MIN: "5" })).toEqual({ index: 2, count: 4 });
    refused([...gridA, "--shard", "auto"], /SLURM_ARRAY_TASK_ID: undefined is not allowed/);
  });

  it("a plot file named other than FILE.svg or FILE.html (it would have been filled with HTML)", () => {
    refused(["merge", A(0), A(1), "--plot", join(d, "plot.png")], /--plot: ".*plot\.png" is not allowed; expected a file named FILE\.svg .* or FILE\.html/);
    refused(["slurm", "sweep", "--grid", "messageBytes=64,1k", "--shards", "2", "--plot", "plot.pdf", "--dry-run"], /--plot: "plot\.pdf" is not allowed/);
    refused([...gridA, "--plot", join(d, "plot.png")], /--plot: ".*plot\.png" is not allowed/);
    expect(existsSync(join(d, "plot.png"))).toBe(false);
  });

  it("outputs that belong to the merge, given to a shard; --out without --shard", () => {
    refused([...gridA, "--shard", "0/2", "--json"], /--json: true is not allowed; expected to be left out with --shard: a shard writes a part file; give --json to `iommu-sim merge`/);
    refused([...gridA, "--shard", "0/2", "--csv", "x.csv"], /--csv: "x\.csv" is not allowed; expected to be left out with --shard/);
    refused([...gridA, "--out", "x.json"], /--out: "x\.json" is not allowed; expected to be given with --shard/);
    refused(["allocators", "--workload", "ring:4", "--steps", "10", "--shard", "0/2", "--trace", "-"], /--trace: "-" is not allowed; expected a file with --shard/);
    // the rIOMMU has no allocator to choose: refused as a platform, before any shard or queueing, not as an allocator the user never named
    refused(["allocators", "--platform", "riommu", "--workload", "ring:4", "--steps", "10"], /--platform: "riommu" is not allowed; expected a platform whose IO-space allocator can be chosen/);
    refused(["slurm", "allocators", "--platform", "riommu", "--workload", "ring:4", "--steps", "10", "--shards", "2", "--dry-run"], /--platform: "riommu" is not allowed/);
    // nor can the array's tasks, on other nodes, read the stdin of the command that wrote them
    refused(["slurm", "allocators", "--workload", "ring:4", "--steps", "10", "--trace", "-", "--shards", "2", "--dry-run"], /--trace: "-" is not allowed; expected a file with --shard or slurm/);
  });
});

describe("slurm sweep|allocators", () => {
  const words = ["--environment", "xen-dom0", "--grid", "strategy=straightforward,batched", "--grid", "messageBytes=64,1k,64K"];

  it("--dry-run prints the job array, the merge and the afterok dependency, with absolute paths, writing nothing", () => {
    const d = subdir();
    writeFileSync(join(d, "base.json"), JSON.stringify({ platform: "calgary-pcix" }));
    const out = ok(["slurm", "sweep", "--config", "base.json", ...words, "--csv", "out.csv", "--shards", "4", "--partition", "debug", "--time", "0:30:00", "--cpus-per-task", "2", "--account", "lab", "--dry-run"], {}, d);
    const jobDir = join(d, "slurm-sweep");
    const tool = `exec ${process.execPath} ${CLI} `;
    expect(out).toContain(`# ${jobDir}/shards.sh\n#!/bin/sh\n`);
    for (const line of ["#SBATCH --array=0-3", `#SBATCH --output=${jobDir}/logs/shard-%a.out`, `#SBATCH --chdir=${d}`, "#SBATCH --partition=debug", "#SBATCH --time=0:30:00", "#SBATCH --cpus-per-task=2", "#SBATCH --account=lab"]) {
      expect(out).toContain(`\n${line}\n`);
    }
    // every shard, in this directory: the settings as given, the CPUs it is given, its slice and part file
    expect(out).toContain(`${tool}sweep --config base.json --environment xen-dom0 --grid strategy=straightforward,batched --grid messageBytes=64,1k,64K --threads 2 --shard "$SLURM_ARRAY_TASK_ID/4" --out ${jobDir}/parts/part-"$SLURM_ARRAY_TASK_ID".json\n`);
    expect(out).toContain(`${tool}merge ${[0, 1, 2, 3].map((k) => `${jobDir}/parts/part-${k}.json`).join(" ")} --csv out.csv --out ${jobDir}/result.txt\n`);
    expect(out).toContain(`array=$(sbatch --parsable ${jobDir}/shards.sh)\nsbatch --parsable --dependency=afterok:\${array%%;*} ${jobDir}/merge.sh\n`);
    expect(out).toContain(`A failed shard K alone: sbatch --array=K ${jobDir}/shards.sh`);
    expect(spawnSync("ls", [jobDir]).status).not.toBe(0);
  });

  it("the written scripts, run task by task as Slurm would, give the serial sweep; a task's --shard is K/N even when resubmitted alone", () => {
    const d = subdir();
    ok(["slurm", "sweep", ...words, "--json", "--shards", "3", "--dir", "job"], {}, d);
    const job = join(d, "job");
    // Slurm runs the array's tasks with SLURM_ARRAY_TASK_ID set; a resubmitted one (--array=2) sees a one-task array
    for (const k of [0, 1]) expect(spawnSync("sh", [join(job, "shards.sh")], { cwd: d, env: { ...cleanEnv, SLURM_ARRAY_TASK_ID: String(k), SLURM_ARRAY_TASK_COUNT: "3", SLURM_ARRAY_TASK_MIN: "0" } }).status).toBe(0);
    expect(spawnSync("sh", [join(job, "shards.sh")], { cwd: d, env: { ...cleanEnv, SLURM_ARRAY_TASK_ID: "2", SLURM_ARRAY_TASK_COUNT: "1", SLURM_ARRAY_TASK_MIN: "2" } }).status).toBe(0);
    const merged = spawnSync("sh", [join(job, "merge.sh")], { cwd: d, env: cleanEnv, encoding: "utf8" });
    expect(merged.status, merged.stderr).toBe(0);
    expect(readFileSync(join(job, "result.json"), "utf8")).toBe(ok(["sweep", ...words, "--serial", "--json"]));
  });

  it("--submit runs sbatch --parsable for the array, then the merge with --dependency=afterok:<array id>, and prints both ids", () => {
    const d = subdir();
    const bin = join(d, "bin");
    mkdirSync(bin);
    // a stand-in sbatch: records its arguments, answers with a job id as --parsable does ("id;cluster")
    writeFileSync(join(bin, "sbatch"), `#!/bin/sh\necho "$@" >> ${join(d, "sbatch.log")}\nn=$(wc -l < ${join(d, "sbatch.log")})\necho "$((41 + n));cluster"\n`);
    chmodSync(join(bin, "sbatch"), 0o755);
    const out = ok(["slurm", "allocators", "--workload", "ring:4", "--steps", "10", "--shards", "2", "--dir", "job", "--submit"], { PATH: `${bin}:/usr/bin:/bin` }, d);
    const job = join(d, "job");
    expect(readFileSync(join(d, "sbatch.log"), "utf8")).toBe(`--parsable ${job}/shards.sh\n--parsable --dependency=afterok:42 ${job}/merge.sh\n`);
    expect(out).toMatch(/^shards: job 42 \(array 0-1, 7 configurations\)/m);
    expect(out).toMatch(/^merge: job 43 after all shards succeed, writes .*job\/result\.txt/m);
    expect(out).toContain(`a failed shard K alone: sbatch --array=K ${job}/shards.sh, then: scancel 43; sbatch ${job}/merge.sh`);
  });

  it("--submit without sbatch on PATH, or refused by Slurm, says so (exit 1)", () => {
    const d = subdir();
    refused(["slurm", "sweep", ...words, "--shards", "2", "--dir", join(d, "job"), "--submit"], /--submit: "sbatch" is not allowed; expected Slurm's sbatch on PATH: it is not here .*--dry-run to print them/, { PATH: "/nonexistent" });
    writeFileSync(join(d, "sbatch"), "#!/bin/sh\necho 'sbatch: error: invalid partition specified: nope' >&2\nexit 1\n");
    chmodSync(join(d, "sbatch"), 0o755);
    refused(["slurm", "sweep", ...words, "--shards", "2", "--dir", join(d, "job"), "--partition", "nope", "--submit"], /sbatch: .* expected to be accepted by Slurm; sbatch said: sbatch: error: invalid partition specified: nope/, { PATH: `${d}:/usr/bin:/bin` });
  });

  it("refuses a bad grid, a bad --shards, and values an #SBATCH line cannot carry, before writing anything", () => {
    const d = subdir();
    refused(["slurm", "sweep", "--grid", "strategy=nope", "--shards", "2", "--dir", join(d, "job")], /strategy/);
    refused(["slurm", "sweep", ...words, "--shards", "0", "--dir", join(d, "job")], /--shards/);
    refused(["slurm", "sweep", ...words, "--shards", "2", "--dir", join(d, "my job")], /--dir: ".*my job" is not allowed; expected a value without blanks or %/);
    refused(["slurm", "sweep", ...words, "--shards", "2", "--dir", join(d, "job"), "--time", "1 day"], /--time: "1 day" is not allowed/);
    refused(["slurm", "sweep", ...words, "--shards", "2", "--submit", "--dry-run"], /--dry-run: true is not allowed; expected to be left out with --submit/);
    expect(spawnSync("ls", [join(d, "job")]).status).not.toBe(0);
    rmSync(d, { recursive: true });
  });
});
