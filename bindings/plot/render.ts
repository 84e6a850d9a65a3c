// Renders Vega-Lite specifications to SVG in Node (no canvas needed), and writes plot files.

import * as vega from "vega";
import * as vl from "vega-lite";
import { writeAtomically } from "../io/atomic.js";
import type { VegaLiteSpec } from "./specs.js";

export async function renderSvg(spec: VegaLiteSpec): Promise<string> {
  const compiled = vl.compile(spec as unknown as vl.TopLevelSpec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: "none" });
  const svg = await view.toSVG();
  view.finalize();
  return svg;
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
