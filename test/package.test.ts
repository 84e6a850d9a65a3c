// The package as a user installs it: the `npm pack` tarball installed into a consumer project
// outside this checkout (test/consumer/), with the dependencies it declares and nothing else.
// Its published types are checked by @arethetypeswrong/cli and by tsc under moduleResolution
// nodenext and bundler; a web app built from it with Vite and with esbuild loads the WASM as an
// asset URL and runs a batch in Chromium, with the same results as the same app in Node.
import { execFile } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { extname, join } from "node:path";
import { promisify } from "node:util";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium } from "./helpers/chromium.js";

const root = join(import.meta.dirname, "..");
const bin = (tool: string) => join(root, "node_modules", ".bin", tool);
const run = promisify(execFile);

/** Runs a command in the consumer; on failure the error carries its output. */
async function sh(cwd: string, file: string, args: string[], timeout = 60_000): Promise<string> {
  try {
    return (await run(file, args, { cwd, timeout, maxBuffer: 16 << 20 })).stdout;
  } catch (e) {
    const { stdout, stderr } = e as { stdout?: string; stderr?: string };
    throw new Error(`${file} ${args.join(" ")} failed in ${cwd}:\n${stdout ?? ""}${stderr ?? ""}\n${String(e)}`);
  }
}

let consumer: string;
let tarball: string;

beforeAll(async () => {
  consumer = mkdtempSync(join(tmpdir(), "iommu-sim-consumer-"));
  cpSync(join(root, "test", "consumer"), consumer, { recursive: true });
  // the tests run on a fresh build (npm test builds what is stale), so pack without re-running prepare
  const packed = await sh(root, "npm", ["pack", "--ignore-scripts", "--silent", "--pack-destination", consumer]);
  tarball = packed.trim().split("\n").pop()!;
  writeFileSync(join(consumer, "package.json"), JSON.stringify({ name: "consumer", private: true, type: "module", dependencies: { "iommu-sim": `file:./${tarball}` } }));
  // the dependencies come from npm's cache, filled by this checkout's `npm ci`
  await sh(consumer, "npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", "--ignore-scripts", "--loglevel=error"], 120_000);
}, 180_000);

afterAll(() => {
  if (consumer) rmSync(consumer, { recursive: true, force: true });
});

describe("published types", () => {
  it("@arethetypeswrong/cli finds no problem in the tarball for ESM consumers", async () => {
    // esm-only: the package is ESM, so require() from CommonJS (node10, node16-cjs) is out of scope;
    // ./iommu.wasm is an asset, not a module
    await sh(consumer, bin("attw"), [tarball, "--profile", "esm-only", "--exclude-entrypoints", "./iommu.wasm", "--format", "table-flipped"]);
  });

  it.each(["nodenext", "bundler"])("a TypeScript consumer compiles under moduleResolution %s", async (resolution) => {
    // @types/node from this checkout: the consumer installs iommu-sim only
    const typeRoots = join(root, "node_modules", "@types");
    await sh(consumer, process.execPath, [join(root, "node_modules", "typescript", "bin", "tsc"), "-p", `tsconfig.${resolution}.json`, "--typeRoots", typeRoots]);
  });
});

describe("embedding in a web app", () => {
  let browser: Browser;
  let expected: unknown;

  beforeAll(async () => {
    browser = await launchChromium();
    // the same app in Node, handed the installed WASM's bytes
    const script = `import { readFileSync } from "node:fs"; import { runBatch } from "./src/app.js";
      process.stdout.write(JSON.stringify(await runBatch(readFileSync("node_modules/iommu-sim/build/iommu.wasm"))));`;
    expected = JSON.parse(await sh(consumer, process.execPath, ["--input-type=module", "-e", script]));
  });

  afterAll(async () => {
    await browser?.close();
  });

  /** Opens dist/index.html in Chromium, served from disk (WASM as application/wasm), and reads the app's result. */
  async function resultInChromium(dist: string): Promise<unknown> {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    page.on("console", (m) => {
      if (m.type() === "error") errors.push(m.text());
    });
    const types: Record<string, string> = { ".html": "text/html", ".js": "text/javascript", ".wasm": "application/wasm" };
    await page.route("http://consumer.test/**", (route) => {
      const path = join(dist, decodeURIComponent(new URL(route.request().url()).pathname));
      if (!existsSync(path)) return route.fulfill({ status: 404 });
      return route.fulfill({ path, contentType: types[extname(path)] ?? "application/octet-stream" });
    });
    await page.goto("http://consumer.test/index.html");
    await page.waitForFunction(() => document.getElementById("result")?.textContent !== "running", null, { timeout: 30_000 });
    const text = (await page.textContent("#result")) ?? "";
    await page.close();
    expect(errors).toEqual([]);
    expect(text).not.toMatch(/^error/);
    return JSON.parse(text);
  }

  it("Vite: new URL('iommu-sim/iommu.wasm', import.meta.url) becomes an emitted asset", async () => {
    const { build } = await import("vite");
    await build({ root: consumer, logLevel: "silent", configFile: false, build: { outDir: "dist-vite", emptyOutDir: true } });
    const assets = readdirSync(join(consumer, "dist-vite", "assets"));
    expect(assets.some((f) => /^iommu-.*\.wasm$/.test(f))).toBe(true);
    expect(await resultInChromium(join(consumer, "dist-vite"))).toEqual(expected);
  });

  it("esbuild: the file loader copies the WASM beside the bundle", async () => {
    const { build } = await import("esbuild");
    const dist = join(consumer, "dist-esbuild");
    await build({
      absWorkingDir: consumer, entryPoints: ["src/esbuild-main.js"], bundle: true, format: "esm", platform: "browser",
      outdir: dist, loader: { ".wasm": "file" }, logLevel: "silent",
    });
    writeFileSync(join(dist, "index.html"), readFileSync(join(consumer, "index.html"), "utf8").replace("./src/vite-main.js", "./esbuild-main.js"));
    expect(readdirSync(dist).some((f) => /^iommu-.*\.wasm$/.test(f))).toBe(true);
    expect(await resultInChromium(dist)).toEqual(expected);
  });
});
