// MRS/MSR semantics: access checks by EL, EL0 access controls, traps to EL2, VHE
// redirection and the _EL12/_EL02 aliases, then the read or write.
import type { SysregPe } from './special.js';
import type { MachineSysregs } from './machine.js';
import { ArchException, EC, defaultTargetEL, undefinedInstruction } from '../pe/exception.js';
import { checkFPEnabled } from '../pe/fp.js';
import { type SysregSpec, specOf, SYSREGS, SR, OTHER_TRAP, EL0_CONTROL } from './registry.js';

/** A PE as MRS and MSR see it: its state and its machine's system registers. */
export interface SysregAccessor extends SysregPe {
  readonly sysregs: MachineSysregs;
}

/** ESR ISS for a trapped MSR/MRS/System instruction (EC 0x18). */
export function sysTrapIss(
  s: { op0: number; op1: number; crn: number; crm: number; op2: number },
  rt: number,
  read: boolean,
): number {
  return (s.op0 << 20) | (s.op2 << 17) | (s.op1 << 14) | (s.crn << 10) | (rt << 5) | (s.crm << 1) | (read ? 1 : 0);
}

const vheTarget: (SysregSpec | undefined)[] = SYSREGS.map((s) => (s.vhe ? specOf(s.vhe) : undefined));
const aliasTarget: (SysregSpec | undefined)[] = SYSREGS.map((s) => (s.aliasOf ? specOf(s.aliasOf) : undefined));
const writeMask: (bigint | undefined)[] = SYSREGS.map((s) => s.writable);
const SP_EL0_ID = specOf('SP_EL0').id;

const MDCR_TDE = 1n << 8n,
  MDCR_TDA = 1n << 9n,
  MDCR_TDOSA = 1n << 10n,
  MDCR_TDRA = 1n << 11n;
const CPTR_TCPAC = 1n << 31n;

/** The SCTLR/CNTKCTL bit an EL0 access needs, by EL0_CONTROL code (index 0 unused). */
const EL0_BITS: readonly number[] = (() => {
  const b: number[] = [];
  b[EL0_CONTROL.UMA] = 1 << 9;
  b[EL0_CONTROL.UCT] = 1 << 15;
  b[EL0_CONTROL.EL0PCTEN] = 1;
  b[EL0_CONTROL.EL0VCTEN] = 2;
  b[EL0_CONTROL.EL0CTEN] = 3;
  b[EL0_CONTROL.EL0PTEN] = 1 << 9;
  b[EL0_CONTROL.EL0VTEN] = 1 << 8;
  return b;
})();

/** Whether EL0 may make this access: SCTLR_EL1/CNTKCTL_EL1, or the EL2 registers in a VHE host. */
function el0Allowed(cpu: SysregAccessor, code: number): boolean {
  const host = cpu.e2h && cpu.tge;
  const timer = code >= EL0_CONTROL.EL0PCTEN;
  const ctl = timer ? cpu.sr[host ? SR.CNTHCTL_EL2! : SR.CNTKCTL_EL1!]! : cpu.sctlr();
  return (Number(ctl & 0xffffn) & EL0_BITS[code]!) !== 0;
}

/** The CPTR_EL2, MDCR_EL2 and CNTHCTL_EL2 traps of an EL0/EL1 access (outside a VHE host). */
function otherTrapped(cpu: SysregAccessor, traps: number): boolean {
  if ((traps & OTHER_TRAP.TCPAC) !== 0 && cpu.ps.el === 1 && (cpu.sr[SR.CPTR_EL2!]! & CPTR_TCPAC) !== 0n) return true;
  if ((traps & (OTHER_TRAP.TDA | OTHER_TRAP.TDOSA | OTHER_TRAP.TDRA)) !== 0) {
    const mdcr = cpu.sr[SR.MDCR_EL2!]!;
    const bit = (traps & OTHER_TRAP.TDA) !== 0 ? MDCR_TDA : (traps & OTHER_TRAP.TDOSA) !== 0 ? MDCR_TDOSA : MDCR_TDRA;
    if ((mdcr & (bit | MDCR_TDE)) !== 0n) return true; // TDE traps all three
  }
  if ((traps & (OTHER_TRAP.EL1PCTEN | OTHER_TRAP.EL1PCEN)) !== 0) {
    // CNTHCTL_EL2 layout: EL1PCTEN bit 0 / EL1PCEN bit 1 with E2H=0; EL1PCTEN bit 10 / EL1PTEN bit 11 with E2H=1.
    const counter = (traps & OTHER_TRAP.EL1PCTEN) !== 0;
    const bit = cpu.e2h ? (counter ? 10n : 11n) : counter ? 0n : 1n;
    if (((cpu.sr[SR.CNTHCTL_EL2!]! >> bit) & 1n) === 0n) return true;
  }
  return false;
}

/**
 * The register an MRS/MSR at the current EL reaches, after the architectural checks
 * in the order the ARM ARM's accessor pseudocode makes them; throws the UNDEFINED
 * or trap exception the access takes instead.
 */
export function resolveAccess(cpu: SysregAccessor, s: SysregSpec, read: boolean, rt: number): SysregSpec {
  const el = cpu.ps.el;
  if (s.el > el) throw undefinedInstruction(cpu);
  if (read ? s.access === 'wo' : s.access === 'ro' || (el === 0 && s.el0ReadOnly === true) || el < (s.writeEl ?? 0)) {
    throw undefinedInstruction(cpu);
  }
  const alias = aliasTarget[s.id];
  if (alias !== undefined) {
    if (!cpu.e2h) throw undefinedInstruction(cpu); // _EL12/_EL02 need E2H=1 (and EL2, checked above)
    return alias;
  }
  if (s.id === SP_EL0_ID && cpu.ps.sp === 0) throw undefinedInstruction(cpu);
  if (s.fp === true) checkFPEnabled(cpu);
  const host = cpu.e2h && cpu.tge;
  if (el === 0 && s.el0Control !== 0 && !el0Allowed(cpu, s.el0Control)) {
    throw new ArchException(defaultTargetEL(cpu), EC.SYS, sysTrapIss(s, rt, read));
  }
  if (el < 2 && !host) {
    if (
      ((read ? s.trapRead : s.trapWrite) & cpu.hcr) !== 0 ||
      (s.otherTraps !== 0 && otherTrapped(cpu, s.otherTraps)) ||
      cpu.sysregs.access[s.id]?.trap?.(cpu, read) === true
    ) {
      throw new ArchException(2, EC.SYS, sysTrapIss(s, rt, read));
    }
  }
  if (cpu.e2h && (el === 2 || (el === 0 && cpu.tge))) return vheTarget[s.id] ?? s;
  return s;
}

/** Reads a register's current value, with no checks (as MRS does, side effects included; the world layer too). */
export function readSysreg(cpu: SysregAccessor, s: SysregSpec): bigint {
  const sp = cpu.sysregs.access[s.id];
  if (sp?.read) return sp.read(cpu);
  const a = aliasTarget[s.id];
  if (a !== undefined) return readSysreg(cpu, a);
  return cpu.sr[s.slot]!;
}

/** What a read would give, without a read's side effects (acknowledging an interrupt): the debugger's read. */
export function peekSysreg(cpu: SysregAccessor, s: SysregSpec): bigint {
  const sp = cpu.sysregs.access[s.id];
  return sp?.peek ? sp.peek(cpu) : readSysreg(cpu, s);
}

/** The bits of a register a write keeps (its write mask; every bit for a register without one). */
export function keptBits(s: SysregSpec): bigint {
  return writeMask[s.id] ?? 0xffff_ffff_ffff_ffffn;
}

/** What a register holds once `v` is written to it: its write mask, and what its device makes of the rest. */
export function heldSysreg(cpu: SysregAccessor, s: SysregSpec, v: bigint): bigint {
  const mask = writeMask[s.id];
  const sp = cpu.sysregs.access[s.id];
  const kept = mask === undefined ? v : v & mask;
  return sp?.held ? sp.held(kept) : kept;
}

/** Whether a hypervisor can know `s` holds `value` from a saved copy without reading it (a free list register). */
export function knownFromSaved(cpu: SysregAccessor, s: SysregSpec, value: bigint, saved: bigint): boolean {
  return cpu.sysregs.access[s.id]?.knownFrom?.(value, saved) ?? false;
}

/** Writes a register with its side effects and write mask, with no checks. */
export function writeSysreg(cpu: SysregAccessor, s: SysregSpec, v: bigint): void {
  const mask = writeMask[s.id];
  if (mask !== undefined) v &= mask;
  const sp = cpu.sysregs.access[s.id];
  if (sp?.write) {
    sp.write(cpu, v);
    cpu.mmu.controlWritten(s, null);
    return;
  }
  if (sp?.read) return; // a computed read-only value: writes are ignored
  const a = aliasTarget[s.id];
  if (a !== undefined) {
    writeSysreg(cpu, a, v);
    return;
  }
  cpu.mmu.controlWritten(s, v);
  cpu.sr[s.slot] = v;
}
