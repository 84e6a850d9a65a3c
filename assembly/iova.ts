// === The Linux IOVA allocator: drivers/iommu/iova.c (v6.x), with its per-CPU magazines ===
//
// Allocated ranges are nodes of a red-black tree ordered by first page; an anchor node at
// IOVA_ANCHOR closes the space from above. alloc_iova is a *top-down* first fit: start at the
// cached node (the last allocation, or the node after the last free below it), walk to lower
// nodes until a gap below the walk's high mark holds the size-aligned range; if that fails, retry
// once over the part above the cached node. A failed size is remembered (max32_alloc_size) until
// something is freed, so hopeless requests fail in O(1).
//
// In front of the tree (ALLOC_IOVA only; ALLOC_IOVA_TREE is the plain tree) sit the range caches:
// one per size class (1, 2, 4, 8, 16, 32 pages), each with two magazines per CPU ("loaded",
// "prev") of IOVA_MAG_SIZE pfns and a depot of full magazines. A free pushes the pfn into the
// CPU's magazine and leaves the tree alone; an allocation pops one. Only when both of a CPU's
// magazines are empty (or full) does the depot, and behind it the tree, get involved.
//
// Every modelled table is ≤ 4 GiB of IO space (≤ 1 Mi pages = dma_32bit_pfn), so every request
// takes the kernel's 32-bit path (cached32_node, max32_alloc_size); the > 4 GiB path cannot be
// reached and is not modelled. pfn 0 is never handed out (start_pfn = 1).
//
// Memory (laid out by index.ts only when an IOVA allocator is chosen):
//
//   nodes  ╒═ node 0 = NIL ═╤═ node 1 = anchor ═╤═ node 2 … ═════════════╕  NODE_SIZE bytes each:
//          ╘════════════════╧═══════════════════╧═══════════════════════╛  lo hi left right parent red
//   mags   ╒═ magazine 0 ═══╤═ magazine 1 … ═══════════════════════════╕   MAG_BYTES each:
//          ╘════════════════╧═══════════════════════════════════════════╛   size|next, pfn[127]
//   rcache ╒═ loaded[cpu·6 + class] u32 ═╤═ prev[cpu·6 + class] u32 ═╤═ depot[6] ═╤═ depotSize[6] ═╕
//          ╘═════════════════════════════╧═══════════════════════════╧═══════════╧═══════════════╛
//
// Nodes and magazines are indices (0 = none) into pools with free stacks, so the pools are sized
// once: a node per IO page plus the anchor, and enough magazines for every CPU's pair plus a depot
// holding every page (full depot magazines hold IOVA_MAG_SIZE distinct ranges each), so
// iova_magazine_alloc never fails here.

import { ALLOC_IOVA } from "./constants";
import { stats } from "./counters";

// @ts-ignore: decorator
@inline const IOVA_RANGE_CACHE_MAX_SIZE: u32 = 6; // size classes: log2 size 0 … 5
// @ts-ignore: decorator
@inline export const IOVA_MAG_SIZE: u32 = 127;
// @ts-ignore: decorator
@inline const MAG_BYTES: u32 = (IOVA_MAG_SIZE + 1) << 2;
// @ts-ignore: decorator
@inline const IOVA_ANCHOR: u32 = 0xffffffff;
// @ts-ignore: decorator
@inline const START_PFN: u32 = 1;
// @ts-ignore: decorator
@inline const DMA_32BIT_PFN: u32 = 1 << 20;
// @ts-ignore: decorator
@inline const NIL: u32 = 0;
// @ts-ignore: decorator
@inline const ANCHOR: u32 = 1;

// node fields (byte offsets)
// @ts-ignore: decorator
@inline const NODE_SIZE: u32 = 24;
// @ts-ignore: decorator
@inline const N_LO: usize = 0;
// @ts-ignore: decorator
@inline const N_HI: usize = 4;
// @ts-ignore: decorator
@inline const N_LEFT: usize = 8;
// @ts-ignore: decorator
@inline const N_RIGHT: usize = 12;
// @ts-ignore: decorator
@inline const N_PARENT: usize = 16;
// @ts-ignore: decorator
@inline const N_RED: usize = 20;

let nodesAt: usize = 0;
let magsAt: usize = 0;
let rcacheAt: usize = 0;
let withMagazines: bool = false;
let cpuCount: u32 = 1;
let cpu: u32 = 0;

let root: u32 = NIL;
let cached32: u32 = ANCHOR;
let max32AllocSize: u32 = DMA_32BIT_PFN;
let nodeFree: u32 = NIL; // free stack, linked through N_LEFT
let nodeNext: u32 = 2;
let nodesLive: u32 = 0;
let magFree: u32 = 0; // free stack, linked through the size word
let magNext: u32 = 1;
let magsLive: u32 = 0;
let depotAt: usize = 0;

/** Bytes the pools need for `entries` IO pages and `cpus` CPUs (0 when not an IOVA allocator). */
export function iovaBytes(entries: u32, cpus: u32): usize {
  return <usize>(entries + 2) * NODE_SIZE + <usize>magazinePool(entries, cpus) * MAG_BYTES
    + (<usize>(cpus + 1) * IOVA_RANGE_CACHE_MAX_SIZE << 3);
}

function magazinePool(entries: u32, cpus: u32): u32 {
  return 1 + 2 * cpus * IOVA_RANGE_CACHE_MAX_SIZE + entries / IOVA_MAG_SIZE + IOVA_RANGE_CACHE_MAX_SIZE;
}

// ── nodes ──────────────────────────────────────────────────────────────────────────────────

// @ts-ignore: decorator
@inline function NODE(n: u32): usize {
  return nodesAt + <usize>n * NODE_SIZE;
}
// @ts-ignore: decorator
@inline function lo(n: u32): u32 { return load<u32>(NODE(n), N_LO); }
// @ts-ignore: decorator
@inline function hi(n: u32): u32 { return load<u32>(NODE(n), N_HI); }
// @ts-ignore: decorator
@inline function left(n: u32): u32 { return load<u32>(NODE(n), N_LEFT); }
// @ts-ignore: decorator
@inline function right(n: u32): u32 { return load<u32>(NODE(n), N_RIGHT); }
// @ts-ignore: decorator
@inline function parent(n: u32): u32 { return load<u32>(NODE(n), N_PARENT); }
// @ts-ignore: decorator
@inline function isRed(n: u32): bool { return load<u32>(NODE(n), N_RED) != 0; }
// @ts-ignore: decorator
@inline function setLeft(n: u32, v: u32): void { store<u32>(NODE(n), v, N_LEFT); }
// @ts-ignore: decorator
@inline function setRight(n: u32, v: u32): void { store<u32>(NODE(n), v, N_RIGHT); }
// @ts-ignore: decorator
@inline function setParent(n: u32, v: u32): void { store<u32>(NODE(n), v, N_PARENT); }
// @ts-ignore: decorator
@inline function setRed(n: u32, red: bool): void { store<u32>(NODE(n), red ? 1 : 0, N_RED); }

function newNode(first: u32, last: u32): u32 {
  let n = nodeFree;
  if (n != NIL) nodeFree = left(n);
  else n = nodeNext++;
  store<u32>(NODE(n), first, N_LO);
  store<u32>(NODE(n), last, N_HI);
  setLeft(n, NIL);
  setRight(n, NIL);
  setParent(n, NIL);
  setRed(n, true);
  nodesLive++;
  return n;
}

function dropNode(n: u32): void {
  setLeft(n, nodeFree);
  nodeFree = n;
  nodesLive--;
}

/** One step in address order: side 1 = rb_next (the node just above), 0 = rb_prev; NIL at the end. */
// @ts-ignore: decorator
@inline function rbStep(x: u32, side: u32): u32 {
  let y = child(x, side);
  if (y != NIL) {
    while (child(y, 1 - side) != NIL) y = child(y, 1 - side);
    return y;
  }
  y = parent(x);
  while (y != NIL && x == child(y, side)) {
    x = y;
    y = parent(y);
  }
  return y;
}

function rbPrev(x: u32): u32 {
  return rbStep(x, 0);
}

function rbNext(x: u32): u32 {
  return rbStep(x, 1);
}

// ── red-black balancing (after Cormen et al.; NIL is node 0, black, its parent scratch) ──────

// Sides: 0 = left, 1 = right (N_RIGHT = N_LEFT + 4), so each fix-up is written once for both.

// @ts-ignore: decorator
@inline function child(n: u32, side: u32): u32 { return load<u32>(NODE(n) + N_LEFT + (<usize>side << 2)); }
// @ts-ignore: decorator
@inline function setChild(n: u32, side: u32, v: u32): void { store<u32>(NODE(n) + N_LEFT + (<usize>side << 2), v); }

/** Rotates `x` down to the `side` (0: a left rotation, its right child rises). */
function rotate(x: u32, side: u32): void {
  let y = child(x, 1 - side);
  let inner = child(y, side);
  setChild(x, 1 - side, inner);
  if (inner != NIL) setParent(inner, x);
  let p = parent(x);
  setParent(y, p);
  if (p == NIL) root = y;
  else setChild(p, x == left(p) ? 0 : 1, y);
  setChild(y, side, x);
  setParent(x, y);
}

/**
 * iova_insert_rbtree: descend from `start` (a node whose subtree holds the new range's place,
 * or NIL for the root), link `z` as a leaf, rebalance.
 */
function insertNode(z: u32, start: u32): void {
  let y: u32 = NIL;
  let x = start != NIL ? start : root;
  let key = lo(z);
  while (x != NIL) {
    stats.nodesVisited++;
    y = x;
    x = key < lo(x) ? left(x) : right(x);
  }
  setParent(z, y);
  if (y == NIL) root = z;
  else if (key < lo(y)) setLeft(y, z);
  else setRight(y, z);
  while (isRed(parent(z))) {
    let p = parent(z);
    let g = parent(p);
    let side: u32 = p == left(g) ? 0 : 1; // p's side under g
    let u = child(g, 1 - side);
    if (isRed(u)) {
      setRed(p, false);
      setRed(u, false);
      setRed(g, true);
      z = g;
    } else {
      if (z == child(p, 1 - side)) {
        z = p;
        rotate(z, side);
        p = parent(z);
      }
      setRed(p, false);
      setRed(g, true);
      rotate(g, 1 - side);
    }
  }
  setRed(root, false);
}

function transplant(u: u32, v: u32): void {
  let p = parent(u);
  if (p == NIL) root = v;
  else if (u == left(p)) setLeft(p, v);
  else setRight(p, v);
  setParent(v, p); // may write NIL's parent: the delete fix-up reads it back
}

/** rb_erase with the fix-up. */
function eraseNode(z: u32): void {
  let y = z;
  let yWasRed = isRed(y);
  let x: u32;
  if (left(z) == NIL) {
    x = right(z);
    transplant(z, x);
  } else if (right(z) == NIL) {
    x = left(z);
    transplant(z, x);
  } else {
    y = right(z);
    while (left(y) != NIL) y = left(y);
    yWasRed = isRed(y);
    x = right(y);
    if (parent(y) == z) {
      setParent(x, y);
    } else {
      transplant(y, x);
      setRight(y, right(z));
      setParent(right(y), y);
    }
    transplant(z, y);
    setLeft(y, left(z));
    setParent(left(y), y);
    setRed(y, isRed(z));
  }
  if (yWasRed) return;
  while (x != root && !isRed(x)) {
    let p = parent(x);
    let side: u32 = x == left(p) ? 0 : 1; // x's side under p
    let w = child(p, 1 - side);
    if (isRed(w)) {
      setRed(w, false);
      setRed(p, true);
      rotate(p, side);
      w = child(p, 1 - side);
    }
    if (!isRed(left(w)) && !isRed(right(w))) {
      setRed(w, true);
      x = p;
    } else {
      if (!isRed(child(w, 1 - side))) {
        setRed(child(w, side), false);
        setRed(w, true);
        rotate(w, 1 - side);
        w = child(p, 1 - side);
      }
      setRed(w, isRed(p));
      setRed(p, false);
      setRed(child(w, 1 - side), false);
      rotate(p, side);
      x = root;
    }
  }
  setRed(x, false);
}

// ── the allocator over the tree ─────────────────────────────────────────────────────────────

/** iova_find_limit: the lowest node reaching `limit` or above (the anchor at worst). */
function findLimit(limit: u32): u32 {
  let x = root;
  let found = ANCHOR;
  while (x != NIL) {
    stats.nodesVisited++;
    if (hi(x) >= limit) {
      found = x;
      x = left(x);
    } else {
      x = right(x);
    }
  }
  return found;
}

/** private_find_iova: the node holding `pfn`, NIL if none. */
function findNode(pfn: u32): u32 {
  let x = root;
  while (x != NIL) {
    stats.nodesVisited++;
    if (pfn < lo(x)) x = left(x);
    else if (pfn > hi(x)) x = right(x);
    else return x;
  }
  return NIL;
}

/**
 * __alloc_and_insert_iova_range(size, limit, size_aligned = true): top-down first fit below
 * `limit` (exclusive). Returns the first pfn or -1.
 */
function treeAlloc(size: u32, limit: u32): i32 {
  if (size >= max32AllocSize) return -1;
  let alignMask: u32 = size <= 1 ? 0xffffffff : 0xffffffff << (32 - clz<u32>(size - 1));
  let high = limit;
  let low = START_PFN;
  let curr = cached32;
  let retryPfn = hi(curr);
  let prev: u32 = NIL;
  let first: u32 = 0;
  while (true) {
    do {
      stats.nodesVisited++;
      let l = lo(curr);
      if (l < high) high = l;
      first = (high - size) & alignMask; // wraps when high < size: caught below
      prev = curr;
      curr = rbPrev(curr);
    } while (curr != NIL && first <= hi(curr) && first >= low);
    if (high < size || first < low) {
      if (low == START_PFN && retryPfn < limit) {
        high = limit;
        low = retryPfn + 1;
        curr = findLimit(limit);
        continue;
      }
      max32AllocSize = size;
      return -1;
    }
    break;
  }
  let n = newNode(first, first + size - 1);
  insertNode(n, prev);
  cached32 = n; // __cached_rbnode_insert_update: pfn_hi < dma_32bit_pfn always here
  return <i32>first;
}

/** remove_iova: cached-node bookkeeping, then rb_erase. */
function removeNode(n: u32): void {
  if (n == cached32 || lo(n) >= lo(cached32)) cached32 = rbNext(n);
  max32AllocSize = DMA_32BIT_PFN; // a free below 4 GiB re-enables every size
  eraseNode(n);
  dropNode(n);
}

/** free_iova: find the node holding `pfn` and remove it; nothing if none (Linux returns). */
function treeFree(pfn: u32): void {
  let n = findNode(pfn);
  if (n != NIL) removeNode(n);
}

/** reserve_iova for a range the caller has checked is free of nodes. */
export function iovaReserve(first: u32, last: u32): void {
  let n = newNode(first, last);
  insertNode(n, NIL);
}

// ── magazines ───────────────────────────────────────────────────────────────────────────────

// @ts-ignore: decorator
@inline function MAG(m: u32): usize {
  return magsAt + <usize>m * MAG_BYTES;
}
// @ts-ignore: decorator
@inline function magSize(m: u32): u32 { return load<u32>(MAG(m)); }
// @ts-ignore: decorator
@inline function setMagSize(m: u32, s: u32): void { store<u32>(MAG(m), s); }
// @ts-ignore: decorator
@inline function magPfn(m: u32, i: u32): usize { return MAG(m) + 4 + (<usize>i << 2); }
// @ts-ignore: decorator
@inline function LOADED(c: u32): usize { return rcacheAt + (<usize>(cpu * IOVA_RANGE_CACHE_MAX_SIZE + c) << 2); }
// @ts-ignore: decorator
@inline function PREV(c: u32): usize {
  return rcacheAt + (<usize>((cpuCount + cpu) * IOVA_RANGE_CACHE_MAX_SIZE + c) << 2);
}

// @ts-ignore: decorator
@inline function depot(c: u32): u32 { return load<u32>(depotAt + (<usize>c << 2)); }
// @ts-ignore: decorator
@inline function setDepot(c: u32, m: u32): void { store<u32>(depotAt + (<usize>c << 2), m); }
// @ts-ignore: decorator
@inline function depotSize(c: u32): u32 { return load<u32>(depotAt + (<usize>(IOVA_RANGE_CACHE_MAX_SIZE + c) << 2)); }
// @ts-ignore: decorator
@inline function setDepotSize(c: u32, n: u32): void {
  store<u32>(depotAt + (<usize>(IOVA_RANGE_CACHE_MAX_SIZE + c) << 2), n);
}

function magAlloc(): u32 {
  let m = magFree;
  if (m != 0) magFree = magSize(m);
  else m = magNext++;
  setMagSize(m, 0);
  magsLive++;
  return m;
}

function magRelease(m: u32): void {
  setMagSize(m, magFree);
  magFree = m;
  magsLive--;
}

/** iova_magazine_free_pfns: every pfn back to the tree, in slot order. */
function magFreePfns(m: u32): void {
  let s = magSize(m);
  for (let i: u32 = 0; i < s; i++) treeFree(load<u32>(magPfn(m, i)));
  setMagSize(m, 0);
}

/** iova_magazine_pop: the highest slot at or below `limit`, swapped out by the last; 0 if none. */
function magPop(m: u32, limit: u32): u32 {
  let i = magSize(m) - 1;
  while (load<u32>(magPfn(m, i)) > limit) {
    if (i == 0) return 0;
    i--;
  }
  let s = magSize(m) - 1;
  let pfn = load<u32>(magPfn(m, i));
  store<u32>(magPfn(m, i), load<u32>(magPfn(m, s)));
  setMagSize(m, s);
  return pfn;
}

/** order_base_2(size) for sizes ≥ 1. */
// @ts-ignore: decorator
@inline function sizeClass(size: u32): u32 {
  return size <= 1 ? 0 : 32 - clz<u32>(size - 1);
}

/** __iova_rcache_get for `size` pages below `limit` (exclusive); 0 if the caches have none. */
function rcacheGet(size: u32, limit: u32): u32 {
  let c = sizeClass(size);
  if (c >= IOVA_RANGE_CACHE_MAX_SIZE) return 0;
  let loaded = load<u32>(LOADED(c));
  if (magSize(loaded) == 0) {
    let prev = load<u32>(PREV(c));
    if (magSize(prev) != 0) {
      store<u32>(PREV(c), loaded);
      store<u32>(LOADED(c), prev);
      loaded = prev;
    } else {
      let d = depot(c);
      if (d == 0) return 0;
      // iova_depot_pop: the empty loaded magazine is freed, the depot's head becomes loaded
      magRelease(loaded);
      setDepot(c, magSize(d));
      setDepotSize(c, depotSize(c) - 1);
      setMagSize(d, IOVA_MAG_SIZE);
      store<u32>(LOADED(c), d);
      loaded = d;
    }
  }
  return magPop(loaded, limit - size);
}

/** __iova_rcache_insert: push into this CPU's magazines; false if the size is not cached. */
function rcacheInsert(pfn: u32, size: u32): bool {
  let c = sizeClass(size);
  if (c >= IOVA_RANGE_CACHE_MAX_SIZE) return false;
  let loaded = load<u32>(LOADED(c));
  if (magSize(loaded) == IOVA_MAG_SIZE) {
    let prev = load<u32>(PREV(c));
    if (magSize(prev) != IOVA_MAG_SIZE) {
      store<u32>(PREV(c), loaded);
      store<u32>(LOADED(c), prev);
      loaded = prev;
    } else {
      // iova_depot_push of the full loaded magazine; a fresh one takes its place
      setMagSize(loaded, depot(c));
      setDepot(c, loaded);
      setDepotSize(c, depotSize(c) + 1);
      loaded = magAlloc();
      store<u32>(LOADED(c), loaded);
    }
  }
  let s = magSize(loaded);
  store<u32>(magPfn(loaded, s), pfn);
  setMagSize(loaded, s + 1);
  return true;
}

/**
 * The one-page case of rcacheGet when this CPU's loaded magazine is not empty: its top slot is
 * always below the limit (every cached pfn was handed out under it), so the pop takes it and
 * the swap-with-last is a no-op. 0 when the general path must decide.
 */
// @ts-ignore: decorator
@inline export function iovaTakeOne(): u32 {
  if (!withMagazines) return 0;
  let loaded = load<u32>(LOADED(0));
  let s = magSize(loaded);
  if (s == 0) return 0;
  setMagSize(loaded, s - 1);
  stats.rcacheHits++;
  return load<u32>(magPfn(loaded, s - 1));
}

/** The one-page case of rcacheInsert when this CPU's loaded magazine has room. */
// @ts-ignore: decorator
@inline export function iovaPutOne(pfn: u32): bool {
  if (!withMagazines) return false;
  let loaded = load<u32>(LOADED(0));
  let s = magSize(loaded);
  if (s == IOVA_MAG_SIZE) return false;
  store<u32>(magPfn(loaded, s), pfn);
  setMagSize(loaded, s + 1);
  return true;
}

/** free_cpu_cached_iovas for every CPU, then free_global_cached_iovas: all cached pfns to the tree. */
function flushRcaches(): void {
  let here = cpu;
  for (let k: u32 = 0; k < cpuCount; k++) {
    cpu = k;
    for (let c: u32 = 0; c < IOVA_RANGE_CACHE_MAX_SIZE; c++) {
      magFreePfns(load<u32>(LOADED(c)));
      magFreePfns(load<u32>(PREV(c)));
    }
  }
  cpu = here;
  for (let c: u32 = 0; c < IOVA_RANGE_CACHE_MAX_SIZE; c++) {
    while (depot(c) != 0) {
      let d = depot(c);
      setDepot(c, magSize(d));
      setDepotSize(c, depotSize(c) - 1);
      setMagSize(d, IOVA_MAG_SIZE);
      magFreePfns(d);
      magRelease(d);
    }
  }
}

// ── the IoSpaceAllocator face (allocator.ts calls these) ────────────────────────────────────

export function iovaInit(kind: u32, entries: u32, cpus: u32, base: usize): void {
  withMagazines = kind == ALLOC_IOVA;
  cpuCount = cpus;
  cpu = 0;
  nodesAt = base;
  magsAt = base + <usize>(entries + 2) * NODE_SIZE;
  rcacheAt = magsAt + <usize>magazinePool(entries, cpus) * MAG_BYTES;
  depotAt = rcacheAt + (<usize>cpus * IOVA_RANGE_CACHE_MAX_SIZE << 3);
  // NIL (black, no links) and the anchor, alone in the tree
  memory.fill(NODE(NIL), 0, NODE_SIZE);
  root = NIL;
  nodeFree = NIL;
  nodeNext = ANCHOR;
  nodesLive = 0;
  let a = newNode(IOVA_ANCHOR, IOVA_ANCHOR);
  insertNode(a, NIL);
  stats.nodesVisited = 0;
  cached32 = ANCHOR;
  max32AllocSize = DMA_32BIT_PFN;
  magFree = 0;
  magNext = 1;
  magsLive = 0;
  for (let c: u32 = 0; c < IOVA_RANGE_CACHE_MAX_SIZE; c++) {
    setDepot(c, 0);
    setDepotSize(c, 0);
  }
  if (withMagazines) {
    for (let k: u32 = 0; k < cpus; k++) {
      cpu = k;
      for (let c: u32 = 0; c < IOVA_RANGE_CACHE_MAX_SIZE; c++) {
        store<u32>(LOADED(c), magAlloc());
        store<u32>(PREV(c), magAlloc());
      }
    }
    cpu = 0;
  }
}

/** alloc_iova_fast(npages, entries − 1, flush_rcache = true); the plain tree skips the caches. */
export function iovaAlloc(npages: u32, entries: u32): i32 {
  // sizes below 32 pages are rounded up to a power of two (so they share size classes)
  let size = npages < 32 ? <u32>1 << sizeClass(npages) : npages;
  if (withMagazines) {
    let pfn = rcacheGet(size, entries);
    if (pfn != 0) {
      stats.rcacheHits++;
      return <i32>pfn;
    }
  }
  let n = treeAlloc(size, entries);
  if (n < 0 && withMagazines) {
    flushRcaches();
    n = treeAlloc(size, entries);
  }
  return n;
}

/** free_iova_fast(pfn, npages): into the magazines if cached, else off the tree. */
export function iovaFree(pfn: u32, npages: u32): void {
  if (withMagazines && rcacheInsert(pfn, npages)) return;
  treeFree(pfn);
}

/**
 * One run of the depot's delayed work (IOVA_DEPOT_DELAY, 100 ms) in every size class: a depot
 * holding more magazines than there are CPUs gives one back to the tree. Returns how many.
 */
export function iovaDepotWork(): u32 {
  let done: u32 = 0;
  for (let c: u32 = 0; c < IOVA_RANGE_CACHE_MAX_SIZE; c++) {
    if (depotSize(c) > cpuCount) {
      let d = depot(c);
      setDepot(c, magSize(d));
      setDepotSize(c, depotSize(c) - 1);
      setMagSize(d, IOVA_MAG_SIZE);
      magFreePfns(d);
      magRelease(d);
      done++;
    }
  }
  return done;
}

export function iovaSetCpu(c: u32): void {
  cpu = c;
}

export function iovaNodes(): u32 {
  return nodesLive - 1; // without the anchor
}

export function iovaMagazines(): u32 {
  return magsLive;
}

/** Pfns held in magazines (every CPU and every depot). */
export function iovaCachedPfns(): u32 {
  let here = cpu;
  let total: u32 = 0;
  for (let k: u32 = 0; k < cpuCount; k++) {
    cpu = k;
    for (let c: u32 = 0; c < IOVA_RANGE_CACHE_MAX_SIZE; c++) {
      total += magSize(load<u32>(LOADED(c))) + magSize(load<u32>(PREV(c)));
    }
  }
  cpu = here;
  for (let c: u32 = 0; c < IOVA_RANGE_CACHE_MAX_SIZE; c++) total += depotSize(c) * IOVA_MAG_SIZE;
  return total;
}

/** Largest run of pages in [START_PFN, limit) that no tree node covers. */
export function iovaLargestGap(limit: u32): u32 {
  let best: u32 = 0;
  let below = START_PFN;
  let n = root;
  if (n == NIL) return limit - below;
  while (left(n) != NIL) n = left(n);
  while (n != NIL) {
    let l = lo(n) < limit ? lo(n) : limit;
    if (l > below && l - below > best) best = l - below;
    if (hi(n) != IOVA_ANCHOR && hi(n) + 1 > below) below = hi(n) + 1;
    n = rbNext(n);
  }
  return best;
}

/**
 * Checks the tree: in order and non-overlapping, parent links consistent, no red node with a red
 * child, equal black height on every path, the anchor last. Returns 0 if sound, else a code.
 */
export function iovaCheck(): i32 {
  if (root == NIL || parent(root) != NIL || isRed(root)) return 1;
  let count: u32 = 0;
  let n = root;
  while (left(n) != NIL) n = left(n);
  let prevHi: i64 = -1;
  while (n != NIL) {
    if (<i64>lo(n) <= prevHi || hi(n) < lo(n)) return 2;
    prevHi = <i64>hi(n);
    count++;
    n = rbNext(n);
  }
  if (count != nodesLive || prevHi != <i64>IOVA_ANCHOR) return 3;
  return blackHeight(root) < 0 ? 4 : 0;
}

function blackHeight(n: u32): i32 {
  if (n == NIL) return 1;
  let l = left(n);
  let r = right(n);
  if ((l != NIL && parent(l) != n) || (r != NIL && parent(r) != n)) return -1;
  if (isRed(n) && (isRed(l) || isRed(r))) return -1;
  let a = blackHeight(l);
  let b = blackHeight(r);
  if (a < 0 || a != b) return -1;
  return a + (isRed(n) ? 0 : 1);
}
