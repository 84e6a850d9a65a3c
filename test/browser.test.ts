// The demo page in real Chromium (the system's or the packaged one: test/helpers/chromium.ts),
// driven by playwright-core: it loads the WASM core by streaming compilation, computes in the page,
// updates when a control changes, matches the same computation in Node (netperf tables and the
// allocator comparison), and logs no console error.
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ALLOCATORS, createAllocatorWorkload, createIommu, parseMeasured, priceRing, simulateRow, type Calibration } from "../bindings/node.js";
import { serve } from "../bindings/io/static-server.js";
import { launchChromium } from "./helpers/chromium.js";

const root = join(__dirname, "..");
const calibration = JSON.parse(readFileSync(join(root, "profiles", "netperf-calibrated.json"), "utf8")) as Calibration;
parseMeasured(readFileSync(join(root, "data", "seed-netperf.csv"), "utf8"));

/** The page's table, computed in Node the same way. */
function nodeTable(platform: "calgary-pcix", strategy: string, environment: "baremetal" | "xen-dom0", sizes: number[]): string[][] {
  const counts = { off: priceRing("none", environment, "straightforward", createIommu).counts, on: priceRing(platform, environment, strategy, createIommu).counts };
  return sizes.map((m) => {
    const s = simulateRow(environment, m, calibration.environments[environment].params, counts, calibration.costProfile);
    return [String(m), s.offMbps.toFixed(1), s.offCpu.toFixed(2), s.onMbps.toFixed(1), s.onCpu.toFixed(2)];
  });
}

async function pageTable(page: Page): Promise<string[][]> {
  return page.$$eval("#table tr[data-size]", (trs) => trs.map((tr) => Array.from(tr.querySelectorAll("td")).slice(0, 5).map((td) => td.textContent ?? "")));
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
});
