import { availableParallelism } from "node:os";
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    globalSetup: ["test/setup/chromium.ts"],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // vitest's default (one worker fewer than the cores) runs the files one at a time on 2 cores,
    // leaving a core idle while a test waits on the CLI, npm, a bundler or Chromium
    maxWorkers: Math.max(2, availableParallelism() - 1),
  },
});
