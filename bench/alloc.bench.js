// Allocator × workload: operations per second of each IO-space allocator on each DMA-shaped
// workload (assembly/workloads.ts, generated and run inside WASM), in one process, with the
// deterministic figures beside them (search work per op, failures; `iommu-sim allocators`
// prints the full set). The headline ratio, Linux IOVA with magazines against the plain tree on
// the NIC ring, is computed per round from the same round's two medians.
// Usage: npm run bench   (or: node bench/alloc.bench.js [--time ms] [--rounds n] [--mode dma|allocator])

import os from "node:os";
import { createRequire } from "node:module";
import { Bench } from "tinybench";
import { ALLOCATORS, createAllocatorWorkload, DEFAULT_WORKLOADS } from "../lib/node.js";

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const TIME = Number(opt("--time", "250")); // ms per task per round
const ROUNDS = Number(opt("--rounds", "3"));
const MODES = opt("--mode", "allocator,dma").split(",");
const STEPS = 2048; // steps per tinybench iteration (one WASM call)
// Calgary 1M table: 128 Ki entries (512 MiB of IO space), so the occupancy runs stay short.
const IOMMU = { platform: "calgary-pcix", tableSize: "1M" };
// The CLI's default grid without its slowest row (occupancy at 90 %: seconds per step batch).
const WORKLOADS = DEFAULT_WORKLOADS.filter((w) => !(w.workload === "occupancy" && w.param === 900));

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

console.log(`# node ${process.version}, ${os.cpus()[0]?.model ?? "cpu"} × ${os.cpus().length}, ${Math.round(os.totalmem() / 2 ** 30)} GiB`);
console.log(`# ${IOMMU.platform} ${IOMMU.tableSize} table; ${STEPS} steps per iteration; ${ROUNDS} interleaved rounds × ${TIME} ms per task`);

for (const mode of MODES) {
  // Each case: a workload already past its initial fill, run STEPS at a time; operations per
  // iteration counted from the core's counters (an occupancy step is one op, the others two).
  const cases = [];
  for (const w of WORKLOADS) {
    for (const allocator of ALLOCATORS) {
      const run = createAllocatorWorkload({ ...IOMMU, allocator }, { ...w, mode });
      run.run(w.workload === "occupancy" ? 100_000 : STEPS); // fill, then warm
      cases.push({ name: `${w.workload}:${w.param} ${allocator}`, w, allocator, run, rates: [] });
    }
  }
  for (let r = 0; r < ROUNDS; r++) {
    const bench = new Bench({ time: TIME, iterations: 8, warmupTime: r === 0 ? 50 : 10, warmupIterations: 2 });
    for (const c of cases) bench.add(c.name, () => c.run.run(STEPS));
    await bench.run();
    bench.tasks.forEach((t, i) => {
      const c = cases[i];
      const opsPerStep = c.w.workload === "occupancy" ? 1 : 2;
      c.rates.push((t.result.throughput.p50 * STEPS * opsPerStep) / 1e6);
    });
  }
  console.log(`\n## mode: ${mode === "dma" ? "dma (full map/unmap: table writes, cache, flush hooks)" : "allocator (allocPages / freePages alone)"}\n`);
  // Each cell: M ops/s (median of the round medians) and the ratio to calgary on the same
  // workload, taken per round (median, range over rounds): the VM's speed regimes cancel out.
  console.log(`| workload | ${ALLOCATORS.map((a) => `${a}: M ops/s · × calgary`).join(" | ")} |`);
  console.log(`|---|${ALLOCATORS.map(() => "---:").join("|")}|`);
  for (const w of WORKLOADS) {
    const row = cases.filter((c) => c.w === w);
    const base = row.find((c) => c.allocator === "calgary");
    const cell = (c) => {
      const r = c.rates.map((x, i) => x / base.rates[i]);
      return `${median(c.rates).toFixed(1)} · ${median(r).toFixed(2)}× (${Math.min(...r).toFixed(2)}–${Math.max(...r).toFixed(2)})`;
    };
    console.log(`| ${w.workload}:${w.param} | ${row.map(cell).join(" | ")} |`);
  }
  console.log(`\n| workload | ${ALLOCATORS.map((a) => `${a} words·nodes/op`).join(" | ")} |`);
  console.log(`|---|${ALLOCATORS.map(() => "---:").join("|")}|`);
  for (const w of WORKLOADS) {
    const row = cases.filter((c) => c.w === w).map((c) => c.run.figures());
    console.log(`| ${w.workload}:${w.param} | ${row.map((f) => (f.wordsPerOp + f.nodesPerOp).toFixed(2)).join(" | ")} |`);
  }
  for (const ring of [256, 4096]) {
    const get = (a) => cases.find((c) => c.w.workload === "ring" && c.w.param === ring && c.allocator === a);
    const mag = get("iova");
    const tree = get("iova-tree");
    const ratios = mag.rates.map((x, i) => x / tree.rates[i]);
    console.log(`\niova (magazines) / iova-tree on ring:${ring}, ${mode}: ${median(ratios).toFixed(2)}× median per round (${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)}); target ≥ 2×`);
  }
  // Sanity: the rings and bursts never fail; the magazines serve the ring.
  for (const c of cases) {
    const f = c.run.figures();
    if (c.w.workload !== "occupancy" && f.failedMaps !== 0) throw new Error(`${c.name}: ${f.failedMaps} failed maps`);
    if (c.allocator === "iova" && c.w.workload === "ring" && f.rcacheHitRate < 0.99) throw new Error(`${c.name}: magazines missed`);
  }
}

// benchmark.js cross-check of the headline ratio: magazines against the plain tree, ring of 256,
// allocator alone, one suite (the two run back to back; the ratio of their rates).
const require = createRequire(import.meta.url);
const Benchmark = require("benchmark");
await new Promise((resolve) => {
  const runs = ["iova", "iova-tree"].map((allocator) => {
    const run = createAllocatorWorkload({ ...IOMMU, allocator }, { workload: "ring", param: 256, mode: "allocator" });
    run.run(STEPS);
    return run;
  });
  const suite = new Benchmark.Suite();
  suite.add("iova", () => runs[0].run(STEPS), { minTime: 1 });
  suite.add("iova-tree", () => runs[1].run(STEPS), { minTime: 1 });
  suite.on("complete", function () {
    const [mag, tree] = this.map((b) => b);
    const rate = (b) => (b.hz * STEPS * 2) / 1e6;
    console.log(`\n# benchmark.js cross-check, ring:256 allocator alone: iova ${rate(mag).toFixed(1)} M ops/s (±${mag.stats.rme.toFixed(1)} %), iova-tree ${rate(tree).toFixed(1)} (±${tree.stats.rme.toFixed(1)} %): ${(mag.hz / tree.hz).toFixed(2)}×`);
    resolve();
  });
  suite.run();
});
