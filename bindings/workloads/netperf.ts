// netperf TCP_STREAM over 1 GbE, as a closed loop solved for its steady state: the sender pushes
// messages of m bytes; TCP coalesces them into segments (Nagle); every segment and every ACK frame
// costs CPU and one DMA mapping on the NIC's rings; throughput is whatever the bottleneck allows —
// the wire, the busiest CPU, or the send pipeline — and utilisation is the cycles that throughput
// costs, on the study's scale.

import type { Party } from "../sim/environments.js";
import type { EnvironmentName } from "../sim/environments.js";

/** Ethernet + IP + TCP framing of one full data frame. */
export const FRAMING = {
  linkBitsPerSecond: 1e9,
  mtu: 1500,
  ipHeader: 20,
  tcpHeader: 20,
  /** TCP timestamps option, 10 bytes padded to 12. */
  tcpTimestamps: 12,
  ethernetHeader: 14,
  fcs: 4,
  preambleAndSfd: 8,
  interFrameGap: 12,
} as const;

/** Largest TCP payload per segment: MTU − IP − TCP − timestamps = 1448. */
export const MSS = FRAMING.mtu - FRAMING.ipHeader - FRAMING.tcpHeader - FRAMING.tcpTimestamps;
/** Wire bytes a frame costs beyond its TCP payload (90 with timestamps). */
export const FRAME_OVERHEAD =
  FRAMING.ipHeader + FRAMING.tcpHeader + FRAMING.tcpTimestamps + FRAMING.ethernetHeader + FRAMING.fcs +
  FRAMING.preambleAndSfd + FRAMING.interFrameGap;

/** The free parameters of one environment (at most 8), each with physical bounds. */
export interface NetperfParams {
  /** Cycles per send() call (system call, socket layer). */
  syscallCycles: number;
  /** Cycles per byte copied from user space. */
  copyCyclesPerByte: number;
  /** Cycles per TX segment in the sending kernel (TCP/IP output, driver xmit). */
  segmentCycles: number;
  /** Cycles per frame in the driver domain: ACK receive, interrupt share; under xen-domU every frame crossing netback. */
  frameCycles: number;
  /** How long data accumulates behind an unacknowledged small segment (Nagle), µs. */
  nagleWindowUs: number;
  /** Fixed time one segment needs to pass the send pipeline (bounds the packet rate), µs. */
  pipelineUs: number;
  /** Multiplies the CostProfile's IOMMU work (TCE writes, table flushes, bitmap scans, MMIO, validation). */
  iommuScale: number;
  /** Time per byte in that pipeline (copies or grant copies on the way to the wire), ns. */
  pipelineNsPerByte: number;
}

export const PARAM_BOUNDS: Record<keyof NetperfParams, [number, number]> = {
  syscallCycles: [300, 30000],
  copyCyclesPerByte: [0.05, 5],
  segmentCycles: [500, 80000],
  frameCycles: [300, 80000],
  nagleWindowUs: [1, 300],
  pipelineUs: [0.05, 50],
  iommuScale: [0.02, 50],
  pipelineNsPerByte: [0.01, 50],
};

export interface NetperfPoint {
  mbps: number;
  /** On the study's scale: out of 100 (bare metal, 8 CPUs) or out of 800 (Xen). */
  cpu: number;
  segmentBytes: number;
  bottleneck: "link" | "cpu" | "pipeline";
}

export interface MachineModel {
  cores: number;
  clockHz: number;
}

/**
 * One operating point. `dmaPerPair`: cycles per DMA map+unmap pair by party (from dma-price.ts),
 * already priced with the scaled profile.
 */
export function netperfPoint(
  env: EnvironmentName, messageBytes: number, p: NetperfParams, dmaPerPair: Partial<Record<Party, number>>, machine: MachineModel,
): NetperfPoint {
  const dma = (party: Party) => dmaPerPair[party] ?? 0;
  let T: number = FRAMING.linkBitsPerSecond; // start optimistic, iterate to the fixed point
  let s = MSS;
  let bottleneck: NetperfPoint["bottleneck"] = "link";
  let perBit: Record<number, number> = {};
  for (let it = 0; it < 60; it++) {
    // Nagle: small writes wait behind the unacknowledged segment and leave together
    s = messageBytes >= MSS ? MSS : Math.min(MSS, Math.max(messageBytes, (T / 8) * p.nagleWindowUs * 1e-6));
    // cycles per bit of goodput, per CPU: messages, segments, ACK frames (one per two segments), DMA pairs
    const perMsg = (p.syscallCycles + p.copyCyclesPerByte * messageBytes) / (8 * messageBytes);
    const perSeg = 1 / (8 * s);
    const segs = perSeg;
    const acks = perSeg / 2;
    const pairs = segs + acks;
    if (env === "xen-domU") {
      perBit = {
        1: perMsg + segs * p.segmentCycles + pairs * dma("domU"),
        0: (segs + acks) * p.frameCycles + pairs * (dma("dom0") + dma("xen")),
      };
    } else {
      const party: Party = env === "baremetal" ? "kernel" : "dom0";
      perBit = { 0: perMsg + segs * p.segmentCycles + acks * p.frameCycles + pairs * (dma(party) + dma("xen")) };
    }
    const busiest = Math.max(...Object.values(perBit));
    const tLink = FRAMING.linkBitsPerSecond * (s / (s + FRAME_OVERHEAD));
    const tCpu = machine.clockHz / busiest;
    // one segment at a time through the pipeline: a fixed handoff plus its bytes
    const tPipe = (s * 8) / (p.pipelineUs * 1e-6 + s * p.pipelineNsPerByte * 1e-9);
    const next = Math.min(tLink, tCpu, tPipe);
    bottleneck = next === tLink ? "link" : next === tCpu ? "cpu" : "pipeline";
    if (Math.abs(next - T) < 1e-6 * T) {
      T = next;
      break;
    }
    T = 0.5 * T + 0.5 * next;
  }
  const cycles = Object.values(perBit).reduce((a, b) => a + b, 0) * T;
  const cpu = env === "baremetal" ? (cycles / (machine.cores * machine.clockHz)) * 100 : (cycles / machine.clockHz) * 100;
  return { mbps: T / 1e6, cpu, segmentBytes: s, bottleneck };
}
