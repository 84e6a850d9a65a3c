// Fields of a text trace line read straight from its bytes, accepting exactly what parse.ts's
// regular expressions accept (and -1 / false for anything else: the caller then leaves the line
// to parse.ts, which words the error). Shared by the native and the tracepoint fast paths.

/** Decimal digits only (as /^\d+$/), ≤ 15 of them; -1 otherwise (the slow path words the error). */
export function dec(b: Uint8Array, s: number, e: number): number {
  if (s === e || e - s > 15) return -1;
  let v = 0;
  for (let i = s; i < e; i++) {
    const d = b[i] - 48;
    if (d < 0 || d > 9) return -1;
    v = v * 10 + d;
  }
  return v;
}

/** Hex digits with an optional 0x (as /^(0x)?[0-9a-f]+$/i), ≤ 13 of them; -1 otherwise. */
export function hex(b: Uint8Array, s: number, e: number): number {
  if (e - s > 2 && b[s] === 48 && (b[s + 1] | 32) === 120) s += 2;
  if (s === e || e - s > 13) return -1;
  let v = 0;
  for (let i = s; i < e; i++) {
    const c = b[i];
    let d = c - 48;
    if (d > 9 || d < 0) {
      d = (c | 32) - 87;
      if (d < 10 || d > 15) return -1;
    }
    v = v * 16 + d;
  }
  return v;
}

export function same(b: Uint8Array, s: number, e: number, word: string): boolean {
  if (e - s !== word.length) return false;
  for (let i = 0; i < word.length; i++) if (b[s + i] !== word.charCodeAt(i)) return false;
  return true;
}

/** ASCII bytes → string (only called on printable ASCII). */
export function ascii(b: Uint8Array, s: number, e: number): string {
  switch (e - s) {
    case 1: return String.fromCharCode(b[s]);
    case 2: return String.fromCharCode(b[s], b[s + 1]);
    case 3: return String.fromCharCode(b[s], b[s + 1], b[s + 2]);
    case 4: return String.fromCharCode(b[s], b[s + 1], b[s + 2], b[s + 3]);
    case 5: return String.fromCharCode(b[s], b[s + 1], b[s + 2], b[s + 3], b[s + 4]);
    case 6: return String.fromCharCode(b[s], b[s + 1], b[s + 2], b[s + 3], b[s + 4], b[s + 5]);
    default: return String.fromCharCode.apply(null, b.subarray(s, e) as unknown as number[]);
  }
}
