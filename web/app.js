// The demo page: everything computed here, from the same library the CLI uses.
import {
  ALLOCATORS, createAllocatorWorkloadWith, createIommuWith, loadIommuModule, messageSizeSpec, parseMeasured,
  parseWorkloadSpec, priceRing, simulateRow,
} from "../lib/index.js";

const $ = (id) => document.getElementById(id);
const status = (text) => { $("status").textContent = text; };

const [module, measuredCsv, calibration] = await Promise.all([
  loadIommuModule(new URL("../build/iommu.wasm", import.meta.url)),
  fetch(new URL("../data/seed-netperf.csv", import.meta.url)).then((r) => r.text()),
  fetch(new URL("../profiles/netperf-calibrated.json", import.meta.url)).then((r) => r.json()),
]);
const measured = parseMeasured(measuredCsv);
const makeIommu = (o) => createIommuWith(module, o);

/** The rows the page shows: simulated off/on per size, with the measured figures where the study has them. */
export function compute({ platform, strategy, environment, sizes }) {
  const counts = {
    off: priceRing("none", environment, "straightforward", makeIommu).counts,
    on: priceRing(platform, environment, strategy, makeIommu).counts,
  };
  const params = calibration.environments[environment].params;
  return sizes.map((messageBytes) => {
    const s = simulateRow(environment, messageBytes, params, counts, calibration.costProfile);
    const m = measured.find((r) => r.environment === environment && r.messageBytes === messageBytes);
    return {
      environment, messageBytes,
      simulated: { offMbps: s.offMbps, offCpu: s.offCpu, onMbps: s.onMbps, onCpu: s.onCpu },
      measured: m ? { offMbps: m.offMbps, offCpu: m.offCpu, onMbps: m.onMbps, onCpu: m.onCpu } : null,
      inSample: true,
    };
  });
}

function settings() {
  const sizes = $("sizes").value.split(",").map((s) => Number(s.trim())).filter((n) => Number.isInteger(n) && n > 0);
  return { platform: $("platform").value, strategy: $("strategy").value, environment: $("environment").value, sizes };
}

function renderTable(rows) {
  const f = (x, d) => (x === undefined || x === null ? "" : x.toFixed(d));
  const head = "<tr><th>size</th><th>off Mb/s</th><th>off CPU</th><th>on Mb/s</th><th>on CPU</th><th>% tput diff</th><th>% CPU diff</th><th>measured on CPU</th></tr>";
  const body = rows.map((r) => {
    const s = r.simulated;
    return `<tr data-size="${r.messageBytes}"><td>${r.messageBytes}</td><td>${f(s.offMbps, 1)}</td><td>${f(s.offCpu, 2)}</td><td>${f(s.onMbps, 1)}</td><td>${f(s.onCpu, 2)}</td>` +
      `<td>${f(((s.onMbps - s.offMbps) / s.offMbps) * 100, 1)}</td><td>${f(((s.offCpu - s.onCpu) / s.offCpu) * 100, 1)}</td><td>${f(r.measured?.onCpu, 2)}</td></tr>`;
  }).join("");
  $("table").innerHTML = head + body;
}

async function renderPlot(rows) {
  // measured curves only where the study measured this configuration (Calgary, straightforward)
  const withMeasured = rows.map((r) => ({ ...r, measured: r.measured ?? r.simulated }));
  const spec = messageSizeSpec(withMeasured, "netperf: simulated (solid) and measured (dashed)");
  const view = new vega.View(vega.parse(vegaLite.compile(spec).spec), { renderer: "svg" });
  await view.initialize($("plot")).runAsync();
}

let generation = 0;
async function update() {
  const mine = ++generation;
  const s = settings();
  status(`computing ${s.platform} / ${s.strategy} / ${s.environment}…`);
  try {
    const rows = compute(s);
    if (mine !== generation) return;
    renderTable(rows);
    await renderPlot(rows);
    status(`ready: ${s.platform} / ${s.strategy} / ${s.environment}`);
  } catch (e) {
    status(`refused: ${e.message}`);
    $("table").innerHTML = "";
    $("plot").innerHTML = "";
  }
}

// ── allocators ───────────────────────────────────────────────────────────────────────────

export const ALLOC_STEPS = 20_000;

/** Every allocator on one workload: the model's figures, and the speed measured in this page. */
export function computeAllocators({ workload, flushPolicy, cpus }) {
  const spec = parseWorkloadSpec(workload);
  return ALLOCATORS.map((allocator) => {
    const run = createAllocatorWorkloadWith(module, { platform: "calgary-pcix", tableSize: "1M", allocator, flushPolicy, cpus }, { ...spec, seed: 1 });
    const t = performance.now();
    run.run(ALLOC_STEPS);
    const ms = performance.now() - t;
    const f = run.figures();
    return { ...f, mopsPerSecond: f.operations / ms / 1000 };
  });
}

function allocSettings() {
  return { workload: $("workload").value, flushPolicy: $("flush").value, cpus: Number($("cpus").value) };
}

function renderAllocators(rows) {
  const head = "<tr><th>allocator</th><th>M ops/s here</th><th>failed/M</th><th>words/op</th><th>nodes/op</th><th>flushes/M</th><th>magazine hits</th><th>span pages</th><th>largest free run</th></tr>";
  const body = rows.map((r) => `<tr data-allocator="${r.allocator}"><td>${r.allocator}</td><td>${r.mopsPerSecond.toFixed(1)}</td>` +
    `<td>${r.failedPerMillion.toFixed(0)}</td><td>${r.wordsPerOp.toFixed(2)}</td><td>${r.nodesPerOp.toFixed(2)}</td><td>${r.flushesPerMillion.toFixed(1)}</td>` +
    `<td>${(r.rcacheHitRate * 100).toFixed(1)}%</td><td>${r.spanPages}</td><td>${r.state.largestFreeRun}</td></tr>`).join("");
  $("alloc-table").innerHTML = head + body;
}

async function updateAllocators() {
  const s = allocSettings();
  $("alloc-status").textContent = `running ${s.workload}…`;
  await new Promise((r) => setTimeout(r, 0)); // let the status paint before the runs
  try {
    renderAllocators(computeAllocators(s));
    $("alloc-status").textContent = `ready: ${s.workload} / ${s.flushPolicy} / ${s.cpus}`;
  } catch (e) {
    $("alloc-status").textContent = `refused: ${e.message}`;
    $("alloc-table").innerHTML = "";
  }
}

for (const id of ["platform", "strategy", "environment", "sizes"]) $(id).addEventListener("change", update);
for (const id of ["workload", "flush", "cpus"]) $(id).addEventListener("change", updateAllocators);
window.iommuSimDemo = { compute, settings, computeAllocators };
await update();
await updateAllocators();
