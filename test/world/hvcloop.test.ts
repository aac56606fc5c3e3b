// fixtures/hvcloop, the HVC loop of the report and long-run memory tests: QEMU and hypstep
// count the same exits, and the committed ELFs rebuild byte for byte from a copy of the source.
import { describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runQemu } from '../helpers/qemu.js';
import { repoRoot, requireTool } from '../helpers/tools.js';

const DIR = join(repoRoot(), 'fixtures/hvcloop');
const ELFS = ['hvcloop-10k.elf', 'hvcloop-10m.elf'];

describe('fixtures/hvcloop', () => {
  it('makes 10,000 exits on QEMU and on hypstep, which decodes each as a hypercall', () => {
    const elf = join(DIR, 'build/hvcloop-10k.elf');
    const q = runQemu(elf);
    expect([q.status, q.stdout]).toEqual([0, 'hvcloop: exits 0x0000000000002710\n']);
    const h = spawnSync('node', [join(repoRoot(), 'dist/src/cli/main.js'), 'run', '--trace', 'world=exit', elf], {
      encoding: 'utf8',
    });
    expect([h.status, h.stdout]).toEqual([0, q.stdout]);
    const exits = h.stderr.split('\n').filter((l) => / exit #\d+ vmid 1: HVC #0x[01] at /.test(l));
    expect(exits.length).toBe(10_000);
  });

  it('rebuilds byte for byte from a copy of the source at another path', () => {
    requireTool('make');
    requireTool('aarch64-linux-gnu-gcc');
    const tmp = mkdtempSync(join(tmpdir(), 'hvcloop-repro-'));
    try {
      const copy = join(tmp, 'elsewhere', 'fixtures');
      cpSync(join(repoRoot(), 'fixtures/include'), join(copy, 'include'), { recursive: true });
      for (const f of ['common.mk', 'programs.mk']) cpSync(join(repoRoot(), 'fixtures', f), join(copy, f));
      cpSync(DIR, join(copy, 'hvcloop'), { recursive: true, filter: (src) => !src.startsWith(join(DIR, 'build')) });
      execFileSync('make', ['-C', join(copy, 'hvcloop')], { stdio: 'pipe' });
      for (const e of ELFS)
        expect(readFileSync(join(copy, 'hvcloop/build', e)).equals(readFileSync(join(DIR, 'build', e))), e).toBe(true);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});
