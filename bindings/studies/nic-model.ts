// The NIC workload a study's runs are predicted with. The studies depend only on this interface:
// a run (platform, invalidation mode, link, …) and a cost profile in, throughput and CPU out.
//
// STUB: until the modern NIC workload (bindings/workloads/nic.ts) and the vtd / riommu platforms
// are on main, `stubNic` stands in. It is a closed-form bulk-stream model priced from the
// profile's primitives, with one assumed stack cost per frame; its outcomes carry
// model = "stub" and `reproduce --study` says so above every table. Replace it with the real call.

import type { CostProfile } from "../sim/cost-profile.js";
import type { NicRun } from "./study.js";

export interface NicOutcome {
  /** Goodput, Gbit/s. */
  gbps: number;
  /** CPU busy on the bottleneck core, %. */
  cpuPct: number;
  /** Which model produced it ("stub" until the NIC workload lands). */
  model: string;
}

export type NicModel = (run: NicRun, profile: CostProfile) => NicOutcome;

/** Linux's flush queue holds 256 entries per CPU (IOVA_FQ_SIZE) before it invalidates. */
const FLUSH_QUEUE_ENTRIES = 256;
/** Stub assumption, not from a source: kernel cycles per received 1500-byte frame with GRO, its ACK share included. */
const STUB_STACK_CYCLES_PER_FRAME = 5000;
const FRAME_PAYLOAD = 1448;
const FRAME_WIRE = 1538;

/** One map + unmap of one RX buffer, in the profile's primitives; `mode` decides the invalidation. */
function dmaPairCycles(run: NicRun, c: CostProfile["cycles"]): number {
  if (run.mode === "off") return 0;
  const software = 2 * c.dmaApiEntry + 2 * c.tceWrite;
  // a queued invalidation: its command and a wait command, the tail-register write, the wait
  const invalidation = 2 * c.invDescriptorWrite + c.mmioWrite + c.invWait;
  if (run.platform === "riommu") return software + invalidation / 64; // one per ring burst
  // the x86 platforms' default is the flush queue
  return software + (run.mode === "strict" ? invalidation : invalidation / FLUSH_QUEUE_ENTRIES);
}

export const stubNic: NicModel = (run, profile) => {
  const clock = profile.machine.clockHz;
  const pair = dmaPairCycles(run, profile.cycles);
  const payload = FRAME_PAYLOAD;
  const wire = FRAME_WIRE;
  const perFrame = STUB_STACK_CYCLES_PER_FRAME + payload * profile.cycles.copyPerByte + pair;
  const cpuFrames = clock / perFrame;
  const lineFrames = (run.linkGbps * 1e9) / (wire * 8);
  const frames = Math.min(cpuFrames, lineFrames);
  return { gbps: (frames * payload * 8) / 1e9, cpuPct: (frames / cpuFrames) * 100, model: "stub" };
};
