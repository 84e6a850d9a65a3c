// The DMA-API calls a multi-queue NIC driver makes, in the order it makes them, as batch records
// for the core (and its reference): per queue, NAPI polls that clean TX completions, take received
// frames and refill the RX ring from a page pool, then the application's sends. What each call
// maps follows today's Linux drivers:
//   - TX with TSO/GSO: one skb of up to 64 KiB (tcp_xmit_size_goal) is one dma_map_single of its
//     linear part (the 66 header bytes) plus one dma_map_page per page fragment; tcp_sendmsg
//     copies payload into the socket's 32 KiB page_frag pages, so a 64 KiB skb has two or three
//     fragments (4 KiB ones with zero-copy). Each is unmapped when NAPI cleans the completion, in
//     the next poll, as a batch.
//   - RX with a page pool (page_pool with PP_FLAG_DMA_MAP, as mlx5 and bnxt): 2 KiB buffers, two
//     to a 4 KiB page (one order-2 page a buffer for jumbo frames). A page stays mapped while it
//     cycles: when the stack has released every buffer of it, it goes back to the pool with its
//     mapping; the ring is refilled from the pool, and only when the pool is empty is a new page
//     allocated and mapped. A page returned to a full pool (ring's pages + the 128-page cache) is
//     unmapped and freed. Or (rxRecycling "page-flip") ixgbe / i40e's half-page flipping: each
//     descriptor owns a mapped page; after a frame lands in one half the driver re-posts the other
//     half if the stack has released it, else unmaps the page and maps a fresh one. Or ("none")
//     the drivers before either: a fresh buffer mapped per descriptor, unmapped when its frame
//     arrives (every frame a map and an unmap). Or ("hugepage-pool") the page pool carving its
//     pages from 2 MiB chunks each mapped whole (Farshin et al., PeerJ CS 2023: fewer IOTLB
//     entries for the same buffers where the IOMMU maps 2 MiB leaves).
//   - GRO merges the frames of one poll into skbs of up to 64 KiB; the stack holds their buffers
//     until the reader has copied them (rxBacklogBytes of payload), then releases them.
//   - Descriptor rings are coherent allocations the device reads and writes through the IOTLB.
// The device's reads and writes are access records, so the IOTLB sees the working set it would.

import { IO_PAGE_SIZE } from "../../abi.js";
import { DIR, putAccess, putAlloc, putCpu, putMap, putUnmap } from "../../records.js";
import { FRAMING } from "../netperf.js";
import type { ResolvedNicOptions } from "./options.js";

/** Ethernet + IPv4 + TCP with timestamps: the linear part of a TSO skb and a whole pure ACK. */
export const HEADER_BYTES = FRAMING.ethernetHeader + FRAMING.ipHeader + FRAMING.tcpHeader + FRAMING.tcpTimestamps;
/** Wire bytes a frame costs beyond its TCP payload (headers, FCS, preamble, inter-frame gap). */
export const WIRE_OVERHEAD = HEADER_BYTES + FRAMING.fcs + FRAMING.preambleAndSfd + FRAMING.interFrameGap;
/** NAPI's poll budget (packets a poll takes before it yields). */
export const NAPI_BUDGET = 64;
/** page_pool's per-pool lockless cache (PP_ALLOC_CACHE_SIZE) beyond the ring's own pages. */
export const POOL_CACHE_PAGES = 128;
const DESCRIPTOR_BYTES = 16;
/** MAX_TCP_HEADER headroom tcp_xmit_size_goal keeps out of gso_max_size (64 KiB). */
const GSO_HEADROOM = 321;
const GSO_MAX = 65536;
/** Physical regions the buffers come from (distinct pages, below DART's 64 GiB too). */
const RX_PAGES = 0x1_0000_0000;
const TX_FRAGS = 0x2_0000_0000;
const SKB_HEADS = 0x3_0000_0000;
const REGION_PAGES = 1 << 20;
const HUGE_PAGES = 0x4_0000_0000;
const HUGE_PAGE = 2 << 20;

export const mssOf = (mtu: number) => mtu - FRAMING.ipHeader - FRAMING.tcpHeader - FRAMING.tcpTimestamps;
/** tcp_xmit_size_goal: gso_max_size less header room, rounded down to whole segments. */
export const sizeGoalOf = (mss: number) => Math.max(mss, Math.floor((GSO_MAX - GSO_HEADROOM) / mss) * mss);
/** Segments GRO merges into one skb (64 KiB of payload). */
export const groMaxOf = (mss: number) => Math.max(1, Math.floor(GSO_MAX / mss));

/** RX buffer geometry: 2 KiB halves of a page up to a 1536-byte frame, else one order-n page a buffer. */
export function rxBufferOf(mtu: number): { bufferBytes: number; buffersPerPage: number; pageBytes: number } {
  if (mtu + FRAMING.ethernetHeader <= 1536) return { bufferBytes: 2048, buffersPerPage: 2, pageBytes: IO_PAGE_SIZE };
  // headroom (NET_SKB_PAD) and skb_shared_info beside the frame, rounded up to a power-of-two order
  const pages = Math.ceil((mtu + FRAMING.ethernetHeader + 64 + 320) / IO_PAGE_SIZE);
  const pageBytes = IO_PAGE_SIZE * 2 ** Math.ceil(Math.log2(pages));
  return { bufferBytes: pageBytes, buffersPerPage: 1, pageBytes };
}

/** How the operating point shapes a poll (set by the throughput model, fixed for one trace). */
export interface NicShape {
  /** stream sender: send() calls a poll; receiver: frames a poll; rr: always 1 transaction. */
  unitsPerPoll: number;
  /** ACK frames a stream sender receives per data frame it sends (the peer's GRO batches). */
  acksPerPacket: number;
  /** Simulated time of one round (every queue polled once), for the 10 ms flush-queue timer. */
  roundSeconds: number;
}

/** What the driver and the stack did in a stretch of the trace (summed over queues). */
export interface NicTally {
  rounds: number;
  polls: number;
  sends: number;
  recvs: number;
  /** Data skbs (TSO) or ACK skbs transmitted. */
  txSkbs: number;
  /** Data frames on the wire (either direction) and their TCP payload. */
  dataFrames: number;
  payloadBytes: number;
  /** Frames received, skbs the stack got from GRO. */
  rxFrames: number;
  rxSkbs: number;
  transactions: number;
  txMaps: number;
  txUnmaps: number;
  /** Pages the RX refill took from the pool (mapping kept) vs mapped anew (the pool was empty). */
  rxPagesRecycled: number;
  rxPagesMapped: number;
  /** Pages returned to a full pool: unmapped and freed. */
  rxPagesUnmapped: number;
}

export type NicStep =
  | { kind: "records"; ops: Uint32Array; tags: Uint16Array; count: number }
  | { kind: "timer" }
  | { kind: "depot" }
  | { kind: "sample" }
  | { kind: "window" }
  /** The window ends: the core's counters are read here, before the probe rounds. */
  | { kind: "probe" }
  /** Late DMAs: the device reads each skb it just completed again, after its unmap (every record an access). */
  | { kind: "probes"; ops: Uint32Array; tags: Uint16Array; count: number };

export interface NicTrace {
  steps: NicStep[];
  /** Handles the core needs (the most mappings alive at once, rings included). */
  maxHandles: number;
  warmup: NicTally;
  window: NicTally;
  /** Simulated seconds the measured window spans. */
  windowSeconds: number;
  /** Late-DMA probes made after the window (rounds run only for them, so they cannot disturb its counts). */
  probes: number;
}

/** Rounds after the window in which every TX completion is probed with a late DMA. */
export const PROBE_ROUNDS = 16;

const emptyTally = (): NicTally => ({
  rounds: 0, polls: 0, sends: 0, recvs: 0, txSkbs: 0, dataFrames: 0, payloadBytes: 0, rxFrames: 0, rxSkbs: 0,
  transactions: 0, txMaps: 0, txUnmaps: 0, rxPagesRecycled: 0, rxPagesMapped: 0, rxPagesUnmapped: 0,
});

interface Page {
  handle: number;
  /** Byte offset of the page in its mapping (a 2 MiB chunk's pages share one). */
  base: number;
  /** page-flip: halves of it the stack holds now. */
  stack: number;
  /** Buffers of it posted or held by the stack. */
  refs: number;
  /** Buffers carved from it since it was (re)filled. */
  carved: number;
}

interface Buffer {
  page: Page;
  offset: number;
}

interface Queue {
  index: number;
  cpu: number;
  txRing: number;
  rxRing: number;
  txSlot: number;
  rxSlot: number;
  fragPhys: number;
  fragUsed: number;
  /** skbs (their handles) transmitted last poll / this poll: cleaned one poll later. */
  completing: number[][];
  sent: number[][];
  pool: Page[];
  posted: Buffer[];
  carving: Page | null;
  /** hugepage-pool: the 2 MiB chunk new pages are carved from, and how many it has given. */
  chunk: { handle: number; used: number } | null;
  held: Buffer[];
  ackCarry: number;
  recvCarry: number;
}

/**
 * Which device ring a record belongs to (a ring IOMMU keeps one translation ring per device ring):
 * queue q's TX ring is 2q, its RX ring 2q + 1; the descriptor rings' coherent buffers and the CPU
 * switches belong to none.
 */
export const TAG_COHERENT = 0xfffe;
export const TAG_ALL = 0xffff;

/** Growing record buffer, each record tagged with its device ring. */
class Records {
  ops = new Uint32Array(4 * 4096);
  tags = new Uint16Array(4096);
  count = 0;
  tag = TAG_ALL;
  room(n: number): Uint32Array {
    if ((this.count + n) * 4 > this.ops.length) {
      const grown = new Uint32Array(Math.max(this.ops.length * 2, (this.count + n) * 4));
      grown.set(this.ops);
      this.ops = grown;
      const tags = new Uint16Array(grown.length / 4);
      tags.set(this.tags);
      this.tags = tags;
    }
    this.tags.fill(this.tag, this.count, this.count + n);
    return this.ops;
  }
}

/** The call sequence of `options` at operating point `shape`: a warm-up, then the measured window. */
export function generateNicTrace(o: ResolvedNicOptions, shape: NicShape): NicTrace {
  const mss = mssOf(o.mtu);
  const goal = sizeGoalOf(mss);
  const groMax = Math.min(groMaxOf(mss), NAPI_BUDGET);
  const rx = rxBufferOf(o.mtu);
  const poolCapacity = Math.ceil(o.rxRing / rx.buffersPerPage) + POOL_CACHE_PAGES;
  const holdFrames = o.test === "stream" && o.role === "receiver" ? Math.ceil(o.rxBacklogBytes / mss) : 0;

  const steps: NicStep[] = [];
  let rec = new Records();
  const flush = () => {
    if (rec.count > 0) steps.push({ kind: "records", ops: rec.ops.subarray(0, rec.count * 4), tags: rec.tags.subarray(0, rec.count), count: rec.count });
    rec = new Records();
  };
  const step = (s: NicStep) => {
    flush();
    steps.push(s);
  };

  // handles: a free stack, the peak is what the core must hold
  const free: number[] = [];
  let nextHandle = 0;
  const take = () => free.pop() ?? nextHandle++;
  const give = (h: number) => free.push(h);

  let tally = emptyTally();
  const warmup = tally;
  let rxPageSeq = 0;
  let hugeSeq = 0;
  let fragSeq = 0;
  let headSeq = 0;

  /** The device ring the records being written belong to. */
  let tagNow = TAG_ALL;
  const map = (phys: number, bytes: number, dir: number): number => {
    const h = take();
    rec.tag = tagNow;
    const ops = rec.room(1);
    rec.count = putMap(ops, rec.count, h, phys, bytes, dir);
    return h;
  };
  const unmap = (h: number) => {
    rec.tag = tagNow;
    rec.count = putUnmap(rec.room(1), rec.count, h);
    give(h);
  };
  const access = (h: number, offset: number, bytes: number, write: boolean) => {
    rec.tag = tagNow;
    rec.count = putAccess(rec.room(1), rec.count, h, offset, bytes, write);
  };
  /** The device reads or writes a descriptor ring (a coherent buffer). */
  const accessRing = (h: number, offset: number, bytes: number, write: boolean) => {
    rec.tag = TAG_COHERENT;
    rec.count = putAccess(rec.room(1), rec.count, h, offset, bytes, write);
  };
  const onCpu = (cpu: number) => {
    rec.tag = TAG_ALL;
    rec.count = putCpu(rec.room(1), rec.count, cpu);
  };

  const queues: Queue[] = [];
  for (let q = 0; q < o.queues; q++) {
    const cpu = q % o.cpus;
    onCpu(cpu);
    const txRing = take();
    const rxRing = take();
    rec.tag = TAG_COHERENT;
    rec.count = putAlloc(rec.room(1), rec.count, txRing, o.txRing * DESCRIPTOR_BYTES);
    rec.count = putAlloc(rec.room(1), rec.count, rxRing, o.rxRing * DESCRIPTOR_BYTES);
    queues.push({
      index: q, cpu, txRing, rxRing, txSlot: 0, rxSlot: 0, fragPhys: 0, fragUsed: o.txFragBytes, completing: [], sent: [],
      pool: [], posted: [], carving: null, chunk: null, held: [], ackCarry: 0, recvCarry: 0,
    });
  }

  // ── RX: the page pool ───────────────────────────────────────────────────────────────────
  const huge = o.rxRecycling === "hugepage-pool";
  const newPage = (q: Queue): Page => {
    if (huge) {
      // a 2 MiB chunk mapped whole (one IOVA range, one large leaf where the tables have them),
      // its pages handed to the pool one by one and never unmapped
      if (q.chunk === null || q.chunk.used === HUGE_PAGE / rx.pageBytes) {
        const phys = HUGE_PAGES + (hugeSeq++ % 4096) * HUGE_PAGE;
        tally.rxPagesMapped++;
        q.chunk = { handle: map(phys, HUGE_PAGE, DIR.fromDevice), used: 0 };
      }
      return { handle: q.chunk.handle, base: q.chunk.used++ * rx.pageBytes, refs: 0, carved: 0, stack: 0 };
    }
    const phys = RX_PAGES + (rxPageSeq++ % (REGION_PAGES / (rx.pageBytes / IO_PAGE_SIZE))) * rx.pageBytes;
    tally.rxPagesMapped++;
    return { handle: map(phys, rx.pageBytes, DIR.fromDevice), base: 0, refs: 0, carved: 0, stack: 0 };
  };
  const flip = o.rxRecycling === "page-flip";
  const perBuffer = o.rxRecycling === "none";
  const refill = (q: Queue) => {
    tagNow = 2 * q.index + 1;
    // no recycling: every descriptor gets a fresh buffer of its own, mapped now (dma_map_single)
    if (perBuffer) {
      while (q.posted.length < o.rxRing) {
        const phys = RX_PAGES + (rxPageSeq++ % (REGION_PAGES * (IO_PAGE_SIZE / rx.bufferBytes))) * rx.bufferBytes;
        tally.rxPagesMapped++;
        q.posted.push({ page: { handle: map(phys, rx.bufferBytes, DIR.fromDevice), base: 0, refs: 1, carved: 1, stack: 0 }, offset: 0 });
      }
      return;
    }
    // page-flip: every descriptor owns a page; only a page the driver gave up is replaced
    if (flip) {
      while (q.posted.length < o.rxRing) q.posted.push({ page: newPage(q), offset: 0 });
      return;
    }
    while (q.posted.length < o.rxRing) {
      let page = q.carving;
      if (page === null || page.carved === rx.buffersPerPage) {
        const pooled = q.pool.pop();
        if (pooled) tally.rxPagesRecycled++;
        page = q.carving = pooled ?? newPage(q);
        page.carved = 0;
      }
      q.posted.push({ page, offset: page.base + page.carved * rx.bufferBytes });
      page.carved++;
      page.refs++;
    }
  };
  const release = (q: Queue, b: Buffer) => {
    tagNow = 2 * q.index + 1;
    const page = b.page;
    if (perBuffer) return; // unmapped when the frame arrived; the stack frees plain memory
    if (flip) {
      page.stack--; // the page's mapping is the driver's business (kept while it reuses the page)
      return;
    }
    page.refs--;
    if (page.refs > 0 || page.carved < rx.buffersPerPage) return;
    if (huge || q.pool.length < poolCapacity) {
      q.pool.push(page);
      return;
    }
    // the pool is full: page_pool_return_page unmaps it
    unmap(page.handle);
    tally.rxPagesUnmapped++;
  };
  /** The device writes a frame into the next posted buffer and its completion descriptor. */
  const receive = (q: Queue, frameBytes: number): Buffer => {
    tagNow = 2 * q.index + 1;
    const b = q.posted.shift()!;
    access(b.page.handle, b.offset, Math.min(frameBytes, rx.bufferBytes), true);
    accessRing(q.rxRing, (q.rxSlot++ % o.rxRing) * DESCRIPTOR_BYTES, DESCRIPTOR_BYTES, true);
    tally.rxFrames++;
    if (perBuffer) {
      // the driver unmaps the buffer before it hands the frame to the stack
      unmap(b.page.handle);
      tally.rxPagesUnmapped++;
    } else if (flip) {
      // ixgbe_can_reuse_rx_page: reusable only if the stack has released the other half
      // (page_ref_count − pagecnt_bias ≤ 1); then the other half goes back on the ring, still mapped
      b.page.stack++;
      if (b.page.stack === 1) {
        q.posted.push({ page: b.page, offset: rx.bufferBytes - b.offset });
        tally.rxPagesRecycled++;
      } else {
        // the driver gives the page up: unmapped now, freed by the stack when it lets go
        unmap(b.page.handle);
        tally.rxPagesUnmapped++;
      }
    }
    return b;
  };

  // ── TX ──────────────────────────────────────────────────────────────────────────────────
  /** One skb: the linear header part and `payload` bytes of page fragments; the device reads it all. */
  const transmit = (q: Queue, payload: number) => {
    tagNow = 2 * q.index;
    const handles: number[] = [];
    const head = map(SKB_HEADS + (headSeq++ % 65536) * 1024, HEADER_BYTES, DIR.toDevice);
    handles.push(head);
    access(head, 0, HEADER_BYTES, false);
    let left = payload;
    while (left > 0) {
      if (q.fragUsed === o.txFragBytes) {
        q.fragPhys = TX_FRAGS + (fragSeq++ % (REGION_PAGES / (o.txFragBytes / IO_PAGE_SIZE))) * o.txFragBytes;
        q.fragUsed = 0;
      }
      const len = Math.min(left, o.txFragBytes - q.fragUsed);
      const h = map(q.fragPhys + q.fragUsed, len, DIR.toDevice);
      access(h, 0, len, false);
      handles.push(h);
      q.fragUsed += len;
      left -= len;
    }
    accessRing(q.txRing, (q.txSlot % o.txRing) * DESCRIPTOR_BYTES, DESCRIPTOR_BYTES * handles.length, false);
    q.txSlot += handles.length;
    tally.txMaps += handles.length;
    tally.txSkbs++;
    q.sent.push(handles);
  };
  /** NAPI's TX clean: the completions of the previous poll, unmapped as a batch. */
  let probing = false;
  let probes = 0;
  const cleanTx = (q: Queue) => {
    tagNow = 2 * q.index;
    if (q.completing.length > 0) accessRing(q.txRing, 0, DESCRIPTOR_BYTES, true); // completion write-back
    for (const skb of q.completing) for (const h of skb) {
      unmap(h);
      tally.txUnmaps++;
    }
    if (probing && q.completing.length > 0) {
      // before any handle is reused: a device that DMAs to the header it was just done with
      flush();
      const probe = new Records();
      probe.tag = 2 * q.index;
      for (const skb of q.completing) probe.count = putAccess(probe.room(1), probe.count, skb[0], 0, 64, false);
      steps.push({ kind: "probes", ops: probe.ops.subarray(0, probe.count * 4), tags: probe.tags.subarray(0, probe.count), count: probe.count });
      probes += probe.count;
    }
    q.completing = q.sent;
    q.sent = [];
  };

  // ── one NAPI poll of one queue, and the application's work on its CPU ──────────────────
  const pollSender = (q: Queue) => {
    cleanTx(q);
    // the peer's ACKs for what we sent last poll: tiny frames, processed and released within the poll
    const acks = Math.floor(q.ackCarry);
    q.ackCarry -= acks;
    // in NAPI-budget batches, the ring refilled between them (it may hold fewer buffers than ACKs came)
    for (let first = 0; first < acks; first += NAPI_BUDGET) {
      const got: Buffer[] = [];
      for (let i = first; i < Math.min(acks, first + NAPI_BUDGET); i++) got.push(receive(q, HEADER_BYTES));
      for (const b of got) release(q, b);
      refill(q);
    }
    tally.rxSkbs += acks;
    refill(q);
    // the application's send() calls: the stream is cut into skbs of up to the size goal;
    // what is left when the poll ends leaves as a smaller skb (autocorking ends at TX completion)
    let pending = 0;
    let frames = 0;
    for (let s = 0; s < shape.unitsPerPoll; s++) {
      let left = o.messageBytes;
      tally.sends++;
      while (left > 0) {
        const take = Math.min(left, goal - pending);
        pending += take;
        left -= take;
        if (pending === goal) {
          transmit(q, pending);
          frames += Math.ceil(pending / mss);
          tally.payloadBytes += pending;
          pending = 0;
        }
      }
    }
    if (pending > 0) {
      transmit(q, pending);
      frames += Math.ceil(pending / mss);
      tally.payloadBytes += pending;
    }
    tally.dataFrames += frames;
    q.ackCarry += frames * shape.acksPerPacket;
  };

  const pollReceiver = (q: Queue) => {
    cleanTx(q);
    let inGro = 0;
    for (let i = 0; i < shape.unitsPerPoll; i++) {
      q.held.push(receive(q, mss + HEADER_BYTES));
      tally.dataFrames++;
      tally.payloadBytes += mss;
      if (++inGro === groMax || i === shape.unitsPerPoll - 1) {
        // GRO hands one skb up; TCP answers it with one ACK (more than one full frame arrived)
        tally.rxSkbs++;
        transmit(q, 0);
        inGro = 0;
      }
    }
    while (q.held.length > holdFrames) release(q, q.held.shift()!);
    refill(q);
    q.recvCarry += (shape.unitsPerPoll * mss) / o.messageBytes;
    const recvs = Math.floor(q.recvCarry);
    q.recvCarry -= recvs;
    tally.recvs += recvs;
  };

  const pollRr = (q: Queue) => {
    cleanTx(q);
    // the response to this queue's last request: its frames in NAPI-budget batches (the ring is
    // refilled between them), GRO'd into skbs of up to 64 KiB, copied out and released at once
    if (q.txSlot > 0) {
      const frames = Math.ceil(o.messageBytes / mss);
      for (let first = 0; first < frames; first += NAPI_BUDGET) {
        const got: Buffer[] = [];
        for (let i = first; i < Math.min(frames, first + NAPI_BUDGET); i++) got.push(receive(q, Math.min(mss, o.messageBytes - i * mss) + HEADER_BYTES));
        for (const b of got) release(q, b);
        refill(q);
      }
      tally.rxSkbs += Math.ceil(frames / groMax);
      tally.recvs++;
    }
    refill(q);
    // the next request, in skbs of up to the size goal
    for (let left = o.messageBytes; left > 0; left -= goal) transmit(q, Math.min(goal, left));
    tally.sends++;
    tally.transactions++;
    tally.dataFrames += 2 * Math.ceil(o.messageBytes / mss);
    tally.payloadBytes += 2 * o.messageBytes;
  };

  const poll = o.test === "rr" ? pollRr : o.role === "sender" ? pollSender : pollReceiver;

  // per poll, the calls a queue makes (for sizing the window)
  const callsPerPoll = (() => {
    if (o.test === "rr") return 2 + Math.ceil(o.messageBytes / o.txFragBytes) * 2;
    const skbs = o.role === "sender" ? Math.max(1, (shape.unitsPerPoll * o.messageBytes) / goal) : Math.ceil(shape.unitsPerPoll / groMax);
    const frags = o.role === "sender" ? Math.ceil(Math.min(goal, shape.unitsPerPoll * o.messageBytes) / o.txFragBytes) + 1 : 0;
    return 2 * skbs * (1 + frags) + 1;
  })();
  const windowRounds = Math.max(64, Math.ceil(o.windowCalls / callsPerPoll));
  const warmupRounds = Math.max(32, Math.ceil(windowRounds / 2));

  for (const q of queues) {
    onCpu(q.cpu);
    refill(q);
  }
  const TIMER_S = 0.01;
  const DEPOT_S = 0.1;
  let clock = 0;
  let nextTimer = TIMER_S;
  let nextDepot = DEPOT_S;
  let window = tally;
  for (let round = 0; round < warmupRounds + windowRounds + PROBE_ROUNDS; round++) {
    if (round === warmupRounds) {
      step({ kind: "window" });
      tally = window = emptyTally();
    }
    if (round === warmupRounds + windowRounds) {
      step({ kind: "probe" });
      tally = emptyTally();
      probing = true;
    }
    for (const q of queues) {
      onCpu(q.cpu);
      poll(q);
      tally.polls++;
    }
    tally.rounds++;
    clock += shape.roundSeconds;
    step({ kind: "sample" });
    while (clock >= nextTimer) {
      step({ kind: "timer" });
      nextTimer += TIMER_S;
    }
    while (clock >= nextDepot) {
      step({ kind: "depot" });
      nextDepot += DEPOT_S;
    }
  }
  flush();
  return {
    steps,
    maxHandles: Math.max(1, nextHandle),
    warmup,
    window,
    windowSeconds: windowRounds * shape.roundSeconds,
    probes,
  };
}
