import type { AnyEncoding } from '../decode.js';

export const DATA_PROCESSING: readonly AnyEncoding[] = [];
