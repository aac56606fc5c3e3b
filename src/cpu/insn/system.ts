// System instructions: MRS/MSR, exception generation, ERET, hints, barriers.
import { enc, type AnyEncoding } from '../decode.js';
import { ArchException, EC, defaultTargetEL, exceptionReturn, undefinedInstruction } from '../exceptions.js';
import { resolveAccess, readSysreg, writeSysreg } from '../../sysregs/access.js';
import { sysregByKey, sysregKey } from '../../sysregs/registry.js';
import type { Cpu } from '../cpu.js';

function sysregOperand(cpu: Cpu, d: { o0: number; op1: number; CRn: number; CRm: number; op2: number; Rt: number }, read: boolean) {
  const s = sysregByKey(sysregKey(2 + d.o0, d.op1, d.CRn, d.CRm, d.op2));
  if (s === undefined) throw undefinedInstruction(cpu);
  const target = resolveAccess(cpu, s, read, d.Rt);
  return target;
}

export const SYSTEM: readonly AnyEncoding[] = [
  enc('1101010100 1 1 o0:1 op1:3 CRn:4 CRm:4 op2:3 Rt:5', 'MRS', (cpu, d) => {
    const s = sysregOperand(cpu, d, true);
    const v = readSysreg(cpu, s);
    if (d.Rt !== 31) cpu.x[d.Rt] = v;
    if (cpu.observer !== null) cpu.observer.sysregAccessed?.({ reg: s, write: false, value: v, pc: cpu.pcs[1]! });
  }),
  enc('1101010100 0 1 o0:1 op1:3 CRn:4 CRm:4 op2:3 Rt:5', 'MSR (register)', (cpu, d) => {
    const s = sysregOperand(cpu, d, false);
    const v = cpu.x[d.Rt]!;
    writeSysreg(cpu, s, v);
    if (cpu.observer !== null) cpu.observer.sysregAccessed?.({ reg: s, write: true, value: v, pc: cpu.pcs[1]! });
  }),
  enc('11010100 010 imm16:16 000 00', 'HLT', (cpu, d) => {
    if (d.imm16 === 0xf000 && cpu.ps.el > 0 && cpu.semihost !== null) { cpu.semihost(cpu); return; }
    throw undefinedInstruction(cpu);
  }),
  enc('11010100 000 imm16:16 000 01', 'SVC', (cpu, d) => {
    throw new ArchException(defaultTargetEL(cpu), EC.SVC, d.imm16, undefined, undefined, 1, true);
  }),
  enc('11010100 000 imm16:16 000 10', 'HVC', (cpu, d) => {
    if (cpu.ps.el === 0) throw undefinedInstruction(cpu);
    throw new ArchException(2, EC.HVC, d.imm16, undefined, undefined, 1, true);
  }),
  enc('11010100 001 imm16:16 000 00', 'BRK', (cpu, d) => {
    throw new ArchException(defaultTargetEL(cpu), EC.BRK, d.imm16);
  }),
  enc('1101011 0100 11111 0000 00 11111 00000', 'ERET', (cpu) => {
    if (cpu.ps.el === 0) throw undefinedInstruction(cpu);
    exceptionReturn(cpu);
  }),
  enc('1101010100 0 00 011 0010 CRm:4 op2:3 11111', 'HINT', () => {}),
];
