// Mmu.probe, the walk a compiled load or store does on a TLB miss (Cpu.ramOffset): what translate
// would answer, filling the TLB the same way, but -1 instead of a fault, and no table read outside
// RAM (the access's executor then walks again and raises the fault, or reads the device).
import { describe, it, expect } from 'vitest';
import { Tables, newMachine, setReg, AF } from './tables.js';
import { AccessType } from '../../src/mmu/mmu.js';

describe('Mmu.probe', () => {
  it('walks and fills the TLB as translate does, and answers -1 where translate faults', () => {
    const m = newMachine();
    const cpu = m.cpu;
    const t = new Tables(m, 12, 39, 1, 0x4100_0000);
    setReg(cpu, 'MAIR_EL2', 0xffn);
    setReg(cpu, 'TCR_EL2', 25n | (5n << 16n));
    setReg(cpu, 'TTBR0_EL2', BigInt(t.root));
    setReg(cpu, 'SCTLR_EL2', 1n);
    t.map(0x1000_0000, 0x4200_0000, 3, AF);
    const walks = cpu.mmu.walks;
    expect(cpu.mmu.probe(0x1000_0010, 0, AccessType.Read, false)).toBe(0x4200_0010);
    expect(cpu.mmu.walks).toBe(walks + 1);
    // The entry it filled serves translate without a walk.
    expect(cpu.mmu.translate(0x1000_0ff8n, AccessType.Read, 0, false)).toBe(0x4200_0ff8);
    expect(cpu.mmu.walks).toBe(walks + 1);
    expect(() => cpu.mmu.translate(0x2000_0000n, AccessType.Read, 0, false)).toThrow();
    expect(cpu.mmu.probe(0x2000_0000, 0, AccessType.Read, false)).toBe(-1);
  });

  it('reads no table outside RAM', () => {
    const m = newMachine();
    const cpu = m.cpu;
    let reads = 0;
    m.bus.map(0x2000_0000, 0x1000, { name: 'counter', read: () => (reads++, 0n), write: () => {} });
    setReg(cpu, 'MAIR_EL2', 0xffn);
    setReg(cpu, 'TCR_EL2', 25n | (5n << 16n));
    setReg(cpu, 'TTBR0_EL2', 0x2000_0000n);
    setReg(cpu, 'SCTLR_EL2', 1n);
    expect(cpu.mmu.probe(0x1000_0000, 0, AccessType.Read, false)).toBe(-1);
    expect(reads).toBe(0);
    // translate reads the device's descriptor (zero: invalid, a translation fault).
    expect(() => cpu.mmu.translate(0x1000_0000n, AccessType.Read, 0, false)).toThrow();
    expect(reads).toBe(1);
  });
});
