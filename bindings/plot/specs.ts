// Vega-Lite specifications of the study's curves. Pure data → spec: the same specification is
// rendered to SVG in Node (render.ts) and live in the browser (web/). Each is meant to go into a
// paper unchanged: every encoding has a legend or an axis title, colours are the Okabe–Ito
// palette (distinguishable with the common colour-vision deficiencies) and are doubled by shapes
// or dashes, and no two marks share a position.

import type { EnvironmentName } from "../sim/environments.js";
import type { Quad, WhatIfRow } from "../workloads/report.js";

// A Vega-Lite top-level spec (kept loose: the schema types live in vega-lite, a Node dependency here).
export type VegaLiteSpec = Record<string, unknown>;

const SCHEMA = "https://vega.github.io/schema/vega-lite/v5.json";

/** Okabe & Ito (2008), "Color Universal Design": black first, yellow left out (too faint on white). */
export const OKABE_ITO = ["#000000", "#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#999999"];
/** Vega's shapes, then a pentagon, a hexagon and a star (SVG paths in the unit square) for more series. */
const SHAPES = [
  "circle", "square", "triangle-up", "diamond", "triangle-down", "cross", "triangle-right", "triangle-left",
  "M0,-1L0.951,-0.309L0.588,0.809L-0.588,0.809L-0.951,-0.309Z", "M0,-1L0.866,-0.5L0.866,0.5L0,1L-0.866,0.5L-0.866,-0.5Z",
  "M0,-1L0.225,-0.309L0.951,-0.309L0.363,0.118L0.588,0.809L0,0.382L-0.588,0.809L-0.363,0.118L-0.951,-0.309L-0.225,-0.309Z",
];
/**
 * Colours for more series than Okabe–Ito's eight (the frontiers' strategies and platforms with the
 * proposals): then Paul Tol's wine, indigo and olive, dark enough on white for a hollow mark;
 * shapes double them anyway.
 */
export const SERIES_PALETTE = [...OKABE_ITO, "#882255", "#332288", "#999933"];

const ENVIRONMENT_ORDER: EnvironmentName[] = ["baremetal", "xen-dom0", "xen-domU"];
const ENVIRONMENT_TITLE: Record<EnvironmentName, string> = { baremetal: "bare metal", "xen-dom0": "Xen dom0", "xen-domU": "Xen domU" };

/**
 * The study's CPU scale: bare metal reports the machine's utilisation (8 CPUs, out of 100); Xen's
 * tools report the sum over the 8 CPUs (out of 800).
 */
export function cpuTitle(environment: EnvironmentName, what = "CPU"): string {
  return `${what} (out of ${environment === "baremetal" ? 100 : 800})`;
}

/** The subtitle that says what the two CPU scales are. */
export const CPU_SCALE_NOTE = "CPU as the study reports it: bare metal out of 100 (the 8-CPU machine), Xen out of 800 (summed over 8 CPUs)";

const config = {
  font: "DejaVu Sans, Helvetica, Arial, sans-serif",
  title: { fontSize: 15, anchor: "start", offset: 12 },
  axis: { labelFontSize: 11, titleFontSize: 12, titleFontWeight: "normal", grid: true, gridColor: "#e8e8e8" },
  legend: { labelFontSize: 12, titleFontSize: 12, titleFontWeight: "normal", labelLimit: 0, symbolSize: 90 },
  header: { labelFontSize: 13, titleFontSize: 13 },
  view: { stroke: "#bbb" },
};

/** Powers of two as 64, 256, 1 Ki, 4 Ki, … */
const BYTES_LABEL = "datum.value >= 1048576 ? (datum.value / 1048576) + ' Mi' : datum.value >= 1024 ? (datum.value / 1024) + ' Ki' : datum.value + ''";

/** One message size's figures; `measured` null where the study did not measure this configuration. */
export interface CurveRow {
  environment: EnvironmentName;
  messageBytes: number;
  simulated: Quad;
  measured: Quad | null;
}

/**
 * Throughput and CPU against message size, IOMMU off and on, simulated (solid) and measured
 * (dashed): one column per environment present, each CPU axis saying its scale.
 */
export function messageSizeSpec(rows: CurveRow[], title = "netperf TCP_STREAM: simulated against measured"): VegaLiteSpec {
  const values = rows.flatMap((r) =>
    (["simulated", "measured"] as const).flatMap((source) => {
      const q = r[source];
      if (!q) return [];
      return (["off", "on"] as const).map((iommu) => ({
        environment: r.environment, messageBytes: r.messageBytes, source, iommu: `IOMMU ${iommu}`,
        mbps: q[`${iommu}Mbps`], cpu: q[`${iommu}Cpu`],
      }));
    }),
  );
  const sources = (["simulated", "measured"] as const).filter((s) => values.some((v) => v.source === s));
  const environments = ENVIRONMENT_ORDER.filter((e) => rows.some((r) => r.environment === e));
  const sizes = values.map((v) => v.messageBytes);
  const ticks = [64, 256, 1024, 4096, 16384, 65536, 262144, 1048576].filter((t) => t >= Math.min(...sizes) && t <= Math.max(...sizes));
  const panel = (environment: EnvironmentName, metric: "mbps" | "cpu", top: boolean) => ({
    width: 250,
    height: 170,
    title: top ? { text: ENVIRONMENT_TITLE[environment], anchor: "middle", fontSize: 13, fontWeight: "normal" } : undefined,
    transform: [{ filter: { field: "environment", equal: environment } }],
    mark: { type: "line", point: { size: 36 }, strokeWidth: 1.8 },
    encoding: {
      x: {
        field: "messageBytes", type: "quantitative", scale: { type: "log", base: 2, nice: false },
        axis: { values: ticks, labelExpr: BYTES_LABEL, grid: true, labelOverlap: false, labelFlush: true }, title: top ? null : "message size (bytes, log scale)",
      },
      y: { field: metric, type: "quantitative", title: metric === "mbps" ? "throughput (Mbit/s)" : cpuTitle(environment) },
      color: {
        field: "iommu", type: "nominal", title: null,
        scale: { domain: ["IOMMU off", "IOMMU on"], range: [OKABE_ITO[1], OKABE_ITO[4]] },
        legend: { orient: "top", direction: "horizontal" },
      },
      strokeDash: {
        field: "source", type: "nominal", title: null,
        scale: { domain: sources, range: sources.map((s) => (s === "simulated" ? [1, 0] : [5, 3])) },
        legend: {
          orient: "top", direction: "horizontal", symbolType: "stroke", symbolSize: 500,
          labelExpr: "datum.label === 'simulated' ? 'simulated (solid)' : 'measured (dashed)'",
          encode: { symbols: { update: { stroke: { value: "#333" }, strokeWidth: { value: 2 }, fill: { value: "transparent" } } } },
        },
      },
      detail: { field: "source" },
      tooltip: [{ field: "environment" }, { field: "messageBytes", title: "message bytes" }, { field: "iommu" }, { field: "source" },
        { field: metric, title: metric === "mbps" ? "Mbit/s" : "CPU", format: ".2f" }],
    },
  });
  return {
    $schema: SCHEMA,
    title: { text: title, subtitle: values.some((v) => v.environment !== "baremetal") ? CPU_SCALE_NOTE : "CPU as the study reports it: out of 100 for the 8-CPU machine" },
    config,
    data: { values },
    vconcat: [
      { hconcat: environments.map((e) => panel(e, "mbps", true)) },
      { hconcat: environments.map((e) => panel(e, "cpu", false)) },
    ],
    resolve: { scale: { color: "shared", strokeDash: "shared", shape: "shared" } },
  };
}

/** One strategy's point on the price-of-safety frontier. */
export interface FrontierPoint {
  environment: EnvironmentName;
  strategy: string;
  /** What the IOMMU costs under this strategy (the y axis). */
  price: number;
  /** Bytes of memory the device can reach; "all" with no IOMMU. */
  reachableBytes: number | "all";
  /** Drawn filled: what the figure's note says (late DMAs reached memory, translations stayed live …). */
  exposed: boolean;
  releasedButLivePeak: number;
}

export interface FrontierText {
  title: string;
  /** The cost axis. */
  priceTitle: string;
  /** The subtitle: what a filled and a hollow mark mean. */
  note: string;
  /** symlog: a price axis spanning orders of magnitude, through zero (a strategy can cost less than none). */
  priceScale?: "linear" | "symlog";
}

/** Three significant digits, in the unit that keeps neighbours comparable (1020 KiB reads as 0.996 MiB). */
const fmtBytes = (b: number) => (b >= 2 ** 30 ? `${+(b / 2 ** 30).toPrecision(3)} GiB` : b >= 2 ** 19 ? `${+(b / 2 ** 20).toPrecision(3)} MiB` : `${+(b / 1024).toPrecision(3)} KiB`);

/** Ticks of a symlog axis: 0 and the powers of ten out to the data, on each side it reaches. */
function symlogTicks(values: number[]): number[] {
  const ticks = [0];
  const top = Math.max(0, ...values);
  const bottom = Math.min(0, ...values);
  for (let t = 100; t / 10 < top; t *= 10) ticks.push(t); // from 100: ±10 would crowd 0
  for (let t = 100; t / 10 < -bottom; t *= 10) ticks.unshift(-t);
  return ticks;
}

/**
 * Cost against exposure, one point per strategy and environment. The exposure axis is the memory
 * the device can reach, which takes only a few distinct values, so it is drawn as ordered bands:
 * every strategy has its own slot in each band (no point hides another), identified by colour and
 * shape together; a hollow mark means a late DMA to a released buffer was stopped.
 */
export function frontierPlot(points: FrontierPoint[], text: FrontierText): VegaLiteSpec {
  const strategies = [...new Set(points.map((p) => p.strategy))];
  const reach = (p: FrontierPoint) => (p.reachableBytes === "all" ? Infinity : p.reachableBytes);
  const bands = [...new Set(points.map(reach))].sort((a, b) => a - b);
  const values = points.map((p) => ({
    environment: p.environment,
    strategy: p.strategy,
    price: Math.round(p.price * 10) / 10,
    reachable: p.reachableBytes === "all" ? "all memory" : fmtBytes(p.reachableBytes),
    exposed: p.exposed ? "filled" : "hollow",
    releasedButLivePeak: p.releasedButLivePeak,
  }));
  const bandLabels = bands.map((b) => (b === Infinity ? "all memory" : fmtBytes(b)));
  const strategyScale = { domain: strategies, range: strategies.map((_, i) => SERIES_PALETTE[i % SERIES_PALETTE.length]) };
  return {
    $schema: SCHEMA,
    title: { text: text.title, subtitle: text.note },
    config,
    data: { values },
    facet: {
      column: {
        field: "environment", type: "nominal", title: null, sort: ENVIRONMENT_ORDER,
        header: { labelExpr: `({ baremetal: "bare metal", "xen-dom0": "Xen dom0", "xen-domU": "Xen domU" })[datum.value] || datum.value` },
      },
    },
    spec: {
      width: bands.length * Math.max(80, strategies.length * 14),
      height: 260,
      mark: { type: "point", filled: true, size: 110, strokeWidth: 2, opacity: 1 },
      encoding: {
        x: {
          field: "reachable", type: "ordinal", sort: bandLabels, scale: { type: "band", paddingInner: 0.25, paddingOuter: 0.1 },
          title: "memory the device can reach", axis: { labelAngle: 0, grid: false },
        },
        xOffset: { field: "strategy", type: "nominal", sort: strategies, scale: { domain: strategies } },
        y: {
          field: "price", type: "quantitative", title: text.priceTitle,
          ...(text.priceScale === "symlog" ? { scale: { type: "symlog", constant: 10 }, axis: { values: symlogTicks(points.map((p) => p.price)), labelExpr: "abs(datum.value) >= 1000 ? format(datum.value, '.3~s') : format(datum.value, 'd')" } } : {}),
        },
        fill: { field: "strategy", type: "nominal", sort: strategies, title: "strategy", scale: strategyScale },
        stroke: { field: "strategy", type: "nominal", sort: strategies, title: "strategy", scale: strategyScale },
        // Vega-Lite draws no legend for fillOpacity: the subtitle says what hollow means
        fillOpacity: { field: "exposed", type: "nominal", sort: ["filled", "hollow"], scale: { domain: ["filled", "hollow"], range: [1, 0] }, legend: null },
        shape: { field: "strategy", type: "nominal", sort: strategies, title: "strategy", scale: { domain: strategies, range: strategies.map((_, i) => SHAPES[i % SHAPES.length]) } },
        tooltip: [{ field: "environment" }, { field: "strategy" }, { field: "price", title: text.priceTitle }, { field: "reachable" },
          { field: "releasedButLivePeak", title: "released-but-live peak (pages)" }],
      },
    },
    resolve: { scale: { y: "shared" } },
  };
}

/** The price-of-safety frontier of the reproduction: CPU overhead at 64 KiB against what each strategy leaves reachable. */
export function frontierSpec(rows: WhatIfRow[]): VegaLiteSpec {
  return frontierPlot(
    rows.map((r) => ({
      environment: r.environment, strategy: r.strategy, price: r.cpuOverheadPct, reachableBytes: r.exposure.reachableBytes,
      exposed: r.exposure.lateDmaReachedPct > 0, releasedButLivePeak: r.exposure.releasedButLivePeak,
    })),
    {
      title: "The price of safety: what the IOMMU costs against what it leaves reachable (netperf, 64 KiB messages)",
      priceTitle: "CPU overhead of the IOMMU (%)",
      note: "filled: a late DMA to a just-released buffer still reached memory; hollow: it was stopped. Strategies at the same reachable memory stand side by side.",
    },
  );
}

/** The price-of-safety frontier of a replayed trace (see workloads/trace-frontier.ts). */
export function traceFrontierSpec(points: FrontierPoint[], traceName: string, platform: string): VegaLiteSpec {
  // a whole-guest setup (preallocated) priced over a short trace dwarfs the per-operation costs
  const magnitudes = points.map((p) => Math.abs(p.price)).filter((m) => m >= 1);
  const wide = magnitudes.length > 0 && Math.max(...magnitudes) / Math.min(...magnitudes) > 100;
  return frontierPlot(points, {
    title: `The price of safety of ${traceName} on ${platform}: what the IOMMU adds against what it leaves reachable`,
    priceTitle: `cycles the IOMMU adds per operation${wide ? " (symlog scale)" : ""}`,
    priceScale: wide ? "symlog" : "linear",
    note: "filled: translations stayed live after the driver released them, or a late DMA reached memory; hollow: neither. Strategies at the same reachable memory stand side by side.",
  });
}

/** The price of safety across IOMMUs (see workloads/platform-frontier.ts). */
export function platformFrontierSpec(points: FrontierPoint[]): VegaLiteSpec {
  // Calgary's strict flush (a split-queue drain per unmap) is two orders above the rest
  return frontierPlot(points, {
    title: "The price of safety across IOMMUs: a NIC ring of 32 buffers on each platform in its invalidation mode",
    priceTitle: "cycles the IOMMU adds per map + unmap (symlog scale)",
    priceScale: "symlog",
    note: "filled: a late DMA to a just-released buffer still reached memory, or translations stayed live; hollow: neither. Same cost profile for all.",
  });
}

/** A sweep's result row, flattened: the configuration's settings and the figures. */
export type SweepRow = Record<string, string | number>;

/**
 * A sweep's figure against its first grid axis, one series per combination of the other axes.
 * A numeric axis is a line over sorted numbers (log scale when it spans 16× or more); a
 * categorical one is grouped bars in the grid's order, since joining categories by lines would
 * suggest an order between them. Series are ordered numerically where their values are numbers.
 */
export function sweepSpec(rows: SweepRow[], keys: string[], y: { field: string; title: string }, title: string): VegaLiteSpec {
  const [xKey, ...seriesKeys] = keys;
  const numericX = rows.every((r) => typeof r[xKey] === "number");
  const firstSeen = (k: string) => [...new Set(rows.map((r) => r[k]))];
  const order = Object.fromEntries(keys.map((k) => {
    const seen = firstSeen(k);
    const sorted = seen.every((v) => typeof v === "number") ? [...seen].sort((a, b) => (a as number) - (b as number)) : seen;
    return [k, sorted];
  }));
  // one series axis: its values, under the axis name as legend title; more: key=value pairs
  const seriesOf = (r: SweepRow) => (seriesKeys.length === 1 ? String(r[seriesKeys[0]]) : seriesKeys.map((k) => `${k}=${r[k]}`).join(", ") || "all");
  const rank = (r: SweepRow) => seriesKeys.map((k) => order[k].indexOf(r[k]));
  const seriesDomain = [...new Map(
    [...rows].sort((a, b) => {
      const ra = rank(a), rb = rank(b);
      for (let i = 0; i < ra.length; i++) if (ra[i] !== rb[i]) return ra[i] - rb[i];
      return 0;
    }).map((r) => [seriesOf(r), true]),
  ).keys()];
  const values = rows.map((r) => ({ ...r, x: r[xKey], series: seriesOf(r), value: r[y.field] }));
  const xs = values.map((v) => v.x as number);
  const log = numericX && Math.min(...xs) > 0 && Math.max(...xs) / Math.min(...xs) >= 16;
  const color = {
    field: "series", type: "nominal", title: seriesKeys.join(", ") || null, sort: seriesDomain,
    scale: { domain: seriesDomain, range: seriesDomain.map((_, i) => OKABE_ITO[i % OKABE_ITO.length]) },
    legend: seriesKeys.length ? {} : null,
  };
  const tooltip = [...keys.map((k) => ({ field: k })), { field: "value", title: y.title, format: ".3~f" }];
  const yEnc = { field: "value", type: "quantitative", title: y.title };
  const body = numericX
    ? {
      mark: { type: "line", point: { size: 50, filled: true }, strokeWidth: 2 },
      encoding: {
        x: {
          field: "x", type: "quantitative", title: xKey,
          ...(log ? { scale: { type: "log", base: 2, nice: false }, axis: { values: order[xKey], labelExpr: BYTES_LABEL } } : { axis: { values: order[xKey] } }),
        },
        y: yEnc,
        color,
        shape: { field: "series", type: "nominal", sort: seriesDomain, legend: null, scale: { domain: seriesDomain, range: seriesDomain.map((_, i) => SHAPES[i % SHAPES.length]) } },
        order: { field: "x", type: "quantitative" },
        tooltip,
      },
    }
    : {
      mark: { type: "bar" },
      encoding: {
        x: { field: "x", type: "nominal", title: xKey, sort: order[xKey], axis: { labelAngle: 0, labelLimit: 0, grid: false } },
        xOffset: { field: "series", type: "nominal", sort: seriesDomain },
        y: yEnc,
        color,
        tooltip,
      },
    };
  return {
    $schema: SCHEMA,
    title,
    config,
    data: { values },
    // a categorical axis: the step is one bar's width (Vega-Lite sizes the offset band)
    width: numericX ? 480 : { step: 22 },
    height: 280,
    ...body,
  };
}

/** The `sweep --plot` figure: CPU with the IOMMU on against the first grid axis, on the study's CPU scale. */
export function sweepCpuSpec(configs: ReadonlyArray<{ environment: EnvironmentName }>, onCpu: number[], keys: string[]): VegaLiteSpec {
  const rows = configs.map((c, i) => ({ ...Object.fromEntries(keys.map((k) => [k, (c as Record<string, string | number>)[k]])), environment: c.environment, onCpu: onCpu[i] }));
  const envs = [...new Set(configs.map((c) => c.environment))];
  const yTitle = envs.length === 1 ? cpuTitle(envs[0], "CPU, IOMMU on") : "CPU, IOMMU on (out of 100 on bare metal, 800 under Xen)";
  return sweepSpec(rows, keys, { field: "onCpu", title: yTitle }, `sweep: CPU with the IOMMU on against ${keys[0]}`);
}
