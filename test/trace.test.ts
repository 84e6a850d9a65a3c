// Trace parsing (native and the kernel's dma: tracepoints), replay, and the CLI on top.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createIommu, createReferenceIommu, parseTrace, replayTrace, type IommuOptions } from "../bindings/node.js";
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
    expect(t.ops.map((o) => `${o.kind} ${o.id}`)).toEqual([
      "map 0000:03:00.0@fffff000",
      "unmap 0000:03:00.0@fffff000",
      "map_sg 0000:00:17.0@{0x10a000000,0x10b000000}",
      "unmap_sg 0000:00:17.0@{0x10a000000,0x10b000000}",
      "alloc 0000:02:00.0@fffe0000",
      "free 0000:02:00.0@fffe0000",
    ]);
    expect(t.ops[0]).toMatchObject({ phys: 0x1a2b3c040, bytes: 1536, dir: "from-device" });
    expect(t.ops[2]).toMatchObject({ segments: [{ phys: 0x10a000000, bytes: 0x1000 }, { phys: 0x10b000000, bytes: 0x200 }] });
    expect(t.ignored).toBe(1);
  });

  it("replays them: the model hands out its own addresses", () => {
    const r = replayTrace(parseTrace(SYNTHETIC), (s) => createIommu({ platform: "calgary-pcix", ...s }));
    // 0x1a2b3c040 has offset 0x040 → entry 32; sg: entries 33, 34; coherent 2 pages: 35
    expect(r.addresses.map((a) => a.dma)).toEqual([[0x20040], [0x21000, 0x22000], [0x23000]]);
    expect(r.stats.pagesInUse).toBe(0);
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
    expect(r.stderr).toMatch(/grant-table integration is for PV driver domains: it needs --environment xen-domU/);
  });
});
