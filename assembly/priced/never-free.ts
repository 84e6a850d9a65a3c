// === never-free: unmap returns the IO pages but leaves their entries valid ===
// Nothing is written and nothing crosses to Xen on unmap: that is the saving, and the exposure
// is every such page until the allocator hands it out again (a map over it forgets it).
//
//   kept: one bit per IO page, set while the page's entry outlives its unmap

import { keptChange } from "./exposure";

let kept: usize = 0;
let pages: u32 = 0;
let any: f64 = 0;

export function neverFreeBytes(entries: u32): usize {
  return <usize>((entries + 63) >> 6) << 3;
}

export function neverFreeInit(at: usize, entries: u32): void {
  kept = at;
  pages = entries;
  any = 0;
  memory.fill(at, 0, neverFreeBytes(entries));
}

// @ts-ignore: decorator
@inline function word(p: u32): usize {
  return kept + (<usize>(p >> 6) << 3);
}

/** Pages [first, first + n) were unmapped with their entries left valid. */
export function keep(first: u32, n: u32): void {
  mark(first, n, true);
}

/** Pages [first, first + n) were mapped again: their entries are current, not kept. */
// @ts-ignore: decorator
@inline export function forget(first: u32, n: u32): void {
  if (any != 0) mark(first, n, false);
}

/** Sets (`on`) or clears the kept bit of pages [first, first + n), counting the pages that change. */
function mark(first: u32, n: u32, on: bool): void {
  for (let i: u32 = 0; i < n; i++) {
    let p = first + i;
    if (p >= pages) continue;
    let w = word(p);
    let bit = <u64>1 << (p & 63);
    let v = load<u64>(w);
    if (((v & bit) != 0) == on) continue;
    store<u64>(w, on ? v | bit : v & ~bit);
    let d: f64 = on ? 1 : -1;
    keptChange(d);
    any += d;
  }
}
