// Sweeps: run settings as given (sizes with suffixes), every setting checked before any simulation,
// the thread count bounded, and a refusal inside a worker reported exactly as a serial sweep reports it.
import { describe, expect, it } from "vitest";
import { ConfigError } from "../lib/errors.js"; // the class the built sweep throws
import { expandGrid, parseGridArg, resolveRun, RUN_DEFAULTS, type RunConfig } from "../bindings/sweep/config.js";
// the built sweep: its pool loads the compiled worker beside it
import { maxSweepThreads, sweep } from "../lib/sweep/sweep.js";

const refusal = async (p: Promise<unknown>) => {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error("expected a refusal");
};

describe("run settings", () => {
  it("take sizes with K / M suffixes wherever a size is taken: flags, config files and grids", () => {
    expect(resolveRun({ messageBytes: "1k" }).messageBytes).toBe(1024);
    expect(resolveRun({ workload: "ffsb", ioBytes: "64K" }).ioBytes).toBe(65536);
    expect(resolveRun({ messageBytes: "1M" }).messageBytes).toBe(1 << 20);
    expect(parseGridArg("messageBytes=64,1k,64K")).toEqual(["messageBytes", [64, 1024, 65536]]);
    expect(parseGridArg("readFraction=0,0.5")).toEqual(["readFraction", [0, 0.5]]);
  });

  it("say what was given when it is not a size or a number, never null", () => {
    expect(() => resolveRun({ messageBytes: "1x" })).toThrow(/messageBytes: "1x" is not allowed; expected a byte count or a size/);
    expect(() => resolveRun({ queueDepth: "abc" })).toThrow(/queueDepth: "abc" is not allowed; expected a number/);
    expect(() => parseGridArg("queueDepth=4,lots")).toThrow(/--grid queueDepth: "lots" is not allowed/);
    expect(() => resolveRun({ messageBytes: "2M" })).toThrow(/messageBytes: 2097152 \(0x200000\) is not allowed/);
  });

  it("refuse a bad strategy or ffsb knob before anything is simulated", () => {
    expect(() => expandGrid(RUN_DEFAULTS, [["strategy", ["batched", "foo"]]])).toThrow(/strategy: "foo" is not allowed/);
    expect(() => resolveRun({ strategy: "grant-table" })).toThrow(/needs the xen-domU environment/);
    expect(() => resolveRun({ workload: "ffsb", queueDepth: 0 })).toThrow(/queueDepth: 0 is not allowed; expected an integer from 1 to 256/);
    expect(() => resolveRun({ workload: "ffsb", ioBytes: "6K" })).toThrow(/ioBytes: 6144 .* multiple of 4096/);
    // ffsb maps scatter lists, which the rIOMMU refuses: a grid with both is refused whole, not by a worker (or a cluster node) later
    expect(() => expandGrid({ ...RUN_DEFAULTS, workload: "ffsb" }, [["platform", ["vtd", "riommu"]]])).toThrow(/platform: "riommu" is not allowed; expected a platform with map_sg for the ffsb workload/);
    expect(resolveRun({ platform: "riommu" }).platform).toBe("riommu"); // netperf maps single buffers: runs
  });
});

describe("sweep", () => {
  const good: RunConfig = { ...RUN_DEFAULTS, messageBytes: 1024 };
  // unchecked on purpose: a configuration that reaches the evaluation and is refused there
  const bad: RunConfig = { ...RUN_DEFAULTS, strategy: "foo" };

  it("a refusal inside a worker is the ConfigError a serial sweep raises, for the first bad configuration in grid order", async () => {
    const configs = [good, good, bad, { ...bad, strategy: "bar" }, good];
    const serial = await refusal(sweep(configs, { threads: 1 }));
    const parallel = await refusal(sweep(configs, { threads: 2 }));
    expect(serial).toBeInstanceOf(ConfigError);
    expect(parallel).toBeInstanceOf(ConfigError);
    expect((parallel as Error).message).toBe((serial as Error).message);
    expect((parallel as Error).message).toMatch(/^strategy: "foo" is not allowed/);
  });

  it("refuses a thread count that is not a whole number up to twice the CPUs", async () => {
    for (const threads of [NaN, 1.5, -1, maxSweepThreads() + 1, 99999]) {
      expect(await refusal(sweep([good], { threads }))).toBeInstanceOf(ConfigError);
    }
    expect(await sweep([good], { threads: maxSweepThreads() })).toHaveLength(1);
  });
});
