// `iommu-sim merge`: part files of a sharded grid (`sweep|allocators --shard`) joined into the
// outputs the unsharded command gives, byte for byte: the rows go to the command's own output
// functions, in grid order.

import type { Command } from "commander";
import type { AllocatorFigures } from "../allocators/workload.js";
import { ConfigError } from "../errors.js";
import { writeAtomicallySync } from "../io/atomic.js";
import { mergeParts } from "../shard/merge.js";
import { readPart } from "../shard/part.js";
import type { RunResult } from "../sweep/run.js";
import { allocatorsOutputs } from "./allocators.js";
import { PACKAGE } from "./json.js";
import { checkReplayGridOutputs, replayGridOutputs, type ReplayGridRow, type ReplayGridSpec } from "./replay-grid.js";
import { checkOutputs } from "./options.js";
import type { GridOutputs } from "./shard.js";
import { checkSweepOutputs, sweepOutputs, type SweepSpec } from "./sweep.js";

interface MergeFlags extends GridOutputs {
  out?: string;
}

/** Per command: the outputs it has beside the printed one, and how it makes them from its rows. */
const OUTPUTS: Record<string, { files: Array<keyof GridOutputs>; check(out: GridOutputs): Promise<void>; write(spec: unknown, rows: unknown[], out: GridOutputs, print: (text: string) => void): Promise<void> }> = {
  sweep: {
    files: ["csv", "plot"],
    check: checkSweepOutputs,
    write: (spec, rows, out, print) => sweepOutputs(spec as SweepSpec, rows as RunResult[], out, print),
  },
  replay: {
    files: ["csv"],
    check: async (out) => checkReplayGridOutputs(out),
    write: async (spec, rows, out, print) => replayGridOutputs(spec as ReplayGridSpec, rows as ReplayGridRow[], out, print),
  },
  allocators: {
    files: ["csv"],
    check: async (out) => checkOutputs(["--csv", out.csv]),
    write: async (_spec, rows, out, print) => allocatorsOutputs(rows as AllocatorFigures[], out, print),
  },
};

export function registerMerge(program: Command): void {
  program
    .command("merge")
    .description("Join the part files of a sharded `sweep`, `allocators` or `replay` (--shard I/N) into exactly the output the unsharded command gives")
    .argument("<PARTS...>", "every shard's part file, in any order")
    .option("--json", "print the results as JSON (as the command's --json)")
    .option("--csv <file>", "write the results as CSV (as the command's --csv)")
    .option("--plot <file>", "sweep: plot on-CPU against the first grid axis (FILE.svg or FILE.html)")
    .option("--out <file>", "write what would be printed to FILE (atomically) instead")
    .action(async (files: string[], flags: MergeFlags) => {
      checkOutputs(["--out", flags.out]);
      const merged = mergeParts(files.map(readPart), PACKAGE.version);
      const command = merged.study.command;
      const outputs = OUTPUTS[command];
      if (!outputs) throw new ConfigError("part file", files[0], `a part of ${Object.keys(OUTPUTS).join(" or ")}; it is a part of ${command}`);
      for (const f of ["csv", "plot"] as const) {
        if (flags[f] !== undefined && !outputs.files.includes(f)) throw new ConfigError(`--${f}`, flags[f], `to be left out: ${command} has no --${f}`);
      }
      await outputs.check(flags);
      const printed: string[] = [];
      await outputs.write(merged.study.spec, merged.rows, flags, (text) => (flags.out === undefined ? process.stdout.write(text) : printed.push(text)));
      if (flags.out !== undefined) writeAtomicallySync(flags.out, printed.join(""));
    });
}
