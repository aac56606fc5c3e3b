// System registers whose behaviour is more than storage: PSTATE views, counters,
// identification values, and writes with side effects. Keyed by table name.
import type { Cpu } from '../cpu/cpu.js';
import type { SysregSpec } from './registry.js';
import { SR } from './registry.js';

export interface SpecialAccess {
  read?(cpu: Cpu): bigint;
  write?(cpu: Cpu, v: bigint): void;
}

/** Identification values: advertise exactly what is implemented. */
export const ID_VALUES: Readonly<Record<string, bigint>> = {
  MIDR_EL1: 0x000f_0000n, // implementer 0 (software), architecture 0xF: see README
  MPIDR_EL1: 0x8000_0000n, // uniprocessor affinity 0.0.0
  REVIDR_EL1: 0n,
  AIDR_EL1: 0n,
  // EL0 AArch64; EL1 AArch64+AArch32 state (see README); EL2 AArch64; no EL3; FP and AdvSIMD not implemented.
  ID_AA64PFR0_EL1: 0x0000_0000_00ff_0121n,
  ID_AA64PFR1_EL1: 0n,
  ID_AA64DFR0_EL1: 0x0000_0000_0000_0006n, // Armv8.0 debug, no PMU
  ID_AA64DFR1_EL1: 0n,
  ID_AA64AFR0_EL1: 0n,
  ID_AA64AFR1_EL1: 0n,
  ID_AA64ISAR0_EL1: 0n,
  ID_AA64ISAR1_EL1: 0n,
  ID_AA64ISAR2_EL1: 0n,
  // PARange 48 bits, 16-bit ASIDs, 4K/16K/64K granules at stage 1 and 2.
  ID_AA64MMFR0_EL1: 0x0000_0000_0010_0025n,
  // VH (FEAT_VHE), PAN (FEAT_PAN), 8-bit VMIDs, no hardware AF/dirty update.
  ID_AA64MMFR1_EL1: 0x0000_0000_0010_0100n,
  ID_AA64MMFR2_EL1: 0n,
  CTR_EL0: 0x8444_c004n,
  DCZID_EL0: 0x4n, // DC ZVA zeroes 64 bytes
  CLIDR_EL1: 0x0a20_0023n,
  CCSIDR_EL1: 0x701f_e01an,
};

function pstate(read: (cpu: Cpu) => bigint, write: (cpu: Cpu, v: bigint) => void): SpecialAccess {
  return { read, write };
}

/** The deterministic clock: one counter tick per retired instruction. */
export function physicalCount(cpu: Cpu): bigint { return BigInt(cpu.icount); }

export const SPECIAL: Readonly<Record<string, SpecialAccess>> = {
  NZCV: pstate((c) => BigInt(c.ps.nzcv) << 28n, (c, v) => { c.ps.nzcv = Number((v >> 28n) & 0xfn); }),
  DAIF: pstate((c) => BigInt(c.ps.daif) << 6n, (c, v) => { c.ps.daif = Number((v >> 6n) & 0xfn); }),
  CurrentEL: { read: (c) => BigInt(c.ps.el) << 2n },
  SPSel: pstate((c) => BigInt(c.ps.sp), (c, v) => { c.ps.sp = Number(v & 1n); }),
  PAN: pstate((c) => BigInt(c.ps.pan) << 22n, (c, v) => { c.ps.pan = Number((v >> 22n) & 1n); }),
  SP_EL0: pstate((c) => c.spEl[0]!, (c, v) => { c.spEl[0] = v; }),
  SP_EL1: pstate((c) => c.spEl[1]!, (c, v) => { c.spEl[1] = v; }),
  HCR_EL2: { write: (c, v) => { c.sr[SR.HCR_EL2!] = v; c.hcrChanged(); } },
  CNTPCT_EL0: { read: physicalCount },
  CNTVCT_EL0: {
    read: (c) => {
      const offset = c.ps.el === 2 && c.e2h && c.tge ? 0n : c.sr[SR.CNTVOFF_EL2!]!;
      return BigInt.asUintN(64, physicalCount(c) - offset);
    },
  },
  ...Object.fromEntries(Object.entries(ID_VALUES).map(([k, v]) => [k, { read: () => v }])),
};

export function resetValue(s: SysregSpec): bigint {
  return s.reset ?? ID_VALUES[s.name] ?? 0n;
}
