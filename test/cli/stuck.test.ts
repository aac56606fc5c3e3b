// A PE that keeps taking the same exception at the same vector without progress stops the run
// with one line (the exception that began the chain, its instruction as objdump prints it) and
// exit status 8; one that makes progress through its handler is left alone.
import { describe, it, expect, beforeAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { assembleElf, LOAD_ADDR, program } from '../helpers/asm.js';
import { requireTool } from '../helpers/tools.js';

const CLI = new URL('../../dist/src/cli/main.js', import.meta.url).pathname;

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'hypstep-stuck-'));
});

function run(name: string, body: string, args: string[] = []) {
  const elf = join(dir, `${name}.elf`);
  writeFileSync(elf, assembleElf(program(body)));
  const r = spawnSync('node', [CLI, 'run', ...args, elf], { encoding: 'latin1', timeout: 60_000 });
  return { status: r.status, stderr: r.stderr, elf };
}

/** objdump's text for the instruction at `addr` of `elf`, tabs as objdump prints them. */
function objdumpAt(elf: string, addr: number): string {
  requireTool('aarch64-linux-gnu-objdump');
  const out = execFileSync('aarch64-linux-gnu-objdump', ['-d', elf], { encoding: 'latin1' });
  const line = out.split('\n').find((l) => l.trimStart().startsWith(`${addr.toString(16)}:`))!;
  return line.split('\t').slice(2).join('\t').trim();
}

describe('a stuck machine says why', () => {
  it('UNDEFINED at EL2 with VBAR_EL2 still 0: one line naming it, then the instruction aborts at 0x200; status 8', () => {
    const r = run('undef', '\tmov x1, #5\n\tudf #0x1234\n\tb .\n');
    expect(r.status).toBe(8);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    const insn = objdumpAt(r.elf, LOAD_ADDR + 4);
    expect(insn).toBe('udf\t#4660');
    expect(lines[0]).toContain(
      `UNDEFINED: ${insn} at 0x${(LOAD_ADDR + 4).toString(16)} (EL2), then 1000 instruction aborts at 0x200 (EL2's vector)`,
    );
  });

  it('an FP access trapped by CPTR_EL2.TFP with no vectors: the trap and its instruction', () => {
    const r = run('fp', '\tmov x0, #0x400\n\tmsr cptr_el2, x0\n\tisb\n\tmov x1, #5\n\tfmov d0, x1\n\tb .\n');
    expect(r.status).toBe(8);
    const insn = objdumpAt(r.elf, LOAD_ADDR + 16);
    expect(insn).toBe('fmov\td0, x1');
    expect(r.stderr).toContain(`SIMD&FP access trap: ${insn} at 0x${(LOAD_ADDR + 16).toString(16)} (EL2), then 1000`);
  });

  it('a handler that returns to the trapping instruction makes progress: not stuck', () => {
    // 3000 HVCs to a handler that counts and returns; then exit 0 by semihosting.
    const r = run(
      'progress',
      `\tadr x0, vec\n\tmsr vbar_el2, x0\n\tisb\n\tmov x5, #3000\n1:\thvc #0\n\tsubs x5, x5, #1\n\tb.ne 1b\n\tSEMIHOSTING_EXIT\n` +
        `\t.balign 0x800\nvec:\n\t.skip 0x200\n\teret\n`,
      ['--max-insns', '100000'],
    );
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });
});
