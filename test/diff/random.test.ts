// Differential test: random A64 integer programs must give byte-identical UART dumps on hypstep
// and on QEMU. A fixed seed keeps CI stable; a fresh seed each run widens the search. To
// reproduce any failure: HYPSTEP_DIFF_SEED=<seed> HYPSTEP_DIFF_FIRST=<index> HYPSTEP_DIFF_COUNT=1.
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { generateProgram, type Program } from './gen.js';
import { OUT_ROOT, cleanUp, comparePrograms, localize, runSeed, type RunResult } from './harness.js';

const env = process.env;
const FIXED_SEED = 20240601;
const FIXED_COUNT = 200;
const freshSeed =
  env.HYPSTEP_DIFF_SEED !== undefined ? Number(env.HYPSTEP_DIFF_SEED) : Math.floor(Math.random() * 0x7fff_ffff);
const freshFirst = Number(env.HYPSTEP_DIFF_FIRST ?? 0);
const freshCount = Number(env.HYPSTEP_DIFF_COUNT ?? 100);
/** How many failing programs to localise to one instruction (each costs a few seconds). */
const LOCALIZE = Number(env.HYPSTEP_DIFF_LOCALIZE ?? 3);
/** How many failing programs to describe in the failure message. */
const SHOW = 10;

async function failureReport(r: RunResult): Promise<string | null> {
  if (r.mismatches.length === 0) return null;
  const lines = [
    `${r.mismatches.length} of ${r.programs} programs differ between QEMU and hypstep (sources, ELFs and both outputs in ${r.dir})`,
  ];
  for (const [k, m] of r.mismatches.slice(0, SHOW).entries()) {
    lines.push(
      `${m.name}: ${m.detail}`,
      `  reproduce: HYPSTEP_DIFF_SEED=${m.program.seed} HYPSTEP_DIFF_FIRST=${m.program.index} HYPSTEP_DIFF_COUNT=1 npx vitest run test/diff/random.test.ts -t fresh`,
      `  listing: ${m.listing}`,
    );
    if (k < LOCALIZE) lines.push(`  ${await localize(m.program)}`);
  }
  if (r.mismatches.length > SHOW)
    lines.push(
      `... and ${r.mismatches.length - SHOW} more: ${r.mismatches
        .slice(SHOW)
        .map((m) => m.name)
        .join(' ')}`,
    );
  return lines.join('\n');
}

/** Tests that have not completed: a failed run's files are kept for the paths in its message. */
let failures = 0;
const tracked = (body: () => Promise<void>) => async (): Promise<void> => {
  failures++;
  await body();
  failures--;
};

async function check(seed: number, first: number, count: number): Promise<void> {
  const t0 = Date.now();
  const r = await runSeed(seed, first, count);
  const report = await failureReport(r);
  console.log(
    `seed ${seed}: ${count} programs from #${first}, ${r.mismatches.length} mismatches, ${((Date.now() - t0) / 1000).toFixed(1)} s`,
  );
  if (report !== null) throw new Error(report);
}

describe('random A64 integer programs: hypstep vs QEMU', () => {
  afterAll(() => {
    if (failures === 0) cleanUp();
  });
  it(
    `fixed seed ${FIXED_SEED}: ${FIXED_COUNT} programs`,
    tracked(() => check(FIXED_SEED, 0, FIXED_COUNT)),
    180_000,
  );
  it(
    `fresh seed ${freshSeed}: ${freshCount} programs from #${freshFirst} (HYPSTEP_DIFF_SEED=${freshSeed} reproduces)`,
    tracked(() => check(freshSeed, freshFirst, freshCount)),
    180_000,
  );

  // The harness itself: a difference planted in the program hypstep runs (one extra unit that
  // loads another constant) must be reported with the register and both values, and localised.
  it(
    'reports and localises a planted difference',
    tracked(async () => {
      const p = generateProgram(1, 0, 40);
      const d = p.base === 7 ? 8 : 7;
      const withTail = (v: string): Program => ({ ...p, units: [...p.units, { lines: [`movz x${d}, #${v}`] }] });
      const ref = withTail('0xbeef'),
        planted = withTail('0xdead');
      const mismatches = await comparePrograms([ref], join(OUT_ROOT, 'planted'), [planted]);
      expect(mismatches.map((m) => m.detail)).toEqual([`x0${d}: QEMU 0x000000000000beef, hypstep 0x000000000000dead`]);
      expect(await localize(ref, planted)).toContain(
        `first divergence at unit ${p.units.length}: \`movz x${d}, #0xbeef\``,
      );
    }),
    60_000,
  );
});
