// TLB maintenance by VA, ASID and VMID on the TLB itself: what each operation must drop (the
// architecture: ARM ARM D8.13 "TLB maintenance instructions"), what it leaves (a TLB may drop
// more, this one does not: entries outside the scope survive, counted in walks), and what it
// costs (entries examined, in proportion to what it can remove rather than to the TLB's size).
// fixtures/mmu/tlbi.S checks the "must drop" cases against QEMU (test/mmu/fixtures.test.ts).
import { describe, it, expect } from 'vitest';
import { Tables, newMachine, setReg, setEL, AF, NG, S2_R, S2_W } from './tables.js';
import { AccessType } from '../../src/mmu/mmu.js';
import { tlbiScope, type TlbiOp } from '../../src/mmu/tlbi.js';
import { Machine } from '../../src/board/machine.js';
import type { Cpu } from '../../src/cpu/cpu.js';
import { tlbiCampaign } from './tlbi-random.js';

const POOL = 0x4100_0000;
const read = (cpu: Cpu, va: number): number => cpu.mmu.translate(BigInt(va), AccessType.Read, 0, false);

function tlbi(cpu: Cpu, op: TlbiOp, xt = 0n, peers: readonly Cpu[] = [cpu]): void {
  const scope = tlbiScope(cpu, op, xt);
  for (const pe of peers) pe.mmu.invalidate(scope);
}

/** Runs `fn` and returns how many entries TLB maintenance examined and how many walks followed. */
function cost(cpu: Cpu, fn: () => void): { probes: number; walks: number } {
  const p = cpu.mmu.tlb.probes;
  const w = cpu.mmu.walks;
  fn();
  return { probes: cpu.mmu.tlb.probes - p, walks: cpu.mmu.walks - w };
}

/** EL2 (E2H = 0), 4K granule, 39-bit VA. */
function el2(m: Machine, cpu: Cpu = m.cpu): Tables {
  const t = new Tables(m, 12, 39, 1, POOL + cpu.index * 0x40_0000);
  setReg(cpu, 'MAIR_EL2', 0xffn);
  setReg(cpu, 'TCR_EL2', 25n | (5n << 16n));
  setReg(cpu, 'TTBR0_EL2', BigInt(t.root));
  setReg(cpu, 'SCTLR_EL2', 1n);
  return t;
}

/** EL1&0 at EL1 with 16-bit ASIDs (ASID 5), optionally under stage 2 with VMID 7. */
function el1(m: Machine, stage2 = false): { s1: Tables; s2: Tables | null } {
  const cpu = m.cpu;
  const s1 = new Tables(m, 12, 39, 1, POOL);
  setReg(cpu, 'MAIR_EL1', 0xffn);
  setReg(cpu, 'TCR_EL1', 25n | (1n << 23n) | (5n << 32n) | (1n << 36n));
  setReg(cpu, 'TTBR0_EL1', BigInt(s1.root) | (5n << 48n));
  setReg(cpu, 'SCTLR_EL1', 1n);
  let s2: Tables | null = null;
  if (stage2) {
    s2 = new Tables(m, 12, 40, 1, POOL + 0x80_0000);
    setReg(cpu, 'VTCR_EL2', 24n | (1n << 6n) | (2n << 16n));
    setReg(cpu, 'VTTBR_EL2', BigInt(s2.root) | (7n << 48n));
    s2.map(0x4000_0000, 0x4000_0000, 1, AF | S2_R | S2_W);
    setReg(cpu, 'HCR_EL2', (1n << 31n) | 1n);
  } else setReg(cpu, 'HCR_EL2', 1n << 31n);
  setEL(cpu, 1);
  return { s1, s2 };
}

describe('TLBI by VA costs what it can remove', () => {
  it('a page among 3000 cached ones: two entries examined (one per half), the others kept', () => {
    const m = newMachine();
    const t = el2(m);
    for (let i = 0; i < 3000; i++) t.map(0x1000_0000 + i * 0x1000, 0x4200_0000 + i * 0x1000, 3, AF);
    for (let i = 0; i < 3000; i++) read(m.cpu, 0x1000_0000 + i * 0x1000);
    t.map(0x1000_0000 + 7 * 0x1000, 0x4300_0000, 3, AF);
    const c = cost(m.cpu, () => tlbi(m.cpu, 'VAE2', BigInt(0x1000_0000 / 4096 + 7)));
    expect(c.probes).toBe(2);
    expect(read(m.cpu, 0x1000_7010)).toBe(0x4300_0010);
    // One walk for the page the TLBI dropped, none for the others.
    expect(cost(m.cpu, () => read(m.cpu, 0x1000_0000 + 1234 * 0x1000)).walks).toBe(0);
    expect(m.cpu.mmu.walks).toBe(3001);
  });

  it('blocks: only a TLBI inside a cached block looks at its other pages', () => {
    const m = newMachine();
    const t = el2(m);
    const d = t.map(0x0020_0000, 0x4020_0000, 2, AF); // 2 MiB
    t.map(0x0040_0000, 0x4060_0000, 3, AF);
    read(m.cpu, 0x0021_0000);
    read(m.cpu, 0x002f_f000);
    read(m.cpu, 0x0040_0000);
    // Outside the block: the page's own index only.
    expect(cost(m.cpu, () => tlbi(m.cpu, 'VAE2', 0x400n)).probes).toBe(2);
    expect(cost(m.cpu, () => read(m.cpu, 0x0021_0000)).walks).toBe(0);
    // Inside: the block's 512 pages, in both halves.
    t.write(d, 0x4040_0000n | AF | 1n);
    expect(cost(m.cpu, () => tlbi(m.cpu, 'VALE2', 0x234n)).probes).toBe(1024);
    expect(read(m.cpu, 0x0021_0000)).toBe(0x4041_0000);
    expect(read(m.cpu, 0x002f_f000)).toBe(0x404f_f000);
  });

  it('a 1 GiB block costs one pass over the index space, and drops every page cached from it', () => {
    const m = newMachine();
    const t = el2(m);
    const d = t.map(0x4000_0000, 0x4000_0000, 1, AF);
    for (let i = 0; i < 64; i++) read(m.cpu, 0x4000_0000 + i * 0x20_0000);
    t.write(d, 0n);
    expect(cost(m.cpu, () => tlbi(m.cpu, 'VAE2', 0x7_ffffn)).probes).toBe(8192);
    for (let i = 0; i < 64; i++) expect(() => read(m.cpu, 0x4000_0000 + i * 0x20_0000)).toThrow();
  });

  it('in many address spaces: the salts its entries can be under, not the whole TLB', () => {
    const m = newMachine();
    const { s1 } = el1(m);
    s1.map(0x1000, 0x4200_1000, 3, AF | NG);
    for (let asid = 1n; asid <= 50n; asid++) {
      setReg(m.cpu, 'TTBR0_EL1', BigInt(s1.root) | (asid << 48n));
      read(m.cpu, 0x1000);
    }
    // ASID 3's own entry, and where ASID 3's global entries would be: 2 indices, 2 halves.
    expect(cost(m.cpu, () => tlbi(m.cpu, 'VAE1', (3n << 48n) | 1n)).probes).toBe(4);
    // Every ASID's copy, and nothing else dropped.
    expect(cost(m.cpu, () => tlbi(m.cpu, 'VAAE1', 1n)).probes).toBeLessThanOrEqual(2 * 51);
    expect(cost(m.cpu, () => read(m.cpu, 0x1000)).walks).toBe(1);
  });
});

describe('TLBI scope', () => {
  it('VAE1 drops one ASID and the global entries, keeps other ASIDs; ASIDE1 keeps the global ones', () => {
    const m = newMachine();
    const { s1 } = el1(m);
    s1.map(0x1000, 0x4200_1000, 3, AF | NG);
    s1.map(0x2000, 0x4200_2000, 3, AF);
    const asid = (a: bigint) => setReg(m.cpu, 'TTBR0_EL1', BigInt(s1.root) | (a << 48n));
    for (const a of [5n, 6n]) {
      asid(a);
      read(m.cpu, 0x1000);
      read(m.cpu, 0x2000);
    }
    tlbi(m.cpu, 'VAE1', (5n << 48n) | 1n);
    tlbi(m.cpu, 'VAE1', (5n << 48n) | 2n);
    expect(cost(m.cpu, () => read(m.cpu, 0x1000)).walks).toBe(0); // ASID 6's own entry
    expect(cost(m.cpu, () => read(m.cpu, 0x2000)).walks).toBe(1); // global: gone for everyone
    asid(5n);
    expect(cost(m.cpu, () => read(m.cpu, 0x1000)).walks).toBe(1);
    tlbi(m.cpu, 'ASIDE1', 5n << 48n);
    expect(cost(m.cpu, () => read(m.cpu, 0x2000)).walks).toBe(1); // under ASID 5's salt: refilled
    expect(cost(m.cpu, () => read(m.cpu, 0x1000)).walks).toBe(1);
    asid(6n);
    expect(cost(m.cpu, () => read(m.cpu, 0x1000)).walks).toBe(0);
  });

  it('from EL2, the EL1 forms act on the current VMID only', () => {
    const m = newMachine();
    const { s1, s2 } = el1(m, true);
    s1.map(0x1000, 0x4200_1000, 3, AF);
    const vmid = (v: bigint) => setReg(m.cpu, 'VTTBR_EL2', BigInt(s2!.root) | (v << 48n));
    read(m.cpu, 0x1000);
    vmid(8n);
    read(m.cpu, 0x1000);
    setEL(m.cpu, 2);
    tlbi(m.cpu, 'VAAE1', 1n); // VMID 8
    setEL(m.cpu, 1);
    expect(cost(m.cpu, () => read(m.cpu, 0x1000)).walks).toBe(1);
    vmid(7n);
    expect(cost(m.cpu, () => read(m.cpu, 0x1000)).walks).toBe(0);
    setEL(m.cpu, 2);
    tlbi(m.cpu, 'ALLE1');
    setEL(m.cpu, 1);
    expect(cost(m.cpu, () => read(m.cpu, 0x1000)).walks).toBe(1);
  });

  it('VHE: TLBI VAE2 in EL2&0 takes the ASID from the operand', () => {
    const m = newMachine();
    const t = new Tables(m, 12, 39, 1, POOL);
    const cpu = m.cpu;
    setReg(cpu, 'HCR_EL2', (1n << 34n) | (1n << 27n) | (1n << 31n)); // E2H, TGE, RW
    setReg(cpu, 'MAIR_EL2', 0xffn);
    setReg(cpu, 'TCR_EL2', 25n | (1n << 23n) | (5n << 32n) | (1n << 36n));
    setReg(cpu, 'SCTLR_EL2', 1n);
    t.map(0x1000, 0x4200_1000, 3, AF | NG);
    for (const a of [3n, 4n]) {
      setReg(cpu, 'TTBR0_EL2', BigInt(t.root) | (a << 48n));
      read(cpu, 0x1000);
    }
    tlbi(cpu, 'VAE2', (3n << 48n) | 1n);
    expect(cost(cpu, () => read(cpu, 0x1000)).walks).toBe(0); // ASID 4, current
    setReg(cpu, 'TTBR0_EL2', BigInt(t.root) | (3n << 48n));
    expect(cost(cpu, () => read(cpu, 0x1000)).walks).toBe(1);
  });

  it("Inner Shareable: every PE applies the issuer's scope (its VMID), by page", () => {
    const m = new Machine({ memory: 64 * 1024 * 1024, smp: 2, uartOut: () => {} });
    const [pe0, pe1] = [m.pes[0]!, m.pes[1]!];
    for (const pe of [pe0, pe1]) {
      const t = el2(m, pe);
      t.map(0x1000, 0x4200_1000, 3, AF);
      t.map(0x2000, 0x4200_2000, 3, AF);
      read(pe, 0x1000);
      read(pe, 0x2000);
    }
    tlbi(pe0, 'VAE2', 1n, m.pes);
    for (const pe of [pe0, pe1]) {
      expect(cost(pe, () => read(pe, 0x1000)).walks).toBe(1);
      expect(cost(pe, () => read(pe, 0x2000)).walks).toBe(0);
    }
  });
});

describe('TLBI against a walk of the tables (random; npm run soak runs it longer)', () => {
  it('two PEs, three ASIDs, blocks and pages: no entry outlives the TLBI that covers its change', () => {
    const r = tlbiCampaign(0x5eed_71b1, 4000);
    expect(r.changes).toBeGreaterThan(500);
    expect(r.accesses).toBeGreaterThan(1000);
  });
});
