// Add/subtract in every form, with carry, conditional compare and conditional select:
// hypstep against QEMU over boundary operands, plus hand-derived values from the ARM ARM.
import { describe, it, expect, beforeAll } from 'vitest';
import {
  type Case,
  type Result,
  runOnHypstep,
  runOnQemu,
  differences,
  BOUNDARY_VALUES,
  N,
  Z,
  C,
  V,
} from './dataproc-harness.js';

const CONDS = ['eq', 'ne', 'cs', 'cc', 'mi', 'pl', 'vs', 'vc', 'hi', 'ls', 'ge', 'lt', 'gt', 'le', 'al', 'nv'];

function pairs(insn: string, nzcvs: number[] = [0]): Case[] {
  const cases: Case[] = [];
  for (const a of BOUNDARY_VALUES)
    for (const b of BOUNDARY_VALUES)
      for (const nzcv of nzcvs) {
        cases.push({ insn, in: { x1: a, x2: b, x0: 0x5555_5555_5555_5555n }, nzcv, out: ['x0'] });
      }
  return cases;
}

const CASES: Case[] = [
  // Flags at every signed/unsigned boundary, 64- and 32-bit (upper halves of the inputs are garbage for w forms).
  ...pairs('adds x0, x1, x2'),
  ...pairs('adds w0, w1, w2'),
  ...pairs('subs x0, x1, x2'),
  ...pairs('subs w0, w1, w2'),
  ...pairs('adcs x0, x1, x2', [0, C]),
  ...pairs('adcs w0, w1, w2', [0, C]),
  ...pairs('sbcs x0, x1, x2', [0, C]),
  ...pairs('sbcs w0, w1, w2', [0, C]),
  ...pairs('adc x0, x1, x2', [C]),
  ...pairs('sbc w0, w1, w2', [0]),
  ...pairs('add w0, w1, w2'),
  ...pairs('sub w0, w1, w2'),
  // Shifted register operands (LSL/LSR/ASR, 0..width-1), with and without flags.
  ...[0, 1, 13, 31].flatMap((s): Case[] =>
    ['lsl', 'lsr', 'asr'].flatMap((t): Case[] => [
      {
        insn: `add w0, w1, w2, ${t} #${s}`,
        in: { x1: 0x1234_5678_9abc_def0n, x2: 0xffff_ffff_8765_4321n },
        out: ['x0'],
      },
      {
        insn: `subs x0, x1, x2, ${t} #${s}`,
        in: { x1: 0x1234_5678_9abc_def0n, x2: 0x8765_4321_0fed_cba9n },
        out: ['x0'],
      },
      {
        insn: `adds x0, x1, x2, ${t} #${s * 2 + 1}`,
        in: { x1: 0x7fff_ffff_ffff_ffffn, x2: 0x8000_0000_0000_0001n },
        out: ['x0'],
      },
      { insn: `neg w0, w2, ${t} #${s}`, in: { x2: 0x8000_0001n }, out: ['x0'] },
    ]),
  ),
  // Extended register operands: every extend type and shift 0..4, and the SP forms.
  ...['uxtb', 'uxth', 'uxtw', 'uxtx', 'sxtb', 'sxth', 'sxtw', 'sxtx'].flatMap((e): Case[] =>
    [0, 1, 4].flatMap((s): Case[] => {
      const reg = e.endsWith('x') ? 'x2' : 'w2';
      return [
        { insn: `add x0, x1, ${reg}, ${e} #${s}`, in: { x1: 0x1000n, x2: 0xffff_ffff_8000_8080n }, out: ['x0'] },
        { insn: `subs x0, x1, ${reg}, ${e} #${s}`, in: { x1: 0x1000n, x2: 0x0000_0000_7fff_7f7fn }, out: ['x0'] },
        {
          insn: `add w0, w1, w2, ${e} #${s}`,
          in: { x1: 0xffff_ffff_0000_0010n, x2: 0x1234_5678_9abc_8ef0n },
          out: ['x0'],
        },
        { insn: `add sp, sp, ${reg}, ${e} #${s}`, in: { sp: 0x4100_0000n, x2: 0xffff_ffff_ffff_ff80n }, out: ['sp'] },
      ];
    }),
  ),
  { insn: 'add x0, sp, w2, uxtw #2', in: { sp: 0x4100_0000n, x2: 0xffff_ffff_0000_0003n }, out: ['x0'] },
  { insn: 'sub w0, wsp, w2', in: { sp: 0x1_4100_0000n, x2: 5n }, out: ['x0'] },
  { insn: 'cmp sp, x2', in: { sp: 0x4100_0000n, x2: 0x4100_0000n }, out: [] },
  { insn: 'adds x0, sp, w2, sxth', in: { sp: 0x10n, x2: 0x8000n }, out: ['x0'] },
  // Immediates: imm12, shifted by 12, and the SP forms (mov sp / add to sp / cmp with sp).
  ...BOUNDARY_VALUES.flatMap((a): Case[] => [
    { insn: 'adds x0, x1, #4095', in: { x1: a }, out: ['x0'] },
    { insn: 'subs w0, w1, #1, lsl #12', in: { x1: a }, out: ['x0'] },
    { insn: 'cmn w1, #1', in: { x1: a }, out: [] },
    { insn: 'cmp x1, #0', in: { x1: a }, out: [] },
    { insn: 'sub x0, x1, #0xfff, lsl #12', in: { x1: a }, out: ['x0'] },
    { insn: 'add w0, w1, #7', in: { x1: a }, out: ['x0'] },
  ]),
  { insn: 'mov sp, x1\nadd x0, sp, #16', in: { x1: 0x4000_1230n }, out: ['x0', 'sp'] },
  { insn: 'sub sp, sp, #0x10, lsl #12', in: { sp: 0x4000_1230n }, out: ['sp'] },
  { insn: 'add wsp, w1, #8', in: { x1: 0xffff_ffff_ffff_fffcn, sp: 0x4000_0000n }, out: ['sp'] },
  { insn: 'mov x0, sp', in: { sp: 0x4000_1238n }, out: ['x0'] },
  { insn: 'adds xzr, sp, #1', in: { sp: 0xffff_ffff_ffff_ffffn }, out: [] },
  // Conditional compare: both outcomes of every condition, register and immediate, CCMN and CCMP.
  ...CONDS.flatMap((cond): Case[] =>
    [0, N | V, Z | C, C, N].flatMap((nzcv): Case[] => [
      { insn: `ccmp x1, x2, #0b1010, ${cond}`, in: { x1: 5n, x2: 7n }, nzcv, out: [] },
      { insn: `ccmn w1, #31, #0b0101, ${cond}`, in: { x1: 0xffff_ffe1n }, nzcv, out: [] },
      { insn: `ccmp w1, #0, #0b1111, ${cond}`, in: { x1: 0x8000_0000n }, nzcv, out: [] },
      { insn: `ccmn x1, x2, #0, ${cond}`, in: { x1: 0x7fff_ffff_ffff_ffffn, x2: 1n }, nzcv, out: [] },
    ]),
  ),
  // Conditional select family, both outcomes of every condition.
  ...CONDS.flatMap((cond): Case[] =>
    [0, N, Z | C, V, C].flatMap((nzcv): Case[] => [
      {
        insn: `csel x0, x1, x2, ${cond}`,
        in: { x1: 0x1111_2222_3333_4444n, x2: 0xaaaa_bbbb_cccc_ddddn },
        nzcv,
        out: ['x0'],
      },
      {
        insn: `csinc w0, w1, w2, ${cond}`,
        in: { x1: 0x1111_2222_3333_4444n, x2: 0xffff_ffff_ffff_ffffn },
        nzcv,
        out: ['x0'],
      },
      { insn: `csinv x0, x1, x2, ${cond}`, in: { x1: 1n, x2: 0x8000_0000_0000_0000n }, nzcv, out: ['x0'] },
      { insn: `csneg w0, w1, w2, ${cond}`, in: { x1: 0xdead_0000_0000_0005n, x2: 0x8000_0000n }, nzcv, out: ['x0'] },
      { insn: `csneg x0, x1, x2, ${cond}`, in: { x1: 5n, x2: 0x8000_0000_0000_0000n }, nzcv, out: ['x0'] },
    ]),
  ),
  { insn: 'cset w0, hi\ncsetm x3, lo', in: { x0: 77n, x3: 77n }, nzcv: C, out: ['x0', 'x3'] },
];

let ours: Result[];
let qemu: Result[];
beforeAll(() => {
  ours = runOnHypstep(CASES);
  qemu = runOnQemu(CASES);
});

describe('add/subtract, with carry, conditional compare and select', () => {
  it(`agrees with QEMU on ${CASES.length} cases`, () => {
    expect(differences(CASES, ours, qemu)).toEqual([]);
  });
});

// Values worked out from the ARM ARM's AddWithCarry, independent of both implementations.
describe('AddWithCarry at the boundaries (hand-derived)', () => {
  const hand: { insn: string; a: bigint; b: bigint; cin?: number; r: bigint; nzcv: number }[] = [
    { insn: 'adds x0, x1, x2', a: 0x7fff_ffff_ffff_ffffn, b: 1n, r: 0x8000_0000_0000_0000n, nzcv: N | V },
    { insn: 'adds x0, x1, x2', a: 0xffff_ffff_ffff_ffffn, b: 1n, r: 0n, nzcv: Z | C },
    { insn: 'adds x0, x1, x2', a: 0x8000_0000_0000_0000n, b: 0x8000_0000_0000_0000n, r: 0n, nzcv: Z | C | V },
    { insn: 'subs x0, x1, x2', a: 0n, b: 0n, r: 0n, nzcv: Z | C }, // no borrow sets C
    { insn: 'subs x0, x1, x2', a: 0n, b: 1n, r: 0xffff_ffff_ffff_ffffn, nzcv: N },
    { insn: 'subs x0, x1, x2', a: 0x8000_0000_0000_0000n, b: 1n, r: 0x7fff_ffff_ffff_ffffn, nzcv: C | V },
    { insn: 'adds w0, w1, w2', a: 0xffff_ffff_7fff_ffffn, b: 1n, r: 0x8000_0000n, nzcv: N | V },
    { insn: 'adds w0, w1, w2', a: 0xffff_ffffn, b: 0xffff_ffff_0000_0001n, r: 0n, nzcv: Z | C },
    { insn: 'subs w0, w1, w2', a: 0x1_8000_0000n, b: 1n, r: 0x7fff_ffffn, nzcv: C | V },
    { insn: 'adcs x0, x1, x2', a: 0xffff_ffff_ffff_ffffn, b: 0n, cin: 1, r: 0n, nzcv: Z | C },
    { insn: 'adcs x0, x1, x2', a: 0n, b: 0n, cin: 1, r: 1n, nzcv: 0 },
    { insn: 'adcs x0, x1, x2', a: 0x7fff_ffff_ffff_ffffn, b: 0n, cin: 1, r: 0x8000_0000_0000_0000n, nzcv: N | V },
    { insn: 'adcs w0, w1, w2', a: 0xffff_ffffn, b: 0xffff_ffffn, cin: 1, r: 0xffff_ffffn, nzcv: N | C },
    { insn: 'sbcs x0, x1, x2', a: 0n, b: 0n, cin: 0, r: 0xffff_ffff_ffff_ffffn, nzcv: N }, // 0 - 0 - 1
    { insn: 'sbcs x0, x1, x2', a: 0n, b: 0n, cin: 1, r: 0n, nzcv: Z | C },
    { insn: 'sbcs w0, w1, w2', a: 0x8000_0000n, b: 0n, cin: 0, r: 0x7fff_ffffn, nzcv: C | V },
  ];
  it('matches the worked values', () => {
    const cases: Case[] = hand.map((h) => ({
      insn: h.insn,
      in: { x1: h.a, x2: h.b },
      nzcv: (h.cin ?? 0) ? C : 0,
      out: ['x0'],
    }));
    const res = runOnHypstep(cases);
    const got = res.map((r) => ({ r: r.regs.x0, nzcv: r.nzcv }));
    expect(got).toEqual(hand.map((h) => ({ r: h.r, nzcv: h.nzcv })));
  });
});
