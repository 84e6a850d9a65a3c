// Fuzz suite (issue 12): hostile input to the trace parser and replay, the option and profile
// validators, the batch encoders and the API. The only outcomes allowed are a result or a clear
// error (ConfigError / TraceError naming what was wrong): never a WASM trap, another exception, a
// hang (vitest's time limit), or a value silently changed on the way in. `npm test` runs a few
// hundred cases; `npm run fuzz` runs ≥ 10^5 and prints the count.
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { ConfigError, createIommu, createPricedSimulation, createReferenceIommu, resolveConfig, type Iommu, type IommuOptions } from "../bindings/node.js";
import { BAD_RECORD, DIRECTIONS } from "../bindings/abi.js";
import { withoutNodes } from "./helpers/differential.js";
import { PLATFORMS, PLATFORM_PRESETS, type PlatformName } from "../bindings/platforms.js";
import { putAccess, putAlloc, putCpu, putFree, putMap, putMapSg, putUnmap, putUnmapSg } from "../bindings/records.js";
import { DEFAULT_PROFILE, validateProfile } from "../bindings/sim/cost-profile.js";
import { replayThroughSimulation } from "../bindings/sim/replay.js";
import { parseTrace, TraceError } from "../bindings/trace/parse.js";
import { replayTrace } from "../bindings/trace/replay.js";
import { counts, FULL_FUZZ, FUZZ_TIMEOUT, runs } from "./helpers/fuzz-budget.js";

const U32_MAX = 0xffffffff;

/** Numbers that break naive code: NaN, infinities, −0, fractions, word edges, beyond 2^53. */
const hostileNumber: fc.Arbitrary<number> = fc.oneof(
  fc.constantFrom(Number.NaN, Infinity, -Infinity, -0, -1, 0, 1, 0.5, 4095, 4096, 2 ** 31, U32_MAX, 2 ** 32, 2 ** 32 + 1,
    2 ** 36, 2 ** 44, 2 ** 48, 2 ** 53, 2 ** 53 + 2, 2 ** 56, Number.MAX_VALUE, Number.MIN_VALUE),
  fc.integer(),
  fc.integer({ min: -2, max: 8 }), // levels, CPUs, directions: the small legal ranges and just past them
  fc.nat({ max: 2 ** 32 + 16 }),
  fc.maxSafeInteger(),
  fc.double(),
);
const hostileWord = fc.oneof(
  fc.constantFrom("", "-1", "0x", "0x-1", "1e3", "1.5", "NaN", "Infinity", "ffffffffffffffffffff", "99999999999999999999",
    "__proto__", "toString", "constructor", "valueOf", "8M", " ", "\t", "\u0000", "é", "0x1000:0", ":", "1:2:3", "{}", "{1,2}"),
  fc.string({ maxLength: 12 }),
  fc.nat().map((n) => n.toString(16)),
  fc.nat().map(String),
);
const hostile: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: hostileNumber },
  { weight: 2, arbitrary: hostileWord },
  { weight: 1, arbitrary: fc.constantFrom("first-level", "second-level", "vtd-qi", "amd-cmdbuf", "smmuv3-cmdq", "none", { mamv: 9 }, { rwbf: true }, { rangeInvalidation: true }) },
  { weight: 1, arbitrary: fc.constantFrom(null, undefined, true, false, [], {}, [1], { entries: 64 }, 10n) },
  { weight: 1, arbitrary: fc.anything() },
);

const count = <T>(f: (x: T) => void) => (x: T) => {
  counts.fuzzCases++;
  f(x);
};

/** Runs f; a ConfigError or TraceError is a clear refusal, anything else fails the case. */
function outcome<T>(f: () => T): { ok: T } | { refused: string } {
  try {
    return { ok: f() };
  } catch (e) {
    if (e instanceof ConfigError || e instanceof TraceError) {
      expect(e.message).toMatch(/\S.{8,}/);
      return { refused: e.message };
    }
    throw e;
  }
}

// ── trace text ─────────────────────────────────────────────────────────────────────────────

const dirArb = fc.constantFrom(...DIRECTIONS);
const idArb = fc.stringMatching(/^[a-z][a-z0-9_]{0,5}$/);
/** A well-formed native line and the operation it must parse to. */
type Line = [string, Record<string, unknown>];
const nativeLine: fc.Arbitrary<Line> = fc.oneof(
  fc.tuple(idArb, fc.maxSafeInteger().map(Math.abs), fc.integer({ min: 1, max: U32_MAX }), dirArb)
    .map(([id, phys, bytes, dir]): Line => [`map ${id} ${phys.toString(16)} ${bytes} ${dir}`, { kind: "map", id, phys, bytes, dir }]),
  fc.tuple(idArb, dirArb, fc.array(fc.tuple(fc.maxSafeInteger().map(Math.abs), fc.integer({ min: 1, max: U32_MAX })), { minLength: 1, maxLength: 4 }))
    .map(([id, dir, segs]): Line => [`map_sg ${id} ${dir} ${segs.map(([p, b]) => `${p.toString(16)}:${b}`).join(" ")}`,
      { kind: "map_sg", id, dir, segments: segs.map(([phys, bytes]) => ({ phys, bytes })) }]),
  fc.tuple(idArb, fc.integer({ min: 1, max: U32_MAX })).map(([id, bytes]): Line => [`alloc ${id} ${bytes}`, { kind: "alloc", id, bytes }]),
  fc.tuple(fc.constantFrom("unmap", "unmap_sg", "free"), idArb).map(([kind, id]): Line => [`${kind} ${id}`, { kind, id }]),
  fc.tuple(idArb, fc.nat({ max: U32_MAX }), fc.integer({ min: 1, max: U32_MAX }), fc.boolean())
    .map(([id, offset, bytes, write]): Line => [`access ${id} ${offset} ${bytes} ${write ? "write" : "read"}`, { kind: "access", id, offset, bytes, write }]),
  fc.nat({ max: 63 }).map((cpu): Line => [`cpu ${cpu}`, { kind: "cpu", cpu }]),
);
/** A well-formed line with one word replaced, dropped or doubled by something hostile. */
const mutatedLine = fc.tuple(nativeLine, fc.nat(), hostileWord, fc.constantFrom("replace", "drop", "add"))
  .map(([[line], at, word, how]) => {
    const words = line.split(" ");
    const i = at % words.length;
    if (how === "replace") words[i] = word;
    else if (how === "drop") words.splice(i, 1);
    else words.splice(i, 0, word);
    return words.join(" ");
  });
const tracepointLine = fc.tuple(fc.nat({ max: 200 }), fc.constantFrom("dma_map_phys", "dma_unmap_phys", "dma_map_sg", "dma_unmap_sg", "dma_alloc", "dma_free", "dma_sync_single_for_cpu"), hostileWord, hostileWord)
  .map(([cpu, ev, a, b]) => `  kworker/0:1-45 [${String(cpu).padStart(3, "0")}] ..... 153.000001: ${ev}: 0000:00:17.0 dir=TO_DEVICE dma_addr=${a} size=${b} phys_addr=${a} attrs=`);
const traceText = fc.array(fc.oneof(
  { weight: 4, arbitrary: nativeLine.map(([l]) => l) },
  { weight: 3, arbitrary: mutatedLine },
  { weight: 1, arbitrary: tracepointLine },
  { weight: 1, arbitrary: fc.string({ maxLength: 60, unit: "binary" }) },
), { maxLength: 25 }).map((lines) => lines.join("\n"));

describe("fuzz: the trace parser", () => {
  it("parses every well-formed native line to exactly its values", { timeout: FUZZ_TIMEOUT }, () => {
    fc.assert(fc.property(nativeLine, count(([line, op]) => {
      const t = parseTrace(line);
      expect(t.ops).toEqual([{ ...op, line: 1 }]);
    })), { numRuns: runs(300, 20_000), seed: 12001 });
  });

  it("answers any text with operations or a TraceError naming a line that exists; lenient never throws", { timeout: FUZZ_TIMEOUT }, () => {
    fc.assert(fc.property(traceText, count((text) => {
      const lines = text.split(/\r?\n/).length;
      const strict = outcome(() => parseTrace(text));
      if ("refused" in strict) expect(Number(/^line (\d+):/.exec(strict.refused)?.[1])).toBeLessThanOrEqual(lines);
      const lenient = parseTrace(text, { lenient: true });
      for (const s of lenient.skipped) expect(s.reason.length).toBeGreaterThan(8);
      if ("ok" in strict) expect(lenient.ops).toEqual(strict.ok.ops);
      else expect(lenient.skipped.length).toBeGreaterThan(0);
    })), { numRuns: runs(300, 30_000), seed: 12002 });
  });

  it("replays what it parses with the same addresses in WASM and reference, or refuses it the same way", { timeout: FUZZ_TIMEOUT }, () => {
    fc.assert(fc.property(fc.tuple(traceText, fc.constantFrom<PlatformName>(...PLATFORMS), fc.boolean()), count(([text, platform, lenient]) => {
      const parsed = outcome(() => parseTrace(text, { lenient }));
      if ("refused" in parsed) return;
      const options: IommuOptions = { platform, tableSize: platform.startsWith("dart") ? "2M" : "64K" };
      const [a, b] = [createIommu, createReferenceIommu].map((make) => outcome(() => {
        const r = replayTrace(parsed.ok, (s) => make({ ...options, ...s }), { lenient });
        // the reference does not count the IOVA tree's nodes visited (today's platforms use it)
        return { addresses: r.addresses, stats: r.stats && withoutNodes(r.stats), skipped: r.skipped };
      }));
      expect(a).toEqual(b);
    })), { numRuns: runs(100, 10_000), seed: 12003 });
  });
});

describe("fuzz: the priced replay", () => {
  it("prices what it parses or refuses it with a ConfigError or TraceError", { timeout: FUZZ_TIMEOUT }, () => {
    const strategies = ["straightforward", "batched", "cached+deferred-flush", "never-free", "persistent", "preallocated", "grant-table"];
    const environments = ["baremetal", "xen-dom0", "xen-domU"] as const;
    fc.assert(fc.property(fc.tuple(traceText, fc.constantFrom<PlatformName>(...PLATFORMS), fc.constantFrom(...strategies), fc.constantFrom(...environments), fc.boolean()),
      count(([text, platform, strategy, environment, lenient]) => {
        const parsed = outcome(() => parseTrace(text, { lenient }));
        if ("refused" in parsed) return;
        outcome(() => replayThroughSimulation(parsed.ok, createPricedSimulation({ platform, strategy, environment, guestBytes: 2 ** 30, iommu: { tableSize: platform.startsWith("dart") ? "2M" : "64K" } }), lenient));
      })), { numRuns: runs(60, 4_000), seed: 12008 });
  });
});

// ── options and profiles ──────────────────────────────────────────────────────────────────

const OPTION_KEYS = ["platform", "tableSize", "ramBytes", "cache", "allocator", "flushPolicy", "pciWindows", "segmentBoundary",
  "dartDummyPfn", "coherentBasePfn", "maxHandles", "batchCapacity", "cpus", "vmerge", "pageTableLevels", "pageTableFormat", "invalidation", "invalidationCaps", "tabelSize", "__proto__", "constructor"];

const optionsArb = fc.tuple(
  fc.constantFrom<PlatformName>(...PLATFORMS),
  fc.array(fc.tuple(fc.constantFrom(...OPTION_KEYS), hostile), { maxLength: 3 }),
).map(([platform, changes]) => {
  const o: Record<string, unknown> = { platform };
  for (const [k, v] of changes) Object.defineProperty(o, k, { value: v, enumerable: true, configurable: true, writable: true });
  return o;
});

describe("fuzz: option and profile validators", () => {
  it("resolve options or refuse them by field; what is accepted is what was given", { timeout: FUZZ_TIMEOUT }, () => {
    fc.assert(fc.property(optionsArb, count((o) => {
      const r = outcome(() => resolveConfig(o as unknown as IommuOptions));
      if ("refused" in r) {
        expect(r.refused).toMatch(/^[\w.[\]]+: .* is not allowed; expected .+/);
        return;
      }
      const c = r.ok;
      expect(c.platform).toBe(o.platform);
      for (const k of ["cpus", "maxHandles", "batchCapacity", "coherentBasePfn"] as const) if (o[k] !== undefined) expect(c[k]).toBe(o[k]);
      if (o.vmerge !== undefined) expect(c.vmerge).toBe(o.vmerge);
      if (o.flushPolicy !== undefined) expect(c.flushPolicy).toBe(o.flushPolicy);
      if (typeof o.segmentBoundary === "number") expect(c.boundaryPages * 4096).toBe(o.segmentBoundary);
      if (o.pageTableLevels !== undefined) expect(c.levels).toBe(o.pageTableLevels);
      expect(c.levels === 0).toBe(PLATFORM_PRESETS[c.platform].levels === undefined);
      expect(PLATFORM_PRESETS[c.platform].tableSizes).toContain(c.tableBytes);
    })), { numRuns: runs(400, 20_000), seed: 12004 });
  });

  it("validate a cost profile or refuse it by field, never changing it", { timeout: FUZZ_TIMEOUT }, () => {
    const base = JSON.parse(JSON.stringify(DEFAULT_PROFILE)) as Record<string, unknown>;
    const paths = [["name"], ["version"], ["source"], ["machine"], ["machine", "cores"], ["machine", "clockHz"], ["cycles"],
      ...Object.keys(DEFAULT_PROFILE.cycles).map((k) => ["cycles", k]), ["cycles", "bogus"]];
    fc.assert(fc.property(fc.array(fc.tuple(fc.constantFrom(...paths), hostile), { maxLength: 3 }), count((changes) => {
      const p = structuredClone(base) as Record<string, Record<string, unknown>>;
      for (const [path, v] of changes) {
        if (path.length === 1) (p as Record<string, unknown>)[path[0]] = v;
        else if (p[path[0]] !== null && typeof p[path[0]] === "object") p[path[0]][path[1]] = v;
      }
      const show = (x: unknown) => {
        try {
          return JSON.stringify(x, (_, v) => (typeof v === "bigint" ? `${v}n` : v));
        } catch {
          return "(cyclic)";
        }
      };
      const before = show(p);
      const r = outcome(() => validateProfile(p));
      if ("ok" in r) {
        expect(r.ok).toBe(p);
        expect(show(r.ok)).toBe(before);
      } else {
        expect(r.refused).toMatch(/^profile(\.[\w]+)*: .* is not allowed; expected .+/);
      }
    })), { numRuns: runs(300, 10_000), seed: 12005 });
  });
});

// ── batch encoders and the API, on WASM and reference at once ──────────────────────────────

const pairs = new Map<PlatformName, [Iommu, Iommu]>();
const pairFor = (platform: PlatformName): [Iommu, Iommu] => {
  let p = pairs.get(platform);
  if (!p) {
    const o: IommuOptions = { platform, tableSize: platform.startsWith("dart") ? "2M" : "64K", maxHandles: 64, batchCapacity: 512, cpus: 4, allocator: platform === "calioc2" ? "iova" : undefined };
    if (o.allocator === undefined) delete o.allocator;
    p = [createIommu(o), createReferenceIommu(o)];
    pairs.set(platform, p);
  }
  return p;
};

/** Stats to compare: the IOVA tree's visit count is the core's own (the reference walks differently). */
const comparable = (m: Iommu) => ({ ...m.stats(), nodesVisited: 0 });

type Encoded = { kind: string; args: unknown[] };
const recordArb: fc.Arbitrary<Encoded> = fc.oneof(
  fc.tuple(hostileNumber, hostileNumber, hostileNumber, hostileNumber).map((args) => ({ kind: "map", args })),
  fc.tuple(fc.nat({ max: 70 }), fc.oneof(fc.nat({ max: 2 ** 36 }).map((p) => p * 4096), hostileNumber), fc.integer({ min: 1, max: 70000 }), fc.nat({ max: 2 }))
    .map((args) => ({ kind: "map", args })),
  fc.tuple(hostileNumber).map((args) => ({ kind: "unmap", args })),
  fc.tuple(hostileNumber, fc.array(fc.record({ phys: hostileNumber, bytes: hostileNumber }), { maxLength: 4 }), hostileNumber).map((args) => ({ kind: "mapSg", args })),
  fc.tuple(hostileNumber, hostileNumber).map((args) => ({ kind: "unmapSg", args })),
  fc.tuple(hostileNumber, hostileNumber).map((args) => ({ kind: "alloc", args })),
  fc.tuple(hostileNumber).map((args) => ({ kind: "free", args })),
  fc.tuple(hostileNumber, hostileNumber, hostileNumber, fc.boolean()).map((args) => ({ kind: "access", args })),
  fc.tuple(hostileNumber).map((args) => ({ kind: "cpu", args })),
);

function encode(ops: Uint32Array, n: number, r: Encoded): number {
  const a = r.args as never[];
  switch (r.kind) {
    case "map": return putMap(ops, n, a[0], a[1], a[2], a[3]);
    case "unmap": return putUnmap(ops, n, a[0]);
    case "mapSg": return putMapSg(ops, n, a[0], a[1], a[2]);
    case "unmapSg": return putUnmapSg(ops, n, a[0], a[1]);
    case "alloc": return putAlloc(ops, n, a[0], a[1]);
    case "free": return putFree(ops, n, a[0]);
    case "access": return putAccess(ops, n, a[0], a[1], a[2], a[3]);
    default: return putCpu(ops, n, a[0]);
  }
}

const isWord = (v: unknown) => Number.isInteger(v) && (v as number) >= 0 && (v as number) <= U32_MAX;
const isLength = (v: unknown) => Number.isInteger(v) && (v as number) >= 1 && (v as number) <= U32_MAX;

/** Whether a map record's values are all carried exactly (what the encoder must refuse otherwise). */
function mapCarried([h, phys, bytes, dir]: unknown[]): boolean {
  return isWord(h) && Number.isInteger(phys) && (phys as number) >= 0 && (phys as number) < 2 ** 56 && isLength(bytes) && (dir === 0 || dir === 1 || dir === 2);
}

describe("fuzz: batch encoders", () => {
  it.each(PLATFORMS)("%s: every record gets a result, the same in WASM and reference; a value a record cannot carry is BAD_RECORD", { timeout: FUZZ_TIMEOUT }, (platform) => {
    fc.assert(fc.property(fc.array(recordArb, { minLength: 1, maxLength: 20 }), count((recs) => {
      const [a, b] = pairFor(platform);
      const outs = [a, b].map((m) => {
        let n = 0;
        const firsts: number[] = [];
        for (const r of recs) {
          firsts.push(n);
          n = encode(m.batch.ops, n, r);
        }
        m.batch.run(n);
        return { firsts, results: Array.from(m.batch.results.subarray(0, n)) };
      });
      expect(outs[0]).toEqual(outs[1]);
      expect(comparable(a)).toEqual(comparable(b));
      const { firsts, results } = outs[0];
      recs.forEach((r, k) => {
        const res = results[firsts[k]];
        expect(Number.isInteger(res)).toBe(true);
        if (r.kind === "map" && !mapCarried(r.args)) expect(res).toBe(BAD_RECORD);
        if ((r.kind === "alloc" && !isLength(r.args[1])) || (r.kind === "unmap" && !isWord(r.args[0]))) expect(res).toBe(BAD_RECORD);
        if (r.kind === "mapSg" && (r.args[1] as Array<{ phys: unknown; bytes: unknown }>).some((s) => !mapCarried([0, s.phys, s.bytes, 0]))) expect(res).toBe(BAD_RECORD);
        if (r.kind === "map" && mapCarried(r.args) && (r.args[0] as number) < 64) {
          // carried exactly: refused only if the buffer is beyond what an entry holds
          const [, phys, bytes] = r.args as number[];
          const beyond = phys + bytes - 1 > (a.config.maxPfn + 1) * 4096 - 1;
          expect(res === BAD_RECORD).toBe(beyond);
        }
      });
    })), { numRuns: runs(60, 4_000), seed: 12006 });
  });
});

type Call = { f: string; args: unknown[] };
const apiCallArb: fc.Arbitrary<Call> = fc.oneof(
  fc.tuple(hostile, hostile, fc.oneof(hostile, dirArb)).map((args) => ({ f: "mapSingle", args })),
  fc.tuple(hostile, hostile).map((args) => ({ f: "unmapSingle", args })),
  fc.tuple(fc.oneof(fc.array(fc.record({ phys: hostile, bytes: hostile }), { maxLength: 4 }), hostile), fc.oneof(hostile, dirArb)).map((args) => ({ f: "mapSg", args })),
  fc.tuple(fc.oneof(fc.array(fc.record({ dma: hostile, bytes: hostile }), { maxLength: 4 }), hostile)).map((args) => ({ f: "unmapSg", args })),
  fc.tuple(hostile).map((args) => ({ f: "allocCoherent", args })),
  fc.tuple(hostile, hostile).map((args) => ({ f: "freeCoherent", args })),
  fc.tuple(hostile, hostile, fc.oneof(hostile, fc.constantFrom("read", "write"))).map((args) => ({ f: "deviceAccess", args })),
  fc.tuple(hostile).map((args) => ({ f: "setCpu", args })),
  fc.tuple(hostile).map((args) => ({ f: "entryWord", args })),
  fc.tuple(hostile).map((args) => ({ f: "entryRaw", args })),
  fc.tuple(hostile, hostile).map((args) => ({ f: "pageTableEntry", args })),
  fc.tuple(hostile).map((args) => ({ f: "batchRun", args })),
);

describe("fuzz: the API", () => {
  it.each(PLATFORMS)("%s: every call answers or throws a ConfigError, the same in WASM and reference", { timeout: FUZZ_TIMEOUT }, (platform) => {
    fc.assert(fc.property(fc.array(apiCallArb, { minLength: 1, maxLength: 10 }), count((calls) => {
      const [a, b] = pairFor(platform);
      for (const c of calls) {
        const [x, y] = [a, b].map((m) => outcome(() => {
          if (c.f === "batchRun") return m.batch.run(c.args[0] as number);
          const r = (m as unknown as Record<string, (...args: unknown[]) => unknown>)[c.f](...c.args);
          return typeof r === "bigint" ? r.toString(16) : r;
        }));
        expect(x).toEqual(y);
      }
      expect(comparable(a)).toEqual(comparable(b));
    })), { numRuns: runs(60, 3_000), seed: 12007 });
  });
});

afterAll(() => {
  console.log(`fuzz cases: ${counts.fuzzCases}`);
  if (FULL_FUZZ) expect(counts.fuzzCases).toBeGreaterThanOrEqual(100_000);
});
