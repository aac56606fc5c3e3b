// Human-readable syndromes: ESR_ELx decoded as the ARM ARM names its fields.
import { EC } from '../pe/exception.js';
import { sysregByKey, sysregKey } from '../sysregs/registry.js';
import { cacheOpName } from './insn/system.js';

const EC_NAMES: Record<number, string> = {
  [EC.UNKNOWN]: 'UNDEFINED',
  [EC.WFX]: 'WFx',
  [EC.FP_ACCESS]: 'SIMD&FP access trap',
  [EC.ILLEGAL_STATE]: 'illegal execution state',
  [EC.SVC]: 'SVC',
  [EC.HVC]: 'HVC',
  [EC.SMC]: 'SMC',
  [EC.SYS]: 'trapped MSR/MRS/system instruction',
  [EC.IABORT_LOWER]: 'instruction abort from a lower EL',
  [EC.IABORT_SAME]: 'instruction abort',
  [EC.PC_ALIGN]: 'PC alignment fault',
  [EC.DABORT_LOWER]: 'data abort from a lower EL',
  [EC.DABORT_SAME]: 'data abort',
  [EC.SP_ALIGN]: 'SP alignment fault',
  [EC.SERROR]: 'SError',
  [EC.BREAKPOINT_LOWER]: 'breakpoint from a lower EL',
  [EC.BREAKPOINT_SAME]: 'breakpoint',
  [EC.SOFTWARE_STEP_LOWER]: 'software step from a lower EL',
  [EC.SOFTWARE_STEP_SAME]: 'software step',
  [EC.WATCHPOINT_LOWER]: 'watchpoint from a lower EL',
  [EC.WATCHPOINT_SAME]: 'watchpoint',
  [EC.BRK]: 'BRK',
};

/** The exception class in words. */
export function ecName(ec: number): string {
  return EC_NAMES[ec] ?? `exception class 0x${ec.toString(16)}`;
}

const FSC_NAMES: Record<number, string> = {
  0x00: 'address size fault',
  0x04: 'translation fault',
  0x08: 'access flag fault',
  0x0c: 'permission fault',
};

/** The fault-status code (DFSC/IFSC) in words, level included. */
export function describeFsc(fsc: number): string {
  if (fsc === 0x10) return 'synchronous external abort';
  if (fsc === 0x21) return 'alignment fault';
  const base = FSC_NAMES[fsc & 0x3c];
  if (base !== undefined && fsc < 0x10) return `${base}, level ${fsc & 3}`;
  if (fsc >= 0x14 && fsc <= 0x17) return `synchronous external abort on table walk, level ${fsc & 3}`;
  return `fault status 0x${fsc.toString(16)}`;
}

const PSTATE_FIELDS: Readonly<Record<number, string>> = {
  0b000_011: 'UAO',
  0b000_100: 'PAN',
  0b000_101: 'SPSel',
  0b011_110: 'DAIFSet',
  0b011_111: 'DAIFClr',
};

/** The Op0, Op1, CRn, CRm and Op2 fields of an EC 0x18 ISS (the inverse of sysTrapIss). */
function sysTrapFields(iss: number): { op0: number; op1: number; crn: number; crm: number; op2: number } {
  return {
    op0: (iss >>> 20) & 3,
    op1: (iss >>> 14) & 7,
    crn: (iss >>> 10) & 0xf,
    crm: (iss >>> 1) & 0xf,
    op2: (iss >>> 17) & 7,
  };
}

/** The name of the register a trapped MSR/MRS (EC 0x18) accessed, from the table, or its encoding. */
export function sysregNameFromIss(iss: number): string {
  const { op0, op1, crn, crm, op2 } = sysTrapFields(iss);
  const s = sysregByKey(sysregKey(op0, op1, crn, crm, op2));
  return s?.name ?? `S${op0}_${op1}_C${crn}_C${crm}_${op2}`;
}

/** The trapped instruction of an EC 0x18 syndrome: MSR/MRS, MSR (immediate), or a SYS (DC/IC) operation. */
function describeSysTrap(iss: number): string {
  const { op0, op1, crn, crm, op2 } = sysTrapFields(iss);
  const rt = (iss >>> 5) & 0x1f;
  const r = rt === 31 ? 'xzr' : `x${rt}`;
  if (op0 === 0) return `trapped MSR ${PSTATE_FIELDS[(op1 << 3) | op2] ?? `S0_${op1}_C${crn}_C${crm}_${op2}`}, #${crm}`;
  if (op0 === 1) {
    const name = cacheOpName(op1, crn, crm, op2)?.toUpperCase() ?? `SYS #${op1}, C${crn}, C${crm}, #${op2}`;
    return `trapped ${name}, ${r}`;
  }
  const reg = sysregNameFromIss(iss);
  return iss & 1 ? `trapped MRS ${r}, ${reg}` : `trapped MSR ${reg}, ${r}`;
}

/**
 * One line describing an ESR value, e.g. `HVC #0x1` or
 * `data abort: translation fault, level 2 (write, 4 bytes, x5)`.
 */
export function describeEsr(esr: number): string {
  const ec = esr >>> 26;
  const iss = esr & 0x1ff_ffff;
  switch (ec) {
    case EC.SVC:
    case EC.HVC:
    case EC.SMC:
    case EC.BRK:
      return `${EC_NAMES[ec]} #0x${(iss & 0xffff).toString(16)}`;
    case EC.WFX:
      return iss & 1 ? 'trapped WFE' : 'trapped WFI';
    case EC.SYS:
      return describeSysTrap(iss);
    case EC.DABORT_LOWER:
    case EC.DABORT_SAME:
    case EC.IABORT_LOWER:
    case EC.IABORT_SAME: {
      let s = `${EC_NAMES[ec]}: ${describeFsc(iss & 0x3f)}`;
      const data = ec === EC.DABORT_LOWER || ec === EC.DABORT_SAME;
      if (data && iss & (1 << 7)) s += ', on stage-1 walk';
      if (data && iss & (1 << 24)) {
        const size = 1 << ((iss >>> 22) & 3);
        const srt = (iss >>> 16) & 0x1f;
        s += ` (${iss & (1 << 6) ? 'write' : 'read'}, ${size} byte${size > 1 ? 's' : ''}, ${(iss >>> 15) & 1 ? 'x' : 'w'}${srt})`;
      } else if (data) {
        s += iss & (1 << 6) ? ' (write)' : ' (read)';
      }
      return s;
    }
    case EC.WATCHPOINT_LOWER:
    case EC.WATCHPOINT_SAME:
      return `${EC_NAMES[ec]} (${iss & (1 << 6) ? 'write' : 'read'})`;
    case EC.SOFTWARE_STEP_LOWER:
    case EC.SOFTWARE_STEP_SAME:
      return iss & (1 << 24) ? `${EC_NAMES[ec]} (stepped${iss & (1 << 6) ? ' a load-exclusive' : ''})` : EC_NAMES[ec]!;
    default:
      return EC_NAMES[ec] ?? `EC 0x${ec.toString(16)}`;
  }
}
