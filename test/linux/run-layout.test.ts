// `--vcpu-layout linux` on `hypstep run`: derived from the image being run, with the functions it
// hooks taken from the kernel's kallsyms (a raw Image carries no other symbol table); refused in
// one line for an image that is not a kernel, and for a boot whose device tree gives the kernel a
// KASLR seed (it would not run at the link addresses kallsyms holds). Discovering vcpus in a
// running kernel is test/linux/kvm-residency's.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { debianKernel } from '../helpers/linux.js';
import { requireTool } from '../helpers/tools.js';
import { CLI, ROOT } from '../gdb/harness.js';

function hypstep(args: string[]) {
  return spawnSync('node', [CLI, 'run', ...args], { encoding: 'utf8', timeout: 120_000 });
}

describe('--vcpu-layout linux', () => {
  it("binds a raw Image by the kernel's own kallsyms", () => {
    // Loaded with --load-address there is no ELF symbol table: the load, put and discovery
    // functions come from kallsyms; the run then stops at its bound, as any run does.
    const r = hypstep([
      '--vcpu-layout',
      'linux',
      '-m',
      '1G',
      '--load-address',
      '0x40200000',
      '--max-insns',
      '1',
      debianKernel(),
    ]);
    expect([r.status, r.stderr]).toEqual([3, 'hypstep: stopped after 1 instructions (--max-insns) at PC 0x40200004\n']);
  });

  it('refuses a boot whose device tree gives a kaslr-seed, unless the command line says nokaslr', () => {
    const dir = mkdtempSync(join(tmpdir(), 'hypstep-kaslr-'));
    const plain = join(dir, 'virt.dtb');
    const kernel = ['-m', '1G', '-kernel', debianKernel()];
    expect(hypstep([...kernel, '--dump-dtb', plain]).status).toBe(0);
    // dtc adds the seed QEMU gives when its RNG is on (/chosen/kaslr-seed, 8 bytes).
    const dts = spawnSync(requireTool('dtc'), ['-I', 'dtb', '-O', 'dts', plain], { encoding: 'utf8' }).stdout;
    const seeded = join(dir, 'seeded.dtb');
    const src = join(dir, 'seeded.dts');
    writeFileSync(src, dts.replace(/chosen \{/, 'chosen {\n\t\tkaslr-seed = <0x12345678 0x9abcdef0>;'));
    expect(spawnSync('dtc', ['-I', 'dts', '-O', 'dtb', '-o', seeded, src]).status).toBe(0);
    const r = hypstep([...kernel, '-dtb', seeded, '--vcpu-layout', 'linux', '--max-insns', '1']);
    expect([r.status, r.stderr]).toEqual([
      2,
      "hypstep: vcpu layout linux: the device tree gives the kernel a kaslr-seed, so it will not run at its link addresses: add 'nokaslr' to -append\n",
    ]);
    const ok = hypstep([...kernel, '-dtb', seeded, '-append', 'nokaslr', '--vcpu-layout', 'linux', '--max-insns', '1']);
    expect(ok.status, ok.stderr).toBe(3);
  });

  it('refuses --vcpu-layout linux for an image that is not a kernel, in one line', () => {
    const hello = join(ROOT, 'fixtures/hello/build/hello.elf');
    const r = hypstep(['--vcpu-layout', 'linux', hello]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(
      /^hypstep: .*hello\.elf: no BTF type information in it \(a kernel built without CONFIG_DEBUG_INFO_BTF\?\)\n$/,
    );
  });
});
