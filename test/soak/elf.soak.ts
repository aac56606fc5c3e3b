// The ELF fuzzer's long campaign (test/loader/elf-fuzz.ts): 2,000 damaged fixture images through
// `hypstep run`, two at a time, from a fresh seed (HYPSTEP_ELF_SEED replays one). Needs `npm run build`.
import type { SoakBudget } from './run.js';
import { campaign, summary } from '../loader/elf-fuzz.js';

export async function soak(budget: SoakBudget): Promise<void> {
  const seed = Number(process.env.HYPSTEP_ELF_SEED ?? Date.now() & 0x7fff_ffff);
  const count = Math.max(20, Math.round(2000 * budget.scale));
  console.log(`soak elf: seed ${seed} (HYPSTEP_ELF_SEED=${seed} replays it), ${count} images`);
  const c = await campaign(seed, count, { parallel: 2, log: (l) => console.log(`soak elf: ${l}`) });
  console.log(`soak elf: ${c.cases} images: ${summary(c)}`);
  if (c.failures.length > 0) throw new Error(c.failures.join('\n'));
}
