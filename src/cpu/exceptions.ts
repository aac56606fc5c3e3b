// The exception model: syndromes, routing, AArch64.TakeException and AArch64.ExceptionReturn.
import type { Cpu } from './cpu.js';
import { SR, HCR } from '../sysregs/registry.js';

/** Exception classes (ESR_ELx.EC) this PE can report. */
export const EC = {
  UNKNOWN: 0x00,
  WFX: 0x01,
  FP_ACCESS: 0x07,
  ILLEGAL_STATE: 0x0e,
  SVC: 0x15,
  HVC: 0x16,
  SMC: 0x17,
  SYS: 0x18,
  IABORT_LOWER: 0x20,
  IABORT_SAME: 0x21,
  PC_ALIGN: 0x22,
  DABORT_LOWER: 0x24,
  DABORT_SAME: 0x25,
  SP_ALIGN: 0x26,
  SERROR: 0x2f,
  BRK: 0x3c,
} as const;

/** Vector type offsets / 0x80. */
export const enum VectorKind {
  Sync = 0,
  Irq = 1,
  Fiq = 2,
  SError = 3,
}

/**
 * A synchronous exception about to be taken. Thrown from deep inside an
 * instruction's semantics (a memory access, a trapped register) and caught by
 * the run loop, which then performs AArch64.TakeException.
 */
export class ArchException {
  constructor(
    readonly targetEL: number,
    readonly ec: number,
    readonly iss: number,
    /** FAR value for aborts and alignment faults, undefined otherwise (FAR is then UNKNOWN; we leave it). */
    readonly far?: bigint,
    /** HPFAR_EL2 value (IPA[47:12] >> 8 placement done by the producer), for stage-2 faults. */
    readonly hpfar?: bigint,
    /** ESR.IL; 0 only for the 16-bit-instruction cases that do not exist in A64 and for some aborts. */
    readonly il = 1,
    /** The preferred return address is the next instruction (SVC/HVC/SMC) rather than this one. */
    readonly returnToNext = false,
  ) {}
  get esr(): number {
    return ((this.ec << 26) | (this.il << 25) | (this.iss & 0x1ff_ffff)) >>> 0;
  }
}

/**
 * The emulator cannot continue: an unimplemented feature or a gap. Stops the machine
 * with a message naming it; never a guest-visible event.
 */
export class MachineStop {
  constructor(readonly message: string) {}
}

/** Where an exception that is not explicitly routed to EL2 goes: EL1, or EL2 from EL2 or under TGE. */
export function defaultTargetEL(cpu: Cpu): number {
  return cpu.ps.el === 2 || (cpu.ps.el === 0 && cpu.tge) ? 2 : 1;
}

/** HCR_EL2 routing bits of the asynchronous exceptions, by VectorKind (Irq, Fiq, SError). */
const ROUTE_BIT = [0, HCR.IMO, HCR.FMO, HCR.AMO];
/** Their PSTATE mask bits within ps.daif (D=3, A=2, I=1, F=0) and HCR_EL2 virtual-pending bits. */
const MASK_BIT = [0, 1, 0, 2];
const VIRTUAL_BIT = [0, HCR.VI, HCR.VF, HCR.VSE];

/**
 * The EL a physical IRQ, FIQ or SError would be taken to now, or -1 while it is masked.
 * From EL0/EL1 it is routed to EL2 under HCR_EL2.TGE or IMO/FMO/AMO (all three read as 1
 * in a VHE host), and is then taken whatever PSTATE says; taken to the current EL, it
 * is masked by PSTATE.{I,F,A}. There is no EL3.
 */
export function physicalInterruptTarget(cpu: Cpu, kind: VectorKind): number {
  const el = cpu.ps.el;
  const target = el === 2 || cpu.tge || ((cpu.hcr >>> ROUTE_BIT[kind]!) & 1) !== 0 ? 2 : 1;
  if (target > el) return target;
  return ((cpu.ps.daif >>> MASK_BIT[kind]!) & 1) !== 0 ? -1 : target;
}

/**
 * Whether the virtual IRQ/FIQ/SError that HCR_EL2.VI/VF/VSE makes pending is taken now
 * (always to EL1): only at EL0/EL1, with the matching IMO/FMO/AMO set, TGE clear, and
 * PSTATE not masking it.
 */
export function virtualInterruptPending(cpu: Cpu, kind: VectorKind): boolean {
  return virtualPending(cpu, kind) && ((cpu.ps.daif >>> MASK_BIT[kind]!) & 1) === 0;
}

/** Cpu.lines bits by VectorKind (Irq, Fiq, SError): the same values as LINE in cpu.ts. */
const LINE_BIT = [0, 1, 2, 4];

/**
 * Whether a virtual interrupt of this kind is pending for the PE: HCR_EL2.VI/VF/VSE with
 * IMO/FMO/AMO, at EL0/EL1 outside a VHE host (whatever PSTATE masks).
 */
function virtualPending(cpu: Cpu, kind: VectorKind): boolean {
  if (cpu.ps.el === 2 || cpu.tge) return false;
  return ((cpu.hcr >>> ROUTE_BIT[kind]!) & 1) !== 0 && ((cpu.hcr >>> VIRTUAL_BIT[kind]!) & 1) !== 0;
}

/**
 * The interrupts ISR_EL1 shows as bits A (8), I (7), F (6): at EL1/EL0 with the routing
 * bit set the virtual one, otherwise the physical input.
 */
export function pendingInterrupts(cpu: Cpu): number {
  let v = 0;
  for (const [kind, bit] of [
    [VectorKind.SError, 8],
    [VectorKind.Irq, 7],
    [VectorKind.Fiq, 6],
  ] as const) {
    const virt = cpu.ps.el < 2 && !cpu.tge && ((cpu.hcr >>> ROUTE_BIT[kind]!) & 1) !== 0;
    const pending = virt ? virtualPending(cpu, kind) : (cpu.lines & LINE_BIT[kind]!) !== 0;
    if (pending) v |= 1 << bit;
  }
  return v;
}

/** A WFI wake-up event: any physical input, or a virtual interrupt pending for the current EL, masked or not. */
export function wakeupPending(cpu: Cpu): boolean {
  return (
    cpu.lines !== 0 ||
    virtualPending(cpu, VectorKind.Irq) ||
    virtualPending(cpu, VectorKind.Fiq) ||
    virtualPending(cpu, VectorKind.SError)
  );
}

const SERROR_ESR = ((EC.SERROR << 26) | (1 << 25)) >>> 0;
/** Physical before virtual; within each FIQ, IRQ, SError (QEMU's order of checks). */
const ASYNC_ORDER = [VectorKind.Fiq, VectorKind.Irq, VectorKind.SError] as const;

/**
 * At an instruction boundary: takes the highest-priority interrupt that is pending and
 * not masked, by the architectural routing; true when one was taken. A virtual SError
 * reports VSESR_EL2's syndrome and clears HCR_EL2.VSE as it is taken.
 */
export function takePendingInterrupt(cpu: Cpu): boolean {
  const lines = cpu.lines;
  if (lines !== 0) {
    for (const kind of ASYNC_ORDER) {
      if ((lines & LINE_BIT[kind]!) === 0) continue;
      const target = physicalInterruptTarget(cpu, kind);
      if (target < 0) continue;
      takeException(cpu, target, kind, cpu.pcs[0]!, kind === VectorKind.SError ? SERROR_ESR : 0);
      return true;
    }
  }
  if ((cpu.hcr & VIRTUAL_MASK) === 0) return false;
  const order = [VectorKind.Irq, VectorKind.Fiq, VectorKind.SError] as const;
  for (const kind of order) {
    if (!virtualInterruptPending(cpu, kind)) continue;
    let esr = 0;
    if (kind === VectorKind.SError) {
      esr = (SERROR_ESR | Number(cpu.sr[SR.VSESR_EL2!]! & 0x1ff_ffffn)) >>> 0;
      cpu.sr[SR.HCR_EL2!] = cpu.sr[SR.HCR_EL2!]! & ~(1n << BigInt(HCR.VSE));
      cpu.hcrChanged();
    }
    takeException(cpu, 1, kind, cpu.pcs[0]!, esr);
    return true;
  }
  return false;
}
const VIRTUAL_MASK = (1 << HCR.VI) | (1 << HCR.VF) | (1 << HCR.VSE);

/** The architected UNDEFINED exception (EC 0x00) for the current instruction. */
export function undefinedInstruction(cpu: Cpu): ArchException {
  return new ArchException(defaultTargetEL(cpu), EC.UNKNOWN, 0);
}

/** True when EL2 traps from EL0/EL1 apply (everything but the VHE host's EL0). */
export function el2TrapsApply(cpu: Cpu): boolean {
  return cpu.ps.el < 2 && !(cpu.e2h && cpu.tge);
}

const ELR = [0, SR.ELR_EL1!, SR.ELR_EL2!];
const SPSR_ = [0, SR.SPSR_EL1!, SR.SPSR_EL2!];
const ESR = [0, SR.ESR_EL1!, SR.ESR_EL2!];
const FAR = [0, SR.FAR_EL1!, SR.FAR_EL2!];
const VBAR = [0, SR.VBAR_EL1!, SR.VBAR_EL2!];
const SCTLR = [0, SR.SCTLR_EL1!, SR.SCTLR_EL2!];
const SCTLR_SPAN = 1n << 23n;

/** AArch64.TakeException: enter `targetEL` at the vector for `kind`. `preferred` is the return address. */
export function takeException(
  cpu: Cpu,
  targetEL: number,
  kind: VectorKind,
  preferred: bigint,
  esr: number,
  far?: bigint,
  hpfar?: bigint,
): void {
  const ps = cpu.ps;
  const fromEL = ps.el;
  let offset: bigint;
  if (targetEL > fromEL)
    offset = 0x400n; // lower EL, AArch64 (AArch32 lower ELs are not implemented)
  else offset = ps.sp ? 0x200n : 0n;
  offset += BigInt(kind) * 0x80n;

  const sr = cpu.sr;
  sr[SPSR_[targetEL]!] = BigInt(ps.toSpsr());
  sr[ELR[targetEL]!] = preferred;
  if (kind === VectorKind.Sync || kind === VectorKind.SError) sr[ESR[targetEL]!] = BigInt(esr);
  if (far !== undefined) sr[FAR[targetEL]!] = far;
  if (hpfar !== undefined) sr[SR.HPFAR_EL2!] = hpfar;

  ps.el = targetEL;
  ps.sp = 1;
  ps.daif = 0xf;
  ps.ss = 0;
  ps.il = 0;
  // PAN is set on entry when SCTLR_ELx.SPAN is 0 (EL1, or EL2 in the EL2&0 regime).
  if ((targetEL === 1 || (cpu.e2h && cpu.tge)) && (sr[SCTLR[targetEL]!]! & SCTLR_SPAN) === 0n) ps.pan = 1;
  const vector = BigInt.asUintN(64, (sr[VBAR[targetEL]!]! & ~0x7ffn) + offset);
  cpu.pcs[0] = vector;
  cpu.exclusiveClear();
  cpu.contextChanged();
  if (cpu.observer !== null) {
    cpu.observer.exceptionTaken?.({ fromEL, toEL: targetEL, kind, esr, far: far ?? 0n, elr: preferred, vector });
  }
}

/**
 * Takes an SVC/HVC exception from inside the instruction's semantics, without the cost
 * of a throw: these are on the world-switch path. The preferred return is the next instruction.
 */
export function takeCall(cpu: Cpu, targetEL: number, ec: number, imm16: number): void {
  const esr = ((ec << 26) | (1 << 25) | imm16) >>> 0;
  takeException(cpu, targetEL, VectorKind.Sync, cpu.pcs[0]!, esr);
}

/** Takes a thrown synchronous exception for the instruction at `pc`. */
export function takeSync(cpu: Cpu, e: ArchException, pc: bigint): void {
  const preferred = e.returnToNext ? BigInt.asUintN(64, pc + 4n) : pc;
  takeException(cpu, e.targetEL, VectorKind.Sync, preferred, e.esr, e.far, e.hpfar);
}

/** AArch32 modes (SPSR.M[3:0] with M[4]=1) and the EL each belongs to; others are invalid. */
const AARCH32_MODE_EL: Readonly<Record<number, number>> = {
  0b0000: 0, // User
  0b0001: 1,
  0b0010: 1,
  0b0011: 1,
  0b0111: 1,
  0b1011: 1,
  0b1111: 1, // FIQ, IRQ, Supervisor, Abort, Undefined, System
  0b1010: 2, // Hyp
};

const enum ReturnKind {
  Legal,
  Illegal,
  AArch32,
}

/**
 * IllegalExceptionReturn (with ELFromSPSR and the register-width checks): whether an
 * ERET from the current EL with this SPSR is illegal, or legal into AArch32 state.
 * This PE has no EL3; EL2 is AArch64; EL1 is AArch32 when HCR_EL2.RW=0; EL0 may be either.
 */
function classifyReturn(cpu: Cpu, spsr: number): ReturnKind {
  const fromEL = cpu.ps.el;
  const host = cpu.e2h && cpu.tge;
  const el1AArch32 = ((cpu.hcr >>> HCR.RW) & 1) === 0 && !host;
  if ((spsr >>> 4) & 1) {
    const target = AARCH32_MODE_EL[spsr & 0xf];
    if (target === undefined || target > fromEL) return ReturnKind.Illegal;
    if (target === 2) return ReturnKind.Illegal; // EL2 is AArch64
    if (target === 1 && (fromEL === 1 || !el1AArch32)) return ReturnKind.Illegal; // EL1 is AArch64
    if (target === 1 && cpu.tge) return ReturnKind.Illegal;
    return ReturnKind.AArch32;
  }
  const m = spsr & 0xf;
  const target = m >>> 2;
  if ((m & 2) !== 0 || target === 3 || (target === 0 && (m & 1) !== 0)) return ReturnKind.Illegal; // invalid M
  if (target > fromEL) return ReturnKind.Illegal;
  if (fromEL === 2 && el1AArch32 && target < 2) return ReturnKind.Illegal; // EL1 (and so EL0) is AArch32
  if (target === 1 && cpu.tge) return ReturnKind.Illegal; // EL1 is not in use under TGE
  return ReturnKind.Legal;
}

const MDSCR_SS = 1n,
  MDSCR_KDE = 1n << 13n,
  MDCR_TDE = 1n << 8n,
  OSLSR_OSLK = 2n;

/** The EL debug exceptions from EL0/EL1 are taken to: EL2 under HCR_EL2.TGE or MDCR_EL2.TDE, else EL1. */
export function debugTargetEL(cpu: Cpu): number {
  return cpu.tge || (cpu.sr[SR.MDCR_EL2!]! & MDCR_TDE) !== 0n ? 2 : 1;
}

/** AArch64.GenerateDebugExceptionsFrom(el, mask = PSTATE.D): may debug exceptions be taken at `el`? */
function generateDebugExceptionsFrom(cpu: Cpu, el: number, d: number): boolean {
  if ((cpu.sr[SR.OSLSR_EL1!]! & OSLSR_OSLK) !== 0n) return false;
  const target = debugTargetEL(cpu);
  if (el === target) return (cpu.sr[SR.MDSCR_EL1!]! & MDSCR_KDE) !== 0n && d === 0;
  return target > el;
}

/** DebugExceptionReturnSS: PSTATE.SS after the return (software step active-not-pending, or 0). */
function exceptionReturnSS(cpu: Cpu, spsr: number, destEL: number): number {
  if (((spsr >>> 21) & 1) === 0 || (cpu.sr[SR.MDSCR_EL1!]! & MDSCR_SS) === 0n) return 0;
  const atSource = generateDebugExceptionsFrom(cpu, cpu.ps.el, (cpu.ps.daif >>> 3) & 1);
  const atDest = generateDebugExceptionsFrom(cpu, destEL, (spsr >>> 9) & 1);
  return !atSource && atDest ? 1 : 0;
}

/**
 * AArch64.ExceptionReturn from the current EL. An illegal return keeps PSTATE.EL and
 * SP, sets PSTATE.IL and restores the rest from SPSR, so that the next instruction
 * takes an Illegal Execution State exception; PC is ELR either way. A legal return
 * to AArch32 stops the machine.
 */
export function exceptionReturn(cpu: Cpu): void {
  const ps = cpu.ps;
  const fromEL = ps.el;
  const spsr = Number(cpu.sr[SPSR_[fromEL]!]! & 0xffff_ffffn);
  const kind = classifyReturn(cpu, spsr);
  if (kind === ReturnKind.AArch32) {
    throw new MachineStop(
      `ERET to AArch32 (SPSR_EL${fromEL} = 0x${spsr.toString(16)}): AArch32 execution is not implemented`,
    );
  }
  const destEL = kind === ReturnKind.Illegal ? fromEL : (spsr >>> 2) & 3;
  const ss = exceptionReturnSS(cpu, spsr, destEL);
  ps.setFlagsAndMasks(spsr);
  ps.ss = ss;
  if (kind === ReturnKind.Illegal) {
    ps.il = 1;
  } else {
    ps.el = destEL;
    ps.sp = spsr & 1;
  }
  // BranchAddr after PSTATE is updated: top-byte-ignore is the destination regime's.
  const target = cpu.branchAddr(cpu.sr[ELR[fromEL]!]!);
  cpu.pcs[0] = target;
  cpu.exclusiveClear();
  cpu.eventRegister = true; // an exception return sets the Event Register
  cpu.contextChanged();
  cpu.interruptsChanged();
  if (cpu.observer !== null) cpu.observer.exceptionReturned?.({ fromEL, toEL: ps.el, pc: target, spsr });
}
