// Shared pieces of the data-processing tables.
import { enc, type AnyEncoding } from '../decode.js';
import { undefinedInstruction } from '../../pe/exception.js';

/**
 * An UNDEFINED carve-out: it wins over every encoding it overlaps (decode.ts), so the
 * decoder rejects the unallocated combination at no run-time cost.
 * `x` bits in the pattern are don't-care.
 */
export function unallocated(pattern: string, why: string): AnyEncoding {
  const row = enc(
    pattern as 'x',
    `UNALLOCATED (${why})`,
    (cpu) => {
      throw undefinedInstruction(cpu);
    },
    (d) => undefinedText(d.raw),
    (g) => g.undefinedInstruction(),
  );
  return { ...row, carveOut: true };
}

/** UDF #imm16: the permanently UNDEFINED encoding, which objdump names. */
export const UDF: AnyEncoding = {
  ...enc(
    '0000000000000000 imm16:16',
    'UDF',
    (cpu) => {
      throw undefinedInstruction(cpu);
    },
    (d) => `udf\t#${d.imm16}`,
  ),
  carveOut: true,
};

/** What objdump prints for a word that is not an instruction. */
export function undefinedText(raw: number): string {
  return `.inst 0x${(raw >>> 0).toString(16).padStart(8, '0')} ; undefined`;
}

// --- disassembly helpers: objdump's spelling --------------------------------------

/** A general register of datasize sf (a field, or a flag) where 31 is the zero register. */
export function rz(n: number, sf: number | boolean): string {
  return n === 31 ? (sf ? 'xzr' : 'wzr') : `${sf ? 'x' : 'w'}${n}`;
}

/** A general register of datasize sf where 31 is the stack pointer (a base register is 64-bit). */
export function rsp(n: number, sf: number | boolean = 1): string {
  return n === 31 ? (sf ? 'sp' : 'wsp') : `${sf ? 'x' : 'w'}${n}`;
}

/** An immediate as objdump prints arithmetic and logical ones. */
export function hexImm(v: number | bigint): string {
  return `#0x${v.toString(16)}`;
}

export const COND_NAMES = [
  'eq',
  'ne',
  'cs',
  'cc',
  'mi',
  'pl',
  'vs',
  'vc',
  'hi',
  'ls',
  'ge',
  'lt',
  'gt',
  'le',
  'al',
  'nv',
];
export const SHIFT_NAMES = ['lsl', 'lsr', 'asr', 'ror'];
export const EXTEND_NAMES = ['uxtb', 'uxth', 'uxtw', 'uxtx', 'sxtb', 'sxth', 'sxtw', 'sxtx'];

/** `, <shift> #<amount>`, omitted for LSL #0 as objdump does. */
export function shiftSuffix(type: number, amount: number): string {
  return type === 0 && amount === 0 ? '' : `, ${SHIFT_NAMES[type]} #${amount}`;
}

/** A PC-relative target as objdump prints it (hex address without 0x; the `<symbol>` part is not ours). */
export function target(pc: bigint, offset: number): string {
  return BigInt.asUintN(64, pc + BigInt(offset)).toString(16);
}
