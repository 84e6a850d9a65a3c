// Renders Vega-Lite specifications to SVG in Node (no canvas needed), and writes plot files.

import { ConfigError } from "../errors.js";
import { writeAtomically } from "../io/atomic.js";
import type { VegaLiteSpec } from "./specs.js";

type Renderer = { vega: typeof import("vega"); vl: typeof import("vega-lite") };
let renderer: Promise<Renderer> | undefined;

/**
 * vega and vega-lite, loaded on first use: they are optional dependencies and take longer to load
 * than the rest of the CLI together. Missing, plotting is refused naming what to install; `field`
 * and `value` name the option that asked for the plot.
 */
export function loadRenderer(field = "plot", value: unknown = undefined): Promise<Renderer> {
  renderer ??= Promise.all([import("vega"), import("vega-lite")]).then(
    ([vega, vl]) => ({ vega, vl }),
    (e: NodeJS.ErrnoException) => {
      renderer = undefined;
      if (e.code === "ERR_MODULE_NOT_FOUND" && /'vega(-lite)?'/.test(e.message)) {
        throw new ConfigError(field, value, `the optional packages vega 5 and vega-lite 5 installed to plot (npm install vega@5 vega-lite@5; ${e.message})`);
      }
      throw e;
    },
  );
  return renderer;
}

export async function renderSvg(spec: VegaLiteSpec): Promise<string> {
  const { vega, vl } = await loadRenderer();
  const compiled = vl.compile(spec as unknown as import("vega-lite").TopLevelSpec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: "none" });
  const svg = await view.toSVG();
  view.finalize();
  return svg;
}

/** A plot file's name says what is written: FILE.svg or FILE.html; any other name is refused, not filled with HTML. */
export function checkPlotFile(field: string, file: string | undefined): void {
  if (file !== undefined && !/\.(svg|html)$/.test(file)) throw new ConfigError(field, file, "a file named FILE.svg (the plot) or FILE.html (the plot with its specification)");
}

/** `.svg`: the rendered plot; `.html`: the same SVG inline, with the specification beside it for live use. */
export async function writePlot(file: string, specs: VegaLiteSpec[]): Promise<void> {
  const svgs = await Promise.all(specs.map(renderSvg));
  if (file.endsWith(".svg")) {
    // several plots: one SVG file per plot, numbered after the first
    await writeAtomically(file, svgs[0]);
    for (let i = 1; i < svgs.length; i++) await writeAtomically(file.replace(/\.svg$/, `-${i + 1}.svg`), svgs[i]);
    return;
  }
  const body = svgs.map((s, i) => `<figure>${s}<script type="application/json" class="vega-lite-spec" data-plot="${i}">${JSON.stringify(specs[i]).replace(/</g, "\\u003c")}</script></figure>`).join("\n");
  await writeAtomically(file, `<!doctype html>\n<meta charset="utf-8">\n<title>iommu-sim</title>\n<style>body{font-family:sans-serif;margin:2em}figure{margin:0 0 2em}</style>\n${body}\n`);
}
