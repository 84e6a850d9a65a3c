// The demo page: everything computed here, from the same library the CLI uses.
import {
  ALLOCATORS, ConfigError, createAllocatorWorkloadWith, dmaCounts, createIommuWith, loadIommuModule, MEASURED_SETUP, messageSizeSpec, parseMeasured,
  parseWorkloadSpec, resolveRun, simulateRow, traceFrontierConfigurations, traceFrontierPoints, traceFrontierSpec,
} from "../lib/index.js";
import { Bench } from "../vendor/tinybench/index.js";

const $ = (id) => document.getElementById(id);
const status = (text) => { $("status").textContent = text; };

const [module, measuredCsv, calibration] = await Promise.all([
  loadIommuModule(new URL("../build/iommu.wasm", import.meta.url)),
  fetch(new URL("../data/seed-netperf.csv", import.meta.url)).then((r) => r.text()),
  fetch(new URL("../profiles/netperf-calibrated.json", import.meta.url)).then((r) => r.json()),
]);
const measured = parseMeasured(measuredCsv);
const makeIommu = (o) => createIommuWith(module, o);

/** An error as the page shows it: the library's words, without the command line's flag syntax. */
export function pageMessage(e) {
  return String(e?.message ?? e).replace(/--([a-z]+(?:-[a-z]+)*)/g, (_, flag) => flag.replace(/-/g, " "));
}

/** Whether the study measured this configuration (it measured one platform and strategy, in every environment). */
export function isMeasured({ platform, strategy }) {
  return platform === MEASURED_SETUP.platform && strategy === MEASURED_SETUP.strategy;
}

/** The rows the page shows: simulated off/on per size, with the measured figures where the study has them. */
export function compute({ platform, strategy, environment, sizes }) {
  const counts = dmaCounts(environment, strategy, makeIommu, platform);
  const params = calibration.environments[environment].params;
  const studied = isMeasured({ platform, strategy });
  return sizes.map((messageBytes) => {
    const s = simulateRow(environment, messageBytes, params, counts, calibration.costProfile);
    const m = studied ? measured.find((r) => r.environment === environment && r.messageBytes === messageBytes) : undefined;
    return {
      environment, messageBytes,
      simulated: { offMbps: s.offMbps, offCpu: s.offCpu, onMbps: s.onMbps, onCpu: s.onCpu },
      measured: m ? { offMbps: m.offMbps, offCpu: m.offCpu, onMbps: m.onMbps, onCpu: m.onCpu } : null,
    };
  });
}

/**
 * The message sizes box: whole numbers of bytes, separated by commas or spaces, each within the
 * limits `iommu-sim run` enforces (the same check, resolveRun). Throws a ConfigError otherwise.
 */
export function parseSizes(text, config) {
  const tokens = text.split(/[\s,]+/).filter(Boolean);
  if (tokens.length === 0) throw new ConfigError("message sizes", text, "at least one size in bytes, e.g. 64,1024,65536");
  return tokens.map((t) => {
    if (!/^\d+$/.test(t)) throw new ConfigError("message size", t, "a whole number of bytes");
    return resolveRun({ ...config, messageBytes: Number(t) }).messageBytes;
  });
}

function settings() {
  const config = { platform: $("platform").value, strategy: $("strategy").value, environment: $("environment").value };
  return { ...config, sizes: parseSizes($("sizes").value, config) };
}

function renderTable(rows) {
  const f = (x, d) => (x === undefined || x === null ? "" : x.toFixed(d));
  const head = "<tr><th>size</th><th>off Mb/s</th><th>off CPU</th><th>on Mb/s</th><th>on CPU</th><th>% tput diff</th><th>% CPU diff</th>" +
    "<th>measured on Mb/s</th><th>measured on CPU</th></tr>";
  const body = rows.map((r) => {
    const s = r.simulated;
    return `<tr data-size="${r.messageBytes}"><td>${r.messageBytes}</td><td>${f(s.offMbps, 1)}</td><td>${f(s.offCpu, 2)}</td><td>${f(s.onMbps, 1)}</td><td>${f(s.onCpu, 2)}</td>` +
      `<td>${f(((s.onMbps - s.offMbps) / s.offMbps) * 100, 1)}</td><td>${f(((s.offCpu - s.onCpu) / s.offCpu) * 100, 1)}</td>` +
      `<td class="measured">${f(r.measured?.onMbps, 1)}</td><td class="measured">${f(r.measured?.onCpu, 2)}</td></tr>`;
  }).join("");
  $("table").innerHTML = head + body;
}

async function renderVega(element, spec) {
  const view = new vega.View(vega.parse(vegaLite.compile(spec).spec), { renderer: "svg" });
  await view.initialize(element).runAsync();
  return view;
}

let generation = 0;
async function update() {
  const mine = ++generation;
  let s;
  try {
    s = settings();
  } catch (e) {
    status(`refused: ${pageMessage(e)}`);
    $("table").innerHTML = "";
    $("plot").innerHTML = "";
    return;
  }
  status(`computing ${s.platform} / ${s.strategy} / ${s.environment}…`);
  try {
    const rows = compute(s);
    if (mine !== generation) return;
    renderTable(rows);
    const title = `netperf on ${s.platform}, ${s.strategy}: simulated` + (isMeasured(s) ? " against measured" : "");
    await renderVega($("plot"), messageSizeSpec(rows, title));
    if (mine !== generation) return;
    $("measured-note").textContent = isMeasured(s)
      ? "Measured: the study's figures for this configuration."
      : `No measured figures: the study measured ${MEASURED_SETUP.platform} with ${MEASURED_SETUP.strategy} mapping only.`;
    status(`ready: ${s.platform} / ${s.strategy} / ${s.environment}`);
  } catch (e) {
    status(`refused: ${pageMessage(e)}`);
    $("table").innerHTML = "";
    $("plot").innerHTML = "";
  }
}

// ── allocators ───────────────────────────────────────────────────────────────────────────

export const ALLOC_STEPS = 20_000;
/**
 * A timed sample lasts at least this long: browsers coarsen performance.now() (100 µs, or 5 µs
 * when cross-origin isolated), so a sample of ~0.5 ms would be quantised to a fifth of itself.
 */
export const MIN_SAMPLE_MS = 25;
const BENCH = { time: 250, iterations: 8, warmupTime: 0, warmupIterations: 1 };

function allocOptions(allocator, { flushPolicy, cpus }) {
  return { platform: "calgary-pcix", tableSize: "1M", allocator, flushPolicy, cpus };
}

/** Every allocator on one workload: the model's figures (a fresh run of ALLOC_STEPS steps, as in Node). */
export function computeAllocators(settings) {
  const spec = parseWorkloadSpec(settings.workload);
  return ALLOCATORS.map((allocator) => {
    const run = createAllocatorWorkloadWith(module, allocOptions(allocator, settings), { ...spec, seed: 1 });
    run.run(ALLOC_STEPS);
    return run.figures();
  });
}

/**
 * The allocator's speed in this browser, measured with tinybench: steps are batched until one
 * sample lasts MIN_SAMPLE_MS, then samples are taken for BENCH.time ms (at least BENCH.iterations).
 */
export async function timeAllocator(allocator, settings) {
  const run = createAllocatorWorkloadWith(module, allocOptions(allocator, settings), { ...parseWorkloadSpec(settings.workload), seed: 1 });
  run.run(ALLOC_STEPS); // past the initial fill, into the steady state the samples measure
  let steps = ALLOC_STEPS;
  let opsPerSample = 0;
  for (;;) {
    const before = run.figures().operations;
    const t = performance.now();
    run.run(steps);
    const ms = performance.now() - t;
    opsPerSample = run.figures().operations - before;
    if (ms >= MIN_SAMPLE_MS) break;
    steps *= ms > 0 ? Math.min(8, Math.ceil((MIN_SAMPLE_MS * 1.2) / ms)) : 8;
  }
  const bench = new Bench({ ...BENCH, throws: true });
  bench.add(allocator, () => { run.run(steps); });
  await bench.run();
  const latency = bench.tasks[0].result.latency;
  return { mopsPerSecond: opsPerSample / latency.mean / 1000, rmePct: latency.rme, samples: latency.samplesCount, sampleMs: latency.mean, steps };
}

function allocSettings() {
  return { workload: $("workload").value, flushPolicy: $("flush").value, cpus: Number($("cpus").value) };
}

function renderAllocators(rows) {
  const head = "<tr><th>allocator</th><th>M ops/s here</th><th>failed/M</th><th>words/op</th><th>nodes/op</th><th>flushes/M</th><th>magazine hits</th><th>span pages</th><th>largest free run</th></tr>";
  const body = rows.map((r) => `<tr data-allocator="${r.allocator}"><td>${r.allocator}</td><td class="speed">…</td>` +
    `<td>${r.failedPerMillion.toFixed(0)}</td><td>${r.wordsPerOp.toFixed(2)}</td><td>${r.nodesPerOp.toFixed(2)}</td><td>${r.flushesPerMillion.toFixed(1)}</td>` +
    `<td>${(r.rcacheHitRate * 100).toFixed(1)}%</td><td>${r.spanPages}</td><td>${r.state.largestFreeRun}</td></tr>`).join("");
  $("alloc-table").innerHTML = head + body;
}

let allocGeneration = 0;
async function updateAllocators() {
  const mine = ++allocGeneration;
  const s = allocSettings();
  const label = `${s.workload} / ${s.flushPolicy} / ${s.cpus}`;
  $("alloc-status").textContent = `running ${s.workload}…`;
  await new Promise((r) => setTimeout(r, 0)); // let the status paint before the runs
  try {
    renderAllocators(computeAllocators(s));
    for (const allocator of ALLOCATORS) {
      if (mine !== allocGeneration) return;
      $("alloc-status").textContent = `timing ${allocator} (${label})…`;
      const t = await timeAllocator(allocator, s);
      if (mine !== allocGeneration) return;
      const cell = document.querySelector(`#alloc-table tr[data-allocator="${allocator}"] .speed`);
      cell.textContent = `${t.mopsPerSecond.toFixed(1)} ± ${t.rmePct.toFixed(0)} %`;
      cell.title = `${t.samples} samples of ${t.steps} steps, ${t.sampleMs.toFixed(1)} ms each (tinybench)`;
      Object.assign(cell.dataset, { samples: String(t.samples), sampleMs: String(t.sampleMs) });
    }
    $("alloc-status").textContent = `ready: ${label}`;
  } catch (e) {
    if (mine !== allocGeneration) return;
    $("alloc-status").textContent = `refused: ${pageMessage(e)}`;
    $("alloc-table").innerHTML = "";
  }
}

// ── a dropped trace ──────────────────────────────────────────────────────────────────────

let traceWorker;
let traceRun = 0;

/** Replays `file` (a File or Blob) in a Web Worker under every strategy × environment; rows stream in. */
export function replayTraceFile(file, name, platform) {
  traceWorker?.terminate();
  const mine = ++traceRun;
  const worker = new Worker(new URL("./trace-worker.js", import.meta.url), { type: "module" });
  traceWorker = worker;
  const rows = [];
  const total = traceFrontierConfigurations().length;
  const show = (text) => { $("trace-status").textContent = text; };
  $("trace-table").innerHTML = "";
  $("trace-plot").innerHTML = "";
  show(`reading ${name}…`);
  return new Promise((resolve) => {
    worker.onmessage = async ({ data }) => {
      if (mine !== traceRun) return;
      if (data.type === "parsed") show(`${name}: ${data.operations} operations; replaying under ${total} configurations…`);
      else if (data.type === "row") {
        rows.push(data.row);
        renderTraceTable(rows);
        show(`${name}: ${rows.length} of ${total} configurations replayed…`);
      } else if (data.type === "done") {
        worker.terminate();
        await renderVega($("trace-plot"), traceFrontierSpec(traceFrontierPoints(rows), name, platform));
        if (mine !== traceRun) return;
        const refused = rows.filter((r) => r.refused !== undefined).length;
        show(`replayed: ${name} on ${platform}, ${rows.length - refused} configurations` + (refused ? ` (${refused} refused the trace)` : ""));
        resolve(rows);
      } else if (data.type === "error") {
        worker.terminate();
        show(`refused: ${name}: ${pageMessage(data)}`);
        resolve(null);
      }
    };
    worker.onerror = (e) => {
      // a module worker that fails to load reports an event without a message
      show(`failed: ${name}: ${e.message ?? "the trace worker could not start"}`);
      resolve(null);
    };
    worker.postMessage({ module, file, platform });
  });
}

const escapeHtml = (t) => t.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);

function renderTraceTable(rows) {
  const mib = (b) => (b === "all" ? "all" : `${(b / 2 ** 20).toFixed(2)} MiB`);
  const head = "<tr><th>environment</th><th>strategy</th><th>operations</th><th>cycles</th><th>no IOMMU</th><th>added / op</th>" +
    "<th>crossings</th><th>released-but-live peak</th><th>late DMAs reached</th><th>late DMAs blocked</th><th>reachable</th></tr>";
  const body = rows.map((r) => r.refused !== undefined
    ? `<tr data-config="${r.environment}/${r.strategy}"><td>${r.environment}</td><td>${r.strategy}</td><td colspan="9" class="refused">refused: ${escapeHtml(pageMessage(r.refused))}</td></tr>`
    : `<tr data-config="${r.environment}/${r.strategy}"><td>${r.environment}</td><td>${r.strategy}</td><td>${r.operations}</td>` +
    `<td>${Math.round(r.cycles)}</td><td>${Math.round(r.cyclesNoIommu)}</td><td>${r.addedCyclesPerOp.toFixed(1)}</td><td>${r.crossings}</td>` +
    `<td>${r.exposure.releasedButLivePeak}</td><td>${r.exposure.dmaAfterRelease.reached}</td><td>${r.exposure.dmaAfterRelease.blocked}</td>` +
    `<td>${mib(r.exposure.reachableBytes)}</td></tr>`).join("");
  $("trace-table").innerHTML = head + body;
}

function pickTrace(file) {
  if (file) void replayTraceFile(file, file.name, $("trace-platform").value);
}

const drop = $("drop");
drop.addEventListener("dragover", (e) => {
  e.preventDefault();
  drop.classList.add("over");
});
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (e) => {
  e.preventDefault();
  drop.classList.remove("over");
  pickTrace(e.dataTransfer?.files?.[0]);
});
$("trace-file").addEventListener("change", (e) => pickTrace(e.target.files?.[0]));
$("trace-example").addEventListener("click", async () => {
  const blob = await fetch(new URL("../examples/nic-ring.trace", import.meta.url)).then((r) => r.blob());
  void replayTraceFile(blob, "nic-ring.trace", $("trace-platform").value);
});

for (const id of ["platform", "strategy", "environment", "sizes"]) $(id).addEventListener("change", update);
for (const id of ["workload", "flush", "cpus"]) $(id).addEventListener("change", updateAllocators);
window.iommuSimDemo = { compute, settings, parseSizes, pageMessage, isMeasured, computeAllocators, replayTraceFile };
await update();
await updateAllocators();
