// Branches: B, BL, B.cond, CBZ/CBNZ, TBZ/TBNZ, BR, BLR, RET.
// ERET lives with the system instructions; everything else in the unconditional-branch
// (register) group — DRPS and the pointer-authentication forms (BRAA, RETAA, ...),
// which this PE does not implement — matches nothing and is UNDEFINED.
import { enc, type AnyEncoding } from '../decode.js';
import { X, setX } from '../regs.js';
import { sextNum } from '../bits.js';
import { conditionHolds, bit64 } from '../alu.js';
import { rz, target, COND_NAMES } from './dp-common.js';
import type { Cpu } from '../cpu.js';
import { xw } from '../emit.js';

/**
 * BranchTo(PC + offset) for the PC-relative branches, on the PC's int32 halves: where bits 63:55
 * of the target are all equal, top-byte-ignore cannot change it (branchAddr), and no BigInt is made.
 */
function branchRelative(cpu: Cpu, offset: number): void {
  const p = cpu.pcs32;
  const sum = (p[2]! >>> 0) + offset;
  const hi = (p[3]! + (sum >= 0x1_0000_0000 ? 1 : sum < 0 ? -1 : 0)) | 0;
  const top9 = hi >> 23;
  if (top9 === 0 || top9 === -1) {
    p[0] = sum | 0;
    p[1] = hi;
  } else cpu.pcs[0] = cpu.branchAddr(BigInt.asUintN(64, cpu.pcs[1]! + BigInt(offset)));
}

export const BRANCHES: readonly AnyEncoding[] = [
  enc(
    'op:1 00101 imm26:26',
    'B/BL',
    (cpu, d) => {
      if (d.op !== 0) cpu.x[30] = cpu.pcs[0]!; // BL: X30 = PC + 4
      branchRelative(cpu, sextNum(d.imm26, 26) * 4);
    },
    (d, pc) => `${d.op !== 0 ? 'bl' : 'b'} ${target(pc, sextNum(d.imm26, 26) * 4)}`,
    (g, d) => {
      if (d.op !== 0) g.setX(30, g.pc(4));
      g.branch('true', sextNum(d.imm26, 26) * 4);
    },
  ),
  enc(
    '0101010 0 imm19:19 0 cond:4',
    'B.cond',
    (cpu, d) => {
      if (conditionHolds(cpu.ps, d.cond)) branchRelative(cpu, sextNum(d.imm19, 19) * 4);
    },
    (d, pc) => `b.${COND_NAMES[d.cond]} ${target(pc, sextNum(d.imm19, 19) * 4)}`,
    (g, d) => g.branch(g.cond(d.cond), sextNum(d.imm19, 19) * 4),
  ),
  enc(
    'sf:1 011010 op:1 imm19:19 Rt:5',
    'CBZ/CBNZ',
    (cpu, d) => {
      const v = d.sf !== 0 ? X(cpu, d.Rt) : BigInt.asUintN(64, X(cpu, d.Rt) & 0xffff_ffffn);
      if ((v === 0n) === (d.op === 0)) branchRelative(cpu, sextNum(d.imm19, 19) * 4);
    },
    (d, pc) => `${d.op === 0 ? 'cbz' : 'cbnz'} ${rz(d.Rt, d.sf)}, ${target(pc, sextNum(d.imm19, 19) * 4)}`,
    (g, d) => {
      const zero = g.isZero(xw(g, d.Rt, d.sf));
      g.branch(d.op === 0 ? zero : `!${zero}`, sextNum(d.imm19, 19) * 4);
    },
  ),
  enc(
    'b5:1 011011 op:1 b40:5 imm14:14 Rt:5',
    'TBZ/TBNZ',
    (cpu, d) => {
      if ((bit64(X(cpu, d.Rt), (d.b5 << 5) | d.b40) === 0) === (d.op === 0))
        branchRelative(cpu, sextNum(d.imm14, 14) * 4);
    },
    (d, pc) =>
      `${d.op === 0 ? 'tbz' : 'tbnz'} ${rz(d.Rt, d.b5)}, #${(d.b5 << 5) | d.b40}, ${target(pc, sextNum(d.imm14, 14) * 4)}`,
    (g, d) => {
      const bit = g.bit(g.x(d.Rt), (d.b5 << 5) | d.b40);
      g.branch(`${bit} ${d.op === 0 ? '===' : '!=='} 0`, sextNum(d.imm14, 14) * 4);
    },
  ),
  enc(
    '1101011 0000 11111 000000 Rn:5 00000',
    'BR',
    (cpu, d) => {
      cpu.pcs[0] = cpu.branchAddr(X(cpu, d.Rn));
    },
    (d) => `br ${rz(d.Rn, 1)}`,
    (g, d) => g.branchTo(g.x(d.Rn)),
  ),
  enc(
    '1101011 0001 11111 000000 Rn:5 00000',
    'BLR',
    (cpu, d) => {
      const dest = X(cpu, d.Rn); // read before X30 is written: BLR X30 branches to the old value
      setX(cpu, 30, cpu.pcs[0]!);
      cpu.pcs[0] = cpu.branchAddr(dest);
    },
    (d) => `blr ${rz(d.Rn, 1)}`,
    (g, d) => {
      const dest = g.x(d.Rn);
      g.setX(30, g.pc(4));
      g.branchTo(dest);
    },
  ),
  enc(
    '1101011 0010 11111 000000 Rn:5 00000',
    'RET',
    (cpu, d) => {
      cpu.pcs[0] = cpu.branchAddr(X(cpu, d.Rn));
    },
    (d) => (d.Rn === 30 ? 'ret' : `ret ${rz(d.Rn, 1)}`),
    (g, d) => g.branchTo(g.x(d.Rn)),
  ),
];
