// Debian's arm64 cloud kernel with a busybox initramfs and kvm-hello (fixtures/linux), booted with
// the same command line on QEMU 7.2 (the reference: KVM initialises in VHE mode, kvm-hello's guest
// runs and its MMIO exits are served, the machine powers off) and on hypstep, which today gets as far
// as its missing devices let it: the test requires the transcript to be QEMU's up to there, apart
// from the lines listed below, and the run to end by itself.
import { describe, it, expect, beforeAll } from 'vitest';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot, requireTool } from '../helpers/tools.js';
import { rebuildDiffers } from '../helpers/rebuild.js';
import { LINUX_BOOT, linuxFixture, untimed, type LinuxFixture } from '../helpers/linux.js';

const CLI = join(repoRoot(), 'dist/src/cli/main.js');

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}
/** Runs asynchronously (a long synchronous spawn stalls the test worker under load). */
function run(cmd: string, args: string[], timeout: number): Promise<Run> {
  return new Promise((res) => {
    execFile(cmd, args, { encoding: 'latin1', timeout, maxBuffer: 64 << 20 }, (err, stdout, stderr) =>
      res({ status: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr }),
    );
  });
}

/**
 * Lines that differ between the two machines for what each CPU is, not for how the boot went:
 * the MIDR in the first line (hypstep's 0x000f0000, QEMU max's 0x000f0510); QEMU's FEAT_RNG and
 * its DTB's rng-seed (random: crng init done); "CPU features: detected" lines (QEMU's max has
 * PAuth, SVE, hardware dirty-bit management… that hypstep does not advertise); and the memory the
 * kernel sets aside as it sizes per-CPU and per-node data for those features (NODE_DATA's
 * placement, the reserved count in "Memory:", 32 KiB apart).
 */
const CPU_DEPENDENT = [
  /^Booting Linux on physical CPU 0x0+ \[0x[0-9a-f]+\]$/,
  /^random: crng init done$/,
  /^CPU features: detected: /,
  /^NUMA: NODE_DATA \[mem /,
  /^Memory: \d+K\/\d+K available/,
];
const comparable = (lines: string[]) => lines.filter((l) => !CPU_DEPENDENT.some((re) => re.test(l)));

let fixture: LinuxFixture;
let qemu: Run;
beforeAll(async () => {
  fixture = linuxFixture();
  requireTool('qemu-system-aarch64');
  qemu = await run(
    'qemu-system-aarch64',
    [...LINUX_BOOT(fixture), '-nic', 'none', '-monitor', 'none', '-serial', 'stdio'],
    900_000,
  );
  // Kept beside the fixture: the reference the full boot on hypstep is compared with.
  writeFileSync(join(fixture.dir, 'qemu-boot.txt'), qemu.stdout);
}, 950_000);

describe('Debian Linux with KVM on QEMU (the reference transcript)', () => {
  it('boots to busybox at EL2, initialises KVM in VHE mode, runs kvm-hello and powers off', () => {
    expect(qemu.status, qemu.stderr).toBe(0);
    const lines = untimed(qemu.stdout);
    for (const want of [
      'kvm [1]: VHE mode initialized successfully',
      'hypstep-init: proc, sysfs and devtmpfs mounted, 2 CPUs online',
      'hypstep-init: /dev/kvm is there',
      'kvm-hello: KVM API version 0xc',
      'kvm-hello: guest MMIO write at 0x1000: 0x48',
      'kvm-hello: guest MMIO read at 0x1004: answering 0x2a',
      'kvm-hello: guest MMIO write at 0x1008: 0x2a',
      'kvm-hello: guest MMIO write at 0x100c: 0x10001', // PSCI 1.1, from KVM's HVC handler
      'kvm-hello: guest system event 0x1 (1: shutdown) after 0x5 exits to user space',
      'kvm-hello: done',
      'hypstep-init: kvm-hello exited with status 0',
      'reboot: Power down',
    ])
      expect(lines, want).toContain(want);
  });
});

describe('the same boot on hypstep', () => {
  let hyp: Run;
  beforeAll(async () => {
    // A bound that only a hang would reach: the run ends by itself (a panic resets, -no-reboot ends it).
    hyp = await run('node', [CLI, 'run', ...LINUX_BOOT(fixture), '--max-insns', '3000000000'], 1_800_000);
  }, 1_850_000);

  it('ends by itself with a clear account of where, never a hang or a stack trace', () => {
    expect(hyp.stderr).not.toMatch(/\n\s+at .*\.js:\d+/);
    const lines = untimed(hyp.stdout);
    const poweredOff = lines.includes('reboot: Power down');
    const panic = lines.find((l) => l.startsWith('Kernel panic - not syncing'));
    // Where it stops today, for the record (the README's Booting Linux section keeps the account).
    const pc = lines.find((l) => l.startsWith('pc : '));
    console.log(
      `hypstep Linux boot: ${poweredOff ? 'powered off' : `stopped: ${panic} at ${pc}`}; ${hyp.stderr.trim()}`,
    );
    expect(poweredOff || panic !== undefined).toBe(true);
    expect(hyp.status).toBe(0); // SYSTEM_OFF, or the panic's reset under -no-reboot
  });

  it("prints QEMU's transcript line for line up to where it stops, apart from the CPU-dependent lines", () => {
    const ours = comparable(untimed(hyp.stdout));
    const theirs = comparable(untimed(qemu.stdout));
    let same = 0;
    while (same < ours.length && ours[same] === theirs[same]) same++;
    console.log(`identical to QEMU for ${same} lines; then hypstep: ${ours[same]} / QEMU: ${theirs[same]}`);
    // At least through the boot protocol, the device tree, PSCI, memory, the command line, the
    // CPU features and the mitigations, and the scheduler and RCU set-up before the interrupt controller.
    expect(theirs.slice(0, same)).toContain('Kernel command line: console=ttyAMA0 earlycon panic=-1');
    expect(theirs.slice(0, same)).toContain('psci: PSCIv1.1 detected in firmware.');
    expect(theirs.slice(0, same).some((l) => l.startsWith('NR_IRQS:'))).toBe(true);
  });

  it("takes QEMU max's mitigation path: the same Spectre lines, no KPTI", () => {
    const mitigations = (out: string) =>
      untimed(out).filter((l) => /^CPU features: detected: (Spectre|Kernel page table isolation)/.test(l));
    expect(mitigations(hyp.stdout)).toEqual(mitigations(qemu.stdout));
    expect(mitigations(hyp.stdout)).toEqual([
      'CPU features: detected: Spectre-v4',
      'CPU features: detected: Spectre-BHB',
    ]);
  });
});

describe('fixtures/linux', () => {
  it('kvm-hello rebuilds byte for byte from a copy of the sources at another absolute path', async () => {
    expect(await rebuildDiffers('linux')).toEqual([]);
  });
});
