// AArch64.CheckFPAdvSIMDEnabled: the enables every SIMD&FP instruction and the FPCR, FPSR and
// FPEXC32_EL2 accesses pass (CPACR_EL1.FPEN, then CPTR_EL2.TFP, or CPTR_EL2.FPEN with E2H=1).
// There is no EL3, and EL2 is always enabled.
import type { PeState } from './state.js';
import { ArchException, EC } from './exception.js';
import { SR } from '../sysregs/registry.js';

/** ISS of EC 0x07 from AArch64 state: CV = 1, COND = 0b1110 (QEMU and hardware report 0x1E00000). */
const FP_TRAP_ISS = 0x1e0_0000;

/** AArch64.AdvSIMDFPAccessTrap: to EL2 as Uncategorized when an EL1 trap is routed there by TGE. */
function fpAccessTrap(cpu: PeState, targetEL: number): ArchException {
  if (targetEL === 1 && cpu.tge) return new ArchException(2, EC.UNKNOWN, 0);
  return new ArchException(targetEL, EC.FP_ACCESS, FP_TRAP_ISS);
}

/** FPEN-style controls: 0bx0 traps EL0 and EL1 (EL2 too in CPTR_EL2's E2H layout), 0b01 only EL0. */
function fpen(reg: bigint): number {
  return Number((reg >> 20n) & 3n);
}

export function checkFPEnabled(cpu: PeState): void {
  const el = cpu.ps.el;
  // IsInHost(): EL0 (or EL2) with E2H and TGE set; CPACR_EL1 does not apply there.
  if (el < 2 && !(cpu.e2h && cpu.tge)) {
    const f = fpen(cpu.sr[SR.CPACR_EL1!]!);
    if ((f & 1) === 0 || (f === 1 && el === 0)) throw fpAccessTrap(cpu, 1);
  }
  if (cptrTrapsFP(cpu, el)) throw fpAccessTrap(cpu, 2);
}

/**
 * Whether CPTR_EL2 traps SIMD&FP use at `el` (TFP, or FPEN with E2H=1): the trap a hypervisor that
 * switches FP lazily relies on, which the world layer checks at a guest entry.
 */
export function cptrTrapsFP(cpu: PeState, el: number): boolean {
  const cptr = cpu.sr[SR.CPTR_EL2!]!;
  if (!cpu.e2h) return (cptr & 0x400n) !== 0n;
  const f = fpen(cptr);
  return (f & 1) === 0 || (f === 1 && el === 0 && cpu.tge);
}
