// Data Processing -- Immediate: PC-relative addressing, add/subtract (immediate),
// logical (immediate), move wide, bitfield, extract.
import { enc, type AnyEncoding, type Exec } from '../decode.js';
import { undefinedInstruction } from '../../pe/exception.js';
import { X, setX, XSP, setXSP } from '../regs.js';
import { sextNum, MASK64 } from '../bits.js';
import {
  WMASK,
  addWithCarry,
  setNZ,
  bitMaskKey,
  LOGICAL_IMM,
  LOGICAL_IMM_OK,
  BITFIELD_WMASK,
  BITFIELD_TMASK,
  ror,
  lsl64,
  lsr64,
  bit64,
} from '../alu.js';
import { unallocated, undefinedText, rz, rsp, hexImm, target } from './dp-common.js';
import { U, big, xw, xspw } from '../emit.js';

const HW_SHIFT = new BigUint64Array([0n, 16n, 32n, 48n]);
const PAGE_MASK = 0xffff_ffff_ffff_f000n;

interface AddSubImmediate {
  readonly sf: number;
  readonly sh: number;
  readonly imm12: number;
  readonly Rn: number;
  readonly Rd: number;
}

const immediate = (d: AddSubImmediate): bigint => BigInt(d.sh !== 0 ? d.imm12 * 4096 : d.imm12);

/**
 * ADD, SUB, ADDS and SUBS (CMP) of a register other than SP and an immediate, by S:op, picked at
 * decode (ADD and SUB where Rd is not SP either): the generic executor's SP accesses and branches
 * on op and S cost more than the arithmetic.
 */
const ADD_SUB_IMMEDIATE: readonly Exec<AddSubImmediate>[] = [
  (cpu, d) => setX(cpu, d.Rd, BigInt.asUintN(64, (X(cpu, d.Rn) + immediate(d)) & WMASK[d.sf]!)),
  (cpu, d) => setX(cpu, d.Rd, BigInt.asUintN(64, (X(cpu, d.Rn) - immediate(d)) & WMASK[d.sf]!)),
  (cpu, d) => {
    const x = BigInt.asUintN(64, X(cpu, d.Rn) & WMASK[d.sf]!);
    setX(cpu, d.Rd, addWithCarry(cpu.ps, x, immediate(d), 0, d.sf));
  },
  (cpu, d) => {
    const m = WMASK[d.sf]!;
    const x = BigInt.asUintN(64, X(cpu, d.Rn) & m);
    setX(cpu, d.Rd, addWithCarry(cpu.ps, x, BigInt.asUintN(64, immediate(d) ^ m), 1, d.sf));
  },
];

interface Bitfield {
  readonly sf: number;
  readonly immr: number;
  readonly imms: number;
  readonly Rn: number;
  readonly Rd: number;
}

/** 2^k - 1 for k = 0..64. */
const LOW_MASK = new BigUint64Array(65);
for (let k = 0; k <= 64; k++) LOW_MASK[k] = (1n << BigInt(k)) - 1n;

// UBFM as the two shifts it is, picked at decode: a field extracted (UBFX, LSR: imms >= immr) or
// inserted at the bottom (UBFIZ, LSL: imms < immr), without the generic rotate and masks.
const UBFX: Exec<Bitfield> = (cpu, d) =>
  setX(
    cpu,
    d.Rd,
    BigInt.asUintN(64, lsr64(BigInt.asUintN(64, X(cpu, d.Rn) & WMASK[d.sf]!), d.immr) & LOW_MASK[d.imms - d.immr + 1]!),
  );
const UBFIZ: Exec<Bitfield> = (cpu, d) =>
  setX(
    cpu,
    d.Rd,
    BigInt.asUintN(
      64,
      lsl64(BigInt.asUintN(64, X(cpu, d.Rn) & LOW_MASK[d.imms + 1]!), (d.sf !== 0 ? 64 : 32) - d.immr) & WMASK[d.sf]!,
    ),
  );

export const DP_IMMEDIATE: readonly AnyEncoding[] = [
  enc(
    'op:1 immlo:2 10000 immhi:19 Rd:5',
    'ADR/ADRP',
    (cpu, d) => {
      const imm = sextNum((d.immhi << 2) | d.immlo, 21);
      const pc = cpu.pcs[1]!;
      if (d.op === 0) setX(cpu, d.Rd, BigInt.asUintN(64, pc + BigInt(imm)));
      else setX(cpu, d.Rd, BigInt.asUintN(64, (pc & PAGE_MASK) + (BigInt(imm) << 12n)));
    },
    (d, pc) => {
      const imm = sextNum((d.immhi << 2) | d.immlo, 21);
      return d.op === 0
        ? `adr ${rz(d.Rd, 1)}, ${target(pc, imm)}`
        : `adrp ${rz(d.Rd, 1)}, ${target(pc & PAGE_MASK, imm * 4096)}`;
    },
    (g, d) => {
      const imm = sextNum((d.immhi << 2) | d.immlo, 21);
      if (d.op === 0) g.setX(d.Rd, g.pc(imm));
      else g.setX(d.Rd, U(`(${g.pc(0)} & ${big(PAGE_MASK)}) + ${big(BigInt(imm) << 12n)}`));
    },
  ),

  // ADD/ADDS/SUB/SUBS (immediate). Rn is SP-capable; Rd is SP for ADD/SUB, XZR for the S forms.
  enc(
    'sf:1 op:1 S:1 100010 sh:1 imm12:12 Rn:5 Rd:5',
    'ADD/SUB (immediate)',
    (cpu, d) => {
      const m = WMASK[d.sf]!;
      const x = BigInt.asUintN(64, XSP(cpu, d.Rn) & m);
      const imm = BigInt(d.sh !== 0 ? d.imm12 * 4096 : d.imm12);
      if (d.S === 0) {
        setXSP(cpu, d.Rd, d.op === 0 ? BigInt.asUintN(64, (x + imm) & m) : BigInt.asUintN(64, (x - imm) & m));
      } else {
        setX(cpu, d.Rd, addWithCarry(cpu.ps, x, d.op === 0 ? imm : BigInt.asUintN(64, imm ^ m), d.op, d.sf));
      }
    },
    (d) => {
      const imm = `${hexImm(d.imm12)}${d.sh !== 0 ? ', lsl #12' : ''}`;
      if (d.op === 0 && d.S === 0 && d.sh === 0 && d.imm12 === 0 && (d.Rd === 31 || d.Rn === 31)) {
        return `mov ${rsp(d.Rd, d.sf)}, ${rsp(d.Rn, d.sf)}`;
      }
      if (d.S !== 0 && d.Rd === 31) return `${d.op === 0 ? 'cmn' : 'cmp'} ${rsp(d.Rn, d.sf)}, ${imm}`;
      const mn = (d.op === 0 ? 'add' : 'sub') + (d.S !== 0 ? 's' : '');
      return `${mn} ${d.S !== 0 ? rz(d.Rd, d.sf) : rsp(d.Rd, d.sf)}, ${rsp(d.Rn, d.sf)}, ${imm}`;
    },
    (g, d) => {
      const imm = BigInt(d.sh !== 0 ? d.imm12 * 4096 : d.imm12);
      const m = d.sf !== 0 ? '' : ' & 0xffffffffn';
      const x = xspw(g, d.Rn, d.sf);
      if (d.S === 0) {
        g.setXsp(d.Rd, U(`(${x} ${d.op === 0 ? '+' : '-'} ${big(imm)})${m}`));
        return;
      }
      const y = big(d.op === 0 ? imm : imm ^ WMASK[d.sf]!);
      const r = g.val(U(`(${x} + ${y}${d.op !== 0 ? ' + 1n' : ''})${m}`));
      g.flagsAdd(d.sf, x, y, r);
      g.setX(d.Rd, r);
    },
    (d) => (d.Rn === 31 || (d.S === 0 && d.Rd === 31) ? undefined : ADD_SUB_IMMEDIATE[(d.S << 1) | d.op]),
  ),

  // Logical (immediate): N=1 names a 64-bit element, which a 32-bit operation cannot have.
  unallocated('0 xx 100100 1 xxxxxx xxxxxx xxxxx xxxxx', 'logical immediate with sf=0, N=1'),
  enc(
    'sf:1 opc:2 100100 N:1 immr:6 imms:6 Rn:5 Rd:5',
    'logical (immediate)',
    (cpu, d) => {
      const key = bitMaskKey(d.N, d.immr, d.imms);
      if (LOGICAL_IMM_OK[key] === 0) throw undefinedInstruction(cpu); // DecodeBitMasks: reserved
      const m = WMASK[d.sf]!;
      const imm = BigInt.asUintN(64, LOGICAL_IMM[key]! & m);
      const x = X(cpu, d.Rn);
      switch (d.opc) {
        case 0:
          setXSP(cpu, d.Rd, BigInt.asUintN(64, x & imm));
          break; // AND
        case 1:
          setXSP(cpu, d.Rd, BigInt.asUintN(64, (x | imm) & m));
          break; // ORR
        case 2:
          setXSP(cpu, d.Rd, BigInt.asUintN(64, (x ^ imm) & m));
          break; // EOR
        default: {
          // ANDS
          const r = BigInt.asUintN(64, x & imm);
          setNZ(cpu.ps, r, d.sf);
          setX(cpu, d.Rd, r);
        }
      }
    },
    (d) => {
      const key = bitMaskKey(d.N, d.immr, d.imms);
      if (LOGICAL_IMM_OK[key] === 0) return undefinedText(d.raw);
      const imm = hexImm(LOGICAL_IMM[key]! & WMASK[d.sf]!);
      if (d.opc === 3 && d.Rd === 31) return `tst ${rz(d.Rn, d.sf)}, ${imm}`;
      if (d.opc === 1 && d.Rn === 31 && !moveWidePreferred(d.sf, d.N, d.imms, d.immr))
        return `mov ${rsp(d.Rd, d.sf)}, ${imm}`;
      const rd = d.opc === 3 ? rz(d.Rd, d.sf) : rsp(d.Rd, d.sf);
      return `${['and', 'orr', 'eor', 'ands'][d.opc]} ${rd}, ${rz(d.Rn, d.sf)}, ${imm}`;
    },
    (g, d) => {
      const key = bitMaskKey(d.N, d.immr, d.imms);
      if (LOGICAL_IMM_OK[key] === 0) {
        g.undefinedInstruction();
        return;
      }
      const imm = big(LOGICAL_IMM[key]! & WMASK[d.sf]!);
      const m = d.sf !== 0 ? '' : ' & 0xffffffffn';
      const x = g.x(d.Rn);
      if (d.opc === 3) {
        const r = g.val(U(`${x} & ${imm}`));
        g.flagsLogic(d.sf, r);
        g.setX(d.Rd, r);
      } else g.setXsp(d.Rd, U(d.opc === 0 ? `${x} & ${imm}` : `(${x} ${d.opc === 1 ? '|' : '^'} ${imm})${m}`));
    },
  ),

  // Move wide: opc=01 is unallocated, and a 32-bit register has only two halfwords.
  unallocated('x 01 100101 xx xxxxxxxxxxxxxxxx xxxxx', 'move wide opc=01'),
  unallocated('0 xx 100101 1x xxxxxxxxxxxxxxxx xxxxx', 'move wide with sf=0, hw>=2'),
  enc(
    'sf:1 opc:2 100101 hw:2 imm16:16 Rd:5',
    'MOVN/MOVZ/MOVK',
    (cpu, d) => {
      const imm = lsl64(BigInt(d.imm16), d.hw * 16);
      const m = WMASK[d.sf]!;
      switch (d.opc) {
        case 0:
          setX(cpu, d.Rd, BigInt.asUintN(64, imm ^ m));
          break; // MOVN
        case 2:
          setX(cpu, d.Rd, imm);
          break; // MOVZ
        default: {
          // MOVK
          const keep = BigInt.asUintN(64, lsl64(0xffffn, d.hw * 16) ^ m);
          setX(cpu, d.Rd, BigInt.asUintN(64, (X(cpu, d.Rd) & keep) | imm));
        }
      }
    },
    (d) => {
      const shifted = BigInt(d.imm16) << BigInt(d.hw * 16);
      const m = WMASK[d.sf]!;
      // MOV (wide immediate) is preferred unless it would be ambiguous: a zero halfword moved anywhere
      // but position 0, or (32-bit MOVN) an all-ones halfword.
      const plain = !(d.imm16 === 0 && d.hw !== 0);
      if (d.opc === 2 && plain) return `mov ${rz(d.Rd, d.sf)}, ${hexImm(shifted)}`;
      if (d.opc === 0 && plain && !(d.sf === 0 && d.imm16 === 0xffff))
        return `mov ${rz(d.Rd, d.sf)}, ${hexImm(shifted ^ m)}`;
      return `${['movn', '', 'movz', 'movk'][d.opc]} ${rz(d.Rd, d.sf)}, ${hexImm(d.imm16)}${d.hw !== 0 ? `, lsl #${d.hw * 16}` : ''}`;
    },
    (g, d) => {
      const pos = HW_SHIFT[d.hw]!;
      const imm = BigInt(d.imm16) << pos;
      const m = WMASK[d.sf]!;
      if (d.opc === 0) g.setX(d.Rd, big(imm ^ m));
      else if (d.opc === 2) g.setX(d.Rd, big(imm));
      else g.setX(d.Rd, U(`(${g.x(d.Rd)} & ${big((0xffffn << pos) ^ m)}) | ${big(imm)}`));
    },
  ),

  // Bitfield: N must equal sf, and a 32-bit form's immr/imms are below 32.
  unallocated('x 11 100110 x xxxxxx xxxxxx xxxxx xxxxx', 'bitfield opc=11'),
  unallocated('1 xx 100110 0 xxxxxx xxxxxx xxxxx xxxxx', 'bitfield with sf=1, N=0'),
  unallocated('0 xx 100110 1 xxxxxx xxxxxx xxxxx xxxxx', 'bitfield with sf=0, N=1'),
  unallocated('0 xx 100110 x 1xxxxx xxxxxx xxxxx xxxxx', 'bitfield with sf=0, immr>=32'),
  unallocated('0 xx 100110 x xxxxxx 1xxxxx xxxxx xxxxx', 'bitfield with sf=0, imms>=32'),
  // SBFM (opc=00), BFM (01), UBFM (10), as the ARM ARM's shared bitfield pseudocode.
  enc(
    'sf:1 opc:2 100110 N:1 immr:6 imms:6 Rn:5 Rd:5',
    'SBFM/BFM/UBFM',
    (cpu, d) => {
      const m = WMASK[d.sf]!;
      const key = bitMaskKey(d.N, d.immr, d.imms);
      const wmask = BITFIELD_WMASK[key]!;
      const tmask = BITFIELD_TMASK[key]!;
      const src = BigInt.asUintN(64, X(cpu, d.Rn) & m);
      const dst = d.opc === 1 ? BigInt.asUintN(64, X(cpu, d.Rd) & m) : 0n;
      // bot: the rotated source bits under wmask, destination bits elsewhere.
      const bot = BigInt.asUintN(64, ((dst & (wmask ^ MASK64)) | (ror(src, d.immr, d.sf) & wmask)) & m);
      // top: replicated sign bit src<S> for SBFM, the destination (zero for UBFM) otherwise.
      const top = d.opc === 0 ? (bit64(src, d.imms) !== 0 ? m : 0n) : dst;
      setX(cpu, d.Rd, BigInt.asUintN(64, ((top & (tmask ^ MASK64)) | (bot & tmask)) & m));
    },
    (d) => bitfieldText(d.sf, d.opc, d.immr, d.imms, d.Rn, d.Rd),
    (g, d) => {
      const w = d.sf !== 0 ? 64 : 32;
      const m = WMASK[d.sf]!;
      const tm = d.sf !== 0 ? '' : ' & 0xffffffffn';
      const key = bitMaskKey(d.N, d.immr, d.imms);
      const wmask = BITFIELD_WMASK[key]!;
      const tmask = BITFIELD_TMASK[key]!;
      const src = xw(g, d.Rn, d.sf);
      const rot = d.immr === 0 ? src : g.val(U(`((${src} >> ${d.immr}n) | (${src} << ${w - d.immr}n))${tm}`));
      if (d.opc === 2) {
        g.setX(d.Rd, U(`${rot} & ${big(wmask & tmask & m)}`));
        return;
      }
      // bot: the rotated source under wmask, the destination elsewhere; top: the destination
      // (BFM) or src<imms> replicated as 0 - bit (SBFM).
      const dst = d.opc === 1 ? xw(g, d.Rd, d.sf) : '0n';
      const bot = g.val(U(`(${dst} & ${big((wmask ^ MASK64) & m)}) | (${rot} & ${big(wmask & m)})`));
      const top = d.opc === 1 ? dst : g.val(U(`(0n - ((${src} >> ${d.imms}n) & 1n))${tm}`));
      g.setX(d.Rd, U(`(${top} & ${big((tmask ^ MASK64) & m)}) | (${bot} & ${big(tmask)})`));
    },
    (d) => (d.opc !== 2 ? undefined : d.imms >= d.immr ? UBFX : UBFIZ),
  ),

  // EXTR: N must equal sf; a 32-bit form's lsb is below 32.
  unallocated('1 00 100111 0 0 xxxxx xxxxxx xxxxx xxxxx', 'EXTR with sf=1, N=0'),
  unallocated('0 00 100111 1 0 xxxxx xxxxxx xxxxx xxxxx', 'EXTR with sf=0, N=1'),
  unallocated('0 00 100111 x 0 xxxxx 1xxxxx xxxxx xxxxx', 'EXTR with sf=0, imms>=32'),
  enc(
    'sf:1 00 100111 N:1 0 Rm:5 imms:6 Rn:5 Rd:5',
    'EXTR',
    (cpu, d) => {
      const m = WMASK[d.sf]!;
      const lo = BigInt.asUintN(64, X(cpu, d.Rm) & m);
      if (d.imms === 0) {
        setX(cpu, d.Rd, lo);
        return;
      }
      const hi = BigInt.asUintN(64, X(cpu, d.Rn) & m);
      setX(cpu, d.Rd, BigInt.asUintN(64, (lsr64(lo, d.imms) | lsl64(hi, (d.sf !== 0 ? 64 : 32) - d.imms)) & m));
    },
    (d) =>
      d.Rn === d.Rm
        ? `ror ${rz(d.Rd, d.sf)}, ${rz(d.Rn, d.sf)}, #${d.imms}`
        : `extr ${rz(d.Rd, d.sf)}, ${rz(d.Rn, d.sf)}, ${rz(d.Rm, d.sf)}, #${d.imms}`,
    (g, d) => {
      const lo = xw(g, d.Rm, d.sf);
      if (d.imms === 0) {
        g.setX(d.Rd, lo);
        return;
      }
      const hi = xw(g, d.Rn, d.sf);
      const m = d.sf !== 0 ? '' : ' & 0xffffffffn';
      g.setX(d.Rd, U(`((${lo} >> ${d.imms}n) | (${hi} << ${(d.sf !== 0 ? 64 : 32) - d.imms}n))${m}`));
    },
  ),
];

/** MoveWidePreferred(sf, immN, imms, immr): whether MOVZ/MOVN could encode this bitmask immediate. */
function moveWidePreferred(sf: number, immN: number, imms: number, immr: number): boolean {
  const width = sf !== 0 ? 64 : 32;
  if (sf !== 0 && immN !== 1) return false; // the element must span the whole register
  if (sf === 0 && (immN !== 0 || (imms & 0x20) !== 0)) return false;
  if (imms < 16) return ((16 - (immr & 15)) & 15) <= 15 - imms; // -R MOD 16: ones within one halfword
  if (imms >= width - 15) return (immr & 15) <= imms - (width - 15); // zeros within one halfword
  return false;
}

/** The bitfield instructions with objdump's preferred aliases (the ARM ARM's alias conditions). */
function bitfieldText(sf: number, opc: number, immr: number, imms: number, rn: number, rd: number): string {
  const width = sf !== 0 ? 64 : 32;
  const d = rz(rd, sf);
  const n = rz(rn, sf);
  const ins = `#${(width - immr) & (width - 1)}, #${imms + 1}`; // the *IZ/BFI forms: lsb, width
  const ext = `#${immr}, #${imms - immr + 1}`; // the *X/BFXIL forms: lsb, width
  if (opc === 0) {
    if (imms === width - 1) return `asr ${d}, ${n}, #${immr}`;
    if (imms < immr) return `sbfiz ${d}, ${n}, ${ins}`;
    if (immr === 0 && (imms === 7 || imms === 15 || (imms === 31 && sf !== 0))) {
      return `sxt${imms === 7 ? 'b' : imms === 15 ? 'h' : 'w'} ${d}, ${rz(rn, 0)}`;
    }
    return `sbfx ${d}, ${n}, ${ext}`;
  }
  if (opc === 1) {
    if (imms < immr) return rn === 31 ? `bfc ${d}, ${ins}` : `bfi ${d}, ${n}, ${ins}`;
    return `bfxil ${d}, ${n}, ${ext}`;
  }
  if (imms !== width - 1 && imms + 1 === immr) return `lsl ${d}, ${n}, #${width - 1 - imms}`;
  if (imms === width - 1) return `lsr ${d}, ${n}, #${immr}`;
  if (imms < immr) return `ubfiz ${d}, ${n}, ${ins}`;
  if (sf === 0 && immr === 0 && (imms === 7 || imms === 15)) return `uxt${imms === 7 ? 'b' : 'h'} ${d}, ${n}`;
  return `ubfx ${d}, ${n}, ${ext}`;
}
