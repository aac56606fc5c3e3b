// Bit helpers over 64-bit BigInt values and 32-bit numbers, named as in the ARM ARM where it has names.
export const MASK64 = 0xffff_ffff_ffff_ffffn;
export const MASK32 = 0xffff_ffffn;

export const u64 = (v: bigint): bigint => BigInt.asUintN(64, v);
export const s64 = (v: bigint): bigint => BigInt.asIntN(64, v);
export const u32 = (v: bigint): bigint => BigInt.asUintN(32, v);

/** SignExtend(x<width-1:0>) to 64 bits, as an unsigned 64-bit value. */
export function signExtend(v: bigint, width: number): bigint {
  return BigInt.asUintN(64, BigInt.asIntN(width, v));
}

/** SignExtend for small (<= 32-bit) immediates held in a number. */
export function sextNum(v: number, width: number): number {
  const shift = 32 - width;
  return (v << shift) >> shift;
}

/** Scratch through which a 64-bit value is joined from int32 halves. */
const WORD = new BigUint64Array(1);
const HALVES = new Int32Array(WORD.buffer);

/** The 64-bit value whose int32 halves are `lo` and `hi` (no BigInt arithmetic). */
export function joined(lo: number, hi: number): bigint {
  HALVES[0] = lo;
  HALVES[1] = hi;
  return WORD[0]!;
}

export function hex(v: bigint | number, width = 0): string {
  return '0x' + v.toString(16).padStart(width, '0');
}
