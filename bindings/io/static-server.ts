// The demo page's server on 127.0.0.1 (`iommu-sim serve`, and the browser test): the page and
// what it loads, nothing else of the package. Files are sent by sirv (content types, ranges,
// ETags, no dotfiles); this file decides which URL maps to which file.

import { createRequire } from "node:module";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { basename, dirname, join } from "node:path";
import sirv from "sirv";

/** A URL prefix served from one directory, only the files `allow` matches (path below the prefix). */
interface Mount {
  prefix: string;
  dir: string;
  allow: RegExp;
}

/**
 * The file a dependency's specifier names, resolved from this file as Node resolves it, so it is
 * found wherever npm put it (beside the package in a checkout, hoisted above it when installed).
 */
function resolveDependency(specifier: string): string | undefined {
  try {
    return createRequire(import.meta.url).resolve(specifier);
  } catch {
    return undefined; // not installed: its URL answers 404, the rest of the page still loads
  }
}

/** What web/index.html loads, directly or through lib/index.js. */
function pageMounts(packageRoot: string): Mount[] {
  const mounts: Array<Mount | undefined> = [
    { prefix: "/web/", dir: join(packageRoot, "web"), allow: /^[\w-]+\.(html|js|css)$/ },
    { prefix: "/lib/", dir: join(packageRoot, "lib"), allow: /^([\w-]+\/)*[\w.-]+\.js(\.map)?$/ },
    { prefix: "/build/", dir: join(packageRoot, "build"), allow: /^iommu\.wasm$/ },
    { prefix: "/data/", dir: join(packageRoot, "data"), allow: /^seed-netperf\.csv$/ },
    { prefix: "/profiles/", dir: join(packageRoot, "profiles"), allow: /^netperf-calibrated\.json$/ },
    { prefix: "/examples/", dir: join(packageRoot, "examples"), allow: /^[\w-]+\.trace$/ },
    vendor("/vendor/vega/", "vega/build/vega.min.js"),
    vendor("/vendor/vega-lite/", "vega-lite/build/vega-lite.min.js"),
    vendor("/vendor/tinybench/", "tinybench"), // an ES module without imports: dist/index.js
    vendor("/vendor/d3-dsv/", "d3-dsv"), // an ES module without imports: dist/d3-dsv.mjs (the page's import map names it)
  ];
  return mounts.filter((m): m is Mount => m !== undefined);
}

/** One file of a dependency (the one `specifier` resolves to) under `prefix`, by its own name. */
function vendor(prefix: string, specifier: string): Mount | undefined {
  const file = resolveDependency(specifier);
  if (file === undefined) return undefined;
  const name = basename(file).replace(/\./g, "\\.");
  return { prefix, dir: dirname(file), allow: new RegExp(`^${name}(\\.map)?$`) };
}

/** The decoded path of a request, or undefined when the URL cannot be decoded or climbs out. */
export function requestPath(rawUrl: string): string | undefined {
  let path: string;
  try {
    path = decodeURIComponent(new URL(rawUrl, "http://localhost").pathname);
  } catch {
    return undefined; // URIError: a malformed escape such as /% or /%E0%A4%A
  }
  if (path.includes("\0") || path.includes("\\") || path.split("/").some((s) => s === "..")) return undefined;
  return path;
}

export async function serve(packageRoot: string, port = 0): Promise<{ url: string; close: () => Promise<void> }> {
  const mounts = pageMounts(packageRoot).map((m) => ({
    ...m,
    send: sirv(m.dir, {
      dev: true, // look each file up when asked: no walk of the tree at start, rebuilt files seen at once
      etag: true,
      dotfiles: false,
      extensions: [],
      setHeaders: (res: ServerResponse, path: string) => {
        if (path.endsWith(".trace")) res.setHeader("Content-Type", "text/plain; charset=utf-8");
      },
    }),
  }));
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { allow: "GET, HEAD" }).end();
      return;
    }
    const path = requestPath(req.url ?? "/");
    if (path === undefined) {
      res.writeHead(400, { "content-type": "text/plain; charset=utf-8" }).end("bad request: the URL's path cannot be decoded\n");
      return;
    }
    if (path === "/" || path === "/web" || path === "/web/") {
      res.writeHead(302, { location: "/web/index.html" }).end();
      return;
    }
    const mount = mounts.find((m) => path.startsWith(m.prefix) && m.allow.test(path.slice(m.prefix.length)));
    if (!mount) {
      res.writeHead(404, { "content-type": "text/plain; charset=utf-8" }).end("not found: this server serves the demo page and what it loads\n");
      return;
    }
    req.url = "/" + path.slice(mount.prefix.length); // sirv resolves below its own directory
    mount.send(req, res, () => void res.writeHead(404).end());
  });
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  const bound = (server.address() as { port: number }).port;
  return { url: `http://127.0.0.1:${bound}`, close: () => new Promise((r) => server.close(() => r())) };
}
