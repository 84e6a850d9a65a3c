// Operations → native text trace lines (trace convert from binary, trace generate), handed to
// `write` in chunks. Binary ids are written by their name when the trace gave one, else as
// their decimal number; what parse.ts reads back is the same operation.

import { DIRECTIONS } from "../abi.js";
import { ConfigError } from "../errors.js";
import { isTextId } from "./binary.js";
import type { TraceConsumer, TraceId } from "./consumer.js";

export class TextTraceWriter implements TraceConsumer {
  private parts: string[] = [];
  private size = 0;
  private readonly names = new Map<number, string>();
  private readonly utf8 = new TextEncoder();

  constructor(private readonly write: (bytes: Uint8Array) => void, private readonly chunkChars = 1 << 16) {}

  private id(id: TraceId): string {
    return typeof id === "string" ? id : (this.names.get(id) ?? String(id));
  }

  private line(s: string): void {
    this.parts.push(s);
    this.size += s.length + 1;
    if (this.size >= this.chunkChars) this.flush();
  }

  map(id: TraceId, phys: number, bytes: number, dir: number): void {
    this.line(`map ${this.id(id)} ${phys.toString(16)} ${bytes} ${DIRECTIONS[dir]}`);
  }

  mapSg(id: TraceId, dir: number, phys: Float64Array, bytes: Float64Array, count: number): void {
    let s = `map_sg ${this.id(id)} ${DIRECTIONS[dir]}`;
    for (let k = 0; k < count; k++) s += ` ${phys[k].toString(16)}:${bytes[k]}`;
    this.line(s);
  }

  unmap(id: TraceId): void {
    this.line(`unmap ${this.id(id)}`);
  }

  unmapSg(id: TraceId): void {
    this.line(`unmap_sg ${this.id(id)}`);
  }

  alloc(id: TraceId, bytes: number): void {
    this.line(`alloc ${this.id(id)} ${bytes}`);
  }

  free(id: TraceId): void {
    this.line(`free ${this.id(id)}`);
  }

  access(id: TraceId, offset: number, bytes: number, write: boolean): void {
    this.line(`access ${this.id(id)} ${offset} ${bytes} ${write ? "write" : "read"}`);
  }

  cpu(cpu: number): void {
    this.line(`cpu ${cpu}`);
  }

  name(id: number, name: string): void {
    if (!isTextId(name)) throw new ConfigError("id", name, "a word without whitespace or '#', to be written as text");
    this.names.set(id, name);
  }

  skip(): void {}

  ignore(): void {}

  /** Writes what is buffered; call at the end. */
  flush(): void {
    if (this.parts.length === 0) return;
    this.write(this.utf8.encode(this.parts.join("\n") + "\n"));
    this.parts = [];
    this.size = 0;
  }
}
