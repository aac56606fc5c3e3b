// TLB maintenance by page against walks of the tables (test/mmu/tlbi-random.ts): a million
// random steps from a fresh seed (HYPSTEP_TLBI_SEED replays one).
import { tlbiCampaign } from '../mmu/tlbi-random.js';
import type { SoakBudget } from './run.js';

export function soak(budget: SoakBudget): Promise<void> {
  const seed = Number(process.env.HYPSTEP_TLBI_SEED ?? (Math.random() * 2 ** 32) >>> 0);
  const steps = Math.round(1_000_000 * budget.scale);
  console.log(`  seed ${seed} (HYPSTEP_TLBI_SEED=${seed} replays it), ${steps} steps`);
  const r = tlbiCampaign(seed, steps);
  console.log(`  ${r.changes} covered changes, ${r.accesses} translations`);
  return Promise.resolve();
}
