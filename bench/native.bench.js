// The core's speed against the native limit: the Calgary allocator driving a NIC ring of 256
// one-page buffers, (1) in C at -O2 (bench/native/ring.c, built with the machine's cc if there is
// one), (2) inside WASM (the core's built-in ring: the same DMA-API paths every caller uses),
// (3) in optimised plain JS on typed arrays (bench/plain-js-ring.js). Interleaved rounds; each
// figure is the median of the rounds with their range. benchmark.js cross-checks the WASM figure.
// Usage: node bench/native.bench.js [--rounds n] [--steps n]

import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import os from "node:os";
import { createRequire } from "node:module";
import { createNicRing } from "../lib/node.js";
import { createPlainRing } from "./plain-js-ring.js";

const args = process.argv.slice(2);
const opt = (n, d) => (args.includes(n) ? args[args.indexOf(n) + 1] : d);
const ROUNDS = Number(opt("--rounds", "7"));
const STEPS = Number(opt("--steps", "10000000")); // unmap+map pairs per measurement

const root = new URL("../", import.meta.url);
const binary = new URL("build/ring-native", root).pathname;
const cc = ["cc", "gcc", "clang"].find((c) => spawnSync(c, ["--version"]).status === 0);
let native = null;
if (cc) {
  mkdirSync(new URL("build/", root).pathname, { recursive: true });
  execFileSync(cc, ["-O2", "-o", binary, new URL("bench/native/ring.c", root).pathname]);
  native = () => Number(/events_per_second (\d+)/.exec(execFileSync(binary, [String(STEPS)], { encoding: "utf8" }))[1]);
} else {
  console.log("# no C compiler on this machine: the native baseline is skipped");
}

const wasmRing = createNicRing({ platform: "calgary-pcix" });
const jsRing = createPlainRing();
const timeIt = (run) => {
  // chunks of 1M steps: long enough to amortise the call, short enough for V8 to tier up between calls
  const t0 = performance.now();
  for (let done = 0; done < STEPS; done += 1_000_000) run(Math.min(1_000_000, STEPS - done));
  return (2 * STEPS) / ((performance.now() - t0) / 1000);
};
wasmRing.run(2_000_000);
jsRing.run(2_000_000);

const paths = { native, "wasm core (built-in ring)": () => timeIt((n) => wasmRing.run(n)), "plain JS": () => timeIt((n) => jsRing.run(n)) };
const samples = Object.fromEntries(Object.keys(paths).map((k) => [k, []]));
for (let r = 0; r < ROUNDS; r++) {
  for (const [k, f] of Object.entries(paths)) if (f) samples[k].push(f());
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (x) => (x / 1e6).toFixed(1);
console.log(`# NIC ring of 256 one-page mappings, Calgary 8M table; ${ROUNDS} interleaved rounds of ${STEPS} unmap+map pairs`);
console.log(`# node ${process.version}, ${os.cpus()[0]?.model ?? "cpu"} × ${os.cpus().length}${cc ? `, ${execFileSync(cc, ["--version"], { encoding: "utf8" }).split("\n")[0]} -O2` : ""}`);
// This VM switches between a fast and a slow regime for seconds at a time (everything halves), so
// ratios are taken within each round (the paths run back to back) and then summarised.
console.log("| path | M events/s (median) | range | vs native (median of per-round ratios, range) | vs plain JS (same) |");
console.log("|---|---:|---:|---:|---:|");
const ratios = (a, b) => samples[a].map((x, i) => x / samples[b][i]);
const span = (xs) => `${median(xs).toFixed(2)}× (${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)})`;
for (const [k, xs] of Object.entries(samples)) {
  if (xs.length === 0) continue;
  console.log(`| ${k} | ${fmt(median(xs))} | ${fmt(Math.min(...xs))}–${fmt(Math.max(...xs))} | ${native ? span(ratios(k, "native")) : "n/a"} | ${span(ratios(k, "plain JS"))} |`);
}
const w = wasmRing.iommu.stats();
const c = jsRing.counters;
if (w.wordsScanned / w.maps !== c.words / c.maps && Math.abs(w.wordsScanned / w.maps - c.words / c.maps) > 0.01) {
  console.log(`# note: words scanned per map differ: wasm ${(w.wordsScanned / w.maps).toFixed(3)} (64-bit words) vs js ${(c.words / c.maps).toFixed(3)} (32-bit words)`);
}

// benchmark.js, as a cross-check of the headline WASM figure (1 000 pairs per call)
const require = createRequire(import.meta.url);
const Benchmark = require("benchmark");
await new Promise((resolve) => {
  new Benchmark("wasm core ring, 1000 pairs per call", () => wasmRing.run(1000), {
    minTime: 2,
    onComplete(e) {
      const hz = e.target.hz * 2000;
      console.log(`# benchmark.js cross-check: wasm core ring ${fmt(hz)} M events/s (±${e.target.stats.rme.toFixed(1)} %, ${e.target.stats.sample.length} samples)`);
      resolve();
    },
  }).run();
});
