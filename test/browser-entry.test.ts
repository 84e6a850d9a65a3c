// The browser entry loads in a page without a bundler: every package it imports is resolved by the
// demo page's import map to a URL the page's server answers with JavaScript.
// (The browser test drives the page itself; this holds where no browser is installed.)
import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const root = join(__dirname, "..");

function bareImports(entry: string): Set<string> {
  const seen = new Set<string>();
  const bare = new Set<string>();
  const walk = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    const text = readFileSync(file, "utf8");
    for (const m of text.matchAll(/(?:import|export)[^"']*?from\s*["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)/g)) {
      const spec = m[1] ?? m[2];
      if (spec.startsWith(".")) walk(resolve(dirname(file), spec));
      else bare.add(spec);
    }
  };
  walk(entry);
  return bare;
}

describe("the browser entry", () => {
  it("imports no node: module, and only packages the demo page's import map resolves", async () => {
    const bare = bareImports(join(root, "lib", "index.js"));
    expect([...bare].filter((s) => s.startsWith("node:"))).toEqual([]);
    const html = readFileSync(join(root, "web", "index.html"), "utf8");
    const map = JSON.parse(/<script type="importmap">([\s\S]*?)<\/script>/.exec(html)![1]).imports as Record<string, string>;
    expect(Object.keys(map).sort()).toEqual([...bare].sort());
    const { serve } = await import("../lib/io/static-server.js");
    const server = await serve(root, 0);
    try {
      for (const target of Object.values(map)) {
        const r = await fetch(new URL(target, `${server.url}/web/index.html`));
        expect(r.status, target).toBe(200);
        expect(r.headers.get("content-type")).toMatch(/^(text|application)\/javascript/);
        expect(await r.text()).not.toMatch(/^\s*import\s/m); // loaded as is: it must import nothing itself
      }
    } finally {
      await server.close();
    }
  });
});
