// Vitest global setup: resolve (and on a Node-only machine unpack) Chromium once per run, before
// the test files start in parallel, and hand its path to them.
import { join } from "node:path";
import type { TestProject } from "vitest/node";
import { resolveChromium } from "../helpers/chromium.js";

export default async function setup(project: TestProject): Promise<void> {
  project.provide("chromiumPath", await resolveChromium(join(import.meta.dirname, "..", "..", "node_modules", ".cache")));
}
