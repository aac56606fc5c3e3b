// The A64 instruction set: every encoding table (their order decides nothing: see decode.ts).
import type { AnyEncoding } from './decode.js';
import { DATA_PROCESSING } from './insn/dataproc.js';
import { BRANCHES } from './insn/branch.js';
import { LOADS_STORES } from './insn/loadstore.js';
import { MMU_OPS } from './insn/mmuops.js';
import { SYSTEM } from './insn/system.js';
import { UDF } from './insn/dp-common.js';
import { SIMD_FP } from './insn/simd.js';
import { PAIRS } from './insn/ls-pair.js';
import { SINGLE_REGISTER } from './insn/ls-single.js';

export const A64: readonly AnyEncoding[] = [
  ...MMU_OPS,
  ...SYSTEM,
  ...BRANCHES,
  ...LOADS_STORES,
  ...DATA_PROCESSING,
  UDF,
  ...SIMD_FP,
];

/**
 * The tables whose every row has a generator (test/unit/gen.test.ts holds them to it and to the
 * interpreter): the trace compiler inlines them. Rows elsewhere run their executors inside traces.
 */
export const COMPILED: readonly AnyEncoding[] = [...BRANCHES, ...DATA_PROCESSING, ...PAIRS, ...SINGLE_REGISTER];
