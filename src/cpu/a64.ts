// The A64 instruction set: every encoding table, in decode priority order.
import type { AnyEncoding } from './decode.js';
import { DATA_PROCESSING } from './insn/dataproc.js';
import { BRANCHES } from './insn/branch.js';
import { LOADS_STORES } from './insn/loadstore.js';
import { MMU_OPS } from './insn/mmuops.js';
import { SYSTEM } from './insn/system.js';

export const A64: readonly AnyEncoding[] = [...MMU_OPS, ...SYSTEM, ...BRANCHES, ...LOADS_STORES, ...DATA_PROCESSING];
