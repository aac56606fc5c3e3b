// Floating-point arithmetic as the ARM ARM's pseudocode defines it (FPAdd, FPSub, FPMul, FPMulX,
// FPDiv, FPSqrt, FPMulAdd, FPMax, FPMin, FPMaxNum, FPMinNum, FPCompare and the vector compares,
// FPRoundInt, FPToFixed, FixedToFP, FPConvert), exact on BigInt significands and rounded once by
// FPRound (fpcore.ts).
import {
  FPEXC,
  FPType,
  type FPCRView,
  FPFlags,
  type FPFormat,
  type Unpacked,
  bitLength,
  fpDefaultNaN,
  fpInfinity,
  fpProcessNaN,
  fpProcessNaNs,
  fpRound,
  fpTwo,
  fpUnpack,
  fpZero,
  isNaN,
  F16,
} from './fpcore.js';

const unpack2 = (a: bigint, b: bigint, fmt: FPFormat, fpcr: FPCRView, flags: FPFlags): [Unpacked, Unpacked] => [
  fpUnpack(a, fmt, fpcr, flags),
  fpUnpack(b, fmt, fpcr, flags),
];

/** FPProcessNaNs of two operands, each unpacked beside the bits a NaN result is made from. */
function processNaNs2(x: Unpacked, a: bigint, y: Unpacked, b: bigint, fmt: FPFormat, fpcr: FPCRView, flags: FPFlags) {
  return fpProcessNaNs(
    [
      { u: x, bits: a },
      { u: y, bits: b },
    ],
    fmt,
    fpcr,
    flags,
  );
}

const isInf = (u: Unpacked): boolean => u.type === FPType.Infinity;
const isZero = (u: Unpacked): boolean => u.type === FPType.Zero;

/** A signed exact value: its numerator at a common exponent. */
function signed(u: Unpacked, exp: number): bigint {
  const m = u.mant << BigInt(u.exp - exp);
  return u.sign ? -m : m;
}

/** Rounds the exact signed value v × 2^exp; an exact zero gets the sign the rounding mode gives. */
function roundSigned(v: bigint, exp: number, fmt: FPFormat, fpcr: FPCRView, flags: FPFlags): bigint {
  if (v === 0n) return fpZero(fpcr.rmode === 2 ? 1 : 0, fmt);
  return fpRound(v < 0n ? 1 : 0, v < 0n ? -v : v, exp, false, fmt, fpcr, flags);
}

export function fpAdd(a: bigint, b: bigint, fmt: FPFormat, fpcr: FPCRView, flags: FPFlags, subtract = false): bigint {
  if (subtract) b ^= 1n << BigInt(fmt.n - 1);
  const [x, y] = unpack2(a, b, fmt, fpcr, flags);
  // FPSub unpacks op2 before negating it: a NaN keeps its own sign.
  const nan = processNaNs2(x, a, y, subtract ? b ^ (1n << BigInt(fmt.n - 1)) : b, fmt, fpcr, flags);
  if (nan !== null) return nan;
  if (isInf(x) && isInf(y) && x.sign !== y.sign) {
    flags.raise(FPEXC.IOC);
    return fpDefaultNaN(fmt);
  }
  if (isInf(x) || isInf(y)) return fpInfinity(isInf(x) ? x.sign : y.sign, fmt);
  if (isZero(x) && isZero(y) && x.sign === y.sign) return fpZero(x.sign, fmt);
  const e = Math.min(x.exp, y.exp);
  return roundSigned(signed(x, e) + signed(y, e), e, fmt, fpcr, flags);
}

export function fpMul(a: bigint, b: bigint, fmt: FPFormat, fpcr: FPCRView, flags: FPFlags, mulx = false): bigint {
  const [x, y] = unpack2(a, b, fmt, fpcr, flags);
  const nan = processNaNs2(x, a, y, b, fmt, fpcr, flags);
  if (nan !== null) return nan;
  const sign = x.sign ^ y.sign;
  if ((isInf(x) && isZero(y)) || (isZero(x) && isInf(y))) {
    if (mulx) return fpTwo(sign, fmt);
    flags.raise(FPEXC.IOC);
    return fpDefaultNaN(fmt);
  }
  if (isInf(x) || isInf(y)) return fpInfinity(sign, fmt);
  if (isZero(x) || isZero(y)) return fpZero(sign, fmt);
  return fpRound(sign, x.mant * y.mant, x.exp + y.exp, false, fmt, fpcr, flags);
}

export function fpDiv(a: bigint, b: bigint, fmt: FPFormat, fpcr: FPCRView, flags: FPFlags): bigint {
  const [x, y] = unpack2(a, b, fmt, fpcr, flags);
  const nan = processNaNs2(x, a, y, b, fmt, fpcr, flags);
  if (nan !== null) return nan;
  const sign = x.sign ^ y.sign;
  if ((isInf(x) && isInf(y)) || (isZero(x) && isZero(y))) {
    flags.raise(FPEXC.IOC);
    return fpDefaultNaN(fmt);
  }
  if (isInf(x) || isZero(y)) {
    if (!isInf(x)) flags.raise(FPEXC.DZC);
    return fpInfinity(sign, fmt);
  }
  if (isZero(x) || isInf(y)) return fpZero(sign, fmt);
  // Enough quotient bits for the significand, a rounding bit and more; the remainder is sticky.
  const k = Math.max(0, fmt.f + 4 + bitLength(y.mant) - bitLength(x.mant));
  const num = x.mant << BigInt(k);
  const q = num / y.mant;
  return fpRound(sign, q, x.exp - y.exp - k, q * y.mant !== num, fmt, fpcr, flags);
}

/** The integer square root (floor). */
function isqrt(n: bigint): bigint {
  if (n < 2n) return n;
  let x = 1n << BigInt(Math.ceil(bitLength(n) / 2));
  for (;;) {
    const y = (x + n / x) >> 1n;
    if (y >= x) return x;
    x = y;
  }
}

export function fpSqrt(a: bigint, fmt: FPFormat, fpcr: FPCRView, flags: FPFlags): bigint {
  const x = fpUnpack(a, fmt, fpcr, flags);
  if (isNaN(x.type)) return fpProcessNaN(x.type, a, fmt, fpcr, flags);
  if (isZero(x)) return fpZero(x.sign, fmt);
  if (isInf(x) && x.sign === 0) return fpInfinity(0, fmt);
  if (x.sign === 1) {
    flags.raise(FPEXC.IOC);
    return fpDefaultNaN(fmt);
  }
  let m = x.mant;
  let e = x.exp;
  if ((e & 1) !== 0) {
    m <<= 1n;
    e -= 1;
  }
  const k = Math.max(0, fmt.f + 4 - Math.floor(bitLength(m) / 2)) + 1;
  const scaled = m << BigInt(2 * k);
  const r = isqrt(scaled);
  return fpRound(0, r, (e - 2 * k) / 2, r * r !== scaled, fmt, fpcr, flags);
}

/**
 * FPMulAdd: addend + op1 × op2, fused (one rounding). FMSUB, FNMADD and FNMSUB negate op1 and/or
 * the addend before the call, as the instructions' pseudocode does (FPNeg flips a NaN's sign too).
 */
export function fpMulAdd(addend: bigint, a: bigint, b: bigint, fmt: FPFormat, fpcr: FPCRView, flags: FPFlags): bigint {
  const z = fpUnpack(addend, fmt, fpcr, flags);
  const [x, y] = unpack2(a, b, fmt, fpcr, flags);
  const invalidProduct = (isInf(x) && isZero(y)) || (isZero(x) && isInf(y));
  let nan = fpProcessNaNs(
    [
      { u: z, bits: addend },
      { u: x, bits: a },
      { u: y, bits: b },
    ],
    fmt,
    fpcr,
    flags,
  );
  if (z.type === FPType.QNaN && invalidProduct) {
    flags.raise(FPEXC.IOC);
    nan = fpDefaultNaN(fmt);
  }
  if (nan !== null) return nan;
  const signP = x.sign ^ y.sign;
  const infP = isInf(x) || isInf(y);
  const zeroP = isZero(x) || isZero(y);
  if (invalidProduct || (isInf(z) && infP && z.sign !== signP)) {
    flags.raise(FPEXC.IOC);
    return fpDefaultNaN(fmt);
  }
  if ((isInf(z) && z.sign === 0) || (infP && signP === 0)) return fpInfinity(0, fmt);
  if ((isInf(z) && z.sign === 1) || (infP && signP === 1)) return fpInfinity(1, fmt);
  if (isZero(z) && zeroP && z.sign === signP) return fpZero(z.sign, fmt);
  const pExp = x.exp + y.exp;
  const e = Math.min(z.exp, pExp);
  const product = (x.mant * y.mant) << BigInt(pExp - e);
  return roundSigned(signed(z, e) + (signP ? -product : product), e, fmt, fpcr, flags);
}

/** Compares two finite-or-infinite operands: -1, 0 or 1. */
function compareValues(x: Unpacked, y: Unpacked): number {
  const key = (u: Unpacked): number => (isInf(u) ? (u.sign ? -2 : 2) : 0);
  const kx = key(x);
  const ky = key(y);
  if (kx !== 0 || ky !== 0) return Math.sign(kx - ky);
  const e = Math.min(x.exp, y.exp);
  const d = signed(x, e) - signed(y, e);
  return d === 0n ? 0 : d < 0n ? -1 : 1;
}

/** FPMax / FPMin: NaNs propagate; +0 is above -0; the chosen value is rounded again (FZ may flush it). */
export function fpMaxMin(a: bigint, b: bigint, max: boolean, fmt: FPFormat, fpcr: FPCRView, flags: FPFlags): bigint {
  const [x, y] = unpack2(a, b, fmt, fpcr, flags);
  const nan = processNaNs2(x, a, y, b, fmt, fpcr, flags);
  if (nan !== null) return nan;
  const c = compareValues(x, y);
  const pick = (max ? c > 0 : c < 0) ? x : y;
  if (isInf(pick)) return fpInfinity(pick.sign, fmt);
  if (isZero(pick)) return fpZero(max ? x.sign & y.sign : x.sign | y.sign, fmt);
  return fpRound(pick.sign, pick.mant, pick.exp, false, fmt, fpcr, flags);
}

/** FPMaxNum / FPMinNum: a single quiet NaN loses to a number (it counts as -inf for max, +inf for min). */
export function fpMaxMinNum(a: bigint, b: bigint, max: boolean, fmt: FPFormat, fpcr: FPCRView, flags: FPFlags): bigint {
  const scratch = new FPFlags();
  const ta = fpUnpack(a, fmt, fpcr, scratch).type;
  const tb = fpUnpack(b, fmt, fpcr, scratch).type;
  const inf = fpInfinity(max ? 1 : 0, fmt);
  if (ta === FPType.QNaN && tb !== FPType.QNaN) a = inf;
  else if (ta !== FPType.QNaN && tb === FPType.QNaN) b = inf;
  return fpMaxMin(a, b, max, fmt, fpcr, flags);
}

/** FPCompare: NZCV for FCMP/FCMPE (0011 unordered; IOC for a signalling NaN, or any NaN when signalling). */
export function fpCompare(
  a: bigint,
  b: bigint,
  signalNaNs: boolean,
  fmt: FPFormat,
  fpcr: FPCRView,
  flags: FPFlags,
): number {
  const [x, y] = unpack2(a, b, fmt, fpcr, flags);
  if (isNaN(x.type) || isNaN(y.type)) {
    if (x.type === FPType.SNaN || y.type === FPType.SNaN || signalNaNs) flags.raise(FPEXC.IOC);
    return 0b0011;
  }
  const c = compareValues(x, y);
  return c === 0 ? 0b0110 : c < 0 ? 0b1000 : 0b0010;
}

export const enum Cmp {
  EQ,
  GE,
  GT,
}

/** FPCompareEQ/GE/GT for the vector and scalar compares: false on NaN (IOC for any NaN; for EQ, signalling ones). */
export function fpCompareMask(a: bigint, b: bigint, cmp: Cmp, fmt: FPFormat, fpcr: FPCRView, flags: FPFlags): boolean {
  const [x, y] = unpack2(a, b, fmt, fpcr, flags);
  if (isNaN(x.type) || isNaN(y.type)) {
    if (cmp !== Cmp.EQ || x.type === FPType.SNaN || y.type === FPType.SNaN) flags.raise(FPEXC.IOC);
    return false;
  }
  const c = compareValues(x, y);
  return cmp === Cmp.EQ ? c === 0 : cmp === Cmp.GE ? c >= 0 : c > 0;
}

/** Rounding for the conversions: FPCR's modes 0–3, and 4 for ties away from zero (FCVTA*, FRINTA). */
export const TIE_AWAY = 4;

/** Rounds the exact value of `u` to an integer: [integer, inexact]. */
function roundToInteger(u: Unpacked, rounding: number): [bigint, boolean] {
  const v = u.sign ? -u.mant : u.mant;
  if (u.exp >= 0) return [v << BigInt(u.exp), false];
  const sh = BigInt(-u.exp);
  const down = v >> sh; // RoundDown (floor)
  const rest = v - (down << sh);
  if (rest === 0n) return [down, false];
  const half = 1n << (sh - 1n);
  let up: boolean;
  switch (rounding) {
    case 0:
      up = rest > half || (rest === half && (down & 1n) === 1n);
      break;
    case 1:
      up = true;
      break;
    case 2:
      up = false;
      break;
    case 3:
      up = down < 0n;
      break;
    default:
      up = rest > half || (rest === half && down >= 0n);
  }
  return [up ? down + 1n : down, true];
}

/** FPToFixed: to a signed or unsigned `bits`-bit integer with `fbits` fraction bits, saturating (IOC). */
export function fpToFixed(
  a: bigint,
  fbits: number,
  unsigned: boolean,
  bits: number,
  rounding: number,
  fmt: FPFormat,
  fpcr: FPCRView,
  flags: FPFlags,
): bigint {
  const x = fpUnpack(a, fmt, fpcr, flags);
  if (isNaN(x.type)) {
    flags.raise(FPEXC.IOC);
    return 0n;
  }
  const max = unsigned ? (1n << BigInt(bits)) - 1n : (1n << BigInt(bits - 1)) - 1n;
  const min = unsigned ? 0n : -(1n << BigInt(bits - 1));
  if (isInf(x)) {
    flags.raise(FPEXC.IOC);
    return BigInt.asUintN(bits, x.sign ? min : max);
  }
  const [i, inexact] = roundToInteger({ ...x, exp: x.exp + fbits }, rounding);
  if (i > max || i < min) {
    flags.raise(FPEXC.IOC);
    return BigInt.asUintN(bits, i > max ? max : min);
  }
  if (inexact) flags.raise(FPEXC.IXC);
  return BigInt.asUintN(bits, i);
}

/** FixedToFP: a `bits`-bit integer with `fbits` fraction bits, rounded under `rounding`. */
export function fixedToFP(
  v: bigint,
  fbits: number,
  unsigned: boolean,
  bits: number,
  rounding: number,
  fmt: FPFormat,
  fpcr: FPCRView,
  flags: FPFlags,
): bigint {
  const i = unsigned ? BigInt.asUintN(bits, v) : BigInt.asIntN(bits, v);
  if (i === 0n) return fpZero(0, fmt);
  return fpRound(i < 0n ? 1 : 0, i < 0n ? -i : i, -fbits, false, fmt, fpcr, flags, rounding);
}

/** FPRoundInt: FRINT*; `exact` (FRINTX) raises IXC when the value changed. */
export function fpRoundInt(
  a: bigint,
  rounding: number,
  exact: boolean,
  fmt: FPFormat,
  fpcr: FPCRView,
  flags: FPFlags,
): bigint {
  const x = fpUnpack(a, fmt, fpcr, flags);
  if (isNaN(x.type)) return fpProcessNaN(x.type, a, fmt, fpcr, flags);
  if (isInf(x)) return fpInfinity(x.sign, fmt);
  if (isZero(x)) return fpZero(x.sign, fmt);
  const [i, inexact] = roundToInteger(x, rounding);
  const result =
    i === 0n ? fpZero(x.sign, fmt) : fpRound(i < 0n ? 1 : 0, i < 0n ? -i : i, 0, false, fmt, fpcr, flags, 0);
  if (inexact && exact) flags.raise(FPEXC.IXC);
  return result;
}

/** FPConvert between precisions (FCVT), half precision in IEEE or, with AHP, alternative format. */
export function fpConvert(
  a: bigint,
  from: FPFormat,
  to: FPFormat,
  fpcr: FPCRView,
  flags: FPFlags,
  rounding = fpcr.rmode,
): bigint {
  const altFrom = from === F16 && fpcr.ahp;
  const altTo = to === F16 && fpcr.ahp;
  // FZ does not apply to half-precision operands or results.
  const x = fpUnpack(a, from, fpcr, flags, altFrom);
  if (isNaN(x.type)) {
    if (altTo) {
      flags.raise(FPEXC.IOC);
      return fpZero(x.sign, to);
    }
    if (x.type === FPType.SNaN) flags.raise(FPEXC.IOC);
    if (fpcr.dn) return fpDefaultNaN(to);
    // FPConvertNaN: the sign, a quiet NaN, and the payload's top bits.
    const payload = x.mant & ((1n << BigInt(from.f - 1)) - 1n);
    const shifted = to.f >= from.f ? payload << BigInt(to.f - from.f) : payload >> BigInt(from.f - to.f);
    return fpInfinity(x.sign, to) | (1n << BigInt(to.f - 1)) | shifted;
  }
  if (isInf(x)) {
    if (altTo) {
      flags.raise(FPEXC.IOC);
      return fpZero(x.sign, to) | ((1n << BigInt(to.n - 1)) - 1n);
    }
    return fpInfinity(x.sign, to);
  }
  if (isZero(x)) return fpZero(x.sign, to);
  return fpRound(x.sign, x.mant, x.exp, false, to, fpcr, flags, rounding);
}
