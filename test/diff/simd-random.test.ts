// Differential test of the SIMD&FP instructions: random programs (simd-gen.ts) of each class must
// give identical registers (V0–V31, X, SP, NZCV, FPSR, FPCR), memory and exceptions on hypstep and
// QEMU. A fixed seed per class keeps CI stable; a fresh seed each run widens the search
// (HYPSTEP_SIMD_SEED=<seed> reproduces one).
import { describe, expect, it } from 'vitest';
import { compareSimd } from './simd-harness.js';
import type { SimdClass } from './simd-gen.js';

const fresh =
  process.env.HYPSTEP_SIMD_SEED !== undefined
    ? Number(process.env.HYPSTEP_SIMD_SEED)
    : Math.floor(Math.random() * 0x7fff_ffff);

const CLASSES: [SimdClass, number][] = [
  ['ls', 20260101],
  ['move', 20260102],
  ['int', 20260103],
  ['fp', 20260104],
];

describe('SIMD&FP programs: hypstep as QEMU', () => {
  for (const [cls, seed] of CLASSES) {
    it(`${cls}: fixed seed ${seed}`, async () => {
      const r = await compareSimd(seed, [cls], 150, 6);
      expect(r.diffs).toEqual([]);
      expect(r.cases).toBe(150);
    }, 300_000);
    it(`${cls}: fresh seed ${fresh}`, async () => {
      const r = await compareSimd(fresh, [cls], 80, 6);
      expect(r.diffs).toEqual([]);
    }, 300_000);
  }
});
