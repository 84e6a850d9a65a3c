// `iommu-sim trace convert IN OUT` (text ↔ binary) and `iommu-sim trace generate` (the allocator
// workloads' DMA streams as a trace). Both stream: constant memory whatever the length. A file
// output is written beside its target and renamed into place when complete; "-" is stdout.

import { once } from "node:events";
import { closeSync, openSync, renameSync, statSync, unlinkSync, writeSync } from "node:fs";
import { dirname, join, basename } from "node:path";
import { type Command, InvalidArgumentError, Option } from "commander";
import { parseWorkloadSpec } from "../allocators/compare.js";
import { ConfigError } from "../errors.js";
import { traceChunks } from "../io/trace-source.js";
import { BinaryTraceWriter } from "../trace/binary.js";
import type { TraceConsumer } from "../trace/consumer.js";
import { generateInSteps, TRACE_WORKLOADS, type TraceWorkload } from "../trace/generate.js";
import { pump, TraceReader, type TraceFormat } from "../trace/stream.js";
import { TextTraceWriter } from "../trace/text-writer.js";

type Writer = TraceConsumer & { flush(): void };

/** Where trace bytes go: a temporary file renamed onto `file` at commit, or stdout ("-"). */
class TraceOutput {
  private fd: number | undefined;
  private readonly temp: string | undefined;

  constructor(private readonly file: string) {
    if (file === "-") return;
    this.temp = join(dirname(file), `.${basename(file)}.${process.pid}.tmp`);
    try {
      this.fd = openSync(this.temp, "w");
    } catch (e) {
      throw new ConfigError("OUT", file, `a writable file (${(e as Error).message})`);
    }
  }

  readonly write = (bytes: Uint8Array): void => {
    if (this.fd === undefined) process.stdout.write(bytes);
    else writeSync(this.fd, bytes);
  };

  /** Waits while stdout's buffer is full. */
  async drain(): Promise<void> {
    if (this.fd === undefined && process.stdout.writableNeedDrain) await once(process.stdout, "drain");
  }

  /** Renames a file output into place and says what it holds (a trace on stdout is the output itself). */
  commit(what: string): void {
    if (this.fd === undefined) return;
    closeSync(this.fd);
    this.fd = undefined;
    renameSync(this.temp!, this.file);
    process.stdout.write(`wrote ${this.file}: ${what}, ${statSync(this.file).size} bytes\n`);
  }

  abandon(): void {
    if (this.temp === undefined) return;
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    try {
      unlinkSync(this.temp);
    } catch {
      // already gone
    }
  }
}

function writerFor(format: TraceFormat, out: TraceOutput): Writer {
  return format === "binary" ? new BinaryTraceWriter(out.write) : new TextTraceWriter(out.write);
}

async function withOutput(file: string, body: (out: TraceOutput) => Promise<string>): Promise<void> {
  const out = new TraceOutput(file);
  const abandon = () => {
    out.abandon();
    process.exit(130);
  };
  process.once("SIGINT", abandon);
  try {
    out.commit(await body(out));
  } catch (e) {
    out.abandon();
    throw e;
  } finally {
    process.off("SIGINT", abandon);
  }
}

async function convert(input: string, output: string, flags: { to?: TraceFormat; lenient?: boolean }): Promise<void> {
  await withOutput(output, async (out) => {
    let writer: Writer | undefined;
    const reader = new TraceReader((format) => (writer = writerFor(flags.to ?? (format === "binary" ? "text" : "binary"), out)), flags.lenient);
    async function* paced(): AsyncGenerator<Uint8Array> {
      for await (const c of traceChunks(input, "IN")) {
        yield c;
        writer?.flush();
        await out.drain();
      }
    }
    await pump(paced(), reader);
    writer!.flush();
    return `${reader.position} ${reader.format === "binary" ? "records" : "lines"} of ${reader.format} read, written as ${flags.to ?? (reader.format === "binary" ? "text" : "binary")}`;
  });
}

function operationCount(v: string): number {
  const n = Number(v);
  if (!/^\d+(e\d+)?$/i.test(v) || !Number.isSafeInteger(n)) throw new InvalidArgumentError("expected a whole number of operations (e.g. 1000000 or 1e8)");
  return n;
}

async function generate(flags: { workload: string; ops: number; seed?: number; output?: string; format: TraceFormat }): Promise<void> {
  const spec = parseWorkloadSpec(flags.workload);
  if (!TRACE_WORKLOADS.includes(spec.workload as TraceWorkload)) {
    throw new ConfigError("--workload", flags.workload, `NAME or NAME:PARAM with NAME one of ${TRACE_WORKLOADS.join(", ")}`);
  }
  await withOutput(flags.output ?? "-", async (out) => {
    const writer = writerFor(flags.format, out);
    let written = 0;
    for (written of generateInSteps(writer, { workload: spec.workload as TraceWorkload, param: spec.param, ops: flags.ops, seed: flags.seed })) {
      writer.flush();
      await out.drain();
    }
    writer.flush();
    return `${written} operations of ${spec.workload}:${spec.param} (seed ${flags.seed ?? 1}), ${flags.format}`;
  });
}

export function registerTrace(program: Command): void {
  const trace = program.command("trace").description("Convert traces between text and binary, or generate one from an allocator workload");
  trace
    .command("convert")
    .description("Convert a trace to the other format: text (native or dma: tracepoints) → binary, binary → native text")
    .argument("<IN>", 'trace to read (text, binary, optionally gzipped; "-": stdin)')
    .argument("<OUT>", 'file to write ("-": stdout)')
    .addOption(new Option("--to <format>", "output format (default: the other one)").choices(["text", "binary"]))
    .option("--lenient", "skip malformed lines instead of stopping")
    .action((input: string, output: string, flags: { to?: TraceFormat; lenient?: boolean }) => convert(input, output, flags));
  trace
    .command("generate")
    .description("Write an allocator workload's DMA stream as a trace (seeded, deterministic)")
    .requiredOption("--workload <name[:param]>", `${TRACE_WORKLOADS.join(" | ")}, optionally with its parameter (ring size, requests in flight, long-lived buffers)`)
    .requiredOption("--ops <n>", "trace operations to write, the initial fill included (e.g. 1e8)", operationCount)
    .option("--seed <n>", "xorshift32 seed (default 1)", (v) => {
      if (!/^\d+$/.test(v) || Number(v) > 0xffffffff) throw new InvalidArgumentError("expected a whole number from 0 to 4294967295");
      return Number(v);
    })
    .option("-o, --output <file>", 'file to write (default "-": stdout)')
    .addOption(new Option("--format <format>", "trace format").choices(["text", "binary"]).default("text"))
    .action((flags: { workload: string; ops: number; seed?: number; output?: string; format: TraceFormat }) => generate(flags));
}
