// Replays a dropped trace off the page's thread: streamed from the file and parsed here, then priced under every strategy ×
// environment, each row posted as soon as it is done so the page fills in while the rest runs.
// Modules, not lib/index.js: a worker has no import map, so nothing bare may be in its graph.
import { collectTrace } from "../lib/trace/stream.js";
import { createIommuWith } from "../lib/wasm-iommu.js";
import { traceFrontier } from "../lib/workloads/trace-frontier.js";

self.onmessage = async ({ data: { module, file, platform } }) => {
  try {
    // read in chunks (text of either format, or the binary format), lines bounded as replay bounds them
    const trace = await collectTrace(file.stream());
    self.postMessage({ type: "parsed", operations: trace.ops.length, skipped: trace.skipped.length });
    traceFrontier(trace, platform, (o) => createIommuWith(module, o), (row, done, total) => self.postMessage({ type: "row", row, done, total }));
    self.postMessage({ type: "done" });
  } catch (e) {
    self.postMessage({ type: "error", message: e instanceof Error ? e.message : String(e) });
  }
};
