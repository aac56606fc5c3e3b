// The command line as a user meets it: exit statuses, one-line errors, stdout carrying only UART output.
import { describe, it, expect, beforeAll } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assembleElf, program } from '../helpers/asm.js';
import { runQemu } from '../helpers/qemu.js';

const CLI = new URL('../../dist/src/cli/main.js', import.meta.url).pathname;
const HELLO = new URL('../../fixtures/hello/build/hello.elf', import.meta.url).pathname;
const MINIHYP = new URL('../../fixtures/minihyp/build/minihyp-vhe-deferred.elf', import.meta.url).pathname;

/** A copy of an ELF with its entry point, or one program header's p_paddr, changed. */
function patched(path: string, o: { entry?: bigint; paddr?: [number, bigint] }): Buffer {
  const b = Buffer.from(readFileSync(path));
  if (o.entry !== undefined) b.writeBigUInt64LE(o.entry, 24);
  if (o.paddr !== undefined) b.writeBigUInt64LE(o.paddr[1], Number(b.readBigUInt64LE(32)) + o.paddr[0] * 56 + 24);
  return b;
}

/** minihyp's first two program headers: p_paddr and p_memsz. */
function phdrs(path: string): { paddr: bigint; memsz: bigint }[] {
  const b = readFileSync(path);
  const phoff = Number(b.readBigUInt64LE(32));
  return [0, 1].map((i) => ({
    paddr: b.readBigUInt64LE(phoff + i * 56 + 24),
    memsz: b.readBigUInt64LE(phoff + i * 56 + 40),
  }));
}
const [SEG0, SEG1] = phdrs(MINIHYP) as [{ paddr: bigint; memsz: bigint }, { paddr: bigint; memsz: bigint }];
/** minihyp with its second segment loaded 0x1000 into its first. */
const overlapping = () => patched(MINIHYP, { paddr: [1, SEG0.paddr + 0x1000n] });
const h = (v: bigint) => `0x${v.toString(16)}`;
const range = (p: bigint, n: bigint) => `${h(p)}\\.\\.${h(p + n)}`;
const OVERLAP = new RegExp(
  `segments 0 \\(${range(SEG0.paddr, SEG0.memsz)}\\) and 1 \\(${range(SEG0.paddr + 0x1000n, SEG1.memsz)}\\) overlap$`,
  'm',
);

function hypstep(args: string[], input?: string, env: NodeJS.ProcessEnv = process.env) {
  const r = spawnSync('node', [CLI, ...args], { encoding: 'latin1', input, env, timeout: 30_000 });
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
    ['a missing file', () => join(dir, 'nope.elf'), /cannot read .*nope\.elf: no such file or directory$/m],
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
      'an entry point outside every loaded segment',
      () => file('entry-out.elf', patched(HELLO, { entry: 0x5000_0000n })),
      /entry point 0x50000000 is outside every loaded segment \(0x4007f000\.\.0x4008[0-9a-f]{4}\)$/m,
    ],
    [
      'a misaligned entry point',
      () => file('entry-odd.elf', patched(HELLO, { entry: 0x4008_0002n })),
      /entry point 0x40080002 is not 4-byte aligned$/m,
    ],
    ['overlapping segments', () => file('overlap.elf', overlapping()), OVERLAP],
    [
      'segments outside RAM',
      () => file('low.elf', assembleElf('.text\n.global _start\n_start: b .\n', 0x1000)),
      /outside RAM/,
    ],
  ];
  it('refuses overlapping segments as QEMU does', () => {
    const q = runQemu(file('overlap-qemu.elf', overlapping()));
    expect(q.status).not.toBe(0);
    // QEMU names the same two segments and ranges.
    expect(q.stderr).toMatch(/regions are overlapping/);
    const q16 = (v: bigint) => `0x${v.toString(16).padStart(16, '0')}`;
    expect(q.stderr).toContain(`segment 0 (addresses ${q16(SEG0.paddr)} - ${q16(SEG0.paddr + SEG0.memsz)})`);
    const at = SEG0.paddr + 0x1000n;
    expect(q.stderr).toContain(`segment 1 (addresses ${q16(at)} - ${q16(at + SEG1.memsz)})`);
  });

  it('refuses a raw image at a misaligned load address, and an empty one', () => {
    const raw = file('raw.bin', Buffer.from([0x1f, 0x20, 0x03, 0xd5]));
    for (const [args, message] of [
      [['--load-address', '0x40000001', raw], /load address 0x40000001 is not 4-byte aligned/],
      [['--load-address', '0x40000000', file('empty.bin', '')], /empty\.bin: empty file$/m],
    ] as const) {
      const r = hypstep(['run', ...args]);
      expect(r.status).toBe(2);
      expect(r.stderr.trimEnd().split('\n')).toEqual([expect.stringMatching(message)]);
      expect(r.stderr).toMatch(/^hypstep: /);
    }
  });

  for (const [what, make, message] of badImages) {
    it(`refuses ${what} with one line and status 2`, () => {
      const r = hypstep(['run', make()]);
      expect(r.status).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(message);
    });
  }

  it('refuses an unknown HYPSTEP_JIT with one line and status 2, and runs the same in every mode', () => {
    const bad = hypstep(['run', HELLO], undefined, { ...process.env, HYPSTEP_JIT: 'sometimes' });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toBe("hypstep: HYPSTEP_JIT must be always, off or auto, not 'sometimes'\n");
    for (const mode of ['always', 'off', 'auto']) {
      const r = hypstep(['run', HELLO], undefined, { ...process.env, HYPSTEP_JIT: mode });
      expect([r.status, r.stdout]).toEqual([0, 'Hello from hypstep: running at EL2\n']);
    }
  });

  const badOptions: Array<[string[], RegExp]> = [
    [['run', '-m', 'lots', HELLO], /invalid memory size 'lots'/],
    [['run', '--max-insns', '-5', HELLO], /invalid instruction count/],
    [['run', '--trace', 'everything', HELLO], /unknown trace 'everything'/],
    [['run', '--frobnicate', HELLO], /unknown option '--frobnicate'/],
    [['run'], /nothing to run: give an image, -kernel, or -device loader/],
    [['explode'], /unknown command 'explode'/],
    [['run', '--report', 'run.txt', HELLO], /--report run\.txt: the file name must end in \.json or \.html/],
    [
      ['run', '--report', '/nonexistent-dir/run.html', HELLO],
      /cannot write report \/nonexistent-dir\/run\.html: no such file or directory$/m,
    ],
    [
      ['run', '--vcpu-layout', '/nonexistent-dir/layout.json', HELLO],
      /cannot read vcpu layout .*: no such file or directory$/m,
    ],
    [['run', '/nonexistent-dir/image.elf'], /cannot read \/nonexistent-dir\/image\.elf: no such file or directory$/m],
    [['run', '/'], /cannot read \/: is a directory$/m],
    [['run', '--vcpu-layout', '/', HELLO], /cannot read vcpu layout \/: not a regular file$/m],
    [['run', '--gdb', '192.0.2.1:1234', HELLO], /cannot listen on 192\.0\.2\.1:1234: address not available$/m],
    [['run', '--check-residency', HELLO], /--check-residency needs --vcpu-layout/],
  ];
  for (const [args, message] of badOptions) {
    it(`refuses ${args.join(' ')} with one line and status 2`, () => {
      const r = hypstep(args);
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).not.toMatch(/\bat .*\.js:\d+/); // no stack trace
      // One line, hypstep's (commander's 'error:' included), with no errno code in capitals.
      expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/^hypstep: /);
      expect(r.stderr).not.toMatch(/\bE[A-Z]{3,}\b/);
    });
  }

  it('prints an attach hint naming the image, and exits 130 on Ctrl-C', async () => {
    const p = spawn('node', [CLI, 'run', '-S', '--gdb', '127.0.0.1:0', HELLO], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    const hint = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no attach hint: ${err}`)), 30_000);
      p.stderr.on('data', (d: Buffer) => {
        err += d.toString();
        const line = err.split('\n').find((l) => l.includes('gdb stub on'));
        if (line !== undefined && err.includes('\n')) {
          clearTimeout(timer);
          resolve(line);
        }
      });
    });
    const status = new Promise<number | null>((resolve) => p.on('close', (code) => resolve(code)));
    p.kill('SIGINT');
    expect(hint).toMatch(/^hypstep: gdb stub on 127\.0\.0\.1:(\d+), CPU held at reset: /);
    const port = /127\.0\.0\.1:(\d+)/.exec(hint)![1];
    expect(hint.endsWith(`gdb-multiarch -ex 'target remote 127.0.0.1:${port}' ${HELLO}`)).toBe(true);
    expect(await status).toBe(130);
  });

  it('prints its version and help', () => {
    expect(hypstep(['--version']).stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
    const help = hypstep(['run', '--help']);
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/Examples:/);
    // Complete: every exit status the README lists, and no '(default: [])' from a repeatable option.
    expect(help.stdout.replace(/\s+/g, ' ')).toMatch(
      /semihosting exit code; 0 on PSCI SYSTEM_OFF; 2 on .*; 3 when --max-insns .*; 4 when .*; 130 when interrupted/,
    );
    expect(help.stdout).not.toMatch(/default: \[\]/);
  });
});
