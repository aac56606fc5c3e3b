// Real KVM under the debugger: Debian's kernel boots on hypstep with `--vcpu-layout linux` (the
// layout from the kernel's BTF, the functions from its kallsyms) and the residency checker on,
// driven through the gdb stub, in KVM's VHE mode and with kvm-arm.mode=nvhe: at kvm-hello's first
// guest entry the EL1 registers are the guest's on the CPU (SYSREGS_ON_CPU set, read from the vcpu at pahole's
// offset); after kvm_arch_vcpu_put they are in the vcpu's sys_regs[] and equal what the CPU held
// (a value the test writes into the guest's TPIDR_EL1 through the stub included);
// the timer's interrupt KVM injects is in the first list register, the others past used_lrs not in use;
// the checker is silent over the whole run; and a save the test removes from the kernel in memory
// (objdump finds the store) is reported as a partial put of that register: in VHE at the put that
// clears SYSREGS_ON_CPU, in nVHE at the hyp's MSR that restores the host's value over the guest's.
// One boot per configuration, one after another.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { StopReply } from '../../gdbstub/client.js';
import { readKallsyms } from '../../src/loader/kallsyms.js';
import { decodeLr } from '../../src/board/gic-virtual.js';
import { requireTool } from '../helpers/tools.js';
import { btfBlob, debianKernel, pahole } from '../helpers/linux.js';
import { kvmSession, type KvmMode, type KvmSession, type ResidencyJson, type VcpuJson } from '../helpers/kvm.js';

/** What the test writes into the guest's TPIDR_EL1 at its first entry ('kvm-helo'). */
const MAGIC = 0x6b766d2d68656c6fn;
/** A boot to kvm-hello takes minutes on a quiet machine; a loaded one is slower. */
const BOOT_MS = 40 * 60_000;
const NOP = Uint8Array.of(0x1f, 0x20, 0x03, 0xd5);

/** The registers KVM 6.1 saves in kvm_vcpu_put_sysregs_vhe (and, in nVHE, at every exit). */
const EL1 = [
  'CSSELR_EL1',
  'SCTLR_EL1',
  'CPACR_EL1',
  'TTBR0_EL1',
  'TTBR1_EL1',
  'TCR_EL1',
  'ESR_EL1',
  'AFSR0_EL1',
  'AFSR1_EL1',
  'FAR_EL1',
  'MAIR_EL1',
  'VBAR_EL1',
  'CONTEXTIDR_EL1',
  'AMAIR_EL1',
  'CNTKCTL_EL1',
  'PAR_EL1',
  'TPIDR_EL1',
  'SP_EL1',
  'ELR_EL1',
  'SPSR_EL1',
  'TPIDR_EL0',
  'TPIDRRO_EL0',
];

const image = readFileSync(debianKernel());
const kallsyms = readKallsyms(image);
const imageBase = kallsyms.tables.imageBase;
const symbol = (name: string): bigint => {
  const s = kallsyms.symbols.find((k) => k.name === name);
  if (!s) throw new Error(`the kernel has no symbol ${name}`);
  return s.address;
};
/** The next symbol's address: where objdump stops. */
const end = (name: string): bigint =>
  kallsyms.symbols
    .map((k) => k.address)
    .filter((a) => a > symbol(name))
    .reduce((a, b) => (a < b ? a : b));

/** objdump's disassembly of a kernel function: [address, text] per instruction. */
function disassemble(name: string): [bigint, string][] {
  const out = execFileSync(
    requireTool('aarch64-linux-gnu-objdump'),
    [
      '-D',
      '-b',
      'binary',
      '-maarch64',
      `--adjust-vma=0x${imageBase.toString(16)}`,
      `--start-address=0x${symbol(name).toString(16)}`,
      `--stop-address=0x${end(name).toString(16)}`,
      debianKernel(),
    ],
    { encoding: 'utf8', maxBuffer: 1 << 24 },
  );
  return [...out.matchAll(/^\s*([0-9a-f]+):\s+[0-9a-f]{8}\s+(.*)$/gm)].map((m) => [BigInt(`0x${m[1]}`), m[2]!.trim()]);
}

/** The store that saves a register read by `mrs xN, <reg>` just before it. */
function saveOf(fn: string, reg: string): bigint {
  const insns = disassemble(fn);
  for (let i = 0; i + 1 < insns.length; i++) {
    const m = new RegExp(`^mrs\\s+(x\\d+), ${reg}$`).exec(insns[i]![1]);
    if (m && new RegExp(`^str\\s+${m[1]}, \\[`).test(insns[i + 1]![1])) return insns[i + 1]![0];
  }
  throw new Error(`objdump shows no save of ${reg} in ${fn}`);
}

/** The first instruction of a function matching `re`. */
function find(fn: string, re: RegExp): bigint {
  const hit = disassemble(fn).find(([, t]) => re.test(t));
  if (!hit) throw new Error(`objdump shows no ${re} in ${fn}`);
  return hit[0];
}

// Offsets into struct kvm_vcpu by pahole, from the kernel's BTF.
const blob = btfBlob(image);
const vcpuMembers = pahole(blob, 'kvm_vcpu');
const SFLAGS = vcpuMembers.get('arch')!.offset + pahole(blob, 'kvm_vcpu_arch').get('sflags')!.offset;
const SYSREGS_ON_CPU = 1 << 4;
const USED_LRS =
  vcpuMembers.get('arch')!.offset +
  pahole(blob, 'kvm_vcpu_arch').get('vgic_cpu')!.offset +
  (pahole(blob, 'vgic_cpu').get('vgic_v3')?.offset ?? 0) +
  pahole(blob, 'vgic_v3_cpu_if').get('used_lrs')!.offset;

const where = (fn: string, at: bigint) => `${fn}+${at - symbol(fn)}`;

interface Seen {
  stop: StopReply;
  console: string;
  vcpus: VcpuJson[];
  rows: ResidencyJson[];
  /** VHE: the vcpu's sflags byte, read through the stub at pahole's offset (a kernel VA: EL2's under VHE). */
  sflags: number;
  /** VHE: its vgic_v3.used_lrs, read the same way. */
  usedLrs: number;
}

class Driver {
  constructor(
    readonly s: KvmSession,
    readonly mode: KvmMode,
  ) {}
  get c() {
    return this.s.client;
  }
  /** Continues to the next stop; the stop's PE becomes the thread registers are read from. */
  async cont(): Promise<{ stop: StopReply; console: string }> {
    const from = this.c.console.length;
    const stop = await this.c.cont(BOOT_MS);
    if (stop.thread !== undefined) await this.c.selectThread(stop.thread);
    return { stop, console: this.c.console.slice(from) };
  }
  async look(stop: { stop: StopReply; console: string }): Promise<Seen> {
    const vcpus = JSON.parse(await this.c.monitor('vcpu list --json')) as VcpuJson[];
    const rows = vcpus.length ? (JSON.parse(await this.c.monitor('vcpu sysregs --json')) as ResidencyJson[]) : [];
    let sflags = -1,
      usedLrs = -1;
    if (this.mode === 'vhe' && vcpus[0]) {
      await this.c.monitor('memory el2');
      sflags = (await this.c.readMemory(BigInt(vcpus[0].address) + BigInt(SFLAGS), 1))[0]!;
      usedLrs = Buffer.from(await this.c.readMemory(BigInt(vcpus[0].address) + BigInt(USED_LRS), 4)).readUInt32LE();
      await this.c.monitor('memory current');
    }
    return { ...stop, vcpus, rows, sflags, usedLrs };
  }
  /** Runs to the return of a kernel function (a breakpoint at its entry, then at its return address). */
  async toReturnOf(fn: string): Promise<{ stop: StopReply; console: string }> {
    await this.c.insertBreakpoint(symbol(fn));
    const at = await this.cont();
    await this.c.removeBreakpoint(symbol(fn));
    expect(at.stop.kind, at.console).toBe('stopped');
    const ret = await this.c.readRegister('x30');
    await this.c.insertBreakpoint(ret);
    const back = await this.cont();
    await this.c.removeBreakpoint(ret);
    return back;
  }
  /** Writes the kernel's text at a link address, through the physical view (its image starts where PE 0 did). */
  async patch(va: bigint, bytes: Uint8Array, resetPc: bigint): Promise<void> {
    await this.c.monitor('memory phys');
    await this.c.writeMemory(resetPc + (va - imageBase), bytes);
    await this.c.monitor('memory current');
  }
}

const row = (rows: ResidencyJson[], reg: string): ResidencyJson => {
  const r = rows.find((x) => x.reg === reg);
  if (!r) throw new Error(`no row ${reg}`);
  return r;
};

/** The stock kernel: first entry, after the first put, the whole run to power-off. */
function stock(mode: KvmMode): void {
  describe(`KVM ${mode === 'vhe' ? 'in VHE mode' : 'with kvm-arm.mode=nvhe'}, the stock kernel`, () => {
    let d: Driver;
    let resetPc: bigint;
    let entry: Seen, afterWrite: Seen, afterPut: Seen, withLr: Seen, atDestroy: Seen, afterDestroy: Seen;
    let last: { stop: StopReply; console: string };
    let stderr: string, stdout: string, status: number | null;
    beforeAll(async () => {
      d = new Driver(await kvmSession(mode), mode);
      resetPc = await d.c.readRegister('pc');
      await d.c.monitor('catch entry');
      entry = await d.look(await d.cont());
      await d.c.monitor('catch off');
      await d.c.writeRegister('tpidr_el1', MAGIC);
      afterWrite = await d.look({ stop: entry.stop, console: '' });
      afterPut = await d.look(await d.toReturnOf('kvm_arch_vcpu_put'));
      // The guest waits in WFI for its virtual timer: KVM puts the timer's interrupt in a list
      // register's copy (vgic_v3_populate_lr) and enters the guest with it restored.
      await d.c.insertBreakpoint(symbol('vgic_v3_populate_lr'));
      await d.cont();
      await d.c.removeBreakpoint(symbol('vgic_v3_populate_lr'));
      await d.c.monitor('catch entry');
      withLr = await d.look(await d.cont());
      await d.c.monitor('catch off');
      // KVM frees the vcpu when kvm-hello closes it: hypstep forgets it then.
      await d.c.insertBreakpoint(symbol('kvm_arch_vcpu_destroy'));
      atDestroy = await d.look(await d.cont());
      await d.c.removeBreakpoint(symbol('kvm_arch_vcpu_destroy'));
      const ret = await d.c.readRegister('x30');
      await d.c.insertBreakpoint(ret);
      afterDestroy = await d.look(await d.cont());
      await d.c.removeBreakpoint(ret);
      last = await d.cont();
      // hypstep ends once the guest has exited and no debugger is attached.
      d.c.close();
      status = await d.s.exited;
      stdout = d.s.stdout();
      stderr = d.s.stderr();
    }, 2 * BOOT_MS);
    afterAll(async () => d?.s.close());

    it("binds to the running kernel: kvm-hello's vcpu is discovered as KVM loads it, with its VM, id and PE", () => {
      expect(resetPc).toBeGreaterThan(0n);
      expect(entry.stop.event?.kind, entry.console).toBe('entry');
      expect(entry.console).toMatch(/guest entry #1 vmid 1 \(vcpu0\)/);
      expect(entry.vcpus).toHaveLength(1);
      const v = entry.vcpus[0]!;
      expect(v.vcpu).toBe('vcpu0');
      expect(v.id).toBe(0);
      expect(v.vm?.n).toBe(0);
      expect(BigInt(v.vm!.at)).toBeGreaterThan(0xffff000000000000n); // a struct kvm in the kernel's linear map
      expect(v.loadedOn).toBe(entry.stop.event!.pe);
      expect(v.running).toBe(true);
      expect(v.vmid).toBe(1);
    });

    if (mode === 'vhe')
      it('at the first entry the EL1 registers are on the CPU and SYSREGS_ON_CPU is set', () => {
        expect(entry.sflags & SYSREGS_ON_CPU).toBe(SYSREGS_ON_CPU);
        expect(entry.vcpus[0]!.flags).toContain('SYSREGS_ON_CPU');
        for (const r of EL1) {
          expect(row(entry.rows, r).governedBy, r).toBe('SYSREGS_ON_CPU');
          expect(row(entry.rows, r).authority, r).toBe('cpu');
        }
      });
    else
      it('at the first entry the EL1 registers are on the CPU, switched at entry (no SYSREGS_ON_CPU)', () => {
        expect(entry.rows.map((r) => r.governedBy)).not.toContain('SYSREGS_ON_CPU');
        for (const r of EL1) {
          expect(row(entry.rows, r).governedBy, r).toBe(null);
          expect(row(entry.rows, r).authority, r).toBe('cpu');
        }
      });

    it("the guest's TPIDR_EL1, written through the stub, is the CPU's while it runs", () => {
      expect(BigInt(row(afterWrite.rows, 'TPIDR_EL1').cpu!)).toBe(MAGIC);
      expect(BigInt(row(afterWrite.rows, 'TPIDR_EL1').memory)).not.toBe(MAGIC);
    });

    it('after kvm_arch_vcpu_put the EL1 registers are in memory and equal what the CPU held', () => {
      if (mode === 'vhe') expect(afterPut.sflags & SYSREGS_ON_CPU).toBe(0);
      expect(afterPut.vcpus[0]!.loadedOn).toBe(null);
      expect(afterPut.vcpus[0]!.flags).not.toContain('SYSREGS_ON_CPU');
      for (const r of EL1) {
        const now = row(afterPut.rows, r);
        expect(now.authority, r).toBe('memory');
        // The guest changed none of them after the entry; KVM saved each as the CPU held it.
        expect(now.memory, r).toBe(row(afterWrite.rows, r).cpu);
      }
      expect(BigInt(row(afterPut.rows, 'TPIDR_EL1').memory)).toBe(MAGIC);
    });

    it("enters with the timer's interrupt in ICH_LR0_EL2 as vgic_lr[0] holds it; the ones past used_lrs are not in use", () => {
      expect(withLr.stop.event?.kind, withLr.console).toBe('entry');
      if (mode === 'vhe') expect(withLr.usedLrs).toBe(1);
      const lr0 = row(withLr.rows, 'ICH_LR0_EL2');
      expect([lr0.authority, lr0.governedBy, lr0.verdict]).toEqual(['cpu', null, 'in sync']);
      // The virtual timer's PPI (27), pending, mapped to the physical one (HW: its deactivation is the host's too).
      expect(decodeLr(BigInt(lr0.cpu!))).toMatchObject({ vintid: 27, state: 1, hw: true, pintid: 27 });
      for (const n of [1, 2, 3]) {
        const r = row(withLr.rows, `ICH_LR${n}_EL2`);
        expect([r.authority, r.verdict], r.reg).toEqual(['none', `not in use (index ${n} of vgic_lr, count 1)`]);
      }
    });

    it('forgets the vcpu when KVM frees it', () => {
      expect(atDestroy.vcpus.map((v) => v.vcpu)).toEqual(['vcpu0']);
      expect(afterDestroy.vcpus).toEqual([]);
    });

    it('the checker is silent over the whole KVM run, which ends as on QEMU', () => {
      expect(last.stop.kind, last.console).toBe('exited');
      expect(last.console).not.toMatch(/residency hazard/);
      expect(status).toBe(0);
      for (const line of ['kvm-hello: done', 'hypstep-init: kvm-hello exited with status 0', 'reboot: Power down'])
        expect(stdout).toContain(line);
      expect(stderr).toContain('residency checker: 0 hazards');
    });
  });
}

/** A save removed from the kernel in memory at the first entry: the checker's report. */
function planted(mode: KvmMode, fn: string, hazardAt: () => string): void {
  describe(`KVM ${mode === 'vhe' ? 'in VHE mode' : 'with kvm-arm.mode=nvhe'}, TPIDR_EL1's save in ${fn} patched to a NOP`, () => {
    let d: Driver;
    let hazard: { stop: StopReply; console: string };
    let before: Uint8Array;
    const store = saveOf(fn, 'tpidr_el1');
    beforeAll(async () => {
      d = new Driver(await kvmSession(mode), mode);
      const resetPc = await d.c.readRegister('pc');
      await d.c.monitor('memory phys');
      before = await d.c.readMemory(resetPc + (store - imageBase), 4);
      await d.c.monitor('memory current');
      await d.c.monitor('catch entry');
      await d.cont();
      await d.c.monitor('catch off');
      await d.c.writeRegister('tpidr_el1', MAGIC);
      await d.patch(store, NOP, resetPc);
      hazard = await d.cont();
    }, BOOT_MS);
    afterAll(async () => d?.s.close());

    it('patches the store objdump shows (the kernel was loaded where PE 0 started)', () => {
      const offset = Number(store - imageBase);
      expect([...before]).toEqual([...image.subarray(offset, offset + 4)]);
    });

    it('reports a partial put of TPIDR_EL1 at the instruction that completes the put without it', () => {
      expect(hazard.stop.kind).toBe('stopped');
      expect(hazard.stop.event?.kind, hazard.console).toBe('hazard');
      expect(hazard.stop.event?.reason).toBe('partial-put of TPIDR_EL1');
      expect(hazard.console).toContain(`residency hazard: partial-put of TPIDR_EL1 (vcpu0) at ${hazardAt()}`);
      expect(hazard.console).toMatch(/0x6b766d2d68656c6f/);
    });
  });
}

stock('vhe');
// The put clears SYSREGS_ON_CPU (objdump: the strb to sflags) with TPIDR_EL1 not saved.
planted('vhe', 'kvm_vcpu_put_sysregs_vhe', () =>
  where(
    'kvm_vcpu_put_sysregs_vhe',
    find('kvm_vcpu_put_sysregs_vhe', new RegExp(`^strb\\s+w\\d+, \\[x\\d+, #${SFLAGS}\\]$`)),
  ),
);
stock('nvhe');
// nVHE switches the registers at every exit: with the guest's TPIDR_EL1 not saved by
// __sysreg_save_state_nvhe, the hyp's restore of the host's TPIDR_EL1 (objdump: the msr in
// __sysreg_restore_state_nvhe, run at its hyp VA) overwrites it.
planted(
  'nvhe',
  '__kvm_nvhe___sysreg_save_state_nvhe',
  () =>
    `${where('__kvm_nvhe___sysreg_restore_state_nvhe', find('__kvm_nvhe___sysreg_restore_state_nvhe', /^msr\s+tpidr_el1, x\d+$/))} (hyp VA`,
);
