// Every JSON output names the tool version and its schema, and validates against the JSON Schema
// published in the package (schema/*.json), checked here on real outputs of every command.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Ajv from "ajv";
import { describe, expect, it } from "vitest";
import { COUNTER_NAMES } from "../bindings/abi.js";
import { OUTPUT_SCHEMAS } from "../bindings/cli/json.js";
import { DEFAULT_PROFILE } from "../bindings/sim/cost-profile.js";
import { FITTED } from "../bindings/workloads/netperf.js";

const root = join(__dirname, "..");
const CLI = join(root, "lib", "cli.js");
const dir = mkdtempSync(join(tmpdir(), "iommu-sim-schema-"));
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
const schemaFiles = readdirSync(join(root, "schema")).filter((f) => f.endsWith(".json"));
const schemas = Object.fromEntries(schemaFiles.map((f) => [f, JSON.parse(readFileSync(join(root, "schema", f), "utf8"))]));
const ajv = new Ajv({ allErrors: true, strict: true });
for (const s of Object.values(schemas)) ajv.addSchema(s);

const cli = (...args: string[]) => {
  const r = spawnSync("node", [CLI, ...args], { encoding: "utf8", cwd: dir });
  expect(r.status, r.stderr).toBe(0);
  return r.stdout;
};
const trace = join(root, "examples", "nic-ring.trace");

function outputs(): Array<[string, unknown]> {
  const read = (f: string) => JSON.parse(readFileSync(join(dir, f), "utf8"));
  cli("reproduce", "--quiet", "--json", "repro.json");
  cli("reproduce", "--study", "viommu-2011", "--json", "study.json");
  cli("reproduce", "--study", "riommu-2015", "--json", "study-ranges.json");
  cli("calibrate", "--quiet", "--holdout", "--data", join(root, "data", "seed-netperf.csv"), "--out", "cal.json");
  cli("sweep", "--grid", "strategy=batched,preallocated", "--serial", "--shard", "1/2", "--out", "sweep.part.json");
  cli("allocators", "--workload", "ring:8", "--steps", "50", "--trace", trace, "--shard", "0/3", "--out", "allocators.part.json");
  cli("replay", trace, "--grid", "strategy=batched,cached", "--environment", "xen-dom0", "--platform", "calgary-pcix", "--shard", "1/2", "--out", "replay.part.json");
  return [
    ["replay", JSON.parse(cli("replay", trace, "--platform", "dart-u4", "--json", "--emit", "addresses"))],
    ["replay-priced", JSON.parse(cli("replay", trace, "--platform", "calgary-pcix", "--strategy", "cached+deferred-flush", "--environment", "xen-dom0", "--json"))],
    ["replay-priced", JSON.parse(cli("replay", trace, "--platform", "none", "--json"))],
    ["run", JSON.parse(cli("run", "--json"))],
    ["run", JSON.parse(cli("run", "--workload", "ffsb", "--json"))],
    ["run", JSON.parse(cli("run", "--workload", "nic", "--link", "25", "--invalidation", "strict", "--json"))],
    ["sweep", JSON.parse(cli("sweep", "--workload", "nic", "--grid", "invalidation=strict,lazy", "--grid", "test=stream,rr", "--serial", "--json"))],
    ["sweep", JSON.parse(cli("sweep", "--grid", "strategy=batched,preallocated", "--grid", "messageBytes=64,64K", "--serial", "--json"))],
    ["allocators", JSON.parse(cli("allocators", "--workload", "ring:8", "--steps", "50", "--trace", trace, "--json"))],
    ["reproduce", read("repro.json")],
    ["study", read("study.json")],
    ["study", read("study-ranges.json")],
    ["calibration", read("cal.json")],
    ["part", read("sweep.part.json")],
    ["part", read("replay.part.json")],
    ["replay-grid", JSON.parse(cli("replay", trace, trace, "--grid", "platform=dart-u4,none", "--grid", "cache=0,64x4", "--quiet", "--json"))],
    ["part", read("allocators.part.json")],
    ["calibration", JSON.parse(readFileSync(join(root, "profiles", "netperf-calibrated.json"), "utf8"))],
  ];
}

describe("JSON outputs", () => {
  const all = outputs();

  it("each validates against its published schema and names the tool version and the schema", () => {
    for (const [name, out] of all) {
      const ok = ajv.validate(`${name}.json`, out);
      expect(ok, `${name}: ${ajv.errorsText(ajv.errors)}`).toBe(true);
      expect(out).toMatchObject({ tool: { name: "iommu-sim", version: pkg.version }, schema: { name, version: OUTPUT_SCHEMAS[name as keyof typeof OUTPUT_SCHEMAS], file: `schema/${name}.json` } });
    }
    expect(new Set(all.map(([name]) => name))).toEqual(new Set(Object.keys(OUTPUT_SCHEMAS)));
  });

  it("the schemas are not vacuous: a missing stamp, an unknown field or a wrong type is refused", () => {
    const [, run] = all.find(([n]) => n === "run")! as [string, Record<string, Record<string, unknown>>];
    const { tool: _tool, ...unstamped } = run;
    expect(ajv.validate("run.json", unstamped)).toBe(false);
    expect(ajv.validate("run.json", { ...run, extra: 1 })).toBe(false);
    expect(ajv.validate("run.json", { ...run, result: { ...run.result, onCpu: "12" } })).toBe(false);
    expect(ajv.validate("run.json", { ...run, schema: { ...run.schema, name: "sweep" } })).toBe(false);
  });
});

describe("the published schemas", () => {
  it("one per output, each shipped in the package", () => {
    expect(schemaFiles.sort()).toEqual(["common.json", ...Object.keys(OUTPUT_SCHEMAS).map((n) => `${n}.json`)].sort());
    expect(pkg.files).toContain("schema");
  });

  it("follow the code: counters, cost-profile primitives and model parameters", () => {
    const defs = schemas["common.json"].definitions;
    expect(defs.counters.required).toEqual([...COUNTER_NAMES]);
    const cal = schemas["calibration.json"].properties;
    expect(cal.costProfile.properties.cycles.required).toEqual(Object.keys(DEFAULT_PROFILE.cycles));
    for (const env of ["baremetal", "xen-dom0", "xen-domU"] as const) expect(cal.environments.properties[env].properties.params.required).toEqual(FITTED[env]);
  });

  it("--version is package.json's", () => {
    expect(cli("--version").trim()).toBe(pkg.version);
  });
});
