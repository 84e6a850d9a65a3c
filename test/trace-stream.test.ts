// Streamed traces: the streamed replay gives what the whole-file replay gives, whatever the
// chunking; the binary format round-trips; tables stay bounded; non-text input is refused.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  BinaryTraceWriter, collectTrace, createAllocatorWorkload, createIommu, generateTrace, parseTrace, replayTrace, replayTraceStream, TextTraceWriter, TraceReader, pump,
  type IommuOptions,
} from "../bindings/node.js";
import { randomTrace } from "./helpers/random-trace.js";

const enc = new TextEncoder();

/** Splits bytes into chunks at the given cut points. */
function cut(bytes: Uint8Array, at: number[]): Uint8Array[] {
  const points = [...new Set(at.map((x) => Math.min(bytes.length, x)))].sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let p = 0;
  for (const q of points) {
    out.push(bytes.subarray(p, q));
    p = q;
  }
  out.push(bytes.subarray(p));
  return out;
}

function whole(text: string, options: IommuOptions, lenient = false) {
  return replayTrace(parseTrace(text, { lenient }), (s) => createIommu({ ...options, ...s }), { lenient });
}

async function streamed(chunks: Uint8Array[], options: IommuOptions, lenient = false) {
  return replayTraceStream(chunks, (s) => createIommu({ ...options, ...s }), { lenient, collectAddresses: true });
}

/** Text → binary (or any format → the other) through the streamed reader and a writer. */
async function convert(bytes: Uint8Array, to: "text" | "binary"): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  const w = to === "binary" ? new BinaryTraceWriter((b) => parts.push(b.slice())) : new TextTraceWriter((b) => parts.push(b.slice()));
  await pump([bytes], new TraceReader(() => w));
  w.flush();
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

const PLATFORMS: IommuOptions[] = [
  { platform: "calgary-pcix", tableSize: "64K" },
  { platform: "calioc2", tableSize: "64K" },
  { platform: "dart-u3" },
  { platform: "dart-u4" },
  { platform: "calgary-pcix", tableSize: "64K", allocator: "iova" },
  { platform: "calgary-pcix", tableSize: "64K", allocator: "iova", flushPolicy: "flush-queue" },
];

const DIRS = ["bidirectional", "to-device", "from-device"] as const;

/** Lines near the formats: valid ones, and ones with a field missing, doubled, odd or broken. */
const lineArb = (() => {
  const hexNum = fc.oneof(fc.bigInt({ min: 0n, max: 2n ** 56n }).map((v) => v.toString(16)), fc.constantFrom("0x1000", "0X1f", "ffffffffffffffff", "FFFFFFFFFFFFFFFF", "zz", "", "0x"));
  const decNum = fc.oneof(fc.nat({ max: 70000 }).map(String), fc.constantFrom("0", "4294967295", "4294967296", "007", "1e3", "-1", "99999999999999999"));
  const id = fc.oneof(fc.constantFrom("a", "b", "x1", "ünï", "a#b", "0", "17"), fc.stringMatching(/^[!-~]{1,6}$/));
  const dir = fc.oneof(fc.constantFrom(...DIRS), fc.constantFrom("to_device", "toString", ""));
  const kdir = fc.constantFrom("BIDIRECTIONAL", "TO_DEVICE", "FROM_DEVICE", "NONE", "toString");
  const ws = fc.constantFrom(" ", "  ", "\t", " \t ", "\u000b", "\u00a0");
  const native = fc.oneof(
    fc.tuple(id, hexNum, decNum, dir).map(([i, p, b, d]) => `map ${i} ${p} ${b} ${d}`),
    fc.tuple(id).map(([i]) => `unmap ${i}`),
    fc.tuple(id, dir, fc.array(fc.tuple(hexNum, decNum), { maxLength: 4 })).map(([i, d, segs]) => `map_sg ${i} ${d} ${segs.map(([p, b]) => `${p}:${b}`).join(" ")}`),
    fc.tuple(id).map(([i]) => `unmap_sg ${i}`),
    fc.tuple(id, decNum).map(([i, b]) => `alloc ${i} ${b}`),
    fc.tuple(id).map(([i]) => `free ${i}`),
    fc.tuple(id, decNum, decNum, fc.constantFrom("read", "write", "rw")).map(([i, o, b, k]) => `access ${i} ${o} ${b} ${k}`),
    fc.tuple(decNum).map(([c]) => `cpu ${c}`),
  );
  const cpuCol = fc.oneof(fc.nat({ max: 70 }).map((c) => `[${String(c).padStart(3, "0")}]`), fc.constantFrom("[1234]", "[x]", "", "[]"));
  const field = fc.oneof(
    fc.tuple(fc.constantFrom("dir", "dma_addr", "size", "phys_addr", "virt_addr", "phys_addrs", "sizes", "attrs", "flags", "=x"), fc.oneof(hexNum, decNum, kdir, fc.array(hexNum, { maxLength: 3 }).map((a) => `{${a.join(",")}}`)))
      .map(([k, v]) => `${k}=${v}`),
  );
  const event = fc.constantFrom("dma_map_page", "dma_map_phys", "dma_map_resource", "dma_unmap_page", "dma_unmap_phys", "dma_unmap_resource",
    "dma_map_sg", "dma_unmap_sg", "dma_alloc", "dma_free", "dma_sync_single_for_cpu", "dma_x");
  const validMap = fc.tuple(hexNum, decNum, hexNum, kdir).map(([d, sz, p, k]) => [`dir=${k}`, `dma_addr=${d}`, `size=${sz}`, `phys_addr=${p}`, "attrs="]);
  const tracepoint = fc.tuple(fc.constantFrom("  kworker/1:2-123", "<idle>-0", "a b-1", ""), ws, cpuCol, ws, fc.constantFrom(".....", "..s1."), fc.constantFrom("152.318820:", "1:", "x"),
    ws, event, fc.constantFrom(":", "", "::"), ws, fc.constantFrom("0000:03:00.0", "dev", "0000:00:17.0"), fc.oneof(validMap, fc.array(field, { maxLength: 7 })))
    .map(([task, w1, c, w2, flags, ts, w3, ev, colon, w4, dev, fields]) => `${task}${w1}${c}${w2}${flags} ${ts}${w3}${ev}${colon}${w4}${dev} ${fields.join(" ")}`);
  const extra = fc.constantFrom("", "", "", " # comment", "\r", "  ", "\t#x", " \u00e9");
  return fc.tuple(fc.oneof(native, tracepoint, fc.constantFrom("", "# c", "   ")), extra).map(([l, x]) => l + x);
})();

describe("the streamed reader reads what parseTrace reads", () => {
  it("the same operations, skipped lines and ignored events, line for line, however the bytes are cut (property)", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(lineArb, { maxLength: 30 }), fc.array(fc.nat(), { maxLength: 6 }), async (lines, cuts) => {
        const text = lines.join("\n");
        const bytes = enc.encode(text);
        const chunks = cut(bytes, cuts.map((c) => c % (bytes.length + 1)));
        expect(await collectTrace(chunks, { lenient: true })).toEqual(parseTrace(text, { lenient: true }));
        let strictErr = "";
        try {
          parseTrace(text);
        } catch (e) {
          strictErr = (e as Error).message;
        }
        if (strictErr) await expect(collectTrace(chunks)).rejects.toThrow(strictErr);
        else expect((await collectTrace(chunks)).ops).toEqual(parseTrace(text).ops);
      }),
      { numRuns: Number(process.env.FUZZ_RUNS ?? 2000) },
    );
  });
});

describe("streamed replay ≡ whole-file replay", () => {
  it("on random traces, every platform, any chunking (property)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 2 ** 31 }),
        fc.integer({ min: 1, max: 4 }),
        fc.constantFrom(...PLATFORMS),
        fc.array(fc.nat(), { maxLength: 12 }),
        fc.boolean(),
        async (seed, cpus, options, cuts, wide) => {
          // wide: page numbers up to 2^40, past what the platforms hold: refused records, skipped under lenient
          const text = randomTrace(1500, seed, cpus, wide ? 2 ** 40 : undefined);
          const bytes = enc.encode(text);
          const a = whole(text, options, wide);
          const b = await streamed(cut(bytes, cuts.map((c) => c % (bytes.length + 1))), options, wide);
          expect(b.addresses).toEqual(a.addresses);
          expect(b.stats).toEqual(a.stats);
          expect(b.operations).toBe(a.operations);
          expect(b.skipped).toEqual(a.skipped);
        },
      ),
      { numRuns: 40 },
    );
  });

  it("with the chunk boundary at every byte of a small trace", async () => {
    const text = [
      "# every operation",
      "map a 1234 100 to-device",
      "map_sg s from-device 5000:4096 9ff0:32 # trailing comment",
      "\talloc c 8192\r",
      "access a 0 64 read",
      "unmap a",
      "access a 10 4 write",
      "  kworker/1:2-123 [001] .....   152.318820: dma_map_page: 0000:03:00.0 dir=FROM_DEVICE dma_addr=fffff000 size=1536 phys_addr=1a2b3c040 attrs=",
      "unmap_sg s",
      "free c",
      "cpu 0",
      "map a 77000 10 bidirectional",
    ].join("\n");
    const bytes = enc.encode(text);
    const options: IommuOptions = { platform: "dart-u3" };
    const a = whole(text, options);
    const { replayStreamOnto } = await import("../bindings/trace/stream.js");
    for (let i = 0; i <= bytes.length; i++) {
      const iommu = createIommu({ ...options, maxHandles: 64, batchCapacity: 8192, cpus: 64 });
      const addresses: unknown[] = [];
      await replayStreamOnto([bytes.subarray(0, i), bytes.subarray(i)], iommu.batch, {
        handles: 64, cpus: 64, perCpu: false, onAddress: (id, line, dma) => addresses.push({ id, line, dma }),
      });
      expect(addresses).toEqual(a.addresses);
      expect(iommu.stats()).toEqual(a.stats);
    }
    // one byte a chunk
    const bytewise = await streamed(Array.from(bytes, (_, i) => bytes.subarray(i, i + 1)), options);
    expect(bytewise.addresses).toEqual(a.addresses);
  });

  it("the same errors, with the same line numbers and text, and the same lenient skips", async () => {
    const bad = [
      "map a 1000 64 to-device\nmap b zz 64 to-device\n",
      "map a 1000 64 to-device\nunmap a\nunmap a\n",
      "access q 0 1 read\n",
      "map a 1000 64 to-device\nmap a 2000 64 to-device\n",
      "map_sg s to-device 1000:10\nunmap s\n",
      "map a 1000 64 to-device\naccess a 60 10 read\n",
      "frobnicate\n",
      "map a 1000 0 to-device\n",
      "map a 0x 10 to-device\n",
      "map a 1000 99999999999 to-device\n",
    ];
    for (const text of bad) {
      const options: IommuOptions = { platform: "calgary-pcix" };
      let expected = "";
      try {
        whole(text, options);
      } catch (e) {
        expected = (e as Error).message;
      }
      expect(expected).not.toBe("");
      await expect(streamed([enc.encode(text)], options)).rejects.toThrow(expected);
      const a = whole(text, options, true);
      const b = await streamed([enc.encode(text)], options, true);
      expect(b.skipped).toEqual(a.skipped);
      expect(b.stats).toEqual(a.stats);
    }
  });
});

describe("binary traces", () => {
  it("text → binary → text gives the text back, and the binary replays the same (property)", async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 2 ** 31 }), fc.integer({ min: 1, max: 3 }), async (seed, cpus) => {
        // canonical text: what the text writer writes for the random trace
        const text = await convert(enc.encode(randomTrace(800, seed, cpus)), "text");
        const bin = await convert(text, "binary");
        expect(Buffer.from(await convert(bin, "text")).toString()).toBe(Buffer.from(text).toString());
        const options: IommuOptions = { platform: "calgary-pcix", tableSize: "64K" };
        const a = await streamed([text], options);
        const b = await streamed(cut(bin, [17, 100, 1001]), options);
        expect(b.format).toBe("binary");
        const noLine = (x: Array<{ id: string; dma: number[] | null }>) => x.map(({ id, dma }) => ({ id, dma }));
        expect(noLine(b.addresses)).toEqual(noLine(a.addresses));
        expect(b.stats).toEqual(a.stats);
      }),
      { numRuns: 20 },
    );
  });

  it("a binary trace gives the sink the very records its text gives (property)", async () => {
    const { replayStreamOnto } = await import("../bindings/trace/stream.js");
    /** A sink that keeps every record it is given (results all 0). */
    const recording = () => {
      const words: number[] = [];
      const ops = new Uint32Array(8192 * 4);
      return { words, sink: { ops, results: new Int32Array(8192), capacity: 8192, run: (n: number) => void words.push(...ops.subarray(0, 4 * n)) } };
    };
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 2 ** 31 }), async (seed) => {
        const text = await convert(enc.encode(randomTrace(600, seed, 2, 2 ** 40)), "text");
        const bin = await convert(text, "binary");
        const a = recording();
        const b = recording();
        await replayStreamOnto([text], a.sink, { handles: 1 << 16, cpus: 64, perCpu: false });
        await replayStreamOnto([bin], b.sink, { handles: 1 << 16, cpus: 64, perCpu: false });
        expect(b.words).toEqual(a.words);
      }),
      { numRuns: 20 },
    );
  });

  it("carries physical addresses up to 2^53 (page numbers past 32 bits)", async () => {
    const text = enc.encode("map a 1fffffffffffff 1 to-device\nmap_sg s bidirectional 123456789abcd:8 5000:4096\n");
    const back = Buffer.from(await convert(await convert(text, "binary"), "text")).toString();
    expect(back).toBe("map a 1fffffffffffff 1 to-device\nmap_sg s bidirectional 123456789abcd:8 5000:4096\n");
  });

  it("refuses a bad header, a bad record and a truncated trace, naming the record", async () => {
    const bin = await convert(enc.encode("map a 1000 64 to-device\nunmap a\n"), "binary");
    const version = bin.slice();
    version[8] = 9;
    const opts: IommuOptions = { platform: "dart-u3" };
    await expect(streamed([version], opts)).rejects.toThrow(/binary trace version 9; this iommu-sim reads version 1/);
    const badDir = bin.slice();
    badDir[16 + 32] = 0xf1; // the map record after the name record: direction 15
    await expect(streamed([badDir], opts)).rejects.toThrow(/record 3: direction 15/);
    await expect(streamed([bin.subarray(0, bin.length - 3)], opts)).rejects.toThrow(/ends inside a record/);
  });
});

describe("bounded memory", () => {
  it("a long trace of fresh ids keeps the handle table bounded; access after unmap still reaches the freed mapping", async () => {
    // 200 000 maps of never-reused ids, each unmapped, some accessed after unmap.
    const lines: string[] = [];
    for (let i = 0; i < 200_000; i++) {
      lines.push(`map m${i} ${(0x100000 + i).toString(16)}000 4096 from-device`, `unmap m${i}`);
      if (i % 7 === 0) lines.push(`access m${i - (i % 50)} 0 8 write`);
    }
    const text = lines.join("\n") + "\n";
    const options: IommuOptions = { platform: "calgary-pcix", tableSize: "64K" };
    const a = whole(text, options);
    const iommu = createIommu({ ...options, maxHandles: 4096, batchCapacity: 8192, cpus: 64 });
    const { replayStreamOnto } = await import("../bindings/trace/stream.js");
    const r = await replayStreamOnto([enc.encode(text)], iommu.batch, { handles: 4096, cpus: 64, perCpu: false, releasedWindow: 1000 });
    expect(r.operations).toBe(a.operations);
    expect(iommu.stats()).toEqual(a.stats);
    expect(r.footprint.slots).toBeLessThanOrEqual(1001);
    expect(r.footprint.handles).toBeLessThanOrEqual(1001);
    expect(a.stats.staleHits + a.stats.faults).toBeGreaterThan(0);
  });

  it("more live mappings than the handle table holds is refused at the line that needs one more", async () => {
    const lines = Array.from({ length: 10 }, (_, i) => `map m${i} ${(0x1000 * (i + 1)).toString(16)} 64 to-device`);
    const iommu = createIommu({ platform: "dart-u3", maxHandles: 8, batchCapacity: 8192, cpus: 64 });
    const { replayStreamOnto } = await import("../bindings/trace/stream.js");
    await expect(replayStreamOnto([enc.encode(lines.join("\n"))], iommu.batch, { handles: 8, cpus: 64, perCpu: false, lenient: true }))
      .rejects.toThrow(/line 9: the trace keeps more than 8 handles' worth of mappings live at once/);
  });

  it("an access to an id released long ago is refused with the reason", async () => {
    const lines: string[] = ["map old 1000 64 to-device", "unmap old"];
    for (let i = 0; i < 50; i++) lines.push(`map m${i} 2000 64 to-device`, `unmap m${i}`);
    lines.push("access old 0 1 read");
    const iommu = createIommu({ platform: "dart-u3", maxHandles: 64, batchCapacity: 8192, cpus: 64 });
    const { replayStreamOnto } = await import("../bindings/trace/stream.js");
    await expect(replayStreamOnto([enc.encode(lines.join("\n"))], iommu.batch, { handles: 64, cpus: 64, perCpu: false, releasedWindow: 10 }))
      .rejects.toThrow(/line 103: access to id "old", which was never mapped or was released more than 10 releases ago/);
  });
});

describe("input that is not a trace", () => {
  const options: IommuOptions = { platform: "dart-u3" };
  it("/dev/zero-like input fails on its first line, lenient or not", async () => {
    const zeros = new Uint8Array(1 << 16);
    const endless = function* () {
      for (;;) yield zeros;
    };
    await expect(replayTraceStream(endless(), (s) => createIommu({ ...options, ...s }))).rejects.toThrow(/line 1: not text \(byte 0x00\)/);
    await expect(replayTraceStream(endless(), (s) => createIommu({ ...options, ...s }), { lenient: true })).rejects.toThrow(/line 1: not text/);
  });

  it("/dev/urandom-like input fails on its first bad line", async () => {
    let x = 12345;
    const noise = new Uint8Array(1 << 16).map(() => ((x = (x * 1103515245 + 12345) >>> 0) >>> 24));
    const endless = function* () {
      for (;;) yield noise;
    };
    await expect(replayTraceStream(endless(), (s) => createIommu({ ...options, ...s }), { lenient: true })).rejects.toThrow(/line \d+: not text/);
  });

  it("an endless line is refused at the length bound", async () => {
    const a = new Uint8Array(1 << 16).fill(0x61);
    const endless = function* () {
      for (;;) yield a;
    };
    await expect(replayTraceStream(endless(), (s) => createIommu({ ...options, ...s }))).rejects.toThrow(/line 1: line longer than 1048576 bytes/);
  });
});

describe("trace generate", () => {
  const generated = (options: Parameters<typeof generateTrace>[1], to: "text" | "binary") => {
    const parts: Uint8Array[] = [];
    const w = to === "binary" ? new BinaryTraceWriter((b) => parts.push(b.slice())) : new TextTraceWriter((b) => parts.push(b.slice()));
    const n = generateTrace(w, options);
    w.flush();
    return { n, bytes: Buffer.concat(parts) };
  };

  it.each([
    ["ring", 256],
    ["storage-sg", 32],
    ["mixed", 1024],
  ] as const)("%s: the trace replays to the counters of the built-in workload (one CPU), deterministically", async (workload, param) => {
    const options: IommuOptions = { platform: "calgary-pcix", tableSize: "64K" };
    const steps = 5000;
    const initial = workload === "mixed" ? 64 + param : param;
    const ops = initial + 2 * steps;
    const wl = createAllocatorWorkload(options, { workload, param, seed: 7 });
    wl.run(steps);
    for (const format of ["text", "binary"] as const) {
      const { n, bytes } = generated({ workload, param, ops, seed: 7 }, format);
      expect(n).toBe(ops);
      expect(generated({ workload, param, ops, seed: 7 }, format).bytes.equals(bytes)).toBe(true);
      if (workload !== "ring") expect(generated({ workload, param, ops, seed: 8 }, format).bytes.equals(bytes)).toBe(false);
      const r = await streamed([bytes], options);
      expect(r.operations).toBe(ops);
      expect(r.stats).toEqual(wl.iommu.stats());
    }
    if (workload === "mixed") expect(wl.iommu.stats().mapFailures).toBeGreaterThan(0); // failed maps: unmapped by the trace, a no-op
  });

  it("cuts the stream at exactly --ops operations", () => {
    const { n, bytes } = generated({ workload: "ring", param: 4, ops: 7 }, "text");
    expect(n).toBe(7);
    expect(bytes.toString()).toBe([
      "map 0 10000000 4096 from-device", "map 1 10001000 4096 from-device", "map 2 10002000 4096 from-device",
      "map 3 10003000 4096 from-device", "unmap 0", "map 0 10004000 4096 from-device", "unmap 1", "",
    ].join("\n"));
  });
});

describe("command line", () => {
  const CLI = join(__dirname, "..", "lib", "cli.js");
  const dir = mkdtempSync(join(tmpdir(), "iommu-sim-stream-"));
  const EXAMPLE = join(__dirname, "..", "examples", "nic-ring.trace");
  const run = (args: string[], input?: Uint8Array | string) => spawnSync("node", [CLI, ...args], { input, encoding: "utf8", timeout: 60_000 });

  it("replay - reads stdin; a gzipped trace and its binary conversion replay the same", () => {
    const text = readFileSync(EXAMPLE);
    const expected = run(["replay", EXAMPLE, "--platform", "dart-u3", "--emit", "addresses"]);
    expect(expected.status).toBe(0);
    expect(run(["replay", "-", "--platform", "dart-u3", "--emit", "addresses"], text).stdout).toBe(expected.stdout);
    const gz = join(dir, "nic.trace.gz");
    writeFileSync(gz, gzipSync(text));
    expect(run(["replay", gz, "--platform", "dart-u3", "--emit", "addresses"]).stdout).toBe(expected.stdout);
    expect(run(["replay", "-", "--platform", "dart-u3", "--emit", "addresses"], gzipSync(text)).stdout).toBe(expected.stdout);
    const bin = join(dir, "nic.bin");
    expect(run(["trace", "convert", EXAMPLE, bin]).status).toBe(0);
    expect(readFileSync(bin).subarray(0, 8)).toEqual(Buffer.from("\x89IOTRACE", "latin1"));
    expect(run(["replay", bin, "--platform", "dart-u3", "--emit", "addresses"]).stdout).toBe(expected.stdout);
    // and back to text: the example's operations, comments and blank lines gone
    const back = join(dir, "nic.txt");
    expect(run(["trace", "convert", bin, back]).status).toBe(0);
    expect(run(["replay", back, "--platform", "dart-u3", "--emit", "addresses"]).stdout).toBe(expected.stdout);
    // the priced replay reads the same sources
    const priced = ["--platform", "calgary-pcix", "--strategy", "batched", "--environment", "xen-dom0", "--json"];
    expect(run(["replay", "-", ...priced], gzipSync(text)).stdout).toBe(run(["replay", EXAMPLE, ...priced]).stdout);
  });

  it("trace generate writes the same trace to a file and to stdout, text or binary, and a pipe replays it", () => {
    const out = join(dir, "ring.bin");
    const args = ["trace", "generate", "--workload", "storage-sg:8", "--ops", "5000", "--seed", "3", "--format", "binary"];
    expect(run([...args, "-o", out]).status).toBe(0);
    const piped = spawnSync("node", [CLI, ...args], { timeout: 60_000 });
    expect(Buffer.compare(piped.stdout, readFileSync(out))).toBe(0);
    const fromFile = run(["replay", out, "--platform", "calgary-pcix", "--table-size", "64K"]);
    expect(fromFile.stdout).toMatch(/^operations 5000$/m);
    expect(run(["replay", "-", "--platform", "calgary-pcix", "--table-size", "64K"], piped.stdout).stdout).toBe(fromFile.stdout);
    const text = run(["trace", "generate", "--workload", "storage-sg:8", "--ops", "5000", "--seed", "3"]).stdout;
    expect(text.split("\n")[0]).toMatch(/^map_sg 0 from-device 10000000:4096 /);
    expect(run(["replay", "-", "--platform", "calgary-pcix", "--table-size", "64K"], text).stdout).toBe(fromFile.stdout);
  });

  it("refuses a bad workload or count, and leaves no partial file", () => {
    const r = run(["trace", "generate", "--workload", "occupancy", "--ops", "5"]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/--workload: "occupancy" is not allowed; expected NAME or NAME:PARAM with NAME one of ring, storage-sg, mixed/);
    expect(run(["trace", "generate", "--workload", "ring", "--ops", "x"]).status).toBe(1);
    const target = join(dir, "bad.bin");
    const c = run(["trace", "convert", "-", target], "map a 1000 10 to-device\nmap b zz 1 to-device\n");
    expect(c.status).toBe(1);
    expect(c.stderr).toMatch(/line 2: phys must be hexadecimal/);
    expect(existsSync(target)).toBe(false);
    expect(readdirSync(dir).filter((f) => f.includes(".tmp"))).toEqual([]);
  });

  it("replay /dev/zero and /dev/urandom fail at once with exit 1", () => {
    for (const dev of ["/dev/zero", "/dev/urandom"]) {
      if (!existsSync(dev)) continue;
      const r = run(["replay", dev, "--platform", "dart-u3", "--lenient"]);
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(/line \d+: not text/);
    }
  });
});
