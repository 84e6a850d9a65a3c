// === IO-space bitmap, searched a 64-bit word at a time ===
//
// Bit i set ⇔ IO page (table entry) i is in use, allocated or reserved. Bits live in
// little-endian u64 words, so bit i is bit (i & 63) of word (i >> 6) and also bit (i & 7) of
// byte (i >> 3): the TypeScript side may read the map as bytes.
//
//   word:   0                      1                           n = entries / 64
//         ╒══════════════════════╤══════════════════════╤═══ … ═══╕
//         │ b63 …           b1 b0│ b127 …           b64 │         │
//         ╘══════════════════════╧══════════════════════╧═══ … ═══╛
//
// Table sizes are powers of two ≥ 8 Ki entries, so the map is a whole number of words.
// The searches count every word they load in stats.wordsScanned; the reference model derives the
// same count from its bit-level result (words from the start word to the word where the search
// stopped), so the two can be compared event for event.

import { stats } from "./counters";

let mapBase: usize = 0;

export function bitmapBase(): usize {
  return mapBase;
}

export function bitmapInit(base: usize, entries: u32): void {
  mapBase = base;
  memory.fill(base, 0, <usize>(entries >> 3));
}

// @ts-ignore: decorator
@inline function WORD(w: u32): u64 {
  return load<u64>(mapBase + (<usize>w << 3));
}

// @ts-ignore: decorator
@inline function SETWORD(w: u32, v: u64): void {
  store<u64>(mapBase + (<usize>w << 3), v);
}

/** First clear bit at index ≥ start and < limit; `limit` when there is none. */
export function findZero(start: u32, limit: u32): u32 {
  if (start >= limit) return limit;
  let w = start >> 6;
  let last = (limit - 1) >> 6;
  let x = ~WORD(w) & (<u64>-1 << <u64>(start & 63));
  let words: u64 = 1;
  while (x == 0) {
    if (w == last) {
      stats.wordsScanned += <u64>(words);
      return limit;
    }
    w++;
    words++;
    x = ~WORD(w);
  }
  stats.wordsScanned += <u64>(words);
  let n = (w << 6) + <u32>ctz<u64>(x);
  return n < limit ? n : limit;
}

/** First set bit at index ≥ from and < end; `end` when the range is clear. */
export function findSet(from: u32, end: u32): u32 {
  if (from >= end) return end;
  let w = from >> 6;
  let last = (end - 1) >> 6;
  let x = WORD(w) & (<u64>-1 << <u64>(from & 63));
  let words: u64 = 1;
  while (x == 0) {
    if (w == last) {
      stats.wordsScanned += <u64>(words);
      return end;
    }
    w++;
    words++;
    x = WORD(w);
  }
  stats.wordsScanned += <u64>(words);
  let i = (w << 6) + <u32>ctz<u64>(x);
  return i < end ? i : end;
}

/** Mask of bits [lo, hi) inside one word, 0 ≤ lo < hi ≤ 64. */
// @ts-ignore: decorator
@inline function span(lo: u32, hi: u32): u64 {
  let upper: u64 = hi == 64 ? <u64>-1 : (<u64>1 << <u64>hi) - 1;
  return upper & (<u64>-1 << <u64>lo);
}

/** Sets bits [start, start + n); returns how many were clear before. */
export function setRange(start: u32, n: u32): u32 {
  let end = start + n;
  let was: u32 = 0;
  while (start < end) {
    let w = start >> 6;
    let lo = start & 63;
    let hi: u32 = end - (w << 6) < 64 ? end - (w << 6) : 64;
    let m = span(lo, hi);
    let v = WORD(w);
    was += <u32>popcnt<u64>(~v & m);
    SETWORD(w, v | m);
    start = (w << 6) + hi;
  }
  return was;
}

/** Clears bits [start, start + n); returns how many were set before (n unless a double free). */
export function clearRange(start: u32, n: u32): u32 {
  let end = start + n;
  let was: u32 = 0;
  while (start < end) {
    let w = start >> 6;
    let lo = start & 63;
    let hi: u32 = end - (w << 6) < 64 ? end - (w << 6) : 64;
    let m = span(lo, hi);
    let v = WORD(w);
    was += <u32>popcnt<u64>(v & m);
    SETWORD(w, v & ~m);
    start = (w << 6) + hi;
  }
  return was;
}

/**
 * The ring's common case in one word load: the first clear bit at or after `start`, if it lies in
 * start's own word and `i + 1 < limit`, is taken (set) and returned; otherwise -1 and nothing
 * changes. Same answer as findZero + findSet for one page, which would load that word twice.
 */
// @ts-ignore: decorator
@inline export function takeOneInWord(start: u32, limit: u32): i32 {
  if (start >= limit) return -1;
  let w = start >> 6;
  let v = WORD(w);
  let x = ~v & (<u64>-1 << <u64>(start & 63));
  if (x == 0) return -1;
  let i = (w << 6) + <u32>ctz<u64>(x);
  if (i + 1 >= limit) return -1;
  SETWORD(w, v | (<u64>1 << <u64>(i & 63)));
  return <i32>i;
}

/** Sets bit i (known clear: the allocator just chose it). */
// @ts-ignore: decorator
@inline export function setOne(i: u32): void {
  let w = i >> 6;
  SETWORD(w, WORD(w) | (<u64>1 << <u64>(i & 63)));
}

/** Clears bit i; returns 1 if it was set. */
// @ts-ignore: decorator
@inline export function clearOne(i: u32): u32 {
  let w = i >> 6;
  let v = WORD(w);
  let m = <u64>1 << <u64>(i & 63);
  SETWORD(w, v & ~m);
  return <u32>((v & m) != 0);
}

// @ts-ignore: decorator
@inline export function testBit(i: u32): bool {
  return ((WORD(i >> 6) >> <u64>(i & 63)) & 1) != 0;
}

/** Longest run of clear bits below `limit` (a measurement, not a search: not counted). */
export function largestZeroRun(limit: u32): u32 {
  let words = stats.wordsScanned;
  let best: u32 = 0;
  let at = findZero(0, limit);
  while (at < limit) {
    let busy = findSet(at, limit);
    if (busy - at > best) best = busy - at;
    at = findZero(busy, limit);
  }
  stats.wordsScanned = words;
  return best;
}
