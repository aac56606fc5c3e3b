// Data Processing -- Register: logical and add/subtract (shifted and extended register),
// add/subtract with carry, conditional compare and select, data-processing 1, 2 and 3 source.
import { enc, type AnyEncoding, type Exec } from '../decode.js';
import { X, setX, XSP, setXSP } from '../regs.js';
import {
  WMASK,
  addWithCarry,
  setNZ,
  shiftReg,
  shiftVariable,
  extendReg,
  conditionHolds,
  countLeadingZeroBits,
  countLeadingSignBits,
  genShiftReg,
  genExtendReg,
} from '../alu.js';
import { type Emitter, U, big, wmask, xw, xspw } from '../emit.js';
import { unallocated, rz, rsp, hexImm, shiftSuffix, COND_NAMES, EXTEND_NAMES } from './dp-common.js';

/** Swaps adjacent `s`-bit groups selected by `mask` (the building block of REV and RBIT). */
function swapGroups(x: bigint, mask: bigint, s: bigint): bigint {
  return BigInt.asUintN(64, ((x >> s) & mask) | ((x & mask) << s));
}

/** Reverses the bytes within each container of 2^containerLog2 bits (REV16: 4, REV32: 5, REV: 6). */
// Written with early returns rather than a reassigned `let`: Node 20's optimizing compiler
// aborts the process on the BigInt phi the reassigning form produces (a V8 bug).
function reverseBytes(x: bigint, containerLog2: number): bigint {
  const r16 = swapGroups(x, 0x00ff_00ff_00ff_00ffn, 8n);
  if (containerLog2 === 4) return r16;
  const r32 = swapGroups(r16, 0x0000_ffff_0000_ffffn, 16n);
  if (containerLog2 === 5) return r32;
  return swapGroups(r32, 0x0000_0000_ffff_ffffn, 32n);
}

/** RBIT (opc=00), REV16, REV32 and REV of the datasize value of `v`. */
function reverse(v: bigint, opc: number, sf: number): bigint {
  const m = WMASK[sf]!;
  const x = BigInt.asUintN(64, v & m);
  if (opc !== 0) return BigInt.asUintN(64, reverseBytes(x, 3 + opc) & m); // containers of 16, 32 or 64 bits
  // RBIT: reverse the bits within each byte, then the bytes of the register.
  const b1 = swapGroups(x, 0x5555_5555_5555_5555n, 1n);
  const b2 = swapGroups(b1, 0x3333_3333_3333_3333n, 2n);
  const b4 = swapGroups(b2, 0x0f0f_0f0f_0f0f_0f0fn, 4n);
  return BigInt.asUintN(64, reverseBytes(b4, sf !== 0 ? 6 : 5) & m);
}

/** ADD/SUB (shifted or extended register) over datasize operands x and y. */
function addSub(
  g: Emitter,
  d: { sf: number; op: number; S: number; Rd: number },
  x: string,
  y: string,
  sp: boolean,
): void {
  const m = d.sf !== 0 ? '' : ' & 0xffffffffn';
  if (d.S === 0) {
    const r = U(`(${x} ${d.op === 0 ? '+' : '-'} ${y})${m}`);
    if (sp) g.setXsp(d.Rd, r);
    else g.setX(d.Rd, r);
    return;
  }
  const y1 = d.op === 0 ? y : g.val(U(`${y} ^ ${wmask(d.sf)}`));
  const r = g.val(U(`(${x} + ${y1}${d.op !== 0 ? ' + 1n' : ''})${m}`));
  g.flagsAdd(d.sf, x, y1, r);
  g.setX(d.Rd, r);
}

interface TwoRegisters {
  readonly sf: number;
  readonly Rn: number;
  readonly Rm: number;
  readonly Rd: number;
}

// The hot shapes of the shifted-register forms, picked at decode: without a shift (imm6 = 0) the
// second operand is the register itself, and the generic executors' shift, branches on opc, op
// and S and the values passed between functions cost several times the arithmetic.

/** ADD, SUB, ADDS and SUBS (CMP) of two registers without a shift, by S:op. */
const ADD_SUB_UNSHIFTED: readonly Exec<TwoRegisters>[] = [
  (cpu, d) => setX(cpu, d.Rd, BigInt.asUintN(64, (X(cpu, d.Rn) + X(cpu, d.Rm)) & WMASK[d.sf]!)),
  (cpu, d) => setX(cpu, d.Rd, BigInt.asUintN(64, (X(cpu, d.Rn) - X(cpu, d.Rm)) & WMASK[d.sf]!)),
  (cpu, d) => {
    const m = WMASK[d.sf]!;
    const x = BigInt.asUintN(64, X(cpu, d.Rn) & m);
    setX(cpu, d.Rd, addWithCarry(cpu.ps, x, BigInt.asUintN(64, X(cpu, d.Rm) & m), 0, d.sf));
  },
  (cpu, d) => {
    const m = WMASK[d.sf]!;
    const x = BigInt.asUintN(64, X(cpu, d.Rn) & m);
    setX(cpu, d.Rd, addWithCarry(cpu.ps, x, BigInt.asUintN(64, (X(cpu, d.Rm) & m) ^ m), 1, d.sf));
  },
];

/** AND, ORR, EOR and ANDS (TST) of two registers without a shift or inversion, by opc; MOV is ORR with XZR. */
const LOGICAL_UNSHIFTED: readonly Exec<TwoRegisters>[] = [
  (cpu, d) => setX(cpu, d.Rd, BigInt.asUintN(64, X(cpu, d.Rn) & X(cpu, d.Rm) & WMASK[d.sf]!)),
  (cpu, d) => setX(cpu, d.Rd, BigInt.asUintN(64, (X(cpu, d.Rn) | X(cpu, d.Rm)) & WMASK[d.sf]!)),
  (cpu, d) => setX(cpu, d.Rd, BigInt.asUintN(64, (X(cpu, d.Rn) ^ X(cpu, d.Rm)) & WMASK[d.sf]!)),
  (cpu, d) => {
    const r = BigInt.asUintN(64, X(cpu, d.Rn) & X(cpu, d.Rm) & WMASK[d.sf]!);
    setNZ(cpu.ps, r, d.sf);
    setX(cpu, d.Rd, r);
  },
];
const MOV_REGISTER: Exec<TwoRegisters> = (cpu, d) => setX(cpu, d.Rd, BigInt.asUintN(64, X(cpu, d.Rm) & WMASK[d.sf]!));

export const DP_REGISTER: readonly AnyEncoding[] = [
  // Logical (shifted register): AND, BIC, ORR, ORN, EOR, EON, ANDS, BICS.
  unallocated('0 xx 01010 xx x xxxxx 1xxxxx xxxxx xxxxx', 'logical shifted register with sf=0, imm6>=32'),
  enc(
    'sf:1 opc:2 01010 shift:2 N:1 Rm:5 imm6:6 Rn:5 Rd:5',
    'logical (shifted register)',
    (cpu, d) => {
      const m = WMASK[d.sf]!;
      let y = shiftReg(X(cpu, d.Rm), d.shift, d.imm6, d.sf);
      if (d.N !== 0) y = BigInt.asUintN(64, y ^ m);
      const x = X(cpu, d.Rn);
      switch (d.opc) {
        case 0:
          setX(cpu, d.Rd, BigInt.asUintN(64, x & y));
          break;
        case 1:
          setX(cpu, d.Rd, BigInt.asUintN(64, (x | y) & m));
          break;
        case 2:
          setX(cpu, d.Rd, BigInt.asUintN(64, (x ^ y) & m));
          break;
        default: {
          const r = BigInt.asUintN(64, x & y);
          setNZ(cpu.ps, r, d.sf);
          setX(cpu, d.Rd, r);
        }
      }
    },
    (d) => {
      const op = `${rz(d.Rm, d.sf)}${shiftSuffix(d.shift, d.imm6)}`;
      const op2 = (d.opc << 1) | d.N;
      if (op2 === 2 && d.Rn === 31 && d.shift === 0 && d.imm6 === 0) return `mov ${rz(d.Rd, d.sf)}, ${rz(d.Rm, d.sf)}`;
      if (op2 === 3 && d.Rn === 31) return `mvn ${rz(d.Rd, d.sf)}, ${op}`;
      if (op2 === 6 && d.Rd === 31) return `tst ${rz(d.Rn, d.sf)}, ${op}`;
      const mn = ['and', 'bic', 'orr', 'orn', 'eor', 'eon', 'ands', 'bics'][op2];
      return `${mn} ${rz(d.Rd, d.sf)}, ${rz(d.Rn, d.sf)}, ${op}`;
    },
    (g, d) => {
      const m = d.sf !== 0 ? '' : ' & 0xffffffffn';
      const y0 = g.val(genShiftReg(xw(g, d.Rm, d.sf), d.shift, d.imm6, d.sf));
      const y = d.N !== 0 ? g.val(U(`${y0} ^ ${wmask(d.sf)}`)) : y0;
      const x = g.x(d.Rn);
      if (d.opc === 3) {
        const r = g.val(U(`${x} & ${y}`));
        g.flagsLogic(d.sf, r);
        g.setX(d.Rd, r);
      } else g.setX(d.Rd, U(d.opc === 0 ? `${x} & ${y}` : `(${x} ${d.opc === 1 ? '|' : '^'} ${y})${m}`));
    },
    (d) => {
      if (d.imm6 !== 0 || d.N !== 0) return undefined;
      return d.opc === 1 && d.Rn === 31 ? MOV_REGISTER : LOGICAL_UNSHIFTED[d.opc];
    },
  ),

  // Add/subtract (shifted register): ROR is not a shift these accept.
  unallocated('x x x 01011 11 0 xxxxx xxxxxx xxxxx xxxxx', 'add/sub shifted register with shift=ROR'),
  unallocated('0 x x 01011 xx 0 xxxxx 1xxxxx xxxxx xxxxx', 'add/sub shifted register with sf=0, imm6>=32'),
  enc(
    'sf:1 op:1 S:1 01011 shift:2 0 Rm:5 imm6:6 Rn:5 Rd:5',
    'ADD/SUB (shifted register)',
    (cpu, d) => {
      const m = WMASK[d.sf]!;
      const x = BigInt.asUintN(64, X(cpu, d.Rn) & m);
      const y = shiftReg(X(cpu, d.Rm), d.shift, d.imm6, d.sf);
      if (d.S === 0) {
        setX(cpu, d.Rd, d.op === 0 ? BigInt.asUintN(64, (x + y) & m) : BigInt.asUintN(64, (x - y) & m));
      } else {
        setX(cpu, d.Rd, addWithCarry(cpu.ps, x, d.op === 0 ? y : BigInt.asUintN(64, y ^ m), d.op, d.sf));
      }
    },
    (d) => {
      const op = `${rz(d.Rm, d.sf)}${shiftSuffix(d.shift, d.imm6)}`;
      if (d.S !== 0 && d.Rd === 31) return `${d.op === 0 ? 'cmn' : 'cmp'} ${rz(d.Rn, d.sf)}, ${op}`;
      const mn = (d.op === 0 ? 'add' : 'sub') + (d.S !== 0 ? 's' : '');
      if (d.op === 1 && d.Rn === 31) return `neg${d.S !== 0 ? 's' : ''} ${rz(d.Rd, d.sf)}, ${op}`;
      return `${mn} ${rz(d.Rd, d.sf)}, ${rz(d.Rn, d.sf)}, ${op}`;
    },
    (g, d) => addSub(g, d, xw(g, d.Rn, d.sf), g.val(genShiftReg(xw(g, d.Rm, d.sf), d.shift, d.imm6, d.sf)), false),
    (d) => (d.imm6 === 0 ? ADD_SUB_UNSHIFTED[(d.S << 1) | d.op] : undefined),
  ),

  // Add/subtract (extended register): Rn is SP-capable; Rd too unless flags are set. Shifts above 4 are reserved.
  unallocated('x x x 01011 00 1 xxxxx xxx 101 xxxxx xxxxx', 'add/sub extended register with imm3=5'),
  unallocated('x x x 01011 00 1 xxxxx xxx 11x xxxxx xxxxx', 'add/sub extended register with imm3>5'),
  enc(
    'sf:1 op:1 S:1 01011 00 1 Rm:5 option:3 imm3:3 Rn:5 Rd:5',
    'ADD/SUB (extended register)',
    (cpu, d) => {
      const m = WMASK[d.sf]!;
      const x = BigInt.asUintN(64, XSP(cpu, d.Rn) & m);
      const y = BigInt.asUintN(64, extendReg(X(cpu, d.Rm), d.option, d.imm3) & m);
      if (d.S === 0) {
        setXSP(cpu, d.Rd, d.op === 0 ? BigInt.asUintN(64, (x + y) & m) : BigInt.asUintN(64, (x - y) & m));
      } else {
        setX(cpu, d.Rd, addWithCarry(cpu.ps, x, d.op === 0 ? y : BigInt.asUintN(64, y ^ m), d.op, d.sf));
      }
    },
    (d) => {
      const rm = rz(d.Rm, d.sf !== 0 && (d.option & 3) === 3 ? 1 : 0);
      // With SP as Rd or Rn, the datasize-wide UXTW/UXTX is shown as LSL (and dropped when the shift is 0).
      const spForm = (d.Rd === 31 && d.S === 0) || d.Rn === 31;
      let ext: string;
      if (spForm && d.option === (d.sf !== 0 ? 3 : 2)) ext = d.imm3 === 0 ? '' : `, lsl #${d.imm3}`;
      else ext = `, ${EXTEND_NAMES[d.option]}${d.imm3 !== 0 ? ` #${d.imm3}` : ''}`;
      if (d.S !== 0 && d.Rd === 31) return `${d.op === 0 ? 'cmn' : 'cmp'} ${rsp(d.Rn, d.sf)}, ${rm}${ext}`;
      const mn = (d.op === 0 ? 'add' : 'sub') + (d.S !== 0 ? 's' : '');
      return `${mn} ${d.S !== 0 ? rz(d.Rd, d.sf) : rsp(d.Rd, d.sf)}, ${rsp(d.Rn, d.sf)}, ${rm}${ext}`;
    },
    (g, d) => {
      const x = xspw(g, d.Rn, d.sf);
      const e = genExtendReg(g.x(d.Rm), d.option, d.imm3);
      addSub(g, d, x, g.val(d.sf !== 0 ? e : U(`${e} & 0xffffffffn`)), true);
    },
  ),

  // ADC, ADCS, SBC, SBCS.
  enc(
    'sf:1 op:1 S:1 11010000 Rm:5 000000 Rn:5 Rd:5',
    'ADC/SBC',
    (cpu, d) => {
      const m = WMASK[d.sf]!;
      const x = BigInt.asUintN(64, X(cpu, d.Rn) & m);
      let y = BigInt.asUintN(64, X(cpu, d.Rm) & m);
      if (d.op !== 0) y = BigInt.asUintN(64, y ^ m);
      if (d.S !== 0) {
        setX(cpu, d.Rd, addWithCarry(cpu.ps, x, y, cpu.ps.c, d.sf));
      } else {
        const r = cpu.ps.c !== 0 ? BigInt.asUintN(64, (x + y + 1n) & m) : BigInt.asUintN(64, (x + y) & m);
        setX(cpu, d.Rd, r);
      }
    },
    (d) => {
      const s = d.S !== 0 ? 's' : '';
      if (d.op === 1 && d.Rn === 31) return `ngc${s} ${rz(d.Rd, d.sf)}, ${rz(d.Rm, d.sf)}`;
      return `${d.op === 0 ? 'adc' : 'sbc'}${s} ${rz(d.Rd, d.sf)}, ${rz(d.Rn, d.sf)}, ${rz(d.Rm, d.sf)}`;
    },
    (g, d) => {
      const m = d.sf !== 0 ? '' : ' & 0xffffffffn';
      const x = xw(g, d.Rn, d.sf);
      const y0 = xw(g, d.Rm, d.sf);
      const y = d.op !== 0 ? g.val(U(`${y0} ^ ${wmask(d.sf)}`)) : y0;
      const r = g.val(U(`(${x} + ${y} + ${g.carry()})${m}`));
      if (d.S !== 0) g.flagsAdd(d.sf, x, y, r);
      g.setX(d.Rd, r);
    },
  ),

  // CCMN/CCMP, register (i=0) and immediate (i=1) forms.
  enc(
    'sf:1 op:1 1 11010010 Rm:5 cond:4 i:1 0 Rn:5 0 nzcv:4',
    'CCMN/CCMP',
    (cpu, d) => {
      const ps = cpu.ps;
      if (!conditionHolds(ps, d.cond)) {
        ps.nzcv = d.nzcv;
        return;
      }
      const m = WMASK[d.sf]!;
      const x = BigInt.asUintN(64, X(cpu, d.Rn) & m);
      let y = d.i !== 0 ? BigInt(d.Rm) : BigInt.asUintN(64, X(cpu, d.Rm) & m);
      if (d.op !== 0) y = BigInt.asUintN(64, y ^ m);
      addWithCarry(ps, x, y, d.op, d.sf);
    },
    (d) =>
      `${d.op === 0 ? 'ccmn' : 'ccmp'} ${rz(d.Rn, d.sf)}, ${d.i !== 0 ? hexImm(d.Rm) : rz(d.Rm, d.sf)}, ` +
      `${hexImm(d.nzcv)}, ${COND_NAMES[d.cond]}`,
    (g, d) => {
      const m = d.sf !== 0 ? '' : ' & 0xffffffffn';
      const x = xw(g, d.Rn, d.sf);
      const y0 = d.i !== 0 ? big(d.Rm) : xw(g, d.Rm, d.sf);
      const y = d.op !== 0 ? g.val(U(`${y0} ^ ${wmask(d.sf)}`)) : y0;
      const r = g.val(U(`(${x} + ${y}${d.op !== 0 ? ' + 1n' : ''})${m}`));
      g.flagsIf(d.cond, () => g.flagsAdd(d.sf, x, y, r), d.nzcv);
    },
  ),

  // CSEL, CSINC, CSINV, CSNEG.
  enc(
    'sf:1 op:1 0 11010100 Rm:5 cond:4 0 o2:1 Rn:5 Rd:5',
    'CSEL/CSINC/CSINV/CSNEG',
    (cpu, d) => {
      const m = WMASK[d.sf]!;
      if (conditionHolds(cpu.ps, d.cond)) {
        setX(cpu, d.Rd, BigInt.asUintN(64, X(cpu, d.Rn) & m));
        return;
      }
      const y = X(cpu, d.Rm);
      let r: bigint;
      if (d.op === 0) r = d.o2 === 0 ? y : BigInt.asUintN(64, y + 1n);
      else r = d.o2 === 0 ? BigInt.asUintN(64, y ^ m) : BigInt.asUintN(64, 0n - y);
      setX(cpu, d.Rd, BigInt.asUintN(64, r & m));
    },
    (d) => {
      const kind = (d.op << 1) | d.o2;
      const rd = rz(d.Rd, d.sf);
      // CSET/CSETM, CINC/CINV/CNEG: the same register twice and a condition that can be inverted.
      if (kind !== 0 && d.Rm === d.Rn && d.cond >>> 1 !== 7) {
        const inv = COND_NAMES[d.cond ^ 1];
        if (d.Rn === 31 && kind !== 3) return `${kind === 1 ? 'cset' : 'csetm'} ${rd}, ${inv}`;
        return `${['', 'cinc', 'cinv', 'cneg'][kind]} ${rd}, ${rz(d.Rn, d.sf)}, ${inv}`;
      }
      return `${['csel', 'csinc', 'csinv', 'csneg'][kind]} ${rd}, ${rz(d.Rn, d.sf)}, ${rz(d.Rm, d.sf)}, ${COND_NAMES[d.cond]}`;
    },
    (g, d) => {
      const y = g.x(d.Rm);
      let alt: string;
      if (d.op === 0) alt = d.o2 === 0 ? y : `${y} + 1n`;
      else alt = d.o2 === 0 ? `${y} ^ ${wmask(d.sf)}` : `0n - ${y}`;
      g.setX(d.Rd, g.choose(d.cond, xw(g, d.Rn, d.sf), g.val(U(`(${alt}) & ${wmask(d.sf)}`))));
    },
  ),

  // Data-processing (2 source): UDIV, SDIV.
  enc(
    'sf:1 0 0 11010110 Rm:5 00001 o1:1 Rn:5 Rd:5',
    'UDIV/SDIV',
    (cpu, d) => {
      const m = WMASK[d.sf]!;
      const x = BigInt.asUintN(64, X(cpu, d.Rn) & m);
      const y = BigInt.asUintN(64, X(cpu, d.Rm) & m);
      if (y === 0n) {
        setX(cpu, d.Rd, 0n);
        return;
      } // division by zero gives zero, no trap
      if (d.o1 === 0) {
        setX(cpu, d.Rd, x / y);
        return;
      }
      // RoundTowardsZero(Int(x) / Int(y)); INT_MIN / -1 wraps back to INT_MIN.
      const q = d.sf !== 0 ? BigInt.asIntN(64, x) / BigInt.asIntN(64, y) : BigInt.asIntN(32, x) / BigInt.asIntN(32, y);
      setX(cpu, d.Rd, BigInt.asUintN(64, q & m));
    },
    (d) => `${d.o1 === 0 ? 'udiv' : 'sdiv'} ${rz(d.Rd, d.sf)}, ${rz(d.Rn, d.sf)}, ${rz(d.Rm, d.sf)}`,
    (g, d) => {
      const x = xw(g, d.Rn, d.sf);
      const y = xw(g, d.Rm, d.sf);
      const w = d.sf !== 0 ? 64 : 32;
      const q = d.o1 === 0 ? `${x} / ${y}` : `(BigInt.asIntN(${w}, ${x}) / BigInt.asIntN(${w}, ${y})) & ${wmask(d.sf)}`;
      g.setX(d.Rd, g.select(g.isZero(y), '0n', U(q)));
    },
  ),
  // LSLV, LSRV, ASRV, RORV: the amount is X[m] modulo the datasize.
  enc(
    'sf:1 0 0 11010110 Rm:5 0010 op2:2 Rn:5 Rd:5',
    'LSLV/LSRV/ASRV/RORV',
    (cpu, d) => {
      setX(cpu, d.Rd, shiftVariable(X(cpu, d.Rn), d.op2, X(cpu, d.Rm), d.sf));
    },
    (d) => `${['lsl', 'lsr', 'asr', 'ror'][d.op2]} ${rz(d.Rd, d.sf)}, ${rz(d.Rn, d.sf)}, ${rz(d.Rm, d.sf)}`,
    (g, d) => g.setX(d.Rd, `${g.ref(shiftVariable)}(${g.x(d.Rn)}, ${d.op2}, ${g.x(d.Rm)}, ${d.sf})`),
  ),

  // Data-processing (1 source). REV with sf=0 is opc=10; opc=11 exists only for sf=1.
  unallocated('0 1 0 11010110 00000 0000 11 xxxxx xxxxx', 'REV (64-bit) with sf=0'),
  enc(
    'sf:1 1 0 11010110 00000 0000 opc:2 Rn:5 Rd:5',
    'RBIT/REV16/REV32/REV',
    (cpu, d) => setX(cpu, d.Rd, reverse(X(cpu, d.Rn), d.opc, d.sf)),
    (d) => {
      const mn = d.opc === 0 ? 'rbit' : d.opc === 1 ? 'rev16' : d.opc === 2 && d.sf !== 0 ? 'rev32' : 'rev';
      return `${mn} ${rz(d.Rd, d.sf)}, ${rz(d.Rn, d.sf)}`;
    },
    (g, d) => g.setX(d.Rd, `${g.ref(reverse)}(${g.x(d.Rn)}, ${d.opc}, ${d.sf})`),
  ),
  enc(
    'sf:1 1 0 11010110 00000 00010 op:1 Rn:5 Rd:5',
    'CLZ/CLS',
    (cpu, d) => {
      const x = X(cpu, d.Rn);
      setX(cpu, d.Rd, BigInt(d.op === 0 ? countLeadingZeroBits(x, d.sf) : countLeadingSignBits(x, d.sf)));
    },
    (d) => `${d.op === 0 ? 'clz' : 'cls'} ${rz(d.Rd, d.sf)}, ${rz(d.Rn, d.sf)}`,
    (g, d) => {
      const count = g.ref(d.op === 0 ? countLeadingZeroBits : countLeadingSignBits);
      g.setX(d.Rd, `BigInt(${count}(${g.x(d.Rn)}, ${d.sf}))`);
    },
  ),

  // Data-processing (3 source): MADD, MSUB (the low datasize bits of the product do not depend on the high
  // operand bits).
  enc(
    'sf:1 00 11011 000 Rm:5 o0:1 Ra:5 Rn:5 Rd:5',
    'MADD/MSUB',
    (cpu, d) => {
      const a = X(cpu, d.Ra);
      const p = BigInt.asUintN(64, X(cpu, d.Rn) * X(cpu, d.Rm));
      const r = d.o0 === 0 ? BigInt.asUintN(64, a + p) : BigInt.asUintN(64, a - p);
      setX(cpu, d.Rd, BigInt.asUintN(64, r & WMASK[d.sf]!));
    },
    (d) => {
      const ops = `${rz(d.Rd, d.sf)}, ${rz(d.Rn, d.sf)}, ${rz(d.Rm, d.sf)}`;
      if (d.Ra === 31) return `${d.o0 === 0 ? 'mul' : 'mneg'} ${ops}`;
      return `${d.o0 === 0 ? 'madd' : 'msub'} ${ops}, ${rz(d.Ra, d.sf)}`;
    },
    (g, d) => {
      const p = g.val(U(`${g.x(d.Rn)} * ${g.x(d.Rm)}`));
      g.setX(d.Rd, U(`(${g.x(d.Ra)} ${d.o0 === 0 ? '+' : '-'} ${p})${d.sf !== 0 ? '' : ' & 0xffffffffn'}`));
    },
  ),
  // SMADDL, SMSUBL (U=0), UMADDL, UMSUBL (U=1): 32 x 32 -> 64 plus a 64-bit accumulator.
  enc(
    '1 00 11011 U:1 01 Rm:5 o0:1 Ra:5 Rn:5 Rd:5',
    'SMADDL/SMSUBL/UMADDL/UMSUBL',
    (cpu, d) => {
      const n = X(cpu, d.Rn);
      const mm = X(cpu, d.Rm);
      const p =
        d.U !== 0 ? BigInt.asUintN(32, n) * BigInt.asUintN(32, mm) : BigInt.asIntN(32, n) * BigInt.asIntN(32, mm);
      const a = X(cpu, d.Ra);
      setX(cpu, d.Rd, d.o0 === 0 ? BigInt.asUintN(64, a + p) : BigInt.asUintN(64, a - p));
    },
    (d) => {
      const u = d.U !== 0 ? 'u' : 's';
      const ops = `${rz(d.Rd, 1)}, ${rz(d.Rn, 0)}, ${rz(d.Rm, 0)}`;
      if (d.Ra === 31) return `${u}${d.o0 === 0 ? 'mull' : 'mnegl'} ${ops}`;
      return `${u}${d.o0 === 0 ? 'maddl' : 'msubl'} ${ops}, ${rz(d.Ra, 1)}`;
    },
    (g, d) => {
      const ext = d.U !== 0 ? 'BigInt.asUintN' : 'BigInt.asIntN';
      const p = g.val(U(`${ext}(32, ${g.x(d.Rn)}) * ${ext}(32, ${g.x(d.Rm)})`));
      g.setX(d.Rd, U(`${g.x(d.Ra)} ${d.o0 === 0 ? '+' : '-'} ${p}`));
    },
  ),
  // SMULH (U=0), UMULH (U=1): the high 64 bits of the 128-bit product. Ra is should-be-one and ignored.
  enc(
    '1 00 11011 U:1 10 Rm:5 0 Ra:5 Rn:5 Rd:5',
    'SMULH/UMULH',
    (cpu, d) => {
      const n = X(cpu, d.Rn);
      const mm = X(cpu, d.Rm);
      const p = d.U !== 0 ? n * mm : BigInt.asIntN(64, n) * BigInt.asIntN(64, mm);
      setX(cpu, d.Rd, BigInt.asUintN(64, p >> 64n));
    },
    (d) => `${d.U !== 0 ? 'umulh' : 'smulh'} ${rz(d.Rd, 1)}, ${rz(d.Rn, 1)}, ${rz(d.Rm, 1)}`,
    (g, d) => {
      const n = g.x(d.Rn);
      const mm = g.x(d.Rm);
      g.setX(
        d.Rd,
        U(d.U !== 0 ? `(${n} * ${mm}) >> 64n` : `(BigInt.asIntN(64, ${n}) * BigInt.asIntN(64, ${mm})) >> 64n`),
      );
    },
  ),
];
