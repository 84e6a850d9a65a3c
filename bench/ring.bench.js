// NIC-like ring: 256 outstanding one-page mappings; each step unmaps the oldest and maps a new
// buffer into its slot. Throughput in map-or-unmap events per second, through
//   - the WASM core, batched (4096 records per JS → WASM call),
//   - the WASM core, one public-API call per operation,
//   - the TypeScript reference model, one call per operation.
// Each tinybench iteration runs CHUNK events (≥ 256: V8 cannot tier up a running WASM call).
// Usage: npm run bench   (or: node bench/ring.bench.js [--time ms] [--rounds n] [--platform P])

import os from "node:os";
import { Bench } from "tinybench";
import { createIommu, createReferenceIommu, putMap, putUnmap, DIR } from "../lib/node.js";

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const TIME = Number(opt("--time", "5000"));
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

// This machine (a 2-core VM) switches between a fast and a slow regime for seconds at a time
// (seen here: the same loop at ~45 and ~80 M events/s within one process). Tasks therefore run
// interleaved in ROUNDS short rounds, and each figure is the median of the round medians, with the
// range over rounds, so a regime change affects every path alike.
const ROUNDS = Number(opt("--rounds", "5"));
const perRound = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
let name = "";
for (let r = 0; r < ROUNDS; r++) {
  const bench = new Bench({ time: TIME / ROUNDS, warmupTime: r === 0 ? 300 : 50 });
  for (const [k, c] of Object.entries(cases)) bench.add(k, c.fn);
  await bench.run();
  for (const t of bench.tasks) perRound[t.name].push(t.result.throughput.p50 * CHUNK / 1e6);
  name = `ring of ${RING} one-page mappings on ${PLATFORM}`;
}
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const rows = Object.entries(perRound).map(([k, xs]) => ({ name: k, med: median(xs), lo: Math.min(...xs), hi: Math.max(...xs), rounds: xs }));
const base = rows.find((r) => r.name === "wasm batched").med;
console.log(`# ${name}`);
console.log(`# node ${process.version}, ${os.cpus()[0]?.model ?? "cpu"} × ${os.cpus().length}, ${Math.round(os.totalmem() / 2 ** 30)} GiB; ${CHUNK} events per iteration, ${ROUNDS} interleaved rounds, ${TIME} ms per task in all`);
console.log("| path | M events/s (median of rounds) | range over rounds | vs batched |");
console.log("|---|---:|---:|---:|");
for (const r of rows) {
  console.log(`| ${r.name} | ${r.med.toFixed(1)} | ${r.lo.toFixed(1)}–${r.hi.toFixed(1)} | ${(r.med / base).toFixed(2)}× |`);
}
// Sanity: the ring never fails a mapping and every path did the same kind of work.
for (const [k, c] of Object.entries(cases)) {
  const s = c.io.stats();
  // under lazy invalidation unmapped pages wait in the flush queue: in use, not mapped
  if (s.mapFailures !== 0 || s.pagesInUse - s.pagesQueued !== RING) throw new Error(`${k}: ring broke (${JSON.stringify(s)})`);
}
