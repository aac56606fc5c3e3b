// The self-hosted debug architecture (ARM ARM D2, "AArch64 self-hosted debug"): which EL debug
// exceptions go to and when they may be taken, software step, and the breakpoint and
// watchpoint comparators DBGB{V,C}R<n>_EL1 / DBGW{V,C}R<n>_EL1. Named after the ARM ARM's
// pseudocode; where it leaves a choice (CONSTRAINED UNPREDICTABLE, IMPLEMENTATION DEFINED) the
// choice is QEMU's, so that guests see the same. There is no EL3 and no Secure state.
import type { PeState } from './state.js';
import { ArchException, EC } from './exception.js';
import { SR } from '../sysregs/registry.js';
import { BREAKPOINTS, WATCHPOINTS, CONTEXT_BREAKPOINTS } from './debug-ids.js';

const MDSCR_SS = 1n,
  MDSCR_KDE = 1n << 13n,
  MDSCR_MDE = 1n << 15n,
  MDCR_TDE = 1n << 8n,
  OSLSR_OSLK = 2n,
  OSDLR_DLK = 1n,
  DBGPRCR_CORENPDRQ = 1n;

/** The ISS's fault status code of every debug exception reported as an abort: "debug event". */
const DEBUG_FSC = 0x22;

/** DebugTarget(): where debug exceptions go, EL2 under HCR_EL2.TGE or MDCR_EL2.TDE, else EL1. */
export function debugTargetEL(cpu: PeState): number {
  return cpu.tge || (cpu.sr[SR.MDCR_EL2!]! & MDCR_TDE) !== 0n ? 2 : 1;
}

/** DoubleLockStatus(): OSDLR_EL1.DLK with DBGPRCR_EL1.CORENPDRQ clear (there is no Halting debug). */
function doubleLockStatus(cpu: PeState): boolean {
  return (cpu.sr[SR.OSDLR_EL1!]! & OSDLR_DLK) !== 0n && (cpu.sr[SR.DBGPRCR_EL1!]! & DBGPRCR_CORENPDRQ) === 0n;
}

/** AArch64.GenerateDebugExceptionsFrom(from, mask): may debug exceptions be taken at `el` with PSTATE.D = `d`? */
export function generateDebugExceptionsFrom(cpu: PeState, el: number, d: number): boolean {
  if ((cpu.sr[SR.OSLSR_EL1!]! & OSLSR_OSLK) !== 0n || doubleLockStatus(cpu)) return false;
  const target = debugTargetEL(cpu);
  if (el === target) return (cpu.sr[SR.MDSCR_EL1!]! & MDSCR_KDE) !== 0n && d === 0;
  return target > el;
}

/** AArch64.GenerateDebugExceptions(): from the current EL and PSTATE.D. */
export function generateDebugExceptions(cpu: PeState): boolean {
  return generateDebugExceptionsFrom(cpu, cpu.ps.el, (cpu.ps.daif >>> 3) & 1);
}

/** Software step is active (MDSCR_EL1.SS and debug exceptions enabled here); PSTATE.SS then says which state. */
export function softwareStepActive(cpu: PeState): boolean {
  return (cpu.sr[SR.MDSCR_EL1!]! & MDSCR_SS) !== 0n && generateDebugExceptions(cpu);
}

/** DebugExceptionReturnSS(spsr): PSTATE.SS after a return to `destEL` (SPSR.SS only into a newly enabled EL). */
export function debugExceptionReturnSS(cpu: PeState, spsr: number, destEL: number): number {
  if (((spsr >>> 21) & 1) === 0 || (cpu.sr[SR.MDSCR_EL1!]! & MDSCR_SS) === 0n) return 0;
  const atSource = generateDebugExceptions(cpu);
  const atDest = generateDebugExceptionsFrom(cpu, destEL, (spsr >>> 9) & 1);
  return !atSource && atDest ? 1 : 0;
}

/** SSAdvance(): an SVC, HVC or SMC completes the step of itself before its exception is taken (SPSR.SS = 0). */
export function ssAdvance(cpu: PeState): void {
  if (cpu.ps.ss !== 0 && (cpu.sr[SR.MDSCR_EL1!]! & MDSCR_SS) !== 0n) cpu.ps.ss = 0;
}

/**
 * Whether any debug event can fire: the OS lock open, and software step enabled or a breakpoint
 * or watchpoint enabled under MDSCR_EL1.MDE. While it is false nothing here is consulted
 * (the run loop and compiled code go their fast way); the EL and PSTATE.D are tested per event.
 */
export function selfDebugArmed(cpu: PeState): boolean {
  const sr = cpu.sr;
  if ((sr[SR.OSLSR_EL1!]! & OSLSR_OSLK) !== 0n) return false;
  const mdscr = sr[SR.MDSCR_EL1!]!;
  if ((mdscr & MDSCR_SS) !== 0n) return true;
  if ((mdscr & MDSCR_MDE) === 0n) return false;
  for (let n = 0; n < BREAKPOINTS; n++) if ((sr[DBGBCR[n]!]! & 1n) !== 0n) return true;
  for (let n = 0; n < WATCHPOINTS; n++) if ((sr[DBGWCR[n]!]! & 1n) !== 0n) return true;
  return false;
}

const DBGBVR = Array.from({ length: BREAKPOINTS }, (_, n) => SR[`DBGBVR${n}_EL1`]!);
const DBGBCR = Array.from({ length: BREAKPOINTS }, (_, n) => SR[`DBGBCR${n}_EL1`]!);
const DBGWVR = Array.from({ length: WATCHPOINTS }, (_, n) => SR[`DBGWVR${n}_EL1`]!);
const DBGWCR = Array.from({ length: WATCHPOINTS }, (_, n) => SR[`DBGWCR${n}_EL1`]!);

/**
 * A debug exception from the current EL, taken to the debug target: the EC of the lower-EL form
 * plus one when taken to the same EL. Only made while debug exceptions are enabled, so the
 * target is never below the current EL.
 */
function debugException(cpu: PeState, lowerEC: number, iss: number, far?: bigint): ArchException {
  const target = debugTargetEL(cpu);
  return new ArchException(target, lowerEC + (target === cpu.ps.el ? 1 : 0), iss, far);
}

/**
 * The software step exception (EC 0x32/0x33). `isv` says the step of an instruction just completed
 * (then `ex` says whether it was a load-exclusive); without it the PE found itself active-pending
 * (entering an exception, unmasking PSTATE.D).
 */
export function softwareStepException(cpu: PeState, isv: boolean, ex: boolean): ArchException {
  return debugException(cpu, EC.SOFTWARE_STEP_LOWER, (isv ? 1 << 24 : 0) | (ex ? 1 << 6 : 0) | DEBUG_FSC);
}

/** Whether a 32-bit A64 instruction is a load-exclusive (LDXR, LDAXR, LDXP, LDAXP): a step syndrome's EX. */
export function isLoadExclusive(raw: number): boolean {
  return (raw & 0x3fc0_0000) === 0x0840_0000;
}

/**
 * AArch64.StateMatch(SSC, HMC, PxC, linked, LBN, …) for an access at `el`: QEMU's reading, with
 * no EL3 and Non-secure only (SSC 0b10, Secure only, never matches); a linked comparator also
 * needs its context breakpoint LBN to match.
 */
function stateMatch(cpu: PeState, cr: bigint, el: number, linked: boolean): boolean {
  const c = Number(cr & 0xff_ffffn);
  if (((c >>> 14) & 3) === 2) return false;
  if (el === 2 ? ((c >>> 13) & 1) === 0 : ((c >>> (el === 1 ? 1 : 2)) & 1) === 0) return false;
  return !linked || contextMatch(cpu, (c >>> 16) & 0xf, true);
}

/** The CONTEXTIDR an unlinked or linked context-ID breakpoint (BT 0b001x) compares in the current regime. */
function contextIdr(cpu: PeState): bigint | null {
  const el = cpu.ps.el;
  if (cpu.e2h && (el === 2 || (el === 0 && cpu.tge))) return cpu.sr[SR.CONTEXTIDR_EL2!]!;
  return el < 2 ? cpu.sr[SR.CONTEXTIDR_EL1!]! : null;
}

/**
 * The context half of AArch64.BreakpointValueMatch for breakpoint n (a context-aware one):
 * CONTEXTIDR_EL1/EL2 and the VMID against DBGBVR. `linkedTo`: asked by a linked address
 * breakpoint or watchpoint, which needs a linked context type; an unlinked one fires alone.
 */
function contextMatch(cpu: PeState, n: number, linkedTo: boolean): boolean {
  // The context-aware ones are the highest-numbered; a link to another is CONSTRAINED UNPREDICTABLE: as disabled.
  if (n >= BREAKPOINTS || n < BREAKPOINTS - CONTEXT_BREAKPOINTS) return false;
  const bcr = cpu.sr[DBGBCR[n]!]!;
  if ((bcr & 1n) === 0n) return false;
  const bt = Number((bcr >> 20n) & 0xfn);
  if ((bt & 0b1110) === 0 || (bt & 0b1110) === 0b0100) return false; // an address (or reserved mismatch) type
  if (((bt & 1) === 1) !== linkedTo) return false;
  const bvr = cpu.sr[DBGBVR[n]!]!;
  const el = cpu.ps.el;
  const host = cpu.e2h && cpu.tge;
  const low = bvr & 0xffff_ffffn;
  let match = true;
  switch (bt >>> 1) {
    case 0b001: {
      const cid = contextIdr(cpu);
      match = cid !== null && (cid & 0xffff_ffffn) === low;
      break;
    }
    case 0b011: // CONTEXTIDR_EL1 only
      match = el < 2 && !host && (cpu.sr[SR.CONTEXTIDR_EL1!]! & 0xffff_ffffn) === low;
      break;
    case 0b100: // VMID
    case 0b101: // VMID and CONTEXTIDR_EL1
      match = el < 2 && !host && ((cpu.sr[SR.VTTBR_EL2!]! >> 48n) & 0xffn) === ((bvr >> 32n) & 0xffn);
      if (bt >>> 1 === 0b101) match &&= (cpu.sr[SR.CONTEXTIDR_EL1!]! & 0xffff_ffffn) === low;
      break;
    case 0b110: // CONTEXTIDR_EL2, in DBGBVR[63:32]
    case 0b111: // CONTEXTIDR_EL2 and CONTEXTIDR_EL1
      match = (cpu.sr[SR.CONTEXTIDR_EL2!]! & 0xffff_ffffn) === bvr >> 32n;
      if (bt >>> 1 === 0b111) match &&= el < 2 && !host && (cpu.sr[SR.CONTEXTIDR_EL1!]! & 0xffff_ffffn) === low;
      break;
  }
  return match;
}

/**
 * AArch64.BreakpointMatch(n, pc): an enabled address breakpoint (BT 0b000x) whose DBGBVR is
 * the PC and whose BAS selects its first byte (0b0011 and 0b1111 do), or an unlinked context
 * breakpoint (BT 0b0010, 0b0110, 0b1000, 0b1010, 0b1100, 0b1110) whose context is current.
 */
function breakpointMatch(cpu: PeState, n: number, pc: bigint): boolean {
  const bcr = cpu.sr[DBGBCR[n]!]!;
  if ((bcr & 1n) === 0n) return false;
  const bt = Number((bcr >> 20n) & 0xfn);
  let linked = false;
  if (bt <= 1) {
    if (((bcr >> 5n) & 1n) === 0n || (cpu.sr[DBGBVR[n]!]! & ~3n) !== pc) return false;
    linked = bt === 1;
  } else if (!contextMatch(cpu, n, false)) return false;
  return stateMatch(cpu, bcr, cpu.ps.el, linked);
}

/**
 * AArch64.CheckBreakpoint for the instruction at `pc`, after its fetch translated: the
 * breakpoint exception (EC 0x30/0x31, FAR written as 0 as QEMU does: it is UNKNOWN) when
 * MDSCR_EL1.MDE is set, debug exceptions are enabled and a breakpoint matches.
 */
export function checkBreakpoint(cpu: PeState, pc: bigint): void {
  if ((cpu.sr[SR.MDSCR_EL1!]! & MDSCR_MDE) === 0n || !generateDebugExceptions(cpu)) return;
  for (let n = 0; n < BREAKPOINTS; n++) {
    if (breakpointMatch(cpu, n, pc)) throw debugException(cpu, EC.BREAKPOINT_LOWER, DEBUG_FSC, 0n);
  }
}

/**
 * The bytes watchpoint n watches, [start, start + length), or null when it watches none,
 * with QEMU's resolution of what the ARM ARM leaves CONSTRAINED UNPREDICTABLE: a MASK of 1 or 2
 * (reserved) disables it; with a MASK the BAS is ignored and bits of DBGWVR below the mask too;
 * DBGWVR[2] set makes BAS[7:4] ignored; of a non-contiguous BAS only its lowest run of ones counts.
 */
function watchedRange(wvr: bigint, wcr: bigint): { start: bigint; length: bigint } | null {
  const mask = Number((wcr >> 24n) & 0x1fn);
  if (mask === 1 || mask === 2) return null;
  if (mask !== 0) {
    const length = 1n << BigInt(mask);
    return { start: wvr & ~(length - 1n), length };
  }
  let bas = Number((wcr >> 5n) & 0xffn);
  if ((wvr & 4n) !== 0n) bas &= 0xf;
  if (bas === 0) return null;
  const first = 31 - Math.clz32(bas & -bas);
  const run = bas >>> first;
  const length = 31 - Math.clz32(~run & (run + 1)); // the ones from bit 0 up
  return { start: (wvr & ~3n) + BigInt(first), length: BigInt(length) };
}

/**
 * AArch64.CheckWatchpoint for a data access of `size` bytes at `va` (after it translated):
 * the watchpoint exception (EC 0x34/0x35, WnR) when MDSCR_EL1.MDE is set, debug exceptions are
 * enabled and an enabled watchpoint of the access's kind (DBGWCR.LSC) watches a byte of it.
 * An unprivileged access (LDTR, STTR) matches as one from EL0. FAR is the lowest byte both
 * accessed and watched, as QEMU reports it.
 */
export function checkWatchpoint(cpu: PeState, va: bigint, size: number, write: boolean, unprivileged: boolean): void {
  if ((cpu.sr[SR.MDSCR_EL1!]! & MDSCR_MDE) === 0n || !generateDebugExceptions(cpu)) return;
  const el = unprivileged ? 0 : cpu.ps.el;
  const end = va + BigInt(size);
  for (let n = 0; n < WATCHPOINTS; n++) {
    const wcr = cpu.sr[DBGWCR[n]!]!;
    if ((wcr & 1n) === 0n || ((wcr >> (write ? 4n : 3n)) & 1n) === 0n) continue;
    const r = watchedRange(cpu.sr[DBGWVR[n]!]!, wcr);
    if (r === null || va >= r.start + r.length || end <= r.start) continue;
    if (!stateMatch(cpu, wcr, el, ((wcr >> 20n) & 1n) !== 0n)) continue;
    throw debugException(cpu, EC.WATCHPOINT_LOWER, (write ? 1 << 6 : 0) | DEBUG_FSC, va > r.start ? va : r.start);
  }
}

/** DBGBCR<n>_EL1 as written: BAS[3] and BAS[1] are read-only copies of BAS[2] and BAS[0] (QEMU keeps the rest). */
export function breakpointControlWritten(v: bigint): bigint {
  const bas = (v >> 5n) & 0b0101n;
  return (v & ~(0xfn << 5n)) | ((bas | (bas << 1n)) << 5n);
}
