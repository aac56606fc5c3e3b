// The SIMD&FP differential campaign: random programs of every class (test/diff/simd-gen.ts) from
// fresh seeds against QEMU, 20 programs of 150 cases per class (HYPSTEP_SIMD_SEED replays one).
import type { SoakBudget } from './run.js';
import { compareSimd } from '../diff/simd-harness.js';
import type { SimdClass } from '../diff/simd-gen.js';

const CLASSES: SimdClass[] = ['ls', 'move', 'int', 'fp'];

export async function soak(budget: SoakBudget): Promise<void> {
  const first = Number(process.env.HYPSTEP_SIMD_SEED ?? Date.now() & 0x7fff_ffff);
  const programs = Math.max(1, Math.round(20 * budget.scale));
  const failures: string[] = [];
  for (let i = 0; i < programs; i++) {
    const seed = (first + i) & 0x7fff_ffff;
    for (const cls of CLASSES) {
      const r = await compareSimd(seed, [cls], 150, 6);
      failures.push(...r.diffs);
    }
    console.log(`soak simd: seed ${seed} (HYPSTEP_SIMD_SEED=${seed}): ${failures.length} differences so far`);
  }
  if (failures.length > 0) throw new Error(failures.slice(0, 20).join('\n'));
}
