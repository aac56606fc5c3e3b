// What the executor comparisons of test/unit share: a PE's state set from random values, and the
// outcome of running one instruction on it.
import type { Cpu } from '../../src/cpu/cpu.js';
import { ArchException } from '../../src/pe/exception.js';

/** General-purpose registers, SP_EL0..SP_EL2, NZCV, the EL and PSTATE.SP to give each PE compared. */
export interface PeState {
  regs: readonly bigint[];
  sps: readonly bigint[];
  nzcv: number;
  el: number;
  sp: number;
}

export function setState(c: Cpu, s: PeState): void {
  s.regs.forEach((v, i) => (c.x[i] = v));
  s.sps.forEach((v, i) => (c.spEl[i] = v));
  c.ps.nzcv = s.nzcv;
  c.ps.el = s.el;
  c.ps.sp = s.sp;
}

/** Runs `f`, returning the exception class and syndrome it threw, or '' (anything else escapes). */
export function outcome(f: () => void): string {
  try {
    f();
    return '';
  } catch (e) {
    if (e instanceof ArchException) return `exception ${e.ec}/${e.iss}`;
    throw e;
  }
}
