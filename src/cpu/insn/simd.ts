// The SIMD&FP instructions: loads and stores, moves, integer vector and scalar arithmetic,
// floating point.
import type { AnyEncoding } from '../decode.js';
import { SIMD_LOADS_STORES } from './simd-ls.js';
import { SIMD_MOVES } from './simd-move.js';
import { SIMD_INTEGER } from './simd-int.js';
import { FP_SCALAR } from './fp-scalar.js';
import { FP_VECTOR } from './fp-vector.js';

export const SIMD_FP: readonly AnyEncoding[] = [
  ...SIMD_LOADS_STORES,
  ...SIMD_MOVES,
  ...SIMD_INTEGER,
  ...FP_SCALAR,
  ...FP_VECTOR,
];
