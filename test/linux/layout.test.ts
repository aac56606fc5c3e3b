// `--vcpu-layout linux`: the layout derived from Debian's kernel, its offsets held against pahole's
// and its indexes against bpftool's enum vcpu_sysreg; the world layer's own loader accepts it; an
// unknown kernel version is refused in one line that says what to do; a layout file overrides it.
import { beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Btf } from '../../src/loader/btf.js';
import { deriveLinuxLayout, kernelVersion } from '../../src/world/linux-layout.js';
import { parseLayout, readLayout } from '../../src/world/layout.js';
import { repoRoot } from '../helpers/tools.js';
import { bpftoolEnum, btfBlob, debianKernel, pahole } from '../helpers/linux.js';

const CLI = join(repoRoot(), 'dist/src/cli/main.js');
const TMP = mkdtempSync(join(tmpdir(), 'hypstep-linux-layout-'));
let kernel: string;
let image: Uint8Array;
let btf: Btf;
let blob: string;

function hypstep(args: string[]) {
  const r = spawnSync('node', [CLI, ...args], { timeout: 120_000, encoding: 'utf8', maxBuffer: 1 << 26 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(() => {
  kernel = debianKernel();
  image = readFileSync(kernel);
  btf = Btf.fromImage(image);
  blob = btfBlob(image);
});

describe("the KVM layout derived from Debian's kernel", () => {
  it('reads the kernel version from its banner', () => {
    const v = kernelVersion(image)!;
    expect(v.version).toBe('6.1');
    expect(v.release).toMatch(/^6\.1\.0-\d+-cloud-arm64$/);
  });

  it('places every slot and flag where pahole and bpftool say (VHE)', () => {
    const layout = parseLayout(JSON.stringify(deriveLinuxLayout(image, btf)));
    const vcpuMembers = pahole(blob, 'kvm_vcpu');
    const arch = vcpuMembers.get('arch')!.offset;
    const a = pahole(blob, 'kvm_vcpu_arch');
    const sysRegs = arch + a.get('ctxt')!.offset + pahole(blob, 'kvm_cpu_context').get('sys_regs')!.offset;
    const index = bpftoolEnum(blob, 'vcpu_sysreg');
    const v3 = pahole(blob, 'vgic_v3_cpu_if');
    const vgic = arch + a.get('vgic_cpu')!.offset + (pahole(blob, 'vgic_cpu').get('vgic_v3')?.offset ?? 0);
    const timerArray = pahole(blob, 'arch_timer_cpu').get('timers')!;
    const timers = arch + a.get('timer_cpu')!.offset + timerArray.offset;
    const ctx = pahole(blob, 'arch_timer_context');
    const timerIndex = bpftoolEnum(blob, 'kvm_arch_timers');
    const ctxSize = timerArray.size / Number(timerIndex.get('NR_KVM_TIMERS'));

    const at = (name: string) => {
      const s = layout.slots.find((x) => x.name === name);
      if (!s) throw new Error(`no slot ${name}`);
      return s;
    };
    const el1 = [
      'SCTLR_EL1',
      'TTBR0_EL1',
      'TTBR1_EL1',
      'TCR_EL1',
      'VBAR_EL1',
      'MAIR_EL1',
      'SP_EL1',
      'ELR_EL1',
      'SPSR_EL1',
      'TPIDR_EL0',
      'MDSCR_EL1',
    ];
    for (const r of el1) expect(at(r).place.offset, r).toBe(sysRegs + 8 * Number(index.get(r)));
    for (const r of ['CNTV_CTL_EL0', 'CNTV_CVAL_EL0', 'CNTP_CTL_EL0', 'CNTP_CVAL_EL0'])
      expect(at(r).place.offset, r).toBe(sysRegs + 8 * Number(index.get(r)));
    expect(at('ICH_VMCR_EL2').place.offset).toBe(vgic + v3.get('vgic_vmcr')!.offset);
    expect(at('ICH_VMCR_EL2').width).toBe(4);
    expect(at('ICH_AP0R0_EL2').place.offset).toBe(vgic + v3.get('vgic_ap0r')!.offset);
    expect(at('ICH_AP1R0_EL2').place.offset).toBe(vgic + v3.get('vgic_ap1r')!.offset);
    // The list registers (hypstep's 4) are vgic_lr[], switched, each in use below used_lrs.
    const lrs = layout.slots.filter((s) => s.name.startsWith('ICH_LR'));
    expect(lrs.map((s) => s.name)).toEqual(['ICH_LR0_EL2', 'ICH_LR1_EL2', 'ICH_LR2_EL2', 'ICH_LR3_EL2']);
    for (const [n, s] of lrs.entries()) {
      expect(s.place.offset, s.name).toBe(vgic + v3.get('vgic_lr')!.offset + 8 * n);
      expect(s.width, s.name).toBe(8);
      expect(s.count, s.name).toEqual({
        array: 'vgic_lr',
        place: { base: { kind: 'vcpu' }, offset: vgic + v3.get('used_lrs')!.offset },
        width: v3.get('used_lrs')!.size,
        index: n,
      });
    }
    expect(layout.flags.flatMap((f) => f.governs).filter((g) => g.startsWith('ICH_LR'))).toEqual([]);

    const flag = (name: string) => layout.flags.find((f) => f.name === name)!;
    expect(flag('SYSREGS_ON_CPU')).toMatchObject({
      place: { offset: arch + a.get('sflags')!.offset },
      width: 1,
      mask: 1n << 4n,
    });
    expect(flag('SYSREGS_ON_CPU').governs).toEqual(
      expect.arrayContaining(['SCTLR_EL1', 'TTBR0_EL1', 'VBAR_EL1', 'TPIDR_EL0']),
    );
    expect(flag('SYSREGS_ON_CPU').governs).not.toContain('MDSCR_EL1'); // saved at every exit under VHE too
    for (const [timer, regs] of [
      ['TIMER_VTIMER', ['CNTV_CTL_EL0', 'CNTV_CVAL_EL0']],
      ['TIMER_PTIMER', ['CNTP_CTL_EL0', 'CNTP_CVAL_EL0']],
    ] as const) {
      const f = flag(`${timer}_LOADED`);
      expect(f.place.offset, timer).toBe(timers + Number(timerIndex.get(timer)) * ctxSize + ctx.get('loaded')!.offset);
      expect(f.governs).toEqual(regs);
    }
    // FP/SIMD: ctxt.fp_regs (struct user_fpsimd_state), owned by the guest while fp_state is
    // FP_STATE_GUEST_OWNED (2: the third of enum { FREE, HOST_OWNED, GUEST_OWNED } in kvm_host.h).
    const fpRegs = arch + a.get('ctxt')!.offset + pahole(blob, 'kvm_cpu_context').get('fp_regs')!.offset;
    const fp = pahole(blob, 'user_fpsimd_state');
    for (const n of [0, 1, 31]) {
      expect(at(`V${n}`).place.offset, `V${n}`).toBe(fpRegs + fp.get('vregs')!.offset + 16 * n);
      expect(at(`V${n}`).width).toBe(16);
    }
    expect([at('FPSR').place.offset, at('FPSR').width]).toEqual([fpRegs + fp.get('fpsr')!.offset, 4]);
    expect([at('FPCR').place.offset, at('FPCR').width]).toEqual([fpRegs + fp.get('fpcr')!.offset, 4]);
    expect(flag('FP_GUEST_OWNED')).toMatchObject({
      place: { offset: arch + a.get('fp_state')!.offset },
      width: a.get('fp_state')!.size,
      equals: 2n,
      lazy: 'fp',
    });
    expect(flag('FP_GUEST_OWNED').governs).toHaveLength(34);
    expect(flag('VGIC_LOADED')).toMatchObject({
      between: { from: 'vgic_v3_load', to: 'vgic_v3_put' },
      onEntry: 'none',
      governs: ['ICH_VMCR_EL2', 'ICH_AP0R0_EL2', 'ICH_AP1R0_EL2'],
    });
    expect(layout.discover).toEqual({
      function: 'kvm_arch_vcpu_load',
      arg: 0,
      prefix: 'vcpu',
      forget: 'kvm_arch_vcpu_destroy',
    });
    expect(layout.identity).toEqual({
      vm: { offset: vcpuMembers.get('kvm')!.offset, width: 8 },
      id: { offset: vcpuMembers.get('vcpu_id')!.offset, width: 4 },
    });
    expect([layout.loadSymbol, layout.putSymbol]).toEqual(['kvm_arch_vcpu_load', 'kvm_arch_vcpu_put']);
  });

  it('prints the layout with hypstep layout linux; --mode nvhe switches every EL1 register', () => {
    const vhe = hypstep(['layout', 'linux', kernel]);
    expect(vhe.status).toBe(0);
    expect(JSON.parse(vhe.stdout)).toEqual(deriveLinuxLayout(image, btf, { what: kernel }));
    const nvhe = hypstep(['layout', 'linux', kernel, '--mode', 'nvhe']);
    expect(nvhe.status).toBe(0);
    const l = parseLayout(nvhe.stdout);
    expect(l.flags.map((f) => f.name)).not.toContain('SYSREGS_ON_CPU');
    expect(l.slots.map((s) => s.name)).toContain('SCTLR_EL1');
    expect(l.hypervisor).toMatch(/\(nVHE\)$/);
  });

  it('refuses a kernel version it has no facts for, in one line that says how to go on; --facts overrides', () => {
    const other = Buffer.from(image);
    const banner = other.indexOf('Linux version 6.1.');
    other.write('Linux version 9.7.', banner, 'latin1');
    const path = join(TMP, 'vmlinuz-9.7');
    writeFileSync(path, other);
    const r = hypstep(['layout', 'linux', path]);
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(
      /^hypstep: .*vmlinuz-9\.7 is Linux 9\.7\.0-\d+-cloud-arm64: hypstep knows KVM's facts for 6\.1 only/,
    );
    expect(r.stderr).toContain('--facts 6.1 > kvm.json');
    const forced = hypstep(['layout', 'linux', path, '--facts', '6.1']);
    expect(forced.status).toBe(0);
    expect(parseLayout(forced.stdout).slots).toEqual(parseLayout(JSON.stringify(deriveLinuxLayout(image, btf))).slots);
    const none = hypstep(['layout', 'linux', path, '--facts', '5.4']);
    expect([none.status, none.stderr]).toEqual([2, 'hypstep: no KVM facts for Linux 5.4 (known: 6.1)\n']);
    const bad = hypstep(['layout', 'xen', kernel]);
    expect([bad.status, bad.stderr]).toEqual([2, "hypstep: unknown hypervisor 'xen' (known: linux)\n"]);
  });

  it('is overridden by a layout file: the printed layout, edited, is what --vcpu-layout reads', () => {
    const derived = JSON.parse(hypstep(['layout', 'linux', kernel]).stdout) as {
      flags: Record<string, { bit: number }>;
      sysregs: Record<string, { index?: number }>;
    };
    derived.flags.SYSREGS_ON_CPU!.bit = 2; // as Linux renumbered it after 6.1
    derived.sysregs.VBAR_EL1!.index = 99;
    const file = join(TMP, 'kvm.json');
    writeFileSync(file, JSON.stringify(derived));
    const l = readLayout(file);
    expect(l.flags.find((f) => f.name === 'SYSREGS_ON_CPU')!.mask).toBe(4n);
    const sysRegs = btf.arrayAt('kvm_vcpu.arch.ctxt.sys_regs').offset;
    expect(l.slots.find((s) => s.name === 'VBAR_EL1')!.place.offset).toBe(sysRegs + 8 * 99);
  });
});
