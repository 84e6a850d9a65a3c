// What the NIC workload's work costs on a modern server: the kernel's network stack per packet and
// per byte, the dma-iommu primitives the core counts, and the device-side price of an IOTLB miss.
// Every default has its unit and basis here. A cost profile prices a run instead, each NIC price
// taken from the first of these the profile has:
//   - profile.nic.iommu.<name>, profile.nic.stack.<name>, profile.nic.device.<name>: explicit;
//   - profile.cycles.<name> under the NIC's own names (iotlbInvalidation, invalidationWait,
//     pageTableWrite, iovaNodeVisit, lock, lockLineTransfer, flushQueueEntry);
//   - the CostProfile primitives they are made of: dmaApiEntry; a PTE store is a table-entry write
//     (tceWrite); posting an invalidation is its descriptor and the wait descriptor
//     (2 × invDescriptorWrite) and the tail-register write (mmioWrite); its wait is invWait (or,
//     before the queued-invalidation primitives, one uncached poll: flushWaitPoll); a ring IOMMU's
//     end-of-burst invalidation is a register write and read (mmioWrite + mmioRead); the user
//     copy is copyPerByte;
//   - the defaults below.
// profile.machine.clockHz is the clock.

import { ConfigError } from "../../errors.js";
import type { CostProfile } from "../../sim/cost-profile.js";

export interface NicStackCosts {
  /** cycles per send() / recv(): system call entry and exit, socket lock, tcp_sendmsg / tcp_recvmsg set-up. */
  syscall: number;
  /** cycles per payload byte copied between user and kernel (copy_from_user / copy_to_user). */
  copyPerByte: number;
  /** cycles per skb transmitted: tcp_write_xmit, IP output, qdisc, the driver's xmit and doorbell. */
  txSkb: number;
  /** cycles per skb NAPI cleans after TX completion (napi_consume_skb, fragment puts). */
  txCompletion: number;
  /** cycles per frame received: descriptor, skb build around the page-pool buffer, GRO receive. */
  rxFrame: number;
  /** cycles per skb GRO hands up: IP and TCP receive, socket queueing, the ACK it answers with (or the ACK's processing). */
  rxSkb: number;
  /** cycles per NAPI poll: hard interrupt, softirq entry, napi_schedule and completion. */
  interrupt: number;
  /** cycles per page allocated when the RX page pool is empty (alloc_pages and its later free). */
  pageAlloc: number;
  /** cycles per DMA-API call with no IOMMU (dma-direct: a physical-to-bus address). */
  dmaDirect: number;
}

export interface NicIommuCosts {
  /** cycles per dma-iommu call beyond the allocator and the page table (argument checks, iommu_map set-up). */
  dmaApiEntry: number;
  /** cycles per I/O page-table entry written (map) or cleared (unmap). */
  pageTableWrite: number;
  /** cycles to post one IOTLB invalidation (queued-invalidation descriptor + tail register write). */
  iotlbInvalidation: number;
  /** cycles the CPU waits for that invalidation to complete (wait descriptor). */
  invalidationWait: number;
  /** cycles of a ring IOMMU's end-of-burst invalidation: a register write and a read back. */
  ringInvalidation: number;
  /** Where the core models the queued interface: cycles per command written, per doorbell (tail register write), per barrier. */
  invDescriptorWrite: number;
  invDoorbell: number;
  memoryBarrier: number;
  /** cycles per IOVA red-black tree node visited under the tree's lock. */
  iovaNodeVisit: number;
  /** cycles of an uncontended spin_lock_irqsave + unlock. */
  lock: number;
  /** cycles for a lock's cache line to move from another core. */
  lockLineTransfer: number;
  /** cycles per unmap queued on the per-CPU flush queue (lazy mode). */
  flushQueueEntry: number;
}

export interface NicDeviceCosts {
  /** ns an IOTLB miss adds to the DMA that takes it (the page walk), where the core does not count the walk's reads. */
  iotlbMissNs: number;
  /** ns per memory read of a page walk, where the core counts them (multi-level tables, walk cache). */
  walkReadNs: number;
  /** Page walks the IOMMU serves at once (its miss handling throughput is walkers / iotlbMissNs). */
  pageWalkers: number;
  /** µs a TCP_RR transaction spends outside both hosts' CPUs: two NICs, PCIe, wire, wake-ups. */
  rrBaseLatencyUs: number;
}

export interface NicPrices {
  name: string;
  clockHz: number;
  stack: NicStackCosts;
  iommu: NicIommuCosts;
  device: NicDeviceCosts;
}

/** Defaults: a 3 GHz x86 server core of the 2015–2020 generation; each an assumption with its basis. */
export const NIC_DEFAULT_PRICES: NicPrices = {
  name: "nic-defaults-modern-x86",
  clockHz: 3.0e9,
  stack: { syscall: 1500, copyPerByte: 0.35, txSkb: 5000, txCompletion: 800, rxFrame: 700, rxSkb: 3000, interrupt: 2500, pageAlloc: 600, dmaDirect: 40 },
  iommu: { dmaApiEntry: 250, pageTableWrite: 50, iotlbInvalidation: 600, invalidationWait: 3500, ringInvalidation: 1200, invDescriptorWrite: 20, invDoorbell: 560, memoryBarrier: 40, iovaNodeVisit: 30, lock: 60, lockLineTransfer: 250, flushQueueEntry: 100 },
  device: { iotlbMissNs: 300, walkReadNs: 90, pageWalkers: 4, rrBaseLatencyUs: 10 },
};

/** The basis of each default (README and --json carry it). */
export const NIC_PRICE_BASIS: Record<string, string> = {
  syscall: "~0.5 µs: a system call with today's entry mitigations plus the socket lock and TCP's per-call set-up (assumption)",
  copyPerByte: "copy of cache-cold payload at ~8.5 GB/s per 3 GHz core (rep movsb to/from user memory; assumption)",
  txSkb: "TCP output, IP, qdisc and driver xmit of one TSO skb, ~1.7 µs (assumption)",
  txCompletion: "freeing one transmitted skb in NAPI (assumption)",
  rxFrame: "driver RX of one frame with GRO receive, ~230 ns (assumption)",
  rxSkb: "IP + TCP receive of one skb, socket queueing, ACK (assumption)",
  interrupt: "hard interrupt + softirq + NAPI scheduling per poll (assumption)",
  pageAlloc: "alloc_pages fast path and the later free (assumption)",
  dmaDirect: "dma-direct: an address translation and a swiotlb check",
  dmaApiEntry: "iommu_dma_map_page / unmap bookkeeping beyond the IOVA allocator and the PTE",
  pageTableWrite: "a PTE store in a cached page-table line (coherent page walks: no clflush)",
  iotlbInvalidation: "posting a queued-invalidation descriptor and the tail-register MMIO write",
  invalidationWait: "the wait descriptor's completion; with the post ≈ the 4593 hardware cycles of a strict VT-d unmap (Amit et al., vIOMMU, USENIX ATC 2011)",
  ringInvalidation: "an uncached register write and a read of it in the root complex, ~0.4 µs (assumption)",
  invDescriptorWrite: "one 16-byte command stored into the queue's cache-resident ring",
  invDoorbell: "the tail-register MMIO write that hands the commands to the IOMMU",
  memoryBarrier: "a store barrier ordering the commands before the doorbell",
  iovaNodeVisit: "one rb-tree node (pointer chase, often a cache miss)",
  lock: "uncontended spin_lock_irqsave + unlock on a local line",
  lockLineTransfer: "the lock's line coming from another core (~80 ns)",
  flushQueueEntry: "queue_iova: the per-CPU queue lock and one ring slot",
  iotlbMissNs: "a page walk with the upper levels in the paging-structure caches: one or two DRAM reads (assumption; IOTLB misses cut DMA throughput in Neugebauer et al., SIGCOMM 2018, and Farshin et al., PeerJ CS 2023)",
  walkReadNs: "one DRAM read by the IOMMU's walker, ~90 ns loaded latency on a server part (assumption)",
  pageWalkers: "concurrent page walks in the IOMMU (assumption)",
  rrBaseLatencyUs: "NIC, PCIe, wire and process wake-up on both ends of a 10 GbE round trip (assumption)",
};

function pick<T extends object>(field: string, defaults: T, given: unknown): T {
  const out = { ...defaults };
  if (given === undefined) return out;
  if (given === null || typeof given !== "object") throw new ConfigError(field, given, "an object of prices");
  for (const [k, v] of Object.entries(given)) {
    if (!(k in defaults)) throw new ConfigError(`${field}.${k}`, v, `no such price; known: ${Object.keys(defaults).join(", ")}`);
    if (typeof v !== "number" || !Number.isFinite(v) || v < 0) throw new ConfigError(`${field}.${k}`, v, "a number ≥ 0");
    (out as Record<string, number>)[k] = v;
  }
  return out;
}

/** A profile that may carry NIC prices (`nic`) and modern IOMMU primitives in `cycles`. */
export type NicProfile = Partial<Omit<CostProfile, "cycles">> & {
  cycles?: Partial<Record<string, number>>;
  nic?: { iommu?: Partial<NicIommuCosts>; stack?: Partial<NicStackCosts>; device?: Partial<NicDeviceCosts> };
};

/** The NIC's IOMMU prices composed from a CostProfile's primitives (undefined: the profile lacks one). */
function composed(c: Partial<Record<string, number>>): Partial<Record<keyof NicIommuCosts, number | undefined>> {
  const has = (...k: string[]) => k.every((x) => c[x] !== undefined);
  return {
    dmaApiEntry: c.dmaApiEntry,
    pageTableWrite: c.tceWrite,
    iotlbInvalidation: has("invDescriptorWrite", "mmioWrite") ? 2 * c.invDescriptorWrite! + c.mmioWrite! + (c.memoryBarrier ?? 0) : c.mmioWrite,
    invalidationWait: c.invWait ?? c.flushWaitPoll,
    ringInvalidation: has("mmioWrite", "mmioRead") ? c.mmioWrite! + c.mmioRead! : undefined,
    invDoorbell: c.mmioWrite,
  };
}

/** The prices a run uses (see the head of this file for where each comes from). */
export function nicPrices(profile?: NicProfile): NicPrices {
  if (profile === undefined) return structuredClone(NIC_DEFAULT_PRICES);
  if (profile === null || typeof profile !== "object") throw new ConfigError("profile", profile, "a cost profile object");
  const cycles = profile.cycles ?? {};
  if (cycles === null || typeof cycles !== "object") throw new ConfigError("profile.cycles", cycles, "an object of cycles by primitive");
  const from = composed(cycles);
  const iommu = { ...NIC_DEFAULT_PRICES.iommu };
  for (const k of Object.keys(iommu) as Array<keyof NicIommuCosts>) {
    const v = cycles[k] ?? from[k];
    if (v === undefined) continue;
    if (typeof v !== "number" || !Number.isFinite(v) || v < 0) throw new ConfigError(`profile.cycles.${k}`, v, "a number of cycles ≥ 0");
    iommu[k] = v;
  }
  const stack = { ...NIC_DEFAULT_PRICES.stack };
  if (typeof cycles.copyPerByte === "number" && Number.isFinite(cycles.copyPerByte) && cycles.copyPerByte >= 0) stack.copyPerByte = cycles.copyPerByte;
  const clockHz = profile.machine?.clockHz ?? NIC_DEFAULT_PRICES.clockHz;
  if (typeof clockHz !== "number" || !(clockHz >= 1e6 && clockHz <= 1e11)) throw new ConfigError("profile.machine.clockHz", clockHz, "a clock from 1e6 to 1e11 Hz");
  return {
    name: profile.name ?? "profile",
    clockHz,
    stack: pick("profile.nic.stack", stack, profile.nic?.stack),
    iommu: pick("profile.nic.iommu", iommu, profile.nic?.iommu),
    device: pick("profile.nic.device", NIC_DEFAULT_PRICES.device, profile.nic?.device),
  };
}
