// The same allocator and ring as bench/native/ring.c, in plain JavaScript on typed arrays, written
// for speed (32-bit words: V8's fastest integers; ctz from Math.clz32), as the baseline the WASM
// core must beat by 1.5×.

const ENTRIES = 1 << 20;
const EMERGENCY_BYTES = 32 * 4096;

export function createPlainRing(ring = 256) {
  const map = new Int32Array(ENTRIES >>> 5);
  const table = new Uint32Array(ENTRIES * 2); // big-endian 64-bit TCEs as two words
  const cacheTag = new Int32Array(64);
  let hint = 0;
  const c = { maps: 0, unmaps: 0, pagesMapped: 0, pagesUnmapped: 0, words: 0, wraps: 0, flushes: 0, inUse: 0, peak: 0, bad: 0, dbl: 0 };
  const ctz = (x) => 31 - Math.clz32(x & -x);
  const findZero = (start, limit) => {
    if (start >= limit) return limit;
    let w = start >>> 5;
    const last = (limit - 1) >>> 5;
    let x = ~map[w] & (-1 << (start & 31));
    let n = 1;
    while (x === 0) {
      if (w === last) { c.words += n; return limit; }
      w++; n++;
      x = ~map[w];
    }
    c.words += n;
    const i = (w << 5) + ctz(x);
    return i < limit ? i : limit;
  };
  const findSet = (from, end) => {
    if (from >= end) return end;
    let w = from >>> 5;
    const last = (end - 1) >>> 5;
    let x = map[w] & (-1 << (from & 31));
    let n = 1;
    while (x === 0) {
      if (w === last) { c.words += n; return end; }
      w++; n++;
      x = map[w];
    }
    c.words += n;
    const i = (w << 5) + ctz(x);
    return i < end ? i : end;
  };
  const areaAlloc = (start, npages) => {
    for (;;) {
      const n = findZero(start, ENTRIES);
      if (n >= ENTRIES) return -1;
      const end = n + npages;
      if (end >= ENTRIES) return -1;
      const busy = findSet(n, end);
      if (busy < end) { start = busy + 1; continue; }
      return n;
    }
  };
  const bswap32 = (v) => ((v & 0xff) << 24) | ((v & 0xff00) << 8) | ((v >>> 8) & 0xff00) | (v >>> 24);
  const mapSingle = (pfn, off, len) => {
    const npages = Math.ceil((off + len) / 4096);
    let e = areaAlloc(hint, npages);
    if (e < 0) {
      c.wraps++; c.flushes++; cacheTag.fill(-1);
      e = areaAlloc(0, npages);
      if (e < 0) return -1;
    }
    hint = e + npages;
    for (let i = e; i < e + npages; i++) map[i >>> 5] |= 1 << (i & 31);
    c.inUse += npages;
    if (c.inUse > c.peak) c.peak = c.inUse;
    for (let i = 0; i < npages; i++) {
      const p = pfn + i; // value = p << 12 | 3, stored big-endian
      const lo = ((p << 12) | 3) >>> 0;
      const hi = p >>> 20;
      table[(e + i) * 2] = bswap32(hi);
      table[(e + i) * 2 + 1] = bswap32(lo);
    }
    c.pagesMapped += npages; c.maps++;
    return e;
  };
  const unmapSingle = (dma, len) => {
    const npages = Math.ceil(((dma & 4095) + len) / 4096);
    const first = dma >>> 12;
    c.unmaps++;
    if (dma < EMERGENCY_BYTES || first + npages > ENTRIES) { c.bad++; return; }
    let was = 0;
    for (let i = first; i < first + npages; i++) {
      table[i * 2] = 0; table[i * 2 + 1] = 0;
      const m = 1 << (i & 31);
      if (map[i >>> 5] & m) was++;
      map[i >>> 5] &= ~m;
    }
    c.inUse -= was; c.pagesUnmapped += npages;
    if (was !== npages) c.dbl++;
  };
  for (let i = 0; i < 32; i++) map[i >>> 5] |= 1 << (i & 31);
  for (let i = 160; i < 256; i++) map[i >>> 5] |= 1 << (i & 31);
  const slot = new Int32Array(ring);
  let pfn = 0x10000;
  for (let i = 0; i < ring; i++) slot[i] = mapSingle(pfn++, 0, 1536);
  let h = 0;
  return {
    counters: c,
    run(steps) {
      let failed = 0;
      for (let i = 0; i < steps; i++) {
        if (slot[h] >= 0) unmapSingle(slot[h] << 12 >>> 0, 1536);
        const e = mapSingle(pfn, 0, 1536);
        pfn = (pfn + 1) & 0xffffff;
        if (e < 0) failed++;
        slot[h] = e;
        h = h + 1 === ring ? 0 : h + 1;
      }
      return failed;
    },
  };
}
