// The translation context across world switches: what a hypervisor's register writes between
// guest and host change, and what they leave. The context (regime, registers, ASID, VMID) is
// cached per EL; a write to a translation register recomputes only the regimes that read it,
// and a write of the value a register already holds recomputes nothing. The translations
// themselves must follow the registers exactly (fixtures/mmu and minihyp check them against QEMU).
import { describe, it, expect } from 'vitest';
import { Tables, newMachine, setReg, setEL, AF, S2_R, S2_W } from './tables.js';
import { AccessType } from '../../src/mmu/mmu.js';
import { HCR } from '../../src/sysregs/registry.js';
import type { Cpu } from '../../src/cpu/cpu.js';

const POOL = 0x4100_0000;
const read = (cpu: Cpu, va: number): number => cpu.mmu.translate(BigInt(va), AccessType.Read, 0, false);
const S2_RW = S2_R | S2_W | AF;
const HCR_RW = 1n << BigInt(HCR.RW);
const HCR_VM = 1n << BigInt(HCR.VM);
const HCR_TGE = 1n << BigInt(HCR.TGE);
const HCR_E2H = 1n << BigInt(HCR.E2H);

/** What `fn` costs: contexts computed and walks. */
function cost(cpu: Cpu, fn: () => void): { computes: number; walks: number } {
  const c = cpu.mmu.computes;
  const w = cpu.mmu.walks;
  fn();
  return { computes: cpu.mmu.computes - c, walks: cpu.mmu.walks - w };
}

/**
 * EL2's own tables (VA 0x1000 → 0x4200_1000, VA 0x2000 → 0x4200_2000 for privileged accesses
 * only), and two guests' EL1&0 tables (VA 0x1000 → IPA 0x0300_1000 or 0x0400_1000) under one
 * stage 2 that maps IPA 0 to PA 0x4000_0000 (so a translation shows whether stage 2 applied)
 * and the RAM holding the tables onto itself.
 */
function machine(e2h: boolean) {
  const m = newMachine();
  const cpu = m.cpu;
  const el2 = new Tables(m, 12, 39, 1, POOL);
  el2.map(0x1000, 0x4200_1000, 3, AF | (1n << 6n)); // AP=01: EL0 too
  el2.map(0x2000, 0x4200_2000, 3, AF); // AP=00: privileged only
  const guests = [0x0300_1000, 0x0400_1000].map((ipa, i) => {
    const t = new Tables(m, 12, 39, 1, POOL + (i + 1) * 0x10_0000);
    t.map(0x1000, ipa, 3, AF);
    return t;
  });
  const s2 = new Tables(m, 12, 32, 1, POOL + 0x30_0000);
  s2.map(0x0000_0000, 0x4000_0000, 1, S2_RW);
  s2.map(0x4000_0000, 0x4000_0000, 1, S2_RW);
  setReg(cpu, 'HCR_EL2', HCR_RW | (e2h ? HCR_E2H | HCR_TGE : 0n));
  setReg(cpu, 'MAIR_EL2', 0xffn);
  setReg(cpu, 'TCR_EL2', 25n | (5n << 16n) | (e2h ? 1n << 23n : 0n)); // EPD1 with E2H
  setReg(cpu, 'TTBR0_EL2', BigInt(el2.root));
  setReg(cpu, 'SCTLR_EL2', 1n);
  setReg(cpu, 'MAIR_EL1', 0xffn);
  setReg(cpu, 'TCR_EL1', 25n | (1n << 23n));
  setReg(cpu, 'SCTLR_EL1', 1n);
  setReg(cpu, 'VTCR_EL2', 32n | (1n << 6n) | (2n << 16n)); // T0SZ 32, SL0 level 1, 4K, PS 40 bits
  setEL(cpu, 2);
  return { m, cpu, guests, s2 };
}

/** A world switch into guest `g` as KVM makes it: EL1 registers and VTTBR_EL2 loaded, HCR_EL2 for the guest. */
function enter(cpu: Cpu, g: Tables, s2: Tables, vmid: bigint, e2h: boolean): void {
  setReg(cpu, 'TTBR0_EL1', BigInt(g.root));
  setReg(cpu, 'VTTBR_EL2', BigInt(s2.root) | (vmid << 48n));
  setReg(cpu, 'HCR_EL2', HCR_RW | HCR_VM | (e2h ? HCR_E2H : 0n));
  // The hypervisor runs on at EL2 under the guest's HCR_EL2 until its ERET.
  expect(read(cpu, 0x1010)).toBe(0x4200_1010);
  setEL(cpu, 1);
}

function exit(cpu: Cpu, e2h: boolean): void {
  setEL(cpu, 2);
  expect(read(cpu, 0x1010)).toBe(0x4200_1010);
  setReg(cpu, 'HCR_EL2', HCR_RW | (e2h ? HCR_E2H | HCR_TGE : 0n));
}

describe('the translation context across world switches', () => {
  for (const e2h of [false, true]) {
    const mode = e2h ? 'VHE' : 'nVHE';
    it(`${mode}: round trips into the same guest compute no context and walk nothing once warm`, () => {
      const { cpu, guests, s2 } = machine(e2h);
      const trip = (): void => {
        expect(read(cpu, 0x1010)).toBe(0x4200_1010);
        enter(cpu, guests[0]!, s2, 7n, e2h);
        expect(read(cpu, 0x1010)).toBe(0x4300_1010);
        exit(cpu, e2h);
      };
      trip();
      trip();
      // The registers are written again with the values they hold: nothing to recompute.
      expect(cost(cpu, () => [1, 2, 3].forEach(trip))).toEqual({ computes: 0, walks: 0 });
    });

    it(`${mode}: switching guests recomputes the EL1&0 context alone; each guest's translations follow its registers`, () => {
      const { cpu, guests, s2 } = machine(e2h);
      for (const [g, vmid] of [
        [0, 7n],
        [1, 8n],
        [0, 7n],
      ] as const) {
        expect(read(cpu, 0x1010)).toBe(0x4200_1010);
        enter(cpu, guests[g]!, s2, vmid, e2h);
        expect(read(cpu, 0x1010)).toBe(g === 0 ? 0x4300_1010 : 0x4400_1010);
        exit(cpu, e2h);
      }
      const c = cost(cpu, () => {
        expect(read(cpu, 0x1010)).toBe(0x4200_1010); // EL2: its context kept
        enter(cpu, guests[1]!, s2, 8n, e2h);
        expect(read(cpu, 0x1010)).toBe(0x4400_1010); // EL1: the other guest's, from the TLB
        exit(cpu, e2h);
        expect(read(cpu, 0x1010)).toBe(0x4200_1010);
      });
      expect(c).toEqual({ computes: 1, walks: 0 });
    });
  }

  it('a write of a translation register moves the epoch only when its value changes', () => {
    const { cpu, guests, s2 } = machine(false);
    enter(cpu, guests[0]!, s2, 7n, false);
    const epoch = cpu.mmu.epoch;
    setReg(cpu, 'VTTBR_EL2', BigInt(s2.root) | (7n << 48n));
    setReg(cpu, 'TTBR0_EL1', BigInt(guests[0]!.root));
    expect(cpu.mmu.epoch).toBe(epoch);
    setReg(cpu, 'VTTBR_EL2', BigInt(s2.root) | (9n << 48n));
    expect(cpu.mmu.epoch).toBe(epoch + 1);
  });

  it('stage 2 follows HCR_EL2.VM at EL1 while EL2 ignores it', () => {
    const { cpu, guests, s2 } = machine(false);
    enter(cpu, guests[0]!, s2, 7n, false);
    expect(read(cpu, 0x1010)).toBe(0x4300_1010);
    setEL(cpu, 2);
    setReg(cpu, 'HCR_EL2', HCR_RW); // VM off: the guest's IPA is its PA
    expect(read(cpu, 0x1010)).toBe(0x4200_1010);
    setEL(cpu, 1);
    expect(read(cpu, 0x1010)).toBe(0x0300_1010);
    setEL(cpu, 2);
    setReg(cpu, 'HCR_EL2', HCR_RW | HCR_VM);
    expect(read(cpu, 0x1010)).toBe(0x4200_1010);
    setEL(cpu, 1);
    expect(read(cpu, 0x1010)).toBe(0x4300_1010);
  });

  it("LDTR at a VHE EL2 checks EL0's permissions while TGE is set, as TGE flips with EL2's context kept", () => {
    const { cpu, guests, s2 } = machine(true);
    const unprivileged = (va: number): number => cpu.mmu.translate(BigInt(va), AccessType.Read, 0, true);
    for (let i = 0; i < 2; i++) {
      expect(unprivileged(0x1010)).toBe(0x4200_1010);
      expect(() => unprivileged(0x2010)).toThrow(); // a permission fault: EL0 may not read it
      expect(read(cpu, 0x2010)).toBe(0x4200_2010);
      enter(cpu, guests[0]!, s2, 7n, true);
      setEL(cpu, 2); // TGE clear: an ordinary access
      expect(unprivileged(0x2010)).toBe(0x4200_2010);
      exit(cpu, true);
    }
  });
});
