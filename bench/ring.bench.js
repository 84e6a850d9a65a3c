// NIC-like ring: 256 outstanding one-page mappings; each step unmaps the oldest and maps a new
// buffer into its slot. Throughput in map-or-unmap events per second, through
//   - the WASM core, batched (4096 records per JS → WASM call),
//   - the WASM core, one public-API call per operation,
//   - the TypeScript reference model, one call per operation.
// Each tinybench iteration runs CHUNK events (≥ 256: V8 cannot tier up a running WASM call).
// Usage: npm run bench   (or: node bench/ring.bench.js [--time ms] [--platform P])

import os from "node:os";
import { Bench } from "tinybench";
import { createIommu, createReferenceIommu, putMap, putUnmap, DIR } from "../lib/node.js";

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const TIME = Number(opt("--time", "2000"));
const PLATFORM = opt("--platform", "calgary-pcix");
const RING = 256;
const CHUNK = 4096; // events per iteration: 2048 unmap+map pairs
const BUF = 1536; // an Ethernet frame buffer, inside one page

/** Batched: the records never change (slot k is unmapped and mapped again), so write them once. */
function batched() {
  const io = createIommu({ platform: PLATFORM });
  const { ops } = io.batch;
  let n = 0;
  for (let k = 0; k < RING; k++) n = putMap(ops, n, k, 0x10000000 + k * 4096, BUF, DIR.fromDevice);
  io.batch.run(n);
  n = 0;
  for (let i = 0; i < CHUNK / 2; i++) {
    const k = i % RING;
    n = putUnmap(ops, n, k);
    n = putMap(ops, n, k, 0x10000000 + ((i * 7) % 65536) * 4096, BUF, DIR.fromDevice);
  }
  return { io, fn: () => io.batch.run(CHUNK) };
}

/** One call per operation through the public API (what a simple caller writes). */
function perCall(make) {
  const io = make({ platform: PLATFORM });
  const ring = new Array(RING);
  for (let k = 0; k < RING; k++) ring[k] = io.mapSingle(0x10000000 + k * 4096, BUF, "from-device");
  let head = 0;
  let phys = 0;
  return {
    io,
    fn: () => {
      for (let i = 0; i < CHUNK / 2; i++) {
        io.unmapSingle(ring[head], BUF);
        phys = (phys + 7) & 0xffff;
        ring[head] = io.mapSingle(0x10000000 + phys * 4096, BUF, "from-device");
        head = (head + 1) & (RING - 1);
      }
    },
  };
}

const cases = {
  "wasm batched": batched(),
  "wasm per call": perCall(createIommu),
  "reference per call": perCall(createReferenceIommu),
};

const bench = new Bench({ name: `ring of ${RING} one-page mappings on ${PLATFORM}`, time: TIME, warmupTime: 300 });
for (const [name, c] of Object.entries(cases)) bench.add(name, c.fn);
await bench.run();

const rows = bench.tasks.map((t) => {
  const r = t.result;
  const med = r.throughput.p50 * CHUNK;
  return { name: t.name, medMevents: med / 1e6, lo: (r.throughput.p25 ?? r.throughput.min) * CHUNK / 1e6, hi: (r.throughput.p75 ?? r.throughput.max) * CHUNK / 1e6, samples: r.latency.samplesCount ?? r.latency.samples?.length };
});
const base = rows.find((r) => r.name === "wasm batched").medMevents;
console.log(`# ${bench.name}`);
console.log(`# node ${process.version}, ${os.cpus()[0]?.model ?? "cpu"} × ${os.cpus().length}, ${Math.round(os.totalmem() / 2 ** 30)} GiB; ${CHUNK} events per iteration, ${TIME} ms per task`);
console.log("| path | M events/s (median) | IQR | vs batched | samples |");
console.log("|---|---:|---:|---:|---:|");
for (const r of rows) {
  console.log(`| ${r.name} | ${r.medMevents.toFixed(1)} | ${r.lo.toFixed(1)}–${r.hi.toFixed(1)} | ${(r.medMevents / base).toFixed(2)}× | ${r.samples} |`);
}
// Sanity: the ring never fails a mapping and every path did the same kind of work.
for (const [name, c] of Object.entries(cases)) {
  const s = c.io.stats();
  if (s.mapFailures !== 0 || s.pagesInUse !== RING) throw new Error(`${name}: ring broke (${JSON.stringify(s)})`);
}
