// The system-register table, as data. Each row: architectural name, encoding
// 'op0 op1 CRn CRm op2', reset value, the lowest EL that may access it, the
// controls that trap it, and its VHE behaviour. Behaviour that is not plain
// storage (PSTATE views, counters, timers, ID values, layout-dependent RES1 bits)
// lives in ./special.ts, keyed by name, so this file stays a table.
import { BREAKPOINTS, WATCHPOINTS } from '../pe/debug-ids.js';

/**
 * Controls that trap an access from EL0/EL1 to EL2, named as in the ARM ARM:
 * HCR_EL2 bits (TIDCP for the IMPLEMENTATION DEFINED registers devices add),
 * CPTR_EL2.TCPAC, MDCR_EL2.TDA/TDOSA/TDRA, and the CNTHCTL_EL2 controls of the EL1
 * physical counter and timer (EL1PCTEN, EL1PCEN; EL1PTEN with E2H=1).
 */
export type Trap =
  | 'TVM'
  | 'TRVM'
  | 'TID1'
  | 'TID2'
  | 'TID3'
  | 'TACR'
  | 'TIDCP'
  | 'TCPAC'
  | 'TDA'
  | 'TDOSA'
  | 'TDRA'
  | 'EL1PCTEN'
  | 'EL1PCEN';

/**
 * The SCTLR_EL1 (or CNTKCTL_EL1) control that lets EL0 reach a register marked EL0;
 * without it the access traps to EL1 (EL2 under TGE). With E2H=1 and TGE=1 the same
 * bits of SCTLR_EL2 / CNTHCTL_EL2 decide, and the trap goes to EL2.
 */
export type El0Control = 'UMA' | 'UCT' | 'EL0PCTEN' | 'EL0VCTEN' | 'EL0CTEN' | 'EL0PTEN' | 'EL0VTEN';

/** Which part of the guest's state a register belongs to, for the world-switch layer. */
export type Group = 'el1' | 'el0' | 'fp' | 'aarch32' | 'el2' | 'id' | 'pstate' | 'timer' | 'debug' | 'gic';

export interface SysregRow {
  readonly name: string;
  readonly enc: string;
  readonly reset?: bigint;
  /** Lowest EL that may access it. */
  readonly el: 0 | 1 | 2;
  readonly access?: 'ro' | 'wo';
  /** Read-only at EL0 although writable above (TPIDRRO_EL0). */
  readonly el0ReadOnly?: boolean;
  /** Writable only from this EL up (CNTFRQ_EL0: the highest implemented EL); UNDEFINED below. */
  readonly writeEl?: 1 | 2;
  /** For EL0 registers: the control an EL0 access needs (none: always accessible). */
  readonly el0?: El0Control;
  readonly traps?: readonly Trap[];
  /** Bits a write can change (others read as written-by-reset, i.e. RES0 when reset is 0). */
  readonly writable?: bigint;
  /** At EL2 with HCR_EL2.E2H=1, this encoding reaches the named register instead. */
  readonly vhe?: string;
  /** A SIMD&FP register: its accesses first pass AArch64.CheckFPAdvSIMDEnabled (EC 0x07 traps). */
  readonly fp?: boolean;
  /** An alias encoding (_EL12/_EL02) of the named register, usable only at EL2 with E2H=1. */
  readonly aliasOf?: string;
  readonly group: Group;
}

const TVM: readonly Trap[] = ['TVM', 'TRVM'];

function row(name: string, enc: string, el: 0 | 1 | 2, group: Group, more: Partial<SysregRow> = {}): SysregRow {
  return { name, enc, el, group, ...more };
}

/** A register with its VHE redirection target and its _EL12/_EL02 alias (op1 = 5). */
function vheRow(
  name: string,
  enc: string,
  el: 0 | 1,
  group: Group,
  vhe: string,
  more: Partial<SysregRow> = {},
): SysregRow[] {
  const [op0, , crn, crm, op2] = enc.split(' ');
  const alias = name.replace(/_EL1$/, '_EL12').replace(/_EL0$/, '_EL02');
  return [
    row(name, enc, el, group, { ...more, vhe }),
    row(alias, `${op0} 5 ${crn} ${crm} ${op2}`, 2, group, { aliasOf: name }),
  ];
}

/** The guest EL1 registers KVM switches: TVM/TRVM-trapped unless told otherwise. */
function el1(
  name: string,
  enc: string,
  reset: bigint,
  traps: readonly Trap[] = TVM,
  vhe?: string,
  more: Partial<SysregRow> = {},
): SysregRow[] {
  return vheRow(name, enc, 1, 'el1', vhe ?? name.replace(/_EL1$/, '_EL2'), { reset, traps, ...more });
}

/** The EL0 generic-timer registers, redirected to the EL2 timers `el2` under VHE. */
function timer(base: string, crm: number, el2: string, control: El0Control, traps: readonly Trap[]): SysregRow[] {
  return [
    ...vheRow(`${base}_TVAL_EL0`, `3 3 14 ${crm} 0`, 0, 'timer', `${el2}_TVAL_EL2`, { el0: control, traps }),
    ...vheRow(`${base}_CTL_EL0`, `3 3 14 ${crm} 1`, 0, 'timer', `${el2}_CTL_EL2`, { el0: control, traps, reset: 0n }),
    ...vheRow(`${base}_CVAL_EL0`, `3 3 14 ${crm} 2`, 0, 'timer', `${el2}_CVAL_EL2`, { el0: control, traps, reset: 0n }),
    row(`${el2}_TVAL_EL2`, `3 4 14 ${crm} 0`, 2, 'timer'),
    row(`${el2}_CTL_EL2`, `3 4 14 ${crm} 1`, 2, 'timer', { reset: 0n }),
    row(`${el2}_CVAL_EL2`, `3 4 14 ${crm} 2`, 2, 'timer', { reset: 0n }),
  ];
}

/** Names of the identification space op0=3, op1=0, CRn=0, CRm=1..7 (AArch32 and AArch64 ID registers). */
const ID_SPACE: Readonly<Record<string, string>> = {
  '1 0': 'ID_PFR0_EL1',
  '1 1': 'ID_PFR1_EL1',
  '1 2': 'ID_DFR0_EL1',
  '1 3': 'ID_AFR0_EL1',
  '1 4': 'ID_MMFR0_EL1',
  '1 5': 'ID_MMFR1_EL1',
  '1 6': 'ID_MMFR2_EL1',
  '1 7': 'ID_MMFR3_EL1',
  '2 0': 'ID_ISAR0_EL1',
  '2 1': 'ID_ISAR1_EL1',
  '2 2': 'ID_ISAR2_EL1',
  '2 3': 'ID_ISAR3_EL1',
  '2 4': 'ID_ISAR4_EL1',
  '2 5': 'ID_ISAR5_EL1',
  '2 6': 'ID_MMFR4_EL1',
  '2 7': 'ID_ISAR6_EL1',
  '3 0': 'MVFR0_EL1',
  '3 1': 'MVFR1_EL1',
  '3 2': 'MVFR2_EL1',
  '3 4': 'ID_PFR2_EL1',
  '3 5': 'ID_DFR1_EL1',
  '3 6': 'ID_MMFR5_EL1',
  '4 0': 'ID_AA64PFR0_EL1',
  '4 1': 'ID_AA64PFR1_EL1',
  '4 2': 'ID_AA64PFR2_EL1',
  '4 4': 'ID_AA64ZFR0_EL1',
  '4 5': 'ID_AA64SMFR0_EL1',
  '5 0': 'ID_AA64DFR0_EL1',
  '5 1': 'ID_AA64DFR1_EL1',
  '5 4': 'ID_AA64AFR0_EL1',
  '5 5': 'ID_AA64AFR1_EL1',
  '6 0': 'ID_AA64ISAR0_EL1',
  '6 1': 'ID_AA64ISAR1_EL1',
  '6 2': 'ID_AA64ISAR2_EL1',
  '7 0': 'ID_AA64MMFR0_EL1',
  '7 1': 'ID_AA64MMFR1_EL1',
  '7 2': 'ID_AA64MMFR2_EL1',
  '7 3': 'ID_AA64MMFR3_EL1',
  '7 4': 'ID_AA64MMFR4_EL1',
};

/**
 * The whole ID space: the ARM ARM reserves every unnamed encoding in it as RAZ (not
 * UNDEFINED), read-only at EL1 and trapped by HCR_EL2.TID3 like the named ones.
 */
function idSpace(): SysregRow[] {
  const rows: SysregRow[] = [];
  for (let crm = 1; crm <= 7; crm++) {
    for (let op2 = 0; op2 <= 7; op2++) {
      const name = ID_SPACE[`${crm} ${op2}`] ?? `S3_0_C0_C${crm}_${op2}`;
      rows.push(row(name, `3 0 0 ${crm} ${op2}`, 1, 'id', { access: 'ro', traps: ['TID3'] }));
    }
  }
  return rows;
}

/** The breakpoint and watchpoint registers, as many as ID_AA64DFR0_EL1 advertises (pe/debug.ts). */
function debugComparators(): SysregRow[] {
  const rows: SysregRow[] = [];
  // DBGWVR's bits [1:0] are RES0 (QEMU keeps DBGBVR's as written: they are ignored).
  const pair = (v: string, c: string, n: number, op2: number): void => {
    const writable = v === 'DBGWVR' ? 0xffff_ffff_ffff_fffcn : undefined;
    rows.push(row(`${v}${n}_EL1`, `2 0 0 ${n} ${op2}`, 1, 'debug', { reset: 0n, traps: ['TDA'], writable }));
    rows.push(row(`${c}${n}_EL1`, `2 0 0 ${n} ${op2 + 1}`, 1, 'debug', { reset: 0n, traps: ['TDA'] }));
  };
  for (let n = 0; n < BREAKPOINTS; n++) pair('DBGBVR', 'DBGBCR', n, 4);
  for (let n = 0; n < WATCHPOINTS; n++) pair('DBGWVR', 'DBGWCR', n, 6);
  return rows;
}

export const SYSREG_ROWS: readonly SysregRow[] = [
  // --- guest EL1 state switched by a hypervisor (KVM's __sysreg_save_el1_state and friends) ---
  ...el1('SCTLR_EL1', '3 0 1 0 0', 0x30d0_0800n),
  ...el1('CPACR_EL1', '3 0 1 0 2', 0n, ['TCPAC'], 'CPTR_EL2', { writable: 0x1030_0000n }), // FPEN, TTA
  ...el1('TTBR0_EL1', '3 0 2 0 0', 0n),
  ...el1('TTBR1_EL1', '3 0 2 0 1', 0n),
  ...el1('TCR_EL1', '3 0 2 0 2', 0n),
  ...el1('SPSR_EL1', '3 0 4 0 0', 0n, []),
  ...el1('ELR_EL1', '3 0 4 0 1', 0n, []),
  ...el1('AFSR0_EL1', '3 0 5 1 0', 0n),
  ...el1('AFSR1_EL1', '3 0 5 1 1', 0n),
  ...el1('ESR_EL1', '3 0 5 2 0', 0n, TVM, undefined, { writable: 0xffff_ffffn }),
  ...el1('FAR_EL1', '3 0 6 0 0', 0n),
  ...el1('MAIR_EL1', '3 0 10 2 0', 0n),
  ...el1('AMAIR_EL1', '3 0 10 3 0', 0n),
  ...el1('VBAR_EL1', '3 0 12 0 0', 0n, [], undefined, { writable: ~0x7ffn & 0xffff_ffff_ffff_ffffn }),
  ...el1('CONTEXTIDR_EL1', '3 0 13 0 1', 0n, TVM, undefined, { writable: 0xffff_ffffn }),
  ...el1('CNTKCTL_EL1', '3 0 14 1 0', 0n, [], 'CNTHCTL_EL2', { writable: 0x3ffn }),
  row('ACTLR_EL1', '3 0 1 0 1', 1, 'el1', { reset: 0n, traps: ['TACR'] }),
  row('PAR_EL1', '3 0 7 4 0', 1, 'el1', { reset: 0n }),
  row('TPIDR_EL1', '3 0 13 0 4', 1, 'el1', { reset: 0n }),
  row('CSSELR_EL1', '3 2 0 0 0', 1, 'el1', { reset: 0n, traps: ['TID2'], writable: 0xfn }),
  row('ISR_EL1', '3 0 12 1 0', 1, 'el1', { access: 'ro' }),
  row('SP_EL1', '3 4 4 1 0', 2, 'el1'),
  row('TPIDR_EL0', '3 3 13 0 2', 0, 'el0', { reset: 0n }),
  row('TPIDRRO_EL0', '3 3 13 0 3', 0, 'el0', { reset: 0n, el0ReadOnly: true }),
  // --- SIMD&FP control and status: AHP, DN, FZ, RMode, and the AArch32 Stride and Len (no FP16,
  // no trapped exceptions); NZCV, QC and the cumulative flags IDC, IXC, UFC, OFC, DZC, IOC ---
  row('FPCR', '3 3 4 4 0', 0, 'fp', { reset: 0n, writable: 0x07f7_0000n, fp: true }),
  row('FPSR', '3 3 4 4 1', 0, 'fp', { reset: 0n, writable: 0xf800_009fn, fp: true }),
  // --- AArch32 EL1 state an AArch64 hypervisor saves for 32-bit guests ---
  row('DACR32_EL2', '3 4 3 0 0', 2, 'aarch32', { reset: 0n, writable: 0xffff_ffffn }),
  row('IFSR32_EL2', '3 4 5 0 1', 2, 'aarch32', { reset: 0n, writable: 0xffff_ffffn }),
  row('FPEXC32_EL2', '3 4 5 3 0', 2, 'aarch32', { reset: 0x700n, writable: 0xffff_ffffn, fp: true }),
  row('SPSR_irq', '3 4 4 3 0', 2, 'aarch32', { reset: 0n, writable: 0xffff_ffffn }),
  row('SPSR_abt', '3 4 4 3 1', 2, 'aarch32', { reset: 0n, writable: 0xffff_ffffn }),
  row('SPSR_und', '3 4 4 3 2', 2, 'aarch32', { reset: 0n, writable: 0xffff_ffffn }),
  row('SPSR_fiq', '3 4 4 3 3', 2, 'aarch32', { reset: 0n, writable: 0xffff_ffffn }),
  row('DBGVCR32_EL2', '2 4 0 7 0', 2, 'aarch32', { reset: 0n, writable: 0xffff_ffffn }),
  // --- PSTATE views and special-purpose registers ---
  row('NZCV', '3 3 4 2 0', 0, 'pstate'),
  row('DAIF', '3 3 4 2 1', 0, 'pstate', { el0: 'UMA' }),
  row('CurrentEL', '3 0 4 2 2', 1, 'pstate', { access: 'ro' }),
  row('SPSel', '3 0 4 2 0', 1, 'pstate'),
  row('PAN', '3 0 4 2 3', 1, 'pstate'),
  row('SP_EL0', '3 0 4 1 0', 1, 'pstate'),
  // --- debug: the OS lock and monitor registers a kernel touches ---
  row('MDSCR_EL1', '2 0 0 2 2', 1, 'debug', { reset: 0n, traps: ['TDA'] }),
  row('MDCCINT_EL1', '2 0 0 2 0', 1, 'debug', { reset: 0n, traps: ['TDA'] }),
  row('MDRAR_EL1', '2 0 1 0 0', 1, 'debug', { access: 'ro', traps: ['TDRA'] }),
  row('OSLAR_EL1', '2 0 1 0 4', 1, 'debug', { access: 'wo', traps: ['TDOSA'] }),
  row('OSLSR_EL1', '2 0 1 1 4', 1, 'debug', { access: 'ro', traps: ['TDOSA'] }),
  row('OSDLR_EL1', '2 0 1 3 4', 1, 'debug', { reset: 0n, traps: ['TDOSA'], writable: 1n }),
  row('DBGPRCR_EL1', '2 0 1 4 4', 1, 'debug', { reset: 0n, traps: ['TDOSA'], writable: 1n }),
  ...debugComparators(),
  // --- EL2 ---
  row('VPIDR_EL2', '3 4 0 0 0', 2, 'el2', { writable: 0xffff_ffffn }),
  row('VMPIDR_EL2', '3 4 0 0 5', 2, 'el2'),
  row('SCTLR_EL2', '3 4 1 0 0', 2, 'el2', { reset: 0x30c5_0830n }),
  row('ACTLR_EL2', '3 4 1 0 1', 2, 'el2', { reset: 0n }),
  row('HCR_EL2', '3 4 1 1 0', 2, 'el2', { reset: 0n, writable: 0x7_ffff_ffffn }), // Armv8.0 bits and E2H
  row('MDCR_EL2', '3 4 1 1 1', 2, 'el2', { reset: 0n, writable: 0xfe0n }), // HPMN=0: no PMU
  row('CPTR_EL2', '3 4 1 1 2', 2, 'el2', { reset: 0x33ffn }),
  // The syndrome of the virtual SError HCR_EL2.VSE injects (IDS and ISS, as QEMU's -cpu max takes it).
  row('VSESR_EL2', '3 4 5 2 3', 2, 'el2', { reset: 0n, writable: 0x1ff_ffffn }),
  row('HSTR_EL2', '3 4 1 1 3', 2, 'el2', { reset: 0n, writable: 0xffffn }),
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
  row('ESR_EL2', '3 4 5 2 0', 2, 'el2', { reset: 0n, writable: 0xffff_ffffn }),
  row('FAR_EL2', '3 4 6 0 0', 2, 'el2', { reset: 0n }),
  row('HPFAR_EL2', '3 4 6 0 4', 2, 'el2', { reset: 0n, writable: 0xff_ffff_fff0n }),
  row('MAIR_EL2', '3 4 10 2 0', 2, 'el2', { reset: 0n }),
  row('AMAIR_EL2', '3 4 10 3 0', 2, 'el2', { reset: 0n }),
  row('VBAR_EL2', '3 4 12 0 0', 2, 'el2', { reset: 0n, writable: ~0x7ffn & 0xffff_ffff_ffff_ffffn }),
  row('CONTEXTIDR_EL2', '3 4 13 0 1', 2, 'el2', { reset: 0n, writable: 0xffff_ffffn }),
  row('TPIDR_EL2', '3 4 13 0 2', 2, 'el2', { reset: 0n }),
  row('CNTHCTL_EL2', '3 4 14 1 0', 2, 'el2', { reset: 0x3n, writable: 0xfffn }),
  row('CNTVOFF_EL2', '3 4 14 0 3', 2, 'el2', { reset: 0n }),
  // --- generic timer: counters driven by the instruction-count clock; timers are storage for now ---
  row('CNTFRQ_EL0', '3 3 14 0 0', 0, 'timer', {
    reset: 62_500_000n,
    el0: 'EL0CTEN',
    writable: 0xffff_ffffn,
    writeEl: 2,
  }),
  row('CNTPCT_EL0', '3 3 14 0 1', 0, 'timer', { access: 'ro', el0: 'EL0PCTEN', traps: ['EL1PCTEN'] }),
  row('CNTVCT_EL0', '3 3 14 0 2', 0, 'timer', { access: 'ro', el0: 'EL0VCTEN' }),
  ...timer('CNTP', 2, 'CNTHP', 'EL0PTEN', ['EL1PCEN']),
  ...timer('CNTV', 3, 'CNTHV', 'EL0VTEN', []),
  // --- identification: exactly what is implemented (values in special.ts) ---
  row('MIDR_EL1', '3 0 0 0 0', 1, 'id', { access: 'ro' }),
  row('MPIDR_EL1', '3 0 0 0 5', 1, 'id', { access: 'ro' }),
  row('REVIDR_EL1', '3 0 0 0 6', 1, 'id', { access: 'ro', traps: ['TID1'] }),
  row('AIDR_EL1', '3 1 0 0 7', 1, 'id', { access: 'ro', traps: ['TID1'] }),
  ...idSpace(),
  row('CTR_EL0', '3 3 0 0 1', 0, 'id', { access: 'ro', traps: ['TID2'], el0: 'UCT' }),
  row('DCZID_EL0', '3 3 0 0 7', 0, 'id', { access: 'ro' }),
  row('CLIDR_EL1', '3 1 0 0 1', 1, 'id', { access: 'ro', traps: ['TID2'] }),
  row('CCSIDR_EL1', '3 1 0 0 0', 1, 'id', { access: 'ro', traps: ['TID2'] }),
];
