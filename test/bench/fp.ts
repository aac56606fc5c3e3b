// The floating-point and SIMD rows of `npm run bench`: fixtures/bench/fploop (scalar FP, single
// and double precision) and fixtures/bench/simdloop (Advanced SIMD: a 64-byte LD1/ST1 copy,
// integer and FP vector arithmetic, permutes, reductions), timed as the integer loop is, each
// beside QEMU. Their rows have no generators, so compiled traces call their executors.
import { fixture, loopRows, type BenchRow } from './bench.js';

export function benchFp(): BenchRow[] {
  return [
    ...loopRows('scalar FP loop', fixture('bench', 'fploop')),
    ...loopRows('SIMD loop', fixture('bench', 'simdloop')),
  ];
}
