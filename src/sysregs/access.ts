// MRS/MSR semantics: access checks, HCR_EL2 traps, VHE redirection, then the read or write.
import type { Cpu } from '../cpu/cpu.js';
import { ArchException, EC, defaultTargetEL, el2TrapsApply } from '../cpu/exceptions.js';
import { SPECIAL } from './special.js';
import { type SysregSpec, specOf, SYSREGS } from './registry.js';

/** ESR ISS for a trapped MSR/MRS/System instruction (EC 0x18). */
export function sysTrapIss(s: { op0: number; op1: number; crn: number; crm: number; op2: number }, rt: number, read: boolean): number {
  return (s.op0 << 20) | (s.op2 << 17) | (s.op1 << 14) | (s.crn << 10) | (rt << 5) | (s.crm << 1) | (read ? 1 : 0);
}

const special: (SpecialAccess | undefined)[] = SYSREGS.map((s) => SPECIAL[s.name]);
type SpecialAccess = (typeof SPECIAL)[string];
const vheTarget: (SysregSpec | undefined)[] = SYSREGS.map((s) => (s.vhe ? specOf(s.vhe) : undefined));
const aliasTarget: (SysregSpec | undefined)[] = SYSREGS.map((s) => (s.aliasOf ? specOf(s.aliasOf) : undefined));

/**
 * The register an MRS/MSR at the current EL reaches, after the architectural checks;
 * throws the UNDEFINED or trap exception the access takes instead.
 */
export function resolveAccess(cpu: Cpu, s: SysregSpec, read: boolean, rt: number): SysregSpec {
  const el = cpu.ps.el;
  if (s.el > el) throw new ArchException(defaultTargetEL(cpu), EC.UNKNOWN, 0);
  if ((read && s.access === 'wo') || (!read && s.access === 'ro')) {
    throw new ArchException(defaultTargetEL(cpu), EC.UNKNOWN, 0);
  }
  const alias = aliasTarget[s.id];
  if (alias !== undefined) {
    if (!(el === 2 && cpu.e2h)) throw new ArchException(defaultTargetEL(cpu), EC.UNKNOWN, 0);
    return alias;
  }
  if (el2TrapsApply(cpu) && ((read ? s.trapRead : s.trapWrite) & cpu.hcr) !== 0) {
    throw new ArchException(2, EC.SYS, sysTrapIss(s, rt, read));
  }
  if (el === 2 && cpu.e2h) return vheTarget[s.id] ?? s;
  return s;
}

/** Reads a register's current value, with no checks (the debugger and the world layer use this too). */
export function readSysreg(cpu: Cpu, s: SysregSpec): bigint {
  const sp = special[s.id];
  if (sp?.read) return sp.read(cpu);
  const a = aliasTarget[s.id];
  if (a !== undefined) return readSysreg(cpu, a);
  return cpu.sr[s.slot]!;
}

/** Writes a register with its side effects, with no checks. */
export function writeSysreg(cpu: Cpu, s: SysregSpec, v: bigint): void {
  const sp = special[s.id];
  if (sp?.write) { sp.write(cpu, v); return; }
  if (sp?.read) return; // a computed read-only value: writes are ignored
  const a = aliasTarget[s.id];
  if (a !== undefined) { writeSysreg(cpu, a, v); return; }
  cpu.sr[s.slot] = v;
  cpu.mmu.controlWritten(s);
}
