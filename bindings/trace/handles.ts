// Trace ids → batch handles for a streamed replay, in tables that stay bounded however long the
// trace runs. A trace names mappings by id; the core names them by handle (a slot of its handle
// table; an sg list takes one handle per element, contiguous). Handles are recycled:
//
// - an id mapped again with the same kind and no more elements keeps its handles;
// - an id mapped again otherwise gets fresh handles and its old ones are free at once (no id
//   reaches them any more);
// - a released id keeps its handles, so a later `access` still aims at the freed mapping (a stale
//   hit or a fault, as the whole-file replay gives), until `releasedWindow` later releases have
//   happened, or until the handle table is full: then the oldest released ids are forgotten and
//   their handles reused. An access to a forgotten id is refused with that reason.
//
// Slots (one per remembered id) are kept in typed arrays indexed by slot number; the front end
// keeps the id → slot map and forgets an id when told to.

import type { TraceId } from "./consumer.js";

export const KIND_SINGLE = 1;
export const KIND_SG = 2;
export const KIND_COHERENT = 3;

const KIND_VERB = ["", "map", "map_sg", "alloc"];

/** An operation that makes no sense at this point of the trace (skipped under lenient). */
export class OutOfSequence extends Error {}

/** The trace keeps more mappings live at once than the handle table holds. */
export class HandlesExhausted extends Error {}

export interface HandleTableOptions {
  /** Handles in the sink's table. */
  handles: number;
  /** Released ids kept reachable for access-after-unmap. @default 65536 */
  releasedWindow?: number;
  /** Called when a released id is forgotten: the front end drops it from its id → slot map. */
  forget(slot: number): void;
  /** An id as error messages show it (JSON-quoted). */
  show(id: TraceId): string;
}

export class HandleTable {
  private kind = new Uint8Array(1024);
  private live = new Uint8Array(1024);
  private first = new Int32Array(1024);
  private cap = new Int32Array(1024);
  private nseg = new Int32Array(1024);
  private gen = new Uint32Array(1024);
  private freeSlots: number[] = [];
  private nextSlot = 0;
  /** Byte length of the mapping (or sg element) held in each handle: access bounds. */
  readonly lengths: Uint32Array;
  private nextHandle = 0;
  /** Free handle blocks by size: blocks[n] holds first handles of free runs of n. */
  private blocks: number[][] = [];
  private freeHandles = 0;
  /** Released ids, oldest first: (slot, generation) pairs in a ring (a power of two long). */
  private dead = new Int32Array(2048);
  private deadGen = new Uint32Array(2048);
  private deadHead = 0;
  private deadCount = 0;
  /** Some released id has been forgotten (access errors then say it may have been). */
  forgotten = false;
  readonly releasedWindow: number;

  /** Results of access(): the handle and the offset within its element. */
  accessHandle = 0;
  accessOffset = 0;

  constructor(private readonly options: HandleTableOptions) {
    this.lengths = new Uint32Array(options.handles);
    this.releasedWindow = options.releasedWindow ?? 65536;
  }

  /** A fresh slot for a new id (unbound until bind). */
  newSlot(): number {
    const s = this.freeSlots.length ? this.freeSlots.pop()! : this.nextSlot++;
    if (s >= this.kind.length) this.growSlots();
    this.kind[s] = 0;
    this.live[s] = 0;
    this.cap[s] = 0;
    return s;
  }

  /** Binds `slot` as a live mapping of `kind` with `n` elements; returns its first handle. */
  bind(slot: number, kind: number, n: number, id: TraceId): number {
    if (this.live[slot]) throw new OutOfSequence(`id ${this.options.show(id)} is already mapped (line of its map: still live)`);
    if (this.kind[slot] !== kind || this.cap[slot] < n) {
      if (this.cap[slot] > 0) this.freeBlock(this.first[slot], this.cap[slot]);
      this.first[slot] = this.allocBlock(n, slot);
      this.cap[slot] = n;
    }
    this.kind[slot] = kind;
    this.nseg[slot] = n;
    this.live[slot] = 1;
    this.gen[slot]++;
    return this.first[slot];
  }

  /** Releases a live mapping of `kind` (`verb` names the operation); returns its first handle. */
  release(slot: number | undefined, kind: number, verb: string, id: TraceId): number {
    if (slot === undefined || !this.live[slot]) throw new OutOfSequence(`${verb} of id ${this.options.show(id)}, which is not mapped`);
    if (this.kind[slot] !== kind) throw new OutOfSequence(`${verb} of id ${this.options.show(id)}, which was mapped by ${KIND_VERB[this.kind[slot]]}`);
    this.live[slot] = 0;
    this.pushDead(slot);
    return this.first[slot];
  }

  /** Elements of a slot's current mapping (unmap_sg's count). */
  elements(slot: number): number {
    return this.nseg[slot];
  }

  /** Resolves an access at `offset` for `bytes` into accessHandle / accessOffset. */
  access(slot: number | undefined, offset: number, bytes: number, id: TraceId): void {
    if (slot === undefined) {
      throw new OutOfSequence(this.forgotten
        ? `access to id ${this.options.show(id)}, which was never mapped or was released more than ${this.releasedWindow} releases ago (released ids are kept that long)`
        : `access to id ${this.options.show(id)}, which was never mapped`);
    }
    const h = this.first[slot];
    const last = this.nseg[slot] - 1;
    let seg = 0;
    let off = offset;
    while (seg < last && off >= this.lengths[h + seg]) off -= this.lengths[h + seg++];
    if (off + bytes > this.lengths[h + seg]) {
      throw new OutOfSequence(`access at offset ${offset} for ${bytes} bytes runs past the end of ${this.kind[slot] === KIND_SG ? "its segment" : "the mapping"}`);
    }
    this.accessHandle = h + seg;
    this.accessOffset = off;
  }

  /** Slots in use and handles handed out: what the bounded-tables test watches. */
  footprint(): { slots: number; handles: number } {
    return { slots: this.nextSlot - this.freeSlots.length, handles: this.nextHandle - this.freeHandles };
  }

  private pushDead(slot: number): void {
    if (this.deadCount === this.dead.length) {
      const d = new Int32Array(this.dead.length * 2);
      const g = new Uint32Array(this.dead.length * 2);
      for (let k = 0; k < this.deadCount; k++) {
        const i = (this.deadHead + k) & (this.dead.length - 1);
        d[k] = this.dead[i];
        g[k] = this.deadGen[i];
      }
      this.dead = d;
      this.deadGen = g;
      this.deadHead = 0;
    }
    const i = (this.deadHead + this.deadCount++) & (this.dead.length - 1);
    this.dead[i] = slot;
    this.deadGen[i] = this.gen[slot];
    while (this.deadCount > this.releasedWindow) this.forgetOldest();
  }

  /** Forgets the oldest released id (if it is still released); false when none is queued. */
  private forgetOldest(): boolean {
    if (this.deadCount === 0) return false;
    const slot = this.dead[this.deadHead];
    const g = this.deadGen[this.deadHead];
    this.deadHead = (this.deadHead + 1) & (this.dead.length - 1);
    this.deadCount--;
    if (this.live[slot] || this.gen[slot] !== g) return true; // mapped again since: not released
    this.freeBlock(this.first[slot], this.cap[slot]);
    this.kind[slot] = 0;
    this.cap[slot] = 0;
    this.freeSlots.push(slot);
    this.forgotten = true;
    this.options.forget(slot);
    return true;
  }

  private allocBlock(n: number, slot: number): number {
    for (;;) {
      const exact = this.blocks[n];
      if (exact !== undefined && exact.length > 0) {
        this.freeHandles -= n;
        return exact.pop()!;
      }
      if (this.nextHandle + n <= this.options.handles) {
        const h = this.nextHandle;
        this.nextHandle += n;
        return h;
      }
      // Split a larger free block, else make room by forgetting the oldest released id.
      for (let m = n + 1; m < this.blocks.length; m++) {
        const b = this.blocks[m];
        if (b !== undefined && b.length > 0) {
          const h = b.pop()!;
          this.freeHandles -= m;
          this.freeBlock(h + n, m - n);
          return h;
        }
      }
      // The slot being bound may itself be queued as released: keep it out of its own way.
      const was = this.live[slot];
      this.live[slot] = 1;
      const more = this.forgetOldest();
      this.live[slot] = was;
      if (!more) {
        if (this.coalesce(n)) continue;
        throw new HandlesExhausted(
          `the trace keeps more than ${this.options.handles} handles' worth of mappings live at once (an sg list takes one per element); ` +
          `the streamed replay holds at most that many`,
        );
      }
    }
  }

  private freeBlock(h: number, n: number): void {
    (this.blocks[n] ??= []).push(h);
    this.freeHandles += n;
  }

  /** Merges adjacent free blocks (rare: only when no block fits); true if one of ≥ n now exists. */
  private coalesce(n: number): boolean {
    const all: Array<[number, number]> = [];
    this.blocks.forEach((b, size) => b.forEach((h) => all.push([h, size])));
    all.sort((a, b) => a[0] - b[0]);
    this.blocks = [];
    this.freeHandles = 0;
    let fits = false;
    for (let k = 0; k < all.length; ) {
      let [h, size] = all[k++];
      while (k < all.length && all[k][0] === h + size) size += all[k++][1];
      if (h + size === this.nextHandle) {
        this.nextHandle = h; // the free tail goes back to the bump region
        fits ||= this.options.handles - h >= n;
      } else {
        this.freeBlock(h, size);
        fits ||= size >= n;
      }
    }
    return fits;
  }

  private growSlots(): void {
    const n = this.kind.length * 2;
    const grow = <T extends Uint8Array | Int32Array | Uint32Array>(a: T, make: (n: number) => T): T => {
      const b = make(n);
      b.set(a);
      return b;
    };
    this.kind = grow(this.kind, (k) => new Uint8Array(k));
    this.live = grow(this.live, (k) => new Uint8Array(k));
    this.first = grow(this.first, (k) => new Int32Array(k));
    this.cap = grow(this.cap, (k) => new Int32Array(k));
    this.nseg = grow(this.nseg, (k) => new Int32Array(k));
    this.gen = grow(this.gen, (k) => new Uint32Array(k));
  }
}
