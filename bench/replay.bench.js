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
// Usage: node bench/replay.bench.js [--rounds n] [--time ms] [--only priced|ring|trace|rss] [--ops n]
//   trace: end-to-end `iommu-sim replay` processes on generated traces (--ops, default 1e7);
//   rss: peak RSS of a replay streamed through stdin from `trace generate` at 10^7 and 10^8
//   operations (minutes; not in the default run: `npm run bench` passes --only for it separately).

import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
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

const CLI = new URL("../lib/cli.js", import.meta.url).pathname;
const HOOK = new URL("./rss-hook.mjs", import.meta.url).pathname;

/** Wall seconds and peak RSS (KiB) of one CLI process. */
function timed(args, input) {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, ["--import", HOOK, CLI, ...args], { input, maxBuffer: 1 << 26, encoding: "utf8" });
  const s = (performance.now() - t0) / 1000;
  if (r.status !== 0) throw new Error(`iommu-sim ${args.join(" ")}: exit ${r.status}\n${r.stderr}`);
  return { s, rss: Number(/maxrss-kib (\d+)/.exec(r.stderr)?.[1] ?? NaN), stdout: r.stdout };
}

/** The kernel's dma: tracepoint text for a NIC ring of 256 (what `trace-cmd report` prints): `ops` lines. */
function tracepointRing(ops) {
  const lines = [];
  let t = 100;
  const at = (k) => (0xfff00000 - (k % 256) * 0x1000).toString(16);
  for (let k = 0; lines.length < ops; k++) {
    if (k >= 256) lines.push(`     kworker/1:2-123     [001] .....   ${(t += 0.000001).toFixed(6)}: dma_unmap_page: 0000:03:00.0 dir=FROM_DEVICE dma_addr=${at(k)} size=1536 attrs=`);
    if (lines.length < ops) lines.push(`     kworker/1:2-123     [001] .....   ${(t += 0.000001).toFixed(6)}: dma_map_page: 0000:03:00.0 dir=FROM_DEVICE dma_addr=${at(k)} size=1536 phys_addr=${(0x1a2b3c000 + k * 0x1000).toString(16)} attrs=`);
  }
  return lines.join("\n") + "\n";
}

if (!ONLY || ONLY === "trace") {
  const OPS = Number(opt("--ops", "10000000"));
  const dir = mkdtempSync(join(os.tmpdir(), "iommu-sim-bench-"));
  try {
    const text = join(dir, "ring.trace");
    const bin = join(dir, "ring.bin");
    const tp = join(dir, "ring.tp");
    timed(["trace", "generate", "--workload", "ring:256", "--ops", String(OPS), "-o", text]);
    timed(["trace", "generate", "--workload", "ring:256", "--ops", String(OPS), "--format", "binary", "-o", bin]);
    const tpOps = Math.min(OPS, 2_000_000);
    writeFileSync(tp, tracepointRing(tpOps));
    const core = ringBatch(createIommu({ platform: "calgary-pcix" }).batch);
    for (let w = 0; w < 50; w++) core();
    const paths = {
      "text, unpriced": [[text, "--platform", "calgary-pcix"], OPS],
      "binary, unpriced": [[bin, "--platform", "calgary-pcix"], OPS],
      "tracepoint text, unpriced": [[tp, "--platform", "calgary-pcix"], tpOps],
      "text, priced (straightforward, xen-dom0)": [[text, "--platform", "calgary-pcix", "--strategy", "straightforward", "--environment", "xen-dom0"], OPS],
      "binary, priced (cached, xen-dom0)": [[bin, "--platform", "calgary-pcix", "--strategy", "cached", "--environment", "xen-dom0"], OPS],
    };
    const rows = Object.fromEntries(Object.keys(paths).map((k) => [k, { rate: [], ratio: [], rss: [] }]));
    for (let r = 0; r < ROUNDS; r++) {
      const base = rate(core, CHUNK);
      for (const [k, [args, ops]] of Object.entries(paths)) {
        const t = timed(["replay", ...args]);
        rows[k].rate.push(ops / t.s);
        rows[k].ratio.push(ops / t.s / base);
        rows[k].rss.push(t.rss);
      }
    }
    console.log(`\n## trace replay end to end: one \`iommu-sim replay\` process (start, read, parse, simulate, report) on a ring of 256; ${OPS} operations (tracepoint text: ${tpOps} lines)`);
    console.log("| trace | M ops/s (median) | range | vs the batched core, same run (median, range) | peak RSS MB |");
    console.log("|---|---:|---:|---:|---:|");
    for (const [k, v] of Object.entries(rows)) {
      console.log(`| ${k} | ${(median(v.rate) / 1e6).toFixed(2)} | ${(Math.min(...v.rate) / 1e6).toFixed(2)}–${(Math.max(...v.rate) / 1e6).toFixed(2)} | ${span(v.ratio)} | ${(median(v.rss) / 1024).toFixed(0)} |`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `trace generate … | iommu-sim replay - …`: peak RSS of the replay process. */
function piped(ops, format, extra) {
  return new Promise((resolve, reject) => {
    const gen = spawn(process.execPath, [CLI, "trace", "generate", "--workload", "ring:256", "--ops", String(ops), "--format", format], { stdio: ["ignore", "pipe", "inherit"] });
    const t0 = performance.now();
    const rep = spawn(process.execPath, ["--import", HOOK, CLI, "replay", "-", "--platform", "calgary-pcix", ...extra], { stdio: [gen.stdout, "pipe", "pipe"] });
    let err = "";
    rep.stderr.on("data", (d) => (err += d));
    rep.stdout.resume();
    rep.on("close", (code) => {
      if (code !== 0) return reject(new Error(`replay - exit ${code}: ${err}`));
      resolve({ s: (performance.now() - t0) / 1000, rss: Number(/maxrss-kib (\d+)/.exec(err)?.[1]) });
    });
  });
}

if (ONLY === "rss") {
  console.log("\n## peak RSS of a replay streamed through stdin from `trace generate` (ring of 256)");
  console.log("| operations | format | replay | wall s | M ops/s | peak RSS MB |");
  console.log("|---:|---|---|---:|---:|---:|");
  for (const [ops, format] of [[1e7, "text"], [1e7, "binary"], [1e8, "binary"]]) {
    for (const [name, extra] of [["unpriced", []], ["priced (straightforward, xen-dom0)", ["--strategy", "straightforward", "--environment", "xen-dom0"]]]) {
      const r = await piped(ops, format, extra);
      console.log(`| ${ops.toExponential(0)} | ${format} | ${name} | ${r.s.toFixed(1)} | ${(ops / r.s / 1e6).toFixed(2)} | ${(r.rss / 1024).toFixed(0)} |`);
    }
  }
}
