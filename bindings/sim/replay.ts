// Replays a parsed trace through a priced model (platform × strategy × environment): the core's
// PricedSimulation, or the reference Simulation.

import { ConfigError } from "../errors.js";
import { TraceError, type ParsedTrace } from "../trace/parse.js";
import type { PricedModel, SimulationReport } from "./setup.js";

export interface SimReplayResult {
  report: SimulationReport;
  operations: number;
  skipped: Array<{ line: number; text: string; reason: string }>;
}

/** Applies every operation; an out-of-sequence one stops the replay (or is skipped under lenient). */
export function replayThroughSimulation(trace: ParsedTrace, sim: PricedModel, lenient = false): SimReplayResult {
  const skipped = [...trace.skipped];
  const sgLengths = new Map<string, number[]>();
  let operations = 0;
  for (const op of trace.ops) {
    try {
      switch (op.kind) {
        case "map": sim.map(op.id, op.phys, op.bytes, op.dir); break;
        case "unmap": sim.unmap(op.id); break;
        case "map_sg":
          sim.mapSg(op.id, op.segments, op.dir);
          sgLengths.set(op.id, op.segments.map((s) => s.bytes));
          break;
        case "unmap_sg": sim.unmapSg(op.id); break;
        case "alloc": sim.alloc(op.id, op.bytes); break;
        case "free": sim.free(op.id); break;
        case "cpu": sim.setCpu(op.cpu); break;
        case "access": {
          const lengths = sgLengths.get(op.id);
          let offset = op.offset;
          let seg = 0;
          if (lengths) while (seg < lengths.length - 1 && offset >= lengths[seg]) offset -= lengths[seg++];
          sim.access(op.id, offset, op.bytes, op.write ? "write" : "read", seg);
          break;
        }
      }
      operations++;
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      const text = op.kind === "cpu" ? `cpu ${op.cpu}` : `${op.kind} ${op.id}`;
      if (!lenient) throw new TraceError(op.line, text, e.message);
      skipped.push({ line: op.line, text, reason: e.message });
    }
  }
  sim.finish();
  return { report: sim.report(), operations, skipped: skipped.sort((a, b) => a.line - b.line) };
}
