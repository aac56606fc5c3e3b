// FEAT_LSE against QEMU at length: the atomics program of test/unit/atomics-qemu.test.ts (every form,
// misalignment and fault, with fresh registers, values and cells) for 200 fresh seeds in a row
// (HYPSTEP_LSE_SEED starts the campaign at a given seed).
import type { SoakBudget } from './run.js';
import { compareAtomics } from '../unit/atomics-program.js';

export function soak(budget: SoakBudget): Promise<void> {
  const first = Number(process.env.HYPSTEP_LSE_SEED ?? Date.now() & 0x7fff_ffff);
  const count = Math.max(2, Math.round(200 * budget.scale));
  console.log(`soak lse: seeds ${first} to ${first + count - 1} (HYPSTEP_LSE_SEED=${first} replays them)`);
  const failures: string[] = [];
  for (let seed = first; seed < first + count; seed++) {
    const diff = compareAtomics(seed);
    if (diff !== null) failures.push(diff);
  }
  console.log(`soak lse: ${count} programs, ${failures.length} differ from QEMU`);
  return failures.length === 0 ? Promise.resolve() : Promise.reject(new Error(failures.join('\n')));
}
