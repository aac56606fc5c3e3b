// The kernel's symbols from its own kallsyms tables, on Debian's arm64 kernel (whose System.map is
// an 83-byte placeholder). Addresses are held against the instructions at them (objdump of the Image:
// the header's branch lands on primary_entry; functions open with a prologue), and the symbols ELF
// against gdb-multiarch (`add-symbol-file`, `info address`, `break`).
import { beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readKallsyms, type KernelSymbol } from '../../src/loader/kallsyms.js';
import { requireTool, repoRoot } from '../helpers/tools.js';
import { debianKernel } from '../helpers/linux.js';

const CLI = join(repoRoot(), 'dist/src/cli/main.js');
const TMP = mkdtempSync(join(tmpdir(), 'hypstep-kallsyms-'));
let kernel: string;
let image: Uint8Array;
let symbols: KernelSymbol[];
let imageBase: bigint;
const addr = (name: string): bigint => {
  const s = symbols.find((x) => x.name === name);
  if (!s) throw new Error(`no symbol ${name}`);
  return s.address;
};

function hypstep(args: string[]) {
  const r = spawnSync('node', [CLI, ...args], { timeout: 120_000, encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** objdump's disassembly of the Image at a file offset. */
function disassemble(offset: bigint, count: number): string[] {
  const out = execFileSync(
    requireTool('aarch64-linux-gnu-objdump'),
    [
      '-D',
      '-b',
      'binary',
      '-m',
      'aarch64',
      `--start-address=${offset}`,
      `--stop-address=${offset + BigInt(4 * count)}`,
      kernel,
    ],
    { encoding: 'utf8' },
  );
  return out
    .split('\n')
    .filter((l) => /^\s+[0-9a-f]+:\t/.test(l))
    .map((l) => l.split('\t').slice(2).join(' ').trim());
}

beforeAll(() => {
  kernel = debianKernel();
  image = readFileSync(kernel);
  const r = readKallsyms(image, kernel);
  symbols = r.symbols;
  imageBase = r.tables.imageBase;
});

describe("kallsyms of Debian's kernel", () => {
  it('decodes every symbol the table counts, sorted by address, with their nm letters', () => {
    expect(symbols.length).toBeGreaterThan(30_000);
    for (let i = 1; i < symbols.length; i++) expect(symbols[i]!.address >= symbols[i - 1]!.address).toBe(true);
    // Without CONFIG_KALLSYMS_ALL the table holds text symbols (and a few others): nm's letters.
    expect(symbols.every((s) => /^[TtWwDdRrBbAaVv]$/.test(s.type))).toBe(true);
    expect(symbols.filter((s) => 'Tt'.includes(s.type)).length).toBeGreaterThan(symbols.length * 0.9);
    for (const n of [
      'kvm_arch_vcpu_load',
      'kvm_arch_vcpu_put',
      '__kvm_vcpu_run_vhe',
      'kvm_vcpu_load_sysregs_vhe',
      'start_kernel',
    ])
      expect(
        symbols.some((s) => s.name === n && 'Tt'.includes(s.type)),
        n,
      ).toBe(true);
  });

  it("places the image where its header's first branch says primary_entry is (objdump)", () => {
    // The Image header's code0 is `b primary_entry` (or an EFI `ccmp` then the branch at code1).
    const [code0, code1] = disassemble(0n, 2);
    const branch = /^b\s+0x([0-9a-f]+)/.exec(code0!) ?? /^b\s+0x([0-9a-f]+)/.exec(code1!);
    expect(branch, `${code0} / ${code1}`).not.toBeNull();
    expect(addr('primary_entry') - imageBase).toBe(BigInt(`0x${branch![1]}`));
  });

  it('finds a function prologue at each of a sample of functions (objdump)', () => {
    const names = [
      'kvm_arch_vcpu_load',
      'kvm_arch_vcpu_put',
      '__kvm_vcpu_run_vhe',
      'kvm_vcpu_load_sysregs_vhe',
      'start_kernel',
      'panic',
    ];
    for (const n of names) {
      const insns = disassemble(addr(n) - imageBase, 4).join('; ');
      // ftrace's two NOPs, then PACIASP / BTI c, or the frame record.
      expect(insns, n).toMatch(/paciasp|bti\s+c|stp\s+x29, x30/);
    }
    // And the instruction before a function ends the previous one or pads (not the middle of a prologue).
    const before = disassemble(addr('kvm_arch_vcpu_load') - imageBase - 4n, 1)[0]!;
    expect(before).toMatch(/ret|nop|b\s|udf|\.inst|autiasp|brk/);
  });

  it('writes a symbols ELF that gdb-multiarch loads: info address and break agree with kallsyms', () => {
    const elf = join(TMP, 'syms.elf');
    const r = hypstep(['symbols', kernel, '-o', elf]);
    expect(r.stderr).toBe(`hypstep: ${symbols.length} symbols written to ${elf}\n`);
    expect(r.status).toBe(0);
    const gdb = execFileSync(
      requireTool('gdb-multiarch'),
      [
        '-batch',
        '-nx',
        '-ex',
        'set architecture aarch64',
        '-ex',
        `add-symbol-file ${elf}`,
        '-ex',
        'info address kvm_arch_vcpu_load',
        '-ex',
        'info address __kvm_vcpu_run_vhe',
        '-ex',
        'break kvm_arch_vcpu_load',
        '-ex',
        `info symbol 0x${(addr('kvm_arch_vcpu_put') + 8n).toString(16)}`,
      ],
      { encoding: 'utf8', timeout: 120_000 },
    );
    const hex = (n: string) => `0x${addr(n).toString(16)}`;
    expect(gdb).toContain(
      `Symbol "kvm_arch_vcpu_load" is at ${hex('kvm_arch_vcpu_load')} in a file compiled without debugging.`,
    );
    expect(gdb).toContain(
      `Symbol "__kvm_vcpu_run_vhe" is at ${hex('__kvm_vcpu_run_vhe')} in a file compiled without debugging.`,
    );
    expect(gdb).toMatch(new RegExp(`Breakpoint 1 at ${hex('kvm_arch_vcpu_load')}\\b`));
    expect(gdb).toContain('kvm_arch_vcpu_put + 8 in section .text');
    // nm reads the same names and addresses back.
    const nm = execFileSync(requireTool('aarch64-linux-gnu-nm'), [elf], { encoding: 'utf8', maxBuffer: 1 << 28 });
    const lines = nm.trim().split('\n');
    expect(lines.length).toBe(symbols.length);
    expect(lines).toContain(`${addr('kvm_arch_vcpu_load').toString(16).padStart(16, '0')} T kvm_arch_vcpu_load`);
  });

  it('takes the symbols from --system-map instead, as nm -n writes it', () => {
    const map = join(TMP, 'System.map');
    const some = symbols.filter((s) => /kvm_arch_vcpu_(load|put)$|^__kvm_vcpu_run_vhe$/.test(s.name));
    writeFileSync(map, some.map((s) => `${s.address.toString(16).padStart(16, '0')} ${s.type} ${s.name}\n`).join(''));
    const elf = join(TMP, 'map.elf');
    const r = hypstep(['symbols', '--system-map', map, '-o', elf]);
    expect(r.status).toBe(0);
    expect(r.stderr).toBe(`hypstep: ${some.length} symbols written to ${elf}\n`);
    const nm = execFileSync(requireTool('aarch64-linux-gnu-nm'), ['-n', elf], { encoding: 'utf8' });
    expect(
      nm
        .trim()
        .split('\n')
        .map((l) => l.split(' ')[2]),
    ).toEqual(some.map((s) => s.name));
  });

  it('refuses bad input in one line with status 2', () => {
    const notKernel = join(TMP, 'not-a-kernel');
    writeFileSync(notKernel, Buffer.alloc(65536, 0x41));
    const badMap = join(TMP, 'bad.map');
    writeFileSync(badMap, 'ffff800008000000 T _text\nthis is not a map line\n');
    const cases: [string[], RegExp][] = [
      [['symbols', notKernel, '-o', join(TMP, 'x.elf')], /^hypstep: .*not-a-kernel: no kallsyms tables found in it/],
      [
        ['symbols', join(TMP, 'missing'), '-o', join(TMP, 'x.elf')],
        /^hypstep: cannot read .*missing: no such file or directory$/,
      ],
      [['symbols', '--system-map', badMap, '-o', join(TMP, 'x.elf')], /^hypstep: .*bad\.map:2: not a System\.map line/],
      [
        ['symbols', kernel, '-o', join(TMP, 'no-dir', 'x.elf')],
        /^hypstep: cannot write .*x\.elf: no such file or directory$/,
      ],
      [['symbols', kernel], /^hypstep: required option '-o, --output <file>' not specified$/],
    ];
    for (const [args, message] of cases) {
      const r = hypstep(args);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1);
      expect(r.stderr.trim(), args.join(' ')).toMatch(message);
    }
  });
});
