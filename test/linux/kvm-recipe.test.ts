// fixtures/sessions/kvm-first-entry.gdb, run the way its header says: hypstep boots the Linux
// fixture held at reset with `--vcpu-layout linux`, `hypstep symbols` writes the kernel's kallsyms
// as an ELF, and gdb-multiarch (with that ELF added) runs the script: the first entry of
// kvm-hello's guest, the residency of SCTLR_EL1, TTBR0_EL1, VBAR_EL1, q0 and ICH_VMCR_EL2 there
// and at the next exit, then the run to the power-off.
import { beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../helpers/tools.js';
import { gdbBatch, spawnStub } from '../helpers/stub.js';
import { kvmBootArgs } from '../helpers/kvm.js';
import { debianKernel } from '../helpers/linux.js';

const ROOT = repoRoot();
const CLI = join(ROOT, 'dist/src/cli/main.js');
const BOOT_MS = 40 * 60_000;

let out = '';
let status: number | null = null;
let hypstepOut = '';

beforeAll(async () => {
  const syms = join(mkdtempSync(join(tmpdir(), 'hypstep-recipe-')), 'syms.elf');
  const s = spawnSync('node', [CLI, 'symbols', debianKernel(), '-o', syms], { encoding: 'utf8', timeout: 120_000 });
  expect(s.status, s.stderr).toBe(0);
  const hyp = await spawnStub(['run', '-S', '--gdb', '127.0.0.1:0', ...kvmBootArgs('vhe'), '--vcpu-layout', 'linux']);
  try {
    const args = ['-ex', `target remote 127.0.0.1:${hyp.port}`, '-ex', `add-symbol-file ${syms}`];
    out = (await gdbBatch([...args, '-x', 'fixtures/sessions/kvm-first-entry.gdb'], BOOT_MS)).stdout;
    // The script ends at the power-off; hypstep ends with it.
    status = await Promise.race([hyp.exited, new Promise<null>((r) => setTimeout(() => r(null), 60_000))]);
  } finally {
    await hyp.close();
    hypstepOut = hyp.stdout() + hyp.stderr();
  }
}, BOOT_MS + 60_000);

/** The residency table's row for a register, in the part of the output after `marker`. */
function rowAfter(marker: string, reg: string): string[] {
  const from = out.indexOf(marker);
  expect(from, out).toBeGreaterThanOrEqual(0);
  const line = out
    .slice(from)
    .split('\n')
    .find((l) => l.startsWith(`${reg} `));
  expect(line, `${reg} after ${marker}:\n${out}`).toBeDefined();
  return line!.split(/\s{2,}/);
}

describe('fixtures/sessions/kvm-first-entry.gdb', () => {
  it("stops at kvm-hello's guest's first entry, at EL1, with vcpu0 loaded and running", () => {
    expect(out).toMatch(/\[hypstep\] PE\d: guest entry #1 vmid 1 \(vcpu0\)/);
    expect(out).toMatch(/RECIPE first guest entry, pc 0x10000, EL1/);
    expect(out).toMatch(/^vcpu0 +0xffff[0-9a-f]+ +vm0 \(0xffff[0-9a-f]+\) +0 +1 +PE\d \(running\) +.*SYSREGS_ON_CPU/m);
  });

  it('prints the five registers there: the EL1 ones and ICH_VMCR_EL2 on the CPU, q0 in memory (FP not yet used)', () => {
    for (const reg of ['SCTLR_EL1', 'TTBR0_EL1', 'VBAR_EL1']) {
      const [, , , live, by] = rowAfter('RECIPE first guest entry', reg);
      expect([live, by], reg).toEqual(['CPU', 'SYSREGS_ON_CPU']);
    }
    expect(rowAfter('RECIPE first guest entry', 'V0').slice(3, 5)).toEqual(['memory', 'FP_GUEST_OWNED']);
    // kvm-hello makes an in-kernel vGIC: vgic_v3_load restored VMCR at the vcpu's load.
    expect(rowAfter('RECIPE first guest entry', 'ICH_VMCR_EL2').slice(3, 5)).toEqual(['CPU', 'VGIC_LOADED']);
  });

  it('steps out to the next exit, at EL2, named by the kernel symbols gdb was given; the registers are still loaded', () => {
    expect(out).toMatch(/\[hypstep\] PE\d: guest exit #1 vmid 1 \(vcpu0\): instruction abort at IPA 0x10000/);
    expect(out).toMatch(/RECIPE next exit, pc 0x[0-9a-f]+, EL2/);
    expect(out).toMatch(/^\S*vector\S* \+ \d+ in section \.text/m);
    for (const reg of ['SCTLR_EL1', 'TTBR0_EL1', 'VBAR_EL1'])
      expect(rowAfter('RECIPE next exit', reg).slice(3, 5), reg).toEqual(['CPU', 'SYSREGS_ON_CPU']);
    expect(rowAfter('RECIPE next exit', 'V0').slice(3, 5)).toEqual(['memory', 'FP_GUEST_OWNED']);
    expect(rowAfter('RECIPE next exit', 'ICH_VMCR_EL2').slice(3, 5)).toEqual(['CPU', 'VGIC_LOADED']);
  });

  it('continues to the end: kvm-hello finishes, the machine powers off, gdb sees the exit and hypstep ends with 0', () => {
    expect(hypstepOut).toContain('kvm-hello: done');
    expect(hypstepOut).toContain('reboot: Power down');
    expect(out).toMatch(/\[Inferior 1 \(Remote target\) exited normally\]/);
    expect(status).toBe(0);
  });
});
