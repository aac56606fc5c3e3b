// System registers whose behaviour is more than storage: PSTATE views, the counters,
// identification values, and writes with side effects or layout-dependent RES1 bits.
// Keyed by table name. (The timers are the board's: src/board/timer.ts.)
import type { MmuOwner } from '../mmu/mmu.js';
import type { SysregSpec } from './registry.js';
import { SR, HCR } from './registry.js';
import { pendingInterrupts } from '../pe/exception.js';
import { ID_AA64DFR0, BREAKPOINTS, WATCHPOINTS } from '../pe/debug-ids.js';
import { breakpointControlWritten } from '../pe/debug.js';

/** What system-register behaviour reads and changes of the PE making the access. */
export interface SysregPe extends MmuOwner {
  /** The PE's position in the machine: a device keeps its per-PE state (a CPU interface) by it. */
  readonly index: number;
  readonly icount: number;
  readonly clockOffset: number;
  readonly mpidr: bigint;
  /** The banked stack pointers SP_EL0..SP_EL2. */
  readonly spEl: BigUint64Array;
  /** SCTLR_ELx of the current translation regime. */
  sctlr(): bigint;
  /** After a write to HCR_EL2 (its cached views change). */
  hcrChanged(): void;
  /** After a change that can make an interrupt takeable. */
  interruptsChanged(): void;
  /** After a write to a register that arms or disarms self-hosted debug events. */
  debugChanged(): void;
}

/** A register's behaviour beyond storage; devices' handlers get the PE that made the access. */
export interface SpecialAccess {
  read?(cpu: SysregPe): bigint;
  write?(cpu: SysregPe, v: bigint): void;
  /**
   * The value a read would give, without its side effects, for the debugger (ICC_IAR1_EL1:
   * the INTID an acknowledge would return, not acknowledged). Without it `read` has none.
   */
  peek?(cpu: SysregPe): bigint;
  /**
   * What the register holds once `v` is written to it, for a register whose write is more than a
   * mask (ICH_VMCR_EL2 raises its binary points to their minimums): a saved copy is compared so.
   */
  held?(v: bigint): bigint;
  /**
   * Whether a hypervisor can know the register holds `cpu` without reading it, from a saved copy
   * and a status register: a free list register (ICH_ELRSR_EL2 says so) is its saved copy with
   * State invalid, the only field the GIC changes. A read of that copy is then not a stale read.
   */
  knownFrom?(cpu: bigint, saved: bigint): boolean;
  /** A device's own controls trapping an EL0/EL1 access to EL2 (the GIC's ICH_HCR_EL2.TC/TALL0/TALL1/TDIR). */
  trap?(cpu: SysregPe, read: boolean): boolean;
}

/**
 * Identification values: advertise exactly what is implemented. The one place they
 * are set; the MMU (PA size, granules, ASID/VMID sizes) follows these.
 */
export const ID_VALUES: Readonly<Record<string, bigint>> = {
  MIDR_EL1: 0x000f_0000n, // implementer 0 (software), architecture 0xF: see README
  REVIDR_EL1: 0n,
  AIDR_EL1: 0n,
  // EL0 and EL1: AArch64 and AArch32 state (a hypervisor may host 32-bit guests; executing
  // AArch32 stops the machine); EL2 AArch64; no EL3; FP and AdvSIMD implemented
  // (0: single and double precision, no half-precision arithmetic).
  // CSV2 1 and CSV3 1: nothing executes speculatively here, so no branch predictor or faulting load
  // leaks across contexts (Linux then takes QEMU -cpu max's path: no KPTI, no Spectre-v2 workaround).
  ID_AA64PFR0_EL1: 0x1100_0000_0000_0122n,
  // CSV2_frac 1 (FEAT_CSV2_1p1): CSV2 without the SCXTNUM_ELx registers, which are not implemented.
  ID_AA64PFR1_EL1: 0x0000_0001_0000_0000n,
  ID_AA64DFR0_EL1: ID_AA64DFR0,
  // Atomic [23:20] = 2 (FEAT_LSE), CRC32 [19:16] = 1 (FEAT_CRC32); no AES, SHA, RDM, SM3/SM4,
  // DotProd, FHM, TS (flag manipulation), TLB range or RNDR.
  ID_AA64ISAR0_EL1: 0x0000_0000_0021_0000n,
  // FEAT_DPB (DC CVAP); nothing else of ISAR1 (no PAuth, SB, LRCPC, FRINTTS, BF16, I8MM).
  ID_AA64ISAR1_EL1: 0x1n,
  // PARange 48 bits, 16-bit ASIDs, 4K/16K/64K granules at stage 1 and 2.
  ID_AA64MMFR0_EL1: 0x0000_0000_0010_0025n,
  // VH (FEAT_VHE), PAN (FEAT_PAN), 8-bit VMIDs, no hardware AF/dirty update, no LOR.
  ID_AA64MMFR1_EL1: 0x0000_0000_0010_0100n,
  // The AArch32 ID registers read as zero: no AArch32 instruction set is implemented,
  // only the AArch32 EL1 state a hypervisor saves for its guests.
  CTR_EL0: 0x8444_c004n, // 64-byte lines, PIPT I-cache
  CLIDR_EL1: 0x0a20_0023n, // L1 I+D, L2 unified; LoUIS 1, LoC 2, LoUU 1
};
/**
 * CCSIDR_EL1 for the cache CSSELR_EL1 selects (Level[3:1], InD[0]): L1 data and
 * instruction caches of 64-byte lines, 4 ways, 256 sets; a unified L2 of 64-byte
 * lines, 16 ways, 1024 sets. Selections of caches CLIDR_EL1 does not list read 0 (UNKNOWN).
 */
const CCSIDR_BY_CSSELR: readonly bigint[] = [0x701f_e01an, 0x701f_e01an, 0x707f_e07an];
/** DCZID_EL0.BS: DC ZVA zeroes 2^BS words = 64 bytes. */
export const DCZ_BLOCK_BYTES = 64;
const DCZID_BS = 4n;

const SCTLR_EL2_RES1_NONHOST = 0x30c5_0830n; // SCTLR_EL2 RES1 bits when HCR_EL2.{E2H,TGE} != {1,1}
const CPTR_EL2_RES1_E2H0 = 0x33ffn;
const CPTR_EL2_BITS_E2H0 = 0xc010_0400n; // TCPAC, TAM, TTA, TFP
const CPTR_EL2_BITS_E2H1 = 0xd030_0000n; // TCPAC, TAM, TTA, FPEN
const OSLSR_OSLM = 0x8n; // OS lock implemented (OSLM = 0b10)

function pstate(read: (cpu: SysregPe) => bigint, write: (cpu: SysregPe, v: bigint) => void): SpecialAccess {
  return { read, write };
}

/** The deterministic clock: one counter tick per retired instruction. */
export function physicalCount(cpu: SysregPe): bigint {
  return BigInt(cpu.icount + cpu.clockOffset);
}

/** The virtual count: CNTVOFF_EL2 does not apply at EL2 with E2H=1 nor in the VHE host's EL0. */
export function virtualCount(cpu: SysregPe): bigint {
  const noOffset = cpu.e2h && (cpu.ps.el === 2 || (cpu.ps.el === 0 && cpu.tge));
  return noOffset ? physicalCount(cpu) : BigInt.asUintN(64, physicalCount(cpu) - cpu.sr[SR.CNTVOFF_EL2!]!);
}

/** Whether DC ZVA is prohibited at the current EL (DCZID_EL0.DZP). */
export function dcZvaProhibited(cpu: SysregPe): boolean {
  const el = cpu.ps.el;
  if (el === 2) return false;
  const host = cpu.e2h && cpu.tge;
  if (el === 0 && (cpu.sctlr() & (1n << 14n)) === 0n) return true; // DZE
  return !host && ((cpu.hcr >>> HCR.TDZ) & 1) === 1;
}

/** A register whose writes arm or disarm self-hosted debug events (stored as `written` makes them). */
function debugControl(name: string, written = (v: bigint) => v): SpecialAccess {
  const slot = SR[name]!;
  return {
    write: (c, v) => {
      c.sr[slot] = written(v);
      c.debugChanged();
    },
  };
}

export const SPECIAL: Readonly<Record<string, SpecialAccess>> = {
  ...Object.fromEntries(Object.entries(ID_VALUES).map(([k, v]) => [k, { read: () => v }])),
  NZCV: pstate(
    (c) => BigInt(c.ps.nzcv) << 28n,
    (c, v) => {
      c.ps.nzcv = Number((v >> 28n) & 0xfn);
    },
  ),
  DAIF: pstate(
    (c) => BigInt(c.ps.daif) << 6n,
    (c, v) => {
      c.ps.daif = Number((v >> 6n) & 0xfn);
      c.interruptsChanged();
    },
  ),
  CurrentEL: { read: (c) => BigInt(c.ps.el) << 2n },
  SPSel: pstate(
    (c) => BigInt(c.ps.sp),
    (c, v) => {
      c.ps.sp = Number(v & 1n);
    },
  ),
  PAN: pstate(
    (c) => BigInt(c.ps.pan) << 22n,
    (c, v) => {
      c.ps.pan = Number((v >> 22n) & 1n);
    },
  ),
  SP_EL0: pstate(
    (c) => c.spEl[0]!,
    (c, v) => {
      c.spEl[0] = v;
    },
  ),
  SP_EL1: pstate(
    (c) => c.spEl[1]!,
    (c, v) => {
      c.spEl[1] = v;
    },
  ),
  HCR_EL2: {
    write: (c, v) => {
      c.sr[SR.HCR_EL2!] = v;
      c.hcrChanged();
    },
  },
  SCTLR_EL2: {
    write: (c, v) => {
      c.sr[SR.SCTLR_EL2!] = c.e2h && c.tge ? v : v | SCTLR_EL2_RES1_NONHOST;
    },
  },
  CPTR_EL2: {
    write: (c, v) => {
      c.sr[SR.CPTR_EL2!] = c.e2h ? v & CPTR_EL2_BITS_E2H1 : (v & CPTR_EL2_BITS_E2H0) | CPTR_EL2_RES1_E2H0;
    },
  },
  // EL1 reads of MIDR/MPIDR return the virtualized values EL2 set (these override the ID entries above).
  MIDR_EL1: { read: (c) => (c.ps.el === 1 ? c.sr[SR.VPIDR_EL2!]! : ID_VALUES.MIDR_EL1!) },
  MPIDR_EL1: { read: (c) => (c.ps.el === 1 ? c.sr[SR.VMPIDR_EL2!]! : c.mpidr) },
  ISR_EL1: { read: (c) => BigInt(pendingInterrupts(c)) },
  CCSIDR_EL1: { read: (c) => CCSIDR_BY_CSSELR[Number(c.sr[SR.CSSELR_EL1!]! & 0xfn)] ?? 0n },
  DCZID_EL0: { read: (c) => (dcZvaProhibited(c) ? DCZID_BS | 0x10n : DCZID_BS) },
  // The OS lock: OSLAR_EL1.OSLK is the lock, reported in OSLSR_EL1.OSLK (bit 1); locked at reset.
  OSLAR_EL1: {
    write: (c, v) => {
      c.sr[SR.OSLSR_EL1!] = OSLSR_OSLM | ((v & 1n) << 1n);
      c.debugChanged();
    },
  },
  MDSCR_EL1: debugControl('MDSCR_EL1'),
  OSDLR_EL1: debugControl('OSDLR_EL1'),
  DBGPRCR_EL1: debugControl('DBGPRCR_EL1'),
  ...Object.fromEntries(
    Array.from({ length: BREAKPOINTS }, (_, n) => [
      `DBGBCR${n}_EL1`,
      debugControl(`DBGBCR${n}_EL1`, breakpointControlWritten),
    ]),
  ),
  ...Object.fromEntries(
    Array.from({ length: WATCHPOINTS }, (_, n) => [`DBGWCR${n}_EL1`, debugControl(`DBGWCR${n}_EL1`)]),
  ),
  MDRAR_EL1: { read: () => 0n }, // no memory-mapped debug
  CNTPCT_EL0: { read: physicalCount },
  CNTVCT_EL0: { read: virtualCount },
};

const RESET_FROM: Readonly<Record<string, bigint>> = {
  VPIDR_EL2: ID_VALUES.MIDR_EL1!,
  OSLSR_EL1: OSLSR_OSLM | 2n,
};

export function resetValue(s: SysregSpec): bigint {
  return s.reset ?? RESET_FROM[s.name] ?? ID_VALUES[s.name] ?? 0n;
}
