// Address translation as the CPU sees it. This first form is the SCTLR.M=0 flat
// mapping only; the stage-1/stage-2 walker and TLB replace its body (issue: MMU).
import type { Cpu } from '../cpu/cpu.js';
import { ArchException, EC } from '../cpu/exceptions.js';
import type { SysregSpec } from '../sysregs/registry.js';

export const enum AccessType { Read = 0, Write = 1, Fetch = 2 }

/** The PA size this PE implements: 48 bits (ID_AA64MMFR0_EL1.PARange = 0b0101). */
export const PA_BITS = 48;
const PA_LIMIT = 1n << BigInt(PA_BITS);

/** Fault status codes (DFSC/IFSC) without the level. */
export const FSC = {
  ADDRESS_SIZE: 0x00, TRANSLATION: 0x04, ACCESS_FLAG: 0x08, PERMISSION: 0x0c, SYNC_EXTERNAL: 0x10,
  ALIGNMENT: 0x21,
} as const;

export class Mmu {
  constructor(private readonly cpu: Cpu) {}

  /**
   * Translates `va` for an access of `type` at the current EL. `syndrome` holds the
   * ISS bits [24:14] (ISV, SAS, SSE, SRT, SF, AR) a stage-2 data abort reports.
   * Throws the architected abort on a fault.
   */
  translate(va: bigint, type: AccessType, _syndrome: number, _unprivileged: boolean): number {
    if (va >= PA_LIMIT) throw this.abort(va, type, FSC.ADDRESS_SIZE);
    return Number(va);
  }

  /** The abort for a fault detected at stage 1 of the current regime. */
  abort(va: bigint, type: AccessType, fsc: number, extraIss = 0): ArchException {
    const cpu = this.cpu;
    const target = cpu.ps.el === 2 || (cpu.ps.el === 0 && cpu.tge) ? 2 : 1;
    const same = target === cpu.ps.el;
    const ec = type === AccessType.Fetch
      ? (same ? EC.IABORT_SAME : EC.IABORT_LOWER)
      : (same ? EC.DABORT_SAME : EC.DABORT_LOWER);
    const wnr = type === AccessType.Write ? 1 << 6 : 0;
    return new ArchException(target, ec, fsc | wnr | extraIss, va);
  }

  /** A system register was written; flush what depends on it. */
  controlWritten(_s: SysregSpec): void {}

  /** Drops every cached translation (TLBI, or a write to a register that changes translation). */
  flushAll(): void {}
}
