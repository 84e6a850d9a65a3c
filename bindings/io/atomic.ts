// Output files appear whole or not at all: written beside the target, renamed into place; an
// interrupted run (Ctrl-C) removes its partial file instead of leaving one that looks complete.

import { renameSync, rmSync, writeFileSync } from "node:fs";

const partials = new Set<string>();
let hooked = false;

function hook(): void {
  if (hooked) return;
  hooked = true;
  const clean = (signal: NodeJS.Signals) => {
    for (const p of partials) rmSync(p, { force: true });
    process.exit(signal === "SIGINT" ? 130 : 143);
  };
  process.once("SIGINT", clean);
  process.once("SIGTERM", clean);
}

export async function writeAtomically(file: string, text: string): Promise<void> {
  writeAtomicallySync(file, text);
}

export function writeAtomicallySync(file: string, text: string): void {
  hook();
  const partial = `${file}.partial-${process.pid}`;
  partials.add(partial);
  try {
    writeFileSync(partial, text);
    renameSync(partial, file);
  } finally {
    partials.delete(partial);
    rmSync(partial, { force: true });
  }
}
