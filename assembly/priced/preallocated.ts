// === preallocated: the whole guest mapped once at start, DMA address = guest-physical ===
// Map and unmap cost only the DMA-API call; the system is protected from the guest's devices
// beyond its memory, but nothing inside the guest is protected from them.

import { CROSS_PER_ENTRY, tableWork } from "./environment";
import { KIND_SETUP } from "./counts";

let guestBytes: f64 = 0;

export function preallocatedInit(guest: f64): void {
  guestBytes = guest;
  // at boot the whole guest is mapped; under Xen through the same per-entry interface
  tableWork(KIND_SETUP, Math.ceil(guest / 4096), CROSS_PER_ENTRY);
}

/** [phys, phys + bytes) lies inside the mapped guest. */
// @ts-ignore: decorator
@inline export function insideGuest(phys: u64, bytes: u32): bool {
  return <f64>phys + <f64>bytes <= guestBytes;
}
