// `iommu-sim serve`: a bad URL is answered 400 and the server lives on; only the page and what it
// loads are served (not package.json, sources, .git); and the page's dependencies are found the
// way Node finds them, also from an installed package whose dependencies npm hoisted above it.
import { cpSync, mkdirSync, mkdtempSync, readdirSync, symlinkSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serve } from "../bindings/io/static-server.js";

const root = join(__dirname, "..");

/** One raw GET: the path is sent as given, with no client-side normalisation. */
function get(base: string, path: string): Promise<{ status: number; type: string; body: Buffer }> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request({ host: hostname, port, path, method: "GET" }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, type: String(res.headers["content-type"] ?? ""), body: Buffer.concat(chunks) }));
    });
    req.on("error", reject);
    req.end();
  });
}

/**
 * Every URL the page loads, found by following it as a browser would: the scripts of index.html,
 * the resources app.js fetches or imports, and the modules those import, transitively.
 */
async function pageClosure(base: string): Promise<Map<string, { status: number; type: string }>> {
  const seen = new Map<string, { status: number; type: string }>();
  const queue = ["/web/index.html"];
  while (queue.length) {
    const path = queue.shift()!;
    if (seen.has(path)) continue;
    const r = await get(base, path);
    seen.set(path, { status: r.status, type: r.type });
    if (r.status !== 200 || !/\.(html|js)$/.test(path)) continue;
    const text = r.body.toString("utf8");
    const refs = [
      ...text.matchAll(/<script[^>]*\ssrc="([^"]+)"/g),
      ...text.matchAll(/(?:from|import)\s*\(?\s*"(\.{1,2}\/[^"]+)"/g),
      ...text.matchAll(/new (?:URL|Worker)\("(\.{1,2}\/[^"]+)"/g),
    ].map((m) => m[1]);
    for (const ref of refs) queue.push(new URL(ref, `http://x${path}`).pathname);
  }
  return seen;
}

describe("serve", () => {
  let server: Awaited<ReturnType<typeof serve>>;
  beforeAll(async () => {
    server = await serve(root);
  });
  afterAll(async () => {
    await server?.close();
  });

  it("answers 400 to a URL that cannot be decoded, and keeps serving", async () => {
    for (const bad of ["/%E0%A4%A", "/%", "/web/%ZZ.html", "/%00"]) {
      expect((await get(server.url, bad)).status, bad).toBe(400);
    }
    expect((await get(server.url, "/web/index.html")).status).toBe(200);
  });

  it("serves the page and everything it loads, with the types a browser needs", async () => {
    const closure = await pageClosure(server.url);
    for (const [path, r] of closure) expect(r.status, path).toBe(200);
    const paths = [...closure.keys()];
    expect(paths).toEqual(expect.arrayContaining([
      "/web/index.html", "/web/app.js", "/lib/index.js", "/build/iommu.wasm",
      "/vendor/vega/vega.min.js", "/vendor/vega-lite/vega-lite.min.js", "/data/seed-netperf.csv", "/profiles/netperf-calibrated.json",
    ]));
    expect(closure.get("/build/iommu.wasm")!.type).toBe("application/wasm"); // compileStreaming needs it
    expect(closure.get("/lib/index.js")!.type).toMatch(/javascript/);
    expect((await get(server.url, "/")).status).toBe(302);
  });

  it("serves a trace worker whose module graph imports nothing by bare name (a worker has no import map)", async () => {
    const seen = new Set<string>();
    const bare: string[] = [];
    const queue = ["/web/trace-worker.js"];
    while (queue.length) {
      const path = queue.shift()!;
      if (seen.has(path)) continue;
      seen.add(path);
      const r = await get(server.url, path);
      expect(r.status, path).toBe(200);
      for (const [, spec] of r.body.toString("utf8").matchAll(/(?:^|\n)\s*(?:import|export)\b[^;]*?\bfrom\s*"([^"]+)"/g)) {
        if (/^\.{1,2}\//.test(spec)) queue.push(new URL(spec, `http://x${path}`).pathname);
        else bare.push(`${path} imports ${spec}`);
      }
    }
    expect(seen.size).toBeGreaterThan(5);
    expect(bare).toEqual([]);
  });

  it("serves nothing else of the package: not package.json, sources, declarations, node_modules or .git", async () => {
    for (const path of [
      "/package.json", "/README.md", "/bindings/cli.ts", "/assembly/index.ts", "/lib/index.d.ts", "/lib/cli.d.ts", "/tsconfig.json",
      "/.git/config", "/web/../package.json", "/web/%2e%2e/package.json", "/lib/%2e%2e/package.json", "/node_modules/vega/package.json",
      "/vendor/vega/vega-schema.json", "/vendor/vega/../package.json", "/build/", "/lib/", "/data/", "/test/browser.test.ts",
    ]) {
      const r = await get(server.url, path);
      expect([400, 404], path).toContain(r.status);
      expect(r.body.toString()).not.toMatch(/"name": "iommu-sim"|\[core\]|import /);
    }
  });
});

describe("serve from an installed package whose dependencies npm hoisted", () => {
  // consumer/node_modules/iommu-sim holds the package's files and no node_modules of its own;
  // vega, vega-lite and sirv sit beside it in consumer/node_modules, as npm installs a tarball
  const consumer = mkdtempSync(join(tmpdir(), "iommu-sim-consumer-"));
  const installed = join(consumer, "node_modules", "iommu-sim");
  let server: Awaited<ReturnType<typeof serve>>;

  beforeAll(async () => {
    mkdirSync(installed, { recursive: true });
    for (const part of ["lib", "web", "build", "data", "profiles", "examples", "package.json"]) cpSync(join(root, part), join(installed, part), { recursive: true });
    for (const dep of readdirSync(join(root, "node_modules"))) {
      if (!dep.startsWith(".")) symlinkSync(join(root, "node_modules", dep), join(consumer, "node_modules", dep), "dir");
    }
    writeFileSync(join(consumer, "package.json"), JSON.stringify({ name: "consumer", private: true, type: "module" }));
    const mod = (await import(join(installed, "lib", "io", "static-server.js"))) as { serve: typeof serve };
    server = await mod.serve(installed);
  });
  afterAll(async () => {
    await server?.close();
  });

  it("finds vega and vega-lite above the package and serves the whole page", async () => {
    const closure = await pageClosure(server.url);
    for (const [path, r] of closure) expect(r.status, path).toBe(200);
    expect(closure.has("/vendor/vega/vega.min.js")).toBe(true);
    expect((await get(server.url, "/vendor/vega/vega.min.js")).body.toString("utf8", 0, 2000)).toMatch(/vega/);
  });
});
