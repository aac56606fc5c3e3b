// End to end: a freestanding C program (test/diff/csimd) built by Debian's gcc at -O2 without
// -mgeneral-regs-only — so GCC puts varargs, struct copies, memcpy/memset expansions, floating
// point and vectorised loops in SIMD&FP registers — prints the same on QEMU and on hypstep.
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireTool } from '../helpers/tools.js';
import { runQemu } from '../helpers/qemu.js';
import { runHypstep } from '../helpers/hypstep.js';

const SRC = new URL('./csimd/', import.meta.url).pathname;

describe('a C program compiled with SIMD&FP', () => {
  it('gcc -O2 (no -mgeneral-regs-only): the same output on QEMU and hypstep', () => {
    requireTool('aarch64-linux-gnu-gcc');
    requireTool('aarch64-linux-gnu-objdump');
    const dir = mkdtempSync(join(tmpdir(), 'hypstep-csimd-'));
    try {
      const elf = join(dir, 'prog.elf');
      execFileSync(
        'aarch64-linux-gnu-gcc',
        [
          '-O2',
          '-ffreestanding',
          '-nostdlib',
          '-static',
          '-fno-pie',
          '-no-pie',
          '-Wl,--build-id=none',
          '-Wl,-Ttext=0x40080000',
          '-Wl,-e,_start',
          '-o',
          elf,
          join(SRC, 'start.S'),
          join(SRC, 'prog.c'),
          '-lgcc',
        ],
        { stdio: 'pipe' },
      );
      // It really uses them: q-register pairs, vector arithmetic, FP.
      const dis = execFileSync('aarch64-linux-gnu-objdump', ['-d', elf], { encoding: 'utf8' });
      const simd = dis
        .split('\n')
        .filter((l) => /\t(ldp|stp|ldr|str)\tq\d|\tv\d+\.\d+[bhsd]|\t(fadd|fmul|fdiv|fsqrt|fcvt\w*|scvtf)\t/.test(l));
      expect(simd.length).toBeGreaterThan(20);
      const q = runQemu(elf);
      const h = runHypstep(elf, 50_000_000);
      expect(q.status).toBe(0);
      expect(q.stdout).toContain('hello from C with SIMD&FP: varargs -42 0000deadbeefcafe');
      expect(h.stop).toBe('exit');
      expect(h.stdout).toBe(q.stdout);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
