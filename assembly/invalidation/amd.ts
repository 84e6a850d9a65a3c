// === AMD-Vi command buffer: 128-bit commands, one tail-register write per command ===
// see: AMD I/O Virtualization Technology (IOMMU) Specification §2.4 (commands), Linux
// drivers/iommu/amd/iommu.c (build_inv_iommu_pages, build_inv_address, build_completion_wait,
// iommu_queue_command, domain_flush_pages, amd_iommu_iotlb_gather_add_page).
//
// INVALIDATE_IOMMU_PAGES (opcode 03h), four 32-bit words:
//   31   28 27                20 19                                             0
//  ╒═══════╤═══════════════════════════════════════════════════════════════════╕
//  │                      rsvd 0                     │ PASID[19:0]             │ word 0
//  ├═══════╧═══════════╤═══════════════════════════════╧═════════════════════════┤
//  │ 03h   │  rsvd 0   │                         DomainID[15:0]                  │ word 1
//  ├═══════╧═══════════╧════════════════════════════════╤═════════╤═══╤═══╤═════┤
//  │ Address[31:12]                                      │ rsvd 0  │GN │PDE│  S  │ word 2
//  ├═════════════════════════════════════════════════════╧═════════╧═══╧═══╧═════┤
//  │ Address[63:32]                                                            │ word 3
//  ╘═══════════════════════════════════════════════════════════════════════════╛
//  S = 0: the one page at Address. S = 1: a naturally aligned power-of-two range, its size told
//  by the lowest clear address bit n ≥ 12 (2^(n+1) bytes); 7FFF_FFFF_FFFF_F000 = every page of
//  the domain. PDE: page-directory entries too (Linux always sets it).
//
// COMPLETION_WAIT (opcode 01h):
//  ╒═══════════════════════════════════════════════════════════════╤═══╤═══╤═══╕
//  │ Store Address[31:3]                                            │ F │ I │ S │ word 0
//  ├═══════╤════════════════════════════╤═════════════════════════╧═══╧═══╧═══┤
//  │ 01h   │ rsvd 0                     │ Store Address[51:32]                  │ word 1
//  ├═══════╧════════════════════════════╧═══════════════════════════════════════┤
//  │ Store Data[31:0]                                                           │ word 2
//  │ Store Data[63:32]                                                          │ word 3
//  ╘═══════════════════════════════════════════════════════════════════════════╛
//  S: when every earlier command is done, the IOMMU stores the 64-bit data at the address.
//
// iommu_queue_command copies the command to the tail and writes the tail register (CMD_TAIL = the
// byte offset of the next slot) for EVERY command; iommu_completion_wait queues a COMPLETION_WAIT
// with the next semaphore value and spins until the semaphore holds it. The buffer is 8 KiB (512
// commands).

import { stats } from "../counters";
import { cacheInvalidateAll, cacheInvalidateRange } from "../cache";
import { physToMemory, queueNext, queuePut, queueTail, slotAt, statusPhys } from "./queue";

// @ts-ignore: decorator
@inline export const AMD_CMD_ENTRIES: u32 = 512;
// @ts-ignore: decorator
@inline const CMD_COMPL_WAIT: u64 = 0x01;
// @ts-ignore: decorator
@inline const CMD_INV_IOMMU_PAGES: u64 = 0x03;
// @ts-ignore: decorator
@inline const SIZE_MASK: u64 = 0x01;
// @ts-ignore: decorator
@inline const PDE_MASK: u64 = 0x02;
// @ts-ignore: decorator
@inline const ALL_PAGES: u64 = 0x7fff_ffff_ffff_ffff; // CMD_INV_IOMMU_ALL_PAGES_ADDRESS
/** The one domain the model has. */
// @ts-ignore: decorator
@inline export const AMD_DOMAIN_ID: u64 = 1;

/** The last semaphore value the CPU asked for (iommu->cmd_sem_val). */
let semVal: u64 = 0;
let tailReg: u32 = 0;

export function amdInit(): void {
  semVal = 0;
  tailReg = 0;
}

export function amdTailRegister(): u32 {
  return tailReg;
}

/** iommu_queue_command: the command at the tail, then the tail register (a doorbell per command). */
function queueCommand(lo: u64, hi: u64): void {
  queuePut(lo, hi);
  tailReg = queueTail() << 4;
  stats.invDoorbells++;
  amdHardware();
}

/** build_inv_address: the one page, or the S-bit range covering [address, address + size). */
function invAddress(address: u64, size: u64): u64 {
  let pages = ((address & 0xfff) + size + 0xfff) >> 12;
  if (pages == 1) return address & ~(<u64>0xfff);
  let end = address + size - 1;
  let msbDiff = <u64>63 - clz<u64>(end ^ address); // the highest bit that differs
  if (msbDiff > 51) address = ALL_PAGES;
  else address |= (<u64>1 << msbDiff) - 1;
  return (address & ~(<u64>0xfff)) | SIZE_MASK;
}

/** INVALIDATE_IOMMU_PAGES of [address, address + size) in the domain; returns whether it covers it all. */
function invalidatePages(address: u64, size: u64): bool {
  let a = invAddress(address, size);
  // words 0-1: PASID 0, DomainID | opcode; words 2-3: the address with S and PDE
  queueCommand((((CMD_INV_IOMMU_PAGES << 28) | AMD_DOMAIN_ID) << 32), a | PDE_MASK);
  return (a & ~(<u64>0xfff)) == (ALL_PAGES & ~(<u64>0xfff));
}

/** iommu_completion_wait: COMPLETION_WAIT storing the next semaphore value, then the spin. */
function completionWait(): void {
  let sem = statusPhys(0);
  semVal++;
  let w0 = (sem & 0xffff_fff8) | 1; // Store Address[31:3] | S
  let w1 = (CMD_COMPL_WAIT << 28) | ((sem >> 32) & 0xfffff);
  queueCommand((w1 << 32) | w0, semVal);
  if (load<u64>(physToMemory(sem, 8)) != semVal) abort(); // the IOMMU model did not store
  stats.invWaits++;
}

/** amd_iommu_iotlb_sync: domain_flush_pages of IO pages [first, first + pages), then the completion wait. */
export function amdFlushRange(first: u64, pages: u64): void {
  if (invalidatePages(first << 12, pages << 12)) stats.invDomainSelective++;
  else stats.invPageSelective++;
  completionWait();
}

/** amd_iommu_flush_iotlb_all: every page of the domain, then the completion wait. */
export function amdFlushDomain(): void {
  invalidatePages(0, ALL_PAGES);
  stats.invDomainSelective++;
  completionWait();
}

/** The IOMMU's side: consume the buffer up to the tail, decoding each command from memory. */
function amdHardware(): void {
  for (let i = queueNext(); i >= 0; i = queueNext()) {
    let s = slotAt(<u32>i);
    let w0 = load<u32>(s, 0);
    let w1 = load<u32>(s, 4);
    let op = w1 >> 28;
    if (<u64>op == CMD_INV_IOMMU_PAGES) {
      let a = load<u64>(s, 8);
      let addr = a & ~(<u64>0xfff);
      if ((a & SIZE_MASK) == 0) {
        cacheInvalidateRange(addr >> 12, 1);
      } else {
        // the lowest clear bit n ≥ 12 sets the range: 2^(n+1) bytes, aligned
        let n = <u64>ctz<u64>(~addr >> 12) + 12;
        if (n >= 63) cacheInvalidateAll();
        else cacheInvalidateRange((addr >> (n + 1)) << (n - 11), <u64>1 << (n - 11));
      }
    } else if (<u64>op == CMD_COMPL_WAIT) {
      if ((w0 & 1) != 0) {
        let at = (<u64>(w1 & 0xfffff) << 32) | <u64>(w0 & 0xffff_fff8);
        store<u64>(physToMemory(at, 8), load<u64>(s, 8));
      }
    } else {
      abort(); // the driver model wrote a command this IOMMU model does not know
    }
  }
}
