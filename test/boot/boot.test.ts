// QEMU's boot command line on hypstep: the same options, the same placement, the same registers and
// device tree contents as qemu-system-aarch64 7.2 gives fixtures/boot's program (which prints what
// the boot handed it), for the Linux boot protocol (Image, gzip Image, initrd, -append, -dtb), an
// ELF kernel, and -device loader's files and values.
import { describe, it, expect, beforeAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot, requireTool } from '../helpers/tools.js';
import { rebuildDiffers } from '../helpers/rebuild.js';

const CLI = join(repoRoot(), 'dist/src/cli/main.js');
const BUILD = join(repoRoot(), 'fixtures', 'boot', 'build');
const f = (name: string) => join(BUILD, name);

/** The board as a user's QEMU line for booting gives it (no NIC: its ROM is a package the tests do not need). */
const BOARD = ['-M', 'virt,virtualization=on,gic-version=3', '-cpu', 'max', '-m', '512M', '-nographic'];

function qemu(args: string[]) {
  requireTool('qemu-system-aarch64');
  const r = spawnSync(
    'qemu-system-aarch64',
    [...BOARD, '-nic', 'none', '-monitor', 'none', '-serial', 'stdio', ...args],
    {
      encoding: 'latin1',
      timeout: 20_000,
    },
  );
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}
function hypstep(args: string[]) {
  const r = spawnSync('node', [CLI, 'run', ...args], { encoding: 'latin1', timeout: 30_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}
/** The same command line on both, with QEMU's program name changed. */
function same(args: string[]): string {
  const q = qemu(args);
  expect(q.status, q.stderr).toBe(0);
  const h = hypstep([...BOARD, '-monitor', 'none', '-serial', 'stdio', ...args]);
  expect(h.stderr).toBe('');
  expect(h.stdout).toBe(q.stdout);
  expect(h.status).toBe(0);
  return h.stdout;
}

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'hypstep-boot-'));
});

describe('the Linux boot protocol, as QEMU boots an arm64 Image', () => {
  it('an Image with an initrd and a command line: x0 = the DTB 2 MiB past the initrd, x1-x3 = 0, /chosen filled', () => {
    const out = same(['-kernel', f('bootinfo.bin'), '-initrd', f('blob.bin'), '-append', 'console=ttyAMA0 hypstep']);
    // The placement QEMU 7.2 chose (and so hypstep): Image at RAM + 2 MiB (text_offset 0), the
    // initrd at RAM + 128 MiB, the DTB at the next 2 MiB boundary after it.
    expect(out).toContain('x0 0000000048200000\nx1 0000000000000000\nx2 0000000000000000\nx3 0000000000000000\n');
    expect(out).toContain('loaded at 0000000040200000\n');
    expect(out).toContain('dtb magic d00dfeed\ndtb totalsize 00100000\n');
    expect(out).toContain('initrd-start 0000000048000000\n');
    expect(out).toContain('bootargs console=ttyAMA0 hypstep\n');
    expect(out).toContain('initrd bytes 2070657473707968\n'); // "hypstep " from blob.bin
  });

  it('a gzip-compressed Image (as Debian ships vmlinuz) boots the same', () => {
    same(['-kernel', f('bootinfo.bin.gz'), '-append', 'root=/dev/ram']);
  });

  it('with 1 GiB and 2 PEs the placement follows the RAM size', () => {
    const out = same(['-m', '1G', '-smp', '2', '-kernel', f('bootinfo.bin'), '-initrd', f('blob.bin')]);
    expect(out).toContain('memory size 0000000040000000\n');
  });

  it("-dtb with QEMU's own dumped tree: the same fix-ups and the same size as QEMU gives it", () => {
    const dtb = join(dir, 'qemu.dtb');
    const d = qemu(['-M', `virt,virtualization=on,gic-version=3,dumpdtb=${dtb}`]);
    expect(d.status, d.stderr).toBe(0);
    const out = same([
      '-kernel',
      f('bootinfo.bin'),
      '-dtb',
      dtb,
      '-initrd',
      f('blob.bin'),
      '-append',
      'console=ttyAMA0',
    ]);
    expect(out).toContain(`dtb totalsize ${((readFileSync(dtb).length + 10000) * 2).toString(16).padStart(8, '0')}\n`);
    // QEMU's tree lists virtio-mmio and a PCIe ECAM: their probes read what QEMU's empty ones read.
    expect(out).toContain('virtio-mmio slot 00: magic 74726976\n  version 00000001\n  device 00000000\n');
    expect(out).toContain('ecam 00:01.0 id ffffffff\n');
  });
});

describe('ELF kernels and -device loader, as QEMU loads them', () => {
  it('an ELF kernel: x0 = 0 and the DTB at the base of RAM, below the image', () => {
    const out = same(['-kernel', f('bootinfo.elf'), '-append', 'earlycon']);
    expect(out).toContain('x0 0000000000000000\n');
    expect(out).toContain('bootargs earlycon\n');
  });

  it('several blobs and values by -device loader, PE 0 started by cpu-num=0', () => {
    const out = same([
      '-device',
      `loader,file=${f('bootinfo.elf')},cpu-num=0`,
      '-device',
      `loader,file=${f('blob.bin')},addr=0x40310000`,
      '-device',
      'loader,addr=0x40300000,data=0x1122334455667788,data-len=8',
      '-device',
      'loader,addr=0x40300008,data=0xaabbccdd00000000,data-len=4,data-be=on',
    ]);
    expect(out).toContain('loader data 1122334455667788\nloader data+8 00000000ddccbbaa\n');
    expect(out).toContain('loader file 2070657473707968\n'); // "hypstep " from blob.bin
  });

  it('a raw blob by -device loader,file=…,addr=…,cpu-num=0 is entered at its first byte', () => {
    same(['-device', `loader,file=${f('bootinfo.bin')},addr=0x40200000,cpu-num=0`]);
  });

  it('rebuilds byte for byte from a copy of the sources at another absolute path', async () => {
    expect(await rebuildDiffers('boot')).toEqual([]);
  });
});
