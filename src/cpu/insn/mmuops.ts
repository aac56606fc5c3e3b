import type { AnyEncoding } from '../decode.js';

/** TLB maintenance and address translation instructions (TLBI, AT). */
export const MMU_OPS: readonly AnyEncoding[] = [];
