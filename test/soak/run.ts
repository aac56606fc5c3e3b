// `npm run soak`: the long campaigns (fuzzers, long runs), too slow for CI. Each `*.soak.ts` beside this
// file exports `soak(budget)`; they run one after another and any failure fails the run.
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** How long a campaign may run, and a scale factor for its counts (`--quick` for a short sample). */
export interface SoakBudget {
  readonly scale: number;
}

interface SoakModule {
  soak(budget: SoakBudget): Promise<void>;
}

const here = dirname(fileURLToPath(import.meta.url));
const only = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const budget: SoakBudget = { scale: process.argv.includes('--quick') ? 0.01 : 1 };

let failed = 0;
for (const file of readdirSync(here)
  .filter((f) => f.endsWith('.soak.js'))
  .sort()) {
  const name = file.replace(/\.soak\.js$/, '');
  if (only.length > 0 && !only.includes(name)) continue;
  const started = Date.now();
  console.log(`soak ${name}: start`);
  try {
    const mod = (await import(pathToFileURL(join(here, file)).href)) as SoakModule;
    await mod.soak(budget);
    console.log(`soak ${name}: ok (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  } catch (e) {
    failed++;
    console.log(`soak ${name}: FAILED: ${e instanceof Error ? e.message : String(e)}`);
  }
}
process.exitCode = failed > 0 ? 1 : 0;
