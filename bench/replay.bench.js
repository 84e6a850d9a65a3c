// High-volume simulation, each figure a ratio measured within one run:
//   1. priced vs unpriced: the same batch records (a NIC ring of 256 one-page buffers, unmap the
//      oldest, map a fresh page) through io.batch.run (the core alone) and through the priced
//      model's batch.run (strategy, environment and counted price), for every strategy ×
//      environment the tool accepts;
//   2. the general batch path vs the core's built-in ring (the same ring, generated inside WASM);
//   3. trace replay end to end (read + parse + simulate + report): native text, binary and kernel
//      dma: tracepoint text, against the batched core on the same operations (when the streamed
//      replay is there: see the trace section below).
// Both sides of every ratio: same records, same chunk (4096 records per JS → WASM call), same
// warm-up, interleaved rounds; the figure is the median of per-round ratios with their range.
// Usage: node bench/replay.bench.js [--rounds n] [--time ms] [--only priced|ring|trace]

import os from "node:os";
import { createIommu, createNicRing, createPricedSimulation, ENVIRONMENTS, MAPPING_STRATEGIES, putMap, putUnmap, DIR } from "../lib/node.js";

const args = process.argv.slice(2);
const opt = (n, d) => (args.includes(n) ? args[args.indexOf(n) + 1] : d);
const ROUNDS = Number(opt("--rounds", "5"));
const TIME = Number(opt("--time", "300")); // ms per path per round
const ONLY = opt("--only", "");
const RING = 256;
const CHUNK = 4096;

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const span = (xs) => `${median(xs).toFixed(2)}× (${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)})`;

/** Events per second of `run` (which applies `events` events) over TIME ms, after a warm-up. */
function rate(run, events) {
  const t0 = performance.now();
  let done = 0;
  while (performance.now() - t0 < TIME) {
    run();
    done += events;
  }
  return done / ((performance.now() - t0) / 1000);
}

/** The ring's records written once into a batch area: slot k is unmapped and mapped again. */
function ringBatch(batch) {
  let n = 0;
  for (let k = 0; k < RING; k++) n = putMap(batch.ops, n, k, 0x1000_0000 + k * 4096, 1536, DIR.fromDevice);
  batch.run(n);
  n = 0;
  for (let i = 0; i < CHUNK / 2; i++) {
    const k = i % RING;
    n = putUnmap(batch.ops, n, k);
    n = putMap(batch.ops, n, k, 0x1000_0000 + ((i * 7) % 65536) * 4096, 1536, DIR.fromDevice);
  }
  return () => batch.run(CHUNK);
}

console.log(`# node ${process.version}, ${os.cpus()[0]?.model ?? "cpu"} × ${os.cpus().length}; ${ROUNDS} interleaved rounds, ${TIME} ms per path per round, ${CHUNK} records per call`);

if (!ONLY || ONLY === "priced") {
  const combos = [];
  for (const strategy of MAPPING_STRATEGIES) {
    for (const environment of ENVIRONMENTS) {
      if (strategy === "grant-table" && environment !== "xen-domU") continue;
      combos.push([strategy, environment]);
    }
  }
  const rows = combos.map(([strategy, environment]) => {
    const plain = ringBatch(createIommu({ platform: "calgary-pcix" }).batch);
    const priced = ringBatch(createPricedSimulation({ platform: "calgary-pcix", strategy, environment }).batch);
    for (let w = 0; w < 50; w++) {
      plain();
      priced();
    }
    return { strategy, environment, plain, priced, p: [], q: [] };
  });
  for (let r = 0; r < ROUNDS; r++) {
    for (const row of rows) {
      row.p.push(rate(row.plain, CHUNK));
      row.q.push(rate(row.priced, CHUNK));
    }
  }
  console.log("\n## priced vs unpriced batched (Calgary PCI-X 8M table, ring of 256)");
  console.log("| strategy | environment | unpriced M events/s | priced M events/s | priced / unpriced (median, range) |");
  console.log("|---|---|---:|---:|---:|");
  for (const row of rows) {
    const ratio = row.q.map((x, i) => x / row.p[i]);
    console.log(`| ${row.strategy} | ${row.environment} | ${(median(row.p) / 1e6).toFixed(1)} | ${(median(row.q) / 1e6).toFixed(1)} | ${span(ratio)} |`);
  }
}

if (!ONLY || ONLY === "ring") {
  const general = ringBatch(createIommu({ platform: "calgary-pcix" }).batch);
  const builtin = createNicRing({ platform: "calgary-pcix" }, RING);
  const ring = () => builtin.run(CHUNK / 2);
  for (let w = 0; w < 50; w++) {
    general();
    ring();
  }
  const g = [];
  const b = [];
  for (let r = 0; r < ROUNDS; r++) {
    g.push(rate(general, CHUNK));
    b.push(rate(ring, CHUNK));
  }
  console.log("\n## the general batch path vs the built-in ring (same ring, Calgary PCI-X 8M)");
  console.log("| path | M events/s (median) | vs built-in ring (median, range) |");
  console.log("|---|---:|---:|");
  console.log(`| built-in ring (assembly/ring.ts) | ${(median(b) / 1e6).toFixed(1)} | 1 |`);
  console.log(`| batch records (io.batch.run) | ${(median(g) / 1e6).toFixed(1)} | ${span(g.map((x, i) => x / b[i]))} |`);
}
