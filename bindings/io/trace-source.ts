// A trace's bytes in chunks from a file or stdin ("-"), gunzipped through node:zlib when they
// start with the gzip magic (a .gz file, or `zcat`-less piping): constant memory whatever the
// length. A file that cannot be read is a ConfigError naming the argument.

import { once } from "node:events";
import { createReadStream } from "node:fs";
import { createGunzip } from "node:zlib";
import { ConfigError } from "../errors.js";

const CHUNK_BYTES = 1 << 20;

export async function* traceChunks(file: string, field = "TRACE"): AsyncGenerator<Uint8Array> {
  const unreadable = (e: unknown, what = "a readable trace file") => new ConfigError(field, file, `${what} (${(e as Error).message})`);
  const source = file === "-" ? process.stdin : createReadStream(file, { highWaterMark: CHUNK_BYTES });
  const it = source[Symbol.asyncIterator]() as AsyncIterator<Uint8Array>;
  const next = async () => {
    try {
      return await it.next();
    } catch (e) {
      throw unreadable(e);
    }
  };
  let first = await next();
  if (first.done) return;
  let head = first.value;
  while (head.length < 2) {
    // one byte so far (a slow pipe): enough to tell gzip only with the second
    first = await next();
    if (first.done) break;
    head = Buffer.concat([head, first.value]);
  }
  if (head[0] !== 0x1f || head[1] !== 0x8b) {
    yield head;
    for (let r = await next(); !r.done; r = await next()) yield r.value;
    return;
  }
  const gz = createGunzip({ chunkSize: CHUNK_BYTES });
  void (async () => {
    gz.write(head);
    for (let r = await next(); !r.done; r = await next()) if (!gz.write(r.value)) await once(gz, "drain");
    gz.end();
  })().catch((e) => gz.destroy(e as Error));
  try {
    for await (const c of gz) yield c as Uint8Array;
  } catch (e) {
    throw e instanceof ConfigError ? e : unreadable(e, "a readable gzip trace");
  }
}
