// Advanced SIMD floating point, vector and scalar: three same (arithmetic, fused FMLA/FMLS,
// compares and absolute compares, pairwise, FRECPS/FRSQRTS), two-register miscellaneous
// (compares with zero, FABS/FNEG/FSQRT, FRINT*, conversions, FCVTN/FCVTL/FCVTXN, FRECPE/FRSQRTE,
// URECPE/URSQRTE), across lanes, scalar pairwise, by element (FMLA, FMLS, FMUL, FMULX), and the
// fixed-point conversions of the shift-by-immediate group. Each lane runs through the same
// ARM ARM functions as the scalar instructions (src/cpu/fp).
import type { AnyEncoding } from '../decode.js';
import { undefinedInstruction } from '../../pe/exception.js';
import { undefinedText } from './dp-common.js';
import { encPrepared } from './ls-common.js';
import { elem, setElem, setV, arrangement } from './simd-common.js';
import { fpBinary, withFP } from './fp-scalar.js';
import {
  F32,
  F64,
  F16,
  FPEXC,
  FPType,
  type FPCRView,
  FPFlags,
  type FPFormat,
  fpDefaultNaN,
  fpInfinity,
  fpProcessNaN,
  fpProcessNaNs,
  fpRound,
  fpUnpack,
  fpZero,
  fpOne,
  fpMaxNormal,
  isNaN,
} from '../fp/fpcore.js';
import {
  Cmp,
  TIE_AWAY,
  fixedToFP,
  fpCompareMask,
  fpConvert,
  fpMul,
  fpMulAdd,
  fpRoundInt,
  fpSqrt,
  fpToFixed,
} from '../fp/arith.js';
import type { Cpu } from '../cpu.js';

export interface FVec {
  readonly raw: number;
  readonly run: ((cpu: Cpu, o: FVec) => void) | null;
  readonly text: string;
  readonly q: number;
  readonly fmt: FPFormat;
  readonly n: number;
  readonly m: number;
  readonly d: number;
  readonly scalar: boolean;
  /** By element: the lane of Vm; fixed point: the fraction bits. */
  readonly imm: number;
  readonly name: string;
}

function fvec(raw: number, f: Partial<FVec>): FVec {
  return {
    raw,
    run: null,
    text: undefinedText(raw),
    q: 0,
    fmt: F32,
    n: 0,
    m: 0,
    d: 0,
    scalar: false,
    imm: 0,
    name: '',
    ...f,
  };
}

export function execF(cpu: Cpu, o: FVec): void {
  if (o.run === null) {
    withFP(cpu, () => 0); // the FP access check comes first
    throw undefinedInstruction(cpu);
  }
  o.run(cpu, o);
}

const size = (fmt: FPFormat): number => (fmt.n === 64 ? 3 : fmt.n === 32 ? 2 : 1);
const lanes = (o: FVec, fmt = o.fmt): number => (o.scalar ? 1 : (o.q ? 128 : 64) / fmt.n);
const V = (n: number, fmt: FPFormat, q: number): string => `v${n}.${arrangement(size(fmt), q)}`;
const S = (n: number, fmt: FPFormat): string => `${'bhsd'[size(fmt)]}${n}`;
const regs = (o: FVec, count: number): string =>
  [o.d, o.n, o.m]
    .slice(0, count)
    .map((r) => (o.scalar ? S(r, o.fmt) : V(r, o.fmt, o.q)))
    .join(', ');

function readLanes(cpu: Cpu, n: number, fmt: FPFormat, k: number, from = 0): bigint[] {
  return Array.from({ length: k }, (_, e) => elem(cpu.v, n, from + e, size(fmt)));
}

function writeLanes(cpu: Cpu, d: number, fmt: FPFormat, values: readonly bigint[]): void {
  setV(cpu.v, d, 16, 0n);
  values.forEach((x, e) => setElem(cpu.v, d, e, size(fmt), x));
}

const ONES = (fmt: FPFormat): bigint => (1n << BigInt(fmt.n)) - 1n;
const SIGN = (fmt: FPFormat): bigint => 1n << BigInt(fmt.n - 1);

// --- FRECPE, FRSQRTE, FRECPS, FRSQRTS, FRECPX -------------------------------------------

/** RecipEstimate: the 8-bit estimate of 1/a for a in [0.5, 1) scaled as a 9-bit integer 256..511. */
function recipEstimate(a: number): number {
  a = a * 2 + 1;
  const b = Math.floor((1 << 19) / a);
  return (b + 1) >> 1;
}

/** RecipSqrtEstimate for a 9-bit integer 128..511 (the exponent's parity folded in). */
function recipSqrtEstimate(a: number): number {
  // In units of 1/1024: 0.25 <= a < 0.5 rounded to nearest 1/512, 0.5 <= a < 1 to nearest 1/256.
  a = a < 256 ? a * 2 + 1 : ((a >> 1) * 2 + 1) * 2;
  let b = 512;
  while (a * (b + 1) * (b + 1) < 1 << 28) b++;
  return (b + 1) >> 1;
}

/** FPRecipEstimate (FRECPE). */
function fpRecipEstimate(op: bigint, fmt: FPFormat, fpcr: FPCRView, flags: FPFlags): bigint {
  const x = fpUnpack(op, fmt, fpcr, flags);
  if (isNaN(x.type)) return fpProcessNaN(x.type, op, fmt, fpcr, flags);
  if (x.type === FPType.Infinity) return fpZero(x.sign, fmt);
  if (x.type === FPType.Zero) {
    flags.raise(FPEXC.DZC);
    return fpInfinity(x.sign, fmt);
  }
  const bias = (1 << (fmt.e - 1)) - 1;
  const expField = Number((op >> BigInt(fmt.f)) & ((1n << BigInt(fmt.e)) - 1n));
  let exponent = expField;
  let fraction = op & ((1n << BigInt(fmt.f)) - 1n);
  // Tiny values overflow the reciprocal.
  if (x.mant !== 0n && x.exp + (x.mant.toString(2).length - 1) < -(fmt.n === 32 ? 128 : 1024)) {
    const toInf = fpcr.rmode === 0 || (fpcr.rmode === 1 && x.sign === 0) || (fpcr.rmode === 2 && x.sign === 1);
    flags.raise(FPEXC.OFC | FPEXC.IXC);
    return toInf ? fpInfinity(x.sign, fmt) : fpMaxNormal(x.sign, fmt);
  }
  if (fpcr.fz && expField >= 2 * bias - 1) {
    // The result would be denormal: flushed.
    flags.raise(FPEXC.UFC);
    return fpZero(x.sign, fmt);
  }
  if (exponent === 0) {
    if (((fraction >> BigInt(fmt.f - 1)) & 1n) === 0n) {
      exponent = -1;
      fraction = (fraction << 2n) & ((1n << BigInt(fmt.f)) - 1n);
    } else fraction = (fraction << 1n) & ((1n << BigInt(fmt.f)) - 1n);
  }
  const scaled = recipEstimate(Number(fraction >> BigInt(fmt.f - 8)) | 0x100) & 0xff;
  let resultExp = 2 * bias - 1 - exponent;
  let resultFrac = BigInt(scaled) << BigInt(fmt.f - 8);
  if (resultExp === 0) resultFrac = (1n << BigInt(fmt.f - 1)) | (resultFrac >> 1n);
  else if (resultExp === -1) {
    resultFrac = (1n << BigInt(fmt.f - 2)) | (resultFrac >> 2n);
    resultExp = 0;
  }
  return fpZero(x.sign, fmt) | (BigInt(resultExp) << BigInt(fmt.f)) | resultFrac;
}

/** FPRSqrtEstimate (FRSQRTE). */
function fpRSqrtEstimate(op: bigint, fmt: FPFormat, fpcr: FPCRView, flags: FPFlags): bigint {
  const x = fpUnpack(op, fmt, fpcr, flags);
  if (isNaN(x.type)) return fpProcessNaN(x.type, op, fmt, fpcr, flags);
  if (x.type === FPType.Zero) {
    flags.raise(FPEXC.DZC);
    return fpInfinity(x.sign, fmt);
  }
  if (x.sign === 1) {
    flags.raise(FPEXC.IOC);
    return fpDefaultNaN(fmt);
  }
  if (x.type === FPType.Infinity) return fpZero(0, fmt);
  const bias = (1 << (fmt.e - 1)) - 1;
  let exponent = Number((op >> BigInt(fmt.f)) & ((1n << BigInt(fmt.e)) - 1n));
  let fraction = op & ((1n << BigInt(fmt.f)) - 1n);
  if (exponent === 0) {
    while (((fraction >> BigInt(fmt.f - 1)) & 1n) === 0n) {
      fraction = (fraction << 1n) & ((1n << BigInt(fmt.f)) - 1n);
      exponent--;
    }
    fraction = (fraction << 1n) & ((1n << BigInt(fmt.f)) - 1n);
  }
  const top = Number(fraction >> BigInt(fmt.f - 8));
  const scaled = recipSqrtEstimate((exponent & 1) === 0 ? top | 0x100 : (top >> 1) | 0x80) & 0xff;
  const resultExp = Math.floor((3 * bias - 1 - exponent) / 2);
  return (BigInt(resultExp) << BigInt(fmt.f)) | (BigInt(scaled) << BigInt(fmt.f - 8));
}

/** FPRecipStepFused (FRECPS: 2 - a×b) and FPRSqrtStepFused (FRSQRTS: (3 - a×b) / 2), fused. */
function fpStep(a: bigint, b: bigint, sqrt: boolean, fmt: FPFormat, fpcr: FPCRView, flags: FPFlags): bigint {
  const na = a ^ SIGN(fmt);
  const x = fpUnpack(na, fmt, fpcr, flags);
  const y = fpUnpack(b, fmt, fpcr, flags);
  const nan = fpProcessNaNs(
    [
      { u: x, bits: na },
      { u: y, bits: b },
    ],
    fmt,
    fpcr,
    flags,
  );
  if (nan !== null) return nan;
  const infX = x.type === FPType.Infinity;
  const infY = y.type === FPType.Infinity;
  const zeroX = x.type === FPType.Zero;
  const zeroY = y.type === FPType.Zero;
  if ((infX && zeroY) || (zeroX && infY)) return sqrt ? fpOneAndHalf(fmt) : fpTwoOf(fmt);
  if (infX || infY) return fpInfinity(x.sign ^ y.sign, fmt);
  const three = sqrt ? 3n : 2n;
  // (three - a×b) [/ 2] exactly, then one rounding: both terms halved for FRSQRTS.
  const half = sqrt ? 1 : 0;
  const pExp = x.exp + y.exp;
  const e = Math.min(pExp, 0) - half;
  const prod = (x.mant * y.mant) << BigInt(pExp - e - half);
  const signedProd = x.sign ^ y.sign ? -prod : prod;
  const v = (three << BigInt(-e - half)) + signedProd;
  if (v === 0n) return fpZero(fpcr.rmode === 2 ? 1 : 0, fmt);
  return fpRound(v < 0n ? 1 : 0, v < 0n ? -v : v, e, false, fmt, fpcr, flags);
}

const fpTwoOf = (fmt: FPFormat): bigint => BigInt(1 << (fmt.e - 1)) << BigInt(fmt.f);
const fpOneAndHalf = (fmt: FPFormat): bigint => fpOne(0, fmt) | (1n << BigInt(fmt.f - 1));

/** FRECPX: the reciprocal exponent. */
function fpRecpX(op: bigint, fmt: FPFormat, fpcr: FPCRView, flags: FPFlags): bigint {
  const x = fpUnpack(op, fmt, fpcr, flags);
  if (isNaN(x.type)) return fpProcessNaN(x.type, op, fmt, fpcr, flags);
  const expMask = (1n << BigInt(fmt.e)) - 1n;
  const exp = (op >> BigInt(fmt.f)) & expMask;
  const r = exp === 0n ? expMask - 1n : exp ^ expMask;
  return fpZero(x.sign, fmt) | (r << BigInt(fmt.f));
}

/** UnsignedRecipEstimate / UnsignedRSqrtEstimate (URECPE, URSQRTE) on 32-bit lanes. */
function unsignedEstimate(v: bigint, sqrt: boolean): bigint {
  if (!sqrt) {
    if (v >> 31n === 0n) return 0xffff_ffffn;
    return BigInt(recipEstimate(Number(v >> 23n) & 0x1ff)) << 23n;
  }
  if (v >> 30n === 0n) return 0xffff_ffffn;
  return BigInt(recipSqrtEstimate(Number(v >> 23n) & 0x1ff)) << 23n;
}

// --- three same -----------------------------------------------------------------------------

/** U:a:opcode<2:0> -> name. */
const SAME3: Readonly<Record<number, string>> = {
  0b0_0_000: 'fmaxnm',
  0b0_0_001: 'fmla',
  0b0_0_010: 'fadd',
  0b0_0_011: 'fmulx',
  0b0_0_100: 'fcmeq',
  0b0_0_110: 'fmax',
  0b0_0_111: 'frecps',
  0b0_1_000: 'fminnm',
  0b0_1_001: 'fmls',
  0b0_1_010: 'fsub',
  0b0_1_110: 'fmin',
  0b0_1_111: 'frsqrts',
  0b1_0_000: 'fmaxnmp',
  0b1_0_010: 'faddp',
  0b1_0_011: 'fmul',
  0b1_0_100: 'fcmge',
  0b1_0_101: 'facge',
  0b1_0_110: 'fmaxp',
  0b1_0_111: 'fdiv',
  0b1_1_000: 'fminnmp',
  0b1_1_010: 'fabd',
  0b1_1_100: 'fcmgt',
  0b1_1_101: 'facgt',
  0b1_1_110: 'fminp',
};
const SCALAR_SAME = new Set(['fmulx', 'fcmeq', 'frecps', 'frsqrts', 'fcmge', 'facge', 'fabd', 'fcmgt', 'facgt']);

/** One lane of a three-same operation (the accumulator for FMLA/FMLS). */
function sameLane(
  name: string,
  a: bigint,
  b: bigint,
  acc: bigint,
  fmt: FPFormat,
  fpcr: FPCRView,
  flags: FPFlags,
): bigint {
  const mask = (c: boolean): bigint => (c ? ONES(fmt) : 0n);
  switch (name) {
    case 'fmla':
      return fpMulAdd(acc, a, b, fmt, fpcr, flags);
    case 'fmls':
      return fpMulAdd(acc, a ^ SIGN(fmt), b, fmt, fpcr, flags);
    case 'fcmeq':
      return mask(fpCompareMask(a, b, Cmp.EQ, fmt, fpcr, flags));
    case 'fcmge':
      return mask(fpCompareMask(a, b, Cmp.GE, fmt, fpcr, flags));
    case 'fcmgt':
      return mask(fpCompareMask(a, b, Cmp.GT, fmt, fpcr, flags));
    case 'facge':
      return mask(fpCompareMask(a & ~SIGN(fmt), b & ~SIGN(fmt), Cmp.GE, fmt, fpcr, flags));
    case 'facgt':
      return mask(fpCompareMask(a & ~SIGN(fmt), b & ~SIGN(fmt), Cmp.GT, fmt, fpcr, flags));
    case 'frecps':
      return fpStep(a, b, false, fmt, fpcr, flags);
    case 'frsqrts':
      return fpStep(a, b, true, fmt, fpcr, flags);
    default:
      return fpBinary(name.replace(/p$/, '').replace(/^fmulx$/, 'fmulx'), a, b, fmt, fpcr, flags);
  }
}

function sameRun(cpu: Cpu, o: FVec): void {
  const k = lanes(o);
  const a = readLanes(cpu, o.n, o.fmt, k);
  const b = readLanes(cpu, o.m, o.fmt, k);
  const acc = readLanes(cpu, o.d, o.fmt, k);
  const pairwise = o.name.endsWith('p') && o.name !== 'frecps';
  const out = withFP(cpu, (fpcr, flags) => {
    if (pairwise) {
      const cat = [...a, ...b];
      return Array.from({ length: k }, (_, e) =>
        sameLane(o.name, cat[2 * e]!, cat[2 * e + 1]!, 0n, o.fmt, fpcr, flags),
      );
    }
    return a.map((x, e) => sameLane(o.name, x, b[e]!, acc[e]!, o.fmt, fpcr, flags));
  });
  writeLanes(cpu, o.d, o.fmt, out);
}

function decodeSame(
  raw: number,
  q: number,
  u: number,
  a: number,
  sz: number,
  m: number,
  op: number,
  n: number,
  d: number,
  scalar: boolean,
): FVec {
  const name = SAME3[(u << 4) | (a << 3) | op];
  const fmt = sz ? F64 : F32;
  if (name === undefined || (scalar && !SCALAR_SAME.has(name)) || (!scalar && sz === 1 && q === 0))
    return fvec(raw, {});
  const o = fvec(raw, { q, fmt, n, m, d, scalar, name, run: sameRun });
  return { ...o, text: `${name}\t${regs(o, 3)}` };
}

// --- two-register miscellaneous -----------------------------------------------------------------

/** U:a:opcode -> name, for the FP opcodes of the two-register group. */
const MISC: Readonly<Record<number, string>> = {
  0b0_0_10110: 'fcvtn',
  0b1_0_10110: 'fcvtxn',
  0b0_0_10111: 'fcvtl',
  0b0_0_11000: 'frintn',
  0b1_0_11000: 'frinta',
  0b0_0_11001: 'frintm',
  0b1_0_11001: 'frintx',
  0b0_0_11010: 'fcvtns',
  0b1_0_11010: 'fcvtnu',
  0b0_0_11011: 'fcvtms',
  0b1_0_11011: 'fcvtmu',
  0b0_0_11100: 'fcvtas',
  0b1_0_11100: 'fcvtau',
  0b0_0_11101: 'scvtf',
  0b1_0_11101: 'ucvtf',
  0b0_1_01100: 'fcmgt',
  0b1_1_01100: 'fcmge',
  0b0_1_01101: 'fcmeq',
  0b1_1_01101: 'fcmle',
  0b0_1_01110: 'fcmlt',
  0b0_1_01111: 'fabs',
  0b1_1_01111: 'fneg',
  0b0_1_11000: 'frintp',
  0b0_1_11001: 'frintz',
  0b1_1_11001: 'frinti',
  0b0_1_11010: 'fcvtps',
  0b1_1_11010: 'fcvtpu',
  0b0_1_11011: 'fcvtzs',
  0b1_1_11011: 'fcvtzu',
  0b0_1_11100: 'urecpe',
  0b1_1_11100: 'ursqrte',
  0b0_1_11101: 'frecpe',
  0b1_1_11101: 'frsqrte',
  0b1_1_11111: 'fsqrt',
  0b0_1_11111: 'frecpx',
};
const SCALAR_MISC = new Set([
  'fcvtxn',
  'fcvtns',
  'fcvtnu',
  'fcvtms',
  'fcvtmu',
  'fcvtas',
  'fcvtau',
  'scvtf',
  'ucvtf',
  'fcmgt',
  'fcmge',
  'fcmeq',
  'fcmle',
  'fcmlt',
  'fcvtps',
  'fcvtpu',
  'fcvtzs',
  'fcvtzu',
  'frecpe',
  'frsqrte',
  'frecpx',
]);
const ROUNDING: Readonly<Record<string, number>> = { n: 0, p: 1, m: 2, z: 3, a: TIE_AWAY };

function miscLane(name: string, a: bigint, fmt: FPFormat, fpcr: FPCRView, flags: FPFlags): bigint {
  const mask = (c: boolean): bigint => (c ? ONES(fmt) : 0n);
  const zero = 0n;
  switch (name) {
    case 'fcmgt':
      return mask(fpCompareMask(a, zero, Cmp.GT, fmt, fpcr, flags));
    case 'fcmge':
      return mask(fpCompareMask(a, zero, Cmp.GE, fmt, fpcr, flags));
    case 'fcmeq':
      return mask(fpCompareMask(a, zero, Cmp.EQ, fmt, fpcr, flags));
    case 'fcmle':
      return mask(fpCompareMask(zero, a, Cmp.GE, fmt, fpcr, flags));
    case 'fcmlt':
      return mask(fpCompareMask(zero, a, Cmp.GT, fmt, fpcr, flags));
    case 'fabs':
      return a & ~SIGN(fmt);
    case 'fneg':
      return a ^ SIGN(fmt);
    case 'fsqrt':
      return fpSqrt(a, fmt, fpcr, flags);
    case 'frecpe':
      return fpRecipEstimate(a, fmt, fpcr, flags);
    case 'frsqrte':
      return fpRSqrtEstimate(a, fmt, fpcr, flags);
    case 'frecpx':
      return fpRecpX(a, fmt, fpcr, flags);
    case 'urecpe':
      return unsignedEstimate(a, false);
    case 'ursqrte':
      return unsignedEstimate(a, true);
    case 'scvtf':
    case 'ucvtf':
      return fixedToFP(a, 0, name === 'ucvtf', fmt.n, fpcr.rmode, fmt, fpcr, flags);
    default:
      if (name.startsWith('frint')) {
        const c = name[5]!;
        const rounding = c === 'x' || c === 'i' ? fpcr.rmode : ROUNDING[c]!;
        return fpRoundInt(a, rounding, c === 'x', fmt, fpcr, flags);
      }
      return fpToFixed(a, 0, name.endsWith('u'), fmt.n, ROUNDING[name[4]!]!, fmt, fpcr, flags);
  }
}

function miscRun(cpu: Cpu, o: FVec): void {
  const k = lanes(o);
  const a = readLanes(cpu, o.n, o.fmt, k);
  writeLanes(
    cpu,
    o.d,
    o.fmt,
    withFP(cpu, (fpcr, flags) => a.map((x) => miscLane(o.name, x, o.fmt, fpcr, flags))),
  );
}

/** FCVTN/FCVTXN (narrowing, "2" into the upper half) and FCVTL (widening, "2" from the upper half). */
function convertRun(cpu: Cpu, o: FVec): void {
  const wide = o.fmt;
  const narrow = wide === F64 ? F32 : F16;
  const k = o.scalar ? 1 : 64 / narrow.n;
  if (o.name === 'fcvtl') {
    const a = readLanes(cpu, o.n, narrow, k, o.q ? k : 0);
    writeLanes(
      cpu,
      o.d,
      wide,
      withFP(cpu, (fpcr, flags) => a.map((x) => fpConvert(x, narrow, wide, fpcr, flags))),
    );
    return;
  }
  const a = readLanes(cpu, o.n, wide, k);
  const out = withFP(cpu, (fpcr, flags) =>
    a.map((x) => (o.name === 'fcvtxn' ? fpConvertOdd(x, fpcr, flags) : fpConvert(x, wide, narrow, fpcr, flags))),
  );
  if (o.scalar || o.q === 0) writeLanes(cpu, o.d, narrow, out);
  else out.forEach((x, e) => setElem(cpu.v, o.d, k + e, size(narrow), x));
}

/** FCVTXN: double to single, rounding to odd (the inexact result's last bit set). */
function fpConvertOdd(x: bigint, fpcr: FPCRView, flags: FPFlags): bigint {
  // Towards zero, then the odd bit if that was inexact (a denormal input FZ flushed is an exact zero).
  const local = new FPFlags();
  const rz = fpConvert(x, F64, F32, { ...fpcr, rmode: 3 }, local);
  flags.raise(local.bits);
  if (isNaN(fpUnpack(x, F64, fpcr, new FPFlags()).type) || (rz & 0x7f80_0000n) === 0x7f80_0000n) return rz;
  return local.bits & FPEXC.IXC ? rz | 1n : rz;
}

function decodeMisc(
  raw: number,
  q: number,
  u: number,
  a: number,
  sz: number,
  opcode: number,
  n: number,
  d: number,
  scalar: boolean,
): FVec {
  const name = MISC[(u << 6) | (a << 5) | opcode];
  if (name === undefined || (scalar && !SCALAR_MISC.has(name)) || (!scalar && name === 'frecpx')) return fvec(raw, {});
  const fmt = sz ? F64 : F32;
  if (name === 'fcvtn' || name === 'fcvtl' || name === 'fcvtxn') {
    if (name === 'fcvtxn' && sz === 0) return fvec(raw, {});
    const wide = sz ? F64 : F32;
    const narrow = sz ? F32 : F16;
    const o = fvec(raw, { q, fmt: wide, n, d, scalar, name, run: convertRun });
    const mn = !scalar && q ? `${name}2` : name;
    const text =
      name === 'fcvtl'
        ? `${mn}\t${V(d, wide, 1)}, ${V(n, narrow, q)}`
        : scalar
          ? `${mn}\t${S(d, narrow)}, ${S(n, wide)}`
          : `${mn}\t${V(d, narrow, q)}, ${V(n, wide, 1)}`;
    return { ...o, text };
  }
  if (name === 'urecpe' || name === 'ursqrte') {
    if (sz === 1) return fvec(raw, {});
    const o = fvec(raw, { q, fmt: F32, n, d, name, run: miscRun });
    return { ...o, text: `${name}\t${V(d, F32, q)}, ${V(n, F32, q)}` };
  }
  if (!scalar && sz === 1 && q === 0) return fvec(raw, {});
  const o = fvec(raw, { q, fmt, n, d, scalar, name, run: miscRun });
  const zero = /^fcm/.test(name) ? ', #0.0' : '';
  return { ...o, text: `${name}\t${regs(o, 2)}${zero}` };
}

// --- across lanes, scalar pairwise ------------------------------------------------------------------

function reduceRun(cpu: Cpu, o: FVec): void {
  const k = o.scalar ? 2 : lanes(o);
  const a = readLanes(cpu, o.n, o.fmt, k);
  const op = o.name.replace(/v$|p$/, '');
  const out = withFP(cpu, (fpcr, flags) => {
    // Reduce(): op(Reduce(low half), Reduce(high half)), so a NaN meets its neighbour first, as the pseudocode has it.
    const reduce = (lo: number, n: number): bigint =>
      n === 1 ? a[lo]! : fpBinary(op, reduce(lo, n / 2), reduce(lo + n / 2, n / 2), o.fmt, fpcr, flags);
    return reduce(0, k);
  });
  setV(cpu.v, o.d, o.fmt.n / 8, out);
}

// --- by element -------------------------------------------------------------------------------------

function elementRun(cpu: Cpu, o: FVec): void {
  const k = lanes(o);
  const a = readLanes(cpu, o.n, o.fmt, k);
  const b = elem(cpu.v, o.m, o.imm, size(o.fmt));
  const acc = readLanes(cpu, o.d, o.fmt, k);
  writeLanes(
    cpu,
    o.d,
    o.fmt,
    withFP(cpu, (fpcr, flags) =>
      a.map((x, e) => {
        switch (o.name) {
          case 'fmla':
            return fpMulAdd(acc[e]!, x, b, o.fmt, fpcr, flags);
          case 'fmls':
            return fpMulAdd(acc[e]!, x ^ SIGN(o.fmt), b, o.fmt, fpcr, flags);
          case 'fmulx':
            return fpMul(x, b, o.fmt, fpcr, flags, true);
          default:
            return fpMul(x, b, o.fmt, fpcr, flags);
        }
      }),
    ),
  );
}

function decodeElement(
  raw: number,
  q: number,
  u: number,
  sz: number,
  l: number,
  m: number,
  rm: number,
  opcode: number,
  h: number,
  n: number,
  d: number,
  scalar: boolean,
): FVec {
  const names: Record<number, string> = { 0b0001: 'fmla', 0b0101: 'fmls', 0b1001: u ? 'fmulx' : 'fmul' };
  const name = u && opcode !== 0b1001 ? undefined : names[opcode];
  if (name === undefined || (sz === 1 && (l === 1 || (!scalar && q === 0)))) return fvec(raw, {});
  const fmt = sz ? F64 : F32;
  const index = sz ? h : (h << 1) | l;
  const mreg = (m << 4) | rm;
  const o = fvec(raw, { q, fmt, n, m: mreg, d, scalar, imm: index, name, run: elementRun });
  const lane = `v${mreg}.${sz ? 'd' : 's'}[${index}]`;
  const ops = scalar ? `${S(d, fmt)}, ${S(n, fmt)}` : `${V(d, fmt, q)}, ${V(n, fmt, q)}`;
  return { ...o, text: `${name}\t${ops}, ${lane}` };
}

// --- fixed-point conversions by immediate -------------------------------------------------------------

function fixedRun(cpu: Cpu, o: FVec): void {
  const k = lanes(o);
  const a = readLanes(cpu, o.n, o.fmt, k);
  const toInt = o.name.startsWith('fcvt');
  const unsigned = o.name === 'ucvtf' || o.name === 'fcvtzu';
  writeLanes(
    cpu,
    o.d,
    o.fmt,
    withFP(cpu, (fpcr, flags) =>
      a.map((x) =>
        toInt
          ? fpToFixed(x, o.imm, unsigned, o.fmt.n, 3, o.fmt, fpcr, flags)
          : fixedToFP(x, o.imm, unsigned, o.fmt.n, fpcr.rmode, o.fmt, fpcr, flags),
      ),
    ),
  );
}

/** SCVTF/UCVTF/FCVTZS/FCVTZU (vector or scalar, fixed point) for an immh:immb of 32- or 64-bit elements. */
export function decodeFixed(
  raw: number,
  q: number,
  u: number,
  immhb: number,
  opcode: number,
  n: number,
  d: number,
  scalar: boolean,
): FVec {
  const wide = immhb >= 64;
  if (immhb < 32 || (!scalar && wide && q === 0)) return fvec(raw, {});
  const fmt = wide ? F64 : F32;
  const name = opcode === 0b11100 ? (u ? 'ucvtf' : 'scvtf') : u ? 'fcvtzu' : 'fcvtzs';
  const fbits = 2 * fmt.n - immhb;
  const o = fvec(raw, { q, fmt, n, d, scalar, name, imm: fbits, run: fixedRun });
  return { ...o, text: `${name}\t${regs(o, 2)}, #${fbits}` };
}

export const FP_VECTOR: readonly AnyEncoding[] = [
  encPrepared(
    '0 Q:1 U:1 01110 a:1 sz:1 1 Rm:5 11 op:3 1 Rn:5 Rd:5',
    'AdvSIMD three same (FP)',
    (f) => decodeSame(f.raw, f.Q, f.U, f.a, f.sz, f.Rm, f.op, f.Rn, f.Rd, false),
    execF,
    (o) => o.text,
  ),
  encPrepared(
    '01 U:1 11110 a:1 sz:1 1 Rm:5 11 op:3 1 Rn:5 Rd:5',
    'AdvSIMD scalar three same (FP)',
    (f) => decodeSame(f.raw, 0, f.U, f.a, f.sz, f.Rm, f.op, f.Rn, f.Rd, true),
    execF,
    (o) => o.text,
  ),
  ...['0 11xx', '1 011x', '1 1xxx'].flatMap((bits) => [
    encPrepared(
      `0 Q:1 U:1 01110 a:1 sz:1 10000 ${bits} 10 Rn:5 Rd:5` as '0 Q:1 U:1 01110 a:1 sz:1 10000 xxxxx 10 Rn:5 Rd:5',
      `AdvSIMD two-reg misc (FP, opcode ${bits.replace(' ', '')})`,
      (f) => decodeMisc(f.raw, f.Q, f.U, f.a, f.sz, (f.raw >>> 12) & 31, f.Rn, f.Rd, false),
      execF,
      (o) => o.text,
    ),
    encPrepared(
      `01 U:1 11110 a:1 sz:1 10000 ${bits} 10 Rn:5 Rd:5` as '01 U:1 11110 a:1 sz:1 10000 xxxxx 10 Rn:5 Rd:5',
      `AdvSIMD scalar two-reg misc (FP, opcode ${bits.replace(' ', '')})`,
      (f) => decodeMisc(f.raw, 0, f.U, f.a, f.sz, (f.raw >>> 12) & 31, f.Rn, f.Rd, true),
      execF,
      (o) => o.text,
    ),
  ]),
  ...['01100', '01111'].map((bits) =>
    encPrepared(
      `0 Q:1 1 01110 a:1 sz:1 11000 ${bits} 10 Rn:5 Rd:5` as '0 Q:1 1 01110 a:1 sz:1 11000 xxxxx 10 Rn:5 Rd:5',
      `AdvSIMD across lanes (FP, opcode ${bits})`,
      (f) => {
        if (f.sz === 1 || f.Q === 0) return fvec(f.raw, {});
        const name = `f${f.a ? 'min' : 'max'}${bits === '01100' ? 'nm' : ''}v`;
        return fvec(f.raw, {
          q: 1,
          fmt: F32,
          n: f.Rn,
          d: f.Rd,
          name,
          run: reduceRun,
          text: `${name}\ts${f.Rd}, v${f.Rn}.4s`,
        });
      },
      execF,
      (o) => o.text,
    ),
  ),
  ...['01100', '01101', '01111'].map((bits) =>
    encPrepared(
      `01 U:1 11110 a:1 sz:1 11000 ${bits} 10 Rn:5 Rd:5` as '01 U:1 11110 a:1 sz:1 11000 xxxxx 10 Rn:5 Rd:5',
      `AdvSIMD scalar pairwise (FP, opcode ${bits})`,
      (f) => {
        const base = bits === '01101' ? (f.a ? '' : 'fadd') : `f${f.a ? 'min' : 'max'}${bits === '01100' ? 'nm' : ''}`;
        if (f.U === 0 || base === '') return fvec(f.raw, {});
        const fmt = f.sz ? F64 : F32;
        const name = `${base}p`;
        return fvec(f.raw, {
          fmt,
          n: f.Rn,
          d: f.Rd,
          scalar: true,
          name,
          run: reduceRun,
          text: `${name}\t${S(f.Rd, fmt)}, v${f.Rn}.${f.sz ? '2d' : '2s'}`,
        });
      },
      execF,
      (o) => o.text,
    ),
  ),
  ...['0001', '0101', '1001'].flatMap((bits) => [
    encPrepared(
      `0 Q:1 U:1 01111 1 sz:1 L:1 M:1 Rm:4 ${bits} H:1 0 Rn:5 Rd:5` as '0 Q:1 U:1 01111 1 sz:1 L:1 M:1 Rm:4 xxxx H:1 0 Rn:5 Rd:5',
      `AdvSIMD vector x indexed element (FP, opcode ${bits})`,
      (f) => decodeElement(f.raw, f.Q, f.U, f.sz, f.L, f.M, f.Rm, parseInt(bits, 2), f.H, f.Rn, f.Rd, false),
      execF,
      (o) => o.text,
    ),
    encPrepared(
      `01 U:1 11111 1 sz:1 L:1 M:1 Rm:4 ${bits} H:1 0 Rn:5 Rd:5` as '01 U:1 11111 1 sz:1 L:1 M:1 Rm:4 xxxx H:1 0 Rn:5 Rd:5',
      `AdvSIMD scalar x indexed element (FP, opcode ${bits})`,
      (f) => decodeElement(f.raw, 0, f.U, f.sz, f.L, f.M, f.Rm, parseInt(bits, 2), f.H, f.Rn, f.Rd, true),
      execF,
      (o) => o.text,
    ),
  ]),
];
