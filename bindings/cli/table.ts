// Text tables for the terminal, through cli-table3: a rule under the header, every column
// separated by │, numbers right-aligned under right-aligned headers, text left-aligned.

import { createRequire } from "node:module";

// loaded when a table is printed: --help and JSON runs never pay for it
const require = createRequire(import.meta.url);

export type Align = "left" | "right";

const CHARS = {
  top: "", "top-mid": "", "top-left": "", "top-right": "",
  bottom: "", "bottom-mid": "", "bottom-left": "", "bottom-right": "",
  left: "", "left-mid": "", right: "", "right-mid": "",
  mid: "─", "mid-mid": "┼", middle: "│",
};

// a figure, possibly signed, with its unit: "12.5", "-3.6", "+2.5%", "28.6 %", "0.13 MiB", "64*"
const NUMERIC = /^[-+]?(\d+(\.\d*)?|\.\d+)(e[-+]?\d+)?\*?( ?(%|MiB|KiB))?$/i;

/**
 * `head` cells may hold "\n" for a two-line header (a group name over its first column).
 * A column is right-aligned when every body cell in it reads as a figure, unless `align` says.
 */
export function textTable(head: string[], rows: Array<Array<string | number>>, align: Array<Align | undefined> = []): string {
  const cells = rows.map((r) => r.map(String));
  const aligns: Align[] = head.map((_, i) => align[i] ?? (cells.length && cells.every((r) => NUMERIC.test(r[i] ?? "")) ? "right" : "left"));
  const Table = require("cli-table3") as typeof import("cli-table3");
  const table = new Table({
    // cli-table3 aligns header cells given as objects, though its types declare strings
    head: head.map((content, i) => ({ content, hAlign: aligns[i] })) as unknown as string[],
    chars: CHARS,
    style: { head: [], border: [], compact: true, "padding-left": 1, "padding-right": 1 },
  });
  for (const r of cells) table.push(r.map((content, i) => ({ content, hAlign: aligns[i] })));
  return table.toString().split("\n").map((l) => l.trimEnd()).join("\n");
}
