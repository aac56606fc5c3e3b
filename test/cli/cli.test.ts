// The command line as a user meets it: exit statuses, one-line errors, stdout carrying only UART output.
import { describe, it, expect, beforeAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assembleElf, program } from '../helpers/asm.js';

const CLI = new URL('../../dist/src/cli/main.js', import.meta.url).pathname;
const HELLO = new URL('../../fixtures/hello/build/hello.elf', import.meta.url).pathname;

function hypstep(args: string[], input?: string) {
  const r = spawnSync('node', [CLI, ...args], { encoding: 'latin1', input, timeout: 30_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'hypstep-cli-'));
});

function file(name: string, data: Uint8Array | string): string {
  const p = join(dir, name);
  writeFileSync(p, data);
  return p;
}

describe('hypstep run', () => {
  it('prints exactly the UART output on stdout and exits 0 on PSCI SYSTEM_OFF', () => {
    const r = hypstep(['run', HELLO]);
    expect(r.stdout).toBe('Hello from hypstep: running at EL2\n');
    expect(r.status).toBe(0);
    expect(r.stderr).toBe('');
  });

  it('exits with the semihosting exit code', () => {
    const elf = file(
      'exit.elf',
      assembleElf(
        program(`
      adr x1, block
      mov x0, #SYS_EXIT
      hlt #0xf000
      .align 3
block: .quad ADP_Stopped_ApplicationExit, 42
    `),
      ),
    );
    expect(hypstep(['run', elf]).status).toBe(42);
  });

  it('stops at --max-insns with status 3 and says so on stderr', () => {
    const elf = file('loop.elf', assembleElf('.text\n.global _start\n_start: b _start\n'));
    const r = hypstep(['run', '--max-insns', '1000', elf]);
    expect(r.status).toBe(3);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/stopped after 1000 instructions/);
  });

  it('traces exceptions on stderr with the decoded syndrome', () => {
    const elf = file(
      'svc.elf',
      assembleElf(
        program(`
      adr x0, vectors
      msr VBAR_EL2, x0
      hvc #0x12
vectors:
      .rept 0x200 / 4
      nop
      .endr
      movq x0, PSCI_SYSTEM_OFF
      smc #0
    `),
      ),
    );
    const r = hypstep(['run', '--trace', 'exceptions', elf]);
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/exception EL2 -> EL2: HVC #0x12 ESR 0x5a000012 ELR 0x4008000c/);
  });

  const badImages: Array<[string, () => string, RegExp]> = [
    ['a missing file', () => join(dir, 'nope.elf'), /cannot read .*nope\.elf: ENOENT/],
    ['a text file', () => file('text.elf', 'hello'), /not an ELF file/],
    ['a truncated ELF', () => file('trunc.elf', readFileSync(HELLO).subarray(0, 100)), /truncated/],
    [
      'a 32-bit ELF',
      () => {
        const b = Buffer.from(readFileSync(HELLO));
        b[4] = 1;
        return file('c32.elf', b);
      },
      /not a 64-bit ELF/,
    ],
    [
      'an ELF for another machine',
      () => {
        const b = Buffer.from(readFileSync(HELLO));
        b[18] = 62;
        return file('x86.elf', b);
      },
      /machine is 62, not AArch64/,
    ],
    [
      'segments outside RAM',
      () => file('low.elf', assembleElf('.text\n.global _start\n_start: b .\n', 0x1000)),
      /outside RAM/,
    ],
  ];
  for (const [what, make, message] of badImages) {
    it(`refuses ${what} with one line and status 2`, () => {
      const r = hypstep(['run', make()]);
      expect(r.status).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(message);
    });
  }

  const badOptions: Array<[string[], RegExp]> = [
    [['run', '-m', 'lots', HELLO], /invalid memory size 'lots'/],
    [['run', '--max-insns', '-5', HELLO], /invalid instruction count/],
    [['run', '--trace', 'everything', HELLO], /unknown trace 'everything'/],
    [['run', '--frobnicate', HELLO], /unknown option '--frobnicate'/],
    [['run'], /missing required argument 'image'/],
    [['explode'], /unknown command 'explode'/],
    [['run', '--report', 'run.txt', HELLO], /--report run\.txt: the file name must end in \.json or \.html/],
    [
      ['run', '--report', '/nonexistent-dir/run.html', HELLO],
      /cannot write report \/nonexistent-dir\/run\.html: ENOENT/,
    ],
    [['run', '--vcpu-layout', '/nonexistent-dir/layout.json', HELLO], /cannot read vcpu layout .*: ENOENT/],
    [['run', '--check-residency', HELLO], /--check-residency needs --vcpu-layout/],
  ];
  for (const [args, message] of badOptions) {
    it(`refuses ${args.join(' ')} with one line and status 2`, () => {
      const r = hypstep(args);
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).not.toMatch(/\bat .*\.js:\d+/); // no stack trace
    });
  }

  it('prints its version and help', () => {
    expect(hypstep(['--version']).stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
    const help = hypstep(['run', '--help']);
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/Examples:/);
  });
});
