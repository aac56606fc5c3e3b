// The exception fixtures on QEMU and on hypstep: identical UART output, plus the exact
// syndromes the ARM ARM gives for the cases the issue names (computed in fixtures.ts,
// independently of the emulator).
import { describe, it, expect } from 'vitest';
import { runBoth, esr, sysIss, type BothRuns } from './fixtures.js';

const EC = { UNKNOWN: 0x00, WFX: 0x01, ILLEGAL: 0x0e, SVC: 0x15, HVC: 0x16, SMC: 0x17, SYS: 0x18, BRK: 0x3c };
const WFI_ISS = (1 << 24) | (0xe << 20); // CV=1, COND=0b1110 for exceptions from AArch64

function same(name: string): BothRuns {
  const r = runBoth(name);
  expect(r.hypstepStop).toBe('exit');
  expect(r.hypstepExit).toBe(0);
  expect(r.qemu).toMatch(/done\n$/);
  expect(r.hypstep).toBe(r.qemu);
  return r;
}

/** The handler's report following a header line: "EL<n> exception: vector <v> esr <e>". */
function reportsAfter(out: string, header: string): string[] {
  const start = out.indexOf(header);
  expect(start).toBeGreaterThanOrEqual(0);
  return out
    .slice(start)
    .split('\n')
    .filter((l) => l.startsWith('EL'));
}

describe('exception fixtures: QEMU and hypstep print the same', () => {
  it('SVC from EL0 to EL1, HVC from EL1 to EL2, BRK, and EL0 restrictions', () => {
    const { hypstep } = same('svc_hvc');
    expect(hypstep).toContain(`vector 0000000000000400 ${esr(EC.HVC, 0x5a5a)}`); // EL1 -> EL2, lower EL
    expect(hypstep).toContain(`vector 0000000000000400 ${esr(EC.SVC, 0x1)}`); // EL0 -> EL1
    expect(hypstep).toContain(`vector 0000000000000200 ${esr(EC.SVC, 0x4321)}`); // EL1 -> EL1, SPx
    expect(hypstep).toContain(esr(EC.BRK, 0x77));
    expect(hypstep).toContain(esr(EC.SYS, sysIss(3, 3, 0, 0, 1, 0, true))); // MRS CTR_EL0 at EL0, UCT=0
    expect(hypstep).toContain(esr(EC.SYS, sysIss(1, 3, 7, 4, 1, 0, false))); // DC ZVA at EL0, DZE=0
    expect(hypstep).toContain(esr(EC.WFX, WFI_ISS)); // WFI at EL0, nTWI=0
  });

  it('HCR_EL2 and CPTR_EL2 traps: TVM with the exact ESR, TRVM, TID*, TACR, TSC, HCD, TWI, TSW/TPCP/TPU/TDZ, TCPAC', () => {
    const { hypstep } = same('traps');
    const tvm = reportsAfter(hypstep, 'TVM\n');
    expect(tvm[0]).toBe(`EL2 exception: vector 0000000000000400 ${esr(EC.SYS, sysIss(3, 0, 1, 0, 0, 21, false))}`);
    expect(esr(EC.SYS, sysIss(3, 0, 1, 0, 0, 21, false))).toBe('esr 00000000623006a0'); // MSR SCTLR_EL1, x21
    expect(hypstep).toContain('EL1 SCTLR_EL1 0000000030d00800'); // the trapped write did not happen
    expect(hypstep).toContain(esr(EC.SYS, sysIss(3, 0, 0, 4, 0, 5, true))); // TID3: ID_AA64PFR0_EL1
    expect(hypstep).toContain(esr(EC.SYS, sysIss(3, 0, 0, 1, 0, 5, true))); // TID3: ID_PFR0_EL1 (AArch32 ID space)
    expect(hypstep).toContain(esr(EC.SMC, 0x5c)); // TSC
    expect(reportsAfter(hypstep, 'TWI TWE\n')[0]).toContain(esr(EC.WFX, WFI_ISS));
    expect(hypstep).toContain(esr(EC.SYS, sysIss(1, 0, 7, 6, 2, 22, false))); // TSW: DC ISW, x22
    expect(hypstep).toContain(esr(EC.SYS, sysIss(1, 3, 7, 4, 1, 21, false))); // TDZ: DC ZVA, x21
    expect(hypstep).toContain(esr(EC.SYS, sysIss(3, 0, 1, 0, 2, 5, true))); // TCPAC: MRS CPACR_EL1
    expect(hypstep).toContain('block[0] 0000000000000000\nblock[56] 0000000000000000\nblock[64] 0123456789abcdef');
  });

  it('VHE: EL1 encodings at EL2 reach EL2 registers, _EL12/_EL02 reach EL1/EL0 ones, TGE=1 routes EL0 to EL2', () => {
    const { hypstep } = same('vhe');
    expect(hypstep).toContain('mair_el1 2222222222222222\nmair_el2 2222222222222222\nmair_el12 1111111111111111');
    expect(hypstep).toContain(
      'cntv_cval_el0 0000000000000300\ncnthv_cval_el2 0000000000000300\ncntv_cval_el02 0000000000000100',
    );
    expect(hypstep).toContain('cptr_el2 0000000000300000\ncpacr_el12 0000000000100000');
    // EL1 itself sees what EL2 wrote through the aliases, and EL2 sees what EL1 wrote.
    expect(hypstep).toContain('mair_el1 4444444444444444\ncontextidr_el1 0000000000000044');
    expect(hypstep).toContain('mair_el12 5555555555555555\ncntv_cval_el02 0000000000000700');
    const tge = reportsAfter(hypstep, 'E2H=1, TGE=1');
    expect(tge[0]).toBe(`EL2 exception: vector 0000000000000400 ${esr(EC.SVC, 5)}`);
    expect(tge[2]).toContain(esr(EC.UNKNOWN, 0));
  });

  it('SIMD&FP access traps: CPACR_EL1.FPEN, CPTR_EL2.TFP, CPTR_EL2.FPEN (E2H), EC 0x07 to the right EL', () => {
    const { hypstep } = same('fptrap');
    const FP = 0x07;
    const fpIss = (1 << 24) | (0xe << 20); // CV=1, COND=0b1110
    // The brief reports ("EL<n> <esr> <elr>") printed under a title.
    const section = (title: string): string[] => {
      const after = hypstep.slice(hypstep.indexOf(`${title}\n`) + title.length + 1).split('\n');
      const n = after.findIndex((l) => !/^EL\d [0-9a-f]{16} /.test(l));
      expect(n).toBeGreaterThanOrEqual(4);
      return after.slice(0, n);
    };
    // Each access (FMOV to and from, MRS FPSR, MSR FPCR) traps to the EL that controls it.
    const all = (lines: string[], el: number, ec: number, iss: number): boolean =>
      lines.every((l) => l.startsWith(`EL${el} ${esr(ec, iss).slice(4)} `));
    expect(all(section('EL2, CPTR_EL2.TFP=1'), 2, FP, fpIss)).toBe(true);
    expect(hypstep).toContain('EL2, CPTR_EL2.TFP=0\nEL2, CPTR_EL2.TFP=1\n'); // no trap with TFP=0
    expect(section('EL2, CPTR_EL2.TFP=1')).toHaveLength(5); // FPEXC32_EL2 too
    expect(all(section('EL1, CPACR_EL1.FPEN=00'), 1, FP, fpIss)).toBe(true);
    expect(hypstep).toContain('EL1, FPEN=01\nEL0, FPEN=01\nEL1 '); // EL1 free, EL0 trapped
    expect(section('EL1 and EL0, FPEN=11, CPTR_EL2.TFP=1')).toHaveLength(8);
    expect(section('EL0 under TGE=1 (E2H=0), FPEN=00').every((l) => l.startsWith(`EL2 ${esr(0, 0).slice(4)}`))).toBe(
      true,
    );
    expect(section('E2H=1: CPTR_EL2.FPEN=00 traps EL2 itself').every((l) => l.startsWith('EL2 '))).toBe(true);
  });

  it('illegal exception returns: PSTATE.IL, then an Illegal Execution State exception at the same EL', () => {
    const { hypstep } = same('eret');
    const illegal = `vector 0000000000000200 ${esr(EC.ILLEGAL, 0)}`;
    // Seven illegal returns from EL2, one legal return with SPSR.IL=1, one illegal return from EL1.
    expect(hypstep.split(illegal).length - 1).toBe(9);
    expect(hypstep).toContain('spsr 00000000a01002c9'); // IL set, NZCV and DAIF from SPSR, EL and SP kept
  });

  it('UNDEFINED for a fixed-seed random sample of unallocated encodings, at EL1, EL2 and EL0', () => {
    const { hypstep } = same('undef');
    const reports = hypstep.split('\n').filter((l) => /^EL[12] /.test(l));
    expect(reports.length).toBe(48 + 3 + 3);
    for (const r of reports) expect(r).toMatch(/^EL[12] 0000000002000000 /);
  });
});
