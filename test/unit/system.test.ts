// System instructions on hypstep, one at a time: encodings from the GNU assembler,
// expected behaviour and syndromes from the ARM ARM (DDI 0487).
import { describe, it, expect } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exec, esrOf, sysIss, getReg, VECTORS } from '../exceptions/harness.js';
import { assemble } from '../helpers/asm.js';
import { requireTool } from '../helpers/tools.js';
import { decodeA64 } from '../../src/cpu/disasm.js';
import { describeEsr } from '../../src/cpu/syndrome.js';
import { HCR } from '../../src/sysregs/registry.js';

const EC = {
  UNKNOWN: 0,
  WFX: 1,
  ILLEGAL: 0x0e,
  SVC: 0x15,
  HVC: 0x16,
  SMC: 0x17,
  SYS: 0x18,
  DABORT_SAME: 0x25,
  BRK: 0x3c,
};
const bit = (n: number) => 1n << BigInt(n);
const UNDEF = esrOf(EC.UNKNOWN);

describe('MSR (immediate)', () => {
  it('DAIFSet/DAIFClr, SPSel and PAN change PSTATE', () => {
    const r = exec(['msr daifclr, #0xf', 'msr daifset, #0x5', 'msr spsel, #0', 'msr pan, #1'], { arch: 'armv8.1-a' });
    expect(r.taken).toEqual([]);
    expect(r.cpu.ps.daif).toBe(0x5);
    expect(r.cpu.ps.sp).toBe(0);
    expect(r.cpu.ps.pan).toBe(1);
  });

  it('UAO, SSBS, DIT and TCO are not implemented: UNDEFINED', () => {
    for (const insn of ['msr uao, #1', 'msr ssbs, #1', 'msr dit, #1', 'msr tco, #1']) {
      const r = exec([insn], { el: 1, arch: 'armv8.5-a+memtag+ssbs' });
      expect(r.taken[0], insn).toMatchObject({ toEL: 1, esr: UNDEF });
    }
  });

  it('SPSel and PAN are UNDEFINED at EL0; DAIFSet traps to EL1 without SCTLR_EL1.UMA, and to EL2 under TGE', () => {
    expect(exec(['msr spsel, #1'], { el: 0 }).taken[0]).toMatchObject({ toEL: 1, esr: UNDEF });
    expect(exec(['msr pan, #0'], { el: 0, arch: 'armv8.1-a' }).taken[0]).toMatchObject({ toEL: 1, esr: UNDEF });
    const iss = sysIss(0, 3, 4, 2, 6, 31, false);
    expect(exec(['msr daifset, #2'], { el: 0 }).taken[0]).toMatchObject({ toEL: 1, esr: esrOf(EC.SYS, iss) });
    expect(exec(['msr daifset, #2'], { el: 0, hcr: bit(HCR.TGE) }).taken[0]).toMatchObject({
      toEL: 2,
      esr: esrOf(EC.SYS, iss),
    });
    const ok = exec(['msr daifclr, #2'], { el: 0, regs: { SCTLR_EL1: 0x30d0_0800n | bit(9) } });
    expect(ok.taken).toEqual([]);
    expect(ok.cpu.ps.daif).toBe(0xd);
  });
});

describe('hints and barriers', () => {
  it('every HINT but WFI/WFE/SEV/SEVL executes as a NOP (PAC, BTI, ESB, PSB, CSDB, DGH and unallocated hints)', () => {
    const hints = Array.from({ length: 128 }, (_, i) => i)
      .filter((i) => i < 2 || i > 5)
      .map((i) => `hint #${i}`);
    const r = exec(hints, { el: 1 });
    expect(r.taken).toEqual([]);
    expect(r.done).toBe(hints.length);
    expect(r.cpu.x.every((v) => v === 0n)).toBe(true);
  });

  it('DMB, DSB (SSBB and PSSBB included), ISB and CLREX execute; SB, TCOMMIT and DSB nXS are not implemented', () => {
    const ok = exec(['dmb ish', 'dmb oshld', 'dsb sy', 'dsb nsh', 'ssbb', 'pssbb', 'isb', 'clrex', 'clrex #3'], {
      el: 0,
    });
    expect(ok.taken).toEqual([]);
    for (const insn of ['sb', 'tcommit', '.inst 0xd5033e3f' /* DSB nXS */]) {
      expect(exec([insn], { el: 1, arch: 'armv8.5-a+sb+tme' }).taken[0], insn).toMatchObject({ esr: UNDEF });
    }
  });

  it('CLREX clears the local exclusive monitor: the store-exclusive then fails', () => {
    const r = exec(['ldxr x1, [x0]', 'clrex', 'stxr w2, x3, [x0]'], { x: { 0: 0x4010_0000n } });
    expect(r.taken).toEqual([]);
    expect(r.cpu.x[2]).toBe(1n);
  });

  it('WFE consumes a set Event Register without trapping; with it clear, HCR_EL2.TWE traps (ISS CV=1 COND=0xE TI=1)', () => {
    const twe = bit(HCR.TWE);
    expect(exec(['sevl', 'wfe'], { el: 1, hcr: twe }).taken).toEqual([]);
    const r = exec(['sevl', 'wfe', 'wfe'], { el: 1, hcr: twe });
    expect(r.done).toBe(2);
    expect(r.taken[0]).toMatchObject({ toEL: 2, esr: esrOf(EC.WFX, (1 << 24) | (0xe << 20) | 1) });
  });

  it('WFI traps: EL0 to EL1 without SCTLR_EL1.nTWI (first), then to EL2 under HCR_EL2.TWI; none at EL2', () => {
    const wfiEsr = esrOf(EC.WFX, (1 << 24) | (0xe << 20));
    expect(exec(['wfi'], { el: 0, hcr: bit(HCR.TWI) }).taken[0]).toMatchObject({ toEL: 1, esr: wfiEsr });
    expect(
      exec(['wfi'], { el: 0, hcr: bit(HCR.TWI), regs: { SCTLR_EL1: 0x30d0_0800n | bit(16) } }).taken[0],
    ).toMatchObject({ toEL: 2, esr: wfiEsr });
    expect(exec(['wfi'], { el: 1 }).taken).toEqual([]);
    expect(exec(['wfi'], { el: 2, hcr: bit(HCR.TWI) }).taken).toEqual([]);
    // In a VHE host, EL0 is controlled by SCTLR_EL2.nTWI and traps to EL2; HCR_EL2.TWI does not apply.
    const host = bit(HCR.E2H) | bit(HCR.TGE);
    expect(exec(['wfi'], { el: 0, hcr: host, regs: { SCTLR_EL2: 0x30d0_0800n } }).taken[0]).toMatchObject({
      toEL: 2,
      esr: wfiEsr,
    });
    expect(
      exec(['wfi'], { el: 0, hcr: host | bit(HCR.TWI), regs: { SCTLR_EL2: 0x30d0_0800n | bit(16) } }).taken,
    ).toEqual([]);
  });
});

describe('exception-generating instructions', () => {
  it('SVC/HVC return to the next instruction, BRK and trapped SMC to themselves', () => {
    const svc = exec(['svc #0x42'], { el: 0 });
    expect(svc.taken[0]).toMatchObject({
      fromEL: 0,
      toEL: 1,
      esr: esrOf(EC.SVC, 0x42),
      elr: 0x4008_0004n,
      vector: VECTORS + 0x400n,
    });
    const hvc = exec(['hvc #7'], { el: 1 });
    expect(hvc.taken[0]).toMatchObject({ toEL: 2, esr: esrOf(EC.HVC, 7), elr: 0x4008_0004n, vector: VECTORS + 0x400n });
    const smc = exec(['smc #9'], { el: 1, hcr: bit(HCR.TSC) });
    expect(smc.taken[0]).toMatchObject({ toEL: 2, esr: esrOf(EC.SMC, 9), elr: 0x4008_0000n });
    const brk = exec(['brk #3'], { el: 2 });
    expect(brk.taken[0]).toMatchObject({ toEL: 2, esr: esrOf(EC.BRK, 3), elr: 0x4008_0000n, vector: VECTORS + 0x200n });
  });

  it('HVC is UNDEFINED at EL0 and, with HCR_EL2.HCD=1, at EL1 and EL2', () => {
    expect(exec(['hvc #0'], { el: 0 }).taken[0]).toMatchObject({ toEL: 1, esr: UNDEF });
    expect(exec(['hvc #0'], { el: 1, hcr: bit(HCR.HCD) }).taken[0]).toMatchObject({ toEL: 1, esr: UNDEF });
    expect(exec(['hvc #0'], { el: 2, hcr: bit(HCR.HCD) }).taken[0]).toMatchObject({ toEL: 2, esr: UNDEF });
  });

  it('BRK from EL1 goes to EL2 under MDCR_EL2.TDE (a debug exception), and EL0 exceptions under TGE', () => {
    expect(exec(['brk #1'], { el: 1, regs: { MDCR_EL2: bit(8) } }).taken[0]).toMatchObject({
      toEL: 2,
      esr: esrOf(EC.BRK, 1),
    });
    expect(exec(['udf #0'], { el: 0, hcr: bit(HCR.TGE) }).taken[0]).toMatchObject({ toEL: 2, esr: UNDEF });
  });

  it('HLT other than the semihosting call is UNDEFINED (halting debug is off); DCPS and DRPS too', () => {
    expect(exec(['hlt #1'], { el: 1 }).taken[0]).toMatchObject({ esr: UNDEF });
    for (const w of [0xd4a00001, 0xd4a00002, 0xd4a00003, 0xd6bf03e0]) {
      expect(exec([`.inst 0x${w.toString(16)}`], { el: 1 }).taken[0]).toMatchObject({ esr: UNDEF });
    }
  });
});

describe('ERET', () => {
  it('returns to ELR with PSTATE from SPSR, and sets the Event Register', () => {
    const r = exec(['eret'], { regs: { ELR_EL2: 0x4008_1000n, SPSR_EL2: 0xf000_0345n } });
    expect(r.taken).toEqual([]);
    expect(r.cpu.pcs[0]).toBe(0x4008_1000n);
    expect(r.cpu.ps).toMatchObject({ el: 1, sp: 1, daif: 0xd, n: 1, z: 1, c: 1, v: 1 });
    expect(r.cpu.eventRegister).toBe(true);
  });

  it('a legal return to AArch32 stops the machine: AArch32 execution is not implemented', () => {
    const el1 = exec(['eret'], { regs: { SPSR_EL2: 0x1d3n, HCR_EL2: 0n } }); // SVC mode; RW=0: EL1 is AArch32
    expect(el1.stop).toMatch(/AArch32 execution is not implemented/);
    const el0 = exec(['eret'], { regs: { SPSR_EL2: 0x10n } });
    expect(el0.stop).toMatch(/AArch32 execution is not implemented/);
  });

  it('illegal returns to AArch32 (Hyp mode; EL1 while HCR_EL2.RW=1) set PSTATE.IL, then EC 0x0e at EL2', () => {
    for (const spsr of [0x1dan, 0x1d3n]) {
      const r = exec(['eret', 'nop'], { regs: { SPSR_EL2: spsr, ELR_EL2: 0x4008_0004n } });
      expect(r.taken[0], spsr.toString(16)).toMatchObject({
        fromEL: 2,
        toEL: 2,
        esr: esrOf(EC.ILLEGAL),
        elr: 0x4008_0004n,
      });
      expect(getReg(r.cpu, 'SPSR_EL2') & bit(20)).toBe(bit(20)); // SPSR.IL
      expect(r.cpu.ps.il).toBe(0);
    }
  });

  it('is UNDEFINED at EL0', () => {
    expect(exec(['eret'], { el: 0 }).taken[0]).toMatchObject({ toEL: 1, esr: UNDEF });
  });
});

describe('SYS/SYSL: cache maintenance', () => {
  it('DC ZVA zeroes the 64-byte block holding the address', () => {
    const r = exec(['dc zva, x0'], {
      x: { 0: 0x4010_0047n },
      setup: (c) => {
        for (let i = 0; i < 0x100; i += 8) c.write(0x4010_0000n + BigInt(i), 8, 0x1111_1111_1111_1111n, 0);
      },
    });
    expect(r.taken).toEqual([]);
    const q = (a: number) => r.cpu.read(BigInt(a), 8, 0);
    expect([q(0x4010_0038), q(0x4010_0040), q(0x4010_0078), q(0x4010_0080)]).toEqual([
      0x1111_1111_1111_1111n,
      0n,
      0n,
      0x1111_1111_1111_1111n,
    ]);
  });

  it('a fault on a cache maintenance address reports CM=1 and WnR=1', () => {
    const r = exec(['dc civac, x0'], { x: { 0: 1n << 52n } });
    const esr = r.taken[0]!.esr;
    expect(esr >>> 26).toBe(EC.DABORT_SAME);
    expect(esr & (1 << 8)).toBe(1 << 8);
    expect(esr & (1 << 6)).toBe(1 << 6);
    expect(esr & (1 << 24)).toBe(0); // no instruction syndrome
  });

  it('EL0 may not use set/way or invalidate-only operations; UCI gates the others', () => {
    for (const insn of ['dc ivac, x0', 'dc isw, x0', 'dc csw, x0', 'dc cisw, x0', 'ic iallu', 'ic ialluis']) {
      expect(exec([insn], { el: 0, regs: { SCTLR_EL1: 0x30d0_0800n | bit(26) } }).taken[0], insn).toMatchObject({
        esr: UNDEF,
      });
    }
    const open = { SCTLR_EL1: 0x30d0_0800n | bit(26) };
    for (const insn of ['dc cvac, x0', 'dc cvau, x0', 'dc civac, x0', 'dc cvap, x0', 'ic ivau, x0']) {
      expect(exec([insn], { el: 0, regs: open, x: { 0: 0x4010_0000n }, arch: 'armv8.2-a' }).taken, insn).toEqual([]);
    }
  });

  it('every other SYS encoding and all of SYSL is UNDEFINED', () => {
    for (const insn of [
      'sys #0, c7, c5, #7, x4',
      'sys #3, c7, c13, #1, x0',
      'sys #0, c0, c0, #0, x0',
      'sysl x5, #1, c2, c3, #4',
    ]) {
      expect(exec([insn], { el: 1 }).taken[0], insn).toMatchObject({ esr: UNDEF });
    }
  });
});

describe('disassembly of system instructions matches objdump', () => {
  it('prints what objdump prints', () => {
    requireTool('aarch64-linux-gnu-objdump');
    const lines = [
      'mrs x0, sctlr_el1',
      'mrs x3, s3_0_c15_c2_0',
      'msr daifset, #2',
      'msr daifclr, #0xf',
      'msr spsel, #1',
      'msr pan, #1',
      'msr vbar_el2, x9',
      'nop',
      'yield',
      'wfe',
      'wfi',
      'sev',
      'sevl',
      'hint #6',
      'esb',
      'psb csync',
      'csdb',
      'bti c',
      'paciasp',
      'clrex',
      'clrex #5',
      'dsb sy',
      'dsb ish',
      'dmb ishld',
      'isb',
      'ssbb',
      'pssbb',
      'dc zva, x1',
      'dc civac, x2',
      'ic iallu',
      'ic ivau, x3',
      'dc cisw, x7',
      'sys #0, c7, c5, #7, x4',
      'svc #0',
      'hvc #0x5a5a',
      'smc #1',
      'brk #0x3e8',
      'hlt #0xf000',
      'eret',
      'mrs x1, cntv_cval_el02',
      'msr mair_el12, x2',
      'mrs x0, id_pfr0_el1',
    ];
    const img = assemble(`.arch armv8.5-a\n.text\n.global _start\n_start:\n${lines.join('\n')}\n`);
    const seg = img.segments.find((g) => g.vaddr <= img.entry && img.entry < g.vaddr + BigInt(g.data.length))!;
    const text = Buffer.from(seg.data).subarray(Number(img.entry - seg.vaddr));
    const words = lines.map((_, i) => text.readUInt32LE(i * 4));
    const dir = mkdtempSync(join(tmpdir(), 'hypstep-dis-'));
    try {
      const buf = Buffer.alloc(words.length * 4);
      words.forEach((w, i) => buf.writeUInt32LE(w >>> 0, i * 4));
      writeFileSync(join(dir, 'w.bin'), buf);
      const out = execFileSync(
        'aarch64-linux-gnu-objdump',
        ['-D', '-b', 'binary', '-m', 'aarch64', join(dir, 'w.bin')],
        { encoding: 'utf8' },
      );
      const theirs = out
        .split('\n')
        .filter((l) => /^\s+[0-9a-f]+:\t/.test(l))
        .map((l) => l.split('\t').slice(2).join('\t').trim());
      const ours = words.map((w) => {
        const e = decodeA64(w);
        return e?.asm ? e.asm(e.extract(w) as never, 0n) : `(no decoding of 0x${(w >>> 0).toString(16)})`;
      });
      expect(ours).toEqual(theirs);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('syndrome text', () => {
  it('names trapped DC/IC operations, MSR (immediate) and registers', () => {
    expect(describeEsr(esrOf(EC.SYS, sysIss(1, 3, 7, 4, 1, 21, false)))).toBe('trapped DC ZVA, x21');
    expect(describeEsr(esrOf(EC.SYS, sysIss(0, 3, 4, 2, 6, 31, false)))).toBe('trapped MSR DAIFSet, #2');
    expect(describeEsr(esrOf(EC.SYS, sysIss(3, 0, 0, 1, 0, 5, true)))).toBe('trapped MRS x5, ID_PFR0_EL1');
    expect(describeEsr(esrOf(EC.SYS, sysIss(3, 3, 14, 3, 2, 1, false)))).toBe('trapped MSR CNTV_CVAL_EL0, x1');
    expect(describeEsr(esrOf(EC.WFX, (1 << 24) | (0xe << 20) | 1))).toBe('trapped WFE');
    expect(describeEsr(esrOf(EC.ILLEGAL))).toBe('illegal execution state');
  });
});
