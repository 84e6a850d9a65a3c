#!/usr/bin/env node
// Runs before the tests (`npm test`) so that they always see the current sources without
// repeating the build `npm ci` has just run: the WASM core is rebuilt only when an input is newer
// than its outputs (a fresh clone has none and builds), and lib/ through `tsc -b`, whose own
// up-to-date check also re-reports type errors left from the last build.
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";

const root = join(import.meta.dirname, "..");

/** Modification times of every file under a path (a file gives its own). */
function mtimes(path) {
  if (!existsSync(path)) return [];
  const st = statSync(path);
  if (!st.isDirectory()) return [st.mtimeMs];
  return readdirSync(path).flatMap((name) => mtimes(join(path, name)));
}

const wasmInputs = ["assembly", "asconfig.json", "node_modules/assemblyscript/package.json"];
const wasmOutputs = ["build/iommu.wasm", "build/iommu.debug.wasm"];
const newestInput = Math.max(...wasmInputs.flatMap((p) => mtimes(join(root, p))));
const outputs = wasmOutputs.map((p) => join(root, p));
const oldestOutput = outputs.every(existsSync) ? Math.min(...outputs.flatMap(mtimes)) : -Infinity;

const run = (script) => execFileSync("npm", ["run", "--silent", script], { cwd: root, stdio: "inherit" });
if (newestInput > oldestOutput) run("asbuild");
else console.log("build/iommu.wasm is up to date");
run("tsbuild");
