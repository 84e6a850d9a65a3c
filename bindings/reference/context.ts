// Reference per-device structures and context cache, to be read against assembly/pgtable/context.ts
// (which draws the layouts): the same words, the same reads, counted the same.

import { FORMAT_AMD_V1, FORMAT_VTD, FORMAT_VTD_FL } from "../abi.js";

const CTX_PFN = 0x7fffcn;
const page = (n: number) => (CTX_PFN + BigInt(n)) << 12n;
const ADDR_12 = 0x000ffffffffff000n;

export interface ContextCounts {
  ctxWrites: number;
  ctxReads: number;
}

/** The words of each format's entries, as ctxWord numbers them: VT-d root entry then context entry;
 *  AMD's DTE; SMMUv3's STE then CD. Each inner array is one entry (one read). */
function setupWords(format: number, levels: number, rootPfn: bigint): bigint[][] {
  const root = rootPfn << 12n;
  if (format === FORMAT_VTD) {
    // root entry: CTP (the context table, the second page) | P; context entry: SLPTPTR | TT 0 | FPD 0 | P, then AW = agaw | DID 2
    return [[page(1) | 1n, 0n], [root | 1n, BigInt(levels - 2) | (2n << 8n)]];
  }
  if (format === FORMAT_VTD_FL) {
    // root entry: LCTP | LP; scalable context entry: PASID directory | PDTS 2 | P, RID_PASID 0;
    // PASID directory entry 0: PASID table | P; PASID table entry 0: PGTT 1 | AW | P, PWSNP | DID 2, FLPTPTR | FLPM
    const pasid = new Array<bigint>(8).fill(0n);
    pasid[0] = (1n << 6n) | (BigInt(levels - 2) << 2n) | 1n;
    pasid[1] = (1n << 23n) | 2n;
    pasid[2] = root | (BigInt(levels - 4) << 2n);
    return [[page(1) | 1n, 0n], [page(2) | (2n << 9n) | 1n, 0n, 0n, 0n], [page(3) | 1n], pasid];
  }
  if (format === FORMAT_AMD_V1) {
    // IW | IR | root | Mode | TV | V, then DomainID 1
    return [[(1n << 62n) | (1n << 61n) | root | (BigInt(levels) << 9n) | 2n | 1n, 1n, 0n, 0n]];
  }
  const ste = new Array<bigint>(8).fill(0n);
  ste[0] = page(1) | (5n << 1n) | 1n; // CD table | Config S1 translate | V
  ste[1] = 2n | (1n << 2n) | (1n << 4n) | (3n << 6n); // S1DSS SSID0, S1CIR/S1COR WBRA, S1CSH IS
  const cd = new Array<bigint>(8).fill(0n);
  const t0sz = BigInt(64 - (12 + 9 * levels));
  // T0SZ | IRGN0 | ORGN0 WBWA | SH0 IS | EPD1 | V | IPS 48-bit | AA64 | R | A | ASET | ASID 1
  cd[0] = t0sz | (1n << 8n) | (1n << 10n) | (3n << 12n) | (1n << 30n) | (1n << 31n) | (5n << 32n) | (1n << 41n) | (7n << 45n) | (1n << 48n);
  cd[1] = root; // TTB0
  cd[3] = 0xf404ff44n; // MAIR0
  return [ste, cd];
}

export class ReferenceDeviceContext {
  readonly n: ContextCounts = { ctxWrites: 0, ctxReads: 0 };
  private readonly entries: bigint[][];
  private cached: { rootPfn: bigint; levels: number } | null = null;

  constructor(private readonly format: number, levels: number, rootPfn: bigint) {
    this.entries = setupWords(format, levels, rootPfn);
    this.n.ctxWrites += this.entries.length;
  }

  /** Word `i` across the entries in order; 0n past them. */
  word(i: number): bigint {
    return this.entries.flat()[i] ?? 0n;
  }

  invalidate(): void {
    this.cached = null;
  }

  /** The walk's start and depth, from the context cache or read from the structures (one read per entry). */
  lookup(): { rootPfn: bigint; levels: number } {
    if (this.cached) return this.cached;
    this.n.ctxReads += this.entries.length;
    if (this.format === FORMAT_VTD) {
      const [, [lo, hi]] = this.entries;
      this.cached = { rootPfn: (lo & ADDR_12) >> 12n, levels: Number(hi & 7n) + 2 };
    } else if (this.format === FORMAT_VTD_FL) {
      const [, , , pasid] = this.entries;
      this.cached = { rootPfn: (pasid[2] & ADDR_12) >> 12n, levels: Number((pasid[2] >> 2n) & 3n) + 4 };
    } else if (this.format === FORMAT_AMD_V1) {
      const [[w0]] = this.entries;
      this.cached = { rootPfn: (w0 & ADDR_12) >> 12n, levels: Number((w0 >> 9n) & 7n) };
    } else {
      const [, cd] = this.entries;
      this.cached = { rootPfn: (cd[1] & 0x000ffffffffffff0n) >> 12n, levels: Math.floor((64 - Number(cd[0] & 63n) - 12 + 8) / 9) };
    }
    return this.cached;
  }
}
