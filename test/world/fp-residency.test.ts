// Residency of SIMD&FP state: V0–V31 (128-bit slots), FPSR, FPCR and FPEXC32_EL2 in a layout,
// governed by a flag of their own that a lazy FP switch sets on the guest's first FP trap. Driven
// as world.test.ts drives the layer: a real Cpu, stores and loads through its memory path, and the
// observer's exit/entry events.
import { guestCpu } from './guest-cpu.js';
import { describe, expect, it } from 'vitest';
import { Cpu } from '../../src/cpu/cpu.js';
import { PhysBus } from '../../src/board/bus.js';
import { SR, HCR, specOf } from '../../src/sysregs/registry.js';
import { writeSysreg } from '../../src/sysregs/access.js';
import { World } from '../../src/world/world.js';
import { parseLayout, bindLayout, canonicalName, type BindEnv } from '../../src/world/layout.js';

const PHYS: BindEnv = { symbol: () => undefined, phys: Number, pointer: () => 0n, peOffset: () => 0n };
const VCPU = 0x4001_0000n;
const FLAGS = VCPU + 0x308n;

/** A vcpu with an FP context (q0–q31 at 0x100, FPSR/FPCR after) governed by FP_LOADED. */
const layoutJson = (lazy: boolean) =>
  JSON.stringify({
    format: 'hypstep-vcpu-layout',
    version: 1,
    vcpus: [{ name: 'v0', address: '0x40010000', vmid: 3 }],
    arrays: { vregs: { offset: 0x100, stride: 16, width: 16 } },
    sysregs: {
      ...Object.fromEntries(Array.from({ length: 32 }, (_, i) => [`V${i}`, { array: 'vregs', index: i }])),
      FPSR: { offset: 0x300, width: 4 },
      FPCR: { offset: 0x304, width: 4 },
    },
    flags: {
      FP_LOADED: {
        offset: 0x308,
        bit: 0,
        governs: [...Array.from({ length: 32 }, (_, i) => `q${i}`), 'FPSR', 'FPCR'],
        ...(lazy ? { lazy: 'fp' } : {}),
      },
    },
  });

function machine(lazy = true): { cpu: Cpu; w: World } {
  const cpu = guestCpu();
  cpu.ps.el = 2;
  const w = new World([cpu]).attach();
  w.checking = true;
  w.stop = () => {};
  const layout = parseLayout(layoutJson(lazy));
  w.bind(layout, bindLayout(layout, PHYS));
  return { cpu, w };
}

/** Stores V[n] into its slot as STP/STR Q do: two doublewords. */
function saveQ(cpu: Cpu, n: number): void {
  const va = VCPU + 0x100n + 16n * BigInt(n);
  cpu.write(va, 8, cpu.v.d[2 * n]!, 0);
  cpu.write(va + 8n, 8, cpu.v.d[2 * n + 1]!, 0);
}
function loadQ(cpu: Cpu, n: number): void {
  const va = VCPU + 0x100n + 16n * BigInt(n);
  cpu.v.setQ(n, (cpu.read(va + 8n, 8, 0) << 64n) | cpu.read(va, 8, 0));
}
const q = (n: number) => (0x1111_0000_0000_0000_2222_0000_0000_0000n | BigInt(n)) << 1n;

const entry = (cpu: Cpu, w: World) => {
  cpu.ps.el = 1;
  w.pes[0]!.exceptionReturned({ fromEL: 2, toEL: 1, pc: 0x4000_1000n, spsr: 0x3c5 });
};

describe('SIMD&FP registers in a layout', () => {
  it('names V0–V31 (or q0–q31) as 16-byte slots, and FPSR, FPCR, FPEXC32_EL2 as system registers', () => {
    const l = parseLayout(layoutJson(true));
    const v5 = l.slots.find((s) => s.name === 'V5')!;
    expect([v5.width, v5.register, v5.place.offset]).toEqual([16, { kind: 'vreg', n: 5 }, 0x100 + 5 * 16]);
    expect(l.slots.find((s) => s.name === 'FPSR')!.register).toMatchObject({ kind: 'sysreg', spec: { name: 'FPSR' } });
    expect(l.flags[0]!.governs).toContain('V31');
    expect(l.flags[0]!.lazy).toBe('fp');
    expect([canonicalName('q5'), canonicalName('v31'), canonicalName('fpexc32_el2')]).toEqual([
      'V5',
      'V31',
      'FPEXC32_EL2',
    ]);
    const bad =
      (sysregs: object, more: object = {}) =>
      () =>
        parseLayout(
          JSON.stringify({
            format: 'hypstep-vcpu-layout',
            version: 1,
            vcpus: [{ name: 'a', address: 0 }],
            sysregs,
            ...more,
          }),
          { source: 'l.json' },
        );
    expect(bad({ V0: { offset: 0, width: 8 } })).toThrow('l.json: sysregs.V0.width: width must be 16');
    expect(bad({ Q0: { offset: 0 }, V1: { offset: 8 } })).toThrow('sysregs.V1: its slot overlaps the slot of V0');
    expect(bad({ q0: { offset: 0 }, V0: { offset: 16 } })).toThrow('sysregs.V0: V0 has a slot already');
    expect(bad({ V32: { offset: 0 } })).toThrow('sysregs.V32: unknown register V32');
    expect(bad({ V0: { array: 'a', index: 0 } }, { arrays: { a: { offset: 0, stride: 8 } } })).toThrow(
      'sysregs.V0: the array a holds 8-byte slots; V0 needs 16',
    );
    expect(
      bad({ SCTLR_EL1: { array: 'a', index: 0 } }, { arrays: { a: { offset: 0, stride: 16, width: 16 } } }),
    ).toThrow('sysregs.SCTLR_EL1: the array a holds 16-byte slots; SCTLR_EL1 needs 1, 2, 4 or 8');
    expect(bad({ V0: { offset: 0, encoding: { op0: 3, op1: 0, crn: 0, crm: 0, op2: 0 } } })).toThrow(
      'sysregs.V0.encoding: V0 is a SIMD&FP register, not a sysreg',
    );
    expect(bad({ V0: { offset: 0 } }, { flags: { F: { offset: 64, bit: 0, governs: ['V0'], lazy: 'sve' } } })).toThrow(
      'flags.F.lazy: the only lazy load hypstep knows is "fp" (on the SIMD&FP trap)',
    );
  });

  it('shows which copy of q5 is live as a lazy switch loads and puts the guest FP state', () => {
    const { cpu, w } = machine();
    const v = w.vcpus[0]!;
    for (let n = 0; n < 32; n++) cpu.v.setQ(n, BigInt(n) * 0x101n); // the host's registers
    // The guest's context, as the VMM left it.
    for (let n = 0; n < 32; n++) {
      const va = VCPU + 0x100n + 16n * BigInt(n);
      cpu.write(va, 8, BigInt.asUintN(64, q(n)), 0);
      cpu.write(va + 8n, 8, q(n) >> 64n, 0);
    }
    const row = () => w.residency(v, ['q5'])[0]!;
    expect(row()).toMatchObject({ reg: 'V5', authority: 'memory', cpu: 0x505n, memory: q(5), governedBy: 'FP_LOADED' });
    expect(row().verdict).toBe('memory live, CPU holds another value');
    // The first FP trap: load the guest's registers, then set the flag.
    for (let n = 0; n < 32; n++) loadQ(cpu, n);
    cpu.write(FLAGS, 8, 1n, 0);
    expect(row()).toMatchObject({ authority: 'cpu', cpu: q(5), verdict: 'in sync' });
    cpu.v.setQ(5, 0xabcdn); // the guest computes
    expect(row().verdict).toBe('CPU live, memory stale (expected while loaded)');
    // Put: save every register (two doublewords each), give the host its registers back, clear the flag.
    for (let n = 0; n < 32; n++) saveQ(cpu, n);
    for (let n = 0; n < 32; n++) cpu.v.setQ(n, BigInt(n) * 0x101n);
    cpu.write(FLAGS, 8, 0n, 0);
    expect(row()).toMatchObject({ authority: 'memory', cpu: 0x505n, memory: 0xabcdn });
    expect(w.recent.loadPut.toArray().map((r) => [r.type, r.flag])).toEqual([
      ['load', 'FP_LOADED'],
      ['put', 'FP_LOADED'],
    ]);
    expect(w.recent.hazards.toArray()).toEqual([]);
  });

  it('catches a put that forgets q5, a stale read of it, and a torn write of one half', () => {
    const { cpu, w } = machine();
    cpu.write(FLAGS, 8, 1n, 0); // a load with every register equal (all zero)
    for (let n = 0; n < 32; n++) cpu.v.setQ(n, q(n));
    cpu.pcs[1] = 0x4000_2000n;
    cpu.read(VCPU + 0x100n + 5n * 16n + 8n, 8, 0); // the high half of V5's slot while live on the CPU
    cpu.pcs[1] = 0x4000_2004n;
    cpu.write(VCPU + 0x100n + 5n * 16n, 8, 0x77n, 0); // the low half, a value the CPU does not hold
    for (let n = 0; n < 32; n++) if (n !== 5) saveQ(cpu, n);
    cpu.pcs[1] = 0x4000_2008n;
    cpu.write(FLAGS, 8, 0n, 0);
    expect(w.recent.hazards.toArray().map((h) => [h.kind, h.reg, h.pc, h.cpu, h.memory])).toEqual([
      ['stale-read', 'V5', 0x4000_2000n, q(5), 0n],
      ['lost-write', 'V5', 0x4000_2004n, q(5), 0x77n],
      ['partial-put', 'V5', 0x4000_2008n, q(5), 0x77n],
    ]);
    expect(w.recent.hazards.toArray()[2]!.message).toBe(
      `[hypstep] PE0: residency hazard: partial-put of V5 (v0) at 0x40002008: FP_LOADED cleared (a put completes) with V5 not saved: its slot holds 0x77, the CPU 0x${q(5).toString(16)}`,
    );
  });

  it('lets a lazy flag be clear at entry only while CPTR_EL2 traps the guest FP use', () => {
    const trapped = machine();
    trapped.cpu.sr[SR.CPTR_EL2!] = 0x400n; // TFP (nVHE layout)
    entry(trapped.cpu, trapped.w);
    expect(trapped.w.recent.hazards.toArray()).toEqual([]);

    const open = machine();
    entry(open.cpu, open.w);
    expect(open.w.recent.hazards.toArray().map((h) => [h.kind, h.reg, h.message])).toEqual([
      [
        'missing-load',
        'FP_LOADED',
        "[hypstep] PE0: residency hazard: missing-load of FP_LOADED (v0) at 0x0: ERET into v0 with FP_LOADED clear: 34 register(s) it governs (V0, V1, V2, V3, …) were never loaded, and CPTR_EL2 does not trap the guest's SIMD&FP use that would load them",
      ],
    ]);

    // VHE (E2H=1): CPTR_EL2.FPEN = 0b01 traps only EL0 with TGE set, so a guest EL1 is not trapped; 0b00 is.
    const vhe = machine();
    writeSysreg(vhe.cpu, specOf('HCR_EL2'), vhe.cpu.sr[SR.HCR_EL2!]! | (1n << BigInt(HCR.E2H)));
    vhe.cpu.sr[SR.CPTR_EL2!] = 1n << 20n;
    entry(vhe.cpu, vhe.w);
    expect(vhe.w.recent.hazards.total).toBe(1);
    vhe.cpu.ps.el = 2;
    vhe.cpu.sr[SR.CPTR_EL2!] = 0n;
    entry(vhe.cpu, vhe.w);
    expect(vhe.w.recent.hazards.total).toBe(1);

    // Without `lazy`, a clear flag at entry is a missing load whatever CPTR_EL2 says.
    const eager = machine(false);
    eager.cpu.sr[SR.CPTR_EL2!] = 0x400n;
    entry(eager.cpu, eager.w);
    expect(eager.w.recent.hazards.toArray().map((h) => h.kind)).toEqual(['missing-load']);
  });
});

describe('a fast re-entry', () => {
  /** One switched register (SCTLR_EL1), no flags: the nVHE shape. */
  function nvhe(): { cpu: Cpu; w: World } {
    const cpu = new Cpu(new PhysBus(0x4000_0000, 1 << 20));
    const hcrGuest = (1n << BigInt(HCR.VM)) | (1n << BigInt(HCR.RW));
    writeSysreg(cpu, specOf('HCR_EL2'), hcrGuest);
    cpu.ps.el = 2;
    const w = new World([cpu]).attach();
    w.checking = true;
    w.stop = () => {};
    const layout = parseLayout(
      JSON.stringify({
        format: 'hypstep-vcpu-layout',
        version: 1,
        vcpus: [{ name: 'v0', address: '0x40010000' }],
        sysregs: { SCTLR_EL1: { offset: 0 } },
      }),
    );
    w.bind(layout, bindLayout(layout, PHYS));
    return { cpu, w };
  }
  const fpTrap = (cpu: Cpu, w: World) => {
    cpu.ps.el = 2;
    w.pes[0]!.exceptionTaken({ fromEL: 1, toEL: 2, kind: 0, esr: 0x1fe0_0000, far: 0n, elr: 0x4000_1000n, vector: 0n });
  };

  it('from EL2 alone keeps the unsaved switched registers on the CPU; after the host ran below EL2 they must be restored', () => {
    const { cpu, w } = nvhe();
    cpu.sr[SR.SCTLR_EL1!] = 0n;
    entry(cpu, w);
    cpu.sr[SR.SCTLR_EL1!] = 0x1234n; // the guest changes it, then its FP use traps
    fpTrap(cpu, w);
    expect(w.pes[0]!.lastExit!.reason.category).toBe('fp');
    entry(cpu, w); // the hyp loaded the FP state and re-entered: SCTLR_EL1 never left the CPU
    expect(w.recent.hazards.toArray()).toEqual([]);
    fpTrap(cpu, w);
    // The split-mode host kernel runs at EL1 (HCR_EL2.VM clear) and calls the hyp back.
    writeSysreg(cpu, specOf('HCR_EL2'), 1n << BigInt(HCR.RW));
    cpu.ps.el = 1;
    w.pes[0]!.exceptionReturned({ fromEL: 2, toEL: 1, pc: 0x4010_0000n, spsr: 0x3c5 });
    cpu.ps.el = 2;
    w.pes[0]!.exceptionTaken({ fromEL: 1, toEL: 2, kind: 0, esr: 0x5a00_0000, far: 0n, elr: 0x4010_0004n, vector: 0n });
    writeSysreg(cpu, specOf('HCR_EL2'), (1n << BigInt(HCR.VM)) | (1n << BigInt(HCR.RW)));
    entry(cpu, w);
    expect(w.recent.hazards.toArray().map((h) => [h.kind, h.reg, h.cpu, h.memory])).toEqual([
      ['missing-load', 'SCTLR_EL1', 0x1234n, 0n],
    ]);
  });
});
