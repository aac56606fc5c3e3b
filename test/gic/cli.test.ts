// The GIC through `hypstep run`: an interrupt-driven console on stdin; in the world layer an
// IRQ exit names its INTID and device, a layout names ICH_* registers as deferred state, and
// the residency checker catches the deferral fixture's stale read of ICH_VMCR_EL2; gdb-multiarch
// end to end (monitor gic, monitor timer, $ich_vtr_el2, monitor catch exit on an IRQ exit).
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { QEMU_GIC_BOARD, runQemu } from '../helpers/qemu.js';
import { repoRoot, requireTool } from '../helpers/tools.js';
import { run } from '../helpers/run.js';
import { gdbBatch, spawnStub } from '../helpers/stub.js';

const ROOT = repoRoot();
const CLI = join(ROOT, 'dist', 'src', 'cli', 'main.js');
const GIC = join(ROOT, 'fixtures', 'gic');
const elf = (name: string) => join(GIC, 'build', `${name}.elf`);
const LAYOUT = join(GIC, 'vgicdefer-layout.json');

function hypstep(args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd: ROOT, encoding: 'latin1', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('the PL011 interrupt', () => {
  it('an interrupt-driven console echoes stdin as QEMU does, and a PE waiting in WFI for input waits', async () => {
    requireTool('qemu-system-aarch64');
    const input = 'hello gic\nsecond line\nq';
    const q = await run(
      'qemu-system-aarch64',
      [...QEMU_GIC_BOARD, '-m', '512M', '-semihosting', '-serial', 'stdio', '-kernel', elf('console')],
      { input, timeoutMs: 90_000 },
    );
    const h = spawnSync(process.execPath, [CLI, 'run', elf('console')], { input, encoding: 'latin1', timeout: 60_000 });
    expect(h.stdout).toBe(q.stdout);
    expect(h.stdout).toContain('HELLO GIC\nSECOND LINE\n');
    expect(h.status).toBe(0);
    // Input that comes later: the machine is idle meanwhile, and waits for it rather than stopping.
    const late = await run('sh', [
      '-c',
      `(sleep 1; printf 'late\\n'; sleep 1; printf q) | "${process.execPath}" "${CLI}" run "${elf('console')}"`,
    ]);
    expect(late.stdout).toContain('LATE\nconsole: lines echoed 0000000000000001\n');
    // Without input to come, the same wait is the idle stop.
    const none = hypstep(['run', elf('console')]);
    expect(none.status).toBe(5);
    expect(none.stderr).toMatch(/every PE is asleep .*PE0 in WFI/);
  }, 120_000);
});

describe('the world layer', () => {
  it('an IRQ exit names the interrupt that caused it: INTID and device', () => {
    const vgic = hypstep(['run', '--trace', 'world=exit', elf('vgic')]);
    expect(vgic.status).toBe(0);
    const irqs = vgic.stderr.split('\n').filter((l) => / IRQ /.test(l));
    expect(irqs).toHaveLength(2);
    for (const l of irqs) expect(l).toMatch(/exit #\d+ vmid 1: IRQ \(INTID 25, GIC maintenance\) at 0x/);
    const vwfi = hypstep(['run', '--trace', 'world=exit', elf('vwfi')]);
    expect(vwfi.stderr).toMatch(/exit #1 vmid 1: IRQ \(INTID 27, EL1 virtual timer\) at 0x/);
  });

  it('the deferral fixture prints the same on QEMU, and the checker is silent on it', () => {
    const q = runQemu(elf('vgicdefer'), 30_000, [], QEMU_GIC_BOARD);
    const h = hypstep(['run', '--vcpu-layout', LAYOUT, '--check-residency', '--fail-on-hazard', elf('vgicdefer')]);
    expect(h.stdout).toBe(q.stdout);
    expect(h.stdout.endsWith('PASS\n')).toBe(true);
    expect(h.status).toBe(0);
    expect(h.stderr).toContain('residency checker: 0 hazards');
  });

  it('the bug build reads a stale ICH_VMCR_EL2 from memory while loaded: FAIL on QEMU, and the checker names the line', () => {
    const q = runQemu(elf('vgicdefer-stale'), 30_000, [], QEMU_GIC_BOARD);
    const h = hypstep([
      'run',
      '--vcpu-layout',
      LAYOUT,
      '--check-residency',
      '--fail-on-hazard',
      elf('vgicdefer-stale'),
    ]);
    expect(h.stdout).toBe(q.stdout);
    expect(h.stdout).toContain('guest: the host says my priority mask is 0000000000000000\n');
    expect(h.stdout.endsWith('FAIL\n')).toBe(true);
    expect(h.status).toBe(6);
    expect(h.stderr).toMatch(
      /residency hazard: stale-read of ICH_VMCR_EL2 \(vcpu0\) at host_hvc\+\d+ \(vgicdefer\.S:\d+\): .*memory holds 0x4c0008, the CPU 0xf84c000a/,
    );
    expect(h.stderr).toContain('1 hazard, 1 distinct');
  });
});

describe('gdb-multiarch', () => {
  it('monitor catch exit stops at the IRQ exit with its INTID; monitor gic, monitor timer, p/x $ich_vtr_el2', async () => {
    const hyp = await spawnStub(['run', '-S', '--gdb', '127.0.0.1:0', elf('vwfi')]);
    try {
      const cmds = [
        `target remote 127.0.0.1:${hyp.port}`,
        'p/x $ich_vtr_el2',
        'monitor catch exit',
        'continue',
        'monitor gic',
        'monitor timer',
        'p/x $ich_lr0_el2',
        'tbreak host_injected',
        'continue',
        'monitor gic',
        'kill',
      ];
      const out = (await gdbBatch([...cmds.flatMap((c) => ['-ex', c]), elf('vwfi')])).stdout;
      expect(out).toContain('$1 = 0x90b80003');
      expect(out).toMatch(/\[hypstep\] PE0: guest exit #1 vmid 1: IRQ \(INTID 27, EL1 virtual timer\) at 0x/);
      // At the exit the timer's PPI is pending at the physical interface and signalled.
      expect(out).toMatch(/^27 +EL1 virtual timer +1 +0x80 +level +enabled pending$/m);
      expect(out).toContain('signalled now: INTID 27 (EL1 virtual timer) as IRQ');
      expect(out).toMatch(
        /^EL1 virtual timer \(CNTV\) +guest +0x5 ENABLE\|ISTATUS +0x[0-9a-f]+ +0x[0-9a-f]+ +due +27 asserted$/m,
      );
      expect(out).toMatch(/^EL2 physical timer \(CNTHP\) +host +0x0 +0x0 /m);
      // The host's handler then acknowledges 27 and injects it as a HW list register.
      expect(out).toMatch(/^0 +27 +pending +0xa0 +1 +HW 27 +0x[0-9a-f]+$/m);
    } finally {
      await hyp.close();
    }
  }, 120_000);
});
