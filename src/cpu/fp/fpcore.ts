// The floating-point core, named after the ARM ARM's shared pseudocode: FPUnpack, FPRound,
// FPProcessNaN(s), FPDefaultNaN and friends. Values are computed exactly — a finite operand is
// (-1)^sign × mant × 2^exp with a BigInt significand — and rounded once, in FPRound, under the
// FPCR's rounding mode, FZ, DN and AHP, so every result and every FPSR flag is the
// architecture's, whatever the precision or mode. The cumulative flags an operation raises
// collect in an `FPFlags` and are OR-ed into FPSR by the instruction.

/** FPSR cumulative exception bits. */
export const FPEXC = { IOC: 1, DZC: 2, OFC: 4, UFC: 8, IXC: 16, IDC: 128 } as const;

/** The FPCR fields an operation reads. */
export interface FPCRView {
  /** RMode: 0 nearest-even, 1 towards +inf, 2 towards -inf, 3 towards zero. */
  readonly rmode: number;
  readonly fz: boolean;
  readonly dn: boolean;
  readonly ahp: boolean;
}

export function fpcrView(fpcr: bigint): FPCRView {
  const v = Number(fpcr & 0xffff_ffffn);
  return { rmode: (v >>> 22) & 3, fz: ((v >>> 24) & 1) !== 0, dn: ((v >>> 25) & 1) !== 0, ahp: ((v >>> 26) & 1) !== 0 };
}

/** Flags raised by one instruction, OR-ed into FPSR at its end. */
export class FPFlags {
  bits = 0;
  raise(f: number): void {
    this.bits |= f;
  }
}

export const enum FPType {
  Zero,
  Denormal,
  Nonzero,
  Infinity,
  QNaN,
  SNaN,
}

/** A format: total bits, exponent bits, fraction bits. */
export interface FPFormat {
  readonly n: 16 | 32 | 64;
  readonly e: number;
  readonly f: number;
}
export const F16: FPFormat = { n: 16, e: 5, f: 10 };
export const F32: FPFormat = { n: 32, e: 8, f: 23 };
export const F64: FPFormat = { n: 64, e: 11, f: 52 };
export const FORMATS: readonly FPFormat[] = [F16, F32, F64];

/** An unpacked operand: its class, sign, and (finite ones) mant × 2^exp exactly. */
export interface Unpacked {
  readonly type: FPType;
  readonly sign: number;
  readonly mant: bigint;
  readonly exp: number;
}

/** FPUnpack: classifies `bits`; with FZ a denormal input is zero and raises IDC (not for half precision). */
export function fpUnpack(bits: bigint, fmt: FPFormat, fpcr: FPCRView, flags: FPFlags, alt = false): Unpacked {
  const sign = Number((bits >> BigInt(fmt.n - 1)) & 1n);
  const expField = Number((bits >> BigInt(fmt.f)) & ((1n << BigInt(fmt.e)) - 1n));
  const frac = bits & ((1n << BigInt(fmt.f)) - 1n);
  const bias = (1 << (fmt.e - 1)) - 1;
  if (expField === 0) {
    if (frac === 0n) return { type: FPType.Zero, sign, mant: 0n, exp: 0 };
    if (fpcr.fz && fmt.n !== 16) {
      flags.raise(FPEXC.IDC);
      return { type: FPType.Zero, sign, mant: 0n, exp: 0 };
    }
    return { type: FPType.Denormal, sign, mant: frac, exp: 1 - bias - fmt.f };
  }
  if (expField === (1 << fmt.e) - 1 && !(fmt.n === 16 && alt)) {
    if (frac === 0n) return { type: FPType.Infinity, sign, mant: 0n, exp: 0 };
    const quiet = ((frac >> BigInt(fmt.f - 1)) & 1n) === 1n;
    return { type: quiet ? FPType.QNaN : FPType.SNaN, sign, mant: frac, exp: 0 };
  }
  return { type: FPType.Nonzero, sign, mant: frac | (1n << BigInt(fmt.f)), exp: expField - bias - fmt.f };
}

export const isNaN = (t: FPType): boolean => t === FPType.QNaN || t === FPType.SNaN;
export const isFinite = (t: FPType): boolean => t === FPType.Zero || t === FPType.Denormal || t === FPType.Nonzero;

export function fpZero(sign: number, fmt: FPFormat): bigint {
  return BigInt(sign) << BigInt(fmt.n - 1);
}
export function fpInfinity(sign: number, fmt: FPFormat): bigint {
  return fpZero(sign, fmt) | (((1n << BigInt(fmt.e)) - 1n) << BigInt(fmt.f));
}
export function fpMaxNormal(sign: number, fmt: FPFormat): bigint {
  return fpZero(sign, fmt) | (((1n << BigInt(fmt.e)) - 2n) << BigInt(fmt.f)) | ((1n << BigInt(fmt.f)) - 1n);
}
export function fpDefaultNaN(fmt: FPFormat): bigint {
  return (((1n << BigInt(fmt.e)) - 1n) << BigInt(fmt.f)) | (1n << BigInt(fmt.f - 1));
}
export function fpOne(sign: number, fmt: FPFormat): bigint {
  return fpZero(sign, fmt) | (BigInt((1 << (fmt.e - 1)) - 1) << BigInt(fmt.f));
}
export function fpTwo(sign: number, fmt: FPFormat): bigint {
  return fpZero(sign, fmt) | (BigInt(1 << (fmt.e - 1)) << BigInt(fmt.f));
}

/** FPProcessNaN: a signalling NaN raises IOC and is quietened; with DN the result is the default NaN. */
export function fpProcessNaN(type: FPType, bits: bigint, fmt: FPFormat, fpcr: FPCRView, flags: FPFlags): bigint {
  let r = bits;
  if (type === FPType.SNaN) {
    r |= 1n << BigInt(fmt.f - 1);
    flags.raise(FPEXC.IOC);
  }
  return fpcr.dn ? fpDefaultNaN(fmt) : r;
}

/** FPProcessNaNs(3): the first signalling NaN in operand order, else the first quiet one; null when none. */
export function fpProcessNaNs(
  ops: readonly { readonly u: Unpacked; readonly bits: bigint }[],
  fmt: FPFormat,
  fpcr: FPCRView,
  flags: FPFlags,
): bigint | null {
  for (const o of ops) if (o.u.type === FPType.SNaN) return fpProcessNaN(o.u.type, o.bits, fmt, fpcr, flags);
  for (const o of ops) if (o.u.type === FPType.QNaN) return fpProcessNaN(o.u.type, o.bits, fmt, fpcr, flags);
  return null;
}

/** Bit length of a positive BigInt. */
export function bitLength(x: bigint): number {
  return x === 0n ? 0 : x.toString(2).length;
}

/**
 * FPRound: rounds the exact nonzero value (-1)^sign × mant × 2^exp (mant > 0), plus a sticky
 * bit for any nonzero part below it, to `fmt` under `rmode` (FPCR.RMode unless the instruction
 * names one), with FZ flushing tiny results (UFC), tininess detected before rounding, and AHP's
 * alternative half precision (no infinities: saturation with IOC).
 */
export function fpRound(
  sign: number,
  mant: bigint,
  exp: number,
  sticky: boolean,
  fmt: FPFormat,
  fpcr: FPCRView,
  flags: FPFlags,
  rmode = fpcr.rmode,
): bigint {
  const minExp = 2 - (1 << (fmt.e - 1));
  // The unbiased exponent of the value's leading bit.
  const exponent = exp + bitLength(mant) - 1;
  if (fpcr.fz && fmt.n !== 16 && exponent < minExp) {
    flags.raise(FPEXC.UFC);
    return fpZero(sign, fmt);
  }
  let biasedExp = Math.max(exponent - minExp + 1, 0);
  // The integer significand: the value scaled so that its unit is the result's last place.
  const unitExp = (biasedExp === 0 ? minExp : exponent) - fmt.f;
  const shift = unitExp - exp;
  let intMant: bigint;
  let half = false;
  let below = sticky;
  if (shift <= 0) intMant = mant << BigInt(-shift);
  else {
    intMant = mant >> BigInt(shift);
    const rest = mant & ((1n << BigInt(shift)) - 1n);
    const halfPoint = 1n << BigInt(shift - 1);
    half = rest >= halfPoint;
    below = below || (half ? rest !== halfPoint : rest !== 0n);
  }
  const inexact = half || below;
  if (biasedExp === 0 && inexact) flags.raise(FPEXC.UFC);
  let roundUp: boolean;
  switch (rmode) {
    case 0:
      roundUp = half && (below || (intMant & 1n) === 1n);
      break;
    case 1:
      roundUp = inexact && sign === 0;
      break;
    case 2:
      roundUp = inexact && sign === 1;
      break;
    default:
      roundUp = false;
  }
  if (roundUp) {
    intMant++;
    if (intMant === 1n << BigInt(fmt.f)) biasedExp = 1; // a denormal rounded up to the smallest normal
    if (intMant === 1n << BigInt(fmt.f + 1)) {
      biasedExp++;
      intMant >>= 1n;
    }
  }
  let result: bigint;
  let error = inexact;
  if (fmt.n !== 16 || !fpcr.ahp) {
    if (biasedExp >= (1 << fmt.e) - 1) {
      const toInf = rmode === 0 || (rmode === 1 && sign === 0) || (rmode === 2 && sign === 1);
      result = toInf ? fpInfinity(sign, fmt) : fpMaxNormal(sign, fmt);
      flags.raise(FPEXC.OFC);
      error = true;
    } else result = fpZero(sign, fmt) | (BigInt(biasedExp) << BigInt(fmt.f)) | (intMant & ((1n << BigInt(fmt.f)) - 1n));
  } else if (biasedExp >= 1 << fmt.e) {
    result = fpZero(sign, fmt) | ((1n << BigInt(fmt.n - 1)) - 1n);
    flags.raise(FPEXC.IOC);
    error = false;
  } else result = fpZero(sign, fmt) | (BigInt(biasedExp) << BigInt(fmt.f)) | (intMant & ((1n << BigInt(fmt.f)) - 1n));
  if (error) flags.raise(FPEXC.IXC);
  return result;
}
