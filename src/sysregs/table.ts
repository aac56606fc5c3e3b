// The system-register table, as data. Each row: architectural name, encoding
// 'op0 op1 CRn CRm op2', reset value, the lowest EL that may access it, the
// HCR_EL2 controls that trap it from EL0/EL1, and its VHE behaviour.
// Behaviour that is not plain storage (PSTATE views, counters, ID values) lives
// in ./special.ts, keyed by name, so this file stays a table.

/** HCR_EL2 trap controls, named as in the ARM ARM. */
export type HcrTrap = 'TVM' | 'TRVM' | 'TID1' | 'TID2' | 'TID3' | 'TACR';

/** Which part of the guest's state a register belongs to, for the world-switch layer. */
export type Group = 'el1' | 'el0' | 'aarch32' | 'el2' | 'id' | 'pstate' | 'timer' | 'debug';

export interface SysregRow {
  readonly name: string;
  readonly enc: string;
  readonly reset?: bigint;
  /** Lowest EL that may access it; 0 rows may carry an extra EL0 condition in special.ts. */
  readonly el: 0 | 1 | 2;
  readonly access?: 'ro' | 'wo';
  readonly traps?: readonly HcrTrap[];
  /** At EL2 with HCR_EL2.E2H=1, this encoding reaches the named register instead. */
  readonly vhe?: string;
  /** An alias encoding (_EL12/_EL02) of the named register, usable only at EL2 with E2H=1. */
  readonly aliasOf?: string;
  readonly group: Group;
}

const TVM: readonly HcrTrap[] = ['TVM', 'TRVM'];

function row(name: string, enc: string, el: 0 | 1 | 2, group: Group, more: Partial<SysregRow> = {}): SysregRow {
  return { name, enc, el, group, ...more };
}

/** The guest EL1 registers KVM switches, with their VHE redirection and _EL12 alias. */
function el1(name: string, enc: string, reset: bigint, traps: readonly HcrTrap[] = TVM, vheName?: string): SysregRow[] {
  const base = name.replace(/_EL1$/, '');
  const [op0, , crn, crm, op2] = enc.split(' ');
  const rows: SysregRow[] = [row(name, enc, 1, 'el1', { reset, traps, vhe: vheName ?? `${base}_EL2` })];
  rows.push(row(`${base}_EL12`, `${op0} 5 ${crn} ${crm} ${op2}`, 2, 'el1', { aliasOf: name }));
  return rows;
}

export const SYSREG_ROWS: readonly SysregRow[] = [
  // --- guest EL1 state switched by a hypervisor (KVM's __sysreg_save_el1_state and friends) ---
  ...el1('SCTLR_EL1', '3 0 1 0 0', 0x30d0_0800n),
  ...el1('CPACR_EL1', '3 0 1 0 2', 0n, [], 'CPTR_EL2'),
  ...el1('TTBR0_EL1', '3 0 2 0 0', 0n),
  ...el1('TTBR1_EL1', '3 0 2 0 1', 0n),
  ...el1('TCR_EL1', '3 0 2 0 2', 0n),
  ...el1('SPSR_EL1', '3 0 4 0 0', 0n, []),
  ...el1('ELR_EL1', '3 0 4 0 1', 0n, []),
  ...el1('AFSR0_EL1', '3 0 5 1 0', 0n),
  ...el1('AFSR1_EL1', '3 0 5 1 1', 0n),
  ...el1('ESR_EL1', '3 0 5 2 0', 0n),
  ...el1('FAR_EL1', '3 0 6 0 0', 0n),
  ...el1('MAIR_EL1', '3 0 10 2 0', 0n),
  ...el1('AMAIR_EL1', '3 0 10 3 0', 0n),
  ...el1('VBAR_EL1', '3 0 12 0 0', 0n, []),
  ...el1('CONTEXTIDR_EL1', '3 0 13 0 1', 0n),
  ...el1('CNTKCTL_EL1', '3 0 14 1 0', 0n, [], 'CNTHCTL_EL2'),
  row('ACTLR_EL1', '3 0 1 0 1', 1, 'el1', { reset: 0n, traps: ['TACR'] }),
  row('PAR_EL1', '3 0 7 4 0', 1, 'el1', { reset: 0n }),
  row('TPIDR_EL1', '3 0 13 0 4', 1, 'el1', { reset: 0n }),
  row('CSSELR_EL1', '3 2 0 0 0', 1, 'el1', { reset: 0n, traps: ['TID2'] }),
  row('MDSCR_EL1', '2 0 0 2 2', 1, 'el1', { reset: 0n }),
  row('SP_EL1', '3 4 4 1 0', 2, 'el1'),
  row('TPIDR_EL0', '3 3 13 0 2', 0, 'el0', { reset: 0n }),
  row('TPIDRRO_EL0', '3 3 13 0 3', 0, 'el0', { reset: 0n }),
  // --- AArch32 EL1 state an AArch64 hypervisor saves for 32-bit guests ---
  row('DACR32_EL2', '3 4 3 0 0', 2, 'aarch32', { reset: 0n }),
  row('IFSR32_EL2', '3 4 5 0 1', 2, 'aarch32', { reset: 0n }),
  row('FPEXC32_EL2', '3 4 5 3 0', 2, 'aarch32', { reset: 0x700n }),
  // --- PSTATE views and special-purpose registers ---
  row('NZCV', '3 3 4 2 0', 0, 'pstate'),
  row('DAIF', '3 3 4 2 1', 0, 'pstate'),
  row('CurrentEL', '3 0 4 2 2', 1, 'pstate', { access: 'ro' }),
  row('SPSel', '3 0 4 2 0', 1, 'pstate'),
  row('PAN', '3 0 4 2 3', 1, 'pstate'),
  row('SP_EL0', '3 0 4 1 0', 1, 'pstate'),
  // --- EL2 ---
  row('VPIDR_EL2', '3 4 0 0 0', 2, 'el2', { reset: 0x410f_d083n }),
  row('VMPIDR_EL2', '3 4 0 0 5', 2, 'el2', { reset: 0x8000_0000n }),
  row('SCTLR_EL2', '3 4 1 0 0', 2, 'el2', { reset: 0x30c5_0830n }),
  row('ACTLR_EL2', '3 4 1 0 1', 2, 'el2', { reset: 0n }),
  row('HCR_EL2', '3 4 1 1 0', 2, 'el2', { reset: 0n }),
  row('MDCR_EL2', '3 4 1 1 1', 2, 'el2', { reset: 0n }),
  row('CPTR_EL2', '3 4 1 1 2', 2, 'el2', { reset: 0x33ffn }),
  row('HSTR_EL2', '3 4 1 1 3', 2, 'el2', { reset: 0n }),
  row('HACR_EL2', '3 4 1 1 7', 2, 'el2', { reset: 0n }),
  row('TTBR0_EL2', '3 4 2 0 0', 2, 'el2', { reset: 0n }),
  row('TTBR1_EL2', '3 4 2 0 1', 2, 'el2', { reset: 0n }),
  row('TCR_EL2', '3 4 2 0 2', 2, 'el2', { reset: 0n }),
  row('VTTBR_EL2', '3 4 2 1 0', 2, 'el2', { reset: 0n }),
  row('VTCR_EL2', '3 4 2 1 2', 2, 'el2', { reset: 0n }),
  row('SPSR_EL2', '3 4 4 0 0', 2, 'el2', { reset: 0n }),
  row('ELR_EL2', '3 4 4 0 1', 2, 'el2', { reset: 0n }),
  row('AFSR0_EL2', '3 4 5 1 0', 2, 'el2', { reset: 0n }),
  row('AFSR1_EL2', '3 4 5 1 1', 2, 'el2', { reset: 0n }),
  row('ESR_EL2', '3 4 5 2 0', 2, 'el2', { reset: 0n }),
  row('FAR_EL2', '3 4 6 0 0', 2, 'el2', { reset: 0n }),
  row('HPFAR_EL2', '3 4 6 0 4', 2, 'el2', { reset: 0n }),
  row('MAIR_EL2', '3 4 10 2 0', 2, 'el2', { reset: 0n }),
  row('AMAIR_EL2', '3 4 10 3 0', 2, 'el2', { reset: 0n }),
  row('VBAR_EL2', '3 4 12 0 0', 2, 'el2', { reset: 0n }),
  row('CONTEXTIDR_EL2', '3 4 13 0 1', 2, 'el2', { reset: 0n }),
  row('TPIDR_EL2', '3 4 13 0 2', 2, 'el2', { reset: 0n }),
  row('CNTHCTL_EL2', '3 4 14 1 0', 2, 'el2', { reset: 0x3n }),
  row('CNTVOFF_EL2', '3 4 14 0 3', 2, 'el2', { reset: 0n }),
  // --- generic timer: counters driven by the instruction-count clock ---
  row('CNTFRQ_EL0', '3 3 14 0 0', 0, 'timer', { reset: 62_500_000n }),
  row('CNTPCT_EL0', '3 3 14 0 1', 0, 'timer', { access: 'ro' }),
  row('CNTVCT_EL0', '3 3 14 0 2', 0, 'timer', { access: 'ro' }),
  // --- identification: exactly what is implemented (values in special.ts) ---
  row('MIDR_EL1', '3 0 0 0 0', 1, 'id', { access: 'ro' }),
  row('MPIDR_EL1', '3 0 0 0 5', 1, 'id', { access: 'ro' }),
  row('REVIDR_EL1', '3 0 0 0 6', 1, 'id', { access: 'ro', traps: ['TID1'] }),
  row('AIDR_EL1', '3 1 0 0 7', 1, 'id', { access: 'ro', traps: ['TID1'] }),
  row('ID_AA64PFR0_EL1', '3 0 0 4 0', 1, 'id', { access: 'ro', traps: ['TID3'] }),
  row('ID_AA64PFR1_EL1', '3 0 0 4 1', 1, 'id', { access: 'ro', traps: ['TID3'] }),
  row('ID_AA64DFR0_EL1', '3 0 0 5 0', 1, 'id', { access: 'ro', traps: ['TID3'] }),
  row('ID_AA64DFR1_EL1', '3 0 0 5 1', 1, 'id', { access: 'ro', traps: ['TID3'] }),
  row('ID_AA64AFR0_EL1', '3 0 0 5 4', 1, 'id', { access: 'ro', traps: ['TID3'] }),
  row('ID_AA64AFR1_EL1', '3 0 0 5 5', 1, 'id', { access: 'ro', traps: ['TID3'] }),
  row('ID_AA64ISAR0_EL1', '3 0 0 6 0', 1, 'id', { access: 'ro', traps: ['TID3'] }),
  row('ID_AA64ISAR1_EL1', '3 0 0 6 1', 1, 'id', { access: 'ro', traps: ['TID3'] }),
  row('ID_AA64ISAR2_EL1', '3 0 0 6 2', 1, 'id', { access: 'ro', traps: ['TID3'] }),
  row('ID_AA64MMFR0_EL1', '3 0 0 7 0', 1, 'id', { access: 'ro', traps: ['TID3'] }),
  row('ID_AA64MMFR1_EL1', '3 0 0 7 1', 1, 'id', { access: 'ro', traps: ['TID3'] }),
  row('ID_AA64MMFR2_EL1', '3 0 0 7 2', 1, 'id', { access: 'ro', traps: ['TID3'] }),
  row('CTR_EL0', '3 3 0 0 1', 0, 'id', { access: 'ro', traps: ['TID2'] }),
  row('DCZID_EL0', '3 3 0 0 7', 0, 'id', { access: 'ro' }),
  row('CLIDR_EL1', '3 1 0 0 1', 1, 'id', { access: 'ro', traps: ['TID2'] }),
  row('CCSIDR_EL1', '3 1 0 0 0', 1, 'id', { access: 'ro', traps: ['TID2'] }),
];
