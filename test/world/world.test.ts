// The world layer against small synthetic event streams on a real Cpu (no guest code needed):
// exit decoding, entry/exit detection, cost windows, residency and the hazard checker.
import { describe, expect, it } from 'vitest';
import { Cpu } from '../../src/cpu/cpu.js';
import { PhysBus } from '../../src/board/bus.js';
import { SR, HCR, specOf } from '../../src/sysregs/registry.js';
import { writeSysreg } from '../../src/sysregs/access.js';
import { decodeExit, vmidOf, faultIpa } from '../../src/world/reason.js';
import { World, type WorldEvent } from '../../src/world/world.js';
import { parseLayout, bindLayout, LayoutError } from '../../src/world/layout.js';

const RAM = 0x4000_0000;

function machine(): Cpu {
  const cpu = new Cpu(new PhysBus(RAM, 1 << 20));
  writeSysreg(cpu, specOf('HCR_EL2'), (1n << BigInt(HCR.VM)) | (1n << BigInt(HCR.RW)));
  cpu.sr[SR.VTTBR_EL2!] = 3n << 48n;
  return cpu;
}

/** Drives the observer as the core would: an exit from EL1, `n` EL2 instructions, an entry. */
function exit(cpu: Cpu, w: World, esr: number, elr = 0x4000_1000n, kind = 0): void {
  cpu.ps.el = 2;
  w.exceptionTaken({ fromEL: 1, toEL: 2, kind, esr, far: 0n, elr, vector: 0x4000_0400n });
}
function entry(cpu: Cpu, w: World, pc = 0x4000_1004n): void {
  cpu.ps.el = 1;
  w.exceptionReturned({ fromEL: 2, toEL: 1, pc, spsr: 0x3c5 });
}

describe('exit reasons', () => {
  it('decodes HVC, SMC, trapped MSR, WFI/WFE and asynchronous exits', () => {
    expect(decodeExit(0, 0x5a00_0001, 0n, 0n).text).toBe('HVC #0x1');
    expect(decodeExit(0, 0x5e00_0000, 0n, 0n)).toMatchObject({ category: 'smc', text: 'SMC #0x0' });
    // MSR SCTLR_EL1, x3: op0=3 op2=0 op1=0 CRn=1 CRm=0 Rt=3, direction write (0).
    const iss = (3 << 20) | (0 << 17) | (0 << 14) | (1 << 10) | (3 << 5) | (0 << 1) | 0;
    expect(decodeExit(0, ((0x18 << 26) | (1 << 25) | iss) >>> 0, 0n, 0n).text).toBe('trapped MSR SCTLR_EL1, x3');
    expect(decodeExit(0, ((0x18 << 26) | (1 << 25) | iss | 1) >>> 0, 0n, 0n).text).toBe('trapped MRS x3, SCTLR_EL1');
    expect(decodeExit(0, ((0x01 << 26) | (1 << 25)) >>> 0, 0n, 0n).text).toBe('WFI');
    expect(decodeExit(0, ((0x01 << 26) | (1 << 25) | 1) >>> 0, 0n, 0n).text).toBe('WFE');
    expect(decodeExit(1, 0, 0n, 0n)).toMatchObject({ category: 'irq', text: 'IRQ' });
    expect(decodeExit(2, 0, 0n, 0n).text).toBe('FIQ');
    expect(decodeExit(3, 0xbe00_0000, 0n, 0n).text).toBe('SError');
  });

  it('decodes a stage-2 data abort with the IPA from HPFAR_EL2 and FAR_EL2', () => {
    // ISV=1, SAS=2 (4 bytes), SRT=5, SF=0, WnR=1, DFSC translation fault level 3.
    const iss = (1 << 24) | (2 << 22) | (5 << 16) | (1 << 6) | 0x07;
    const hpfar = (0x0a00_0000n >> 12n) << 4n;
    expect(faultIpa(hpfar, 0xffff_0000_1234_5008n)).toBe(0x0a00_0008n);
    expect(decodeExit(0, ((0x24 << 26) | (1 << 25) | iss) >>> 0, 0x8n, hpfar)).toMatchObject({
      category: 'dabort',
      text: 'data abort at IPA 0xa000008 (write, 4 bytes, w5)',
      ipa: 0x0a00_0008n,
    });
    expect(decodeExit(0, ((0x20 << 26) | (1 << 25) | 0x06) >>> 0, 0n, 0x40n << 4n).text).toBe(
      'instruction abort at IPA 0x40000 (translation fault, level 2)',
    );
  });

  it('takes the VMID from VTTBR_EL2[55:48], or [63:48] with VTCR_EL2.VS', () => {
    expect(vmidOf(0xabcd_0000_0000_0000n, 0n)).toBe(0xcd);
    expect(vmidOf(0xabcd_0000_0000_0000n, 1n << 19n)).toBe(0xabcd);
  });
});

describe('entry and exit detection', () => {
  it('numbers exits, names the exiting PC, and accounts EL2 work until the next entry', () => {
    const cpu = machine();
    cpu.ps.el = 1;
    const w = new World(cpu).attach();
    const events: WorldEvent[] = [];
    w.on((e) => events.push(e));
    entry(cpu, w); // the CPU is already at EL1 with VM=1: an ERET from EL2 is what counts as an entry
    cpu.icount = 100;
    exit(cpu, w, 0x5a00_0007, 0x4000_1004n);
    cpu.icount = 130;
    w.sysregAccessed({ reg: specOf('ESR_EL2'), write: false, value: 0n, pc: 0x1000n });
    w.sysregAccessed({ reg: specOf('SCTLR_EL1'), write: true, value: 0n, pc: 0x1004n });
    w.sysregAccessed({ reg: specOf('SCTLR_EL1'), write: true, value: 0n, pc: 0x1008n });
    cpu.icount = 142;
    entry(cpu, w);
    cpu.icount = 150;
    w.sysregAccessed({ reg: specOf('SCTLR_EL1'), write: true, value: 0n, pc: 0x1008n }); // the guest's own: not counted

    expect(events.map((e) => e.type)).toEqual(['entry', 'exit', 'entry']);
    const x = w.exitLog[0]!;
    expect(x).toMatchObject({
      n: 1,
      vmid: 3,
      pc: 0x4000_1000n,
      closed: true,
      el2Insns: 42,
      hostInsns: 42,
      sysregTotal: 3,
    });
    expect(x.reason.text).toBe('HVC #0x7');
    expect(x.sysregs).toEqual({ ESR_EL2: 1, SCTLR_EL1: 2 });
    expect(w.inGuest).toBe(true);
  });

  it('ignores exceptions that are not world switches (TGE=1, VM=0, EL2 to EL2, guest EL0 to EL1)', () => {
    const cpu = machine();
    cpu.ps.el = 2;
    const w = new World(cpu).attach();
    // A VHE host: TGE=1 — its EL0 is not a guest.
    writeSysreg(cpu, specOf('HCR_EL2'), (1n << BigInt(HCR.VM)) | (1n << BigInt(HCR.TGE)) | (1n << 34n));
    cpu.ps.el = 0;
    w.exceptionReturned({ fromEL: 2, toEL: 0, pc: 0n, spsr: 0 });
    exit(cpu, w, 0x5400_0000);
    writeSysreg(cpu, specOf('HCR_EL2'), 0n);
    cpu.ps.el = 1;
    w.exceptionReturned({ fromEL: 2, toEL: 1, pc: 0n, spsr: 0x3c5 });
    exit(cpu, w, 0x5a00_0000);
    expect(w.exits).toBe(0);
    expect(w.entries).toBe(0);
  });
});

/** A one-vcpu layout: two governed registers, one switched, a flag word. */
const LAYOUT = JSON.stringify({
  format: 'hypstep-vcpu-layout',
  version: 1,
  hypervisor: 'test',
  vcpus: [{ name: 'v0', address: '0x40010000', vmid: 3 }],
  sysregs: {
    SCTLR_EL1: { offset: 0, width: 8 },
    TTBR0_EL1: { offset: 8 },
    DACR32_EL2: { offset: 16 },
  },
  flags: { LOADED: { offset: 32, width: 8, mask: 1, governs: ['SCTLR_EL1', 'TTBR0_EL1'] } },
});

function withLayout(): { cpu: Cpu; w: World } {
  const cpu = machine();
  cpu.ps.el = 2;
  const w = new World(cpu).attach();
  w.checking = true;
  w.stop = () => {};
  const layout = parseLayout(LAYOUT);
  w.bind(
    layout,
    bindLayout(layout, () => undefined),
  );
  return { cpu, w };
}
const VCPU = 0x4001_0000n;

describe('residency and the hazard checker', () => {
  it('reports load and put from flag writes, and authority from the flag', () => {
    const { cpu, w } = withLayout();
    const events: string[] = [];
    w.on((e) => events.push(e.type));
    cpu.sr[SR.SCTLR_EL1!] = 0x1111n;
    cpu.write(VCPU, 8, 0x1111n, 0); // restore path: memory authoritative, read/write freely
    cpu.read(VCPU, 8, 0);
    cpu.write(VCPU + 32n, 8, 1n, 0); // flag set: load
    const rowsLoaded = w.residency(w.vcpus[0]!, ['sctlr_el1', 'DACR32_EL2']);
    expect(rowsLoaded.map((r) => [r.reg, r.authority, r.governedBy, r.verdict])).toEqual([
      ['SCTLR_EL1', 'cpu', 'LOADED', 'in sync'],
      ['DACR32_EL2', 'memory', null, 'in sync'],
    ]);
    cpu.sr[SR.SCTLR_EL1!] = 0x2222n; // the guest changed it while loaded
    expect(w.residency(w.vcpus[0]!, ['SCTLR_EL1'])[0]!.verdict).toBe('CPU live, memory stale (expected while loaded)');
    cpu.write(VCPU, 8, 0x2222n, 0); // the put's save: equal to the CPU, not a lost write
    cpu.write(VCPU + 32n, 4, 0n, 0); // a 4-byte clear of the flag: put
    expect(events).toEqual(['load', 'put']);
    expect(w.hazards).toEqual([]);
    expect(w.loadPutLog.map((r) => [r.type, r.vcpu, r.flag])).toEqual([
      ['load', 'v0', 'LOADED'],
      ['put', 'v0', 'LOADED'],
    ]);
    cpu.sr[SR.SCTLR_EL1!] = 0x9999n; // another vcpu's value
    expect(w.residency(w.vcpus[0]!, ['SCTLR_EL1'])[0]!.verdict).toBe('memory live, CPU holds another value');
  });

  it('catches a stale read and a lost write at the accessing instruction', () => {
    const { cpu, w } = withLayout();
    cpu.write(VCPU + 32n, 8, 1n, 0);
    cpu.sr[SR.TTBR0_EL1!] = 0x8000n;
    cpu.pcs[1] = 0x4000_2000n;
    cpu.read(VCPU + 8n, 8, 0);
    cpu.pcs[1] = 0x4000_2004n;
    cpu.write(VCPU + 8n, 8, 0x7000n, 0);
    expect(w.hazards.map((h) => [h.kind, h.reg, h.pc, h.cpu, h.memory])).toEqual([
      ['stale-read', 'TTBR0_EL1', 0x4000_2000n, 0x8000n, 0n],
      ['lost-write', 'TTBR0_EL1', 0x4000_2004n, 0x8000n, 0x7000n],
    ]);
    expect(w.hazards[0]!.message).toMatch(/stale-read of TTBR0_EL1 \(v0\) at 0x40002000/);
  });

  it('catches a missing load on entry, and tracks switched registers from entry until saved', () => {
    const { cpu, w } = withLayout();
    cpu.ps.el = 1;
    w.exceptionReturned({ fromEL: 2, toEL: 1, pc: 0x4000_3000n, spsr: 0x3c5 });
    expect(w.hazards.map((h) => [h.kind, h.reg])).toEqual([['missing-load', 'LOADED']]);
    expect(w.running?.bound.name).toBe('v0');
    // DACR32_EL2 is switched on entry/exit: on the CPU after the entry, in memory once saved.
    cpu.sr[SR.DACR32_EL2!] = 0x55n;
    exit(cpu, w, 0x5a00_0000);
    expect(w.residency(w.vcpus[0]!, ['DACR32_EL2'])[0]!.authority).toBe('cpu');
    cpu.write(VCPU + 16n, 8, 0x55n, 0);
    expect(w.residency(w.vcpus[0]!, ['DACR32_EL2'])[0]!.authority).toBe('memory');
    expect(w.hazards.length).toBe(1);
  });

  it('refuses a layout that places a vcpu outside RAM', () => {
    const cpu = machine();
    const w = new World(cpu).attach();
    const layout = parseLayout(LAYOUT.replace('0x40010000', '0x10000'));
    expect(() =>
      w.bind(
        layout,
        bindLayout(layout, () => undefined),
      ),
    ).toThrow(/vcpu v0: SCTLR_EL1 would be at PA 0x10000, which is not RAM/);
  });
});

describe('board reset', () => {
  it('notices the instruction count going back and restarts in the host', () => {
    const cpu = machine();
    cpu.ps.el = 1;
    const w = new World(cpu).attach();
    entry(cpu, w);
    cpu.icount = 500;
    exit(cpu, w, 0x5a00_0000);
    cpu.icount = 510;
    entry(cpu, w);
    expect(w.inGuest).toBe(true);
    cpu.icount = 3; // reset, then the boot code runs at EL2 and enters again
    entry(cpu, w);
    cpu.icount = 10;
    exit(cpu, w, 0x5a00_0001);
    cpu.icount = 14;
    entry(cpu, w);
    expect(w.exitLog.map((x) => [x.n, x.el2Insns])).toEqual([
      [1, 10],
      [2, 4],
    ]);
  });
});

describe('load and put costs', () => {
  it('charge a split-mode load from the hyp call that moves the registers to the flag store', () => {
    const { cpu, w } = withLayout();
    writeSysreg(cpu, specOf('HCR_EL2'), 1n << BigInt(HCR.RW)); // the host kernel runs: VM=0
    cpu.ps.el = 1;
    w.exceptionReturned({ fromEL: 2, toEL: 1, pc: 0n, spsr: 0x3c5 });
    cpu.icount = 1000; // host work before the hyp call is not the load's
    w.sysregAccessed({ reg: specOf('SCTLR_EL1'), write: true, value: 0n, pc: 0n });
    cpu.ps.el = 2;
    w.exceptionTaken({ fromEL: 1, toEL: 2, kind: 0, esr: 0x5a00_0000, far: 0n, elr: 0n, vector: 0n });
    cpu.icount = 1010;
    cpu.read(VCPU, 8, 0); // the hyp restores from the governed slot
    w.sysregAccessed({ reg: specOf('SCTLR_EL1'), write: true, value: 0n, pc: 0n });
    cpu.icount = 1020;
    cpu.ps.el = 1;
    w.exceptionReturned({ fromEL: 2, toEL: 1, pc: 0n, spsr: 0x3c5 });
    cpu.icount = 1025;
    cpu.write(VCPU + 32n, 8, 1n, 0);
    expect(w.loadPutLog).toEqual([
      expect.objectContaining({ type: 'load', el2Insns: 20, hostInsns: 25, sysregTotal: 1 }),
    ]);
  });
});

describe('layout files', () => {
  const base = JSON.parse(LAYOUT) as Record<string, unknown>;
  const parse =
    (o: Record<string, unknown>, opts = {}) =>
    () =>
      parseLayout(JSON.stringify(o), { source: 'l.json', ...opts });

  it('names the mistake in one line', () => {
    expect(parse({ ...base, format: 'x' })).toThrow('l.json: "format" must be "hypstep-vcpu-layout"');
    expect(parse({ ...base, version: 2 })).toThrow('unsupported "version" 2');
    expect(parse({ ...base, vcpus: [{ name: 'a' }] })).toThrow('vcpus[0] (a): give "symbol" or "address"');
    expect(parse({ ...base, flags: { F: { offset: 0, mask: 1, governs: ['NOPE'] } } })).toThrow(
      'flag F governs NOPE, which has no slot in "sysregs"',
    );
    expect(
      parse({
        ...base,
        flags: { F: { offset: 0, mask: 1, governs: ['SCTLR_EL1'] }, G: { offset: 0, mask: 2, governs: ['SCTLR_EL1'] } },
      }),
    ).toThrow('SCTLR_EL1 is governed by both F and G');
    expect(parse({ ...base, sysregs: { SCTLR_EL1: { offset: 0, width: 3 } } })).toThrow(
      'sysregs.SCTLR_EL1.width: width must be 1, 2, 4 or 8',
    );
    // A wrong type is a LayoutError naming the field, not a TypeError from using it.
    const governsNotList = parse({ ...base, flags: { F: { offset: 0, mask: 1, governs: 'SCTLR_EL1' } } });
    expect(governsNotList).toThrow(LayoutError);
    expect(governsNotList).toThrow('flag F.governs: expected a list of register names');
    expect(parse({ ...base, sysregs: { MYREG: { offset: 0, encoding: { op0: 'x' } } } })).toThrow(
      'sysregs.MYREG.encoding.op0: expected a non-negative integer',
    );
  });

  it('picks a mode by name or by the image file name, and matches unknown names by encoding', () => {
    const modes = {
      ...base,
      flags: undefined,
      modes: {
        plain: { elf: 'build/h-plain.elf', flags: [] },
        'plain-deferred': {
          elf: 'build/h-plain-deferred.elf',
          flags: [{ name: 'L', offset: 32, mask: 1, governs: ['TTBR0_EL1'] }],
        },
      },
      sysregs: {
        ...(base.sysregs as object),
        MYREG: { offset: 24, encoding: { op0: 3, op1: 0, crn: 1, crm: 0, op2: 0 } },
      },
    };
    expect(parse(modes)).toThrow(/describes several modes \(plain, plain-deferred\)/);
    expect(parse(modes, { imagePath: '/x/h-plain-deferred.elf' })().flags.map((f) => f.governs)).toEqual([
      ['TTBR0_EL1'],
    ]);
    expect(parse(modes, { imagePath: '/x/other-plain-deferred-v2.elf' })().mode).toBe('plain-deferred');
    expect(parse(modes, { mode: 'plain' })().flags).toEqual([]);
    expect(parse(modes, { mode: 'plain' })().slots.find((x) => x.name === 'MYREG')!.spec!.name).toBe('SCTLR_EL1');
  });
});
