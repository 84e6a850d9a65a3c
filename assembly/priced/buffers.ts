// === The driver's buffers, by batch handle ===
// What the priced model must remember of each mapping the driver holds or released: its kind,
// whether it is live (the driver holds it) or failed (its map found no IO space), the DMA
// address it was given and the physical pages behind it, and the strategy's slot (cached,
// persistent). A scatterlist of n elements uses handles h … h + n − 1; every element carries
// the list's flags so an access to element k needs no walk back to the header.
//
//   ╒═════════════╤═════════════╤══════════════╤═══════════════╤════════════╤═════════════╕
//   │ flags u32 @0│ bytes u32 @4│ dma u64 @8   │ phys u64 @16  │ slot u32@24│ count u32@28│
//   ╘═════════════╧═════════════╧══════════════╧═══════════════╧════════════╧═════════════╛
//   flags: KNOWN | LIVE | FAILED, kind << 4, dir << 6.  count: elements (header only).

// @ts-ignore: decorator
@inline export const BUFFER_SIZE: u32 = 32;

// @ts-ignore: decorator
@inline export const KNOWN: u32 = 1; // mapped at some point: an access may name it
// @ts-ignore: decorator
@inline export const LIVE: u32 = 2;
// @ts-ignore: decorator
@inline export const FAILED: u32 = 4;

// @ts-ignore: decorator
@inline export const BUF_SINGLE: u32 = 0;
// @ts-ignore: decorator
@inline export const BUF_SG: u32 = 1;
// @ts-ignore: decorator
@inline export const BUF_COHERENT: u32 = 2;

let base: usize = 0;
let count: u32 = 0;

export function buffersInit(at: usize, n: u32): void {
  base = at;
  count = n;
  memory.fill(at, 0, <usize>n * BUFFER_SIZE);
}

export function bufferCount(): u32 {
  return count;
}

// @ts-ignore: decorator
@inline export function B(h: u32): usize {
  return base + <usize>h * BUFFER_SIZE;
}

// @ts-ignore: decorator
@inline export function flagsOf(b: usize): u32 {
  return load<u32>(b, 0);
}
// @ts-ignore: decorator
@inline export function kindOf(b: usize): u32 {
  return (load<u32>(b, 0) >> 4) & 3;
}
// @ts-ignore: decorator
@inline export function dirOf(b: usize): u32 {
  return (load<u32>(b, 0) >> 6) & 3;
}
// @ts-ignore: decorator
@inline export function setFlags(b: usize, flags: u32): void {
  store<u32>(b, flags, 0);
}
// @ts-ignore: decorator
@inline export function bytesOf(b: usize): u32 {
  return load<u32>(b, 4);
}
// @ts-ignore: decorator
@inline export function dmaOf(b: usize): u64 {
  return load<u64>(b, 8);
}
// @ts-ignore: decorator
@inline export function physOf(b: usize): u64 {
  return load<u64>(b, 16);
}
// @ts-ignore: decorator
@inline export function slotOf(b: usize): u32 {
  return load<u32>(b, 24);
}
// @ts-ignore: decorator
@inline export function elementsOf(b: usize): u32 {
  return load<u32>(b, 28);
}

/** A fresh buffer: what the driver asked for; dma and slot come once it is mapped. */
// @ts-ignore: decorator
@inline export function describe(b: usize, kind: u32, dir: u32, phys: u64, bytes: u32, elements: u32): void {
  store<u32>(b, KNOWN | (kind << 4) | (dir << 6), 0);
  store<u32>(b, bytes, 4);
  store<u64>(b, 0, 8);
  store<u64>(b, phys, 16);
  store<u32>(b, 0, 24);
  store<u32>(b, elements, 28);
}

// @ts-ignore: decorator
@inline export function setDma(b: usize, dma: u64, slot: u32): void {
  store<u64>(b, dma, 8);
  store<u32>(b, slot, 24);
}

/** Pages spanned by [addr's offset in page, + bytes): the reference's pagesOf. */
// @ts-ignore: decorator
@inline export function pagesOf(addr: u64, bytes: u32): u32 {
  return <u32>(((addr & 0xfff) + <u64>bytes + 0xfff) >> 12);
}
