// Runs generated SIMD&FP programs (simd-gen.ts) on QEMU and on hypstep and compares them case by
// case, naming the first word that differs and the case's instructions.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assembleElf } from '../helpers/asm.js';
import { runHypstep } from '../helpers/hypstep.js';
import { runQemuAsync } from './harness.js';
import { DUMP_NAMES, generateCases, renderSimdProgram, type SimdCase, type SimdClass } from './simd-gen.js';

export interface SimdDiff {
  cases: number;
  /** One line per differing case (at most `show`). */
  diffs: string[];
  /** How many cases took an exception on QEMU (a generator that mostly traps tests little). */
  trapped: number;
}

function split(out: string): string[][] {
  return out
    .split(/^==/m)
    .slice(1)
    .map((b) => b.trim().split('\n').slice(1));
}

export async function compareSimd(
  seed: number,
  classes: readonly SimdClass[],
  count: number,
  perCase = 4,
  show = 8,
): Promise<SimdDiff> {
  const cases: SimdCase[] = generateCases(seed, classes, count, perCase);
  const dir = mkdtempSync(join(tmpdir(), 'hypstep-simd-'));
  try {
    const elf = join(dir, 'p.elf');
    writeFileSync(elf, assembleElf(renderSimdProgram(cases)));
    const qemuRun = runQemuAsync(elf, 120_000); // QEMU runs while hypstep does
    const hyp = runHypstep(elf, 200_000_000);
    const qemu = split(await qemuRun);
    const ours = split(hyp.stdout);
    const diffs: string[] = [];
    let trapped = 0;
    qemu.forEach((want, i) => {
      if (want.some((l) => l.startsWith('!'))) trapped++;
      const got = ours[i] ?? [];
      if (got.join('\n') === want.join('\n')) return;
      if (diffs.length >= show) return;
      const exc = (ls: string[]): string => ls.filter((l) => l.startsWith('!')).join(' ');
      const w = want.filter((l) => !l.startsWith('!'));
      const g = got.filter((l) => !l.startsWith('!'));
      const k = w.findIndex((l, j) => l !== g[j]);
      const what =
        exc(want) !== exc(got)
          ? `exceptions QEMU [${exc(want)}] hypstep [${exc(got)}]`
          : `${DUMP_NAMES[k] ?? `word ${k}`}: QEMU ${w[k]} hypstep ${g[k] ?? '(none)'}`;
      diffs.push(
        `seed ${seed} case ${i} (${cases[i]!.lines.join('; ')}; fpcr ${cases[i]!.fpcr.toString(16)}): ${what}`,
      );
    });
    if (ours.length !== qemu.length)
      diffs.push(`hypstep printed ${ours.length} cases, QEMU ${qemu.length} (${hyp.stop})`);
    return { cases: qemu.length, diffs, trapped };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
