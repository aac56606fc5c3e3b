// The exception model: AArch64.TakeException (vectors, SPSR/ELR/ESR, PSTATE on entry),
// AArch64.ExceptionReturn (illegal returns, PSTATE.SS), and interrupt routing, against the ARM ARM.
import { describe, it, expect } from 'vitest';
import { exec, esrOf, getReg, VECTORS } from '../exceptions/harness.js';
import { HCR } from '../../src/sysregs/registry.js';
import { physicalInterruptTarget, virtualInterruptPending, VectorKind } from '../../src/pe/exception.js';

const bit = (n: number) => 1n << BigInt(n);
const SCTLR_EL1_BASE = 0x30d0_0800n; // SPAN (bit 23) set
const SPAN = bit(23);

describe('taking an exception', () => {
  it('uses the vector for current EL with SP0 / SPx, or lower EL AArch64', () => {
    expect(
      exec(['svc #0'], {
        el: 1,
        setup: (c) => {
          c.ps.sp = 0;
        },
      }).taken[0]!.vector,
    ).toBe(VECTORS + 0x000n);
    expect(exec(['svc #0'], { el: 1 }).taken[0]!.vector).toBe(VECTORS + 0x200n);
    expect(exec(['svc #0'], { el: 0 }).taken[0]!.vector).toBe(VECTORS + 0x400n);
  });

  it('saves PSTATE in SPSR and enters with DAIF masked, SPx, SS and IL clear', () => {
    const r = exec(['hvc #1'], {
      el: 1,
      setup: (c) => {
        c.ps.daif = 0;
        c.ps.nzcv = 0b1010;
        c.ps.sp = 0;
        c.ps.ss = 1;
        c.ps.pan = 1;
      },
    });
    expect(getReg(r.cpu, 'SPSR_EL2')).toBe(0xa000_0000n | bit(22) | bit(21) | 0x4n); // N, C, PAN, SS, EL1t
    expect(r.cpu.ps).toMatchObject({ el: 2, sp: 1, daif: 0xf, ss: 0, il: 0 });
    expect(getReg(r.cpu, 'ESR_EL2')).toBe(BigInt(esrOf(0x16, 1)));
    expect(getReg(r.cpu, 'ELR_EL2')).toBe(0x4008_0004n);
  });

  it('sets PSTATE.PAN on entry to EL1 when SCTLR_EL1.SPAN is 0, and to EL2 only in a VHE host', () => {
    const pan = (o: Parameters<typeof exec>[1]) => exec(['svc #0'], o).cpu.ps.pan;
    expect(pan({ el: 0, regs: { SCTLR_EL1: SCTLR_EL1_BASE & ~SPAN } })).toBe(1);
    expect(pan({ el: 0, regs: { SCTLR_EL1: SCTLR_EL1_BASE } })).toBe(0);
    expect(pan({ el: 2, regs: { SCTLR_EL2: 0n } })).toBe(0); // EL2 regime without E2H: PAN unchanged
    const host = bit(HCR.E2H) | bit(HCR.TGE);
    expect(pan({ el: 0, hcr: host, regs: { SCTLR_EL2: SCTLR_EL1_BASE & ~SPAN } })).toBe(1);
    expect(pan({ el: 0, hcr: host, regs: { SCTLR_EL2: SCTLR_EL1_BASE } })).toBe(0);
  });
});

describe('exception return', () => {
  it('restores PSTATE.SS only when software step is enabled at the target and not at the source', () => {
    const ret = (mdscr: bigint) =>
      exec(['eret'], {
        regs: { SPSR_EL2: 0x20_0000n | 0x3c0n, ELR_EL2: 0x4008_0000n, MDSCR_EL1: mdscr, OSLAR_EL1: 0n },
      }).cpu.ps.ss;
    expect(ret(1n)).toBe(1); // MDSCR_EL1.SS, EL0 target, EL2 source
    expect(ret(0n)).toBe(0);
    // The OS lock (set at reset) disables debug exceptions everywhere.
    expect(exec(['eret'], { regs: { SPSR_EL2: 0x20_03c0n, ELR_EL2: 0x4008_0000n, MDSCR_EL1: 1n } }).cpu.ps.ss).toBe(0);
  });

  it('an illegal return keeps EL and SP, takes the flags, masks and PAN from SPSR, and sets IL', () => {
    const r = exec(['eret'], { regs: { SPSR_EL2: 0x6040_000dn | bit(22), ELR_EL2: 0x4008_0000n } }); // EL3h: illegal
    expect(r.cpu.ps).toMatchObject({ el: 2, sp: 1, il: 1, pan: 1, daif: 0, z: 1, c: 1 });
    expect(r.cpu.pcs[0]).toBe(0x4008_0000n);
  });
});

describe('interrupt routing (for the interrupt sources to come)', () => {
  it('routes physical interrupts from EL0/EL1 to EL2 under IMO/FMO/AMO or TGE, unmasked there', () => {
    const r = exec(['nop'], { el: 1, hcr: bit(HCR.IMO) });
    const c = r.cpu;
    c.ps.daif = 0xf;
    expect(physicalInterruptTarget(c, VectorKind.Irq)).toBe(2); // to a higher EL: PSTATE.I does not mask
    expect(physicalInterruptTarget(c, VectorKind.Fiq)).toBe(-1); // to EL1, masked by PSTATE.F
    c.ps.daif = 0;
    expect(physicalInterruptTarget(c, VectorKind.Fiq)).toBe(1);
    c.ps.el = 2;
    expect(physicalInterruptTarget(c, VectorKind.SError)).toBe(-1); // routed to EL1 (AMO clear): not taken at EL2
    expect(physicalInterruptTarget(c, VectorKind.Irq)).toBe(2); // IMO: taken at EL2 while PSTATE.I is clear
    c.ps.daif = 0x2;
    expect(physicalInterruptTarget(c, VectorKind.Irq)).toBe(-1);
  });

  it('takes a virtual interrupt at EL1 only with the routing bit set, TGE clear and PSTATE unmasked', () => {
    const c = exec(['nop'], { el: 1, hcr: bit(HCR.IMO) | bit(HCR.VI) }).cpu;
    c.ps.daif = 0;
    expect(virtualInterruptPending(c, VectorKind.Irq)).toBe(true);
    expect(virtualInterruptPending(c, VectorKind.Fiq)).toBe(false);
    c.ps.daif = 0x2;
    expect(virtualInterruptPending(c, VectorKind.Irq)).toBe(false);
  });
});
