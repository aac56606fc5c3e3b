// Taking exceptions: interrupts at instruction boundaries, AArch64.TakeException and
// AArch64.ExceptionReturn (what an exception is and where it goes: pe/exception.ts).
import type { Cpu } from './cpu.js';
import { SR, HCR } from '../sysregs/registry.js';
import {
  ArchException,
  MachineStop,
  EC,
  VectorKind,
  LINE_BIT,
  physicalInterruptTarget,
  virtualInterruptPending,
} from '../pe/exception.js';
import { PHYSICAL_LINES } from '../pe/state.js';
import { debugExceptionReturnSS, ssAdvance } from '../pe/debug.js';
import { ReturnedEvent, TakenEvent } from './events.js';

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
  if ((lines & PHYSICAL_LINES) !== 0) {
    for (const kind of ASYNC_ORDER) {
      if ((lines & LINE_BIT[kind]!) === 0) continue;
      const target = physicalInterruptTarget(cpu, kind);
      if (target < 0) continue;
      takeException(cpu, target, kind, cpu.pcs[0]!, kind === VectorKind.SError ? SERROR_ESR : 0);
      return true;
    }
  }
  if ((cpu.hcr & VIRTUAL_MASK) === 0 && (lines & ~PHYSICAL_LINES) === 0) return false;
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

const ELR = [0, SR.ELR_EL1!, SR.ELR_EL2!];
const SPSR_ = [0, SR.SPSR_EL1!, SR.SPSR_EL2!];
const ESR = [0, SR.ESR_EL1!, SR.ESR_EL2!];
const FAR = [0, SR.FAR_EL1!, SR.FAR_EL2!];
const VBAR = [0, SR.VBAR_EL1!, SR.VBAR_EL2!];
const SCTLR = [0, SR.SCTLR_EL1!, SR.SCTLR_EL2!];
const SCTLR_SPAN = 1n << 23n;
/** VBAR_ELx's base bits (a constant: V8 computes `~0x7ffn` again at each exception). */
const VBAR_BASE = ~0x7ffn;

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

  cpu.exceptionEntries++;
  ps.el = targetEL;
  ps.sp = 1;
  ps.daif = 0xf;
  ps.ss = 0;
  ps.il = 0;
  // PAN is set on entry when SCTLR_ELx.SPAN is 0 (EL1, or EL2 in the EL2&0 regime).
  if ((targetEL === 1 || (cpu.e2h && cpu.tge)) && (sr[SCTLR[targetEL]!]! & SCTLR_SPAN) === 0n) ps.pan = 1;
  const vector = BigInt.asUintN(64, (sr[VBAR[targetEL]!]! & VBAR_BASE) + offset);
  cpu.pcs[0] = vector;
  cpu.exclusiveClear();
  cpu.contextChanged();
  if (cpu.observer !== null) {
    const t = TAKEN;
    t.cpu = cpu;
    t.fromEL = fromEL;
    t.toEL = targetEL;
    t.kind = kind;
    t.esr = esr;
    t.farSet = far;
    t.elrIndex = ELR[targetEL]!;
    cpu.observer.exceptionTaken?.(t);
  }
}

/**
 * Takes an SVC/HVC exception from inside the instruction's semantics, without the cost
 * of a throw: these are on the world-switch path. The preferred return is the next instruction.
 */
export function takeCall(cpu: Cpu, targetEL: number, ec: number, imm16: number): void {
  ssAdvance(cpu);
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
  const ss = debugExceptionReturnSS(cpu, spsr, destEL);
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
  if (cpu.observer !== null) {
    const r = RETURNED;
    r.cpu = cpu;
    r.fromEL = fromEL;
    r.toEL = ps.el;
    r.spsr = spsr;
    cpu.observer.exceptionReturned?.(r);
  }
}

// The events' objects, filled in for each event: an observer reads them during its call and keeps what it needs.
const TAKEN = new TakenEvent();
const RETURNED = new ReturnedEvent();
