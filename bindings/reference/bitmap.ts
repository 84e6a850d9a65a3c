// Reference IO-space bitmap: one boolean per IO page, searched bit by bit, exactly as
// lib/find_next_bit reads in prose. Written for clarity; the WASM core must agree with it.

export class ReferenceBitmap {
  readonly used: Uint8Array;
  /** 64-bit words the WASM core would load for the same searches (derived, see wordsFor). */
  wordsScanned = 0;

  constructor(readonly size: number) {
    this.used = new Uint8Array(size);
  }

  /** Words touched by a scan that starts at bit `from` and stops at bit `stop` (inclusive). */
  private wordsFor(from: number, stop: number): number {
    return Math.floor(stop / 64) - Math.floor(from / 64) + 1;
  }

  /** find_next_zero_bit(map, limit, start): `limit` if none. */
  findZero(start: number, limit: number): number {
    if (start >= limit) return limit;
    for (let i = start; i < limit; i++) {
      if (!this.used[i]) {
        this.wordsScanned += this.wordsFor(start, i);
        return i;
      }
    }
    this.wordsScanned += this.wordsFor(start, limit - 1);
    return limit;
  }

  /** First used bit in [from, end), `end` if none. */
  findSet(from: number, end: number): number {
    if (from >= end) return end;
    for (let i = from; i < end; i++) {
      if (this.used[i]) {
        this.wordsScanned += this.wordsFor(from, i);
        return i;
      }
    }
    this.wordsScanned += this.wordsFor(from, end - 1);
    return end;
  }

  set(first: number, n: number): void {
    for (let i = first; i < first + n; i++) this.used[i] = 1;
  }

  /** Clears the range; returns how many pages were in use. */
  clear(first: number, n: number): number {
    let was = 0;
    for (let i = first; i < first + n; i++) {
      was += this.used[i];
      this.used[i] = 0;
    }
    return was;
  }
}
