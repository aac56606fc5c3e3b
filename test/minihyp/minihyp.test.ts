// minihyp, the fixture hypervisor (fixtures/minihyp): the committed ELFs are what the sources build,
// QEMU still prints the committed transcripts, and hypstep prints the same bytes and exit status.
import { describe, it, expect } from 'vitest';
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runQemu } from '../helpers/qemu.js';
import { Machine } from '../../src/board/machine.js';
import { parseElf } from '../../src/loader/elf.js';
import { requireTool } from '../helpers/tools.js';

const DIR = new URL('../../fixtures/minihyp/', import.meta.url).pathname.replace(/\/$/, '');
const MODES = execFileSync('node', ['gen-layout.mjs', '--modes'], { cwd: DIR }).toString().trim().split(/\s+/);
/** The correct modes end in PASS (exit 0); each bug variant ends in the FAIL it was built to cause (exit 1). */
const passes = (mode: string) => !mode.startsWith('bug-');
const elf = (mode: string) => join(DIR, 'build', `minihyp-${mode}.elf`);
const expected = (mode: string) => readFileSync(join(DIR, 'expected', `${mode}.txt`), 'latin1');
/** Instructions hypstep may spend on one mode before the test calls it a hang (each needs a few million). */
const BUDGET = 40_000_000;

/**
 * Runs an image on hypstep in-process, like test/helpers/hypstep.ts, but in slices of a million
 * instructions so that the test worker stays responsive on a loaded machine.
 */
async function runOnHypstep(path: string) {
  let stdout = '';
  const m = new Machine({
    uartOut: (b) => {
      stdout += Buffer.from(b).toString('latin1');
    },
    consoleOut: () => {},
  });
  m.load(parseElf(readFileSync(path), path));
  let stop = 'budget';
  while (m.cpu.icount < BUDGET) {
    const r = m.run(1_000_000);
    if (r.kind !== 'budget') {
      stop = r.kind === 'unimplemented' ? `unimplemented: ${r.message}` : r.kind;
      break;
    }
    await new Promise((resolve) => setImmediate(resolve));
  }
  return { stdout, stop, exitCode: m.exitCode, icount: m.cpu.icount };
}

describe('minihyp build', () => {
  it('has one committed ELF and one transcript per mode', () => {
    expect(MODES).toEqual([
      'vhe-eager',
      'vhe-deferred',
      'nvhe',
      'nvhe-deferred32',
      'bug-stale-read',
      'bug-lost-write',
      'bug-missing-load',
      'vhe-lazy-fp',
      'nvhe-lazy-fp',
      'bug-fp-partial-put',
    ]);
    const elfs = readdirSync(join(DIR, 'build'))
      .filter((f) => f.endsWith('.elf'))
      .sort();
    expect(elfs).toEqual(MODES.map((m) => `minihyp-${m}.elf`).sort());
    const txts = readdirSync(join(DIR, 'expected')).sort();
    expect(txts).toEqual(MODES.map((m) => `${m}.txt`).sort());
  });

  it('rebuilds byte for byte from a copy of the sources at another absolute path', async () => {
    requireTool('make');
    requireTool('aarch64-linux-gnu-gcc');
    const tmp = mkdtempSync(join(tmpdir(), 'minihyp-repro-'));
    try {
      const copy = join(tmp, 'some', 'other', 'minihyp');
      const build = join(DIR, 'build');
      cpSync(DIR, copy, { recursive: true, filter: (src) => src !== build && !src.startsWith(build + '/') });
      try {
        await promisify(execFile)('make', ['-C', copy, '-j2']);
      } catch (e) {
        const err = e as { stdout?: string; stderr?: string };
        throw new Error(`make failed in the copy:\n${err.stdout ?? ''}${err.stderr ?? ''}`, { cause: e });
      }
      const differ: string[] = [];
      const same = (rel: string) => {
        if (!readFileSync(join(DIR, rel)).equals(readFileSync(join(copy, rel)))) differ.push(rel);
      };
      for (const m of MODES) same(join('build', `minihyp-${m}.elf`));
      same('vcpu-layout.json');
      same(join('build', 'gen', 'vcpu_layout.h'));
      expect(
        differ,
        `these committed files differ from what the sources build (run 'npm run fixtures' and commit): ${differ.join(', ')}`,
      ).toEqual([]);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }, 600_000);
});

describe.each(MODES)('minihyp %s', (mode) => {
  it('prints the committed transcript on QEMU', () => {
    const r = runQemu(elf(mode));
    expect(r.stdout).toBe(expected(mode));
    expect(r.status).toBe(passes(mode) ? 0 : 1);
  });

  it('committed transcript ends as designed', () => {
    const t = expected(mode);
    expect(t.trimEnd().split('\n').at(-1)).toBe(passes(mode) ? 'minihyp: PASS' : 'minihyp: FAIL');
    if (passes(mode)) {
      expect(t).toMatch(/\[vcpu0\] PASS: /);
      expect(t).toMatch(/\[vcpu1\] PASS: /);
      expect(t).not.toMatch(/MISMATCH|FAIL/);
    } else {
      expect(t).toMatch(/\[vcpu0\] FAIL in round \d+: /);
    }
  });

  it('prints the same transcript on hypstep as on QEMU', async () => {
    const r = await runOnHypstep(elf(mode));
    const want = expected(mode);
    if (r.stdout !== want) {
      // Say where the runs part, and why hypstep stopped, before the full diff.
      let i = 0;
      while (i < want.length && want[i] === r.stdout[i]) i++;
      const line = want.slice(0, i).split('\n').length;
      throw new Error(
        `hypstep's transcript departs from QEMU's at line ${line} (hypstep stopped: ${r.stop} after ` +
          `${r.icount} instructions, exit code ${r.exitCode})\n--- QEMU ---\n${want
            .split('\n')
            .slice(line - 1, line + 2)
            .join('\n')}` +
          `\n--- hypstep ---\n${r.stdout
            .split('\n')
            .slice(line - 1, line + 2)
            .join('\n')}`,
      );
    }
    expect(r.stop).toBe('exit');
    expect(r.exitCode).toBe(passes(mode) ? 0 : 1);
    // Short enough for an interpreter: thousands of world switches, not millions.
    expect(r.icount).toBeLessThan(20_000_000);
    console.log(`minihyp ${mode}: ${r.icount} instructions on hypstep`);
  });
});
