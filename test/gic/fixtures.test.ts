// fixtures/gic on QEMU (virt with gic-version=3; -icount shift=4,sleep=off where timing
// matters, so its counter ticks once per instruction as hypstep's does) and on hypstep: the
// same transcript, ending in PASS. The builds are reproducible.
import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { QEMU_GIC_BOARD, QEMU_ICOUNT, runQemu } from '../helpers/qemu.js';
import { runHypstep } from '../helpers/hypstep.js';
import { repoRoot, requireTool } from '../helpers/tools.js';

const FIXTURES = join(repoRoot(), 'fixtures');
const elf = (name: string) => join(FIXTURES, 'gic', 'build', `${name}.elf`);

/** Each fixture, the PEs it needs, and whether its transcript depends on time. */
const PROGRAMS: readonly { name: string; smp: number; timed: boolean }[] = [
  { name: 'sgi', smp: 4, timed: false },
  { name: 'vtimer', smp: 1, timed: true },
  { name: 'hyptimer', smp: 1, timed: true },
  { name: 'priority', smp: 1, timed: false },
  { name: 'vgic', smp: 1, timed: false },
  { name: 'vwfi', smp: 1, timed: true },
  { name: 'idle', smp: 1, timed: true },
  { name: 'idle-busy', smp: 1, timed: true },
];

describe('fixtures/gic: the same transcript on QEMU (gic-version=3) and on hypstep', () => {
  for (const { name, smp, timed } of PROGRAMS) {
    it(name, () => {
      const extra = [...(smp > 1 ? ['-smp', String(smp)] : []), ...(timed ? QEMU_ICOUNT : [])];
      const q = runQemu(elf(name), 30_000, extra, QEMU_GIC_BOARD);
      expect(q.status).toBe(0);
      const h = runHypstep(elf(name), 50_000_000, { smp });
      expect(h.stop).toBe('exit');
      expect(h.stdout).toBe(q.stdout);
      expect(h.stdout).toMatch(/(PASS|ticks counted 0000000000000064)\n$/);
    });
  }

  it('say what they test (as QEMU printed them)', () => {
    const sgi = runHypstep(elf('sgi'), 50_000_000, { smp: 4 }).stdout;
    expect(sgi).toContain('PE, INTID, times 0000000300050001\n'); // PE 3 took the IRM SGI 5 once
    const vtimer = runHypstep(elf('vtimer')).stdout;
    expect(vtimer).toContain('guest: virtual timer ticks 0000000000000008\n');
    expect(vtimer).toContain('guest: ICC_IAR1_EL1 gave INTID 000000000000001b\n');
    const prio = runHypstep(elf('priority')).stdout;
    expect(prio).toContain('  ICC_IAR1_EL1 00000000000003ff\n');
    expect(prio).toContain('  GICR_ISACTIVER0 after EOIR 0000000000000040\n');
    const vgic = runHypstep(elf('vgic')).stdout;
    expect(vgic).toContain('guest: ICV_IAR1_EL1 000000000000002a\n');
    expect(vgic).toContain('host: IRQ exit, ICC_IAR1_EL1 0000000000000019\n'); // the maintenance interrupt
    expect(vgic).toContain('host: ICH_MISR_EL2 0000000000000001\n'); // EOI
    const vwfi = runHypstep(elf('vwfi')).stdout;
    expect(vwfi).toContain('guest: WFI returned, ISR_EL1 0000000000000080\n');
  });

  it('rebuild byte for byte from a copy of the sources at another absolute path', async () => {
    requireTool('make');
    const copy = mkdtempSync(join(tmpdir(), 'hypstep-gic-fixtures-'));
    try {
      for (const f of ['common.mk', 'programs.mk', 'include', 'smp'])
        cpSync(join(FIXTURES, f), join(copy, f), { recursive: true, filter: (src) => !src.includes('/build') });
      cpSync(join(FIXTURES, 'gic'), join(copy, 'gic'), { recursive: true, filter: (src) => !src.includes('/build') });
      await promisify(execFile)('make', ['-C', join(copy, 'gic')]);
      const built = readdirSync(join(FIXTURES, 'gic', 'build'));
      expect(built).toEqual(expect.arrayContaining([...PROGRAMS.map((p) => `${p.name}.elf`), 'vgicdefer-stale.elf']));
      for (const f of built) {
        const same = readFileSync(join(copy, 'gic', 'build', f)).equals(
          readFileSync(join(FIXTURES, 'gic', 'build', f)),
        );
        expect(same, f).toBe(true);
      }
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  });
});
