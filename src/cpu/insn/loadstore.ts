// Every A64 integer load and store, in decode priority order. Within each group the
// UNDEFINED carve-outs come before the general encodings they overlap; anything in the
// loads-and-stores space that no entry claims (SIMD&FP with V=1, MTE, pointer
// authentication, FEAT_LRCPC, FEAT_MOPS, FEAT_LOR) is UNDEFINED.
import type { AnyEncoding } from '../decode.js';
import { ATOMICS } from './ls-atomic.js';
import { EXCLUSIVES } from './ls-exclusive.js';
import { PAIRS } from './ls-pair.js';
import { SINGLE_REGISTER } from './ls-single.js';

export const LOADS_STORES: readonly AnyEncoding[] = [...ATOMICS, ...EXCLUSIVES, ...PAIRS, ...SINGLE_REGISTER];
