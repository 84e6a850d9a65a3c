// === The invalidation queue in memory: a ring of 16-byte commands, and the driver's status words ===
// VT-d's invalidation queue, AMD-Vi's command buffer and SMMUv3's command queue are all rings in
// main memory that the CPU fills and the IOMMU consumes: the CPU stores commands at the tail, then
// writes the tail (producer) register; the IOMMU reads from its head up to that tail and carries
// them out. Completion comes back as a store to memory the CPU watches. Each interface file lays
// its own commands into the slots and decodes them again on the IOMMU's side; this file keeps the
// ring and its addresses.
//
//   INV_QUEUE_PHYS ─► ╒═ slot 0: lo u64 @0, hi u64 @8 ═╤═ slot 1 ═╤ … ╤═ slot entries − 1 ═╕
//                     ├─ status words: entries × u32 (VT-d desc_status[]; AMD cmd_sem, a u64 at 0) ┤
//                     ╘═════════════════════════════════════════════════════════════════╛
// Physical memory is not modelled: the ring sits at INV_QUEUE_PHYS in the modelled physical
// space, and the addresses commands carry (status, MSI) are translated back into the core's
// memory here. The IOMMU is modelled as consuming everything up to the tail when the doorbell is
// written, so the ring never fills (the CPU waits for completion before it submits again).

import { stats } from "../counters";

// @ts-ignore: decorator
@inline export const INV_QUEUE_PHYS: u64 = 0x7ff0_0000;
// @ts-ignore: decorator
@inline export const SLOT_BYTES: u32 = 16;

let ring: usize = 0;
let slots: u32 = 0;
let tail: u32 = 0;
let head: u32 = 0;
/** SMMUv3's wrap bit: flips each time the producer index passes the end of the ring. */
let wrapped: bool = false;

export function queueBytes(entries: u32): usize {
  return <usize>entries * (SLOT_BYTES + 4);
}

export function queueInit(base: usize, entries: u32): void {
  ring = base;
  slots = entries;
  tail = 0;
  head = 0;
  wrapped = false;
  memory.fill(base, 0, queueBytes(entries));
}

export function queueBase(): usize {
  return ring;
}

export function queueEntries(): u32 {
  return slots;
}

/** The slot the next command goes to (the driver's tail / producer index). */
export function queueTail(): u32 {
  return tail;
}

export function queueWrapped(): bool {
  return wrapped;
}

// @ts-ignore: decorator
@inline export function slotAt(i: u32): usize {
  return ring + <usize>(i * SLOT_BYTES);
}

/** Physical address of slot `i` (what an SMMUv3 CMD_SYNC names as its MSI address). */
// @ts-ignore: decorator
@inline export function slotPhys(i: u32): u64 {
  return INV_QUEUE_PHYS + <u64>(i * SLOT_BYTES);
}

/** Physical address of status word `i`. */
// @ts-ignore: decorator
@inline export function statusPhys(i: u32): u64 {
  return INV_QUEUE_PHYS + <u64>(slots * SLOT_BYTES) + <u64>(i << 2);
}

/** Where in the core's memory physical address `phys` (inside the queue's area, `bytes` long) is. */
export function physToMemory(phys: u64, bytes: u32): usize {
  let off = phys - INV_QUEUE_PHYS;
  if (phys < INV_QUEUE_PHYS || off + <u64>bytes > <u64>queueBytes(slots)) abort(); // a bug in an encoder
  return ring + <usize>off;
}

/** The CPU stores one command at the tail; returns its slot. */
export function queuePut(lo: u64, hi: u64): u32 {
  let i = tail;
  let s = slotAt(i);
  store<u64>(s, lo, 0);
  store<u64>(s, hi, 8);
  stats.invDescriptors++;
  tail = i + 1 == slots ? 0 : i + 1;
  if (tail == 0) wrapped = !wrapped;
  return i;
}

/** The IOMMU's next command to consume, or -1 when its head has reached the tail. */
export function queueNext(): i32 {
  if (head == tail) return -1;
  let i = head;
  head = i + 1 == slots ? 0 : i + 1;
  return <i32>i;
}
