// Replays a dropped trace off the page's thread: parsed here, then priced under every strategy ×
// environment, each row posted as soon as it is done so the page fills in while the rest runs.
// Modules, not lib/index.js: a worker has no import map, so nothing bare may be in its graph.
import { parseTrace } from "../lib/trace/parse.js";
import { createIommuWith } from "../lib/wasm-iommu.js";
import { traceFrontier } from "../lib/workloads/trace-frontier.js";

self.onmessage = async ({ data: { module, file, platform } }) => {
  try {
    const trace = parseTrace(await file.text());
    self.postMessage({ type: "parsed", operations: trace.ops.length, skipped: trace.skipped.length });
    traceFrontier(trace, platform, (o) => createIommuWith(module, o), (row, done, total) => self.postMessage({ type: "row", row, done, total }));
    self.postMessage({ type: "done" });
  } catch (e) {
    self.postMessage({ type: "error", message: e instanceof Error ? e.message : String(e) });
  }
};
