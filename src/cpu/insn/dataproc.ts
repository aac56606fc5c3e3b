// The A64 integer data-processing instructions: the immediate and register groups, and CRC32.
import type { AnyEncoding } from '../decode.js';
import { DP_IMMEDIATE } from './dp-imm.js';
import { DP_REGISTER } from './dp-reg.js';
import { CRC32 } from './dp-crc32.js';

export const DATA_PROCESSING: readonly AnyEncoding[] = [...DP_IMMEDIATE, ...DP_REGISTER, ...CRC32];
