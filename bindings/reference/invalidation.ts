// Reference model of the queued invalidation interfaces (VT-d invalidation queue, AMD-Vi command
// buffer, SMMUv3 command queue) and the unmap gather, written from the specifications and the
// Linux drivers (see assembly/invalidation/ for the descriptor layouts). Descriptors are kept as
// two 64-bit words per slot, the IOMMU side decodes them again, exactly as the core does.

import { CAP_MAMV_MASK, CAP_RIL, CAP_RWBF, INV_QUEUE_PHYS, type CounterName, type InvalidationName } from "../abi.js";
import type { InvalidationQueue } from "../types.js";
import type { ReferenceCache } from "./cache.js";

const M64 = (1n << 64n) - 1n;
const SLOTS: Record<Exclude<InvalidationName, "none">, number> = { "vtd-qi": 256, "amd-cmdbuf": 512, "smmuv3-cmdq": 256 };
const DOMAIN = 1n; // VT-d DID, AMD DomainID, SMMUv3 ASID: the model's one domain

export class ReferenceInvalidation {
  private readonly slots: Array<[bigint, bigint]>;
  /** Status words by physical address (VT-d desc_status[], AMD cmd_sem). */
  private readonly status = new Map<bigint, bigint>();
  private tail = 0;
  private head = 0;
  private wrapped = false;
  private tailRegister = 0;
  private sem = 0n;
  private batched = 0;
  private gather: { first: bigint; end: bigint; leavesOnly: boolean } | null = null;
  private readonly mamv: number;
  private readonly rwbf: boolean;
  private readonly ril: boolean;

  constructor(
    readonly kind: Exclude<InvalidationName, "none">, caps: number, private readonly cache: ReferenceCache,
    private readonly n: Record<CounterName, number>,
  ) {
    this.slots = Array.from({ length: SLOTS[kind] }, () => [0n, 0n] as [bigint, bigint]);
    this.mamv = caps & CAP_MAMV_MASK;
    this.rwbf = kind === "vtd-qi" && (caps & CAP_RWBF) !== 0;
    this.ril = (caps & CAP_RIL) !== 0;
  }

  view(): InvalidationQueue {
    return { tail: this.tailRegister, slots: this.slots.map(([a, b]) => [a, b]) };
  }

  private slotPhys(i: number): bigint {
    return BigInt(INV_QUEUE_PHYS + 16 * i);
  }

  private statusPhys(i: number): bigint {
    return BigInt(INV_QUEUE_PHYS + 16 * this.slots.length + 4 * i);
  }

  private put(lo: bigint, hi: bigint): number {
    const i = this.tail;
    this.slots[i] = [lo & M64, hi & M64];
    this.n.invDescriptors++;
    this.tail = (i + 1) % this.slots.length;
    if (this.tail === 0) this.wrapped = !this.wrapped;
    return i;
  }

  // ── the gather (iommu_iotlb_gather_add_page; AMD only widens) ────────────────────────────

  /** `tablesFreed`: the unmap freed page-table pages (the gather's freelist is no longer empty). */
  gatherAdd(first: number, pages: number, tablesFreed: boolean): void {
    if (pages === 0) return;
    const f = BigInt(first);
    const e = f + BigInt(pages) - 1n;
    if (this.gather && this.kind !== "amd-cmdbuf" && (e + 1n < this.gather.first || f > this.gather.end + 1n)) this.sync();
    if (!this.gather) {
      this.gather = { first: f, end: e, leavesOnly: !tablesFreed };
      return;
    }
    if (f < this.gather.first) this.gather.first = f;
    if (e > this.gather.end) this.gather.end = e;
    if (tablesFreed) this.gather.leavesOnly = false;
  }

  sync(): void {
    const g = this.gather;
    if (!g) return;
    this.gather = null;
    this.flushRange(g.first, g.end - g.first + 1n, g.leavesOnly);
  }

  /** The range invalidation of IO pages [first, first + pages) and its wait; `leavesOnly`: VT-d's IH. */
  flushRange(first: bigint, pages: bigint, leavesOnly = true): void {
    if (this.kind === "vtd-qi") this.vtdRange(first, pages, leavesOnly);
    else if (this.kind === "amd-cmdbuf") this.amdRange(first, pages);
    else this.smmuRange(first, pages);
  }

  flushDomain(): void {
    if (this.kind === "vtd-qi") {
      this.put(this.vtdQw0(2n), 0n);
      this.n.invDomainSelective++;
      this.vtdSubmit();
    } else if (this.kind === "amd-cmdbuf") {
      this.amdInvalidate(0n, 0x7fff_ffff_ffff_ffffn);
      this.n.invDomainSelective++;
      this.amdWait();
    } else {
      this.smmuAdd((DOMAIN << 48n) | 0x11n, 0n);
      this.n.invDomainSelective++;
      this.smmuSubmit();
    }
  }

  afterMap(): void {
    if (this.rwbf) this.n.invWriteBufferFlushes++;
  }

  // ── VT-d ────────────────────────────────────────────────────────────────────────────────

  private vtdQw0(gran: bigint): bigint {
    return (DOMAIN << 16n) | (1n << 7n) | (1n << 6n) | (gran << 4n) | 2n;
  }

  /** calculate_psi_aligned_address, then PSI or (mask above MAMV) DSI, then qi_submit_sync. */
  private vtdRange(first: bigint, pages: bigint, leavesOnly: boolean): void {
    let aligned = 1n;
    while (aligned < pages) aligned <<= 1n;
    let mask = aligned.toString(2).length - 1;
    if ((first & (aligned - 1n)) !== 0n) {
      const last = first + pages - 1n;
      const shared = ~(first ^ last) & ~(aligned - 1n) & M64;
      mask = 52;
      if (shared !== 0n) for (mask = 0; ((shared >> BigInt(mask)) & 1n) === 0n; mask++);
    }
    if (mask > this.mamv || mask >= 52) {
      this.put(this.vtdQw0(2n), 0n);
      this.n.invDomainSelective++;
    } else {
      const addr = (first >> BigInt(mask)) << BigInt(mask + 12);
      this.put(this.vtdQw0(3n), addr | (leavesOnly ? 1n << 6n : 0n) | BigInt(mask));
      this.n.invPageSelective++;
    }
    this.vtdSubmit();
  }

  private vtdSubmit(): void {
    const wait = this.tail;
    this.status.set(this.statusPhys(wait), 1n); // QI_IN_USE
    this.put((2n << 32n) | (1n << 5n) | 5n, this.statusPhys(wait));
    this.tailRegister = this.tail << 4;
    this.n.invDoorbells++;
    this.hardware();
    if (this.status.get(this.statusPhys(wait)) !== 2n) throw new Error("reference VT-d model: wait descriptor not completed");
    this.n.invWaits++;
  }

  // ── AMD-Vi ──────────────────────────────────────────────────────────────────────────────

  private amdCommand(lo: bigint, hi: bigint): void {
    this.put(lo, hi);
    this.tailRegister = this.tail * 16;
    this.n.invDoorbells++;
    this.hardware();
  }

  /** build_inv_address + INVALIDATE_IOMMU_PAGES; true when it names every page. */
  private amdInvalidate(address: bigint, size: bigint): boolean {
    const pages = ((address & 0xfffn) + size + 0xfffn) >> 12n;
    let a: bigint;
    if (pages === 1n) {
      a = address & ~0xfffn;
    } else {
      const msb = ((address + size - 1n) ^ address).toString(2).length - 1;
      a = msb > 51 ? 0x7fff_ffff_ffff_ffffn : address | ((1n << BigInt(msb)) - 1n);
      a = (a & ~0xfffn) | 1n;
    }
    this.amdCommand(((3n << 28n) | DOMAIN) << 32n, a | 2n);
    return (a & ~0xfffn) === 0x7fff_ffff_ffff_f000n;
  }

  private amdWait(): void {
    const sem = this.statusPhys(0);
    this.sem++;
    this.amdCommand(((((1n << 28n) | ((sem >> 32n) & 0xfffffn)) << 32n) | (sem & 0xffff_fff8n) | 1n), this.sem);
    if (this.status.get(sem) !== this.sem) throw new Error("reference AMD model: completion wait not stored");
    this.n.invWaits++;
  }

  private amdRange(first: bigint, pages: bigint): void {
    if (this.amdInvalidate(first << 12n, pages << 12n)) this.n.invDomainSelective++;
    else this.n.invPageSelective++;
    this.amdWait();
  }

  // ── SMMUv3 ──────────────────────────────────────────────────────────────────────────────

  private smmuPublish(): void {
    this.n.invBarriers++;
    this.tailRegister = this.tail | ((this.wrapped ? 1 : 0) << Math.log2(this.slots.length));
    this.n.invDoorbells++;
    this.hardware();
    this.batched = 0;
  }

  private smmuAdd(lo: bigint, hi: bigint): void {
    if (this.batched === 64) this.smmuPublish();
    this.put(lo, hi);
    this.batched++;
  }

  private smmuSubmit(): void {
    const at = this.tail;
    this.put((0xfn << 24n) | (3n << 22n) | (1n << 12n) | 0x46n, this.slotPhys(at) & 0x000f_ffff_ffff_fffcn);
    this.smmuPublish();
    if ((this.slots[at][0] & 0xffff_ffffn) !== 0n) throw new Error("reference SMMUv3 model: CMD_SYNC MSI not written");
    this.n.invWaits++;
  }

  private smmuRange(first: bigint, pages: bigint): void {
    const asid = DOMAIN << 48n;
    if (!this.ril && pages >= 512n) {
      this.smmuAdd(asid | 0x11n, 0n);
      this.n.invDomainSelective++;
    } else if (!this.ril) {
      for (let p = 0n; p < pages; p++) this.smmuAdd(asid | 0x12n, ((first + p) << 12n) | 1n);
      this.n.invPageSelective += Number(pages);
    } else {
      let left = pages;
      let iova = first << 12n;
      while (left !== 0n) {
        let scale = 0n;
        while (((left >> scale) & 1n) === 0n) scale++;
        const num = (left >> scale) & 31n;
        this.smmuAdd(asid | (scale << 20n) | ((num - 1n) << 12n) | 0x12n, iova | (1n << 10n) | (3n << 8n) | 1n);
        this.n.invPageSelective++;
        iova += num << (scale + 12n);
        left -= num << scale;
      }
    }
    this.smmuSubmit();
  }

  // ── the IOMMU's side: consume up to the tail, decode, act ────────────────────────────────

  private writePhys(addr: bigint, value: bigint, bytes: number): void {
    const ringEnd = BigInt(INV_QUEUE_PHYS + 16 * this.slots.length);
    if (addr >= BigInt(INV_QUEUE_PHYS) && addr < ringEnd) {
      // inside the ring: SMMUv3's MSI write lands on the CMD_SYNC's first word
      const i = Number((addr - BigInt(INV_QUEUE_PHYS)) / 16n);
      const [lo, hi] = this.slots[i];
      const mask = bytes === 4 ? 0xffff_ffffn : M64;
      this.slots[i] = [(lo & ~mask & M64) | (value & mask), hi];
    } else {
      this.status.set(addr, value);
    }
  }

  private hardware(): void {
    while (this.head !== this.tail) {
      const [lo, hi] = this.slots[this.head];
      this.head = (this.head + 1) % this.slots.length;
      if (this.kind === "vtd-qi") {
        const type = lo & 0xfn;
        if (type === 2n) {
          const gran = (lo >> 4n) & 3n;
          if (gran === 3n) {
            const am = hi & 0x3fn;
            this.cache.invalidateRange((hi >> 12n) & ~((1n << am) - 1n), 1n << am);
          } else {
            this.cache.invalidateAll();
          }
        } else if (type === 5n && (lo & (1n << 5n)) !== 0n) {
          this.writePhys(hi & ~3n, lo >> 32n, 4);
        }
      } else if (this.kind === "amd-cmdbuf") {
        const op = (lo >> 60n) & 0xfn;
        if (op === 3n) {
          const addr = hi & ~0xfffn;
          if ((hi & 1n) === 0n) {
            this.cache.invalidateRange(addr >> 12n, 1n);
          } else {
            let n = 12n;
            while (((addr >> n) & 1n) === 1n) n++;
            if (n >= 63n) this.cache.invalidateAll();
            else this.cache.invalidateRange((addr >> (n + 1n)) << (n - 11n), 1n << (n - 11n));
          }
        } else if (op === 1n && (lo & 1n) === 1n) {
          this.writePhys((((lo >> 32n) & 0xfffffn) << 32n) | (lo & 0xffff_fff8n), hi, 8);
        }
      } else {
        const op = lo & 0xffn;
        if (op === 0x12n) {
          const tg = (hi >> 10n) & 3n;
          if (tg === 0n) this.cache.invalidateRange(hi >> 12n, 1n);
          else this.cache.invalidateRange(hi >> 12n, (((lo >> 12n) & 31n) + 1n) << ((lo >> 20n) & 31n));
        } else if (op === 0x11n) {
          this.cache.invalidateAll();
        } else if (op === 0x46n && ((lo >> 12n) & 3n) === 1n) {
          this.writePhys(hi & 0x000f_ffff_ffff_fffcn, lo >> 32n, 4);
        }
      }
    }
  }
}
