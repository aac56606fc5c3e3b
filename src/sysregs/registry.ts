// The runtime form of the system-register table: storage slots, encoding keys,
// trap masks and VHE links resolved once at start-up.
import { SYSREG_ROWS, type Trap, type El0Control, type SysregRow } from './table.js';

export const HCR = {
  VM: 0,
  SWIO: 1,
  FMO: 3,
  IMO: 4,
  AMO: 5,
  VF: 6,
  VI: 7,
  VSE: 8,
  FB: 9,
  BSU: 10,
  DC: 12,
  TWI: 13,
  TWE: 14,
  TID0: 15,
  TID1: 16,
  TID2: 17,
  TID3: 18,
  TSC: 19,
  TIDCP: 20,
  TACR: 21,
  TSW: 22,
  TPCP: 23,
  TPU: 24,
  TTLB: 25,
  TVM: 26,
  TGE: 27,
  TDZ: 28,
  HCD: 29,
  TRVM: 30,
  RW: 31,
  CD: 32,
  ID: 33,
  E2H: 34,
  TLOR: 35,
} as const;

/** Trap controls outside HCR_EL2, as bits of SysregSpec.otherTraps. */
export const OTHER_TRAP = { TCPAC: 1, TDA: 2, TDOSA: 4, TDRA: 32, EL1PCTEN: 8, EL1PCEN: 16 } as const;

/** EL0 access controls as small numbers (SysregSpec.el0Control); 0: none needed. */
export const EL0_CONTROL: Readonly<Record<El0Control, number>> = {
  UMA: 1,
  UCT: 2,
  EL0PCTEN: 3,
  EL0VCTEN: 4,
  EL0CTEN: 5,
  EL0PTEN: 6,
  EL0VTEN: 7,
};

export interface SysregSpec extends SysregRow {
  /** Position in SYSREGS. */
  readonly id: number;
  /** op0:op1:CRn:CRm:op2 packed as in the MRS/MSR instruction bits [20:5]. */
  readonly key: number;
  readonly op0: number;
  readonly op1: number;
  readonly crn: number;
  readonly crm: number;
  readonly op2: number;
  /** Index into Cpu.sr for plain storage, -1 for aliases. */
  readonly slot: number;
  /** HCR_EL2 bits (low 32) whose setting traps a read / a write from EL1 or EL0 to EL2. */
  readonly trapRead: number;
  readonly trapWrite: number;
  /** OTHER_TRAP bits: CPTR_EL2, MDCR_EL2 and CNTHCTL_EL2 controls that trap it to EL2. */
  readonly otherTraps: number;
  /** EL0_CONTROL code of the control an EL0 access needs, 0 for none. */
  readonly el0Control: number;
  readonly lower: string;
}

export function sysregKey(op0: number, op1: number, crn: number, crm: number, op2: number): number {
  return (op0 << 14) | (op1 << 11) | (crn << 7) | (crm << 3) | op2;
}

const READ_TRAPS: Partial<Record<Trap, number>> = {
  TIDCP: 1 << HCR.TIDCP,
  TRVM: 1 << HCR.TRVM,
  TID1: 1 << HCR.TID1,
  TID2: 1 << HCR.TID2,
  TID3: 1 << HCR.TID3,
  TACR: 1 << HCR.TACR,
};
const WRITE_TRAPS: Partial<Record<Trap, number>> = {
  TIDCP: 1 << HCR.TIDCP,
  TVM: 1 << HCR.TVM,
  TID2: 1 << HCR.TID2,
  TACR: 1 << HCR.TACR,
};

/**
 * A row resolved for the access path: its position `id`, storage `slot` (-1: none), key and trap masks.
 * Every field is named, in one order, the optional ones too: rows spread as they were written had
 * dozens of shapes, and MRS/MSR's reads of the register they reach went megamorphic.
 */
export function resolveRow(r: SysregRow, id: number, slot: number): SysregSpec {
  const [op0, op1, crn, crm, op2] = r.enc.split(' ').map(Number) as [number, number, number, number, number];
  const traps = r.traps ?? [];
  // Typed so that a field added to SysregRow and not copied here fails to compile.
  const spec: SysregSpec & { readonly [K in keyof Required<SysregRow>]: SysregRow[K] } = {
    name: r.name,
    enc: r.enc,
    reset: r.reset,
    el: r.el,
    access: r.access,
    el0ReadOnly: r.el0ReadOnly,
    writeEl: r.writeEl,
    el0: r.el0,
    traps: r.traps,
    writable: r.writable,
    vhe: r.vhe,
    fp: r.fp,
    aliasOf: r.aliasOf,
    group: r.group,
    id,
    op0,
    op1,
    crn,
    crm,
    op2,
    key: sysregKey(op0, op1, crn, crm, op2),
    slot,
    trapRead: traps.reduce((m, t) => m | (READ_TRAPS[t] ?? 0), 0) >>> 0,
    trapWrite: traps.reduce((m, t) => m | (WRITE_TRAPS[t] ?? 0), 0) >>> 0,
    otherTraps: traps.reduce((m, t) => m | ((OTHER_TRAP as Record<string, number>)[t] ?? 0), 0),
    el0Control: r.el0 ? EL0_CONTROL[r.el0] : 0,
    lower: r.name.toLowerCase(),
  };
  return spec;
}

let slots = 0;
export const SYSREGS: readonly SysregSpec[] = SYSREG_ROWS.map((r, id) => resolveRow(r, id, r.aliasOf ? -1 : slots++));
export const SYSREG_SLOTS = slots;

const byName = new Map(SYSREGS.map((s) => [s.name, s]));
const byLower = new Map(SYSREGS.map((s) => [s.lower, s]));
/** Indexed by key (MRS/MSR bits [20:5]): one array load on the MRS/MSR path. */
const byKey: (SysregSpec | undefined)[] = new Array<SysregSpec | undefined>(1 << 16).fill(undefined);
for (const s of SYSREGS) {
  if (byKey[s.key] !== undefined)
    throw new Error(`sysreg table: ${s.name} and ${byKey[s.key]!.name} share an encoding`);
  if (byName.get(s.name) !== s) throw new Error(`sysreg table: ${s.name} appears twice`);
  byKey[s.key] = s;
  for (const target of [s.vhe, s.aliasOf]) {
    if (target !== undefined && !byName.has(target)) throw new Error(`sysreg table: ${s.name} names unknown ${target}`);
  }
}

export function sysregByName(name: string): SysregSpec | undefined {
  return byName.get(name) ?? byLower.get(name.toLowerCase());
}
export function sysregByKey(key: number): SysregSpec | undefined {
  return byKey[key & 0xffff];
}

/** Storage slots by register name (plain-storage registers only). */
export const SR = Object.fromEntries(SYSREGS.filter((s) => s.slot >= 0).map((s) => [s.name, s.slot])) as Readonly<
  Record<string, number>
>;

export function specOf(name: string): SysregSpec {
  const s = byName.get(name);
  if (!s) throw new Error(`sysreg table has no ${name}`);
  return s;
}
