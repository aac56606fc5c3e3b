// The system-register table and its accessors: encodings checked against the GNU
// assembler, access rules and traps against the ARM ARM (DDI 0487).
import { describe, it, expect } from 'vitest';
import { exec, esrOf, sysIss, getReg, setReg } from '../exceptions/harness.js';
import { assemble } from '../helpers/asm.js';
import { SYSREGS, HCR, sysregByName } from '../../src/sysregs/registry.js';
import { ID_VALUES } from '../../src/sysregs/special.js';
import { PA_BITS } from '../../src/mmu/regime.js';

const EC_SYS = 0x18;
const UNDEF = esrOf(0);
const bit = (n: number) => 1n << BigInt(n);
const field = (v: bigint, lsb: number, w = 4) => Number((v >> BigInt(lsb)) & ((1n << BigInt(w)) - 1n));
const E2H = bit(HCR.E2H),
  TGE = bit(HCR.TGE);

/** Names newer than binutils 2.40, checked through their generic S<op0>_<op1>_C<n>_C<m>_<op2> form. */
const UNKNOWN_TO_GAS = new Set(['ID_AA64PFR2_EL1', 'ID_AA64MMFR3_EL1', 'ID_AA64MMFR4_EL1']);

describe('the table', () => {
  it('has the encodings the assembler gives every name', () => {
    const regs = SYSREGS.filter((s) => !UNKNOWN_TO_GAS.has(s.name));
    const lines = regs.map((s) => (s.access === 'wo' ? `msr ${s.name}, x0` : `mrs x0, ${s.name}`));
    const img = assemble(`.arch armv8.5-a+sve+sme\n.text\n.global _start\n_start:\n${lines.join('\n')}\n`);
    const seg = img.segments.find((g) => g.vaddr <= img.entry && img.entry < g.vaddr + BigInt(g.data.length))!;
    const text = Buffer.from(seg.data).subarray(Number(img.entry - seg.vaddr));
    const got = regs.map((s, i) => `${s.name} ${((text.readUInt32LE(i * 4) >>> 5) & 0xffff).toString(16)}`);
    expect(got).toEqual(regs.map((s) => `${s.name} ${s.key.toString(16)}`));
  });

  it('covers the EL1 state a VHE hypervisor switches, each with its _EL12 alias and EL2 redirection', () => {
    const kvmEl1 = [
      'SCTLR',
      'CPACR',
      'TTBR0',
      'TTBR1',
      'TCR',
      'ESR',
      'AFSR0',
      'AFSR1',
      'FAR',
      'MAIR',
      'AMAIR',
      'VBAR',
      'CONTEXTIDR',
      'CNTKCTL',
      'SPSR',
      'ELR',
    ];
    for (const base of kvmEl1) {
      const s = sysregByName(`${base}_EL1`)!;
      expect(s.vhe, base).toBeDefined();
      expect(sysregByName(`${base}_EL12`)?.aliasOf, base).toBe(`${base}_EL1`);
    }
    for (const name of [
      'ACTLR_EL1',
      'TPIDR_EL0',
      'TPIDR_EL1',
      'TPIDRRO_EL0',
      'PAR_EL1',
      'MDSCR_EL1',
      'SP_EL1',
      'CSSELR_EL1',
      'DACR32_EL2',
      'IFSR32_EL2',
      'FPEXC32_EL2',
      'HCR_EL2',
      'SCTLR_EL2',
      'TCR_EL2',
      'TTBR0_EL2',
      'TTBR1_EL2',
      'VTTBR_EL2',
      'VTCR_EL2',
      'VBAR_EL2',
      'ESR_EL2',
      'FAR_EL2',
      'HPFAR_EL2',
      'ELR_EL2',
      'SPSR_EL2',
      'CPTR_EL2',
      'MDCR_EL2',
      'VPIDR_EL2',
      'VMPIDR_EL2',
      'CNTHCTL_EL2',
      'CNTVOFF_EL2',
      'TPIDR_EL2',
      'HSTR_EL2',
      'ACTLR_EL2',
      'AFSR0_EL2',
      'AFSR1_EL2',
      'AMAIR_EL2',
      'MAIR_EL2',
      'CONTEXTIDR_EL2',
      'CNTP_CTL_EL02',
      'CNTV_CVAL_EL02',
      'CNTHP_CVAL_EL2',
      'CNTHV_CTL_EL2',
      'OSLAR_EL1',
      'OSLSR_EL1',
      'OSDLR_EL1',
      'MDCCINT_EL1',
    ]) {
      expect(sysregByName(name), name).toBeDefined();
    }
    for (const s of SYSREGS.filter((r) => r.aliasOf)) expect(s.op1, s.name).toBe(5);
  });

  it('advertises exactly what is implemented, consistently with the MMU', () => {
    const pfr0 = ID_VALUES.ID_AA64PFR0_EL1!;
    // EL0-3, FP and AdvSIMD (0: implemented, no half precision), GIC
    expect([0, 4, 8, 12, 16, 20, 24].map((l) => field(pfr0, l))).toEqual([2, 2, 1, 0, 0, 0, 0]);
    const mmfr0 = ID_VALUES.ID_AA64MMFR0_EL1!;
    expect([4 + 0, 32, 36, 40, 42, 44].map((l) => field(mmfr0, l))).toEqual([2, 0, 0, 0, 0, 0]); // 16-bit ASID
    expect([36, 40, 42, 44, 48][0]).toBe(36);
    expect(PA_BITS).toBe([32, 36, 40, 42, 44, 48, 52][field(mmfr0, 0)]);
    expect([field(mmfr0, 20), field(mmfr0, 24), field(mmfr0, 28)]).toEqual([1, 0, 0]); // 16K, 64K, 4K granules
    const mmfr1 = ID_VALUES.ID_AA64MMFR1_EL1!;
    expect([field(mmfr1, 4), field(mmfr1, 8), field(mmfr1, 20), field(mmfr1, 16), field(mmfr1, 0)]).toEqual([
      0, 1, 1, 0, 0,
    ]);
    // ISAR0: Atomic (FEAT_LSE) = 2 and CRC32 = 1; every other field (AES, SHA1/2/3, RDM, SM3/4, DP, FHM, TS, TLB,
    // RNDR) 0.
    const isar0 = ID_VALUES.ID_AA64ISAR0_EL1!;
    const fields = Array.from({ length: 16 }, (_, i) => field(isar0, 4 * i));
    expect(fields).toEqual(fields.map((_, i) => (i === 5 ? 2 : i === 4 ? 1 : 0)));
    // CSV2, CSV3, CSV2_frac
    expect([field(pfr0, 56), field(pfr0, 60), field(ID_VALUES.ID_AA64PFR1_EL1!, 32)]).toEqual([1, 1, 1]);
    expect(ID_VALUES.ID_AA64PFR1_EL1! & ~(0xfn << 32n)).toBe(0n);
  });
});

describe('access by EL', () => {
  it('EL2 registers are UNDEFINED at EL1; EL1 registers at EL0; direction is checked', () => {
    expect(exec(['mrs x0, hcr_el2'], { el: 1 }).taken[0]).toMatchObject({ toEL: 1, esr: UNDEF });
    expect(exec(['mrs x0, sctlr_el1'], { el: 0 }).taken[0]).toMatchObject({ toEL: 1, esr: UNDEF });
    expect(exec(['msr midr_el1, x0'], { el: 1 }).taken[0]).toMatchObject({ esr: UNDEF });
    expect(exec(['msr currentel, x0'], { el: 2 }).taken[0]).toMatchObject({ esr: UNDEF });
    expect(exec(['mrs x0, oslar_el1'], { el: 1 }).taken[0]).toMatchObject({ esr: UNDEF });
    expect(exec(['msr tpidrro_el0, x0'], { el: 0 }).taken[0]).toMatchObject({ esr: UNDEF });
    expect(exec(['msr tpidrro_el0, x0', 'mrs x1, tpidr_el0'], { el: 1 }).taken).toEqual([]);
  });

  it('SP_EL0 is UNDEFINED through MSR/MRS while SPSel=0', () => {
    expect(exec(['msr spsel, #0', 'mrs x0, sp_el0'], { el: 1 }).taken[0]).toMatchObject({ esr: UNDEF });
  });

  it('unallocated encodings are UNDEFINED; the reserved ID space reads as zero', () => {
    expect(exec(['mrs x0, s3_0_c15_c2_0'], { el: 1 }).taken[0]).toMatchObject({ esr: UNDEF });
    const r = exec(['mrs x0, s3_0_c0_c3_7', 'mrs x1, id_isar0_el1'], { el: 1, x: { 0: 5n, 1: 5n } });
    expect(r.taken).toEqual([]);
    expect([r.cpu.x[0], r.cpu.x[1]]).toEqual([0n, 0n]);
  });

  it('MIDR_EL1/MPIDR_EL1 read VPIDR_EL2/VMPIDR_EL2 at EL1', () => {
    const r = exec(['mrs x0, midr_el1', 'mrs x1, mpidr_el1'], {
      el: 1,
      regs: { VPIDR_EL2: 0x410f_d034n, VMPIDR_EL2: 0x8000_0003n },
    });
    expect([r.cpu.x[0], r.cpu.x[1]]).toEqual([0x410f_d034n, 0x8000_0003n]);
    const h = exec(['mrs x0, midr_el1'], { el: 2, regs: { VPIDR_EL2: 0x410f_d034n } });
    expect(h.cpu.x[0]).toBe(ID_VALUES.MIDR_EL1);
  });
});

describe('traps to EL2', () => {
  it('TVM traps writes and TRVM reads of the virtual-memory controls with the exact ESR', () => {
    const w = exec(['msr sctlr_el1, x3'], { el: 1, hcr: bit(HCR.TVM) });
    expect(w.taken[0]).toMatchObject({ toEL: 2, esr: 0x6230_0460 }); // EC 0x18, Op0 3, CRn 1, Rt 3
    expect(esrOf(EC_SYS, sysIss(3, 0, 1, 0, 0, 3, false))).toBe(0x6230_0460);
    expect(exec(['mrs x3, ttbr1_el1'], { el: 1, hcr: bit(HCR.TVM) }).taken).toEqual([]);
    expect(exec(['mrs x3, ttbr1_el1'], { el: 1, hcr: bit(HCR.TRVM) }).taken[0]).toMatchObject({
      toEL: 2,
      esr: esrOf(EC_SYS, sysIss(3, 0, 2, 0, 1, 3, true)),
    });
  });

  it('MDCR_EL2.TDA/TDOSA (or TDE) trap the debug registers', () => {
    const tda = exec(['mrs x1, mdscr_el1'], { el: 1, regs: { MDCR_EL2: bit(9) } });
    expect(tda.taken[0]).toMatchObject({ toEL: 2, esr: esrOf(EC_SYS, sysIss(2, 0, 0, 2, 2, 1, true)) });
    const tdosa = exec(['msr oslar_el1, xzr'], { el: 1, regs: { MDCR_EL2: bit(10) } });
    expect(tdosa.taken[0]).toMatchObject({ toEL: 2, esr: esrOf(EC_SYS, sysIss(2, 0, 1, 0, 4, 31, false)) });
    expect(exec(['mrs x1, oslsr_el1'], { el: 1, regs: { MDCR_EL2: bit(8) } }).taken[0]).toMatchObject({ toEL: 2 });
  });

  it('CNTHCTL_EL2 traps the EL1 physical counter and timer: bits 0/1 with E2H=0, 10/11 with E2H=1', () => {
    const pct = (hcr: bigint, cnthctl: bigint) =>
      exec(['mrs x0, cntpct_el0', 'mrs x1, cntp_ctl_el0'], { el: 1, hcr, regs: { CNTHCTL_EL2: cnthctl } });
    expect(pct(0n, 3n).taken).toEqual([]);
    expect(pct(0n, 2n).taken[0]).toMatchObject({ toEL: 2, esr: esrOf(EC_SYS, sysIss(3, 3, 14, 0, 1, 0, true)) });
    expect(pct(0n, 1n).done).toBe(1);
    expect(pct(E2H, 3n).taken[0]).toMatchObject({ toEL: 2 });
    expect(pct(E2H, bit(10) | bit(11)).taken).toEqual([]);
  });

  it('EL0 counter and timer access needs CNTKCTL_EL1 (CNTHCTL_EL2 in a VHE host), else traps', () => {
    const v = exec(['mrs x0, cntvct_el0'], { el: 0 });
    expect(v.taken[0]).toMatchObject({ toEL: 1, esr: esrOf(EC_SYS, sysIss(3, 3, 14, 0, 2, 0, true)) });
    expect(exec(['mrs x0, cntvct_el0', 'mrs x1, cntfrq_el0'], { el: 0, regs: { CNTKCTL_EL1: 2n } }).taken).toEqual([]);
    expect(exec(['mrs x0, cntv_ctl_el0'], { el: 0, regs: { CNTKCTL_EL1: 2n } }).taken[0]).toMatchObject({ toEL: 1 });
    expect(exec(['mrs x0, cntv_ctl_el0'], { el: 0, regs: { CNTKCTL_EL1: bit(8) } }).taken).toEqual([]);
    expect(exec(['mrs x0, cntp_ctl_el0'], { el: 0, hcr: E2H | TGE, regs: { CNTHCTL_EL2: 0n } }).taken[0]).toMatchObject(
      { toEL: 2 },
    );
    expect(exec(['mrs x0, cntp_ctl_el0'], { el: 0, hcr: E2H | TGE, regs: { CNTHCTL_EL2: bit(9) } }).taken).toEqual([]);
  });
});

describe('VHE redirection', () => {
  it('EL1 and EL0-timer encodings at EL2 with E2H=1 reach the EL2 registers; not with E2H=0', () => {
    const regs = {
      TCR_EL1: 0x11n,
      TCR_EL2: 0x22n,
      CNTHP_CVAL_EL2: 0x33n,
      CNTP_CVAL_EL0: 0x44n,
      ESR_EL1: 0x55n,
      ESR_EL2: 0x66n,
    };
    const lines = ['mrs x0, tcr_el1', 'mrs x1, cntp_cval_el0', 'mrs x2, esr_el1'];
    expect([...exec(lines, { regs }).cpu.x.slice(0, 3)]).toEqual([0x11n, 0x44n, 0x55n]);
    expect([...exec(lines, { hcr: E2H, regs }).cpu.x.slice(0, 3)]).toEqual([0x22n, 0x33n, 0x66n]);
  });

  it('CPACR_EL1 at EL2 with E2H=1 is CPTR_EL2 in its E2H layout; CNTKCTL_EL1 is CNTHCTL_EL2', () => {
    const r = exec(['msr cpacr_el1, x0', 'msr cntkctl_el1, x1'], { hcr: E2H, x: { 0: 0x8030_0000n, 1: 0x303n } });
    expect(getReg(r.cpu, 'CPTR_EL2')).toBe(0x8030_0000n);
    expect(getReg(r.cpu, 'CPACR_EL1')).toBe(0n);
    expect(getReg(r.cpu, 'CNTHCTL_EL2')).toBe(0x303n);
  });

  it('the sysregAccessed event names the register actually reached', () => {
    const seen: string[] = [];
    const again = exec(['msr sctlr_el1, x0', 'mrs x1, sctlr_el12', 'mrs x2, ttbr0_el12'], {
      hcr: E2H,
      x: { 0: 0x30d0_0800n },
      arch: 'armv8.1-a',
      setup: (c) => {
        c.observer = {
          sysregAccessed: (e) => {
            seen.push(`${e.write ? 'w' : 'r'} ${e.reg.name}`);
          },
        };
      },
    });
    expect(again.done).toBe(3);
    expect(seen).toEqual(['w SCTLR_EL2', 'r SCTLR_EL1', 'r TTBR0_EL1']);
  });
});

describe('special registers', () => {
  it('timers: TVAL is CVAL minus the count, ISTATUS when enabled and reached; CNTVOFF applies below EL2', () => {
    const cpu = exec(['nop']).cpu;
    cpu.icount = 1000;
    setReg(cpu, 'CNTVOFF_EL2', 100n);
    setReg(cpu, 'CNTV_TVAL_EL0', 50n); // CVAL = virtual count (900) + 50
    expect(getReg(cpu, 'CNTV_CVAL_EL0')).toBe(950n);
    setReg(cpu, 'CNTV_CTL_EL0', 1n);
    expect(getReg(cpu, 'CNTV_CTL_EL0')).toBe(1n);
    cpu.icount = 1060;
    expect(getReg(cpu, 'CNTV_CTL_EL0')).toBe(5n); // ENABLE | ISTATUS
    expect(getReg(cpu, 'CNTV_TVAL_EL0')).toBe(0xffff_fff6n); // -10, 32 bits
    setReg(cpu, 'CNTV_TVAL_EL0', 0xffff_ff00n); // negative TVAL: in the past
    expect(getReg(cpu, 'CNTV_CVAL_EL0')).toBe(960n - 256n);
    cpu.ps.el = 1;
    expect(getReg(cpu, 'CNTVCT_EL0')).toBe(960n);
    cpu.ps.el = 2;
    setReg(cpu, 'HCR_EL2', bit(HCR.RW) | E2H);
    expect(getReg(cpu, 'CNTVCT_EL0')).toBe(1060n);
  });

  it('the OS lock is set at reset and cleared through OSLAR_EL1', () => {
    const r = exec(['mrs x0, oslsr_el1', 'msr oslar_el1, xzr', 'mrs x1, oslsr_el1'], { el: 1 });
    expect([r.cpu.x[0], r.cpu.x[1]]).toEqual([0xan, 0x8n]);
  });

  it('RES1 and RES0 bits: SCTLR_EL2 and CPTR_EL2 by layout, HCR_EL2 beyond E2H, VBAR low bits', () => {
    const r = exec(
      [
        'msr sctlr_el2, xzr',
        'msr cptr_el2, xzr',
        'mrs x0, sctlr_el2',
        'mrs x1, cptr_el2',
        'msr vbar_el2, x2',
        'mrs x3, vbar_el2',
      ],
      { x: { 2: 0x4000_07ffn } },
    );
    expect([r.cpu.x[0], r.cpu.x[1], r.cpu.x[3]]).toEqual([0x30c5_0830n, 0x33ffn, 0x4000_0000n]);
    const host = exec(['msr sctlr_el2, xzr', 'mrs x0, sctlr_el2', 'msr cptr_el2, xzr', 'mrs x1, cptr_el2'], {
      hcr: E2H | TGE,
    });
    expect([host.cpu.x[0], host.cpu.x[1]]).toEqual([0n, 0n]);
    const h = exec(['msr hcr_el2, x0', 'mrs x1, hcr_el2'], { x: { 0: 0xffff_ffff_ffff_ffffn } });
    expect(h.cpu.x[1]).toBe(0x7_ffff_ffffn);
  });

  it('ISR_EL1 shows the virtual interrupts EL2 injects through HCR_EL2', () => {
    const hcr = bit(HCR.IMO) | bit(HCR.VI) | bit(HCR.FMO) | bit(HCR.AMO) | bit(HCR.VSE);
    expect(exec(['mrs x0, isr_el1'], { el: 1, hcr }).cpu.x[0]).toBe(0x180n);
  });

  it('DCZID_EL0.DZP follows SCTLR_EL1.DZE at EL0 and HCR_EL2.TDZ at EL0/EL1', () => {
    expect(exec(['mrs x0, dczid_el0'], { el: 0 }).cpu.x[0]).toBe(0x14n);
    expect(exec(['mrs x0, dczid_el0'], { el: 0, regs: { SCTLR_EL1: 0x30d0_0800n | bit(14) } }).cpu.x[0]).toBe(0x4n);
    expect(exec(['mrs x0, dczid_el0'], { el: 1, hcr: bit(HCR.TDZ) }).cpu.x[0]).toBe(0x14n);
    expect(exec(['mrs x0, dczid_el0'], { el: 2, hcr: bit(HCR.TDZ) }).cpu.x[0]).toBe(0x4n);
  });
});

describe('more special registers', () => {
  it('CNTFRQ_EL0 is writable only at the highest implemented EL (EL2: there is no EL3)', () => {
    expect(exec(['msr cntfrq_el0, x0'], { el: 1 }).taken[0]).toMatchObject({ toEL: 1, esr: UNDEF });
    const r = exec(['msr cntfrq_el0, x0', 'mrs x1, cntfrq_el0'], { el: 2, x: { 0: 100_000_000n } });
    expect(r.cpu.x[1]).toBe(100_000_000n);
  });

  it('CCSIDR_EL1 describes the cache CSSELR_EL1 selects, as CLIDR_EL1 lists them', () => {
    const r = exec(
      ['msr csselr_el1, xzr', 'mrs x0, ccsidr_el1', 'msr csselr_el1, x9', 'mrs x1, ccsidr_el1', 'mrs x2, clidr_el1'],
      { el: 1, x: { 9: 2n } },
    );
    const geometry = (v: bigint) => [
      16 << Number(v & 7n),
      Number((v >> 3n) & 0x3ffn) + 1,
      Number((v >> 13n) & 0x7fffn) + 1,
    ];
    expect(geometry(r.cpu.x[0]!)).toEqual([64, 4, 256]);
    expect(geometry(r.cpu.x[1]!)).toEqual([64, 16, 1024]);
    expect([field(r.cpu.x[2]!, 0, 3), field(r.cpu.x[2]!, 3, 3)]).toEqual([3, 4]); // L1 separate I+D, L2 unified
  });
});
