// The demo page in real Chromium (the system's or the packaged one: test/helpers/chromium.ts),
// driven by playwright-core: it loads the WASM core by streaming compilation, computes in the page,
// updates when a control changes, matches the same computation in Node (netperf tables and the
// allocator comparison), and logs no console error.
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ALLOCATORS, createAllocatorWorkload, createIommu, dmaCounts, parseMeasured, simulateRow, type Calibration } from "../bindings/node.js";
import { serve } from "../bindings/io/static-server.js";
import { launchChromium } from "./helpers/chromium.js";
import { BinaryTraceWriter } from "../bindings/trace/binary.js";
import { generateTrace } from "../bindings/trace/generate.js";
import { collectTrace } from "../bindings/trace/stream.js";
import { ConfigError, parseTrace, resolveRun, traceFrontier, type TraceFrontierRow } from "../bindings/node.js";

const root = join(__dirname, "..");
const calibration = JSON.parse(readFileSync(join(root, "profiles", "netperf-calibrated.json"), "utf8")) as Calibration;
parseMeasured(readFileSync(join(root, "data", "seed-netperf.csv"), "utf8"));

/** The page's table, computed in Node the same way. */
function nodeTable(platform: "calgary-pcix" | "calioc2" | "dart-u3" | "dart-u4", strategy: string, environment: "baremetal" | "xen-dom0" | "xen-domU", sizes: number[]): string[][] {
  const counts = dmaCounts(environment, strategy, createIommu, platform);
  return sizes.map((m) => {
    const s = simulateRow(environment, m, calibration.environments[environment].params, counts, calibration.costProfile);
    return [String(m), s.offMbps.toFixed(1), s.offCpu.toFixed(2), s.onMbps.toFixed(1), s.onCpu.toFixed(2)];
  });
}

async function pageTable(page: Page): Promise<string[][]> {
  return page.$$eval("#table tr[data-size]", (trs) => trs.map((tr) => Array.from(tr.querySelectorAll("td")).slice(0, 5).map((td) => td.textContent ?? "")));
}

const SEED = parseMeasured(readFileSync(join(root, "data", "seed-netperf.csv"), "utf8"));
const waitStatus = (page: Page, id: string, prefix: string) =>
  page.waitForFunction(([i, p]) => document.getElementById(i)?.textContent?.startsWith(p), [id, prefix] as const, { timeout: 120_000 });

/** The trace table as the page prints it, computed in Node by the same library. */
function nodeTraceTable(rows: TraceFrontierRow[]): string[][] {
  const mib = (b: number | "all") => (b === "all" ? "all" : `${(b / 2 ** 20).toFixed(2)} MiB`);
  return rows.map((r) => r.refused !== undefined ? [r.environment, r.strategy, `refused: ${r.refused}`] : [r.environment, r.strategy, String(r.operations), String(Math.round(r.cycles)), String(Math.round(r.cyclesNoIommu)),
    r.addedCyclesPerOp.toFixed(1), String(r.crossings), String(r.exposure.releasedButLivePeak), String(r.exposure.dmaAfterRelease.reached),
    String(r.exposure.dmaAfterRelease.blocked), mib(r.exposure.reachableBytes)]);
}

/** A kernel `dma:` tracepoint capture (v6.12 TP_printk formats): a NIC ring of 8 pages, refilled 3 times, one DMA after unmap. */
function kernelTrace(): string {
  const lines: string[] = [];
  let t = 100;
  const map = (i: number) => lines.push(`     kworker/1:2-123     [001] .....   ${(t += 0.001).toFixed(6)}: dma_map_page: 0000:03:00.0 dir=FROM_DEVICE dma_addr=${(0xfff00000 + i * 0x1000).toString(16)} size=1536 phys_addr=${(0x1a2b3c000 + i * 0x1000).toString(16)} attrs=`);
  const unmap = (i: number) => lines.push(`          <idle>-0       [001] ..s1.   ${(t += 0.001).toFixed(6)}: dma_unmap_page: 0000:03:00.0 dir=FROM_DEVICE dma_addr=${(0xfff00000 + i * 0x1000).toString(16)} size=1536 attrs=`);
  for (let round = 0; round < 3; round++) for (let i = 0; i < 8; i++) { map(i); unmap(i); }
  return lines.join("\n") + "\n";
}

describe("demo page in Chromium", () => {
  let browser: Browser;
  let server: Awaited<ReturnType<typeof serve>>;
  const errors: string[] = [];

  beforeAll(async () => {
    server = await serve(root);
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it("computes the tables and plot in the page, updates on a control, and agrees with Node", async () => {
    const page = await browser.newPage({ viewport: { width: 1200, height: 1100 } });
    page.on("console", (m) => {
      if (m.type() === "error") errors.push(m.text());
    });
    page.on("pageerror", (e) => errors.push(String(e)));
    await page.goto(`${server.url}/web/index.html`);
    await page.waitForFunction(() => document.getElementById("status")?.textContent?.startsWith("ready: calgary-pcix / straightforward / baremetal"), null, { timeout: 60_000 });
    const sizes = [64, 128, 256, 512, 1024, 1460, 1480, 2048, 4096, 8192, 16384, 32768, 65536];
    expect(await pageTable(page)).toEqual(nodeTable("calgary-pcix", "straightforward", "baremetal", sizes));
    expect(await page.$$eval("#plot svg path", (p) => p.length)).toBeGreaterThan(10);

    await page.selectOption("#environment", "xen-dom0");
    await page.selectOption("#strategy", "batched");
    await page.waitForFunction(() => document.getElementById("status")?.textContent === "ready: calgary-pcix / batched / xen-dom0", null, { timeout: 60_000 });
    expect(await pageTable(page)).toEqual(nodeTable("calgary-pcix", "batched", "xen-dom0", sizes));

    // the allocator section: the same figures as the same workloads run in Node
    await page.waitForFunction(() => document.getElementById("alloc-status")?.textContent === "ready: ring:256 / on-wrap / 1", null, { timeout: 60_000 });
    await page.selectOption("#workload", "storage:32");
    await page.selectOption("#flush", "flush-queue");
    await page.waitForFunction(() => document.getElementById("alloc-status")?.textContent === "ready: storage:32 / flush-queue / 1", null, { timeout: 60_000 });
    const shown = await page.$$eval("#alloc-table tr[data-allocator]", (trs) => trs.map((tr) => {
      const td = Array.from(tr.querySelectorAll("td")).map((c) => c.textContent ?? "");
      return [td[0], ...td.slice(2)];
    }));
    expect(shown).toEqual(ALLOCATORS.map((allocator) => {
      const w = createAllocatorWorkload({ platform: "calgary-pcix", tableSize: "1M", allocator, flushPolicy: "flush-queue", cpus: 1 }, { workload: "storage", param: 32, seed: 1 });
      w.run(20_000);
      const f = w.figures();
      return [allocator, f.failedPerMillion.toFixed(0), f.wordsPerOp.toFixed(2), f.nodesPerOp.toFixed(2), f.flushesPerMillion.toFixed(1),
        `${(f.rcacheHitRate * 100).toFixed(1)}%`, String(f.spanPages), String(f.state.largestFreeRun)];
    }));

    mkdirSync(join(root, "test-output"), { recursive: true });
    await page.screenshot({ path: join(root, "test-output", "demo.png"), fullPage: true });
    expect(errors).toEqual([]);
  });
  /** A fresh page on the demo, its console errors collected with the others. */
  async function openDemo(): Promise<Page> {
    const page = await browser.newPage({ viewport: { width: 1300, height: 1100 } });
    page.on("console", (m) => {
      if (m.type() === "error") errors.push(m.text());
    });
    page.on("pageerror", (e) => errors.push(String(e)));
    await page.goto(`${server.url}/web/index.html`);
    await waitStatus(page, "status", "ready: calgary-pcix / straightforward / baremetal");
    return page;
  }

  it("runs every platform in the page, as Node computes it", async () => {
    const page = await openDemo();
    await page.fill("#sizes", "64,1024,65536");
    for (const platform of ["calioc2", "dart-u3", "dart-u4", "calgary-pcix"] as const) {
      await page.selectOption("#platform", platform);
      await waitStatus(page, "status", `ready: ${platform} / straightforward / baremetal`);
      expect(await pageTable(page)).toEqual(nodeTable(platform, "straightforward", "baremetal", [64, 1024, 65536]));
      expect(await page.$$eval("#plot svg path", (p) => p.length)).toBeGreaterThan(10);
    }
    await page.close();
  });

  it("shows measured figures only for the configuration the study measured", async () => {
    const page = await openDemo();
    const measuredCells = () => page.$$eval("#table tr[data-size] td.measured", (tds) => tds.map((td) => td.textContent ?? ""));
    const shown = await measuredCells();
    const sizes = await page.$$eval("#table tr[data-size]", (trs) => trs.map((tr) => Number(tr.getAttribute("data-size"))));
    expect(shown).toEqual(sizes.flatMap((m) => {
      const row = SEED.find((r) => r.environment === "baremetal" && r.messageBytes === m)!;
      return [row.onMbps.toFixed(1), row.onCpu.toFixed(2)];
    }));
    expect(await page.textContent("#plot svg")).toContain("measured (dashed)");
    for (const [control, value] of [["#strategy", "preallocated"], ["#platform", "dart-u4"]] as const) {
      await page.selectOption("#strategy", "straightforward");
      await page.selectOption("#platform", "calgary-pcix");
      await page.selectOption(control, value);
      await page.waitForFunction((v) => document.getElementById("status")?.textContent?.includes(v) && document.getElementById("status")?.textContent?.startsWith("ready"), value, { timeout: 120_000 });
      expect((await measuredCells()).every((c) => c === "")).toBe(true);
      expect(await page.textContent("#plot svg")).not.toContain("measured");
      expect(await page.textContent("#measured-note")).toMatch(/No measured figures/);
    }
    await page.close();
  });

  it("checks the sizes box with run's limits and refuses in page words, with no console error", async () => {
    const page = await openDemo();
    await page.fill("#sizes", "");
    await page.dispatchEvent("#sizes", "change");
    await waitStatus(page, "status", "refused: message sizes");
    expect(await page.$$eval("#plot *", (e) => e.length)).toBe(0);
    await page.fill("#sizes", "64, 100000000");
    await page.dispatchEvent("#sizes", "change");
    await waitStatus(page, "status", "refused: messageBytes");
    let refusal = "";
    try {
      resolveRun({ messageBytes: 100000000 });
    } catch (e) {
      refusal = (e as ConfigError).message;
    }
    expect(await page.textContent("#status")).toBe(`refused: ${refusal}`);
    await page.fill("#sizes", "64 1048576");
    await page.dispatchEvent("#sizes", "change");
    await waitStatus(page, "status", "ready");
    expect((await pageTable(page)).map((r) => r[0])).toEqual(["64", "1048576"]);
    await page.selectOption("#strategy", "grant-table"); // refused outside xen-domU
    await waitStatus(page, "status", "refused: strategy");
    expect(await page.textContent("#status")).not.toMatch(/--/);
    expect(await page.textContent("#status")).toMatch(/the xen-domU environment/);
    await page.close();
  });

  it("times every allocator with tinybench over samples far above the browser's timer grain", async () => {
    const page = await openDemo();
    await waitStatus(page, "alloc-status", "ready: ring:256 / on-wrap / 1");
    const speeds = await page.$$eval("#alloc-table td.speed", (tds) => tds.map((td) => ({ text: td.textContent ?? "", samples: Number(td.dataset.samples), ms: Number(td.dataset.sampleMs) })));
    expect(speeds).toHaveLength(ALLOCATORS.length);
    for (const s of speeds) {
      expect(s.text).toMatch(/^\d+\.\d ± \d+ %$/);
      expect(s.samples).toBeGreaterThanOrEqual(8);
      expect(s.ms).toBeGreaterThan(5); // 0.1 ms timer grain: under 2 % of a sample
    }
    await page.close();
  });

  it("replays a dropped trace in a worker under every strategy × environment, as Node does, with its frontier", async () => {
    const page = await openDemo();
    // the status as each row arrives: rows stream in one message at a time
    await page.evaluate(() => {
      const seen: string[] = ((window as unknown as { traceStatuses: string[] }).traceStatuses = []);
      new MutationObserver(() => seen.push(document.getElementById("trace-status")!.textContent ?? "")).observe(document.getElementById("trace-status")!, { childList: true, characterData: true, subtree: true });
    });
    const native = readFileSync(join(root, "examples", "nic-ring.trace"), "utf8");
    await page.setInputFiles("#trace-file", join(root, "examples", "nic-ring.trace"));
    await waitStatus(page, "trace-status", "replayed: nic-ring.trace on calgary-pcix");
    const rows = traceFrontier(parseTrace(native), "calgary-pcix", createIommu);
    const shownRows = () => page.$$eval("#trace-table tr[data-config]", (trs) => trs.map((tr) => Array.from(tr.querySelectorAll("td")).map((td) => td.textContent ?? "")));
    expect(await shownRows()).toEqual(nodeTraceTable(rows));
    expect(await page.$$eval("#trace-plot svg .mark-symbol.role-mark path", (p) => p.length)).toBe(rows.length);
    const statuses = await page.evaluate(() => (window as unknown as { traceStatuses: string[] }).traceStatuses);
    expect(statuses).toContain(`nic-ring.trace: 1 of ${rows.length} configurations replayed…`);

    // the kernel's dma: tracepoint text, dropped on the drop zone, on DART
    await page.selectOption("#trace-platform", "dart-u3");
    const kernel = kernelTrace();
    await page.evaluate((text) => {
      const dt = new DataTransfer();
      dt.items.add(new File([text], "kernel-dma.txt", { type: "text/plain" }));
      document.getElementById("drop")!.dispatchEvent(new DragEvent("drop", { dataTransfer: dt, bubbles: true, cancelable: true }));
    }, kernel);
    await waitStatus(page, "trace-status", "replayed: kernel-dma.txt on dart-u3");
    const kernelRows = traceFrontier(parseTrace(kernel), "dart-u3", createIommu);
    expect(await shownRows()).toEqual(nodeTraceTable(kernelRows));
    // its buffers sit above the 2 GiB guest that preallocated maps: those rows say so, the rest are priced
    expect(kernelRows.filter((r) => r.refused !== undefined).map((r) => r.strategy)).toEqual(["preallocated", "preallocated", "preallocated"]);
    expect(await page.textContent("#trace-status")).toMatch(/\(3 refused the trace\)/);
    expect(await page.$$eval("#trace-plot svg .mark-symbol.role-mark path", (p) => p.length)).toBe(kernelRows.length - 3);

    // the binary trace format, streamed the same way: a generated NIC ring on CalIOC2
    const chunks: Uint8Array[] = [];
    const writer = new BinaryTraceWriter((b) => chunks.push(b.slice()));
    generateTrace(writer, { workload: "ring", param: 64, ops: 2000 });
    writer.flush();
    const binary = Buffer.concat(chunks);
    await page.selectOption("#trace-platform", "calioc2");
    await page.evaluate((bytes) => {
      const dt = new DataTransfer();
      dt.items.add(new File([new Uint8Array(bytes)], "ring.iotrace"));
      document.getElementById("drop")!.dispatchEvent(new DragEvent("drop", { dataTransfer: dt, bubbles: true, cancelable: true }));
    }, [...binary]);
    await waitStatus(page, "trace-status", "replayed: ring.iotrace on calioc2");
    expect(await shownRows()).toEqual(nodeTraceTable(traceFrontier(await collectTrace([binary]), "calioc2", createIommu)));

    // a bad line is refused with its number, in page words
    await page.evaluate(() => {
      const dt = new DataTransfer();
      dt.items.add(new File(["map a 40000000 4096 to-device\nunmap b\n"], "bad.trace"));
      document.getElementById("drop")!.dispatchEvent(new DragEvent("drop", { dataTransfer: dt, bubbles: true, cancelable: true }));
    });
    await waitStatus(page, "trace-status", "refused: bad.trace");
    expect(await page.textContent("#trace-status")).toMatch(/line 2/);
    mkdirSync(join(root, "test-output"), { recursive: true });
    await page.selectOption("#trace-platform", "calgary-pcix");
    await page.click("#trace-example");
    await waitStatus(page, "trace-status", "replayed: nic-ring.trace");
    await page.screenshot({ path: join(root, "test-output", "demo-trace.png"), fullPage: true });
    await page.close();
    expect(errors).toEqual([]);
  });
});
