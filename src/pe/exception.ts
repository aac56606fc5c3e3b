// Exceptions as values and where they are routed: what the MMU, the system registers and
// the run loop all need to know about an exception before one is taken (taking it is
// cpu/exceptions.ts's job).
import type { PeState } from './state.js';
import { HCR } from '../sysregs/registry.js';
import { LINE, PHYSICAL_LINES } from './state.js';

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
  BREAKPOINT_LOWER: 0x30,
  BREAKPOINT_SAME: 0x31,
  SOFTWARE_STEP_LOWER: 0x32,
  SOFTWARE_STEP_SAME: 0x33,
  WATCHPOINT_LOWER: 0x34,
  WATCHPOINT_SAME: 0x35,
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
export function defaultTargetEL(cpu: PeState): number {
  return cpu.ps.el === 2 || (cpu.ps.el === 0 && cpu.tge) ? 2 : 1;
}

/** HCR_EL2 routing bits of the asynchronous exceptions, by VectorKind (Irq, Fiq, SError). */
const ROUTE_BIT = [0, HCR.IMO, HCR.FMO, HCR.AMO];
/** Their PSTATE mask bits within ps.daif (D=3, A=2, I=1, F=0) and HCR_EL2 virtual-pending bits. */
const MASK_BIT = [0, 1, 0, 2];
const VIRTUAL_BIT = [0, HCR.VI, HCR.VF, HCR.VSE];

/**
 * The EL a physical IRQ, FIQ or SError would be taken to now, or -1 while it is masked.
 * It is routed to EL2 under HCR_EL2.TGE or IMO/FMO/AMO (all three read as 1 in a VHE host),
 * else to EL1; one routed to EL1 is not taken at EL2 (QEMU and the ARM ARM agree), one routed
 * above the current EL is taken whatever PSTATE says, and one taken to the current EL is
 * masked by PSTATE.{I,F,A}. There is no EL3.
 */
export function physicalInterruptTarget(cpu: PeState, kind: VectorKind): number {
  const el = cpu.ps.el;
  const target = cpu.tge || ((cpu.hcr >>> ROUTE_BIT[kind]!) & 1) !== 0 ? 2 : 1;
  if (target < el) return -1;
  if (target > el) return target;
  return ((cpu.ps.daif >>> MASK_BIT[kind]!) & 1) !== 0 ? -1 : target;
}

/**
 * Whether the virtual IRQ/FIQ/SError that HCR_EL2.VI/VF/VSE makes pending is taken now
 * (always to EL1): only at EL0/EL1, with the matching IMO/FMO/AMO set, TGE clear, and
 * PSTATE not masking it.
 */
export function virtualInterruptPending(cpu: PeState, kind: VectorKind): boolean {
  return virtualPending(cpu, kind) && ((cpu.ps.daif >>> MASK_BIT[kind]!) & 1) === 0;
}

/** PeState.lines bits by VectorKind (Irq, Fiq, SError), and of the GIC's virtual IRQ and FIQ. */
export const LINE_BIT = [0, LINE.IRQ, LINE.FIQ, LINE.SERROR];
const VIRTUAL_LINE_BIT = [0, LINE.VIRQ, LINE.VFIQ, 0];

/**
 * Whether a virtual interrupt of this kind is pending for the PE: HCR_EL2.VI/VF/VSE or the
 * GIC's virtual IRQ/FIQ, with IMO/FMO/AMO, at EL0/EL1 outside a VHE host (whatever PSTATE masks).
 */
function virtualPending(cpu: PeState, kind: VectorKind): boolean {
  if (cpu.ps.el === 2 || cpu.tge || ((cpu.hcr >>> ROUTE_BIT[kind]!) & 1) === 0) return false;
  return ((cpu.hcr >>> VIRTUAL_BIT[kind]!) & 1) !== 0 || (cpu.lines & VIRTUAL_LINE_BIT[kind]!) !== 0;
}

/**
 * The interrupts ISR_EL1 shows as bits A (8), I (7), F (6): at EL1/EL0 with the routing
 * bit set the virtual one, otherwise the physical input.
 */
export function pendingInterrupts(cpu: PeState): number {
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
export function wakeupPending(cpu: PeState): boolean {
  return (
    (cpu.lines & PHYSICAL_LINES) !== 0 ||
    virtualPending(cpu, VectorKind.Irq) ||
    virtualPending(cpu, VectorKind.Fiq) ||
    virtualPending(cpu, VectorKind.SError)
  );
}

/** The architected UNDEFINED exception (EC 0x00) for the current instruction. */
export function undefinedInstruction(cpu: PeState): ArchException {
  return new ArchException(defaultTargetEL(cpu), EC.UNKNOWN, 0);
}

/** True when EL2 traps from EL0/EL1 apply (everything but the VHE host's EL0). */
export function el2TrapsApply(cpu: PeState): boolean {
  return cpu.ps.el < 2 && !(cpu.e2h && cpu.tge);
}
