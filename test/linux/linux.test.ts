// Debian's arm64 cloud kernel with a busybox initramfs and kvm-hello (fixtures/linux), booted to
// the end on hypstep and on QEMU 7.2 with the same command line and the same device tree, three
// ways: hypstep's own tree with KVM in VHE mode (under gdb-multiarch, stopping at the KVM guest's
// exits), the same with kvm-arm.mode=nvhe, and QEMU's own dumped tree as -dtb. Each boot runs once
// and every assertion about it shares it; boots never overlap.
import { describe, it, expect, beforeAll } from 'vitest';
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot, requireTool } from '../helpers/tools.js';
import { rebuildDiffers } from '../helpers/rebuild.js';
import { freePort } from '../gdb/harness.js';
import { gdbBatch } from '../helpers/stub.js';
import { LINUX_BOOT, linuxFixture, untimed, type LinuxFixture } from '../helpers/linux.js';

const ROOT = repoRoot();
const CLI = join(ROOT, 'dist/src/cli/main.js');
/** A bound only a hang reaches: the boot retires about 1.5 G instructions. */
const MAX_INSNS = ['--max-insns', '6000000000'];
const HYP_TIMEOUT = 1_800_000;

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
const qemuBoot = (args: string[]): Promise<Run> =>
  run('qemu-system-aarch64', [...args, '-nic', 'none', '-monitor', 'none', '-serial', 'stdio'], 900_000);
const hypstepBoot = (args: string[]): Promise<Run> => run('node', [CLI, 'run', ...args, ...MAX_INSNS], HYP_TIMEOUT);

/**
 * Lines that differ between the two machines for what each CPU is or for when something ran, not
 * for how the boot went; every other line must be the same, in the same order. "CPU features:
 * detected" lines are not here: they are compared on their own (FEATURES_NOT_ON_HYPSTEP).
 */
const NOT_COMPARED: readonly [RegExp, string][] = [
  [/^Booting Linux on physical CPU 0x0+ \[0x[0-9a-f]+\]$/, "MIDR_EL1: QEMU max's 0x000f0510, hypstep's 0x000f0000"],
  [/^CPU1: Booted secondary processor 0x0+1 \[0x[0-9a-f]+\]$/, 'the same MIDR_EL1, of the second PE'],
  [/^random: crng init done$/, "QEMU max's FEAT_RNG (RNDR) seeds the kernel's random pool at once"],
  [/^KASLR (enabled|disabled due to lack of seed)$/, "FEAT_RNG again: the kernel's KASLR seed comes from RNDR"],
  [/^SVE: /, "QEMU max's SVE vector lengths (hypstep has no SVE)"],
  [
    /^(Registered setend emulation handler|setend instruction emulation is not supported on this system)$/,
    'ID_AA64MMFR0_EL1.BigEndEL0: QEMU max has mixed-endian EL0, hypstep is little-endian only',
  ],
  [/^hw-breakpoint: found \d+ breakpoint and \d+ watchpoint registers\.$/, 'ID_AA64DFR0_EL1.BRPs/WRPs'],
  [/^(armv8-pmu pmu: )?hw perfevents: /, "QEMU max's PMUv3 (hypstep has none: with QEMU's tree its probe fails)"],
  [/^ITS: No ITS available, not enabling LPIs$/, "GICD_TYPER.LPIS: QEMU's GICv3 has LPIs, hypstep's has none"],
  [
    /^Memory: \d+K\/\d+K available .* \d+K reserved/,
    'the reserved count includes per-CPU data sized by the CPU features (32 KiB more on QEMU max) and the DTB',
  ],
  [/^NUMA: NODE_DATA \[mem /, 'placed below the per-CPU data above'],
  [/^node 0 deferred pages initialised in \d+ms$/, 'a timing'],
  [/^audit: type=2000 audit\(\d+\.\d+:1\)/, 'a timestamp'],
  [/^hrtimer: interrupt took \d+ ns$/, "a timing (QEMU's clock is the host's: a late timer under load)"],
  [
    /^(Trying to unpack rootfs image as initramfs\.\.\.|Freeing initrd memory: \d+K)$/,
    'the initramfs is unpacked asynchronously: where these lines fall depends on timing (both must print them)',
  ],
];
const comparable = (lines: string[], more: readonly RegExp[] = []): string[] =>
  lines.filter(
    (l) =>
      !l.startsWith('CPU features: detected: ') &&
      !NOT_COMPARED.some(([re]) => re.test(l)) &&
      !more.some((re) => re.test(l)),
  );

/**
 * With QEMU's tree, the lines of the devices hypstep answers as absent (src/board/absent.ts): the
 * PL061 and PL031 read as zero, so no PrimeCell ID and no driver; the ECAM has no function where
 * QEMU has its host bridge (00:00.0). QEMU prints them, hypstep must not.
 */
const ABSENT_DEVICES: readonly RegExp[] = [
  /^pl061_gpio 9030000\.pl061: /,
  /^rtc-pl031 9010000\.pl031: /,
  /^pci 0000:00:00\.0: \[1b36:0008\]/,
];

/**
 * The CPU features QEMU 7.2's max detects that hypstep does not implement, with the ID register
 * field that says so. Everything else of the alternatives must be detected on both, LSE atomics
 * and CRC32 in particular (issue 18).
 */
const FEATURES_NOT_ON_HYPSTEP: Readonly<Record<string, string>> = {
  'Address authentication (architected QARMA5 algorithm)': 'FEAT_PAuth: ID_AA64ISAR1_EL1.APA = 0',
  'Generic authentication (architected QARMA5 algorithm)': 'FEAT_PAuth: ID_AA64ISAR1_EL1.GPA = 0',
  'Hardware dirty bit management': 'FEAT_HAFDBS: ID_AA64MMFR1_EL1.HAFDBS = 0',
  'Branch Target Identification': 'FEAT_BTI: ID_AA64PFR1_EL1.BT = 0',
  'ARMv8.4 Translation Table Level': 'FEAT_TTL: ID_AA64MMFR2_EL1.TTL = 0',
  'Data cache clean to the PoU not required for I/D coherence': 'CTR_EL0.IDC = 0',
  'Common not Private translations': 'FEAT_TTCNP: ID_AA64MMFR2_EL1.CnP = 0',
  'Data cache clean to Point of Deep Persistence': 'FEAT_DPB2: ID_AA64ISAR1_EL1.DPB = 1',
  E0PD: 'FEAT_E0PD: ID_AA64MMFR2_EL1.E0PD = 0',
  'RCpc load-acquire (LDAPR)': 'FEAT_LRCPC: ID_AA64ISAR1_EL1.LRCPC = 0',
  'RAS Extension Support': 'FEAT_RAS: ID_AA64PFR0_EL1.RAS = 0',
  'Random Number Generator': 'FEAT_RNG: ID_AA64ISAR0_EL1.RNDR = 0',
  'Speculation barrier (SB)': 'FEAT_SB: ID_AA64ISAR1_EL1.SB = 0',
  'Stage-2 Force Write-Back': 'FEAT_S2FWB: ID_AA64MMFR2_EL1.FWB = 0',
  'TLB range maintenance instructions': 'FEAT_TLBIRANGE: ID_AA64ISAR0_EL1.TLB = 0',
  'Speculative Store Bypassing Safe (SSBS)': 'FEAT_SSBS: ID_AA64PFR1_EL1.SSBS = 0',
  'Scalable Vector Extension': 'FEAT_SVE: ID_AA64PFR0_EL1.SVE = 0',
};
const features = (out: string): string[] =>
  untimed(out)
    .filter((l) => l.startsWith('CPU features: detected: '))
    .map((l) => l.slice('CPU features: detected: '.length));

/** What /init and kvm-hello print when the guest has run (the same on every boot). */
const KVM_HELLO = [
  'hypstep-init: proc, sysfs and devtmpfs mounted, 2 CPUs online',
  'hypstep-init: /dev/kvm is there',
  'kvm-hello: KVM API version 0xc',
  'kvm-hello: guest MMIO write at 0x1000: 0x48',
  'kvm-hello: guest MMIO read at 0x1004: answering 0x2a',
  'kvm-hello: guest MMIO write at 0x1008: 0x2a',
  'kvm-hello: guest MMIO write at 0x100c: 0x10001', // PSCI 1.1, from KVM's HVC handler
  'kvm-hello: guest MMIO write at 0x1010: 0x5', // CNTV_CTL_EL0 after the WFI: ENABLE, ISTATUS
  'kvm-hello: guest system event 0x1 (1: shutdown) after 0x6 exits to user space',
  'kvm-hello: done',
  'hypstep-init: kvm-hello exited with status 0',
  'reboot: Power down',
];

/** Both transcripts boot to the end, and match line for line apart from NOT_COMPARED (and `more`). */
function sameBoot(hyp: Run, qemu: Run, kvmLine: string, more: readonly RegExp[] = []): void {
  expect(qemu.status, qemu.stderr).toBe(0);
  expect(hyp.stderr).not.toMatch(/\n\s+at .*\.js:\d+/);
  expect(hyp.status, hyp.stderr).toBe(0);
  for (const out of [qemu.stdout, hyp.stdout]) {
    const lines = untimed(out);
    for (const want of [kvmLine, ...KVM_HELLO]) expect(lines, want).toContain(want);
    expect(lines.filter((l) => /^(Trying to unpack rootfs|Freeing initrd memory)/.test(l))).toHaveLength(2);
  }
  expect(comparable(untimed(hyp.stdout), more)).toEqual(comparable(untimed(qemu.stdout), more));
}

let fixture: LinuxFixture;
let dir: string;
beforeAll(() => {
  fixture = linuxFixture();
  requireTool('qemu-system-aarch64');
  requireTool('dtc');
  requireTool('gdb-multiarch');
  dir = mkdtempSync(join(tmpdir(), 'hypstep-linux-'));
}, 60_000);

/**
 * QEMU boots the tree hypstep generates (written by --dump-dtb and packed by dtc: QEMU's -dtb grows a
 * tree to (size + 10000) × 2 bytes, and a 1 MiB one then exceeds the kernel's 2 MiB limit).
 */
async function hypstepTree(append = ''): Promise<string> {
  const file = join(dir, 'hypstep.dtb'),
    packed = join(dir, 'hypstep-packed.dtb');
  const d = await run('node', [CLI, 'run', ...LINUX_BOOT(fixture, append), '--dump-dtb', file], 60_000);
  expect(d.status, d.stderr).toBe(0);
  const p = await run('dtc', ['-q', '-I', 'dtb', '-O', 'dtb', '-o', packed, file], 60_000);
  expect(p.status, p.stderr).toBe(0);
  return packed;
}

describe('KVM in VHE mode, on the tree hypstep generates, with gdb-multiarch attached', () => {
  let qemu: Run, hyp: Run, gdb: Run;
  beforeAll(async () => {
    qemu = await qemuBoot([...LINUX_BOOT(fixture), '-dtb', await hypstepTree()]);
    // Kept beside the fixture: the reference transcript, for the README and by hand.
    writeFileSync(join(fixture.dir, 'qemu-boot.txt'), qemu.stdout);
    const port = await freePort();
    const h = spawn('node', [CLI, 'run', '-S', '--gdb', `127.0.0.1:${port}`, ...LINUX_BOOT(fixture), ...MAX_INSNS], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '',
      stderr = '';
    h.stdout.setEncoding('latin1').on('data', (d: string) => (stdout += d));
    h.stderr.setEncoding('latin1').on('data', (d: string) => (stderr += d));
    const ended = new Promise<number | null>((res) => h.on('exit', (code) => res(code)));
    const killer = setTimeout(() => h.kill('SIGKILL'), HYP_TIMEOUT);
    gdb = await gdbBatch(
      ['-ex', `target remote 127.0.0.1:${port}`, '-x', join(ROOT, 'fixtures/linux/kvm-exits.gdb')],
      HYP_TIMEOUT,
    );
    const status = await ended;
    clearTimeout(killer);
    hyp = { status, stdout, stderr };
  }, 2 * HYP_TIMEOUT);

  it("boots to busybox with 2 PEs at EL2, KVM in VHE mode, kvm-hello's guest runs, powers off; QEMU the same", () => {
    sameBoot(hyp, qemu, 'kvm [1]: VHE mode initialized successfully');
  });

  it('detects the same CPU features as QEMU, LSE atomics and CRC32 among them, apart from those listed', () => {
    const ours = features(hyp.stdout),
      theirs = features(qemu.stdout);
    for (const f of ['LSE atomic instructions', 'CRC32 instructions', 'Virtualization Host Extensions']) {
      expect(ours, f).toContain(f);
      expect(theirs, f).toContain(f);
    }
    expect(ours).toEqual(theirs.filter((f) => !(f in FEATURES_NOT_ON_HYPSTEP)));
    // The list says only what QEMU does detect.
    for (const f of Object.keys(FEATURES_NOT_ON_HYPSTEP)) expect(theirs, f).toContain(f);
  });

  it("takes QEMU max's mitigation path: the same Spectre lines, no KPTI", () => {
    const mitigations = (out: string) => features(out).filter((f) => /^(Spectre|Kernel page table isolation)/.test(f));
    expect(mitigations(hyp.stdout)).toEqual(['Spectre-v4', 'Spectre-BHB']);
    expect(mitigations(qemu.stdout)).toEqual(['Spectre-v4', 'Spectre-BHB']);
  });

  it('monitor catch exit stops at each exit of the KVM guest, decoded: MMIO data aborts with their IPA, HVC, WFI', () => {
    expect(gdb.status, gdb.stdout + gdb.stderr).toBe(0);
    const out = gdb.stdout + gdb.stderr;
    const exits = [...out.matchAll(/\[hypstep\] PE(\d): guest exit #(\d+) vmid (\d+)[^:]*: (.*)$/gm)];
    const reasons = exits.map((m) => m[4]!.replace(/ at 0x[0-9a-f]+ \(ESR_EL2 0x[0-9a-f]+\)$/, ''));
    // kvm-hello's guest (fixtures/linux/guest.S), in order; an IRQ exit (the host's timer) may come between any two.
    expect(reasons.filter((r) => !r.startsWith('IRQ'))).toEqual([
      'instruction abort at IPA 0x10000 (translation fault, level 1)', // KVM maps the guest's page at its first fetch
      'data abort at IPA 0x1000 (write, 4 bytes, w0)',
      'data abort at IPA 0x1004 (read, 4 bytes, w2)',
      'data abort at IPA 0x1008 (write, 4 bytes, w2)',
      'HVC #0x0',
      'data abort at IPA 0x100c (write, 4 bytes, w0)',
      'data abort at IPA 0x8000000 (write, 4 bytes, w0)',
      'data abort at IPA 0x80b0100 (write, 4 bytes, w0)',
      'WFI',
      'data abort at IPA 0x1010 (write, 4 bytes, w0)',
      'HVC #0x0',
    ]);
    // One guest, numbered exits, every one stopped at the EL2 vector for a lower EL (sync at +0x400, IRQ at +0x480).
    expect(new Set(exits.map((m) => m[3]))).toEqual(new Set(['1']));
    const stops = [...out.matchAll(/^SESSION stop (\d+): pc (0x[0-9a-f]+) vbar_el2 (0x[0-9a-f]+) /gm)];
    expect(stops).toHaveLength(exits.length);
    for (const [i, s] of stops.entries()) {
      const offset = BigInt(s[2]!) - BigInt(s[3]!);
      expect(offset, `stop ${i + 1}: ${reasons[i]}`).toBe(reasons[i]!.startsWith('IRQ') ? 0x480n : 0x400n);
    }
  });

  it('info threads shows both PEs', () => {
    expect(gdb.stdout).toMatch(/^\*? +1 +Thread 1 \(PE0 EL[0-2] [^)]*\)/m);
    expect(gdb.stdout).toMatch(/^\*? +2 +Thread 2 \(PE1 EL[0-2] [^)]*\)/m);
  });
});

describe('KVM in nVHE mode (kvm-arm.mode=nvhe), on the tree hypstep generates', () => {
  let qemu: Run, hyp: Run;
  beforeAll(async () => {
    const nvhe = 'kvm-arm.mode=nvhe';
    qemu = await qemuBoot([...LINUX_BOOT(fixture, nvhe), '-dtb', await hypstepTree(nvhe)]);
    hyp = await hypstepBoot(LINUX_BOOT(fixture, nvhe));
  }, 2 * HYP_TIMEOUT);

  it('initialises KVM in nVHE mode, runs the same guest and powers off, as QEMU does', () => {
    sameBoot(hyp, qemu, 'kvm [1]: Hyp mode initialized successfully');
    for (const out of [hyp.stdout, qemu.stdout]) {
      expect(untimed(out)).not.toContain('kvm [1]: VHE mode initialized successfully');
      expect(features(out)).not.toContain('Virtualization Host Extensions');
    }
  });
});

describe("QEMU's own device tree (-machine dumpdtb=FILE) as -dtb", () => {
  let qemu: Run, hyp: Run;
  beforeAll(async () => {
    const dumped = join(dir, 'qemu.dtb'),
      packed = join(dir, 'qemu-packed.dtb');
    const boot = LINUX_BOOT(fixture);
    const m = boot.indexOf('-M');
    const dumpArgs = boot.map((a, i) => (i === m + 1 ? `${a},dumpdtb=${dumped}` : a));
    const d = await run('qemu-system-aarch64', [...dumpArgs, '-nic', 'none'], 60_000);
    expect(d.status, d.stderr).toBe(0);
    // QEMU's dump is 1 MiB: grown by -dtb's rule it is past the kernel's 2 MiB limit on both machines.
    expect(readFileSync(dumped).length).toBe(1 << 20);
    const p = await run('dtc', ['-q', '-I', 'dtb', '-O', 'dtb', '-o', packed, dumped], 60_000);
    expect(p.status, p.stderr).toBe(0);
    qemu = await qemuBoot([...boot, '-dtb', packed]);
    hyp = await hypstepBoot([...boot, '-dtb', packed]);
  }, 2 * HYP_TIMEOUT);

  it("boots the same way: QEMU's devices probed, KVM in VHE mode, the guest, power-off", () => {
    sameBoot(hyp, qemu, 'kvm [1]: VHE mode initialized successfully', ABSENT_DEVICES);
    const ours = untimed(hyp.stdout),
      theirs = untimed(qemu.stdout);
    for (const re of ABSENT_DEVICES) {
      expect(
        theirs.some((l) => re.test(l)),
        String(re),
      ).toBe(true);
      expect(ours.filter((l) => re.test(l))).toEqual([]);
    }
    // QEMU's PCIe host bridge node is probed on both (its ECAM answers).
    for (const lines of [ours, theirs])
      expect(lines).toContain(
        'pci-host-generic 4010000000.pcie: ECAM at [mem 0x4010000000-0x401fffffff] for [bus 00-ff]',
      );
  });
});

describe('fixtures/linux', () => {
  it('kvm-hello rebuilds byte for byte from a copy of the sources at another absolute path', async () => {
    expect(await rebuildDiffers('linux')).toEqual([]);
  });
});
