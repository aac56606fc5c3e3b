// QEMU's boot options on `hypstep run`: what is accepted, and what is refused in one line naming it.
import { describe, it, expect, beforeAll } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { repoRoot } from '../helpers/tools.js';
import { assembleElf, program } from '../helpers/asm.js';

const CLI = join(repoRoot(), 'dist/src/cli/main.js');
const HELLO = join(repoRoot(), 'fixtures/hello/build/hello.elf');
const IMAGE = join(repoRoot(), 'fixtures/boot/build/bootinfo.bin');

function hypstep(args: string[]) {
  const r = spawnSync('node', [CLI, 'run', ...args], { encoding: 'latin1', timeout: 30_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}
/** A refusal: status 2, one line on stderr starting 'hypstep:', nothing on stdout. */
function refused(args: string[], why: RegExp) {
  const r = hypstep(args);
  expect(r.stdout).toBe('');
  expect(r.stderr).toMatch(/^hypstep: [^\n]*\n$/);
  expect(r.stderr).toMatch(why);
  expect(r.status).toBe(2);
}

let dir: string;
const file = (name: string, data: Uint8Array | string) => {
  const p = join(dir, name);
  writeFileSync(p, data);
  return p;
};
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'hypstep-boot-cli-'));
});

describe("QEMU's boot options", () => {
  it("the README's QEMU line for an image runs with the program name changed", () => {
    const r = hypstep(
      ['-M', 'virt,virtualization=on', '-cpu', 'max', '-m', '512M', '-nographic', '-semihosting'].concat([
        '-nic',
        'none',
        '-monitor',
        'none',
        '-serial',
        'mon:stdio',
        '-smp',
        'cpus=2',
        '-kernel',
        HELLO,
      ]),
    );
    expect(r.stdout).toBe('Hello from hypstep: running at EL2\n');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('-machine adds up over several options, as in QEMU; -M and -machine are one', () => {
    const r = hypstep([
      '-machine',
      'virt',
      '-M',
      'virtualization=on,gic-version=3,its=off,dtb-randomness=off',
      '-kernel',
      HELLO,
    ]);
    expect(r.status).toBe(0);
  });

  it.each([
    [['-M', 'virt', '-kernel', HELLO], /-machine virt: hypstep always has EL2 .*virtualization=on/],
    [['-M', 'sbsa-ref,virtualization=on', '-kernel', HELLO], /machine 'sbsa-ref' is not supported/],
    [['-M', 'virt,virtualization=on,gic-version=2', '-kernel', HELLO], /gic-version=2 is not supported .*GICv3/],
    [['-M', 'virt,virtualization=on,its=on', '-kernel', HELLO], /its=on is not supported .*no ITS/],
    [['-M', 'virt,virtualization=on,secure=on', '-kernel', HELLO], /secure=on is not supported .*no EL3/],
    [
      ['-M', 'virt,virtualization=on,dtb-randomness=on', '-kernel', HELLO],
      /dtb-randomness=on is not supported .*no kaslr-seed/,
    ],
    [['-M', 'virt,virtualization=on,dtb-kaslr-seed', '-kernel', HELLO], /dtb-kaslr-seed=on is not supported/],
    [['-M', 'virt,virtualization=on,highmem=off', '-kernel', HELLO], /machine property 'highmem' is not supported/],
    [['-cpu', 'cortex-a57', '-kernel', HELLO], /-cpu cortex-a57: not supported/],
    [['-serial', 'pty', '-kernel', HELLO], /-serial pty: not supported/],
    [['-monitor', 'stdio', '-kernel', HELLO], /-monitor stdio: not supported/],
    [['-netdev', 'user,id=n0', '-kernel', HELLO], /QEMU's -netdev is not supported by hypstep/],
    [['-bios', 'QEMU_EFI.fd'], /QEMU's -bios is not supported by hypstep/],
    [['-device', 'virtio-net-device', '-kernel', HELLO], /device 'virtio-net-device' is not supported .*loader only/],
    [['-device', 'loader,file=x,data=1,data-len=4'], /a file cannot be given with data/],
    [['-device', 'loader,addr=0x40000000,data=1'], /data and data-len go together/],
    [['-device', 'loader,addr=0x40000000,data=1,data-len=9'], /data-len is at most 8/],
    [['-device', 'loader,bogus=1'], /the loader property 'bogus' is not supported/],
    [['-device', 'loader'], /give file=, or addr=/],
    [['-gdb', 'unix:/tmp/sock', '-kernel', HELLO], /-gdb unix:\/tmp\/sock: not supported/],
    [['-smp', '2,sockets=2', '-kernel', HELLO], /-smp 2,sockets=2: 'sockets=2' is not supported/],
    [['-kernel'], /-kernel needs a value|argument missing/],
  ])('%j is refused by name', (args, why) => refused(args, why));

  it('refuses what the boot cannot place, in one line', () => {
    refused([HELLO, '-kernel', HELLO], /both an image .* and -kernel .* given/);
    refused([], /nothing to run/);
    refused(
      ['-device', `loader,file=${HELLO},cpu-num=0`, '-kernel', HELLO],
      /sets PE 0's start .* and so does -kernel/,
    );
    refused(['-device', `loader,file=${HELLO},cpu-num=3`], /cpu-num=3 names no PE \(-smp 1\)/);
    refused(['-kernel', file('bad.gz', Buffer.from([0x1f, 0x8b, 8, 0, 1, 2, 3]))], /bad\.gz: cannot decompress/);
    refused([file('text.bin', 'not a kernel')], /not an ELF file or an arm64 Linux Image/);
    refused(['-kernel', IMAGE, '-dtb', file('bad.dtb', 'nope')], /bad\.dtb: not a device tree blob/);
    refused(['-m', '16M', '-kernel', IMAGE, '-initrd', file('big.img', new Uint8Array(15 << 20))], /initrd is too big/);
    const be = Buffer.from(gzipSync(Buffer.alloc(0)));
    refused(['-kernel', file('empty.gz', be)], /empty\.gz: empty once decompressed$/m);
    const beImage = Buffer.alloc(4096);
    beImage.write('ARM\x64', 56, 'latin1');
    beImage.writeBigUInt64LE(4096n, 16);
    beImage.writeBigUInt64LE(1n, 24);
    refused(['-kernel', file('be.img', beImage)], /big-endian kernel .*not supported/);
    const zboot = Buffer.alloc(64);
    zboot.write('MZ\0\0zimg', 0, 'latin1');
    refused(['-kernel', file('zboot.efi', zboot)], /EFI zboot kernel: not supported/);
    refused(['--load-address', '0x40000000', HELLO, '-append', 'x'], /--load-address runs a raw binary alone: -append/);
  });

  it('an ELF kernel with -initrd: QEMU loads no initrd for it, and hypstep says so', () => {
    const r = hypstep(['-kernel', HELLO, '-initrd', IMAGE]);
    expect(r.stderr).toBe('hypstep: -initrd is not loaded for an ELF kernel (QEMU loads one only for a Linux Image)\n');
    expect(r.status).toBe(0);
  });

  it('-no-reboot: a PSCI SYSTEM_RESET ends the run with status 0', () => {
    // Prints 'R' and resets the board.
    const reset = file(
      'reset.elf',
      assembleElf(
        program(`
      mov x1, #0x09000000
      mov w2, #'R'
      strb w2, [x1]
      movz x0, #0x0009
      movk x0, #0x8400, lsl #16
      smc #0
    `),
      ),
    );
    expect(hypstep(['-no-reboot', reset])).toEqual({ status: 0, stdout: 'R', stderr: '' });
  });

  it('--dump-dtb and -M dumpdtb= write the same tree and run nothing', () => {
    const a = join(dir, 'a.dtb'),
      b = join(dir, 'b.dtb');
    const ra = hypstep(['-kernel', IMAGE, '--dump-dtb', a, '-append', 'quiet']);
    const rb = hypstep(['-M', `virt,virtualization=on,dumpdtb=${b}`, '-kernel', IMAGE, '-append', 'quiet']);
    expect([ra.status, ra.stdout, rb.status, rb.stdout]).toEqual([0, '', 0, '']);
    expect(spawnSync('cmp', [a, b]).status).toBe(0);
  });

  it('-gdb tcp::PORT serves gdb on loopback, as --gdb PORT does', async () => {
    const port = 20000 + (process.pid % 20000);
    const child = spawn('node', [CLI, 'run', '-S', '-gdb', `tcp::${port}`, '-kernel', HELLO], { stdio: 'pipe' });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    try {
      await new Promise<void>((res, rej) => {
        const t = setTimeout(() => rej(new Error(`no listening line: ${err}`)), 15_000);
        child.stderr.on('data', () => {
          if (err.includes(`127.0.0.1:${port}`)) {
            clearTimeout(t);
            res();
          }
        });
      });
    } finally {
      child.kill();
    }
  });
});
