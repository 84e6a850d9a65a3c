// The command line: help everywhere, meaningful exit codes, config files with flag overrides,
// CSV / JSON / plot outputs, and sweeps that give the same results serial and parallel.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { csvParse } from "d3-dsv";
import { describe, expect, it } from "vitest";

const CLI = join(__dirname, "..", "lib", "cli.js");
const dir = mkdtempSync(join(tmpdir(), "iommu-sim-cli-"));
const cli = (...args: string[]) => spawnSync("node", [CLI, ...args], { encoding: "utf8" });
const cliIn = (cwd: string, ...args: string[]) => spawnSync("node", [CLI, ...args], { encoding: "utf8", cwd });
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
    expect(JSON.parse(serial.stdout).runs).toHaveLength(100);
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

  it("help loads none of the heavy packages: plotting, worker pool, progress bars and tables load in the commands that use them", () => {
    for (const args of [["--help"], ["sweep", "--help"], ["reproduce", "--help"]]) {
      const r = cliWithout(["vega", "vega-lite", "piscina", "cli-progress", "cli-table3"], ...args);
      expect(r.stderr).toBe("");
      expect(r.status).toBe(0);
    }
    const serial = cliWithout(["vega", "vega-lite", "piscina", "cli-progress", "cli-table3"], "sweep", "--grid", "messageBytes=64,1024", "--serial", "--json");
    expect(serial.status).toBe(0);
    expect(JSON.parse(serial.stdout).runs).toHaveLength(2);
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

  it("sweep --threads takes 1 to twice the CPU count and says so otherwise", () => {
    for (const t of ["abc", "NaN", "1e3", "99999", "0", "-1", "1.5"]) {
      const r = cli("sweep", "--grid", "messageBytes=64", "--threads", t);
      expect(r.status, t).toBe(1);
      expect(r.stderr).toMatch(new RegExp(`argument '${t.replace(".", "\\.")}' is invalid\\. expected a whole number from 1 to \\d+ \\(twice the \\d+ CPUs here\\)`));
      expect(r.stdout).toBe("");
    }
  });

  it("a bad grid value exits 1 with the same message in parallel as --serial", () => {
    const grid = ["sweep", "--grid", "strategy=batched,foo", "--grid", "messageBytes=64,1024"];
    const serial = cli(...grid, "--serial");
    const parallel = cli(...grid, "--threads", "2");
    expect(serial.status).toBe(1);
    expect(serial.stderr).toMatch(/^iommu-sim: strategy: "foo" is not allowed/);
    expect(parallel.status).toBe(1);
    expect(parallel.stderr).toBe(serial.stderr);
  });

  it("sizes take K / M suffixes, and a bad one is named as given", () => {
    const k = cli("run", "--message-bytes", "1k", "--json");
    expect(k.status).toBe(0);
    expect(JSON.parse(k.stdout).config.messageBytes).toBe(1024);
    expect(k.stdout).toBe(cli("run", "--message-bytes", "1024", "--json").stdout);
    const io = cli("run", "--workload", "ffsb", "--io-bytes", "64K", "--json");
    expect(JSON.parse(io.stdout).config.ioBytes).toBe(65536);
    const grid = cli("sweep", "--grid", "messageBytes=1k,64K", "--serial", "--json");
    expect(JSON.parse(grid.stdout).runs.map((r: { config: { messageBytes: number } }) => r.config.messageBytes)).toEqual([1024, 65536]);
    const bad = cli("run", "--message-bytes", "1x");
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/--message-bytes: "1x" is not allowed; expected a byte count or a size such as "64K"/);
    expect(cli("run", "--queue-depth", "lots", "--workload", "ffsb").stderr).toMatch(/--queue-depth: "lots" is not allowed; expected a number/);
  });

  it("allocators checks --trace before running any workload", () => {
    // with a good trace the bad table size is met when the workloads run; a bad trace is met first
    expect(cli("allocators", "--table-size", "3M", "--workload", "ring:4", "--steps", "10", "--trace", "examples/nic-ring.trace").stderr).toMatch(/tableSize: "3M"/);
    const r = cli("allocators", "--table-size", "3M", "--workload", "ring:4", "--steps", "10", "--trace", join(dir, "nope"));
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^iommu-sim: --trace: ".*nope" is not allowed; expected a readable trace file/);
  });

  it("reproduce --data refuses a bad cell naming its row and column", () => {
    const good = readFileSync(join(__dirname, "..", "data", "seed-netperf.csv"), "utf8");
    const cases: Array<[string, RegExp]> = [
      [good.replace("baremetal,64,358.24,", "baremetal,64,,"), /row 2 column off_mbps: "" is not allowed; expected a throughput above 0/],
      [good.replace("baremetal,128,632.40,12.61", "baremetal,128,632.40,abc"), /row 3 column off_cpu: "abc" is not allowed/],
      [good.replace("baremetal,256,", "baremetl,256,"), /row 4 column environment: "baremetl" is not allowed; expected baremetal, xen-dom0, xen-domU/],
      [good.replace("baremetal,512,941.21,7.85,", "baremetal,512,941.21,"), /row 5: ".*" is not allowed; expected 9 cells, as in the header/],
      [good.replace("on_cpu", "on_cpus"), /header: ".*" is not allowed; expected a CSV header with the column on_cpu/],
    ];
    for (const [text, message] of cases) {
      const file = join(dir, "measured.csv");
      writeFileSync(file, text);
      const r = cli("reproduce", "--data", file, "--no-what-if", "--quiet");
      expect(r.status).toBe(1);
      expect(r.stdout).toBe("");
      expect(r.stderr).toMatch(message);
      expect(r.stderr).toMatch(/--data .*measured\.csv/);
    }
  });

  it("calibrate writes into the working directory, not into the package", () => {
    const cwd = mkdtempSync(join(tmpdir(), "iommu-sim-calibrate-"));
    const shipped = join(__dirname, "..", "profiles", "netperf-calibrated.json");
    const before = readFileSync(shipped, "utf8");
    const seed = readFileSync(join(__dirname, "..", "data", "seed-netperf.csv"), "utf8").trim().split("\n");
    // one row per environment keeps the fit short
    writeFileSync(join(cwd, "small.csv"), [seed[0], ...["baremetal", "xen-dom0", "xen-domU"].map((e) => seed.find((l) => l.startsWith(e + ",")))].join("\n") + "\n");
    const r = cliIn(cwd, "calibrate", "--data", "small.csv", "--quiet");
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/wrote netperf-calibrated\.json\n$/);
    expect(JSON.parse(readFileSync(join(cwd, "netperf-calibrated.json"), "utf8")).environments.baremetal.rows).toBe(1);
    expect(readFileSync(shipped, "utf8")).toBe(before);
  });

  it("CSV output quotes a cell that holds a comma, so it reads back with every column in place", () => {
    const cfg = join(dir, "comma.json");
    const csv = join(dir, "comma.csv");
    writeFileSync(cfg, JSON.stringify({ strategy: "batched,deferred-flush" })); // "," joins strategies like "+"
    const r = cli("sweep", "--config", cfg, "--grid", "messageBytes=64,1024", "--serial", "--csv", csv);
    expect(r.status).toBe(0);
    const rows = csvParse(readFileSync(csv, "utf8"));
    expect(rows).toHaveLength(2);
    expect(rows.map((row) => [row.strategy, row.messageBytes])).toEqual([["batched,deferred-flush", "64"], ["batched,deferred-flush", "1024"]]);
    expect(Number(rows[0].onCpu)).toBeGreaterThan(0);
  });

  it("text tables line their headers up with their data, every column separated", () => {
    /** Each table (a run of lines holding │) with its column separators at the same place on every line. */
    const tablesOf = (text: string) => {
      const blocks: string[][] = [];
      let block: string[] = [];
      for (const line of text.split("\n")) {
        if (/[│┼]/.test(line)) block.push(line);
        else if (block.length) blocks.push(block), (block = []);
      }
      if (block.length) blocks.push(block);
      return blocks;
    };
    const separators = (line: string) => [...line].flatMap((c, i) => (c === "│" || c === "┼" ? [i] : []));
    const outputs = [
      cli("run", "--workload", "ffsb").stdout,
      cli("sweep", "--grid", "messageBytes=64,65536", "--grid", "strategy=batched,cached+deferred-flush", "--serial").stdout,
      cli("allocators", "--workload", "ring:64", "--steps", "100", "--allocators", "calgary,iova").stdout,
      cli("reproduce", "--quiet").stdout,
    ];
    let tables = 0;
    for (const out of outputs) {
      for (const block of tablesOf(out)) {
        tables++;
        const cols = separators(block[0]);
        expect(cols.length).toBeGreaterThan(0);
        for (const line of block) expect(separators(line), line).toEqual(cols);
        expect(block.some((l) => /^─+┼/.test(l))).toBe(true); // a rule under the header
      }
    }
    expect(tables).toBe(1 + 1 + 1 + 7); // reproduce: three environments, two validation tables (extrapolation, the IOMMU from shared prices), the what-if table and the one across IOMMUs
    // what-if: every figure in its own column, figures right-aligned under their headers
    const whatIf = tablesOf(outputs[3]).at(-2)!;
    expect(tablesOf(outputs[3]).at(-1)!.find((l) => / riommu, bursts of 16 /.test(l))).toMatch(/│ +\d+ │ +0 │ no +│ +0\.13 MiB$/);
    expect(whatIf.find((l) => / preallocated /.test(l))).toMatch(/│ +0\.0 % │ +0\.0 % │ +0 │ +100 % │ 256\.00 MiB$/);
  });

  it("the README's figures for the ring across IOMMUs (bare metal) and the rIOMMU's what-if rows are the ones reproduce prints, and --json carries the ring across IOMMUs", () => {
    const jsonFile = join(dir, "across.json");
    const printedOut = cli("reproduce", "--quiet", "--json", jsonFile).stdout;
    const table = printedOut.split("Across IOMMUs")[1];
    const across = (JSON.parse(readFileSync(jsonFile, "utf8")) as { acrossIommus: Array<{ environment: string; strategy: string; price: number }> }).acrossIommus;
    const rows = table.split("\n").filter((l) => /^ (baremetal|xen-dom0|xen-domU) +│/.test(l));
    expect(across.map((p) => `${p.environment} ${p.strategy} ${Math.round(p.price)}`)).toEqual(rows.map((l) => l.split("│").slice(0, 3).map((c) => c.trim()).join(" ")));
    const printed = (label: string) => {
      const row = table.split("\n").find((l) => new RegExp(`^ baremetal +│ ${label.replace(/[+,]/g, "\\$&")} +│`).test(l));
      expect(row, label).toBeDefined();
      return Number(row!.split("│")[2].trim());
    };
    const readme = readFileSync(join(__dirname, "..", "README.md"), "utf8").replace(/\s+/g, " ");
    const quoted = (phrase: string) => {
      const m = new RegExp(`${phrase} (\\d{1,3}(?: \\d{3})*)`).exec(readme);
      expect(m, phrase).not.toBeNull();
      return Number(m![1].replace(/ /g, ""));
    };
    // the README's phrase → the table's label
    const figures: Array<[string, string[]]> = [
      ["VT-d lazy", ["vtd lazy"]],
      ["AMD-Vi lazy", ["amd-vi lazy"]],
      ["rIOMMU in bursts", ["riommu, bursts of 16"]],
      ["Calgary deferred", ["calgary-pcix deferred"]],
      ["VT-d strict", ["vtd strict"]],
      ["SMMUv3 strict", ["smmuv3 strict"]],
      ["AMD-Vi strict", ["amd-vi strict"]],
      ["rIOMMU one at a time", ["riommu"]],
      ["DART U4", ["dart-u4"]],
      ["Calgary strict", ["calgary-pcix strict"]],
    ];
    for (const [phrase, labels] of figures) for (const label of labels) expect(printed(label), `${phrase} / ${label}`).toBe(quoted(phrase));
    expect(printed("vtd shadow buffers")).toBe(Number(/persistent` on VT-d \((\d+) cycles per map \+ unmap/.exec(readme)![1]));
    // the what-if table's rIOMMU rows and Calgary's beside them, as the rIOMMU section quotes them (CPU overhead @64 KiB)
    const whatIf = printedOut.split("What if:")[1].split("Across IOMMUs")[0].split("\n");
    const cpu = (env: string, strategy: string) => whatIf.find((l) => l.startsWith(` ${env} `) && l.split("│")[1].trim() === strategy)!.split("│")[2].trim();
    const m = /bare metal ([\d.]+ %) one at a time, ([\d.]+ %) in bursts \(Calgary: ([\d.]+ %) deferred, ([\d.]+ %) strict\); Xen dom0 ([\d.]+ %) \/ ([\d.]+ %) \(([\d.]+ %), ([\d.]+ %)\); Xen domU ([\d.]+ %) \/ ([\d.]+ %) \(([\d.]+ %), ([\d.]+ %)\)/.exec(readme);
    expect(m, "the rIOMMU section's what-if sentence").not.toBeNull();
    expect(m!.slice(1)).toEqual(["baremetal", "xen-dom0", "xen-domU"].flatMap((env) =>
      ["rIOMMU (riommu platform)", "rIOMMU, bursts of 16", "straightforward", "straightforward+strict-flush"].map((s) => cpu(env, s))));
  });

  it("an output path that cannot be written is refused before the run, exit 1, naming the option", () => {
    const missing = join(dir, "no-such-dir", "out");
    const cases: Array<[string[], string]> = [
      [["sweep", "--grid", "messageBytes=64", "--serial", "--csv", `${missing}.csv`], "--csv"],
      [["reproduce", "--quiet", "--json", `${missing}.json`], "--json"],
      [["reproduce", "--quiet", "--plot", dir], "--plot"],
      [["allocators", "--workload", "ring:4", "--steps", "10", "--csv", `${missing}.csv`], "--csv"],
      [["calibrate", "--quiet", "--out", `${missing}.json`], "--out"],
    ];
    for (const [args, field] of cases) {
      const r = cli(...args);
      expect(r.status, args.join(" ")).toBe(1);
      expect(r.stdout).toBe(""); // nothing simulated, nothing printed
      expect(r.stderr).toMatch(new RegExp(`^iommu-sim: ${field}: ".*" is not allowed; expected a file in an existing, writable directory`));
    }
  });
});
