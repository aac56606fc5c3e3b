import type { AnyEncoding } from '../decode.js';

export const BRANCHES: readonly AnyEncoding[] = [];
