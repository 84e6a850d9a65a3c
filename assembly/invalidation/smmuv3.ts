// === Arm SMMUv3 command queue: 128-bit commands, TLBI + CMD_SYNC ===
// see: Arm SMMUv3 architecture §4 (commands), Linux drivers/iommu/arm/arm-smmu-v3/arm-smmu-v3.c
// (arm_smmu_cmdq_build_cmd, arm_smmu_cmdq_issue_cmdlist, the batch of CMDQ_BATCH_ENTRIES,
// arm_smmu_cmdq_batch_add_range, arm_smmu_inv_size_too_big, arm_smmu_tlb_inv_context).
//
// CMD_TLBI_NH_VA (0x12) / CMD_TLBI_NH_ASID (0x11):
//   63        48 47        32 31   25 24   20 19 17 16   12 11          8 7           0
//  ╒════════════╤════════════╤═══════╤═══════╤═════╤═══════╤═════════════╤═════════════╕
//  │ ASID       │ VMID       │ 0     │ SCALE │ 0   │ NUM   │ 0           │ opcode      │ dword 0
//  ╘════════════╧════════════╧═══════╧═══════╧═════╧═══════╧═════════════╧═════════════╛
//   63                                           12 11  10 9    8 7          1 0
//  ╒═══════════════════════════════════════════════╤═══════╤═══════╤════════════╤═════╕
//  │ ADDR[63:12]                                   │ TG    │ TTL   │ 0          │LEAF │ dword 1
//  ╘═══════════════════════════════════════════════╧═══════╧═══════╧════════════╧═════╛
//  TG = 0: the one entry holding ADDR. TG ≠ 0 (range invalidation, IDR3.RIL): (NUM + 1) × 2^SCALE
//  granules of 4 KiB (TG 1) from ADDR; TTL 3 says they are level-3 leaves. NH_ASID takes only the
//  ASID: every entry of the address space.
//
// CMD_SYNC (0x46):
//   63                     32 31  28 27     24 23 22 21  14 13 12 11   8 7           0
//  ╒═════════════════════════╤══════╤═════════╤═════╤══════╤═════╤══════╤═════════════╕
//  │ MSIDATA                 │ 0    │ MSIATTR │ MSH │ 0    │ CS  │ 0    │ 0x46        │ dword 0
//  ╘═════════════════════════╧══════╧═════════╧═════╧══════╧═════╧══════╧═════════════╛
//  ╒════════╤═══════════════════════════════════════════════════════════════╤═════════╕
//  │ 0      │ MSIADDR[51:2]                                                  │ 0       │ dword 1
//  ╘════════╧═══════════════════════════════════════════════════════════════╧═════════╛
//  CS = 1 (SIG_IRQ) with MSI polling: when every earlier command is done, the SMMU writes MSIDATA
//  (0) to MSIADDR, which Linux points at the CMD_SYNC's own slot: the CPU spins until the
//  command's first word reads 0.
//
// arm_smmu_cmdq_issue_cmdlist: commands written, dma_wmb, ONE write of CMDQ_PROD (index | wrap
// bit). A batch holds CMDQ_BATCH_ENTRIES 64 commands: the 65th issues the 64 without a sync;
// the batch's submit issues the rest with a CMD_SYNC and waits.

import { stats } from "../counters";
import { cacheInvalidateAll, cacheInvalidateRange } from "../cache";
import { physToMemory, queueEntries, queueNext, queuePut, queueTail, queueWrapped, slotAt, slotPhys } from "./queue";

/** Command queue slots (2^CMDQS; the size is the hardware's, 256 assumed). */
// @ts-ignore: decorator
@inline export const SMMU_CMDQ_ENTRIES: u32 = 256;
// @ts-ignore: decorator
@inline const CMDQ_BATCH_ENTRIES: u32 = 64;
// @ts-ignore: decorator
@inline const OP_TLBI_NH_ASID: u64 = 0x11;
// @ts-ignore: decorator
@inline const OP_TLBI_NH_VA: u64 = 0x12;
// @ts-ignore: decorator
@inline const OP_CMD_SYNC: u64 = 0x46;
// @ts-ignore: decorator
@inline const CS_IRQ: u64 = 1;
// @ts-ignore: decorator
@inline const SH_ISH: u64 = 3;
// @ts-ignore: decorator
@inline const MEMATTR_OIWB: u64 = 0xf;
// @ts-ignore: decorator
@inline const MSIADDR_MASK: u64 = 0x000f_ffff_ffff_fffc; // bits 51:2
/** Per-granule TLBIs above which one ASID-wide TLBI replaces them (no RIL): 1 << (ilog2(4096) − 3). */
// @ts-ignore: decorator
@inline export const SMMU_MAX_TLBI_OPS: u64 = 512;
/** The one address space the model has. */
// @ts-ignore: decorator
@inline export const SMMU_ASID: u64 = 1;

/** IDR3.RIL: range invalidation. */
let ril: bool = false;
/** Commands in the current batch (not yet issued). */
let batched: u32 = 0;
let prodReg: u32 = 0;

export function smmuInit(rangeInvalidation: bool): void {
  ril = rangeInvalidation;
  batched = 0;
  prodReg = 0;
}

export function smmuProdRegister(): u32 {
  return prodReg;
}

/** The CPU's side of an issue: the barrier, the producer register, the SMMU runs the queue. */
function publish(): void {
  stats.invBarriers++; // dma_wmb: the commands are visible before the producer index moves
  let shift = <u32>ctz<u32>(queueEntries());
  prodReg = queueTail() | ((queueWrapped() ? 1 : 0) << shift);
  stats.invDoorbells++;
  smmuHardware();
  batched = 0;
}

/** arm_smmu_cmdq_batch_add: a full batch is issued (no sync) before the command joins the next. */
function batchAdd(lo: u64, hi: u64): void {
  if (batched == CMDQ_BATCH_ENTRIES) publish();
  queuePut(lo, hi);
  batched++;
}

/** arm_smmu_cmdq_batch_submit: the batch with a CMD_SYNC, issued, and the wait for its MSI write. */
function batchSubmit(): void {
  let at = queueTail();
  let lo = (MEMATTR_OIWB << 24) | (SH_ISH << 22) | (CS_IRQ << 12) | OP_CMD_SYNC; // MSIDATA 0
  queuePut(lo, slotPhys(at) & MSIADDR_MASK);
  publish();
  if (load<u32>(slotAt(at)) != 0) abort(); // the SMMU model did not write the MSI
  stats.invWaits++;
}

/**
 * arm_smmu_iotlb_sync for IO pages [first, first + pages), 4 KiB leaf entries: one TLBI_NH_VA per
 * page, or range TLBIs with RIL; one TLBI_NH_ASID when per-page commands would reach MAX_TLBI_OPS.
 */
export function smmuFlushRange(first: u64, pages: u64): void {
  let asid = SMMU_ASID << 48;
  if (!ril && pages >= SMMU_MAX_TLBI_OPS) {
    batchAdd(asid | OP_TLBI_NH_ASID, 0);
    stats.invDomainSelective++;
  } else if (!ril) {
    for (let p: u64 = 0; p < pages; p++) batchAdd(asid | OP_TLBI_NH_VA, ((first + p) << 12) | 1);
    stats.invPageSelective += pages;
  } else {
    // TG 1 (4 KiB granule), TTL 3 (a level-3 leaf); each command takes up to 31 × 2^SCALE pages
    let left = pages;
    let iova = first << 12;
    while (left != 0) {
      let scale = <u64>ctz<u64>(left);
      let num = (left >> scale) & 31;
      batchAdd(asid | (scale << 20) | ((num - 1) << 12) | OP_TLBI_NH_VA, iova | (<u64>1 << 10) | (<u64>3 << 8) | 1);
      stats.invPageSelective++;
      iova += num << (scale + 12);
      left -= num << scale;
    }
  }
  batchSubmit();
}

/** arm_smmu_tlb_inv_context: TLBI_NH_ASID with a sync. */
export function smmuFlushDomain(): void {
  batchAdd((SMMU_ASID << 48) | OP_TLBI_NH_ASID, 0);
  stats.invDomainSelective++;
  batchSubmit();
}

/** The SMMU's side: consume the queue up to the producer index, decoding each command from memory. */
function smmuHardware(): void {
  for (let i = queueNext(); i >= 0; i = queueNext()) {
    let s = slotAt(<u32>i);
    let d0 = load<u64>(s, 0);
    let d1 = load<u64>(s, 8);
    let op = d0 & 0xff;
    if (op == OP_TLBI_NH_VA) {
      let tg = (d1 >> 10) & 3;
      let page = d1 >> 12;
      if (tg == 0) cacheInvalidateRange(page, 1);
      else cacheInvalidateRange(page, (((d0 >> 12) & 31) + 1) << ((d0 >> 20) & 31)); // 4 KiB granules (TG 1)
    } else if (op == OP_TLBI_NH_ASID) {
      cacheInvalidateAll(); // one address space: all the cache holds
    } else if (op == OP_CMD_SYNC) {
      if (((d0 >> 12) & 3) == CS_IRQ) store<u32>(physToMemory(d1 & MSIADDR_MASK, 4), <u32>(d0 >> 32));
    } else {
      abort(); // the driver model wrote a command this SMMU model does not know
    }
  }
}
