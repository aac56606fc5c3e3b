// Shared pieces of the data-processing tables.
import { enc, type AnyEncoding } from '../decode.js';
import { undefinedInstruction } from '../exceptions.js';

/**
 * An UNDEFINED carve-out: listed before the general encoding it overlaps, so the
 * decoder's first match rejects the unallocated combination at no run-time cost.
 * `x` bits in the pattern are don't-care.
 */
export function unallocated(pattern: string, why: string): AnyEncoding {
  return enc(pattern as 'x', `UNALLOCATED (${why})`, (cpu) => { throw undefinedInstruction(cpu); });
}
