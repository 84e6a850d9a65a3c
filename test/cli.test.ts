// The command line: help everywhere, meaningful exit codes, config files with flag overrides,
// CSV / JSON / plot outputs, and sweeps that give the same results serial and parallel.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const CLI = join(__dirname, "..", "lib", "cli.js");
const dir = mkdtempSync(join(tmpdir(), "iommu-sim-cli-"));
const cli = (...args: string[]) => spawnSync("node", [CLI, ...args], { encoding: "utf8" });
/** The CLI on an install without the packages `hidden` (see test/helpers/hide-modules.mjs). */
const cliWithout = (hidden: string[], ...args: string[]) =>
  spawnSync("node", ["--import", join(__dirname, "helpers", "hide-modules.mjs"), CLI, ...args], {
    encoding: "utf8", env: { ...process.env, HIDE_MODULES: hidden.join(",") },
  });

describe("iommu-sim", () => {
  it.each(["replay", "reproduce", "run", "sweep", "calibrate"])("%s --help exits 0 and describes its options", (cmd) => {
    const r = cli(cmd, "--help");
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/Usage: iommu-sim/);
    expect(r.stdout).toMatch(/Options:/);
  });

  it("an unknown command or a bad choice exits 1", () => {
    expect(cli("frobnicate").status).toBe(1);
    expect(cli("run", "--environment", "xen-domX").status).toBe(1);
  });

  it("run reads a JSON config and lets flags override it", () => {
    const cfg = join(dir, "run.json");
    writeFileSync(cfg, JSON.stringify({ workload: "ffsb", queueDepth: 16, environment: "xen-dom0" }));
    const r = cli("run", "--config", cfg, "--queue-depth", "4", "--json");
    expect(r.status).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.config).toMatchObject({ workload: "ffsb", queueDepth: 4, environment: "xen-dom0" });
    expect(j.result.onCpu).toBeGreaterThan(j.result.offCpu);
  });

  it("run refuses a setting that does not exist, naming it", () => {
    const cfg = join(dir, "bad.json");
    writeFileSync(cfg, JSON.stringify({ queueDepht: 4 }));
    const r = cli("run", "--config", cfg);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/queueDepht: 4 is not allowed; expected no such setting/);
  });

  it("a sweep of 100 configurations gives the same results serial and parallel, order included", () => {
    const grid = ["--grid", "environment=baremetal,xen-dom0", "--grid", "strategy=straightforward,batched,cached,never-free,persistent", "--grid", "messageBytes=64,128,256,512,1024,1460,2048,4096,16384,65536", "--json"];
    const serial = cli("sweep", ...grid, "--serial");
    const parallel = cli("sweep", ...grid, "--threads", "2");
    expect(serial.status).toBe(0);
    expect(parallel.status).toBe(0);
    expect(JSON.parse(serial.stdout)).toHaveLength(100);
    expect(parallel.stdout).toBe(serial.stdout);
    expect(parallel.stderr).toBe(""); // piped: no progress bar
  });

  it("reproduce writes CSV, JSON and SVG plots whole", () => {
    const csv = join(dir, "r.csv");
    const svg = join(dir, "r.svg");
    const r = cli("reproduce", "--csv", csv, "--plot", svg, "--quiet");
    expect(r.status).toBe(0);
    const lines = readFileSync(csv, "utf8").trim().split("\n");
    expect(lines).toHaveLength(40);
    expect(lines[0]).toMatch(/^environment,message_bytes,in_sample,sim_off_mbps/);
    for (const f of [svg, join(dir, "r-2.svg")]) {
      const text = readFileSync(f, "utf8");
      expect(text.startsWith("<svg")).toBe(true);
      expect(text).toMatch(/<\/svg>\s*$/);
    }
    expect(readFileSync(svg, "utf8")).toMatch(/xen-domU/);
    expect(readFileSync(join(dir, "r-2.svg"), "utf8")).toMatch(/price of safety/);
    expect(existsSync(`${svg}.partial-${process.pid}`)).toBe(false);
  });

  it("sweep --plot writes an HTML page with the SVG and its specification", () => {
    const html = join(dir, "s.html");
    const r = cli("sweep", "--grid", "messageBytes=64,1024,65536", "--grid", "strategy=straightforward,batched", "--plot", html, "--quiet");
    expect(r.status).toBe(0);
    const text = readFileSync(html, "utf8");
    expect(text).toMatch(/<svg/);
    expect(text).toMatch(/class="vega-lite-spec"/);
  });

  it("help loads none of the heavy packages: plotting, worker pool and progress bars load in the commands that use them", () => {
    for (const args of [["--help"], ["sweep", "--help"], ["reproduce", "--help"]]) {
      const r = cliWithout(["vega", "vega-lite", "piscina", "cli-progress"], ...args);
      expect(r.stderr).toBe("");
      expect(r.status).toBe(0);
    }
    const serial = cliWithout(["vega", "vega-lite", "piscina", "cli-progress"], "sweep", "--grid", "messageBytes=64,1024", "--serial", "--json");
    expect(serial.status).toBe(0);
    expect(JSON.parse(serial.stdout)).toHaveLength(2);
  });

  it("without vega, --plot is refused before any simulation, naming what to install", () => {
    const svg = join(dir, "no-vega.svg");
    for (const args of [["sweep", "--grid", "messageBytes=64,1024", "--serial", "--plot", svg], ["reproduce", "--no-what-if", "--plot", svg]]) {
      const r = cliWithout(["vega"], ...args);
      expect(r.status).toBe(1);
      expect(r.stdout).toBe("");
      expect(r.stderr).toMatch(/--plot: ".*no-vega.svg" is not allowed; expected the optional packages vega 5 and vega-lite 5 installed to plot \(npm install vega@5 vega-lite@5/);
    }
    expect(existsSync(svg)).toBe(false);
  });
});
