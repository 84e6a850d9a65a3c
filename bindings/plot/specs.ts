// Vega-Lite specifications of the study's curves. Pure data → spec: the same specification is
// rendered to SVG in Node (render.ts) and live in the browser (web/).

import type { ReproRow, WhatIfRow } from "../workloads/report.js";

// A Vega-Lite top-level spec (kept loose: the schema types live in vega-lite, a Node dependency here).
export type VegaLiteSpec = Record<string, unknown>;

const SCHEMA = "https://vega.github.io/schema/vega-lite/v5.json";

/** Throughput and CPU against message size, IOMMU off and on, simulated and measured, per environment. */
export function messageSizeSpec(rows: ReproRow[], title = "netperf TCP_STREAM: simulated (solid) against measured (dashed)"): VegaLiteSpec {
  const values = rows.flatMap((r) =>
    (["simulated", "measured"] as const).flatMap((source) =>
      (["off", "on"] as const).flatMap((iommu) => [
        { environment: r.environment, messageBytes: r.messageBytes, source, iommu: `IOMMU ${iommu}`, metric: "throughput (Mbit/s)", value: r[source][`${iommu}Mbps`] },
        { environment: r.environment, messageBytes: r.messageBytes, source, iommu: `IOMMU ${iommu}`, metric: "CPU (study's scale)", value: r[source][`${iommu}Cpu`] },
      ]),
    ),
  );
  return {
    $schema: SCHEMA,
    title,
    data: { values },
    facet: {
      row: { field: "metric", type: "nominal", title: null },
      column: { field: "environment", type: "nominal", title: null, sort: ["baremetal", "xen-dom0", "xen-domU"] },
    },
    resolve: { scale: { y: "independent" } },
    spec: {
      width: 240,
      height: 160,
      mark: { type: "line", point: true },
      encoding: {
        x: { field: "messageBytes", type: "quantitative", scale: { type: "log", base: 2 }, title: "message size (bytes)" },
        y: { field: "value", type: "quantitative", title: null },
        color: { field: "iommu", type: "nominal", title: null },
        strokeDash: { field: "source", type: "nominal", title: null, scale: { domain: ["simulated", "measured"], range: [[1, 0], [4, 3]] } },
        shape: { field: "source", type: "nominal", legend: null, scale: { domain: ["simulated", "measured"] } },
        tooltip: [{ field: "environment" }, { field: "messageBytes" }, { field: "iommu" }, { field: "source" }, { field: "value", format: ".2f" }],
      },
    },
  };
}

/** The price-of-safety frontier: CPU overhead of the IOMMU against the exposure left, one point per strategy. */
export function frontierSpec(rows: WhatIfRow[]): VegaLiteSpec {
  const values = rows.map((r) => ({
    environment: r.environment,
    strategy: r.strategy,
    cpuOverheadPct: Math.round(r.cpuOverheadPct * 10) / 10,
    exposurePages: r.exposure.releasedButLivePeak,
    lateDmaReachedPct: r.exposure.lateDmaReachedPct,
    reachableKiB: r.exposure.reachableBytes === "all" ? null : r.exposure.reachableBytes / 1024,
    lateDma: `${Math.round(r.exposure.lateDmaReachedPct)} %`,
  }));
  return {
    $schema: SCHEMA,
    title: "The price of safety: CPU overhead of the IOMMU (64 KiB messages) against what it leaves reachable",
    data: { values },
    facet: { column: { field: "environment", type: "nominal", title: null, sort: ["baremetal", "xen-dom0", "xen-domU"] } },
    spec: {
      width: 240,
      height: 220,
      layer: [
        {
          mark: { type: "point", filled: true, size: 80 },
          encoding: {
            x: { field: "reachableKiB", type: "quantitative", scale: { type: "log" }, title: "memory the device can reach (KiB, log)" },
            y: { field: "cpuOverheadPct", type: "quantitative", title: "CPU overhead of the IOMMU (%)" },
            color: { field: "strategy", type: "nominal", title: "strategy" },
            shape: { field: "lateDma", type: "nominal", title: "late DMAs reach memory" },
            tooltip: [{ field: "strategy" }, { field: "cpuOverheadPct" }, { field: "reachableKiB", format: ".0f" }, { field: "exposurePages", title: "released-but-live peak (pages)" }, { field: "lateDma" }],
          },
        },
      ],
    },
  };
}
