// netperf model, calibration and the reproduction.
import { readFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createIommu } from "../bindings/node.js";
import { FRAME_OVERHEAD, MSS, netperfPoint, PARAM_BOUNDS, type NetperfParams } from "../bindings/workloads/netperf.js";
import { calibrate, parseMeasured, type Calibration } from "../bindings/workloads/reproduction.js";
import { fidelity, reproduceRows } from "../bindings/workloads/report.js";

const root = join(__dirname, "..");
const measured = parseMeasured(readFileSync(join(root, "data", "seed-netperf.csv"), "utf8"));
// the file as `iommu-sim calibrate` writes it: the fit, after the stamp naming the tool and the schema
const { tool: _tool, schema: _schema, ...shipped } = JSON.parse(readFileSync(join(root, "profiles", "netperf-calibrated.json"), "utf8")) as Calibration & { tool: unknown; schema: unknown };

describe("framing", () => {
  it("derives MSS 1448 and the ~941 Mbit/s goodput ceiling from the headers, not a constant", () => {
    expect(MSS).toBe(1448); // 1500 − 20 IP − 20 TCP − 12 timestamps
    expect(FRAME_OVERHEAD).toBe(90); // + 14 Ethernet + 4 FCS + 8 preamble + 12 gap
    const cheap: NetperfParams = { syscallCycles: 300, copyCyclesPerByte: 0.05, segmentCycles: 500, frameCycles: 300, nagleWindowUs: 300, pipelineUs: 0.05, iommuScale: 1, pipelineNsPerByte: 0.01 };
    const p = netperfPoint("baremetal", 65536, cheap, {}, { cores: 8, clockHz: 3e9 });
    expect(p.bottleneck).toBe("link");
    expect(p.mbps).toBeCloseTo((1000 * 1448) / 1538, 6);
  });

  it("a saturated CPU bounds small messages; utilisation is one CPU of eight on bare metal", () => {
    const p = netperfPoint("baremetal", 64, { ...shipped.environments.baremetal.params }, { kernel: 0 }, { cores: 8, clockHz: 3e9 });
    expect(p.bottleneck).toBe("cpu");
    expect(p.cpu).toBeCloseTo(12.5, 6);
  });

  it("Nagle coalesces small writes into larger segments as the window grows", () => {
    const base = shipped.environments["xen-dom0"].params;
    const a = netperfPoint("xen-dom0", 64, { ...base, nagleWindowUs: 1 }, {}, { cores: 8, clockHz: 3e9 });
    const b = netperfPoint("xen-dom0", 64, { ...base, nagleWindowUs: 200 }, {}, { cores: 8, clockHz: 3e9 });
    expect(b.segmentBytes).toBeGreaterThan(a.segmentBytes);
    expect(b.mbps).toBeGreaterThan(a.mbps);
  });
});

describe("calibration", () => {
  it("is deterministic and the shipped calibration is exactly what it produces", () => {
    const fresh = calibrate(measured, createIommu);
    expect(JSON.parse(JSON.stringify(fresh))).toEqual(shipped);
  });

  it("keeps every parameter inside its physical bounds, at most 8 per environment", () => {
    for (const env of Object.values(shipped.environments)) {
      const keys = Object.keys(env.params);
      expect(keys.length).toBeLessThanOrEqual(8);
      for (const k of keys as Array<keyof NetperfParams>) {
        expect(env.params[k]).toBeGreaterThanOrEqual(PARAM_BOUNDS[k][0]);
        expect(env.params[k]).toBeLessThanOrEqual(PARAM_BOUNDS[k][1]);
      }
    }
  });
});

describe("reproduction", () => {
  it("simulates all 78 rows from the model (no row equals its measured figure by construction)", () => {
    const rows = reproduceRows(measured, shipped, createIommu);
    expect(rows).toHaveLength(39);
    const f = fidelity(rows);
    expect(f.rows).toBe(78);
    // bare metal is the best-fitting table: its throughput rows land within ±3 % except the two CPU-bound small ones at most
    const bm = fidelity(rows.filter((r) => r.environment === "baremetal"));
    expect(bm.tputWithin3Pct).toBeGreaterThanOrEqual(22);
  });

  it("--json writes one row per environment and message size in the documented shape", () => {
    const out = join(root, "node_modules", ".cache-repro.json");
    const r = spawnSync("node", [join(root, "lib", "cli.js"), "reproduce", "--json", out, "--no-what-if"], { encoding: "utf8" });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/Bare metal \(CPU out of 100/);
    const j = JSON.parse(readFileSync(out, "utf8"));
    expect(j.rows).toHaveLength(39);
    const row = j.rows.find((x: { environment: string; messageBytes: number }) => x.environment === "xen-dom0" && x.messageBytes === 512);
    expect(Object.keys(row.simulated).sort()).toEqual(["offCpu", "offMbps", "onCpu", "onMbps"]);
    expect(row.measured).toEqual({ offMbps: 899.39, offCpu: 96.58, onMbps: 506.72, onCpu: 104.15 });
  });
});
