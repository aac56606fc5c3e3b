// SIMD&FP moves: DUP (element, general), INS (element, general), UMOV, SMOV, the modified
// immediates (MOVI, MVNI, ORR, BIC, FMOV vector), FMOV between general and SIMD&FP registers
// and FMOV (scalar immediate).
import type { AnyEncoding } from '../decode.js';
import { encPrepared } from './ls-common.js';
import { setX } from '../regs.js';
import { undefinedInstruction } from '../../pe/exception.js';
import { checkFPEnabled } from '../../pe/fp.js';
import { rz, undefinedText } from './dp-common.js';
import { arrangement, elem, setElem, setV } from './simd-common.js';
import type { Cpu } from '../cpu.js';

/** LowestSetBit(imm5) as the element size of the copy instructions, -1 for imm5 = x0000. */
function copySize(imm5: number): number {
  for (let s = 0; s < 4; s++) if ((imm5 >>> s) & 1) return s;
  return -1;
}

const KIND = ['b', 'h', 's', 'd'];

/** The copy group's instruction for (op, imm4, Q), or null when unallocated. */
function copyForm(op: number, imm4: number, q: number, size: number): string | null {
  if (size < 0) return null;
  if (op === 1) return q === 1 ? 'ins-element' : null;
  switch (imm4) {
    case 0b0000:
      return size === 3 && q === 0 ? null : 'dup-element';
    case 0b0001:
      return size === 3 && q === 0 ? null : 'dup-general';
    case 0b0101:
      return size === 3 || (size === 2 && q === 0) ? null : 'smov';
    case 0b0111:
      return (q === 1) === (size === 3) ? 'umov' : null;
    case 0b0011:
      return q === 1 ? 'ins-general' : null;
    default:
      return null;
  }
}

interface Copy {
  readonly raw: number;
  readonly form: string | null;
  readonly q: number;
  readonly size: number;
  readonly index: number;
  /** INS (element): the source lane. */
  readonly index2: number;
  readonly n: number;
  readonly d: number;
}

function decodeCopy(raw: number, q: number, op: number, imm5: number, imm4: number, n: number, d: number): Copy {
  const size = copySize(imm5);
  return {
    raw,
    form: copyForm(op, imm4, q, size),
    q,
    size,
    index: imm5 >>> (size + 1),
    index2: imm4 >>> size,
    n,
    d,
  };
}

function copy(cpu: Cpu, o: Copy): void {
  checkFPEnabled(cpu);
  const v = cpu.v;
  switch (o.form) {
    case 'dup-element':
    case 'dup-general': {
      const value = o.form === 'dup-general' ? cpu.x[o.n]! : elem(v, o.n, o.index, o.size);
      setV(v, o.d, 16, 0n);
      for (let e = 0; e < (o.q ? 16 : 8) >> o.size; e++) setElem(v, o.d, e, o.size, value);
      return;
    }
    case 'smov': {
      const value = BigInt.asIntN(8 << o.size, elem(v, o.n, o.index, o.size));
      setX(cpu, o.d, BigInt.asUintN(o.q ? 64 : 32, value));
      return;
    }
    case 'umov':
      setX(cpu, o.d, elem(v, o.n, o.index, o.size));
      return;
    case 'ins-general':
      setElem(v, o.d, o.index, o.size, cpu.x[o.n]!);
      return;
    case 'ins-element':
      setElem(v, o.d, o.index, o.size, elem(v, o.n, o.index2, o.size));
      return;
    default:
      throw undefinedInstruction(cpu);
  }
}

function copyText(o: Copy): string {
  const k = KIND[o.size]!;
  const lane = (n: number, i: number): string => `v${n}.${k}[${i}]`;
  switch (o.form) {
    case 'dup-element':
      return `dup\tv${o.d}.${arrangement(o.size, o.q)}, ${lane(o.n, o.index)}`;
    case 'dup-general':
      return `dup\tv${o.d}.${arrangement(o.size, o.q)}, ${rz(o.n, o.size === 3)}`;
    case 'smov':
      return `smov\t${rz(o.d, o.q)}, ${lane(o.n, o.index)}`;
    case 'umov':
      return `${o.size >= 2 ? 'mov' : 'umov'}\t${rz(o.d, o.q)}, ${lane(o.n, o.index)}`;
    case 'ins-general':
      return `mov\t${lane(o.d, o.index)}, ${rz(o.n, o.size === 3)}`;
    case 'ins-element':
      return `mov\t${lane(o.d, o.index)}, ${lane(o.n, o.index2)}`;
    default:
      return undefinedText(o.raw);
  }
}

/** DUP (element), scalar: `mov b0, v1.b[3]`. */
interface ScalarDup {
  readonly raw: number;
  readonly size: number;
  readonly index: number;
  readonly n: number;
  readonly d: number;
}

// --- modified immediate ---------------------------------------------------------------

/** VFPExpandImm for single (N = 32) or double (N = 64) precision, as a bit pattern. */
export function vfpExpandImm(imm8: number, n: 32 | 64): bigint {
  const e = n === 32 ? 8 : 11;
  const f = n - e - 1;
  const sign = BigInt(imm8 >>> 7);
  const b6 = (imm8 >>> 6) & 1;
  const exp = BigInt(((b6 ^ 1) << (e - 1)) | ((b6 ? (1 << (e - 3)) - 1 : 0) << 2) | ((imm8 >>> 4) & 3));
  const frac = BigInt(imm8 & 0xf) << BigInt(f - 4);
  return (sign << BigInt(n - 1)) | (exp << BigInt(f)) | frac;
}

/** AdvSIMDExpandImm: the 64-bit pattern of a modified immediate. */
export function advSimdExpandImm(op: number, cmode: number, imm8: number): bigint {
  const i = BigInt(imm8);
  const rep = (v: bigint, bits: number): bigint => {
    let r = 0n;
    for (let s = 0; s < 64; s += bits) r |= v << BigInt(s);
    return r;
  };
  switch (cmode >>> 1) {
    case 0:
      return rep(i, 32);
    case 1:
      return rep(i << 8n, 32);
    case 2:
      return rep(i << 16n, 32);
    case 3:
      return rep(i << 24n, 32);
    case 4:
      return rep(i, 16);
    case 5:
      return rep(i << 8n, 16);
    case 6:
      return rep((cmode & 1) === 0 ? (i << 8n) | 0xffn : (i << 16n) | 0xffffn, 32);
    default:
      if ((cmode & 1) === 0 && op === 0) return rep(i, 8);
      if ((cmode & 1) === 0) {
        let r = 0n;
        for (let b = 0; b < 8; b++) if ((imm8 >>> b) & 1) r |= 0xffn << BigInt(8 * b);
        return r;
      }
      return op === 0 ? rep(vfpExpandImm(imm8, 32), 32) : vfpExpandImm(imm8, 64);
  }
}

const enum ImmOp {
  Movi,
  Mvni,
  Orr,
  Bic,
  Fmov,
  Undefined,
}

interface ModImm {
  readonly raw: number;
  readonly q: number;
  readonly op: ImmOp;
  readonly imm: bigint;
  readonly d: number;
  readonly text: string;
}

function immOp(op: number, cmode: number, q: number): ImmOp {
  if (cmode === 0b1111) return op === 0 || q === 1 ? ImmOp.Fmov : ImmOp.Undefined;
  if (op === 1 && cmode === 0b1110) return ImmOp.Movi;
  const orrBic = (cmode & 1) === 1 && cmode < 0b1100;
  if (orrBic) return op === 0 ? ImmOp.Orr : ImmOp.Bic;
  return op === 0 ? ImmOp.Movi : ImmOp.Mvni;
}

/** A floating-point immediate as objdump prints it: `#1.000000000000000000e+00`. */
export function fpImmText(bits: bigint, n: 32 | 64): string {
  const b = new ArrayBuffer(8);
  if (n === 32) new Uint32Array(b)[0] = Number(bits);
  else new BigUint64Array(b)[0] = bits;
  const value = n === 32 ? new Float32Array(b)[0]! : new Float64Array(b)[0]!;
  return `#${value.toExponential(18).replace(/e([+-])(\d)$/, 'e$10$2')}`;
}

function decodeModImm(raw: number, q: number, op: number, cmode: number, imm8: number, d: number, o2: number): ModImm {
  const kind = o2 !== 0 ? ImmOp.Undefined : immOp(op, cmode, q);
  const imm = advSimdExpandImm(op, cmode, imm8);
  const mn = ['movi', 'mvni', 'orr', 'bic', 'fmov'][kind] ?? '';
  let text: string;
  const hex = `#0x${imm8.toString(16)}`;
  if (kind === ImmOp.Undefined) text = undefinedText(raw);
  else if (kind === ImmOp.Fmov)
    text = `fmov\tv${d}.${op ? '2d' : arrangement(2, q)}, ${fpImmText(op ? imm : imm & 0xffff_ffffn, op ? 64 : 32)}`;
  else if (op === 1 && cmode === 0b1110) text = `movi\t${q ? `v${d}.2d` : `d${d}`}, #0x${imm.toString(16)}`;
  else if (cmode === 0b1110) text = `movi\tv${d}.${arrangement(0, q)}, ${hex}`;
  else if (cmode >= 0b1100) text = `${mn}\tv${d}.${arrangement(2, q)}, ${hex}, msl #${cmode & 1 ? 16 : 8}`;
  else {
    const half = cmode >= 0b1000;
    const amount = ((cmode >>> 1) & (half ? 1 : 3)) * 8;
    text = `${mn}\tv${d}.${arrangement(half ? 1 : 2, q)}, ${hex}${amount ? `, lsl #${amount}` : ''}`;
  }
  return { raw, q, op: kind, imm, d, text };
}

function modImm(cpu: Cpu, o: ModImm): void {
  checkFPEnabled(cpu);
  const v = cpu.v;
  const lo = v.d[2 * o.d]!;
  const hi = v.d[2 * o.d + 1]!;
  const mask = 0xffff_ffff_ffff_ffffn;
  switch (o.op) {
    case ImmOp.Movi:
    case ImmOp.Fmov:
      v.d[2 * o.d] = o.imm;
      v.d[2 * o.d + 1] = o.q ? o.imm : 0n;
      return;
    case ImmOp.Mvni:
      v.d[2 * o.d] = o.imm ^ mask;
      v.d[2 * o.d + 1] = o.q ? o.imm ^ mask : 0n;
      return;
    case ImmOp.Orr:
      v.d[2 * o.d] = lo | o.imm;
      v.d[2 * o.d + 1] = o.q ? hi | o.imm : 0n;
      return;
    case ImmOp.Bic:
      v.d[2 * o.d] = lo & ~o.imm;
      v.d[2 * o.d + 1] = o.q ? hi & ~o.imm : 0n;
      return;
    default:
      throw undefinedInstruction(cpu);
  }
}

// --- FMOV (general) and FMOV (scalar, immediate) --------------------------------------

interface FmovGeneral {
  readonly raw: number;
  /** 0: S<->W, 1: D<->X, 2: V.D[1]<->X, -1: unallocated. */
  readonly kind: number;
  readonly toGeneral: boolean;
  readonly n: number;
  readonly d: number;
}

function fmovGeneral(cpu: Cpu, o: FmovGeneral): void {
  checkFPEnabled(cpu);
  const v = cpu.v;
  if (o.kind < 0) throw undefinedInstruction(cpu);
  if (o.toGeneral) {
    const value = o.kind === 0 ? BigInt(v.s[4 * o.n]!) : v.d[2 * o.n + (o.kind === 2 ? 1 : 0)]!;
    setX(cpu, o.d, value);
  } else if (o.kind === 2) {
    v.d[2 * o.d + 1] = cpu.x[o.n]!;
  } else {
    setV(v, o.d, o.kind === 0 ? 4 : 8, cpu.x[o.n]!);
  }
}

function fmovGeneralText(o: FmovGeneral): string {
  if (o.kind < 0) return undefinedText(o.raw);
  const fp = (n: number): string => (o.kind === 0 ? `s${n}` : o.kind === 1 ? `d${n}` : `v${n}.d[1]`);
  const gp = (n: number): string => rz(n, o.kind !== 0);
  return o.toGeneral ? `fmov\t${gp(o.d)}, ${fp(o.n)}` : `fmov\t${fp(o.d)}, ${gp(o.n)}`;
}

interface FmovImm {
  readonly raw: number;
  readonly bytes: number;
  readonly imm: bigint;
  readonly d: number;
}

export const SIMD_MOVES: readonly AnyEncoding[] = [
  encPrepared(
    '0 Q:1 op:1 01110000 imm5:5 0 imm4:4 1 Rn:5 Rd:5',
    'DUP/INS/UMOV/SMOV',
    (f) => decodeCopy(f.raw, f.Q, f.op, f.imm5, f.imm4, f.Rn, f.Rd),
    copy,
    copyText,
  ),
  encPrepared(
    '01 0 11110000 imm5:5 0 0000 1 Rn:5 Rd:5',
    'DUP (element, scalar)',
    (f): ScalarDup => {
      const size = copySize(f.imm5);
      return { raw: f.raw, size, index: f.imm5 >>> (size + 1), n: f.Rn, d: f.Rd };
    },
    (cpu, o) => {
      checkFPEnabled(cpu);
      if (o.size < 0) throw undefinedInstruction(cpu);
      setV(cpu.v, o.d, 1 << o.size, elem(cpu.v, o.n, o.index, o.size));
    },
    (o) => (o.size < 0 ? undefinedText(o.raw) : `mov\t${KIND[o.size]}${o.d}, v${o.n}.${KIND[o.size]}[${o.index}]`),
  ),
  encPrepared(
    '0 Q:1 op:1 0111100000 a:1 b:1 c:1 cmode:4 o2:1 1 d:1 e:1 f:1 g:1 h:1 Rd:5 imm8=a:b:c:d:e:f:g:h',
    'MOVI/MVNI/ORR/BIC/FMOV (vector, immediate)',
    (f) => decodeModImm(f.raw, f.Q, f.op, f.cmode, f.imm8, f.Rd, f.o2),
    modImm,
    (o) => o.text,
  ),
  encPrepared(
    'sf:1 0 0 11110 type:2 1 rmode:2 11 o:1 000000 Rn:5 Rd:5',
    'FMOV (general)',
    (f): FmovGeneral => {
      const key = (f.sf << 4) | (f.type << 2) | f.rmode;
      const kind = key === 0 ? 0 : key === 0b10100 ? 1 : key === 0b11001 ? 2 : -1;
      return { raw: f.raw, kind, toGeneral: f.o === 0, n: f.Rn, d: f.Rd };
    },
    fmovGeneral,
    fmovGeneralText,
  ),
  encPrepared(
    '000 11110 type:2 1 imm8:8 100 imm5:5 Rd:5',
    'FMOV (scalar, immediate)',
    (f): FmovImm => {
      const ok = f.type < 2 && f.imm5 === 0;
      return { raw: f.raw, bytes: ok ? 4 << f.type : 0, imm: vfpExpandImm(f.imm8, f.type ? 64 : 32), d: f.Rd };
    },
    (cpu, o) => {
      checkFPEnabled(cpu);
      if (o.bytes === 0) throw undefinedInstruction(cpu);
      setV(cpu.v, o.d, o.bytes, o.imm);
    },
    (o) =>
      o.bytes === 0
        ? undefinedText(o.raw)
        : `fmov\t${o.bytes === 4 ? 's' : 'd'}${o.d}, ${fpImmText(o.imm, o.bytes === 4 ? 32 : 64)}`,
  ),
];
