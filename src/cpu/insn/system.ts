// System instructions: MRS/MSR (register and immediate), the hint space (WFI/WFE/SEV…),
// barriers and CLREX, exception generation (SVC/HVC/SMC/BRK/HLT), ERET, and SYS/SYSL
// cache maintenance (DC/IC). TLBI and AT live in mmuops.ts, decoded before this table;
// every other SYS/SYSL encoding is UNDEFINED.
import { enc, type AnyEncoding } from '../decode.js';
import { exceptionReturn, takeCall } from '../exceptions.js';
import { debugTargetEL, ssAdvance } from '../../pe/debug.js';
import { ArchException, EC, defaultTargetEL, undefinedInstruction, el2TrapsApply } from '../../pe/exception.js';
import { resolveAccess, readSysreg, writeSysreg, sysTrapIss } from '../../sysregs/access.js';
import { sysregByKey, HCR, type SysregSpec } from '../../sysregs/registry.js';
import { SysregEvent } from '../events.js';
import type { Emitter } from '../emit.js';
import { DCZ_BLOCK_BYTES, dcZvaProhibited } from '../../sysregs/special.js';
import { AccessType } from '../../mmu/mmu.js';
import type { Cpu } from '../cpu.js';
import { rz, hexImm } from './dp-common.js';

const xr = (n: number): string => rz(n, 1);

// --- MRS / MSR (register) ---------------------------------------------------------

function sysregName(raw: number): string {
  const s = sysregByKey((raw >>> 5) & 0xffff);
  if (s !== undefined) return s.lower;
  const f = (lsb: number, w: number) => (raw >>> lsb) & ((1 << w) - 1);
  return `s${f(19, 2)}_${f(16, 3)}_c${f(12, 4)}_c${f(8, 4)}_${f(5, 3)}`;
}

/** The MRS/MSR event, filled in for each access (as the exception events are: events.ts). */
const ACCESSED = new SysregEvent();

/**
 * The observer learns of an MRS/MSR: in its log, or by the event (`rt` is the transfer register,
 * or -1 for an MRS to XZR that read `discarded`).
 */
function sysregAccessed(cpu: Cpu, reg: SysregSpec, write: boolean, rt: number, discarded: bigint): void {
  const log = cpu.sysregLog;
  if (log !== null) {
    if (log.paused === true) return;
    if (log.eventFor[reg.id] === 0) {
      log.ids[log.pos++ & (log.ids.length - 1)] = reg.id;
      return;
    }
  }
  const e = ACCESSED;
  e.cpu = cpu;
  e.reg = reg;
  e.write = write;
  e.rt = rt;
  e.discarded = discarded;
  cpu.observer!.sysregAccessed?.(e);
}

function mrs(cpu: Cpu, d: { raw: number; Rt: number }): void {
  const enc = cpu.sysregs.byKey((d.raw >>> 5) & 0xffff);
  if (enc === undefined) throw undefinedInstruction(cpu);
  const s = resolveAccess(cpu, enc, true, d.Rt);
  const v = readSysreg(cpu, s);
  if (d.Rt !== 31) cpu.x[d.Rt] = v;
  if (cpu.observer !== null) sysregAccessed(cpu, s, false, d.Rt === 31 ? -1 : d.Rt, d.Rt === 31 ? v : 0n);
}

function msr(cpu: Cpu, d: { raw: number; Rt: number }): void {
  const enc = cpu.sysregs.byKey((d.raw >>> 5) & 0xffff);
  if (enc === undefined) throw undefinedInstruction(cpu);
  const s = resolveAccess(cpu, enc, false, d.Rt);
  const v = cpu.x[d.Rt]!;
  writeSysreg(cpu, s, v);
  if (cpu.observer !== null) sysregAccessed(cpu, s, true, d.Rt, 0n);
}

// --- MSR (immediate): PSTATE fields -----------------------------------------------

/** The PSTATE field an MSR (immediate) writes, by op1:op2; absent ones (UAO, SSBS, DIT, TCO…) are UNDEFINED. */
const PstateField = {
  SPSel: 0b000_101,
  PAN: 0b000_100,
  DAIFSet: 0b011_110,
  DAIFClr: 0b011_111,
} as const;
const PSTATE_FIELD_NAMES: Readonly<Record<number, string>> = {
  [PstateField.SPSel]: 'spsel',
  [PstateField.PAN]: 'pan',
  [PstateField.DAIFSet]: 'daifset',
  [PstateField.DAIFClr]: 'daifclr',
};

function msrImmediate(cpu: Cpu, d: { op1: number; CRm: number; op2: number }): void {
  const field = (d.op1 << 3) | d.op2;
  const ps = cpu.ps;
  if (field === PstateField.DAIFSet || field === PstateField.DAIFClr) {
    // EL0 needs SCTLR_EL1.UMA (SCTLR_EL2.UMA in a VHE host); otherwise a trap with op0 = 0.
    if (ps.el === 0) {
      if ((cpu.sctlr() & (1n << 9n)) === 0n) {
        throw new ArchException(
          defaultTargetEL(cpu),
          EC.SYS,
          sysTrapIss({ op0: 0, op1: d.op1, crn: 4, crm: d.CRm, op2: d.op2 }, 31, false),
        );
      }
    }
    ps.daif = field === PstateField.DAIFSet ? ps.daif | d.CRm : ps.daif & ~d.CRm;
    cpu.interruptsChanged();
    return;
  }
  if (ps.el === 0) throw undefinedInstruction(cpu);
  if (field === PstateField.SPSel) {
    ps.sp = d.CRm & 1;
    return;
  }
  if (field === PstateField.PAN) {
    ps.pan = d.CRm & 1;
    return;
  }
  throw undefinedInstruction(cpu);
}

// --- hints ----------------------------------------------------------------------------

const Hint = {
  NOP: 0,
  YIELD: 1,
  WFE: 2,
  WFI: 3,
  SEV: 4,
  SEVL: 5,
} as const;
const HINT_NAMES: Readonly<Record<number, string>> = {
  0: 'nop',
  1: 'yield',
  2: 'wfe',
  3: 'wfi',
  4: 'sev',
  5: 'sevl',
  7: 'xpaclri',
  8: 'pacia1716',
  10: 'pacib1716',
  12: 'autia1716',
  14: 'autib1716',
  16: 'esb',
  17: 'psb\tcsync',
  18: 'tsb\tcsync',
  20: 'csdb',
  24: 'paciaz',
  25: 'paciasp',
  26: 'pacibz',
  27: 'pacibsp',
  28: 'autiaz',
  29: 'autiasp',
  30: 'autibz',
  31: 'autibsp',
  32: 'bti',
  34: 'bti\tc',
  36: 'bti\tj',
  38: 'bti\tjc',
};

/** The ISS of a trapped WFI/WFE from AArch64: CV=1, COND=0b1110, TI. */
export function wfxIss(wfe: boolean): number {
  return (1 << 24) | (0xe << 20) | (wfe ? 1 : 0);
}

/**
 * AArch64.CheckForWFxTrap at EL0 (SCTLR_EL1.nTWx, or SCTLR_EL2 in a VHE host) and then
 * at EL0/EL1 for EL2 (HCR_EL2.TWx).
 */
function checkWfxTrap(cpu: Cpu, wfe: boolean): void {
  const el = cpu.ps.el;
  if (el === 0) {
    const nTWx = wfe ? 1n << 18n : 1n << 16n;
    if ((cpu.sctlr() & nTWx) === 0n) {
      throw new ArchException(defaultTargetEL(cpu), EC.WFX, wfxIss(wfe));
    }
  }
  if (el2TrapsApply(cpu) && ((cpu.hcr >>> (wfe ? HCR.TWE : HCR.TWI)) & 1) !== 0) {
    throw new ArchException(2, EC.WFX, wfxIss(wfe));
  }
}

/**
 * The hints `hint` runs as NOPs (everything above SEVL: PAC, BTI, ESB, CSDB...), picked at decode:
 * the Linux boot runs PACIASP and AUTIASP in every function.
 */
function pickHint(d: { CRm: number; op2: number }): (() => void) | undefined {
  return ((d.CRm << 3) | d.op2) > Hint.SEVL ? nop : undefined;
}

function nop(): void {}

function hint(cpu: Cpu, d: { CRm: number; op2: number }): void {
  switch ((d.CRm << 3) | d.op2) {
    case Hint.WFI:
      checkWfxTrap(cpu, false);
      cpu.sleepUntilInterrupt();
      return;
    case Hint.WFE:
      // With the Event Register set, WFE only clears it: no wait, so no trap.
      if (cpu.eventRegister) {
        cpu.eventRegister = false;
        return;
      }
      checkWfxTrap(cpu, true);
      cpu.sleepUntilEvent();
      return;
    case Hint.SEV:
      for (const pe of cpu.peers) pe.eventRegister = true;
      return;
    case Hint.SEVL:
      cpu.eventRegister = true;
      return;
    case Hint.YIELD:
      cpu.yieldQuantum();
      return;
    default:
      // NOP, YIELD, and every hint of a feature not implemented (PAC, BTI, ESB, PSB, CSDB, DGH…) executes as a NOP.
      return;
  }
}

// --- exception generation -------------------------------------------------------------

/** The generator of a row that always takes or returns from an exception: a compiled path ends at it. */
const leaves = (g: Emitter): void => g.exec(true);

function hvc(cpu: Cpu, d: { imm16: number }): void {
  if (cpu.ps.el === 0 || ((cpu.hcr >>> HCR.HCD) & 1) !== 0) throw undefinedInstruction(cpu);
  takeCall(cpu, 2, EC.HVC, d.imm16);
}

/**
 * SMC: UNDEFINED at EL0; trapped from EL1 under HCR_EL2.TSC (preferred return: the SMC
 * itself); otherwise the emulator's firmware (PSCI) answers it. There is no EL3, so an
 * SMC the firmware does not know is UNDEFINED (QEMU instead returns -1 in x0: see
 * test/exceptions/divergences.test.ts).
 */
function smc(cpu: Cpu, d: { imm16: number }): void {
  const el = cpu.ps.el;
  if (el === 0) throw undefinedInstruction(cpu);
  if (el === 1 && el2TrapsApply(cpu) && ((cpu.hcr >>> HCR.TSC) & 1) !== 0) {
    throw new ArchException(2, EC.SMC, d.imm16);
  }
  if (cpu.firmwareCall !== null && cpu.firmwareCall(cpu)) {
    // As an SMC taken to EL3 and returned from: it completes its own software step (SSAdvance), and
    // the step exception comes at the next instruction, active-pending, without ISV (QEMU's too).
    ssAdvance(cpu);
    cpu.exceptionEntries++;
    return;
  }
  throw undefinedInstruction(cpu);
}

/** BRK is a debug exception: taken to EL2 from EL2, else to debugTargetEL. */
function brk(cpu: Cpu, d: { imm16: number }): void {
  throw new ArchException(cpu.ps.el === 2 ? 2 : debugTargetEL(cpu), EC.BRK, d.imm16);
}

// --- SYS / SYSL: cache maintenance ------------------------------------------------------

const enum CacheOp {
  ICIALLUIS,
  ICIALLU,
  ICIVAU,
  DCIVAC,
  DCISW,
  DCCSW,
  DCCISW,
  DCZVA,
  DCCVAC,
  DCCVAU,
  DCCVAP,
  DCCIVAC,
}
interface CacheOpSpec {
  readonly op: CacheOp;
  readonly name: string;
  /** The HCR_EL2 bit that traps it from EL0/EL1. */
  readonly trap: number;
  /** Allowed at EL0 under SCTLR_EL1.UCI (DC ZVA: under SCTLR_EL1.DZE, checked separately). */
  readonly el0: boolean;
  /** Operates on the VA in Xt (and can fault on it). */
  readonly byVa: boolean;
}

/** The DC/IC operations by op1:CRm:op2 (CRn = 7). */
const CACHE_OPS = new Map<number, CacheOpSpec>();
function cacheOp(
  op1: number,
  crm: number,
  op2: number,
  op: CacheOp,
  name: string,
  trap: number,
  el0: boolean,
  byVa: boolean,
): void {
  CACHE_OPS.set((op1 << 7) | (crm << 3) | op2, { op, name, trap, el0, byVa });
}
cacheOp(0, 1, 0, CacheOp.ICIALLUIS, 'ic ialluis', HCR.TPU, false, false);
cacheOp(0, 5, 0, CacheOp.ICIALLU, 'ic iallu', HCR.TPU, false, false);
cacheOp(3, 5, 1, CacheOp.ICIVAU, 'ic ivau', HCR.TPU, true, true);
cacheOp(0, 6, 1, CacheOp.DCIVAC, 'dc ivac', HCR.TPCP, false, true);
cacheOp(0, 6, 2, CacheOp.DCISW, 'dc isw', HCR.TSW, false, false);
cacheOp(0, 10, 2, CacheOp.DCCSW, 'dc csw', HCR.TSW, false, false);
cacheOp(0, 14, 2, CacheOp.DCCISW, 'dc cisw', HCR.TSW, false, false);
cacheOp(3, 4, 1, CacheOp.DCZVA, 'dc zva', HCR.TDZ, true, true);
cacheOp(3, 10, 1, CacheOp.DCCVAC, 'dc cvac', HCR.TPCP, true, true);
cacheOp(3, 11, 1, CacheOp.DCCVAU, 'dc cvau', HCR.TPU, true, true);
cacheOp(3, 12, 1, CacheOp.DCCVAP, 'dc cvap', HCR.TPCP, true, true);
cacheOp(3, 14, 1, CacheOp.DCCIVAC, 'dc civac', HCR.TPCP, true, true);

/** The name of a DC/IC operation from a trapped-instruction ISS (EC 0x18, op0 = 1), for syndrome text. */
export function cacheOpName(op1: number, crn: number, crm: number, op2: number): string | undefined {
  return crn === 7 ? CACHE_OPS.get((op1 << 7) | (crm << 3) | op2)?.name : undefined;
}

const DATA_ABORT_CM = 1 << 8,
  DATA_ABORT_WNR = 1 << 6,
  DATA_ABORT_ISV_AND_SYNDROME = 0x1ff_c000;

/**
 * The address translation a cache maintenance by VA performs. Only DC IVAC needs
 * write permission (it may discard data); the others cannot take Permission faults.
 * Faults report CM=1 and WnR=1, and no instruction syndrome.
 */
function maintenanceTranslate(cpu: Cpu, va: bigint, invalidate: boolean): void {
  try {
    cpu.mmu.translate(va, invalidate ? AccessType.Write : AccessType.Read, 0, false);
  } catch (e) {
    if (!(e instanceof ArchException) || (e.ec !== EC.DABORT_LOWER && e.ec !== EC.DABORT_SAME)) throw e;
    if (!invalidate && (e.iss & 0x3c) === 0x0c) return; // a Permission fault: not for this operation
    throw new ArchException(
      e.targetEL,
      e.ec,
      (e.iss & ~DATA_ABORT_ISV_AND_SYNDROME) | DATA_ABORT_CM | DATA_ABORT_WNR,
      e.far,
      e.hpfar,
      e.il,
    );
  }
}

function sys(cpu: Cpu, d: { raw: number; op1: number; CRn: number; CRm: number; op2: number; Rt: number }): void {
  const c = d.CRn === 7 ? CACHE_OPS.get((d.op1 << 7) | (d.CRm << 3) | d.op2) : undefined;
  if (c === undefined) throw undefinedInstruction(cpu);
  const el = cpu.ps.el;
  const trapIss = () => sysTrapIss({ op0: 1, op1: d.op1, crn: 7, crm: d.CRm, op2: d.op2 }, d.Rt, false);
  if (el === 0) {
    if (!c.el0) throw undefinedInstruction(cpu);
    const enable = c.op === CacheOp.DCZVA ? 1n << 14n : 1n << 26n; // SCTLR.DZE, SCTLR.UCI
    if ((cpu.sctlr() & enable) === 0n) {
      throw new ArchException(defaultTargetEL(cpu), EC.SYS, trapIss());
    }
  }
  if (el2TrapsApply(cpu) && ((cpu.hcr >>> c.trap) & 1) !== 0) throw new ArchException(2, EC.SYS, trapIss());
  if (!c.byVa) return; // set/way and whole-cache operations: there are no caches to maintain
  const va = cpu.x[d.Rt]!;
  if (c.op === CacheOp.DCZVA) {
    dcZva(cpu, va);
    return;
  }
  // With stage 2 enabled, DC IVAC at EL1 is performed as DC CIVAC: a no-op here either way.
  maintenanceTranslate(cpu, va, c.op === CacheOp.DCIVAC);
}

/** DC ZVA: zeroes the aligned DCZID_EL0-sized block holding `va`, as stores (it is not cache maintenance). */
function dcZva(cpu: Cpu, va: bigint): void {
  if (dcZvaProhibited(cpu)) throw undefinedInstruction(cpu); // unreachable: DZE/TDZ trapped above
  const base = va & ~BigInt(DCZ_BLOCK_BYTES - 1);
  for (let off = 0; off < DCZ_BLOCK_BYTES; off += 8) cpu.writeAt(base, off, 8, 0n, 0);
}

// --- the table --------------------------------------------------------------------------

export const SYSTEM: readonly AnyEncoding[] = [
  enc('1101010100 1 1 o0:1 op1:3 CRn:4 CRm:4 op2:3 Rt:5', 'MRS', mrs, (d) => `mrs\t${xr(d.Rt)}, ${sysregName(d.raw)}`),
  enc(
    '1101010100 0 1 o0:1 op1:3 CRn:4 CRm:4 op2:3 Rt:5',
    'MSR (register)',
    msr,
    (d) => `msr\t${sysregName(d.raw)}, ${xr(d.Rt)}`,
  ),
  enc(
    '1101010100 0 00 op1:3 0100 CRm:4 op2:3 11111',
    'MSR (immediate)',
    msrImmediate,
    (d) => `msr\t${PSTATE_FIELD_NAMES[(d.op1 << 3) | d.op2] ?? `s0_${d.op1}_c4_c${d.CRm}_${d.op2}`}, ${hexImm(d.CRm)}`,
  ),
  enc(
    '1101010100 0 00 011 0010 CRm:4 op2:3 11111',
    'HINT',
    hint,
    (d) => HINT_NAMES[(d.CRm << 3) | d.op2] ?? `hint\t${hexImm((d.CRm << 3) | d.op2)}`,
    undefined,
    pickHint,
  ),
  enc(
    '1101010100 0 00 011 0011 CRm:4 010 11111',
    'CLREX',
    (cpu) => {
      cpu.exclusiveClear();
    },
    (d) => (d.CRm === 15 ? 'clrex' : `clrex\t${hexImm(d.CRm)}`),
  ),
  // DSB with CRm 0000 / 0100 are SSBB / PSSBB: base-architecture barriers, not feature-gated.
  // PEs run one at a time, so memory is sequentially consistent and every barrier holds; DSB
  // and DMB are where the round-robin switches to the next PE (what the barrier orders is
  // then visible to it before this PE goes on).
  enc(
    '1101010100 0 00 011 0011 CRm:4 100 11111',
    'DSB',
    (cpu) => {
      cpu.yieldQuantum();
    },
    (d) => (d.CRm === 0 ? 'ssbb' : d.CRm === 4 ? 'pssbb' : `dsb\t${barrierOption(d.CRm)}`),
  ),
  enc(
    '1101010100 0 00 011 0011 CRm:4 101 11111',
    'DMB',
    (cpu) => {
      cpu.yieldQuantum();
    },
    (d) => `dmb\t${barrierOption(d.CRm)}`,
  ),
  // Context synchronization: decoded code is invalidated on every write, so there is nothing to flush.
  enc(
    '1101010100 0 00 011 0011 CRm:4 110 11111',
    'ISB',
    () => {},
    (d) => (d.CRm === 15 ? 'isb' : `isb\t${hexImm(d.CRm)}`),
  ),
  enc('1101010100 0 01 op1:3 CRn:4 CRm:4 op2:3 Rt:5', 'SYS', sys, (d) => {
    const c = d.CRn === 7 ? CACHE_OPS.get((d.op1 << 7) | (d.CRm << 3) | d.op2) : undefined;
    if (c === undefined) return `sys\t#${d.op1}, C${d.CRn}, C${d.CRm}, #${d.op2}, ${xr(d.Rt)}`;
    const [mnemonic, op] = c.name.split(' ');
    return c.byVa || d.Rt !== 31 ? `${mnemonic}\t${op}, ${xr(d.Rt)}` : `${mnemonic}\t${op}`;
  }),
  enc(
    '11010100 000 imm16:16 000 01',
    'SVC',
    (cpu, d) => {
      takeCall(cpu, defaultTargetEL(cpu), EC.SVC, d.imm16);
    },
    (d) => `svc\t${hexImm(d.imm16)}`,
    leaves,
  ),
  enc('11010100 000 imm16:16 000 10', 'HVC', hvc, (d) => `hvc\t${hexImm(d.imm16)}`, leaves),
  enc('11010100 000 imm16:16 000 11', 'SMC', smc, (d) => `smc\t${hexImm(d.imm16)}`),
  enc('11010100 001 imm16:16 000 00', 'BRK', brk, (d) => `brk\t${hexImm(d.imm16)}`),
  enc(
    '11010100 010 imm16:16 000 00',
    'HLT',
    (cpu, d) => {
      if (d.imm16 === 0xf000 && cpu.ps.el > 0 && cpu.semihost !== null) {
        cpu.semihost(cpu);
        return;
      }
      throw undefinedInstruction(cpu); // halting debug is not enabled
    },
    (d) => `hlt\t${hexImm(d.imm16)}`,
  ),
  enc(
    '1101011 0100 11111 0000 00 11111 00000',
    'ERET',
    (cpu) => {
      if (cpu.ps.el === 0) throw undefinedInstruction(cpu);
      exceptionReturn(cpu);
    },
    () => 'eret',
    leaves,
  ),
];

const BARRIER_OPTIONS: Readonly<Record<number, string>> = {
  1: 'oshld',
  2: 'oshst',
  3: 'osh',
  5: 'nshld',
  6: 'nshst',
  7: 'nsh',
  9: 'ishld',
  10: 'ishst',
  11: 'ish',
  13: 'ld',
  14: 'st',
  15: 'sy',
};
function barrierOption(crm: number): string {
  return BARRIER_OPTIONS[crm] ?? hexImm(crm);
}
