// `--vcpu-layout linux` on `hypstep run`: derived from the image being run, refused in one line for
// an image that is not a kernel. (Booting the kernel to KVM, where vcpus are discovered, is the Linux
// boot's part.)
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { debianKernel } from '../helpers/linux.js';
import { CLI, ROOT } from '../gdb/harness.js';

describe('--vcpu-layout linux', () => {
  it('is derived by hypstep run from the kernel it loads, up to the symbols a raw Image does not give', () => {
    // A raw Image loaded with --load-address carries no symbol table: binding stops at the first
    // function the layout needs, in one line (the Linux boot's loader is to give kallsyms' symbols).
    const r = spawnSync(
      'node',
      [
        CLI,
        'run',
        '--vcpu-layout',
        'linux',
        '-m',
        '1G',
        '--load-address',
        '0x40200000',
        '--max-insns',
        '1',
        debianKernel(),
      ],
      { encoding: 'utf8', timeout: 120_000 },
    );
    expect([r.status, r.stderr]).toEqual([
      2,
      "hypstep: functions.load: symbol 'kvm_arch_vcpu_load' is not in the loaded image (nor known from gdb)\n",
    ]);
  });

  it('refuses --vcpu-layout linux for an image that is not a kernel, in one line', () => {
    const hello = join(ROOT, 'fixtures/hello/build/hello.elf');
    const r = spawnSync('node', [CLI, 'run', '--vcpu-layout', 'linux', hello], { encoding: 'utf8', timeout: 60_000 });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(
      /^hypstep: .*hello\.elf: no BTF type information in it \(a kernel built without CONFIG_DEBUG_INFO_BTF\?\)\n$/,
    );
  });
});
