// The world layer against small synthetic event streams on a real Cpu (no guest code needed):
// exit decoding, entry/exit detection, cost windows, residency and the hazard checker.
import { RAM, guestCpu } from './guest-cpu.js';
import { describe, expect, it, vi } from 'vitest';
import { Cpu } from '../../src/cpu/cpu.js';
import { PhysBus } from '../../src/board/bus.js';
import { SR, HCR, specOf } from '../../src/sysregs/registry.js';
import { writeSysreg } from '../../src/sysregs/access.js';
import { decodeExit, vmidOf, faultIpa } from '../../src/world/reason.js';
import { World, type WorldEvent } from '../../src/world/world.js';
import { parseLayout, bindLayout, bindVcpu, LayoutError, type BindEnv } from '../../src/world/layout.js';

/** Binding with the hypervisor's MMU off and no symbols: addresses are physical. */
const PHYS: BindEnv = { symbol: () => undefined, phys: Number, pointer: () => 0n, peOffset: () => 0n };

function machine(): Cpu {
  return guestCpu();
}

/** Drives the observer as the core would: an exit from EL1, `n` EL2 instructions, an entry. */
function exit(cpu: Cpu, w: World, esr: number, elr = 0x4000_1000n, kind = 0): void {
  cpu.ps.el = 2;
  cpu.sr[SR.ELR_EL2!] = elr; // the layer reads the PE's ELR_EL2, as the core's event does
  w.pes[0]!.exceptionTaken({ fromEL: 1, toEL: 2, kind, esr, far: 0n, elr, vector: 0x4000_0400n });
}
function entry(cpu: Cpu, w: World, pc = 0x4000_1004n): void {
  cpu.ps.el = 1;
  cpu.pcs[0] = pc; // the return address: the layer reads the PE's PC, as the core's event does
  w.pes[0]!.exceptionReturned({ fromEL: 2, toEL: 1, pc, spsr: 0x3c5 });
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
    const w = new World([cpu]).attach();
    const events: WorldEvent[] = [];
    w.on((e) => events.push(e));
    entry(cpu, w); // the CPU is already at EL1 with VM=1: an ERET from EL2 is what counts as an entry
    cpu.icount = 100;
    exit(cpu, w, 0x5a00_0007, 0x4000_1004n);
    cpu.icount = 130;
    w.pes[0]!.sysregAccessed({ reg: specOf('ESR_EL2'), write: false, value: 0n, pc: 0x1000n });
    w.pes[0]!.sysregAccessed({ reg: specOf('SCTLR_EL1'), write: true, value: 0n, pc: 0x1004n });
    w.pes[0]!.sysregAccessed({ reg: specOf('SCTLR_EL1'), write: true, value: 0n, pc: 0x1008n });
    cpu.icount = 142;
    entry(cpu, w);
    cpu.icount = 150;
    w.pes[0]!.sysregAccessed({ reg: specOf('SCTLR_EL1'), write: true, value: 0n, pc: 0x1008n }); // the guest's own: not counted

    expect(events.map((e) => e.type)).toEqual(['entry', 'exit', 'entry']);
    const x = w.recent.exits.toArray()[0]!;
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
    expect(w.pes[0]!.inGuest).toBe(true);
  });

  it('gives a listener only the event types it asks for, and keeps records and sums without listeners', () => {
    const cpu = machine();
    cpu.ps.el = 1;
    const w = new World([cpu]).attach();
    const hazards: WorldEvent[] = [];
    w.on((e) => hazards.push(e), ['hazard']);
    entry(cpu, w);
    exit(cpu, w, 0x5a00_0001);
    entry(cpu, w);
    expect(hazards).toEqual([]);
    expect(w.recent.exits.total).toBe(1);
    expect(w.sums.exits).toMatchObject({ count: 1, closed: 1 });
    expect(w.lastEntry?.n).toBe(2);
    const all: WorldEvent[] = [];
    const off = w.on((e) => all.push(e));
    exit(cpu, w, 0x5a00_0002);
    off();
    entry(cpu, w);
    expect(all.map((e) => e.type)).toEqual(['exit']);
    expect(w.wanted).toEqual({ exit: 0, entry: 0 });
  });

  it('ignores exceptions that are not world switches (TGE=1, VM=0, EL2 to EL2, guest EL0 to EL1)', () => {
    const cpu = machine();
    cpu.ps.el = 2;
    const w = new World([cpu]).attach();
    // A VHE host: TGE=1 — its EL0 is not a guest.
    writeSysreg(cpu, specOf('HCR_EL2'), (1n << BigInt(HCR.VM)) | (1n << BigInt(HCR.TGE)) | (1n << 34n));
    cpu.ps.el = 0;
    w.pes[0]!.exceptionReturned({ fromEL: 2, toEL: 0, pc: 0n, spsr: 0 });
    exit(cpu, w, 0x5400_0000);
    writeSysreg(cpu, specOf('HCR_EL2'), 0n);
    cpu.ps.el = 1;
    w.pes[0]!.exceptionReturned({ fromEL: 2, toEL: 1, pc: 0n, spsr: 0x3c5 });
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
  const w = new World([cpu]).attach();
  w.checking = true;
  w.stop = () => {};
  const layout = parseLayout(LAYOUT);
  w.bind(layout, bindLayout(layout, PHYS));
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
    expect(w.recent.hazards.toArray()).toEqual([]);
    expect(w.recent.loadPut.toArray().map((r) => [r.type, r.vcpu, r.flag])).toEqual([
      ['load', 'v0', 'LOADED'],
      ['put', 'v0', 'LOADED'],
    ]);
    cpu.sr[SR.SCTLR_EL1!] = 0x9999n; // another vcpu's value
    expect(w.residency(w.vcpus[0]!, ['SCTLR_EL1'])[0]!.verdict).toBe('memory live, CPU holds another value');
  });

  it('catches a stale read and a lost write at the accessing instruction', () => {
    const { cpu, w } = withLayout();
    cpu.write(VCPU, 8, cpu.sr[SR.SCTLR_EL1!]!, 0); // a complete load: both governed registers restored
    cpu.write(VCPU + 32n, 8, 1n, 0);
    cpu.sr[SR.TTBR0_EL1!] = 0x8000n;
    cpu.pcs[1] = 0x4000_2000n;
    cpu.read(VCPU + 8n, 8, 0);
    cpu.pcs[1] = 0x4000_2004n;
    cpu.write(VCPU + 8n, 8, 0x7000n, 0);
    expect(w.recent.hazards.toArray().map((h) => [h.kind, h.reg, h.pc, h.cpu, h.memory])).toEqual([
      ['stale-read', 'TTBR0_EL1', 0x4000_2000n, 0x8000n, 0n],
      ['lost-write', 'TTBR0_EL1', 0x4000_2004n, 0x8000n, 0x7000n],
    ]);
    expect(w.recent.hazards.toArray()[0]!.message).toMatch(/stale-read of TTBR0_EL1 \(v0\) at 0x40002000/);
  });

  /**
   * A checker bound to a layout without switched registers, its vcpu loaded: a clean entry's
   * verdict is kept until something may change what it read.
   */
  function loadedWithoutSwitched(): { cpu: Cpu; w: World } {
    const cpu = machine();
    cpu.ps.el = 2;
    const w = new World([cpu]).attach();
    w.checking = true;
    w.stop = () => {};
    const layout = parseLayout(LAYOUT.replace(',"DACR32_EL2":{"offset":16}', ''));
    w.bind(layout, bindLayout(layout, PHYS));
    expect(w.vcpus[0]!.switchedSlots).toEqual([]);
    cpu.write(VCPU, 8, cpu.sr[SR.SCTLR_EL1!]!, 0);
    cpu.write(VCPU + 32n, 8, 1n, 0); // load
    return { cpu, w };
  }

  it('checks an entry again once a store clears the flag that the last clean entry found set', () => {
    const { cpu, w } = loadedWithoutSwitched();
    const hazards = () => w.recent.hazards.toArray().map((h) => [h.kind, h.reg]);
    for (let i = 0; i < 3; i++) {
      entry(cpu, w);
      exit(cpu, w, 0x5a00_0000);
    }
    expect(hazards()).toEqual([]);
    cpu.write(VCPU + 32n, 1, 0n, 0); // put (a byte store of the flag)
    entry(cpu, w);
    expect(hazards()).toEqual([['missing-load', 'LOADED']]);
    exit(cpu, w, 0x5a00_0000);
    entry(cpu, w);
    expect(hazards()).toEqual([
      ['missing-load', 'LOADED'],
      ['missing-load', 'LOADED'],
    ]);
    exit(cpu, w, 0x5a00_0000);
    cpu.write(VCPU + 32n, 8, 1n, 0); // loaded again
    entry(cpu, w);
    expect(w.recent.hazards.total).toBe(2);
  });

  it("checks an entry again once a debugger's write clears the flag (no watch event reports it)", () => {
    const { cpu, w } = loadedWithoutSwitched();
    entry(cpu, w);
    exit(cpu, w, 0x5a00_0000);
    expect(w.recent.hazards.total).toBe(0);
    // gdb's `set var`: the stub's memory write pokes the bus (src/debug/target.ts).
    expect(cpu.bus.poke(Number(VCPU) + 32, new Uint8Array(8))).toBe(true);
    entry(cpu, w);
    expect(w.recent.hazards.toArray().map((h) => [h.kind, h.reg])).toEqual([['missing-load', 'LOADED']]);
  });

  it('with the checker off an entry is steady at once; turned on, the next entry is checked in full', () => {
    const { cpu, w } = loadedWithoutSwitched();
    w.checking = false;
    cpu.write(VCPU + 32n, 1, 0n, 0); // put
    const entered = vi.spyOn(w, 'entered');
    for (let i = 0; i < 3; i++) {
      entry(cpu, w);
      exit(cpu, w, 0x5a00_0000);
    }
    expect(entered).toHaveBeenCalledTimes(1);
    expect(w.recent.hazards.total).toBe(0);
    w.checking = true;
    entry(cpu, w);
    expect(w.recent.hazards.toArray().map((h) => [h.kind, h.reg])).toEqual([['missing-load', 'LOADED']]);
  });

  it('catches a missing load on entry, and tracks switched registers from entry until saved', () => {
    const { cpu, w } = withLayout();
    cpu.ps.el = 1;
    w.pes[0]!.exceptionReturned({ fromEL: 2, toEL: 1, pc: 0x4000_3000n, spsr: 0x3c5 });
    expect(w.recent.hazards.toArray().map((h) => [h.kind, h.reg])).toEqual([['missing-load', 'LOADED']]);
    expect(w.pes[0]!.running?.bound.name).toBe('v0');
    // DACR32_EL2 is switched on entry/exit: on the CPU after the entry, in memory once saved.
    cpu.sr[SR.DACR32_EL2!] = 0x55n;
    exit(cpu, w, 0x5a00_0000);
    expect(w.residency(w.vcpus[0]!, ['DACR32_EL2'])[0]!.authority).toBe('cpu');
    cpu.write(VCPU + 16n, 8, 0x55n, 0);
    expect(w.residency(w.vcpus[0]!, ['DACR32_EL2'])[0]!.authority).toBe('memory');
    expect(w.recent.hazards.total).toBe(1);
  });

  it('refuses a layout that places a vcpu outside RAM', () => {
    const cpu = machine();
    const w = new World([cpu]).attach();
    const layout = parseLayout(LAYOUT.replace('0x40010000', '0x10000'));
    expect(() => w.bind(layout, bindLayout(layout, PHYS))).toThrow(
      /vcpu v0: SCTLR_EL1 would be at PA 0x10000, which is not RAM/,
    );
  });
});

describe('several PEs', () => {
  /** Two PEs on one bus, two vcpus of one VM (VMID 3), each with its own loaded flag. */
  function twoPes() {
    const bus = new PhysBus(RAM, 1 << 20);
    const pes = [0, 1].map((index) => {
      const c = guestCpu(bus, index);
      c.ps.el = 2;
      return c;
    });
    const w = new World(pes).attach();
    w.checking = true;
    w.stop = () => {};
    const layout = parseLayout(
      JSON.stringify({
        format: 'hypstep-vcpu-layout',
        version: 1,
        vcpus: [
          { name: 'v0', address: '0x40010000', vmid: 3 },
          { name: 'v1', address: '0x40010100', vmid: 3 },
        ],
        sysregs: { TPIDR_EL1: { offset: 0 } },
        flags: { LOADED: { offset: 8, bit: 0, governs: ['TPIDR_EL1'] } },
      }),
    );
    w.bind(layout, bindLayout(layout, PHYS));
    const load = (c: Cpu, vcpu: bigint, value: bigint) => {
      c.sr[SR.TPIDR_EL1!] = value;
      c.write(vcpu, 8, value, 0);
      c.write(vcpu + 8n, 8, 1n, 0);
    };
    return { pes, w, load };
  }

  it("keeps each PE's loaded vcpu and entries apart, and checks a slot against the CPU of the PE that holds the vcpu", () => {
    const { pes, w, load } = twoPes();
    const [c0, c1] = pes as [Cpu, Cpu];
    load(c1, 0x4001_0100n, 0x11n); // v1 loaded on PE1
    load(c0, 0x4001_0000n, 0x22n); // v0 loaded on PE0
    for (const [c, p] of [
      [c1, w.pes[1]!],
      [c0, w.pes[0]!],
    ] as const) {
      c.ps.el = 1;
      p.exceptionReturned({ fromEL: 2, toEL: 1, pc: 0x4000_1000n, spsr: 0x3c5 });
    }
    expect(w.pes.map((p) => [p.inGuest, p.running?.bound.name])).toEqual([
      [true, 'v0'],
      [true, 'v1'],
    ]);
    expect(w.recent.loadPut.toArray().map((r) => [r.pe, r.type, r.vcpu])).toEqual([
      [1, 'load', 'v1'],
      [0, 'load', 'v0'],
    ]);
    // v1's guest changes its TPIDR_EL1 on PE1; PE0's hypervisor reads v1's slot: stale against PE1's register.
    c1.sr[SR.TPIDR_EL1!] = 0x33n;
    c0.ps.el = 2;
    w.pes[0]!.exceptionTaken({ fromEL: 1, toEL: 2, kind: 0, esr: 0x5a00_0000, far: 0n, elr: 0x4000_1004n, vector: 0n });
    c0.pcs[1] = 0x4000_2000n;
    c0.read(0x4001_0100n, 8, 0);
    const [h] = w.recent.hazards.toArray();
    expect([h?.kind, h?.pe, h?.vcpu, h?.cpu, h?.memory]).toEqual(['stale-read', 0, 'v1', 0x33n, 0x11n]);
    expect(h?.message).toMatch(
      /^\[hypstep\] PE0: residency hazard: stale-read of TPIDR_EL1 \(v1\) at 0x40002000: .*live on PE1's CPU/,
    );
    expect(w.residency(w.vcpu('v1')!).map((r) => [r.pe, r.cpu, r.verdict])).toEqual([
      [1, 0x33n, 'CPU live, memory stale (expected while loaded)'],
    ]);
    // The exit is PE0's alone, numbered over the machine.
    expect(w.recent.exits.toArray().map((x) => [x.n, x.pe, x.vcpu])).toEqual([[1, 0, 'v0']]);
    expect(w.pes.map((p) => p.inGuest)).toEqual([false, true]);
  });
});

describe('board reset', () => {
  it('notices the instruction count going back and restarts in the host', () => {
    const cpu = machine();
    cpu.ps.el = 1;
    const w = new World([cpu]).attach();
    entry(cpu, w);
    cpu.icount = 500;
    exit(cpu, w, 0x5a00_0000);
    cpu.icount = 510;
    entry(cpu, w);
    expect(w.pes[0]!.inGuest).toBe(true);
    cpu.icount = 3; // reset, then the boot code runs at EL2 and enters again
    entry(cpu, w);
    cpu.icount = 10;
    exit(cpu, w, 0x5a00_0001);
    cpu.icount = 14;
    entry(cpu, w);
    expect(w.recent.exits.toArray().map((x) => [x.n, x.el2Insns])).toEqual([
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
    w.pes[0]!.exceptionReturned({ fromEL: 2, toEL: 1, pc: 0n, spsr: 0x3c5 });
    cpu.icount = 1000; // host work before the hyp call is not the load's
    w.pes[0]!.sysregAccessed({ reg: specOf('SCTLR_EL1'), write: true, value: 0n, pc: 0n });
    cpu.ps.el = 2;
    w.pes[0]!.exceptionTaken({ fromEL: 1, toEL: 2, kind: 0, esr: 0x5a00_0000, far: 0n, elr: 0n, vector: 0n });
    cpu.icount = 1010;
    cpu.read(VCPU, 8, 0); // the hyp restores from the governed slot
    w.pes[0]!.sysregAccessed({ reg: specOf('SCTLR_EL1'), write: true, value: 0n, pc: 0n });
    cpu.icount = 1020;
    cpu.ps.el = 1;
    w.pes[0]!.exceptionReturned({ fromEL: 2, toEL: 1, pc: 0n, spsr: 0x3c5 });
    cpu.icount = 1025;
    cpu.write(VCPU + 32n, 8, 1n, 0);
    expect(w.recent.loadPut.toArray()).toEqual([
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
      'l.json: flags.F.governs: NOPE has no slot in "sysregs"',
    );
    expect(
      parse({
        ...base,
        flags: {
          F: { offset: 32, mask: 1, governs: ['SCTLR_EL1'] },
          G: { offset: 32, mask: 2, governs: ['SCTLR_EL1'] },
        },
      }),
    ).toThrow('SCTLR_EL1 is governed by both F and G');
    expect(parse({ ...base, sysregs: { SCTLR_EL1: { offset: 0, width: 3 } } })).toThrow(
      'sysregs.SCTLR_EL1.width: width must be 1, 2, 4 or 8',
    );
    // A wrong type is a LayoutError naming the field, not a TypeError from using it.
    const governsNotList = parse({ ...base, flags: { F: { offset: 32, mask: 1, governs: 'SCTLR_EL1' } } });
    expect(governsNotList).toThrow(LayoutError);
    expect(governsNotList).toThrow('flags.F.governs: expected a list');
    expect(parse({ ...base, sysregs: { MYREG: { offset: 0, encoding: { op0: 'x' } } } })).toThrow(
      'sysregs.MYREG.encoding.op0: expected a non-negative integer',
    );
  });

  it('rejects unknown keys with their path and the keys allowed there', () => {
    expect(parse({ ...base, flags: { LOADED: { offset: 32, mask: 1, govern: ['SCTLR_EL1'] } } })).toThrow(
      'l.json: flags.LOADED: unknown key "govern" (allowed: offset, width, mask, bit, equals, between, onEntry, governs, lazy, symbol, perPE, via, description)',
    );
    expect(parse({ ...base, modeSelector: {} })).toThrow(
      'l.json: (top level): unknown key "modeSelector" (allowed: format,',
    );
    expect(parse({ ...base, vcpus: [{ name: 'v0', address: 0, vm: 'vm1' }] })).toThrow(
      'vcpus[0]: unknown key "vm" (allowed: name, symbol, address, offset, vmid, description)',
    );
    expect(parse({ ...base, functions: { enter: { symbol: '__guest_enter' } } })).toThrow(
      'functions: unknown key "enter" (allowed: load, put)',
    );
    expect(parse({ ...base, functions: { load: { symbol: 'vcpu_load', vcpuArg: 'x0' } } })).toThrow(
      'functions.load: unknown key "vcpuArg" (allowed: symbol)',
    );
  });

  it('rejects an unknown register unless it has an encoding, suggesting the nearest names', () => {
    expect(parse({ ...base, sysregs: { TPIDR_EL: { offset: 0 } } })).toThrow(
      /^l\.json: sysregs\.TPIDR_EL: unknown register TPIDR_EL \(nearest: TPIDR_EL0, TPIDR_EL1, TPIDR_EL2\)/,
    );
    const impdef = parse({
      ...base,
      sysregs: { MY_IMPDEF: { offset: 0, encoding: { op0: 3, op1: 0, crn: 15, crm: 2, op2: 0 } } },
      flags: {},
    })();
    expect(impdef.slots.map((x) => [x.name, x.register])).toEqual([['MY_IMPDEF', undefined]]);
  });

  it('rejects duplicate vcpu names, registers given twice and overlapping slots or flags', () => {
    expect(
      parse({
        ...base,
        vcpus: [
          { name: 'v0', address: '0x40010000' },
          { name: 'v0', address: '0x40020000' },
        ],
      }),
    ).toThrow('l.json: vcpus: the name v0 is used twice');
    expect(parse({ ...base, sysregs: { SCTLR_EL1: { offset: 0 }, SCTLR_EL12: { offset: 8 } } })).toThrow(
      'sysregs.SCTLR_EL12: SCTLR_EL1 has a slot already',
    );
    expect(parse({ ...base, sysregs: { SCTLR_EL1: { offset: 0 }, TTBR0_EL1: { offset: 4 } } })).toThrow(
      'sysregs.TTBR0_EL1: its slot overlaps the slot of SCTLR_EL1',
    );
    expect(parse({ ...base, flags: { LOADED: { offset: 8, mask: 1, governs: [] } } })).toThrow(
      'flag LOADED: its word overlaps the slot of TTBR0_EL1',
    );
  });

  it('resolves _EL12 and _EL1 spellings to one register, in the layout and in queries', () => {
    const l = parse({
      ...base,
      sysregs: { SCTLR_EL12: { offset: 0 }, ttbr0_el1: { offset: 8 } },
      flags: { LOADED: { offset: 32, mask: 1, governs: ['SCTLR_EL1', 'TTBR0_EL12'] } },
    })();
    expect(l.slots.map((x) => x.name)).toEqual(['SCTLR_EL1', 'TTBR0_EL1']);
    expect(l.flags[0]!.governs).toEqual(['SCTLR_EL1', 'TTBR0_EL1']);
    const { w } = withLayout();
    expect(w.residency(w.vcpus[0]!, ['SCTLR_EL12', 'ttbr0_el1']).map((r) => r.reg)).toEqual(['SCTLR_EL1', 'TTBR0_EL1']);
  });

  it('places array slots, flag bits, absolute and per-PE flags, and follows one pointer', () => {
    const l = parse({
      format: 'hypstep-vcpu-layout',
      version: 1,
      discover: { function: 'kvm_arch_vcpu_load', arg: 'x0' },
      arrays: { sys_regs: { offset: 0x100, stride: 8 }, ext: { offset: 0x10, stride: 16, via: 0x40 } },
      sysregs: {
        SCTLR_EL1: { array: 'sys_regs', index: 1 },
        TTBR0_EL1: { array: 'sys_regs', index: 3, width: 4 },
        VBAR_EL1: { array: 'ext', index: 2 },
      },
      flags: {
        ON_CPU: { offset: 0x80, bit: 4, width: 4, governs: ['SCTLR_EL1'] },
        HOST: { perPE: 'host_data', offset: 8, bit: 0, governs: ['TTBR0_EL1'] },
        GLOBAL: { symbol: 'global_flags', via: 0, offset: 4, mask: '0x100', width: 4, governs: ['VBAR_EL1'] },
      },
    })();
    expect(l.vcpus).toEqual([]);
    expect(l.discover).toEqual({ function: 'kvm_arch_vcpu_load', arg: 0, prefix: 'vcpu' });
    const mem = new Map<bigint, bigint>([
      [0x5000_0040n, 0x5100_0000n], // the vcpu's pointer to its extension
      [0x6000_0000n, 0x6100_0000n], // global_flags points to the flags block
    ]);
    const env: BindEnv = {
      symbol: (n) => ({ host_data: 0x7000_0000n, global_flags: 0x6000_0000n })[n],
      phys: Number,
      pointer: (va) => mem.get(va) ?? 0n,
      peOffset: () => 0x1000n,
    };
    const v = bindVcpu(l, 'vcpu0', 0x5000_0000n, env);
    expect(v.slots.map((x) => [x.name, x.pa.toString(16), x.width])).toEqual([
      ['SCTLR_EL1', '50000108', 8],
      ['TTBR0_EL1', '50000118', 4],
      ['VBAR_EL1', '51000030', 8],
    ]);
    expect(v.flags.map((f) => [f.name, f.pa.toString(16), f.mask])).toEqual([
      ['ON_CPU', '50000080', 0x10n],
      ['HOST', '70001008', 1n],
      ['GLOBAL', '61000004', 0x100n],
    ]);
    expect(parse({ ...base, flags: { F: { offset: 32, bit: 40, width: 4, governs: [] } } })).toThrow(
      'flags.F: the bit must lie within the 4-byte word',
    );
    expect(parse({ ...base, sysregs: { SCTLR_EL1: { array: 'nope', index: 0 } }, flags: {} })).toThrow(
      'sysregs.SCTLR_EL1.array: no array "nope" in "arrays" (known: none)',
    );
    expect(parse({ ...base, discover: { function: 'f', arg: 'w0' } })).toThrow(
      'discover.arg: expected a register x0…x30',
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
        MY_IMPDEF: { offset: 24, encoding: { op0: 3, op1: 0, crn: 15, crm: 2, op2: 0 } },
      },
    };
    expect(parse(modes)).toThrow(/describes several modes \(plain, plain-deferred\)/);
    expect(parse(modes, { imagePath: '/x/h-plain-deferred.elf' })().flags.map((f) => f.governs)).toEqual([
      ['TTBR0_EL1'],
    ]);
    expect(parse(modes, { imagePath: '/x/other-plain-deferred-v2.elf' })().mode).toBe('plain-deferred');
    expect(parse(modes, { mode: 'plain' })().flags).toEqual([]);
    expect(parse(modes, { mode: 'plain' })().slots.find((x) => x.name === 'MY_IMPDEF')!.register).toBe(undefined);
  });
});
