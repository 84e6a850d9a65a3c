// Which Chromium the browser tests drive: $CHROMIUM_PATH, else the system's, else the one the
// @sparticuz/chromium package ships inside its npm tarball (so a machine with nothing but Node
// runs them too). Resolved once per run in test/setup/chromium.ts; tests launch it through
// launchChromium().
import { accessSync, constants, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { chromium, type Browser } from "playwright-core";
import { inject } from "vitest";

declare module "vitest" {
  export interface ProvidedContext {
    chromiumPath: string;
  }
}

const SYSTEM_CHROMIUMS = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome-stable", "/usr/bin/google-chrome"];

/** An executable regular file (a browser hidden by a bind mount of /dev/null is not one). */
function isExecutableFile(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** The path of the Chromium to drive, unpacking the packaged one on first use. */
export async function resolveChromium(cacheRoot: string): Promise<string> {
  const chosen = process.env.CHROMIUM_PATH;
  if (chosen) {
    if (!isExecutableFile(chosen)) throw new Error(`CHROMIUM_PATH=${chosen} is not an executable file`);
    return chosen;
  }
  const system = SYSTEM_CHROMIUMS.find(isExecutableFile);
  if (system) return system;
  const { default: packaged } = await import("@sparticuz/chromium");
  const manifest = join(dirname(createRequire(import.meta.url).resolve("@sparticuz/chromium")), "..", "..", "package.json");
  const { version } = JSON.parse(readFileSync(manifest, "utf8")) as { version: string };
  const dir = join(cacheRoot, `sparticuz-chromium-${version}`);
  const executable = join(dir, "chromium");
  if (existsSync(executable)) return executable;
  // Unpacked beside the cache and renamed into it when complete: an interrupted unpacking leaves
  // no truncated binary to launch next time.
  mkdirSync(cacheRoot, { recursive: true });
  const partial = mkdtempSync(`${dir}.partial-`);
  // The package unpacks into os.tmpdir(), which it reads synchronously when called (and would
  // otherwise reuse whatever /tmp/chromium another version left there).
  const saved = process.env.TMPDIR;
  process.env.TMPDIR = partial;
  let unpacking: Promise<string>;
  try {
    unpacking = packaged.executablePath();
  } finally {
    if (saved === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = saved;
  }
  await unpacking;
  rmSync(dir, { recursive: true, force: true });
  renameSync(partial, dir);
  return executable;
}

/** Headless Chromium for a test (the path resolved by the global setup). */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: inject("chromiumPath"),
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}
