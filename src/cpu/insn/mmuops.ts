// TLB maintenance and address translation instructions: TLBI and AT (SYS encodings,
// CRn = 8 and CRn = 7/CRm = 8). The semantics live in src/mmu.
import { enc, refining, type AnyEncoding } from '../decode.js';
import { ArchException, EC, el2TrapsApply, undefinedInstruction } from '../../pe/exception.js';
import { sysTrapIss } from '../../sysregs/access.js';
import { HCR, SR } from '../../sysregs/registry.js';
import { addressTranslate, type AtOp } from '../../mmu/at.js';
import { tlbiScope, type TlbiOp } from '../../mmu/tlbi.js';
import type { Cpu } from '../cpu.js';
import { rz } from './dp-common.js';

/**
 * TLBI operations by op1:CRm:op2. An Inner Shareable form (…IS) acts on every PE of the
 * machine with the scope its local form has on the issuing PE (src/mmu/tlbi.ts).
 */
const TLBI_OPS = new Map<number, { name: string; op: TlbiOp; operand: boolean; broadcast: boolean }>();
function tlbi(op1: number, crm: number, op2: number, op: TlbiOp, broadcast: boolean): void {
  const name = broadcast ? `${op}IS` : op;
  // The ALL/VMALL forms take no address or ASID (objdump omits their Xt).
  TLBI_OPS.set((op1 << 7) | (crm << 3) | op2, { name, op, operand: !/ALL/.test(name), broadcast });
}
for (const [crm, broadcast] of [
  [3, true],
  [7, false],
] as const) {
  tlbi(0, crm, 0, 'VMALLE1', broadcast);
  tlbi(0, crm, 1, 'VAE1', broadcast);
  tlbi(0, crm, 2, 'ASIDE1', broadcast);
  tlbi(0, crm, 3, 'VAAE1', broadcast);
  tlbi(0, crm, 5, 'VALE1', broadcast);
  tlbi(0, crm, 7, 'VAALE1', broadcast);
  tlbi(4, crm, 0, 'ALLE2', broadcast);
  tlbi(4, crm, 1, 'VAE2', broadcast);
  tlbi(4, crm, 4, 'ALLE1', broadcast);
  tlbi(4, crm, 5, 'VALE2', broadcast);
  tlbi(4, crm, 6, 'VMALLS12E1', broadcast);
}
for (const [crm, broadcast] of [
  [0, true],
  [4, false],
] as const) {
  tlbi(4, crm, 1, 'IPAS2E1', broadcast);
  tlbi(4, crm, 5, 'IPAS2LE1', broadcast);
}

/** AT operations by op1:op2 (CRn = 7, CRm = 8). */
const AT_OPS = new Map<number, AtOp>();
function at(op1: number, op2: number, name: string, el: AtOp['el'], stage12: boolean, write: boolean): void {
  AT_OPS.set((op1 << 3) | op2, { name, el, stage12, write });
}
at(0, 0, 'S1E1R', 'E1', false, false);
at(0, 1, 'S1E1W', 'E1', false, true);
at(0, 2, 'S1E0R', 'E0', false, false);
at(0, 3, 'S1E0W', 'E0', false, true);
at(4, 0, 'S1E2R', 'E2', false, false);
at(4, 1, 'S1E2W', 'E2', false, true);
at(4, 4, 'S12E1R', 'E1', true, false);
at(4, 5, 'S12E1W', 'E1', true, true);
at(4, 6, 'S12E0R', 'E0', true, false);
at(4, 7, 'S12E0W', 'E0', true, true);

/** The EL checks shared by TLBI and AT: op1 = 0 needs EL1, op1 = 4 needs EL2; others are unallocated. */
function checkEL(cpu: Cpu, op1: number): void {
  const el = cpu.ps.el;
  if (el === 0 || (op1 === 4 && el < 2) || (op1 !== 0 && op1 !== 4)) throw undefinedInstruction(cpu);
}

// TLBI and AT are the SYS instruction with CRn = 8 and CRn:CRm = 7:8.
export const MMU_OPS: readonly AnyEncoding[] = [
  enc(
    '1101010100 0 01 op1:3 1000 CRm:4 op2:3 Rt:5',
    'TLBI',
    (cpu, d) => {
      const t = TLBI_OPS.get((d.op1 << 7) | (d.CRm << 3) | d.op2);
      if (t === undefined) throw undefinedInstruction(cpu);
      checkEL(cpu, d.op1);
      if (d.op1 === 0 && el2TrapsApply(cpu) && ((cpu.hcr >>> HCR.TTLB) & 1) !== 0) {
        throw new ArchException(
          2,
          EC.SYS,
          sysTrapIss({ op0: 1, op1: d.op1, crn: 8, crm: d.CRm, op2: d.op2 }, d.Rt, false),
        );
      }
      const scope = tlbiScope(cpu, t.op, cpu.x[d.Rt]!);
      if (!t.broadcast) cpu.mmu.invalidate(scope);
      else for (const pe of cpu.peers) pe.mmu.invalidate(scope);
    },
    (d) => {
      const t = TLBI_OPS.get((d.op1 << 7) | (d.CRm << 3) | d.op2);
      if (t === undefined) return `sys\t#${d.op1}, C8, C${d.CRm}, #${d.op2}, ${rz(d.Rt, 1)}`;
      return t.operand ? `tlbi\t${t.name.toLowerCase()}, ${rz(d.Rt, 1)}` : `tlbi\t${t.name.toLowerCase()}`;
    },
  ),
  enc(
    '1101010100 0 01 op1:3 0111 1000 op2:3 Rt:5',
    'AT',
    (cpu, d) => {
      const op = AT_OPS.get((d.op1 << 3) | d.op2);
      if (op === undefined) throw undefinedInstruction(cpu);
      checkEL(cpu, d.op1);
      cpu.sr[SR.PAR_EL1!] = addressTranslate(cpu, op, cpu.x[d.Rt]!);
    },
    (d) => {
      const op = AT_OPS.get((d.op1 << 3) | d.op2);
      const rt = rz(d.Rt, 1);
      return op === undefined ? `sys\t#${d.op1}, C7, C8, #${d.op2}, ${rt}` : `at\t${op.name.toLowerCase()}, ${rt}`;
    },
  ),
].map((row) => refining(row, 'SYS'));
