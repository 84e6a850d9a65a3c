/* Native baseline for bench/native.bench.js: the Linux 2.6.23 Calgary allocator
 * (find_next_zero_string on 64-bit words, one rotating hint, cache blast on wrap, the last entry
 * never handed out), big-endian TCE stores, a 64-line TCE cache invalidated on every blast, and
 * the same counters as the WASM core, driven by the same NIC ring: RING one-page buffers
 * outstanding, each step unmaps the oldest and maps a fresh page.
 * Usage: ring STEPS [RING] → prints "events_per_second <n>" (and the counters, as a check). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/mman.h>

#define ENTRIES (1u << 20) /* 8M table: 4 GiB of IO space */
#define WORDS (ENTRIES / 64)
#define CACHE_LINES 64
#define EMERGENCY_BYTES (32u * 4096u)

static uint64_t *map;
static uint64_t *table;
static uint32_t cache_tag[CACHE_LINES];
static uint32_t hint;
static uint64_t maps, unmaps, pages_mapped, pages_unmapped, words_scanned, wraps, flushes, in_use, peak, bad, dbl;

static uint32_t find_zero(uint32_t start, uint32_t limit) {
  if (start >= limit) return limit;
  uint32_t w = start >> 6, last = (limit - 1) >> 6;
  uint64_t x = ~map[w] & (~0ull << (start & 63));
  uint64_t n = 1;
  while (!x) {
    if (w == last) { words_scanned += n; return limit; }
    w++; n++;
    x = ~map[w];
  }
  words_scanned += n;
  uint32_t i = (w << 6) + (uint32_t)__builtin_ctzll(x);
  return i < limit ? i : limit;
}

static uint32_t find_set(uint32_t from, uint32_t end) {
  if (from >= end) return end;
  uint32_t w = from >> 6, last = (end - 1) >> 6;
  uint64_t x = map[w] & (~0ull << (from & 63));
  uint64_t n = 1;
  while (!x) {
    if (w == last) { words_scanned += n; return end; }
    w++; n++;
    x = map[w];
  }
  words_scanned += n;
  uint32_t i = (w << 6) + (uint32_t)__builtin_ctzll(x);
  return i < end ? i : end;
}

static void set_range(uint32_t s, uint32_t n) { for (uint32_t i = s; i < s + n; i++) map[i >> 6] |= 1ull << (i & 63); }
static uint32_t clear_range(uint32_t s, uint32_t n) {
  uint32_t was = 0;
  for (uint32_t i = s; i < s + n; i++) { uint64_t m = 1ull << (i & 63); was += (map[i >> 6] & m) != 0; map[i >> 6] &= ~m; }
  return was;
}

static int64_t area_alloc(uint32_t start, uint32_t npages) {
  for (;;) {
    uint32_t n = find_zero(start, ENTRIES);
    if (n >= ENTRIES) return -1;
    uint64_t end = (uint64_t)n + npages;
    if (end >= ENTRIES) return -1;
    uint32_t busy = find_set(n, (uint32_t)end);
    if (busy < end) { start = busy + 1; continue; }
    return n;
  }
}

static void blast(void) { flushes++; memset(cache_tag, 0xff, sizeof cache_tag); }

static int64_t map_single(uint32_t pfn, uint32_t off, uint32_t len) {
  uint32_t npages = (uint32_t)(((uint64_t)off + len + 4095) >> 12);
  int64_t e = area_alloc(hint, npages);
  if (e < 0) { wraps++; blast(); e = area_alloc(0, npages); if (e < 0) return -1; }
  hint = (uint32_t)e + npages;
  set_range((uint32_t)e, npages);
  in_use += npages; if (in_use > peak) peak = in_use;
  for (uint32_t i = 0; i < npages; i++) table[e + i] = __builtin_bswap64(((uint64_t)(pfn + i) << 12) | 3);
  pages_mapped += npages; maps++;
  return e;
}

static void unmap_single(uint32_t dma, uint32_t len) {
  uint32_t npages = (uint32_t)(((uint64_t)(dma & 4095) + len + 4095) >> 12);
  uint32_t first = dma >> 12;
  unmaps++;
  if (dma < EMERGENCY_BYTES || (uint64_t)first + npages > ENTRIES) { bad++; return; }
  for (uint32_t i = 0; i < npages; i++) table[first + i] = 0;
  uint32_t was = clear_range(first, npages);
  in_use -= was; pages_unmapped += npages;
  if (was != npages) dbl++;
}

int main(int argc, char **argv) {
  uint64_t steps = argc > 1 ? strtoull(argv[1], 0, 10) : 50000000ull;
  uint32_t ring = argc > 2 ? (uint32_t)atoi(argv[2]) : 256;
  int32_t *slot = calloc(ring, sizeof *slot);
  /* The tables live in anonymous mappings, as WASM linear memory does. Transparent huge pages are
   * refused by default so both sides get 4 KiB pages (this host hands THP out unpredictably);
   * RING_HUGEPAGES=1 asks for them, to see what they are worth. */
  size_t map_bytes = WORDS * sizeof(uint64_t), table_bytes = ENTRIES * sizeof(uint64_t);
  map = mmap(0, map_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  table = mmap(0, table_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  int advice = getenv("RING_HUGEPAGES") ? MADV_HUGEPAGE : MADV_NOHUGEPAGE;
  madvise(map, map_bytes, advice);
  madvise(table, table_bytes, advice);
  set_range(0, 32); set_range(160, 96); /* emergency pages, legacy hole */
  blast(); flushes = 0;
  uint32_t pfn = 0x10000;
  struct timespec t0, t1;
  for (uint32_t i = 0; i < ring; i++) slot[i] = (int32_t)map_single(pfn++, 0, 1536);
  /* Warm-up outside the timed region, as the WASM side gets (bench/native.bench.js runs its ring
   * 2M pairs before timing): the first wraps touch every page of the table and the bitmap, and
   * those page faults are not the allocator's cost. */
  uint64_t warm = argc > 3 ? strtoull(argv[3], 0, 10) : 2000000ull;
  uint32_t h = 0; uint64_t failed = 0;
  for (uint64_t i = 0; i < warm + steps; i++) {
    if (i == warm) clock_gettime(CLOCK_MONOTONIC, &t0);
    if (slot[h] >= 0) unmap_single((uint32_t)slot[h] << 12, 1536);
    int64_t e = map_single(pfn, 0, 1536);
    pfn = (pfn + 1) & 0x00ffffff;
    if (e < 0) failed++;
    slot[h] = (int32_t)e;
    h = h + 1 == ring ? 0 : h + 1;
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double s = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
  printf("events_per_second %.0f\n", 2.0 * steps / s);
  printf("maps %llu unmaps %llu words %llu wraps %llu flushes %llu failed %llu in_use %llu\n",
         (unsigned long long)maps, (unsigned long long)unmaps, (unsigned long long)words_scanned,
         (unsigned long long)wraps, (unsigned long long)flushes, (unsigned long long)failed, (unsigned long long)in_use);
  return 0;
}
