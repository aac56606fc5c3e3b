import type { AnyEncoding } from '../decode.js';

export const LOADS_STORES: readonly AnyEncoding[] = [];
