// Where QEMU 7.2 and the ARM ARM disagree, hypstep follows the ARM ARM (DDI 0487).
// fixtures/exceptions/divergent.S runs each case on both; this test records what
// QEMU prints (so that a QEMU that changes is noticed) and what the ARM ARM requires.
import { describe, it, expect } from 'vitest';
import { runBoth } from './fixtures.js';
import { runQemu } from '../helpers/qemu.js';
import { runHypstep } from '../helpers/hypstep.js';

function cases(out: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const part of out.split('case ').slice(1)) {
    const nl = part.indexOf('\n');
    m.set(part.slice(0, nl), part.slice(nl + 1).replace(/done\n$/, ''));
  }
  return m;
}

interface Divergence {
  case: string;
  why: string;
  qemu: string;
  armArm: string;
}

const DIVERGENCES: Divergence[] = [
  {
    case: 'msr-daifset-el0',
    why:
      'A trapped MSR DAIFSet, #2 at EL0 reports ISS Op0=0, Op2=0b110, Op1=0b011, CRn=0b0100, Rt=0b11111, ' +
      'CRm=0b0010, Dir=0 (ESR 0x620cd3e4). QEMU 7.2 swaps Op1 and Op2.',
    qemu: 'EL1 00000000620793e4\n',
    armArm: 'EL1 00000000620cd3e4\n',
  },
  {
    case: 'el12-with-e2h0',
    why:
      'The _EL12/_EL02 encodings at EL2 with HCR_EL2.E2H=0 are UNDEFINED (their accessor pseudocode: ' +
      '"elsif PSTATE.EL == EL2 then if HCR_EL2.E2H == 1 ... else UNDEFINED"). QEMU 7.2 reports MAIR_EL12 and ' +
      'SCTLR_EL12 as trapped MSR/MRS (EC 0x18) and lets CNTV_CVAL_EL02, CNTP_CTL_EL02, SPSR_EL12 and ELR_EL12 through.',
    qemu: 'EL2 00000000623578a7\nEL2 00000000623378a4\n',
    armArm: 'EL2 0000000002000000\n'.repeat(6),
  },
  {
    case: 'smc-not-psci',
    why:
      'There is no EL3, so SMC is UNDEFINED unless the emulator-resident firmware implements the call. ' +
      "QEMU's PSCI emulation claims every SMC and returns NOT_SUPPORTED (-1) in x0.",
    qemu: 'x0 ffffffffffffffff\n',
    armArm: 'EL2 0000000002000000\nx0 0000000000001234\n',
  },
  {
    case: 'wfe-twe',
    why:
      'WFE with the Event Register clear is trapped to EL2 by HCR_EL2.TWE (ESR ISS CV=1, COND=0b1110, TI=1). ' +
      'The first WFE only clears the Event Register the ERET set. QEMU 7.2 never traps WFE.',
    qemu: '',
    armArm: 'EL2 0000000007e00001\n',
  },
  {
    case: 'illegal-return-pan',
    why:
      'An illegal exception return keeps EL and SP but restores the other PSTATE fields, PAN included, ' +
      'from SPSR (SetPSTATEFromPSR). QEMU 7.2 restores only NZCV and DAIF.',
    qemu: 'EL2 000000003a000000\npan 0000000000000000\n',
    armArm: 'EL2 000000003a000000\npan 0000000000400000\n',
  },
  {
    case: 'external-abort-el2',
    why:
      'A store of X4 at EL2 to a physical address nothing answers (MMU off) is a synchronous External abort: ' +
      'EC 0x25, DFSC 0x10, WnR=1 (ESR 0x96000050). ESR_EL2.ISV is 1 only for stage-2 aborts ("For other faults ' +
      'reported in ESR_EL2, ISV is 0 except for the following stage 2 aborts"), and this one is not. QEMU 7.2 ' +
      'adds the instruction syndrome (ISV=1, SAS=3, SRT=4, SF=1: 0x97c48050), as it does for every data abort ' +
      'taken to EL2 (QEMU issue #1057; see armArmEsrLine in test/unit/loadstore-harness.ts).',
    qemu: 'EL2 0000000097c48050\n',
    armArm: 'EL2 0000000096000050\n',
  },
];

describe('QEMU 7.2 and the ARM ARM disagree: hypstep follows the ARM ARM', () => {
  const run = runBoth('divergent');
  const qemu = cases(run.qemu);
  const hypstep = cases(run.hypstep);

  it('runs to the end on both', () => {
    expect(run.hypstepStop).toBe('exit');
    expect([...qemu.keys()]).toEqual(DIVERGENCES.map((d) => d.case));
    expect([...hypstep.keys()]).toEqual(DIVERGENCES.map((d) => d.case));
  });

  for (const d of DIVERGENCES) {
    it(`${d.case}: ${d.why}`, () => {
      expect(qemu.get(d.case)).toBe(d.qemu);
      expect(hypstep.get(d.case)).toBe(d.armArm);
    });
  }
});

// The global exclusive monitor: another PE's write to a location this PE reserved with LDXR makes
// its STXR fail, whatever value the write leaves there ("the global monitor for the PE ... is
// cleared by a store from another observer"), and an atomic clears it whether or not it writes
// (AArch64.TranslateAddressForAtomicAccess: ClearExclusiveByAddress for the other PEs). QEMU 7.2
// implements STXR as a compare-and-swap against the value LDXR read, so a write that leaves that
// value, or a CAS that fails, goes unnoticed there. fixtures/smp/monitor.S, -smp 2: PE 0 prints
// the status of PE 1's STXR after each of its writes (1: failed).
describe('QEMU 7.2 and the ARM ARM disagree on the exclusive monitor: hypstep follows the ARM ARM', () => {
  const elf = new URL('../../fixtures/smp/build/monitor.elf', import.meta.url).pathname;
  const cases = [
    'str of the same value',
    'stadd of zero',
    'stclr of clear bits',
    'cas that fails',
    'swp of the same value',
    'ldadd of one',
    'casp that fails',
  ];
  const status = (out: string) =>
    new Map(
      out
        .trim()
        .split('\n')
        .map((l) => [l.slice(0, -17), l.slice(-16)]),
    );

  it('a write by another PE makes STXR fail even when it leaves the value LDXR read; QEMU sees only a changed value', () => {
    const q = runQemu(elf, 30_000, ['-smp', '2']);
    expect(q.status).toBe(0);
    const h = runHypstep(elf, 50_000_000, { smp: 2 });
    expect(h.stop).toBe('exit');
    const fail = '0000000000000001',
      pass = '0000000000000000';
    expect([...status(q.stdout)]).toEqual(cases.map((c) => [c, c === 'ldadd of one' ? fail : pass]));
    expect([...status(h.stdout)]).toEqual(cases.map((c) => [c, fail]));
  });
});
