// === Lazy invalidation: the dma-iommu flush queue (drivers/iommu/dma-iommu.c, v6.x) ===
// Under FLUSH_QUEUE an unmap clears the table entries at once but neither flushes the device's
// cache nor frees the IO pages: it queues them on this CPU's ring. The pages go back to the
// allocator only after a flush has completed, so no new mapping can reuse them while the cache
// may still translate them; until then the device can still reach the freed buffers through
// the cache (the exposure lazy mode buys its speed with).
//
//   per CPU:  ╒═ head u32 ═╤═ tail u32 ═╤═ entry 0 ═╤═ entry 1 … entry 255 ═╕   entry = first u32,
//             ╘════════════╧════════════╧═══════════╧════════════════════════╛           pages u32,
//                                                                                       counter u32
// A queue of FQ_SIZE slots is full when (tail + 1) % FQ_SIZE == head: 255 entries. queue_iova
// first frees every head entry whose counter is below the finish count; if still full it flushes
// (start++, invalidate all, finish++) and frees again; then appends with counter = start. The
// 10 ms timer (run by the caller: flushQueueTimer) flushes and frees every CPU's ready entries.

import { stats } from "./counters";
import { flushAll } from "./flush";
import { freePages } from "./allocator";
import { currentCpu } from "./cpu";

// @ts-ignore: decorator
@inline export const FQ_SIZE: u32 = 256; // IOVA_DEFAULT_FQ_SIZE
// @ts-ignore: decorator
@inline const ENTRY_BYTES: u32 = 12;
// @ts-ignore: decorator
@inline const QUEUE_BYTES: u32 = 8 + FQ_SIZE * ENTRY_BYTES;

let queuesAt: usize = 0;
let cpuCount: u32 = 1;
let startCnt: u32 = 0;
let finishCnt: u32 = 0;
let timerArmed: bool = false;

export function flushQueueBytes(cpus: u32): usize {
  return <usize>cpus * QUEUE_BYTES;
}

export function flushQueueInit(base: usize, cpus: u32): void {
  queuesAt = base;
  cpuCount = cpus;
  startCnt = 0;
  finishCnt = 0;
  timerArmed = false;
  memory.fill(base, 0, flushQueueBytes(cpus));
}

// @ts-ignore: decorator
@inline function QUEUE(cpu: u32): usize {
  return queuesAt + <usize>cpu * QUEUE_BYTES;
}

// @ts-ignore: decorator
@inline function SLOT(q: usize, i: u32): usize {
  return q + 8 + <usize>i * ENTRY_BYTES;
}

/** fq_flush_iotlb: one invalidate-all, bracketed by the two counters. */
function flushIotlb(): void {
  startCnt++;
  flushAll();
  finishCnt++;
}

/** fq_ring_free: frees head entries whose flush has completed. */
function ringFree(q: usize): void {
  let head = load<u32>(q, 0);
  let tail = load<u32>(q, 4);
  while (head != tail) {
    let e = SLOT(q, head);
    if (load<u32>(e, 8) >= finishCnt) break;
    let pages = load<u32>(e, 4);
    stats.pagesQueued -= <u64>pages;
    if (freePages(load<u32>(e, 0), pages) != pages) stats.doubleFrees++;
    head = (head + 1) & (FQ_SIZE - 1);
  }
  store<u32>(q, head, 0);
}

/** queue_iova for entries [first, first + pages) whose table entries are already cleared. */
export function flushQueueAdd(first: u32, pages: u32): void {
  let q = QUEUE(currentCpu());
  ringFree(q);
  let tail = load<u32>(q, 4);
  if (((tail + 1) & (FQ_SIZE - 1)) == load<u32>(q, 0)) {
    flushIotlb();
    ringFree(q);
  }
  let e = SLOT(q, tail);
  store<u32>(e, first, 0);
  store<u32>(e, pages, 4);
  store<u32>(e, startCnt, 8);
  store<u32>(q, (tail + 1) & (FQ_SIZE - 1), 4);
  stats.pagesQueued += <u64>pages;
  timerArmed = true;
}

/** The flush-queue timer (IOVA_DEFAULT_FQ_TIMEOUT, 10 ms) fires; returns whether it flushed. */
export function flushQueueTimer(): bool {
  if (!timerArmed) return false;
  timerArmed = false;
  flushIotlb();
  for (let c: u32 = 0; c < cpuCount; c++) ringFree(QUEUE(c));
  return true;
}
