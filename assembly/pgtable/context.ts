// === The per-device structures the IOMMU reads before the page table, and its cache of them ===
// On an IOTLB miss the IOMMU first finds the device's translation context from its requester /
// stream ID: VT-d reads the root entry (by bus) then the context entry (by devfn); AMD-Vi reads
// the device table entry (by DeviceID); SMMUv3 reads the stream table entry (by StreamID) then the
// context descriptor it points at. The page-table root and the level count come from what it read.
// A context cache (VT-d context cache, AMD DTE cache, SMMUv3 configuration cache) keeps them: only
// the first miss after setup or after a context-cache invalidation reads the structures (ctxReads,
// one per entry fetched). Linux writes them once, when the device is attached to its DMA domain
// (ctxWrites, one per entry written); the DMA API never touches them again.
//
// Modelled: one device, requester ID / DeviceID / StreamID 0x0008 (bus 0, device 1, function 0),
// one DMA domain, no ATS, no PASID use, no interrupt remapping, a coherent IOMMU. The structures sit
// in four 4 KiB pages just below the page tables, physical 0x7fffc000 … 0x7ffff000 (page 0 … 3):
//
// ── VT-d legacy mode (VT-d spec §9.1 root entry, §9.3 context entry; Linux intel/iommu.c
//    domain_context_mapping_one). Root table in page 0 (256 × 128 bits, by bus); context table in
//    page 1 (256 × 128 bits, by devfn). Domain ID: the first Linux hands out (IDA_START_DID 2).
//   root entry (bus 0)
//   127                                         64 63                                   12 11      1   0
//  ╒══════════════════════════════════════════════╤═══════════════════════════════════════╤═════════╤═══╕
//  │                  reserved 0                  │  context-table pointer (CTP)          │ rsvd 0  │ P │
//  ╘══════════════════════════════════════════════╧═══════════════════════════════════════╧═════════╧═══╛
//   context entry (devfn 0x08)
//   127      88 87          72 71 70  67 66  64 63                                  12 11   4 3  2   1    0
//  ╒══════════╤══════════════╤══╤══════╤══════╤═══════════════════════════════════════╤══════╤═════╤═════╤═══╕
//  │  rsvd 0  │  domain ID   │ 0│ ign  │  AW  │ second-level page-table ptr (SLPTPTR) │rsvd 0│ TT  │ FPD │ P │
//  ╘══════════╧══════════════╧══╧══════╧══════╧═══════════════════════════════════════╧══════╧═════╧═════╧═══╛
//  TT 00: untranslated requests through the second-level table (CONTEXT_TT_MULTI_LEVEL; 01 with a
//  device TLB). AW = agaw: 1 → 39-bit 3-level, 2 → 48-bit 4-level, 3 → 57-bit 5-level. FPD 0: faults
//  reported (context_set_fault_enable).
//
// ── VT-d scalable mode, first-level table (`pageTableFormat: "first-level"`; VT-d spec §9.2, §9.4,
//    §9.5, §9.6; Linux intel/iommu.c domain_context_mapping_one, pasid.c intel_pasid_setup_first_level).
//    Four reads: root entry → scalable-mode context entry → PASID directory entry → PASID table entry
//    (the device's requests without PASID use RID_PASID 0). Root table page 0 (LCTP: devfn 0–127),
//    context table page 1 (256-bit entries), PASID directory page 2, PASID table page 3.
//   root entry: word 0 = lower context-table pointer | LP (bit 0); word 1 = upper (devfn ≥ 0x80,
//   not allocated: 0).
//   context entry (256 bits) word 0
//   63                                  12 11   9 8    5   4     3     2     1    0
//  ╒══════════════════════════════════════╤═══════╤══════╤═════╤═══════╤═════╤═════╤═══╕
//  │  PASID directory pointer (PASIDDIRPTR)│ PDTS  │  0   │ PRE │PASIDE │ DTE │ FPD │ P │
//  ╘══════════════════════════════════════╧═══════╧══════╧═════╧═══════╧═════╧═════╧═══╛
//   word 1: RID_PASID [19:0] = 0 (IOMMU_NO_PASID); words 2, 3: 0. PDTS 2: a 2^(2+7) = 512-entry
//   directory, one page (Linux's smallest PASID table: max_pasid 2^15, no PASID capability).
//   PASID directory entry (64 bits): PASID-table pointer [63:12] | FPD (bit 1) | P (bit 0).
//   PASID table entry (512 bits): word 0: PGTT [8:6] = 001 (first-level only), AW [4:2] = agaw,
//   FPD, P; word 1: DID [15:0] = 2, PWSNP (bit 23: walks snoop, a coherent IOMMU); word 2: first-level
//   table pointer [63:12], FLPM [3:2] (0: 4-level, 1: 5-level paging); words 3 … 7: 0.
//
// ── AMD-Vi device table entry, 256 bits (AMD IOMMU spec §2.2.2.1; Linux amd/iommu.c set_dte_entry).
//    Device table in page 0, one page (DeviceIDs 0 … 127), DTE at DeviceID × 32. Domain ID: the
//    first Linux hands out (1; 0 is reserved).
//   word 0
//   63  62   61   60      52 51                                  12 11   9 8  7 6     2   1    0
//  ╒═══╤════╤════╤══════════╤══════════════════════════════════════╤══════╤═════╤═══════╤════╤═══╕
//  │ 0 │ IW │ IR │ guest 0  │   page-table root pointer            │ Mode │ HAD │  0    │ TV │ V │
//  ╘═══╧════╧════╧══════════╧══════════════════════════════════════╧══════╧═════╧═══════╧════╧═══╛
//   word 1: bits 15:0 DomainID; the rest (guest CR3, IOTLB enable, SysMgt …) 0.
//   words 2, 3: interrupt remapping (not modelled) 0.
//  V: the entry is valid; TV: its translation fields are; Mode: the levels of the table (0 would be
//  no translation); IR / IW: the device may read / write at all (Linux sets both; the leaves decide).
//
// ── SMMUv3 stream table entry, 512 bits, and context descriptor, 512 bits (SMMUv3 spec §5.2 STE,
//    §5.4 CD; Linux arm-smmu-v3.c arm_smmu_make_cdtable_ste, arm_smmu_make_s1_cd). Linear stream
//    table in page 0 (64 STEs, LOG2SIZE 6), STE at StreamID × 64; a linear CD table of one CD
//    (no SSIDs: S1CDMax 0) in page 1. ASID: the first Linux hands out (1).
//   STE word 0
//   63      59 58   52 51                                            6 5    4 3      1   0
//  ╒══════════╤═══════╤═══════════════════════════════════════════════╤═══════╤════════╤═══╕
//  │ S1CDMax  │   0   │  S1ContextPtr (CD table address)              │ S1Fmt │ Config │ V │
//  ╘══════════╧═══════╧═══════════════════════════════════════════════╧═══════╧════════╧═══╛
//   STE word 1: S1DSS [1:0] = 2 (SSID0), S1CIR [3:2] = S1COR [5:4] = 1 (write-back read-allocate),
//   S1CSH [7:6] = 3 (inner shareable), S1STALLD, EATS, STRW (NS-EL1) 0. Words 2 … 7: stage 2, 0.
//   Config 0b101: stage 1 translates, stage 2 bypasses. S1Fmt 0: linear CD table.
//   CD word 0
//   63     48 47   46 45 44 43 42 41  40 39 38 37 35 34 32 31  30  29 15  14  13 12 11 10 9  8 7  6 5    0
//  ╒═════════╤════╤══╤══╤══╤═════╤════╤═════╤════╤═════╤═════╤═══╤════╤══════╤════╤═════╤══════╤══════╤═════╤══════╕
//  │  ASID   │ASET│ A│ R│ S│  0  │AA64│ 0   │TBI0│  0  │ IPS │ V │EPD1│  0   │EPD0│ SH0 │ORGN0 │IRGN0 │ TG0 │ T0SZ │
//  ╘═════════╧════╧══╧══╧══╧═════╧════╧═════╧════╧═════╧═════╧═══╧════╧══════╧════╧═════╧══════╧══════╧═════╧══════╛
//   The 0 fields: HD/HA [43:42] (no hardware dirty/access flags), PAN [40], UWXN/WXN/AFFD [37:35],
//   ENDI [15] and the TTB1 fields [29:16]; TBI [39:38] 0 too.
//   CD word 1: TTB0 [51:4] (the stage-1 table's root); word 3: MAIR0 (io-pgtable-arm's attributes:
//   0xf404ff44 — non-cacheable, write-back, device, inner-NC/outer-WB); words 2, 4 … 7: 0.
//  T0SZ = 64 − input bits (levels 4 → 48 bits → 16); TG0 0: 4 KiB granule; IRGN0 = ORGN0 = 1
//  (write-back, a coherent walk); SH0 3 inner shareable; IPS 5: 48-bit output; EPD1: no TTB1 walks;
//  AA64: VMSAv8-64 tables; R, A: stall-free fault reporting of (R)ecorded, (A)borted transactions;
//  ASET: shared ASID set (no broadcast TLB maintenance to worry about).

import { FORMAT_AMD_V1, FORMAT_VTD, FORMAT_VTD_FL } from "../constants";
import { stats } from "../counters";

/** The modelled device's requester ID = DeviceID = StreamID. */
// @ts-ignore: decorator
@inline export const CTX_DEVICE_ID: u32 = 0x0008;
/** Physical page of the first structure page; the other three follow. */
// @ts-ignore: decorator
@inline export const CTX_PFN: u64 = 0x7fffc;
// @ts-ignore: decorator
@inline export const CTX_BYTES: u32 = 4 * 4096;
// @ts-ignore: decorator
@inline const ADDR_12: u64 = 0x000ffffffffff000;

/** 0 while no page-table format is configured. */
let pages: usize = 0;
let fmt: u32 = FORMAT_VTD;
/** The context cache: one device, so one line — valid, the root's physical page, the levels. */
let cached: bool = false;
let cachedRootPfn: u64 = 0;
let cachedLevels: u32 = 0;

// ── where each format's entries sit: entry k's byte offset from page 0 and its 64-bit words ──

// @ts-ignore: decorator
@inline function entryCount(): u32 {
  return fmt == FORMAT_VTD ? 2 : fmt == FORMAT_VTD_FL ? 4 : fmt == FORMAT_AMD_V1 ? 1 : 2;
}

function entryOffset(k: u32): u32 {
  let bus = CTX_DEVICE_ID >> 8;
  let devfn = CTX_DEVICE_ID & 0xff;
  if (fmt == FORMAT_VTD) return k == 0 ? bus << 4 : 4096 + (devfn << 4);
  if (fmt == FORMAT_VTD_FL) return k == 0 ? bus << 4 : k == 1 ? 4096 + (devfn << 5) : k == 2 ? 2 * 4096 : 3 * 4096;
  if (fmt == FORMAT_AMD_V1) return CTX_DEVICE_ID << 5;
  return k == 0 ? CTX_DEVICE_ID << 6 : 4096;
}

function entryWords(k: u32): u32 {
  if (fmt == FORMAT_VTD) return 2;
  if (fmt == FORMAT_VTD_FL) return k == 0 ? 2 : k == 1 ? 4 : k == 2 ? 1 : 8;
  if (fmt == FORMAT_AMD_V1) return 4;
  return 8;
}

// @ts-ignore: decorator
@inline function put(k: u32, w: u32, v: u64): void {
  store<u64>(pages + <usize>entryOffset(k) + (<usize>w << 3), v);
}

// @ts-ignore: decorator
@inline function pageAddr(n: u32): u64 {
  return (CTX_PFN + <u64>n) << 12;
}

/** The byte offset from page 0 of a physical address inside the structures' pages. */
// @ts-ignore: decorator
@inline function offsetOf(phys: u64): usize {
  return <usize>(phys - (CTX_PFN << 12));
}

/** The driver's setup (attach to the DMA domain): the structures written, counted in ctxWrites. */
export function ctxInit(base: usize, format: u32, levels: u32, rootPfn: u64): void {
  pages = base;
  fmt = format;
  cached = false;
  memory.fill(pages, 0, CTX_BYTES);
  let root = rootPfn << 12;
  if (format == FORMAT_VTD) {
    put(0, 0, pageAddr(1) | 1); // CTP | P
    put(1, 0, root | 1); // SLPTPTR | TT 00 | FPD 0 | P
    put(1, 1, <u64>(levels - 2) | (<u64>2 << 8)); // AW = agaw | DID 2
  } else if (format == FORMAT_VTD_FL) {
    put(0, 0, pageAddr(1) | 1); // LCTP | LP
    put(1, 0, pageAddr(2) | (<u64>2 << 9) | 1); // PASIDDIRPTR | PDTS 2 | P; RID_PASID 0
    put(2, 0, pageAddr(3) | 1); // PASID table | P
    put(3, 0, (<u64>1 << 6) | (<u64>(levels - 2) << 2) | 1); // PGTT first-level | AW = agaw | P
    put(3, 1, (<u64>1 << 23) | 2); // PWSNP | DID 2
    put(3, 2, root | (<u64>(levels - 4) << 2)); // FLPTPTR | FLPM
  } else if (format == FORMAT_AMD_V1) {
    // IW | IR | root | Mode << 9 | TV | V;  DomainID 1
    put(0, 0, (<u64>1 << 62) | (<u64>1 << 61) | root | (<u64>levels << 9) | 2 | 1);
    put(0, 1, 1);
  } else {
    put(0, 0, pageAddr(1) | (5 << 1) | 1); // S1CDMax 0 | S1ContextPtr | S1Fmt 0 | Config S1 translate | V
    put(0, 1, 2 | (1 << 2) | (1 << 4) | (3 << 6)); // S1DSS SSID0 | S1CIR | S1COR WBRA | S1CSH IS
    let t0sz: u64 = 64 - (12 + 9 * <u64>levels);
    put(1, 0,
      t0sz | (<u64>1 << 8) | (<u64>1 << 10) | (<u64>3 << 12) | (<u64>1 << 30) | (<u64>1 << 31) | (<u64>5 << 32) |
      (<u64>1 << 41) | (<u64>1 << 45) | (<u64>1 << 46) | (<u64>1 << 47) | (<u64>1 << 48));
    put(1, 1, root); // TTB0
    put(1, 3, 0xf404ff44); // MAIR0
  }
  stats.ctxWrites += <u64>entryCount();
}

/** Back to "no page-table format". */
export function ctxOff(): void {
  pages = 0;
  cached = false;
}

/** The 64-bit word `i` across the device's entries in order (context.test.ts numbers them); 0 past them. */
export function ctxWord(i: u32): u64 {
  if (pages == 0) return 0;
  for (let k: u32 = 0; k < entryCount(); k++) {
    let n = entryWords(k);
    if (i < n) return load<u64>(pages + <usize>entryOffset(k) + (<usize>i << 3));
    i -= n;
  }
  return 0;
}

/** Context-cache invalidation (VT-d device-selective context / PASID-cache invalidation, AMD
 *  INVALIDATE_DEVTAB_ENTRY, SMMUv3 CMD_CFGI_STE): the next miss reads the structures again. */
export function ctxInvalidate(): void {
  cached = false;
}

/** One entry fetch by the IOMMU at physical `phys`, counted; returns where it sits in linear memory. */
// @ts-ignore: decorator
@inline function fetch(phys: u64): usize {
  stats.ctxReads++;
  return pages + offsetOf(phys);
}

/** The IOMMU's context lookup on an IOTLB miss: from its cache, or read from the structures,
 *  following the pointers each entry holds (indexed by the device's IDs as the hardware does). */
function ctxLoad(): void {
  if (cached) return;
  let bus = <u64>(CTX_DEVICE_ID >> 8);
  let devfn = <u64>(CTX_DEVICE_ID & 0xff);
  let levels: u32;
  let root: u64;
  if (fmt == FORMAT_VTD || fmt == FORMAT_VTD_FL) {
    let re = load<u64>(fetch(pageAddr(0) + (bus << 4)));
    if (fmt == FORMAT_VTD) {
      let ce = fetch((re & ADDR_12) + (devfn << 4));
      root = load<u64>(ce) & ADDR_12;
      levels = <u32>(load<u64>(ce, 8) & 7) + 2;
    } else {
      let dir = load<u64>(fetch((re & ADDR_12) + (devfn << 5))) & ADDR_12;
      let table = load<u64>(fetch(dir)) & ADDR_12; // PASID 0: directory entry 0
      let pe = fetch(table); // PASID 0: table entry 0
      root = load<u64>(pe, 16) & ADDR_12;
      levels = <u32>((load<u64>(pe, 16) >> 2) & 3) + 4;
    }
  } else if (fmt == FORMAT_AMD_V1) {
    let w0 = load<u64>(fetch(pageAddr(0) + (<u64>CTX_DEVICE_ID << 5)));
    root = w0 & ADDR_12;
    levels = <u32>((w0 >> 9) & 7);
  } else {
    let ste = load<u64>(fetch(pageAddr(0) + (<u64>CTX_DEVICE_ID << 6)));
    let cd = fetch(ste & 0x000fffffffffffc0);
    root = load<u64>(cd, 8) & 0x000ffffffffffff0;
    // T0SZ → input bits → levels of 9 bits above the 4 KiB page
    levels = (64 - <u32>(load<u64>(cd) & 63) - 12 + 8) / 9;
  }
  cachedRootPfn = root >> 12;
  cachedLevels = levels;
  cached = true;
}

/** The physical page of the table the walk starts at, as the device's context says. */
export function ctxRootPfn(): u64 {
  ctxLoad();
  return cachedRootPfn;
}

/** The levels the walk descends, as the device's context says. */
export function ctxLevels(): u32 {
  ctxLoad();
  return cachedLevels;
}
