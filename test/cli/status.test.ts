// The status line of a long run: drawn on standard error when it is a terminal (here a pty from
// util-linux's `script`), erased before hypstep's own lines and at the end, never on standard output,
// gone with --quiet or when stderr is not a terminal.
import { describe, it, expect, beforeAll } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot, requireTool } from '../helpers/tools.js';

const CLI = join(repoRoot(), 'dist/src/cli/main.js');
const HVCLOOP = join(repoRoot(), 'fixtures/hvcloop/build/hvcloop-10m.elf');
const ERASE = '\r\x1b[K';
const LINE = /(\d[\d,]*) insns {2}\d+\.\d MIPS {2}PE0 EL[012] (host|guest vmid \d+) {2}(\d+) exits/g;

let dir: string;
beforeAll(() => {
  requireTool('script');
  dir = mkdtempSync(join(tmpdir(), 'hypstep-status-'));
});

/** Runs hypstep with stderr on a pseudo-terminal and stdout to a file; returns both. */
function onTerminal(args: string[], name: string): Promise<{ tty: string; stdout: string }> {
  const out = join(dir, `${name}.out`),
    tty = join(dir, `${name}.tty`);
  const cmd = ['node', CLI, 'run', ...args].map((a) => `'${a}'`).join(' ');
  return new Promise((res, rej) =>
    execFile('script', ['-qec', `${cmd} > '${out}'`, tty], { timeout: 300_000 }, (err) => {
      if (err && err.code !== 3) return rej(new Error(`script: ${err.message}`));
      res({ tty: readFileSync(tty, 'latin1'), stdout: readFileSync(out, 'latin1') });
    }),
  );
}

describe('the status line', () => {
  it('shows instructions, MIPS, each PE and guest exits on a terminal, on stderr only, erased at the end', async () => {
    const r = await onTerminal(['--max-insns', '8000000', HVCLOOP], 'on');
    const lines = [...r.tty.matchAll(LINE)];
    expect(lines.length).toBeGreaterThan(0);
    const counts = lines.map((l) => Number(l[1]!.replace(/,/g, '')));
    expect(counts).toEqual([...counts].sort((a, b) => a - b));
    expect(lines.some((l) => Number(l[3]) > 0)).toBe(true); // hvcloop's guest exits
    // Erased before hypstep's own line, which stands alone on its line.
    expect(r.tty).toContain(`${ERASE}hypstep: stopped after 8000000 instructions (--max-insns)`);
    expect(r.stdout).toBe('');
  });

  it('--quiet, or a stderr that is no terminal, draws none', async () => {
    const quiet = await onTerminal(['--quiet', '--max-insns', '4000000', HVCLOOP], 'quiet');
    expect(quiet.tty).not.toMatch(/MIPS/);
    expect(quiet.tty).toContain('hypstep: stopped after 4000000 instructions');
    const piped = await new Promise<string>((res) =>
      execFile('node', [CLI, 'run', '--max-insns', '4000000', HVCLOOP], (_e, _o, stderr) => res(stderr)),
    );
    expect(piped).toMatch(/^hypstep: stopped after 4000000 instructions[^\n]*\n$/);
  });
});
