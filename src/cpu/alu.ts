// Integer ALU primitives named after the ARM ARM pseudocode (AddWithCarry, ShiftReg,
// ExtendReg, DecodeBitMasks, ConditionHolds, CountLeadingZeroBits, ...).
//
// Widths: `sf` selects the datasize as in the encodings (0: 32 bits, 1: 64 bits) and
// indexes WMASK/WSIGN. Results are returned zero-extended to 64 bits, ready for X[d].
//
// Speed (measured on Node 20 in this tree): V8 lowers BigInt arithmetic to machine
// operations only where the result is truncated by BigInt.asUintN(64, ...), and
// comparisons against 0n stay cheap; `~x`, `<` between BigInts and Number(bigint)
// fall back to allocating runtime calls costing 10-30x more. Hence the style below:
// every BigInt expression sits inside asUintN(64, ...), NOT is written `x ^ mask`, and
// flag bits are tested with `!== 0n`. 32-bit forms use the same BigInt path masked to
// 32 bits: converting register values to Number and back cost more than it saved.
import type { PState } from '../pe/pstate.js';
import { MASK64 } from './bits.js';
import { U, big } from './emit.js';

/** Datasize mask and sign bit, indexed by sf. */
export const WMASK = new BigUint64Array([0xffff_ffffn, MASK64]);
export const WSIGN = new BigUint64Array([0x8000_0000n, 0x8000_0000_0000_0000n]);

/** Shift types of the shifted-register forms (the `shift` field). */
export const LSL = 0,
  LSR = 1,
  ASR = 2,
  ROR = 3;

// NZCV from the int32 halves of the operands and the result: BigInt tests of a bit (`(r & s) !==
// 0n`) are runtime calls, and a flag-setting executor cost 30-40 ns more than these (Node 20).
const flags64 = new BigUint64Array(3);
const flags32 = new Int32Array(flags64.buffer);

/**
 * AddWithCarry(x, y, carry_in) at datasize sf, setting PSTATE.NZCV.
 * x and y must already be truncated to the datasize.
 */
export function addWithCarry(ps: PState, x: bigint, y: bigint, carry: number, sf: number): bigint {
  const m = WMASK[sf]!;
  const r = carry !== 0 ? BigInt.asUintN(64, (x + y + 1n) & m) : BigInt.asUintN(64, (x + y) & m);
  flags64[0] = x;
  flags64[1] = y;
  flags64[2] = r;
  // The int32 word holding the datasize's top bit: the high half of a 64-bit value, the low of a 32-bit one.
  const top = sf !== 0 ? 1 : 0;
  const xt = flags32[top]!;
  const yt = flags32[2 + top]!;
  const rt = flags32[4 + top]!;
  ps.n = rt < 0 ? 1 : 0;
  ps.z = (flags32[4]! | flags32[5]!) === 0 ? 1 : 0;
  // Carry out of the top bit = majority(x, y, carry into the top bit), where the
  // carry into it is x ^ y ^ r there; this reduces to (x & y) | ((x | y) & ~r).
  ps.c = ((xt & yt) | ((xt | yt) & ~rt)) < 0 ? 1 : 0;
  // Signed overflow: both operands have the same sign and the result another.
  ps.v = ((xt ^ rt) & (yt ^ rt)) < 0 ? 1 : 0;
  return r;
}

/** Sets N and Z from a result, C and V to 0 (the logical *S forms). */
export function setNZ(ps: PState, r: bigint, sf: number): void {
  flags64[2] = r;
  ps.n = flags32[4 + (sf !== 0 ? 1 : 0)]! < 0 ? 1 : 0;
  ps.z = (flags32[4]! | flags32[5]!) === 0 ? 1 : 0;
  ps.c = 0;
  ps.v = 0;
}

// A BigInt shift by a variable amount is a runtime call that allocates (about 65 ns on Node 20,
// against 4 for a constant one), and executors shift by operand fields: a left shift is a
// multiplication by a power of two, which V8 lowers to machine arithmetic under asUintN(64), and a
// right shift goes through the value's int32 halves.
/** 2^0 .. 2^63. */
const POW2 = new BigUint64Array(64);
for (let i = 0; i < 64; i++) POW2[i] = 1n << BigInt(i);
const split64 = new BigUint64Array(1);
const split32 = new Int32Array(split64.buffer);

/** x << a, truncated to 64 bits, for a in 0..63. */
export function lsl64(x: bigint, a: number): bigint {
  return BigInt.asUintN(64, x * POW2[a]!);
}

/** x >> a (logical) of a 64-bit x, for a in 0..63. */
export function lsr64(x: bigint, a: number): bigint {
  split64[0] = x;
  const lo = split32[0]!;
  const hi = split32[1]!;
  if (a >= 32) {
    split32[0] = hi >>> (a - 32);
    split32[1] = 0;
  } else if (a !== 0) {
    split32[0] = (lo >>> a) | (hi << (32 - a));
    split32[1] = hi >>> a;
  }
  return split64[0];
}

/** Bit `n` (0..63) of a 64-bit x, as a number. */
export function bit64(x: bigint, n: number): number {
  split64[0] = x;
  return (split32[n >>> 5]! >>> (n & 31)) & 1;
}

/**
 * ShiftReg(m, type, amount, N): X[m]<N-1:0> shifted by `amount` (0 <= amount < N).
 * `v` is the whole register; only its low datasize bits are used.
 */
export function shiftReg(v: bigint, type: number, amount: number, sf: number): bigint {
  const m = WMASK[sf]!;
  const x = BigInt.asUintN(64, v & m);
  if (amount === 0) return x;
  switch (type) {
    case LSL:
      return BigInt.asUintN(64, lsl64(x, amount) & m);
    case LSR:
      return lsr64(x, amount);
    case ASR:
      return asr(x, amount, sf);
    default:
      return ror(x, amount, sf);
  }
}

/** ASR of a datasize value by an amount below the datasize, without asIntN on a variable width. */
function asr(x: bigint, a: number, sf: number): bigint {
  const m = WMASK[sf]!;
  const r = lsr64(x, a);
  return BigInt.asUintN(64, x & WSIGN[sf]!) === 0n ? r : BigInt.asUintN(64, r | (m ^ lsr64(m, a)));
}

/** The shifts of the data-processing (2 source) V forms: amount is taken modulo the datasize. */
export function shiftVariable(v: bigint, type: number, amount: bigint, sf: number): bigint {
  const n = Number(BigInt.asUintN(64, amount & (sf !== 0 ? 63n : 31n)));
  return shiftReg(v, type, n, sf);
}

const EXT_MASK = new BigUint64Array([0xffn, 0xffffn, 0xffff_ffffn, MASK64]);
const EXT_SIGN = new BigUint64Array([0x80n, 0x8000n, 0x8000_0000n, 0x8000_0000_0000_0000n]);

/** Extend types (the `option` field): UXTB..UXTX are 0..3, SXTB..SXTX 4..7. */
export const UXTB = 0,
  UXTH = 1,
  UXTW = 2,
  UXTX = 3,
  SXTB = 4,
  SXTH = 5,
  SXTW = 6,
  SXTX = 7;

/**
 * ExtendReg(m, exttype, shift, 64): the low 8/16/32/64 bits of `v` zero- or
 * sign-extended per `option`, then shifted left by `shift` (0..4), as 64 bits.
 * 32-bit users mask the result.
 */
export function extendReg(v: bigint, option: number, shift: number): bigint {
  const size = option & 3;
  const lm = EXT_MASK[size]!;
  let r = BigInt.asUintN(64, v & lm);
  if (option >= SXTB && BigInt.asUintN(64, r & EXT_SIGN[size]!) !== 0n) r = BigInt.asUintN(64, r | (MASK64 ^ lm));
  return shift === 0 ? r : lsl64(r, shift);
}

/** ConditionHolds(cond) over PSTATE.NZCV. */
export function conditionHolds(ps: PState, cond: number): boolean {
  let result: boolean;
  switch (cond >>> 1) {
    case 0:
      result = ps.z === 1;
      break; // EQ / NE
    case 1:
      result = ps.c === 1;
      break; // CS / CC
    case 2:
      result = ps.n === 1;
      break; // MI / PL
    case 3:
      result = ps.v === 1;
      break; // VS / VC
    case 4:
      result = ps.c === 1 && ps.z === 0;
      break; // HI / LS
    case 5:
      result = ps.n === ps.v;
      break; // GE / LT
    case 6:
      result = ps.n === ps.v && ps.z === 0;
      break; // GT / LE
    default:
      return true; // AL, and NV which also means always
  }
  return (cond & 1) !== 0 ? !result : result;
}

/** HighestSetBit of a number below 2^7, -1 for zero. */
function highestSetBit(v: number): number {
  return 31 - Math.clz32(v);
}

/** Ones(k) for k in 0..32, as an unsigned 32-bit number. */
function ones32(k: number): number {
  return k >= 32 ? 0xffff_ffff : 2 ** k - 1;
}

/**
 * Replicate(ROR(Ones(count), rot), 64 / esize): the mask DecodeBitMasks builds, written as the
 * little-endian 32-bit halves out[at], out[at + 1]. Number arithmetic without allocation (it
 * fills the tables below, where the same in BigInt took about 100 ms for all of them).
 */
function onesRorReplicate(count: number, rot: number, esize: number, out: Uint32Array, at: number): void {
  if (esize === 64) {
    let lo = ones32(count);
    let hi = count > 32 ? ones32(count - 32) : 0;
    if (rot >= 32) {
      const t = lo;
      lo = hi;
      hi = t;
      rot -= 32;
    }
    out[at] = rot === 0 ? lo : (lo >>> rot) | (hi << (32 - rot));
    out[at + 1] = rot === 0 ? hi : (hi >>> rot) | (lo << (32 - rot));
    return;
  }
  let e = ones32(count);
  if (rot !== 0) e = ((e >>> rot) | (e << (esize - rot))) & ones32(esize);
  for (let w = esize; w < 32; w *= 2) e |= e << w;
  out[at] = e;
  out[at + 1] = e;
}

/**
 * DecodeBitMasks(immN, imms, immr, immediate, 64) into entry `key` of the tables: wmask, and
 * tmask when `tmask` is given. False (nothing written) where the encoding is reserved.
 */
function decodeBitMasks(
  immN: number,
  imms: number,
  immr: number,
  immediate: boolean,
  key: number,
  wmask: Uint32Array,
  tmask: Uint32Array | null,
): boolean {
  const len = highestSetBit((immN << 6) | (~imms & 0x3f));
  if (len < 1) return false;
  const esize = 1 << len;
  const levels = esize - 1;
  // For logical immediates an all-ones element is reserved.
  if (immediate && (imms & levels) === levels) return false;
  const S = imms & levels;
  const R = immr & levels;
  const d = (S - R) & levels; // diff<len-1:0>: the 6-bit subtraction truncated to the element
  onesRorReplicate(S + 1, R, esize, wmask, 2 * key);
  if (tmask !== null) onesRorReplicate(d + 1, 0, esize, tmask, 2 * key);
  return true;
}

/**
 * Index of the (N, immr, imms) triple in the tables below, whose entry is computed here on first
 * use (all 8192 at start-up cost tens of milliseconds of every run).
 */
export function bitMaskKey(n: number, immr: number, imms: number): number {
  const key = (n << 12) | (immr << 6) | imms;
  if (BIT_MASKS_DONE[key] === 0) {
    if (decodeBitMasks(n, imms, immr, true, key, LOGICAL_HALVES, null)) LOGICAL_IMM_OK[key] = 1;
    decodeBitMasks(n, imms, immr, false, key, WMASK_HALVES, TMASK_HALVES);
    BIT_MASKS_DONE[key] = 1;
  }
  return key;
}

/**
 * DecodeBitMasks(N, imms, immr, TRUE, 64) for every 13-bit immediate: the logical-immediate
 * value (the low 32 bits for sf=0, where N=0 makes every element at most 32 bits wide),
 * with LOGICAL_IMM_OK[key] 0 for the reserved encodings.
 */
export const LOGICAL_IMM = new BigUint64Array(8192);
export const LOGICAL_IMM_OK = new Uint8Array(8192);
/** DecodeBitMasks(N, imms, immr, FALSE, datasize) for the bitfield instructions: wmask and tmask. */
export const BITFIELD_WMASK = new BigUint64Array(8192);
export const BITFIELD_TMASK = new BigUint64Array(8192);
// Node's hosts are little-endian: [2k] is the low half of entry k.
const LOGICAL_HALVES = new Uint32Array(LOGICAL_IMM.buffer);
const WMASK_HALVES = new Uint32Array(BITFIELD_WMASK.buffer);
const TMASK_HALVES = new Uint32Array(BITFIELD_TMASK.buffer);
const BIT_MASKS_DONE = new Uint8Array(8192);

/** ROR(x, shift) at datasize sf for a shift in 0..datasize-1 (the bitfield instructions' R). */
export function ror(x: bigint, shift: number, sf: number): bigint {
  if (shift === 0) return x;
  const m = WMASK[sf]!;
  return BigInt.asUintN(64, (lsr64(x, shift) | lsl64(x, (sf !== 0 ? 64 : 32) - shift)) & m);
}

/** CountLeadingZeroBits(x<N-1:0>). */
export function countLeadingZeroBits(x: bigint, sf: number): number {
  const lo = Number(BigInt.asUintN(32, x));
  if (sf === 0) return Math.clz32(lo);
  const hi = Number(BigInt.asUintN(64, x >> 32n));
  return hi !== 0 ? Math.clz32(hi) : 32 + Math.clz32(lo);
}

/** CountLeadingSignBits(x<N-1:0>) = CountLeadingZeroBits(x<N-1:1> EOR x<N-2:0>). */
export function countLeadingSignBits(x: bigint, sf: number): number {
  const m = WMASK[sf]!;
  const t = BigInt.asUintN(64, ((x >> 1n) ^ x) & (m >> 1n));
  return countLeadingZeroBits(t, sf) - 1;
}

// --- the same primitives for generators (emit.ts): constants folded at compile time -----------

/** ShiftReg of the datasize value `v` (a name) by a constant amount, as an expression. */
export function genShiftReg(v: string, type: number, amount: number, sf: number): string {
  if (amount === 0) return v;
  const w = sf !== 0 ? 64 : 32;
  const m = sf !== 0 ? '' : ' & 0xffffffffn';
  switch (type) {
    case LSL:
      return U(`(${v} << ${amount}n)${m}`);
    case LSR:
      return U(`${v} >> ${amount}n`);
    case ASR: // the sign bit, replicated by 0 - bit, above the logical shift
      return U(`((${v} >> ${amount}n) | ((0n - (${v} >> ${w - 1}n)) << ${w - amount}n))${m}`);
    default:
      return U(`((${v} >> ${amount}n) | (${v} << ${w - amount}n))${m}`);
  }
}

/** ExtendReg(v, option, shift) of the 64-bit value `v` (a name), as an expression. */
export function genExtendReg(v: string, option: number, shift: number): string {
  const size = option & 3;
  const lm = big(EXT_MASK[size]!);
  const sign = big(EXT_SIGN[size]!);
  const r = size === 3 ? v : option >= SXTB ? U(`((${v} & ${lm}) ^ ${sign}) - ${sign}`) : U(`${v} & ${lm}`);
  return shift === 0 ? r : U(`${r} << ${shift}n`);
}
