// The three figures, rendered as Vega renders them (SVG, then PNG with resvg into test-output/plots/
// to look at), and checked on what makes them publishable: legends that name every encoding in
// full, the CPU scale of each environment, no two frontier points on one spot, a colour-blind-safe
// palette, categories drawn as bars and numbers sorted as numbers.
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Resvg } from "@resvg/resvg-js";
import * as vega from "vega";
import * as vl from "vega-lite";
import { describe, expect, it } from "vitest";
import { createIommu, parseMeasured, PLATFORM_CONFIGURATIONS, platformFrontier, reproduceRows, RIOMMU_WHAT_IF, whatIf, type Calibration } from "../bindings/node.js";
import { renderSvg } from "../bindings/plot/render.js";
import { frontierSpec, messageSizeSpec, OKABE_ITO, platformFrontierSpec, SERIES_PALETTE, sweepCpuSpec, type CurveRow, type VegaLiteSpec } from "../bindings/plot/specs.js";
import { expandGrid, parseGridArg, resolveRun } from "../bindings/sweep/config.js";

const root = join(__dirname, "..");
const out = join(root, "test-output", "plots");
mkdirSync(out, { recursive: true });
const measured = parseMeasured(readFileSync(join(root, "data", "seed-netperf.csv"), "utf8"));
const calibration = JSON.parse(readFileSync(join(root, "profiles", "netperf-calibrated.json"), "utf8")) as Calibration;

/** The SVG as `--plot` writes it, and a PNG of it (2× zoom) for a person to look at. */
async function render(name: string, spec: VegaLiteSpec): Promise<string> {
  const svg = await renderSvg(spec);
  const png = new Resvg(svg, { fitTo: { mode: "zoom", value: 2 }, background: "white", font: { loadSystemFonts: true, defaultFontFamily: "DejaVu Sans" } }).render();
  expect(png.width).toBeGreaterThan(800);
  writeFileSync(join(out, `${name}.png`), png.asPng());
  return svg;
}

interface Item { x: number; y: number; mark: string; datum: Record<string, unknown>; stroke?: string; shape?: string; strokeDash?: number[] }

/** Every item of the rendered scenegraph's data marks (no axes or legends), positioned in the whole figure. */
async function items(spec: VegaLiteSpec): Promise<Item[]> {
  const view = new vega.View(vega.parse(vl.compile(spec as unknown as vl.TopLevelSpec).spec), { renderer: "none" });
  await view.runAsync();
  const found: Item[] = [];
  type Mark = { marktype: string; role: string; items: Array<Record<string, unknown> & { items?: Mark[] }> };
  const walk = (mark: Mark, dx: number, dy: number) => {
    for (const it of mark.items) {
      const x = dx + ((it.x as number) ?? 0);
      const y = dy + ((it.y as number) ?? 0);
      if (mark.marktype === "group") for (const child of it.items ?? []) walk(child, x, y);
      else if (mark.role === "mark") found.push({ x, y, mark: mark.marktype, datum: it.datum as Record<string, unknown>, stroke: it.stroke as string, shape: it.shape as string, strokeDash: it.strokeDash as number[] });
    }
  };
  walk(view.scenegraph().root as unknown as Mark, 0, 0);
  view.finalize();
  return found;
}

/** The compiled Vega legends, with the labels each shows. */
function legends(spec: VegaLiteSpec): Array<Record<string, unknown>> {
  return (vl.compile(spec as unknown as vl.TopLevelSpec).spec.legends ?? []) as Array<Record<string, unknown>>;
}

describe("reproduction plot", () => {
  const rows = reproduceRows(measured, calibration, createIommu);

  it("has a legend for simulated (solid) against measured (dashed) and says each CPU scale", async () => {
    const spec = messageSizeSpec(rows);
    const svg = await render("reproduction", spec);
    expect(svg).toContain("simulated (solid)");
    expect(svg).toContain("measured (dashed)");
    expect(svg).toContain("IOMMU off");
    expect(svg).toContain("IOMMU on");
    // bare metal: out of 100; both Xen columns: out of 800
    expect(svg.match(/>CPU \(out of 100\)</g)).toHaveLength(1);
    expect(svg.match(/>CPU \(out of 800\)</g)).toHaveLength(2);
    const dash = legends(spec).find((l) => l.strokeDash);
    expect(dash?.symbolType).toBe("stroke");
    // measured lines are dashed, simulated solid; every point of every curve drawn
    const lines = (await items(spec)).filter((i) => i.mark === "line");
    expect(lines).toHaveLength(rows.length * 2 * 2 * 2); // rows × metrics × IOMMU off/on × source
    expect(lines.filter((l) => l.datum.source === "simulated").every((l) => !l.strokeDash || l.strokeDash.join() === "1,0")).toBe(true);
    expect(lines.filter((l) => l.datum.source === "measured").every((l) => l.strokeDash?.join() === "5,3")).toBe(true);
  });

  it("draws no measured curve where the study measured nothing (the page's other configurations)", async () => {
    const simulatedOnly: CurveRow[] = rows.filter((r) => r.environment === "xen-dom0").map((r) => ({ ...r, measured: null }));
    const spec = messageSizeSpec(simulatedOnly, "simulated only");
    const svg = await render("reproduction-simulated-only", spec);
    expect(svg).not.toContain("measured");
    expect(svg).toContain("CPU (out of 800)");
    expect((spec.data as { values: Array<{ source: string }> }).values.every((v) => v.source === "simulated")).toBe(true);
  });
});

describe("price-of-safety frontier", () => {
  const rows = whatIf(calibration, createIommu);
  const spec = frontierSpec(rows);

  it("names every strategy in full in its legend, in colour-blind-safe colours doubled by shapes", async () => {
    const svg = await render("frontier", spec);
    const strategies = [...new Set(rows.map((r) => r.strategy))];
    for (const s of strategies) expect(svg).toContain(`>${s}<`);
    expect(svg).not.toContain("…");
    const legend = legends(spec).find((l) => l.title === "strategy")!;
    expect(legend.shape).toBeDefined(); // shapes and colours in one legend
    const points = (await items(spec)).filter((i) => i.mark === "symbol" && i.datum.strategy !== undefined);
    expect(points).toHaveLength(rows.length);
    const colours = new Map(points.map((p) => [p.datum.strategy, p.stroke]));
    const shapes = new Map(points.map((p) => [p.datum.strategy, p.shape]));
    expect(new Set(colours.values()).size).toBe(strategies.length);
    expect(new Set(shapes.values()).size).toBe(strategies.length);
    for (const c of colours.values()) expect(SERIES_PALETTE).toContain(c);
    expect(SERIES_PALETTE.slice(0, OKABE_ITO.length)).toEqual(OKABE_ITO);
  });

  it("places no point on or next to another (straightforward/batched and cached/never-free had coincided)", async () => {
    const points = (await items(spec)).filter((i) => i.mark === "symbol" && i.datum.strategy !== undefined);
    for (let i = 0; i < points.length; i++) {
      for (let j = i + 1; j < points.length; j++) {
        const d = Math.hypot(points[i].x - points[j].x, points[i].y - points[j].y);
        if (d < 10) throw new Error(`${JSON.stringify(points[i].datum)} and ${JSON.stringify(points[j].datum)} are ${d.toFixed(1)} px apart`);
      }
    }
    // and every point keeps its own value on the price axis: same band, same price → same height
    const bm = points.filter((p) => p.datum.environment === "baremetal");
    const sf = bm.find((p) => p.datum.strategy === "straightforward")!;
    const batched = bm.find((p) => p.datum.strategy === "batched")!;
    expect(sf.y).toBeLessThan(batched.y); // 28.6 % above 24.6 %
  });

  it("shows the rIOMMU beside the study's strategies: hollow (no late DMA reaches memory), in bursts below strict flushing", async () => {
    const points = (await items(spec)).filter((i) => i.mark === "symbol" && i.datum.strategy !== undefined);
    for (const environment of ["baremetal", "xen-dom0", "xen-domU"]) {
      const at = (s: string) => points.find((p) => p.datum.environment === environment && p.datum.strategy === s)!;
      for (const s of Object.keys(RIOMMU_WHAT_IF)) {
        expect(at(s), `${environment} ${s}`).toBeDefined();
        expect(at(s).datum.exposed).toBe("hollow");
        expect(at(s).datum.releasedButLivePeak).toBe(0);
      }
      // higher on the plot = cheaper: one invalidation per burst of 16 against one per unmap
      expect(at("rIOMMU, bursts of 16").y).toBeGreaterThan(at("straightforward+strict-flush").y);
      expect(at("rIOMMU, bursts of 16").y).toBeGreaterThan(at("rIOMMU (riommu platform)").y);
      expect(at("straightforward").datum.exposed).toBe("filled");
    }
  });
});

describe("price-of-safety frontier across IOMMUs", () => {
  const points = platformFrontier(createIommu);
  const spec = platformFrontierSpec(points);

  it("puts every platform's invalidation mode, the rIOMMU among them, on one figure, each point apart", async () => {
    const svg = await render("frontier-platforms", spec);
    for (const c of PLATFORM_CONFIGURATIONS) expect(svg).toContain(`>${c.label}<`);
    const drawn = (await items(spec)).filter((i) => i.mark === "symbol" && i.datum.strategy !== undefined);
    expect(drawn).toHaveLength(PLATFORM_CONFIGURATIONS.length * 3);
    expect(new Set(drawn.map((p) => p.stroke)).size).toBe(PLATFORM_CONFIGURATIONS.length);
    for (let i = 0; i < drawn.length; i++) {
      for (let j = i + 1; j < drawn.length; j++) expect(Math.hypot(drawn[i].x - drawn[j].x, drawn[i].y - drawn[j].y)).toBeGreaterThanOrEqual(10);
    }
  });

  it("shows the rIOMMU protecting as strict invalidation does, at a price between the lazy and the strict modes in bursts", () => {
    for (const environment of ["baremetal", "xen-dom0", "xen-domU"]) {
      const at = (label: string) => points.find((p) => p.environment === environment && p.strategy === label)!;
      for (const label of ["riommu", "riommu, bursts of 16", "vtd strict", "smmuv3 strict", "calgary-pcix strict"]) expect(at(label).exposed, label).toBe(false);
      for (const label of ["vtd lazy", "amd-vi lazy", "calgary-pcix deferred"]) expect(at(label).exposed, label).toBe(true);
      expect(at("riommu, bursts of 16").price).toBeLessThan(at("vtd strict").price);
      expect(at("riommu, bursts of 16").price).toBeGreaterThan(at("vtd lazy").price);
      expect(at("riommu, bursts of 16").price).toBeLessThan(at("riommu").price);
      // shadow buffers: never unmapped, so the pool the device reaches stays mapped (counted as exposed)
      expect([at("vtd shadow buffers").exposed, at("vtd shadow buffers").releasedButLivePeak]).toEqual([true, 1]);
    }
  });
});

describe("sweep plot", () => {
  const sweepOf = (grid: string[], environment: string) => {
    const g = grid.map(parseGridArg);
    const configs = expandGrid(resolveRun({ environment }), g);
    // the figure's properties do not depend on the figures: a stand-in value per configuration
    return sweepCpuSpec(configs, configs.map((_, i) => 10 + i), g.map(([k]) => k));
  };

  it("draws a categorical axis as grouped bars in the grid's order, series sorted as numbers", async () => {
    const spec = sweepOf(["strategy=straightforward,batched,cached", "messageBytes=1024,64,65536"], "xen-dom0");
    expect(spec.mark).toEqual({ type: "bar" });
    const enc = spec.encoding as Record<string, { sort?: unknown; title?: string }>;
    expect(enc.x.sort).toEqual(["straightforward", "batched", "cached"]);
    expect(enc.color.sort).toEqual(["64", "1024", "65536"]);
    expect(enc.y.title).toBe("CPU, IOMMU on (out of 800)");
    const svg = await render("sweep-categorical", spec);
    expect(svg.indexOf(">64<")).toBeLessThan(svg.indexOf(">1024<"));
    const bars = (await items(spec)).filter((i) => i.mark === "rect" && i.datum.series !== undefined);
    expect(bars).toHaveLength(9);
    expect(new Set(bars.map((b) => b.x)).size).toBe(9); // side by side, none hidden
  });

  it("draws a numeric axis as lines over numerically sorted sizes (64 before 1024 before 65536)", async () => {
    const spec = sweepOf(["messageBytes=1024,64,65536,256", "strategy=straightforward,batched"], "baremetal");
    expect((spec.mark as { type: string }).type).toBe("line");
    const enc = spec.encoding as Record<string, { type?: string; axis?: { values: number[] }; scale?: { type: string }; title?: string }>;
    expect(enc.x.type).toBe("quantitative");
    expect(enc.x.axis?.values).toEqual([64, 256, 1024, 65536]);
    expect(enc.x.scale?.type).toBe("log");
    expect(enc.y.title).toBe("CPU, IOMMU on (out of 100)");
    await render("sweep-numeric", spec);
    const lines = (await items(spec)).filter((i) => i.mark === "line");
    expect(lines).toHaveLength(2 * 4); // two series of four points
    for (const series of ["straightforward", "batched"]) {
      const xs = lines.filter((l) => l.datum.series === series).map((l) => l.x);
      expect(xs).toEqual([...xs].sort((a, b) => a - b));
    }
  });

  it("is what `sweep --plot` writes", () => {
    const html = join(out, "sweep-cli.html");
    const r = spawnSync("node", [join(root, "lib", "cli.js"), "sweep", "--grid", "strategy=straightforward,batched", "--grid", "messageBytes=1024,64", "--plot", html, "--quiet", "--serial"], { encoding: "utf8" });
    expect(r.status).toBe(0);
    const spec = JSON.parse(/<script type="application\/json" class="vega-lite-spec" data-plot="0">(.*?)<\/script>/s.exec(readFileSync(html, "utf8"))![1]);
    expect(spec.mark).toEqual({ type: "bar" });
    expect(spec.encoding.color.sort).toEqual(["64", "1024"]);
  });
});
