// === Slots: the mappings a strategy keeps beyond the driver's use, found by key ===
// cached parks mappings under (page, pages, direction); persistent pools buffers under their
// size. Both need "find by key" in O(1) and a list through the slots: an open-addressing hash
// (linear probing, deletion by backward shift) over a fixed arena of slots, sized at init from
// the bound each strategy has, so nothing grows while records run.
//
//   slot (1-based index; 0 = none):
//   ╒═════════════╤═════════════╤══════════════╤═══════════════╤═════════════╤═════════════╕
//   │ key u64 @0  │ base u32 @8 │ pages u32 @12│ in use u32 @16│ prev u32 @20│ next u32 @24│  (32 B)
//   ╘═════════════╧═════════════╧══════════════╧═══════════════╧═════════════╧═════════════╛
//   hash bucket: key u64 @0, slot u32 @8 (0 = empty), 16 B

// @ts-ignore: decorator
@inline const SLOT_BYTES: u32 = 32;
// @ts-ignore: decorator
@inline const BUCKET_BYTES: u32 = 16;

let slots: usize = 0;
let capacity: u32 = 0;
let used: u32 = 0;
let freeHead: u32 = 0;
let buckets: usize = 0;
let bucketMask: u32 = 0;
let bucketShift: u32 = 0;

function bucketsFor(n: u32): u32 {
  let b: u32 = 16;
  while (b < n * 2) b <<= 1;
  return b;
}

export function slotsBytes(n: u32): usize {
  return <usize>n * SLOT_BYTES + <usize>bucketsFor(n) * BUCKET_BYTES;
}

export function slotsInit(at: usize, n: u32): void {
  slots = at;
  capacity = n;
  used = 0;
  freeHead = 0;
  buckets = at + <usize>n * SLOT_BYTES;
  let nb = bucketsFor(n);
  bucketMask = nb - 1;
  bucketShift = 64 - (31 - clz<u32>(nb));
  memory.fill(at, 0, slotsBytes(n));
}

// @ts-ignore: decorator
@inline export function S(i: u32): usize {
  return slots + <usize>(i - 1) * SLOT_BYTES;
}
// @ts-ignore: decorator
@inline export function slotBase(i: u32): u32 {
  return load<u32>(S(i), 8);
}
// @ts-ignore: decorator
@inline export function slotPages(i: u32): u32 {
  return load<u32>(S(i), 12);
}
// @ts-ignore: decorator
@inline export function slotInUse(i: u32): bool {
  return load<u32>(S(i), 16) != 0;
}
// @ts-ignore: decorator
@inline export function setInUse(i: u32, v: bool): void {
  store<u32>(S(i), v ? 1 : 0, 16);
}
// @ts-ignore: decorator
@inline export function prevOf(i: u32): u32 {
  return load<u32>(S(i), 20);
}
// @ts-ignore: decorator
@inline export function nextOf(i: u32): u32 {
  return load<u32>(S(i), 24);
}
// @ts-ignore: decorator
@inline export function setPrev(i: u32, v: u32): void {
  store<u32>(S(i), v, 20);
}
// @ts-ignore: decorator
@inline export function setNext(i: u32, v: u32): void {
  store<u32>(S(i), v, 24);
}

/** A new slot, or 0 when the arena is full (the caller sized it so this cannot happen). */
export function slotNew(key: u64, base: u32, pages: u32): u32 {
  let i = freeHead;
  if (i != 0) freeHead = nextOf(i);
  else if (used < capacity) i = ++used;
  else return 0;
  let s = S(i);
  store<u64>(s, key, 0);
  store<u32>(s, base, 8);
  store<u32>(s, pages, 12);
  store<u32>(s, 1, 16);
  store<u32>(s, 0, 20);
  store<u32>(s, 0, 24);
  return i;
}

export function slotRelease(i: u32): void {
  setNext(i, freeHead);
  freeHead = i;
}

// @ts-ignore: decorator
@inline function home(key: u64): u32 {
  return <u32>((key * 0x9e3779b97f4a7c15) >> bucketShift) & bucketMask;
}

// @ts-ignore: decorator
@inline function bucket(b: u32): usize {
  return buckets + <usize>b * BUCKET_BYTES;
}

/** The slot filed under `key`, or 0. */
export function hashGet(key: u64): u32 {
  let b = home(key);
  while (true) {
    let at = bucket(b);
    let v = load<u32>(at, 8);
    if (v == 0) return 0;
    if (load<u64>(at, 0) == key) return v;
    b = (b + 1) & bucketMask;
  }
  return 0;
}

/** Files `slot` under `key` (new key, or replaces the slot filed there). */
export function hashPut(key: u64, slot: u32): void {
  let b = home(key);
  while (true) {
    let at = bucket(b);
    let v = load<u32>(at, 8);
    if (v == 0 || load<u64>(at, 0) == key) {
      store<u64>(at, key, 0);
      store<u32>(at, slot, 8);
      return;
    }
    b = (b + 1) & bucketMask;
  }
}

/** Removes `key`; later entries of its probe run shift back so lookups still find them. */
export function hashDelete(key: u64): void {
  let b = home(key);
  while (true) {
    let at = bucket(b);
    if (load<u32>(at, 8) == 0) return;
    if (load<u64>(at, 0) == key) break;
    b = (b + 1) & bucketMask;
  }
  let hole = b;
  let j = b;
  while (true) {
    j = (j + 1) & bucketMask;
    let at = bucket(j);
    if (load<u32>(at, 8) == 0) break;
    let h = home(load<u64>(at, 0));
    // the entry at j may fill the hole if its home is not cyclically in (hole, j]
    if (((j - h) & bucketMask) >= ((j - hole) & bucketMask)) {
      let dst = bucket(hole);
      store<u64>(dst, load<u64>(at, 0), 0);
      store<u32>(dst, load<u32>(at, 8), 8);
      hole = j;
    }
  }
  store<u32>(bucket(hole), 0, 8);
}
