// The Linux boot of test/linux (Debian's kernel, busybox, kvm-hello; 2 PEs, KVM in VHE mode) from
// reset to power-off, which is kvm-hello's guest's end plus the few lines of /init's poweroff:
// hypstep's wall and CPU time beside QEMU 7.2's on the same kernel, initramfs and command line,
// and the rate at which each runs kernel code.
//
// hypstep runs in this process (its retired-instruction count is read off the machine; Node's
// start-up, about 0.1 s, is left out); QEMU runs as a process under GNU time. QEMU's own
// instruction count is not observable here: Debian's QEMU 7.2 ships no TCG plugins (libinsn),
// and -icount would change how it runs. So both MIPS figures divide hypstep's count for the boot
// by each engine's CPU time: the same work, assuming QEMU retires about as many instructions (the
// kernel's idle loop is the difference: a PE in WFI retires nothing on either).
import { performance } from 'node:perf_hooks';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Machine } from '../../src/board/machine.js';
import { prepareBoot } from '../../src/loader/boot.js';
import { LINUX_BOOT, linuxFixture, untimed } from '../helpers/linux.js';
import { GNU_TIME, workDir } from './measure.js';
import type { BenchRow } from './bench.js';

const END = 'kvm-hello: done';
/** Quick mode: the boot's first instructions only (the rows print; their figures mean nothing). */
const QUICK_INSNS = 20_000_000;

export interface Boot<T> {
  wall: number;
  cpu: number;
  icount: number;
  /** What `watch` attached to the machine. */
  watcher: T;
}

/**
 * hypstep's boot of the fixture in this process, from reset to power-off (quick: its first
 * instructions). `watch` attaches to the machine once the clocks start (what it costs is timed).
 */
export function hypstepBoot<T = null>(quick: boolean, watch?: (m: Machine, kernel: string) => T): Boot<T> {
  const f = linuxFixture();
  const args = LINUX_BOOT(f);
  const file = (path: string) => ({ path, bytes: new Uint8Array(readFileSync(path)) });
  const boot = prepareBoot({
    kernel: file(f.kernel),
    initrd: file(f.initrd),
    append: args[args.indexOf('-append') + 1]!,
    ramSize: 1 << 30,
    smp: 2,
  });
  let uart = '';
  const m = new Machine({
    memory: 1 << 30,
    smp: 2,
    noReboot: true,
    uartOut: (b) => (uart += Buffer.from(b).toString('latin1')),
    consoleOut: () => {},
  });
  m.load(boot.image);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const watcher = (watch ? watch(m, f.kernel) : null) as T;
  for (;;) {
    const r = m.run(quick ? QUICK_INSNS - m.icount : 100_000_000);
    if (r.kind === 'exit' || (quick && m.icount >= QUICK_INSNS)) break;
    if (r.kind === 'unimplemented' || r.kind === 'stuck' || r.kind === 'idle')
      throw new Error(`hypstep's Linux boot stopped after ${m.icount} instructions: ${r.message}`);
  }
  const wall = (performance.now() - t0) / 1000;
  const used = process.cpuUsage(cpu0);
  if (!quick && !untimed(uart).includes(END)) throw new Error(`hypstep's Linux boot ended before '${END}'`);
  return { wall, cpu: (used.user + used.system) / 1e6, icount: m.icount, watcher };
}

function qemuBoot(): { wall: number; cpu: number } {
  const out = join(workDir, 'linux-time.txt');
  const r = spawnSync(
    GNU_TIME,
    [
      '-f',
      '%e %U %S',
      '-o',
      out,
      'qemu-system-aarch64',
      ...LINUX_BOOT(linuxFixture()),
      '-nic',
      'none',
      '-monitor',
      'none',
      '-serial',
      'stdio',
    ],
    { encoding: 'latin1', timeout: 900_000, maxBuffer: 1 << 26 },
  );
  if (r.status !== 0 || !untimed(r.stdout).includes(END))
    throw new Error(`QEMU's Linux boot failed (status ${r.status}): ${r.stderr.slice(-300)}`);
  const f = readFileSync(out, 'latin1').trim().split('\n').pop()!.split(' ').map(Number);
  return { wall: f[0]!, cpu: f[1]! + f[2]! };
}

export function benchLinux(quick: boolean): BenchRow[] {
  const hyp = hypstepBoot(quick);
  // Quick mode boots QEMU not at all: the row only has to print.
  const qemu = quick ? null : qemuBoot();
  const name = "Linux boot to the KVM guest's end and power-off (Debian 6.1, 2 PEs, VHE)";
  return [
    { name: `${name}, wall`, hypstep: hyp.wall, qemu: qemu?.wall ?? null, unit: 's' },
    { name: `${name}, CPU`, hypstep: hyp.cpu, qemu: qemu?.cpu ?? null, unit: 's' },
    {
      name: "… Linux kernel code, hypstep's retired instructions per CPU second (QEMU: the same count)",
      hypstep: hyp.icount / hyp.cpu / 1e6,
      qemu: qemu ? hyp.icount / qemu.cpu / 1e6 : null,
      unit: 'MIPS',
    },
    {
      name: '… instructions hypstep retires in the boot',
      hypstep: hyp.icount,
      qemu: null,
      unit: 'insns',
      group: 'detail',
    },
  ];
}
