// The walker on tables built in RAM: every regime and stage, each granule, descriptor
// edge cases, permissions, the fault an access takes, the TLB and its maintenance.
// Expected values are from the ARM ARM (DDI 0487, chapter D8 "The AArch64 Virtual Memory
// System Architecture" and the AArch64.S1Walk/S2Walk pseudocode).
import { describe, it, expect } from 'vitest';
import {
  Tables,
  newMachine,
  setReg,
  setEL,
  AF,
  NG,
  CONTIG,
  PXN,
  UXN,
  AP_PRIV_RW,
  AP_RW,
  AP_PRIV_RO,
  AP_RO,
  S2_R,
  S2_W,
  S2_NORMAL,
  S2_DEVICE,
  ATTR,
} from './tables.js';
import { debugTranslate, staleTlbEntries } from '../../src/mmu/debug.js';
import { AccessType } from '../../src/mmu/mmu.js';
import { ArchException } from '../../src/pe/exception.js';
import type { Machine } from '../../src/board/machine.js';
import { tlbiScope, type TlbiOp } from '../../src/mmu/tlbi.js';

const POOL = 0x4100_0000;
const MAIR = 0x04ffn << 0n; // attr0 Normal WB, attr1 Device-nGnRE

/** TLBI `op` with operand `xt` on the machine's PE, as the instruction does it. */
function tlbi(m: Machine, op: TlbiOp, xt = 0n): void {
  m.cpu.mmu.invalidate(tlbiScope(m.cpu, op, xt));
}

/** The exception `fn` throws (an ArchException), or fails the test. */
function abortOf(fn: () => unknown): ArchException {
  try {
    fn();
  } catch (e) {
    if (e instanceof ArchException) return e;
    throw e;
  }
  throw new Error('expected an abort');
}

/** EL2 regime (E2H=0), 4K granule, 39-bit VA (start level 1), 48-bit PA. */
function el2Setup(granuleBits = 12, t0sz = 25, ps = 5): { m: Machine; t: Tables } {
  const m = newMachine();
  const inputSize = 64 - t0sz;
  const stride = granuleBits - 3;
  const start = 4 - Math.ceil((inputSize - granuleBits) / stride);
  const t = new Tables(m, granuleBits, inputSize, start, POOL);
  const tg = granuleBits === 12 ? 0n : granuleBits === 16 ? 1n : 2n;
  setReg(m.cpu, 'MAIR_EL2', MAIR);
  setReg(m.cpu, 'TCR_EL2', BigInt(t0sz) | (tg << 14n) | (BigInt(ps) << 16n));
  setReg(m.cpu, 'TTBR0_EL2', BigInt(t.root));
  setReg(m.cpu, 'SCTLR_EL2', 1n);
  return { m, t };
}

describe('stage 1, EL2 regime', () => {
  it('walks 4K tables to a 2 MiB block and a 4 KiB page, recording each level', () => {
    const { m, t } = el2Setup();
    t.map(0x0020_0000, 0x4020_0000, 2, AF | ATTR(0));
    t.map(0x0040_1000, 0x4050_3000, 3, AF | ATTR(1));
    const b = debugTranslate(m.cpu, 0x0023_4567n, 'el2');
    expect(b.fault).toBeNull();
    expect(b.pa).toBe(0x4023_4567);
    expect(b.levels.map((l) => [l.level, l.kind])).toEqual([
      [1, 'table'],
      [2, 'block'],
    ]);
    expect(b.stage1).toMatchObject({ level: 2, size: 2 * 1024 * 1024, memAttr: 0xff, memType: 'Normal WB/WB' });
    const p = debugTranslate(m.cpu, 0x0040_1abcn, 'el2');
    expect(p.pa).toBe(0x4050_3abc);
    expect(p.levels.map((l) => l.kind)).toEqual(['table', 'table', 'page']);
    expect(p.levels[0]!.tableAddress).toBe(t.root);
    expect(p.stage1).toMatchObject({ level: 3, memAttr: 0x04, memType: 'Device-nGnRE', privileged: 'rwx' });
    expect(m.cpu.mmu.translate(0x0040_1abcn, AccessType.Read, 0, false)).toBe(0x4050_3abc);
  });

  it('ignores the Contiguous hint (documented: permitted by the architecture)', () => {
    const { m, t } = el2Setup();
    // A lone page marked contiguous, without the other 15 of its group: still translates as itself.
    t.map(0x0040_3000, 0x4060_7000, 3, AF | CONTIG);
    const r = debugTranslate(m.cpu, 0x0040_3010n, 'el2');
    expect(r.pa).toBe(0x4060_7010);
    expect(r.stage1?.contiguous).toBe(true);
    expect(m.cpu.mmu.translate(0x0040_3010n, AccessType.Write, 0, false)).toBe(0x4060_7010);
  });

  it('AF = 0 gives an access flag fault at the leaf level, and is not cached', () => {
    const { m, t } = el2Setup();
    const d = t.map(0x0040_1000, 0x4050_3000, 3, 0n);
    expect(debugTranslate(m.cpu, 0x0040_1000n, 'el2').fault).toMatchObject({ fsc: 0x0b, stage: 1, level: 3 });
    const e = abortOf(() => m.cpu.mmu.translate(0x0040_1008n, AccessType.Write, 0, false));
    expect(e.targetEL).toBe(2);
    expect(e.esr >>> 26).toBe(0x25); // data abort, same EL
    expect(e.iss & 0x7f).toBe(0x4b); // WnR, DFSC = access flag, level 3
    expect(e.far).toBe(0x0040_1008n);
    t.write(d, t.read(d) | AF); // software sets AF: no TLBI needed since nothing was cached
    expect(m.cpu.mmu.translate(0x0040_1008n, AccessType.Write, 0, false)).toBe(0x4050_3008);
    const b = t.map(0x0060_0000, 0x4060_0000, 2, 0n);
    expect(debugTranslate(m.cpu, 0x0060_0000n, 'el2').fault?.fsc).toBe(0x0a);
    void b;
  });

  it('an output address beyond TCR_EL2.PS gives an address size fault at that level', () => {
    const { m, t } = el2Setup(12, 25, 0); // PS = 32 bits
    t.map(0x0020_0000, 0x1_0000_0000, 2, AF);
    expect(debugTranslate(m.cpu, 0x0020_0000n, 'el2').fault).toMatchObject({ fsc: 0x02, level: 2 });
    // A table descriptor pointing beyond the PA size: the fault is at the table's level.
    const slot = t.slot(0x0040_0000, 1);
    t.write(slot, 0x2_0000_0000n | 3n);
    expect(debugTranslate(m.cpu, 0x0040_0000n, 'el2').fault).toMatchObject({ fsc: 0x01, level: 1 });
    // A TTBR beyond the PA size: level 0.
    setReg(m.cpu, 'TTBR0_EL2', 0x1_0000_0000n);
    expect(debugTranslate(m.cpu, 0x0020_0000n, 'el2').fault).toMatchObject({ fsc: 0x00, level: 0 });
  });

  it('invalid and reserved descriptors give translation faults at their level', () => {
    const { m, t } = el2Setup();
    expect(debugTranslate(m.cpu, 0x0020_0000n, 'el2').fault).toMatchObject({ fsc: 0x05, level: 1 });
    t.slot(0x0020_0000, 2); // level-1 table now present, level-2 entry empty
    expect(debugTranslate(m.cpu, 0x0020_0000n, 'el2').fault?.fsc).toBe(0x06);
    // Level 3 with bits[1:0] = 01 is reserved.
    const a = t.slot(0x0020_0000, 3);
    t.write(a, 0x4000_0000n | AF | 1n);
    expect(debugTranslate(m.cpu, 0x0020_0000n, 'el2').fault?.fsc).toBe(0x07);
    // A VA above the 39-bit input range: level 0.
    expect(debugTranslate(m.cpu, 0x80_0000_0000n, 'el2').fault).toMatchObject({ fsc: 0x04, level: 0 });
  });

  it('AP[2] read-only, XN and SCTLR_EL2.WXN in the single-privilege regime', () => {
    const { m, t } = el2Setup();
    t.map(0x0040_0000, 0x4040_0000, 3, AF | AP_PRIV_RO);
    t.map(0x0040_1000, 0x4040_1000, 3, AF | UXN);
    t.map(0x0040_2000, 0x4040_2000, 3, AF);
    expect(debugTranslate(m.cpu, 0x0040_0000n, 'el2', 'write').fault?.fsc).toBe(0x0f);
    expect(debugTranslate(m.cpu, 0x0040_0000n, 'el2', 'fetch').fault).toBeNull();
    expect(debugTranslate(m.cpu, 0x0040_1000n, 'el2', 'fetch').fault?.fsc).toBe(0x0f);
    expect(debugTranslate(m.cpu, 0x0040_2000n, 'el2', 'fetch').fault).toBeNull();
    setReg(m.cpu, 'SCTLR_EL2', 1n | (1n << 19n));
    expect(debugTranslate(m.cpu, 0x0040_2000n, 'el2', 'fetch').fault?.fsc).toBe(0x0f);
    expect(debugTranslate(m.cpu, 0x0040_0000n, 'el2', 'fetch').fault).toBeNull();
    const e = abortOf(() => m.cpu.mmu.translate(0x0040_2000n, AccessType.Fetch, 0, false));
    expect(e.esr >>> 26).toBe(0x21);
    expect(e.iss & 0x3f).toBe(0x0f);
  });

  it('SCTLR_EL2.M = 0 is a flat mapping; VA bits above the PA size fault', () => {
    const { m } = el2Setup();
    setReg(m.cpu, 'SCTLR_EL2', 0n);
    expect(m.cpu.mmu.translate(0x4000_1234n, AccessType.Read, 0, false)).toBe(0x4000_1234);
    expect(abortOf(() => m.cpu.mmu.translate(0x1_0000_0000_0000n, AccessType.Read, 0, false)).iss & 0x3f).toBe(0x00);
  });

  it.each([
    [14, 17],
    [16, 22],
    [14, 25],
    [16, 34],
  ])('granule 2^%i with T0SZ %i: pages and blocks', (g, t0sz) => {
    const { m, t } = el2Setup(g, t0sz);
    const page = 2 ** g;
    const block = 2 ** (g + (g - 3));
    t.map(page * 3, 0x4200_0000 + page * 5, 3, AF);
    t.map(block, 0x4000_0000 + block * 1, 2, AF);
    expect(debugTranslate(m.cpu, BigInt(page * 3 + 0x123), 'el2').pa).toBe(0x4200_0000 + page * 5 + 0x123);
    const r = debugTranslate(m.cpu, BigInt(block + page + 8), 'el2');
    expect(r.pa).toBe(0x4000_0000 + block + page + 8);
    expect(r.stage1?.size).toBe(block);
    expect(m.cpu.mmu.translate(BigInt(page * 3 + 4), AccessType.Read, 0, false)).toBe(0x4200_0000 + page * 5 + 4);
  });
});

/** EL1&0 with TTBR0 and TTBR1 (39-bit halves, 4K), executing at EL1. */
function el1Setup(): { m: Machine; lo: Tables; hi: Tables } {
  const m = newMachine();
  const lo = new Tables(m, 12, 39, 1, POOL);
  const hi = new Tables(m, 12, 39, 1, POOL + 0x10_0000);
  setReg(m.cpu, 'HCR_EL2', 1n << 31n); // RW
  setReg(m.cpu, 'MAIR_EL1', MAIR);
  // T0SZ = T1SZ = 25, TG1 = 4K (0b10), IPS = 48 bits, AS = 16-bit ASIDs
  setReg(m.cpu, 'TCR_EL1', 25n | (25n << 16n) | (2n << 30n) | (5n << 32n) | (1n << 36n));
  setReg(m.cpu, 'TTBR0_EL1', BigInt(lo.root) | (5n << 48n));
  setReg(m.cpu, 'TTBR1_EL1', BigInt(hi.root));
  setReg(m.cpu, 'SCTLR_EL1', 1n);
  setEL(m.cpu, 1);
  return { m, lo, hi };
}

describe('stage 1, EL1&0 regime', () => {
  it('selects TTBR1 for the upper range, honours TBI0/1 and EPD1', () => {
    const { m, lo, hi } = el1Setup();
    hi.map(0x7f_ffe0_0000, 0x4060_0000, 2, AF); // VA 0xffff_ffff_ffe0_0000
    lo.map(0x1000, 0x4070_1000, 3, AF);
    expect(debugTranslate(m.cpu, 0xffff_ffff_ffe0_0040n, 'el1').pa).toBe(0x4060_0040);
    expect(debugTranslate(m.cpu, 0x1040n, 'el1').pa).toBe(0x4070_1040);
    // A tagged pointer faults (level 0) until TBI0 is set.
    expect(debugTranslate(m.cpu, 0x5a00_0000_0000_1040n, 'el1').fault).toMatchObject({ fsc: 0x04, level: 0 });
    const tcr = 25n | (25n << 16n) | (2n << 30n) | (5n << 32n) | (1n << 36n);
    setReg(m.cpu, 'TCR_EL1', tcr | (1n << 37n));
    expect(debugTranslate(m.cpu, 0x5a00_0000_0000_1040n, 'el1').pa).toBe(0x4070_1040);
    expect(m.cpu.mmu.translate(0x5a00_0000_0000_1040n, AccessType.Read, 0, false)).toBe(0x4070_1040);
    expect(m.cpu.branchAddr(0x5a00_0000_0000_1040n)).toBe(0x0000_0000_0000_1040n);
    expect(m.cpu.branchAddr(0x5aff_ffff_ffe0_0000n)).toBe(0x5aff_ffff_ffe0_0000n); // TBI1 clear
    setReg(m.cpu, 'TCR_EL1', tcr | (1n << 38n) | (1n << 23n)); // TBI1, EPD1
    expect(m.cpu.branchAddr(0x5aff_ffff_ffe0_0000n)).toBe(0xffff_ffff_ffe0_0000n);
    expect(debugTranslate(m.cpu, 0xffff_ffff_ffe0_0040n, 'el1').fault).toMatchObject({ fsc: 0x04, level: 0 });
  });

  it('AP and UXN/PXN for EL0 and EL1, EL0-writable implies PXN, PAN', () => {
    const { m, lo } = el1Setup();
    lo.map(0x1000, 0x4070_1000, 3, AF | AP_PRIV_RW);
    lo.map(0x2000, 0x4070_2000, 3, AF | AP_RW);
    lo.map(0x3000, 0x4070_3000, 3, AF | AP_PRIV_RO | UXN);
    lo.map(0x4000, 0x4070_4000, 3, AF | AP_RO | PXN);
    const perms = (va: number) => {
      const s = debugTranslate(m.cpu, BigInt(va), 'el1').stage1!;
      return `${s.el0} ${s.privileged}`;
    };
    expect(perms(0x1000)).toBe('--x rwx');
    expect(perms(0x2000)).toBe('rwx rw-');
    expect(perms(0x3000)).toBe('--- r-x');
    expect(perms(0x4000)).toBe('r-x r--');
    const mmu = m.cpu.mmu;
    expect(mmu.translate(0x2008n, AccessType.Read, 0, false)).toBe(0x4070_2008);
    m.cpu.ps.pan = 1;
    expect(abortOf(() => mmu.translate(0x2008n, AccessType.Read, 0, false)).iss & 0x3f).toBe(0x0f);
    // Not EL0-accessible: PAN does not apply.
    expect(mmu.translate(0x1008n, AccessType.Read, 0, false)).toBe(0x4070_1008);
    expect(mmu.translate(0x2008n, AccessType.Read, 0, true)).toBe(0x4070_2008); // LDTR is unprivileged
    m.cpu.ps.pan = 0;
    expect(abortOf(() => mmu.translate(0x1008n, AccessType.Read, 0, true)).iss & 0x3f).toBe(0x0f);
    setEL(m.cpu, 0);
    const e = abortOf(() => mmu.translate(0x3000n, AccessType.Read, 0, false));
    expect([e.targetEL, e.esr >>> 26, e.iss & 0x3f]).toEqual([1, 0x24, 0x0f]);
    expect(mmu.translate(0x4000n, AccessType.Fetch, 0, false)).toBe(0x4070_4000);
  });

  it('APTable and XNTable restrict the levels below', () => {
    const { m, lo } = el1Setup();
    lo.map(0x4000_0000, 0x4000_0000, 3, AF | AP_RW, (1n << 61n) | (1n << 60n)); // APTable[0]: no EL0; UXNTable
    const s = debugTranslate(m.cpu, 0x4000_0000n, 'el1').stage1!;
    // EL0 lost write access through APTable, so the EL0-writable ⇒ PXN rule no longer applies
    // (AArch64.S1DirectBasePermissions computes px from the hierarchical uw).
    expect(`${s.el0} ${s.privileged}`).toBe('--- rwx');
  });

  it('TLB: a cached translation survives a descriptor change until TLBI VAE1, tagged by ASID', () => {
    const { m, lo } = el1Setup();
    const d = lo.map(0x5000, 0x4070_5000, 3, AF | NG);
    const g = lo.map(0x6000, 0x4070_6000, 3, AF);
    const mmu = m.cpu.mmu;
    expect(mmu.translate(0x5010n, AccessType.Read, 0, false)).toBe(0x4070_5010);
    expect(mmu.translate(0x6010n, AccessType.Read, 0, false)).toBe(0x4070_6010);
    lo.write(d, 0x4080_5000n | AF | NG | 3n);
    lo.write(g, 0x4080_6000n | AF | 3n);
    expect(mmu.translate(0x5010n, AccessType.Read, 0, false)).toBe(0x4070_5010); // stale, as hardware may be
    const walks = mmu.walks;
    expect(debugTranslate(m.cpu, 0x5010n, 'el1').pa).toBe(0x4080_5010); // the debugger walks the tables
    expect(mmu.walks).toBe(walks); // ...without touching the TLB
    expect(mmu.translate(0x5010n, AccessType.Read, 0, false)).toBe(0x4070_5010);
    // Another ASID does not see ASID 5's nG entry.
    setReg(m.cpu, 'TTBR0_EL1', BigInt(lo.root) | (6n << 48n));
    expect(mmu.translate(0x5010n, AccessType.Read, 0, false)).toBe(0x4080_5010);
    // Back in ASID 5, its entries are still there; TLBI VAE1 for ASID 5 drops them, global included.
    lo.write(d, 0x4090_5000n | AF | NG | 3n);
    setReg(m.cpu, 'TTBR0_EL1', BigInt(lo.root) | (5n << 48n));
    expect(mmu.translate(0x5010n, AccessType.Read, 0, false)).toBe(0x4070_5010);
    tlbi(m, 'VAE1', (5n << 48n) | 0x5n);
    tlbi(m, 'VAE1', (5n << 48n) | 0x6n);
    expect(mmu.translate(0x5010n, AccessType.Read, 0, false)).toBe(0x4090_5010);
    expect(mmu.translate(0x6010n, AccessType.Read, 0, false)).toBe(0x4080_6010);
    // TLBI ASIDE1 drops the ASID's entries; VMALLE1 drops everything of the VMID.
    lo.write(d, 0x40a0_5000n | AF | NG | 3n);
    tlbi(m, 'ASIDE1', 5n << 48n);
    expect(mmu.translate(0x5010n, AccessType.Read, 0, false)).toBe(0x40a0_5010);
    expect(mmu.translate(0x6010n, AccessType.Read, 0, false)).toBe(0x4080_6010);
    lo.write(g, 0x40a0_6000n | AF | 3n);
    tlbi(m, 'VMALLE1');
    expect(mmu.translate(0x6010n, AccessType.Read, 0, false)).toBe(0x40a0_6010);
  });

  it('a TLBI by VA inside a block drops the whole block', () => {
    const { m, lo } = el1Setup();
    const d = lo.map(0x20_0000, 0x4020_0000, 2, AF);
    const mmu = m.cpu.mmu;
    expect(mmu.translate(0x2f_f000n, AccessType.Read, 0, false)).toBe(0x402f_f000);
    lo.write(d, 0x4040_0000n | AF | 1n);
    tlbi(m, 'VAAE1', 0x200n); // VA 0x20_0000, the block's first page
    expect(mmu.translate(0x2f_f000n, AccessType.Read, 0, false)).toBe(0x404f_f000);
  });
});

/** An EL1 guest: stage 1 identity-ish, stage 2 (4K, 40-bit IPA, start level 1) for RAM. */
function s2Setup(): { m: Machine; s1: Tables; s2: Tables } {
  const m = newMachine();
  const s1 = new Tables(m, 12, 39, 1, POOL);
  const s2 = new Tables(m, 12, 40, 1, POOL + 0x20_0000);
  setReg(m.cpu, 'MAIR_EL1', MAIR);
  setReg(m.cpu, 'TCR_EL1', 25n | (1n << 23n) | (5n << 32n));
  setReg(m.cpu, 'TTBR0_EL1', BigInt(s1.root));
  setReg(m.cpu, 'SCTLR_EL1', 1n);
  // VTCR: T0SZ = 24, SL0 = 1 (start level 1), TG0 = 4K, PS = 40 bits
  setReg(m.cpu, 'VTCR_EL2', 24n | (1n << 6n) | (2n << 16n));
  setReg(m.cpu, 'VTTBR_EL2', BigInt(s2.root) | (7n << 48n));
  setReg(m.cpu, 'HCR_EL2', (1n << 31n) | 1n); // RW, VM
  // Stage 2: IPA 0x4000_0000 + 1 GiB block → PA 0x4000_0000 (RAM incl. both table pools).
  s2.map(0x4000_0000, 0x4000_0000, 1, AF | S2_R | S2_W | S2_NORMAL);
  setEL(m.cpu, 1);
  return { m, s1, s2 };
}

describe('stage 2', () => {
  it('translates VA → IPA → PA and records both walks, stage-1 table fetches included', () => {
    const { m, s1, s2 } = s2Setup();
    s1.map(0x1000, 0x8000_3000, 3, AF); // IPA 0x8000_3000
    s2.map(0x8000_3000, 0x4300_0000, 3, AF | S2_R | S2_DEVICE);
    const r = debugTranslate(m.cpu, 0x1234n, 'el1');
    expect(r.ipa).toBe(0x8000_3234);
    expect(r.pa).toBe(0x4300_0234);
    expect(r.stage2).toMatchObject({ level: 3, memType: 'Device-nGnRE', el0: 'r-x' });
    expect(r.levels.filter((l) => l.forS1Walk).length).toBe(3); // one S2 level (a 1 GiB block) per S1 table fetch
    expect(r.levels.filter((l) => l.stage === 1).map((l) => l.level)).toEqual([1, 2, 3]);
    expect(debugTranslate(m.cpu, 0x8000_3010n, 'ipa').pa).toBe(0x4300_0010);
    expect(m.cpu.mmu.translate(0x1234n, AccessType.Read, 0, false)).toBe(0x4300_0234);
  });

  it('a stage-2 fault goes to EL2 with HPFAR, FAR and the load syndrome', () => {
    const { m, s1 } = s2Setup();
    s1.map(0x1000, 0x0900_0000, 3, AF | ATTR(1)); // IPA of an MMIO hole: no stage-2 mapping
    const syndrome = (1 << 24) | (2 << 22) | (5 << 16) | (0 << 15); // ISV, SAS = word, SRT = x5/w5, SF = 0
    const e = abortOf(() => m.cpu.mmu.translate(0x1004n, AccessType.Read, syndrome, false));
    expect(e.targetEL).toBe(2);
    expect(e.esr >>> 26).toBe(0x24);
    expect(e.iss).toBe(syndrome | 0x05); // translation fault, level 1 of stage 2
    expect(e.far).toBe(0x1004n);
    expect(e.hpfar).toBe((0x0900_0000n >> 12n) << 4n);
  });

  it('a stage-2 fault on a stage-1 table fetch reports S1PTW and the table IPA', () => {
    const { m, s1 } = s2Setup();
    const slot = s1.slot(0x3000, 2);
    s1.write(slot, 0x9000_0000n | 3n); // level-2 table at an IPA stage 2 does not map
    const e = abortOf(() => m.cpu.mmu.translate(0x3000n, AccessType.Write, 1 << 24, false));
    expect(e.targetEL).toBe(2);
    expect(e.iss).toBe((1 << 7) | 0x05); // S1PTW, no ISV, WnR 0 (the table fetch is a read)
    expect(e.hpfar).toBe((0x9000_0000n >> 12n) << 4n);
    expect(debugTranslate(m.cpu, 0x3000n, 'el1').fault).toMatchObject({
      stage: 2,
      s1ptw: true,
      fsc: 0x05,
      ipa: 0x9000_0018,
    });
  });

  it('S2AP write and XN permissions, and IPA out of the stage-2 input range', () => {
    const { m, s1, s2 } = s2Setup();
    s1.map(0x1000, 0x8000_1000, 3, AF);
    s2.map(0x8000_1000, 0x4400_1000, 3, AF | S2_R | UXN);
    expect(m.cpu.mmu.translate(0x1000n, AccessType.Read, 0, false)).toBe(0x4400_1000);
    const w = abortOf(() => m.cpu.mmu.translate(0x1000n, AccessType.Write, 0, false));
    expect([w.targetEL, w.iss & 0x7f]).toEqual([2, 0x4f]);
    const x = abortOf(() => m.cpu.mmu.translate(0x1000n, AccessType.Fetch, 0, false));
    expect([x.targetEL, x.esr >>> 26, x.iss & 0x3f]).toEqual([2, 0x20, 0x0f]);
    s1.map(0x2000, 0x100_0000_0000, 3, AF); // 2^40: beyond the 40-bit IPA space
    expect(debugTranslate(m.cpu, 0x2000n, 'el1').fault).toMatchObject({ stage: 2, fsc: 0x04, level: 0 });
  });

  it('VMID tagging: entries of another VMID are kept apart; VMALLS12E1 drops the current one', () => {
    const { m, s1, s2 } = s2Setup();
    s1.map(0x1000, 0x8000_1000, 3, AF);
    const d = s2.map(0x8000_1000, 0x4400_1000, 3, AF | S2_R | S2_W);
    const mmu = m.cpu.mmu;
    expect(mmu.translate(0x1000n, AccessType.Read, 0, false)).toBe(0x4400_1000);
    s2.write(d, 0x4500_1000n | AF | S2_R | S2_W | 3n);
    setReg(m.cpu, 'VTTBR_EL2', BigInt(s2.root) | (8n << 48n));
    expect(mmu.translate(0x1000n, AccessType.Read, 0, false)).toBe(0x4500_1000);
    setReg(m.cpu, 'VTTBR_EL2', BigInt(s2.root) | (7n << 48n));
    expect(mmu.translate(0x1000n, AccessType.Read, 0, false)).toBe(0x4400_1000);
    tlbi(m, 'VMALLS12E1');
    expect(mmu.translate(0x1000n, AccessType.Read, 0, false)).toBe(0x4500_1000);
  });

  it('VTCR_EL2.SL0 inconsistent with T0SZ: stage-2 translation fault, level 0', () => {
    const { m } = s2Setup();
    setReg(m.cpu, 'VTCR_EL2', 24n | (0n << 6n) | (2n << 16n)); // start level 2 cannot resolve 40 bits
    expect(debugTranslate(m.cpu, 0x4000_0000n, 'ipa').fault).toMatchObject({ stage: 2, fsc: 0x04 });
  });
});

describe('external aborts and the debugger view', () => {
  it('a table outside RAM gives a synchronous external abort on the walk, at that level', () => {
    const { m, t } = el2Setup();
    const slot = t.slot(0x0020_0000, 1);
    t.write(slot, 0x1000_0000n | 3n); // level-2 table at an unmapped PA
    expect(debugTranslate(m.cpu, 0x0020_0000n, 'el2').fault).toMatchObject({ fsc: 0x16, level: 2, stage: 1 });
    const e = abortOf(() => m.cpu.mmu.translate(0x0020_0000n, AccessType.Read, 0, false));
    expect([e.targetEL, e.iss & 0x3f]).toEqual([2, 0x16]);
    // A table in the UART's MMIO window: the debugger never reads devices.
    t.write(slot, 0x0900_0000n | 3n);
    expect(debugTranslate(m.cpu, 0x0020_0000n, 'el2').fault?.fsc).toBe(0x16);
  });

  it("names regimes: 'el2' follows E2H, 'el20' forces EL2&0, 'current' follows PSTATE, 'ipa' is stage 2 only", () => {
    const { m, s1, s2 } = s2Setup();
    s1.map(0x1000, 0x8000_1000, 3, AF);
    s2.map(0x8000_1000, 0x4400_1000, 3, AF | S2_R);
    expect(debugTranslate(m.cpu, 0x1008n, 'current')).toMatchObject({
      regime: 'EL1&0',
      ipa: 0x8000_1008,
      pa: 0x4400_1008,
    });
    expect(debugTranslate(m.cpu, 0x8000_1008n, 'ipa')).toMatchObject({ regime: 'stage 2', pa: 0x4400_1008 });
    // A stage-2 permission fault still says where the mapping leads.
    const w = debugTranslate(m.cpu, 0x1008n, 'el1', 'write');
    expect(w.fault).toMatchObject({ stage: 2, fsc: 0x0f });
    expect(w.pa).toBe(0x4400_1008);
    expect(debugTranslate(m.cpu, 0x1008n, 'el2').regime).toBe('EL2');
    setReg(m.cpu, 'HCR_EL2', (1n << 31n) | 1n | (1n << 34n));
    expect(debugTranslate(m.cpu, 0x1008n, 'el2').regime).toBe('EL2&0');
    expect(debugTranslate(m.cpu, 0x1008n, 'el20').regime).toBe('EL2&0');
    // EL0's view of an EL1-only page.
    const el0 = debugTranslate(m.cpu, 0x1008n, 'el1', 'read', { el0: true });
    expect(el0.fault).toMatchObject({ stage: 1, fsc: 0x0f });
  });
});

describe('the debugger through a stage-1 permission fault', () => {
  it('still gets the PA under stage 2 (a breakpoint written into read-only guest code)', () => {
    const { m, s1, s2 } = s2Setup();
    s1.map(0x1000, 0x8000_1000, 3, AF | AP_PRIV_RO);
    s2.map(0x8000_1000, 0x4400_1000, 3, AF | S2_R | S2_W);
    const w = debugTranslate(m.cpu, 0x1008n, 'el1', 'write');
    expect(w.fault).toMatchObject({ stage: 1, fsc: 0x0f });
    expect([w.ipa, w.pa]).toEqual([0x8000_1008, 0x4400_1008]);
    // The CPU takes the stage-1 fault, to EL1.
    const e = abortOf(() => m.cpu.mmu.translate(0x1008n, AccessType.Write, 0, false));
    expect([e.targetEL, e.iss & 0x7f]).toEqual([1, 0x4f]);
  });
});

describe('stage 2 details', () => {
  it('with the guest MMU off, the VA is the IPA and stage 2 still applies', () => {
    const { m, s2 } = s2Setup();
    setReg(m.cpu, 'SCTLR_EL1', 0n);
    s2.map(0x8000_5000, 0x4400_5000, 3, AF | S2_R | S2_W);
    expect(m.cpu.mmu.translate(0x8000_5008n, AccessType.Write, 0, false)).toBe(0x4400_5008);
    const r = debugTranslate(m.cpu, 0x8000_5008n, 'el1');
    expect([r.ipa, r.pa, r.stage1]).toEqual([0x8000_5008, 0x4400_5008, null]);
  });

  it('HCR_EL2.PTW: a stage-1 table in stage-2 Device memory is a stage-2 permission fault on the walk', () => {
    const { m, s1, s2 } = s2Setup();
    // Stage 1 for VA 0x20_0000 uses a level-3 table at IPA 0x8010_0000, Device at stage 2.
    const slot = s1.slot(0x20_0000, 2);
    s1.write(slot, 0x8010_0000n | 3n);
    s2.map(0x8010_0000, 0x4310_0000, 3, AF | S2_R | S2_W | S2_DEVICE);
    m.bus.ramView.setBigUint64(0x4310_0000 - m.bus.ramBase, 0x4320_0000n | AF | 3n, true); // IPA 0x4320_0000: RAM block
    expect(debugTranslate(m.cpu, 0x20_0000n, 'el1').pa).toBe(0x4320_0000);
    setReg(m.cpu, 'HCR_EL2', (1n << 31n) | 1n | (1n << 2n));
    expect(debugTranslate(m.cpu, 0x20_0000n, 'el1').fault).toMatchObject({
      stage: 2,
      s1ptw: true,
      fsc: 0x0f,
      level: 3,
    });
  });

  it('guest entries survive a world switch: exit to EL2 and back costs no stage-1/stage-2 walk', () => {
    const { m, s1, s2 } = s2Setup();
    s1.map(0x1000, 0x4050_1000, 3, AF);
    const mmu = m.cpu.mmu;
    expect(mmu.translate(0x1000n, AccessType.Read, 0, false)).toBe(0x4050_1000);
    setEL(m.cpu, 2); // an exit: EL2 with its MMU off
    expect(mmu.translate(0x4000_0000n, AccessType.Read, 0, false)).toBe(0x4000_0000);
    setEL(m.cpu, 1); // the guest again
    const walks = mmu.walks;
    expect(mmu.translate(0x1000n, AccessType.Read, 0, false)).toBe(0x4050_1000);
    expect(mmu.walks).toBe(walks);
    // Another guest (VMID 9) with the same registers otherwise does walk.
    setReg(m.cpu, 'VTTBR_EL2', BigInt(s2.root) | (9n << 48n));
    mmu.translate(0x1000n, AccessType.Read, 0, false);
    expect(mmu.walks).toBe(walks + 1);
  });
});

describe('TLB inspection', () => {
  it('lists cached entries and finds the ones a missing TLBI leaves stale', () => {
    const { m, s1, s2 } = s2Setup();
    s1.map(0x1000, 0x8000_1000, 3, AF | NG);
    const d2 = s2.map(0x8000_1000, 0x4400_1000, 3, AF | S2_R | S2_W);
    const mmu = m.cpu.mmu;
    mmu.translate(0x1000n, AccessType.Write, 0, false);
    const e = mmu.tlbEntries().find((t) => t.va === 0x1000n)!;
    expect(e).toMatchObject({ pa: 0x4400_1000, vmid: 7, asid: 0, fetch: false, current: true });
    expect(staleTlbEntries(m.cpu)).toEqual([]);
    // The hypervisor unmaps the page at stage 2 and forgets the TLBI.
    s2.write(d2, 0n);
    const stale = staleTlbEntries(m.cpu);
    expect(stale.length).toBe(1);
    expect(stale[0]).toMatchObject({ regime: 'EL1&0', walkPa: null, cachedPerms: '--x rwx' });
    expect(stale[0]!.walkFault).toMatchObject({ stage: 2, fsc: 0x07 });
    tlbi(m, 'VMALLS12E1');
    expect(staleTlbEntries(m.cpu)).toEqual([]);
  });
});
