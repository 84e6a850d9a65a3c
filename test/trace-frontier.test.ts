// A trace's price of safety (what the demo page shows for a dropped trace): every strategy ×
// environment, each the same figures `iommu-sim replay --strategy S --environment E` prints, its
// cost counted against the same environment with no IOMMU; a configuration that cannot run the
// trace is a refusal row, a trace that no configuration can run is refused whole.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createIommu, ENVIRONMENTS, parseTrace, traceFrontier, traceFrontierConfigurations, traceFrontierPoints, whatIfStrategies } from "../bindings/node.js";
import { TraceError } from "../bindings/trace/parse.js";

const root = join(__dirname, "..");
const example = join(root, "examples", "nic-ring.trace");
const trace = parseTrace(readFileSync(example, "utf8"));

describe("traceFrontier", () => {
  const rows = traceFrontier(trace, "calgary-pcix", createIommu);

  it("covers every strategy the what-if compares, in every environment, in a fixed order", () => {
    expect(rows.map((r) => `${r.environment}/${r.strategy}`)).toEqual(ENVIRONMENTS.flatMap((e) => whatIfStrategies(e).map((s) => `${e}/${s}`)));
    expect(traceFrontierConfigurations()).toHaveLength(rows.length);
    expect(rows.every((r) => r.refused === undefined)).toBe(true);
  });

  it.each([["batched", "xen-dom0"], ["straightforward+strict-flush", "baremetal"]])("%s in %s: the figures replay prints", (strategy, environment) => {
    const row = rows.find((r) => r.strategy === strategy && r.environment === environment)!;
    const cli = (platform: string, s: string) => {
      const r = spawnSync("node", [join(root, "lib", "cli.js"), "replay", example, "--platform", platform, "--strategy", s, "--environment", environment, "--json"], { encoding: "utf8" });
      expect(r.status).toBe(0);
      return JSON.parse(r.stdout);
    };
    const on = cli("calgary-pcix", strategy);
    const off = cli("none", "straightforward");
    if (row.refused !== undefined) throw new Error(row.refused);
    expect(row.cycles).toBe(on.cycles.total);
    expect(row.cyclesNoIommu).toBe(off.cycles.total);
    expect(row.operations).toBe(on.operations);
    expect(row.addedCyclesPerOp).toBeCloseTo((on.cycles.total - off.cycles.total) / on.operations, 9);
    expect(row.exposure).toEqual(on.exposure);
  });

  it("strict flushing leaves nothing live and costs more than deferred flushing in every environment", () => {
    for (const environment of ENVIRONMENTS) {
      const get = (s: string) => rows.find((r) => r.environment === environment && r.strategy === s)!;
      const strict = get("straightforward+strict-flush");
      const deferred = get("straightforward");
      if (strict.refused !== undefined || deferred.refused !== undefined) throw new Error("refused");
      expect(strict.exposure.releasedButLivePeak).toBe(0);
      expect(deferred.exposure.releasedButLivePeak).toBeGreaterThan(0);
      expect(strict.addedCyclesPerOp).toBeGreaterThan(deferred.addedCyclesPerOp);
    }
    expect(traceFrontierPoints(rows).filter((p) => p.strategy === "straightforward+strict-flush").every((p) => !p.exposed)).toBe(true);
  });

  it("gives a refusal row where a configuration cannot run the trace, and refuses a bad trace whole", () => {
    // a buffer at 6 GiB: outside the 2 GiB guest preallocated maps, fine for every other strategy
    const high = parseTrace("map a 180000000 4096 to-device\nunmap a\n");
    const r = traceFrontier(high, "calgary-pcix", createIommu);
    expect(r.filter((x) => x.refused !== undefined).map((x) => `${x.environment}/${x.strategy}`)).toEqual(["baremetal/preallocated", "xen-dom0/preallocated", "xen-domU/preallocated"]);
    expect(traceFrontierPoints(r)).toHaveLength(r.length - 3);
    expect(() => traceFrontier(parseTrace("map a 40000000 4096 to-device\nunmap b\n"), "dart-u4", createIommu)).toThrow(TraceError);
  });
});
