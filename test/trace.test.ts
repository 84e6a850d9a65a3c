// Trace parsing (native and the kernel's dma: tracepoints), replay, and the CLI on top.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createIommu, createReferenceIommu, parseTrace, putCpu, replayTrace, type IommuOptions } from "../bindings/node.js";
import { TraceError } from "../bindings/trace/parse.js";
import { randomTrace } from "./helpers/random-trace.js";

const CLI = join(__dirname, "..", "lib", "cli.js");
const dir = mkdtempSync(join(tmpdir(), "iommu-sim-"));
const file = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};

describe("native trace format", () => {
  it("parses every operation, ignoring comments and blank lines", () => {
    const t = parseTrace([
      "# header",
      "map a 1234 100 to-device",
      "map_sg s from-device 5000:4096 9ff0:32 # trailing comment",
      "",
      "alloc c 8192",
      "access a 0 64 read",
      "unmap a",
      "unmap_sg s",
      "free c",
    ].join("\n"));
    expect(t.ops.map((o) => o.kind)).toEqual(["map", "map_sg", "alloc", "access", "unmap", "unmap_sg", "free"]);
    expect(t.ops[1]).toMatchObject({ segments: [{ phys: 0x5000, bytes: 4096 }, { phys: 0x9ff0, bytes: 32 }], line: 3 });
  });

  it("stops at a malformed line with its number and content", () => {
    expect(() => parseTrace("map a 1000 64 to-device\nmap b zz 64 to-device\n")).toThrow(
      /line 2: phys must be hexadecimal, got "zz": map b zz 64 to-device/,
    );
    expect(() => parseTrace("frobnicate x\n")).toThrow(TraceError);
  });

  it("skips and counts malformed lines under lenient", () => {
    const t = parseTrace("map a 1000 64 to-device\nmap b 1000 0 to-device\nunmap a\n", { lenient: true });
    expect(t.ops).toHaveLength(2);
    expect(t.skipped).toEqual([expect.objectContaining({ line: 2 })]);
  });

  it("refuses an unmap of an id that is not mapped, naming the line", () => {
    const t = parseTrace("map a 1000 64 to-device\nunmap a\nunmap a\n");
    expect(() => replayTrace(t, (s) => createIommu({ platform: "calgary-pcix", ...s }))).toThrow(/line 3: unmap of id "a", which is not mapped/);
    const r = replayTrace(t, (s) => createIommu({ platform: "calgary-pcix", ...s }), { lenient: true });
    expect(r.skipped.map((x) => x.line)).toEqual([3]);
  });
});

describe("kernel dma: tracepoint text", () => {
  // Synthetic lines, constructed from the v6.12 TP_printk formats (no captured trace was found).
  const SYNTHETIC = [
    "     kworker/1:2-123     [001] .....   152.318820: dma_map_page: 0000:03:00.0 dir=FROM_DEVICE dma_addr=fffff000 size=1536 phys_addr=1a2b3c040 attrs=",
    "          <idle>-0       [001] ..s1.   152.319102: dma_unmap_page: 0000:03:00.0 dir=FROM_DEVICE dma_addr=fffff000 size=1536 attrs=",
    "     kworker/0:1-45      [000] .....   153.000001: dma_map_sg: 0000:00:17.0 dir=TO_DEVICE dma_addrs={0xffffe000,0xfffff000} sizes={0x1000,0x200} phys_addrs={0x10a000000,0x10b000000} attrs=",
    "     kworker/0:1-45      [000] .....   153.004400: dma_unmap_sg: 0000:00:17.0 dir=TO_DEVICE phys_addrs={0x10a000000,0x10b000000} attrs=",
    "        modprobe-301     [002] .....     3.141592: dma_alloc: 0000:02:00.0 dir=BIDIRECTIONAL dma_addr=fffe0000 size=8192 virt_addr=00000000c0ffee11 flags=GFP_KERNEL attrs=",
    "        modprobe-301     [002] .....     3.150000: dma_free: 0000:02:00.0 dir=BIDIRECTIONAL dma_addr=fffe0000 size=8192 virt_addr=00000000c0ffee11 attrs=",
    "     kworker/1:2-123     [001] .....   152.400000: dma_sync_single_for_cpu: 0000:03:00.0 dir=FROM_DEVICE dma_addr=fffff000 size=1536",
  ].join("\n");

  it("maps the events to operations keyed by device and address", () => {
    const t = parseTrace(SYNTHETIC);
    expect(t.ops.map((o) => (o.kind === "cpu" ? `cpu ${o.cpu}` : `${o.kind} ${o.id}`))).toEqual([
      "cpu 1", // the [001] column: a CPU switch before the first event off CPU 0
      "map 0000:03:00.0@fffff000",
      "unmap 0000:03:00.0@fffff000",
      "cpu 0",
      "map_sg 0000:00:17.0@{0x10a000000,0x10b000000}",
      "unmap_sg 0000:00:17.0@{0x10a000000,0x10b000000}",
      "cpu 2",
      "alloc 0000:02:00.0@fffe0000",
      "free 0000:02:00.0@fffe0000",
    ]);
    expect(t.ops[1]).toMatchObject({ phys: 0x1a2b3c040, bytes: 1536, dir: "from-device" });
    expect(t.ops[4]).toMatchObject({ segments: [{ phys: 0x10a000000, bytes: 0x1000 }, { phys: 0x10b000000, bytes: 0x200 }] });
    expect(t.ignored).toBe(1);
  });

  it("replays them: the model hands out its own addresses", () => {
    const r = replayTrace(parseTrace(SYNTHETIC), (s) => createIommu({ platform: "calgary-pcix", ...s }));
    // 0x1a2b3c040 has offset 0x040 → entry 32; sg: entries 33, 34; coherent 2 pages: 35
    expect(r.addresses.map((a) => a.dma)).toEqual([[0x20040], [0x21000, 0x22000], [0x23000]]);
    expect(r.stats.pagesInUse).toBe(0);
  });
});

describe("CPUs in traces (the IOVA allocator's per-CPU magazines)", () => {
  // CPU 1 unmaps what CPU 0 mapped: the pfn lands in CPU 1's magazine, so CPU 0's next map
  // goes to the tree (a new address) while CPU 1's reuses it.
  const native = ["map a 100000 4096 to-device", "cpu 1", "unmap a", "cpu 0", "map b 200000 4096 to-device", "cpu 1", "map c 300000 4096 to-device"].join("\n");
  const iova = { platform: "calgary-pcix", tableSize: "64K", allocator: "iova" } as const;

  it("switch CPUs with `cpu N` lines and replay them through the batch", () => {
    const t = parseTrace(native);
    expect(t.ops.filter((o) => o.kind === "cpu").map((o) => (o as { cpu: number }).cpu)).toEqual([1, 0, 1]);
    const r = replayTrace(t, (s) => createIommu({ ...iova, ...s }));
    expect(r.operations).toBe(4);
    expect(r.addresses.map((a) => a.dma![0] / 4096)).toEqual([8191, 8190, 8191]);
    const ref = replayTrace(t, (s) => createReferenceIommu({ ...iova, ...s }));
    expect(ref.addresses).toEqual(r.addresses);
    // one CPU: the unmap and both maps share the magazine → b reuses a's page
    const flat = replayTrace(parseTrace(native.replace(/^cpu \d+$/gm, "")), (s) => createIommu({ ...iova, ...s }));
    expect(flat.addresses.map((a) => a.dma![0] / 4096)).toEqual([8191, 8191, 8190]);
  });

  it("refuse too few CPUs for a per-CPU allocator, and bad cpu lines", () => {
    expect(() => replayTrace(parseTrace(native), (s) => createIommu({ ...iova, ...s, cpus: 1 }))).toThrow(/cpus: 1.*at least 2/);
    // bitmap allocators are not per CPU: the switches change nothing
    const r = replayTrace(parseTrace(native), (s) => createIommu({ platform: "calgary-pcix", ...s, cpus: 1 }));
    expect(r.addresses).toHaveLength(3);
    expect(() => parseTrace("cpu 64\n")).toThrow(/line 1.*cpu must be from 0 to 63/);
    expect(() => parseTrace("cpu x\n")).toThrow(/line 1.*cpu must be a decimal number/);
  });

  it("in batches: a CPU beyond the configured ones is a refused record, in the core as in the reference", () => {
    for (const io of [createIommu({ ...iova, cpus: 2 }), createReferenceIommu({ ...iova, cpus: 2 })]) {
      let n = putCpu(io.batch.ops, 0, 1);
      n = putCpu(io.batch.ops, n, 2);
      io.batch.run(n);
      expect([...io.batch.results.slice(0, 2)]).toEqual([0, -2]);
    }
  });
});

describe("replay against the reference (an independent implementation of the same rules)", () => {
  const cases: Array<[string, IommuOptions]> = [
    ["calgary-pcix 8M", { platform: "calgary-pcix" }],
    ["calgary-pcix 64K (wraps and full)", { platform: "calgary-pcix", tableSize: "64K" }],
    ["calioc2 64K", { platform: "calioc2", tableSize: "64K" }],
    ["dart-u3", { platform: "dart-u3" }],
    ["dart-u4", { platform: "dart-u4" }],
  ];
  const text = randomTrace(20_000, 7);
  const parsed = parseTrace(text);

  it.each(cases)("%s: 20 000 operations, same addresses and counters", (_, options) => {
    const wasm = replayTrace(parsed, (s) => createIommu({ ...options, ...s }));
    const ref = replayTrace(parsed, (s) => createReferenceIommu({ ...options, ...s }));
    expect(wasm.operations).toBeGreaterThan(19_000);
    expect(wasm.addresses).toEqual(ref.addresses);
    expect(wasm.stats).toEqual(ref.stats);
  });

  it.each(["iova", "iova-tree"] as const)("%s on 4 CPUs, Calgary 64K: 20 000 operations with CPU switches, same addresses and counters", (allocator) => {
    const t = parseTrace(randomTrace(20_000, 11, 4));
    const options: IommuOptions = { platform: "calgary-pcix", tableSize: "64K", allocator };
    const wasm = replayTrace(t, (s) => createIommu({ ...options, ...s }));
    const ref = replayTrace(t, (s) => createReferenceIommu({ ...options, ...s }));
    expect(t.ops.filter((o) => o.kind === "cpu").length).toBeGreaterThan(500);
    expect(wasm.addresses).toEqual(ref.addresses);
    expect({ ...wasm.stats, nodesVisited: 0 }).toEqual({ ...ref.stats, nodesVisited: 0 });
    expect(wasm.stats.mapFailures).toBeGreaterThan(0);
    if (allocator === "iova") expect(wasm.stats.rcacheHits).toBeGreaterThan(1000);
  });

  it("the CLI prints the reference's addresses and flush count", () => {
    const trace = file("random.trace", text);
    const out = execFileSync("node", [CLI, "replay", trace, "--platform", "calgary-pcix", "--table-size", "64K", "--emit", "addresses"], { encoding: "utf8" });
    const ref = replayTrace(parsed, (s) => createReferenceIommu({ platform: "calgary-pcix", tableSize: "64K", ...s }));
    const expected = ref.addresses.map((a) => `${a.id} ${a.dma === null ? "error" : a.dma.map((d) => "0x" + d.toString(16)).join(" ")}`);
    const lines = out.trim().split("\n");
    expect(lines.slice(0, expected.length)).toEqual(expected);
    expect(lines).toContain(`flushes ${ref.stats.flushes}`);
    expect(ref.stats.flushes).toBeGreaterThan(0);
    expect(ref.stats.mapFailures).toBeGreaterThan(0);
  });
});

describe("tracepoint directions", () => {
  it("refuses a dir= that is a name on Object's prototype", () => {
    expect(() => parseTrace("x-1 [000] ..... 1.0: dma_map_page: dev dir=toString dma_addr=1000 size=1 phys_addr=1000\n")).toThrow(
      /line 1: dir must be BIDIRECTIONAL, TO_DEVICE or FROM_DEVICE, got toString/,
    );
  });
});

describe("CLI errors", () => {
  it("exits 1 naming the line of a malformed trace", () => {
    const r = spawnSync("node", [CLI, "replay", file("bad.trace", "map a 1000 64 to-device\nmap b\n"), "--platform", "dart-u3"], { encoding: "utf8" });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/line 2: expected "map <id> <phys-hex> <bytes> <dir>": map b/);
  });

  it("exits 1 on a bad option value, saying what is allowed", () => {
    const r = spawnSync("node", [CLI, "replay", file("ok.trace", "alloc a 10\n"), "--platform", "dart-u3", "--table-size", "8M"], { encoding: "utf8" });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/tableSize: "8M" is not allowed; expected for dart-u3 one of 2M/);
  });

  it("replays CPU switches under --allocator iova with as many CPUs as the trace names, and refuses fewer", () => {
    const trace = file("cpus.trace", "map a 100000 4096 to-device\ncpu 1\nunmap a\ncpu 0\nmap b 200000 4096 to-device\n");
    const ok = execFileSync("node", [CLI, "replay", trace, "--platform", "calgary-pcix", "--table-size", "64K", "--allocator", "iova", "--emit", "addresses"], { encoding: "utf8" });
    expect(ok).toMatch(/^a 0x1fff000$/m);
    expect(ok).toMatch(/^b 0x1ffe000$/m); // CPU 0 cannot see CPU 1's magazine
    const r = spawnSync("node", [CLI, "replay", trace, "--platform", "calgary-pcix", "--allocator", "iova", "--cpus", "1"], { encoding: "utf8" });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/cpus: 1 is not allowed; expected at least 2/);
  });

  it("counts skipped lines under --lenient", () => {
    const r = spawnSync("node", [CLI, "replay", file("len.trace", "alloc a 10\nbogus\nfree a\n"), "--platform", "dart-u3", "--lenient"], { encoding: "utf8" });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^skipped 1$/m);
  });
});

describe("priced replay from the command line", () => {
  it("--json prints counters, cycles by party and operation, and exposure in one object", () => {
    const r = spawnSync("node", [CLI, "replay", join(__dirname, "..", "examples", "nic-ring.trace"), "--platform", "calgary-pcix", "--strategy", "batched+deferred-flush", "--environment", "xen-domU", "--json"], { encoding: "utf8" });
    expect(r.status).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.strategy).toEqual({ mapping: "batched", flush: "deferred-flush" });
    expect(Object.keys(j.cycles.byParty).sort()).toEqual(["dom0", "domU", "xen"]);
    expect(j.cycles.byOperation.map).toBeGreaterThan(0);
    expect(j.exposure.dmaAfterRelease.reached).toBe(1);
    expect(j.counters.maps).toBe(1280);
  });

  it("a refused combination exits 1 with its reason", () => {
    const r = spawnSync("node", [CLI, "replay", join(__dirname, "..", "examples", "nic-ring.trace"), "--platform", "dart-u3", "--strategy", "grant-table", "--environment", "baremetal"], { encoding: "utf8" });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/grant-table integration is for PV driver domains: it needs the xen-domU environment/);
  });
});
