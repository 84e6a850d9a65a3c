// Predictions against published measurements: the study files hold what their sources say (and
// the literature record lists each source), predictions come from the NIC model priced with a
// profile (never from the measured values), and `reproduce --study` prints them beside the
// measurement with error and source.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ConfigError } from "../bindings/errors.js";
import { loadStudyProfile, studyCells, STUDY_NIC } from "../bindings/cli/reproduce-study.js";
import type { CostProfile } from "../bindings/sim/cost-profile.js";
import { compare, predictStudy } from "../bindings/studies/predict.js";
import { loadStudy, studyNames, validateStudy, type Measured, type Study } from "../bindings/studies/study.js";

const root = join(__dirname, "..");
const CLI = join(root, "lib", "cli.js");
const dir = mkdtempSync(join(tmpdir(), "iommu-sim-studies-"));
const cli = (...args: string[]) => spawnSync("node", [CLI, ...args], { encoding: "utf8", cwd: dir });
const record = readFileSync(join(root, "data", "studies", "SOURCES.md"), "utf8");
const names = studyNames();
const profile = loadStudyProfile();
const numbers = (m: Measured) => ("value" in m ? [m.value] : "upTo" in m ? [m.upTo] : [m.low, m.high]);

describe("study files", () => {
  it("at least two modern studies ship, and each loads and validates", () => {
    expect(names.length).toBeGreaterThanOrEqual(2);
    for (const n of names) expect(loadStudy(n).name).toBe(n);
  });

  it.each(names)("%s: every measured value is the source's own words, and the source is in the literature record", (n) => {
    const s = loadStudy(n);
    expect(record).toContain(s.source.locator.split(" ")[0]);
    for (const row of s.rows) {
      expect(s.source.quote).toContain(row.reads);
      for (const v of numbers(row.measured)) {
        // a measured 0 is "completely recovers": the words say it, not a digit
        if (v === 0) expect(row.reads).toMatch(/complete/);
        else expect(row.reads.replace("–", " ")).toMatch(new RegExp(`(^|[^\\d.])${v.toFixed(Number.isInteger(v) ? 0 : 2).replace(".", "\\.")}([^\\d]|$)`));
      }
    }
  });

  it("a bad study file is refused naming the field", () => {
    const good = loadStudy("viommu-2011");
    const bad = (mutate: (s: Study) => void) => {
      const s = structuredClone(good);
      mutate(s);
      return () => validateStudy(s, "s");
    };
    expect(bad((s) => (s.rows[0].measured = { low: 2, high: 1 }))).toThrow(/s\.rows\[0\]\.measured/);
    expect(bad((s) => (s.rows[0].reads = "44% of the line rate"))).toThrow(/s\.rows\[0\]\.reads/);
    expect(bad((s) => (s.rows[0].runs = { strict: s.rows[0].runs.run }))).toThrow(/s\.rows\[0\]\.runs/);
    expect(bad((s) => (s.rows[0].runs.run.mode = "off"))).toThrow(/runs\.run\.mode/);
    expect(bad((s) => ((s.rows[0].runs.run as unknown as Record<string, unknown>).allocator = "magazine"))).toThrow(/runs\.run\.allocator.*magazine.*iova \| iova-tree/);
    expect(bad((s) => ((s.rows[0].runs.run as unknown as Record<string, unknown>).txFragBytes = 8192))).toThrow(/runs\.run\.txFragBytes.*8192/);
    expect(bad((s) => ((s.source as unknown as Record<string, unknown>).locator = ""))).toThrow(ConfigError);
  });
});

describe("predictions", () => {
  const withPrice = (k: keyof CostProfile["cycles"], factor: number): CostProfile => ({ ...profile, cycles: { ...profile.cycles, [k]: profile.cycles[k] * factor } });

  it("are computed from the profile: a dearer invalidation wait lowers strict throughput and leaves lazy's, and costs CPU first", () => {
    const study = loadStudy("viommu-2011");
    const base = predictStudy(study, profile, STUDY_NIC).rows;
    // with 2.6.36's allocator and driver, strict is CPU-bound on one core below the line; lazy fills it
    expect(base[0].runs.run.cpuPct).toBeCloseTo(100, 6);
    expect(base[0].predicted).toBeLessThan(base[1].predicted);
    expect(base[1].runs.run.cpuPct).toBeLessThan(100);
    for (const factor of [2, 50]) {
      const dear = predictStudy(study, withPrice("invWait", factor), STUDY_NIC).rows;
      expect(dear[0].predicted).toBeLessThan(base[0].predicted);
      expect(dear[1].predicted).toBeCloseTo(base[1].predicted, 6);
    }
    // today's kernel (riommu-2015's strict run) fills the link: there a dearer wait shows as CPU first
    const today = loadStudy("riommu-2015");
    const strictRun = (p: CostProfile) => predictStudy(today, p, STUDY_NIC).rows[1].runs.denominator;
    const [now, twice] = [strictRun(profile), strictRun(withPrice("invWait", 2))];
    expect(twice.gbps).toBeCloseTo(now.gbps, 6);
    expect(twice.cpuPct).toBeGreaterThan(now.cpuPct);
  });

  it("viommu-2011 runs the kernel its paper ran: 2.6.36's allocator and driver cost strict mode throughput", () => {
    const study = loadStudy("viommu-2011");
    for (const row of study.rows) expect(row.runs.run).toMatchObject({ allocator: "iova-tree", rxRecycling: "none", txFragBytes: 4096 });
    const todays = structuredClone(study);
    for (const row of todays.rows) for (const k of ["allocator", "rxRecycling", "txFragBytes"] as const) delete row.runs.run[k];
    const [era, now] = [study, todays].map((s) => predictStudy(s, profile, STUDY_NIC).rows);
    expect(era[0].predicted).toBeLessThan(now[0].predicted);
    // lazy hides the extra work in CPU: the same throughput, dearer per packet
    expect(era[1].predicted).toBeCloseTo(now[1].predicted, 6);
    expect(era[1].runs.run.cpuPct).toBeGreaterThan(now[1].runs.run.cpuPct);
  });

  it("never read the measured values: any measured value leaves every prediction unchanged", () => {
    const study = loadStudy("viommu-2011");
    const base = predictStudy(study, profile, STUDY_NIC).rows.map((r) => r.predicted);
    fc.assert(fc.property(fc.double({ min: -1e6, max: 1e6, noNaN: true }), (v) => {
      const s = structuredClone(study);
      for (const row of s.rows) row.measured = { value: v };
      expect(predictStudy(s, profile, STUDY_NIC).rows.map((r) => r.predicted)).toEqual(base);
    }), { numRuns: 50 });
  });

  it("the NIC model is the one thing predictions come from: a model twice as fast doubles pct-of-line", () => {
    const study = loadStudy("viommu-2011");
    const halfLine = predictStudy(study, profile, (run) => ({ gbps: run.linkGbps / 4, cpuPct: 100, model: "fake" }));
    const fullLine = predictStudy(study, profile, (run) => ({ gbps: run.linkGbps / 2, cpuPct: 100, model: "fake" }));
    expect(halfLine.rows.map((r) => r.predicted)).toEqual([25, 25]);
    expect(fullLine.rows.map((r) => r.predicted)).toEqual([50, 50]);
    expect(fullLine.model).toBe("fake");
  });

  it("error against a point, a range and an 'up to' bound (by hand)", () => {
    expect(compare(30, { value: 40 })).toEqual({ error: -10, relErrorPct: -25, verdict: "below" });
    expect(compare(5, { value: 0 })).toEqual({ error: 5, relErrorPct: null, verdict: "above" });
    expect(compare(0.9, { low: 0.77, high: 1 })).toEqual({ error: 0, relErrorPct: null, verdict: "within" });
    expect(compare(0.5, { low: 0.77, high: 1 }).error).toBeCloseTo(-0.27, 12);
    expect(compare(1.5, { low: 0.77, high: 1 })).toEqual({ error: 0.5, relErrorPct: null, verdict: "above" });
    expect(compare(3, { upTo: 7.56 })).toEqual({ error: 0, relErrorPct: null, verdict: "consistent" });
    expect(compare(8.56, { upTo: 7.56 }).verdict).toBe("exceeds");
  });

  it.each(names)("%s: every row is predicted, finite, with its runs' outcomes", (n) => {
    const p = predictStudy(loadStudy(n), profile, STUDY_NIC);
    for (const r of p.rows) {
      expect(Number.isFinite(r.predicted)).toBe(true);
      for (const o of Object.values(r.runs)) expect(o.gbps).toBeGreaterThan(0);
    }
  });
});

describe("reproduce --study", () => {
  it("prints prediction beside measurement with error and source columns, and the source's locator", () => {
    const r = cli("reproduce", "--study", "viommu-2011");
    expect(r.status, r.stderr).toBe(0);
    const header = r.stdout.split("\n").find((l) => l.startsWith(" row "))!;
    for (const col of ["predicted", "measured", "error", "rel. error", "verdict", "source"]) expect(header).toContain(col);
    expect(r.stdout).toContain("https://www.cse.iitd.ac.in/~sbansal/csl862-virt/lec/vIOMMU.txt");
    expect(r.stdout).toMatch(/^ strict .*│ +43 │/m);
  });

  it("--json carries the rows with predicted, measured and error", () => {
    const r = cli("reproduce", "--study", "riommu-2015", "--json", "s.json");
    expect(r.status, r.stderr).toBe(0);
    const j = JSON.parse(readFileSync(join(dir, "s.json"), "utf8"));
    expect(j.schema.name).toBe("study");
    expect(j.rows.map((x: { id: string }) => x.id)).toEqual(["riommu-vs-none", "riommu-vs-strict"]);
    expect(j.rows[1].measured).toEqual({ upTo: 7.56 });
    expect(j.source.locator).toContain("riommu");
  });

  it("list names every study; without --study the 2007 study stays the default", () => {
    const r = cli("reproduce", "--study", "list");
    expect(r.status).toBe(0);
    for (const n of names) expect(r.stdout).toContain(n);
  });

  it("an unknown study exits 1 naming the valid ones; 2007-only options are refused with --study", () => {
    const r = cli("reproduce", "--study", "nope");
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('--study: "nope"');
    for (const n of names) expect(r.stderr).toContain(n);
    expect(cli("reproduce", "--study", "viommu-2011", "--holdout").status).toBe(1);
    expect(cli("reproduce", "--profile", "x.json").status).toBe(1);
    const bad = cli("reproduce", "--study", "viommu-2011", "--profile", join(dir, "missing.json"));
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain("--profile");
  });
});

describe("README", () => {
  it("its table of predictions is what the model computes now, every study and row of it", () => {
    const readme = readFileSync(join(root, "README.md"), "utf8");
    const start = readme.indexOf("<!-- studies-table");
    expect(start).toBeGreaterThan(0);
    const lines = readme.slice(start).split("\n").slice(3);
    const table = lines.slice(0, lines.findIndex((l) => !l.startsWith("|"))).map((l) => l.split("|").slice(1, -1).map((c) => c.trim()));
    const expected = names.flatMap((n) => studyCells(predictStudy(loadStudy(n), profile, STUDY_NIC)).map((r) => [n, r.id, r.unit, ...r.cells]));
    const key = (r: string[]) => `${r[0]}/${r[1]}`;
    expect(table.map(key).sort()).toEqual(expected.map(key).sort());
    for (const row of expected) expect(table.find((t) => key(t) === key(row))).toEqual(row);
  });
});
