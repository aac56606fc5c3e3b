// Multiply (3 source), divide, and the 1-source operations (RBIT, REV*, CLZ, CLS).
import { describe, it, expect, beforeAll } from 'vitest';
import { type Case, type Result, runOnHypstep, runOnQemu, differences, BOUNDARY_VALUES } from './dataproc-harness.js';

const M64 = (1n << 64n) - 1n;
const pairs = (insn: string): Case[] =>
  BOUNDARY_VALUES.flatMap((a) =>
    BOUNDARY_VALUES.map((b) => ({
      insn,
      in: { x1: a, x2: b, x3: 0x1111_2222_3333_4444n },
      out: ['x0'],
    })),
  );

const CASES: Case[] = [
  ...pairs('madd x0, x1, x2, x3'),
  ...pairs('msub w0, w1, w2, w3'),
  ...pairs('smaddl x0, w1, w2, x3'),
  ...pairs('umsubl x0, w1, w2, x3'),
  ...pairs('smsubl x0, w1, w2, x3'),
  ...pairs('umaddl x0, w1, w2, x3'),
  ...pairs('smulh x0, x1, x2'),
  ...pairs('umulh x0, x1, x2'),
  ...pairs('mul w0, w1, w2'),
  ...pairs('mneg x0, x1, x2'),
  ...pairs('udiv x0, x1, x2'),
  ...pairs('udiv w0, w1, w2'),
  ...pairs('sdiv x0, x1, x2'),
  ...pairs('sdiv w0, w1, w2'),
  ...BOUNDARY_VALUES.flatMap((v) =>
    ['rbit', 'rev16', 'rev', 'clz', 'cls'].flatMap((op) => [
      { insn: `${op} x0, x1`, in: { x1: v }, out: ['x0'] },
      { insn: `${op} w0, w1`, in: { x1: v }, out: ['x0'] },
    ]),
  ),
  ...BOUNDARY_VALUES.map((v) => ({ insn: 'rev32 x0, x1', in: { x1: v }, out: ['x0'] })),
  ...[0x0000_0000_0000_0080n, 0x4000_0000_0000_0000n, 0xc000_0000_0000_0000n, 0x0000_0000_4000_0000n].flatMap((v) => [
    { insn: 'cls x0, x1', in: { x1: v }, out: ['x0'] },
    { insn: 'cls w0, w1', in: { x1: v }, out: ['x0'] },
    { insn: 'clz w0, w1', in: { x1: v }, out: ['x0'] },
  ]),
];

let ours: Result[];
let qemu: Result[];
beforeAll(() => {
  ours = runOnHypstep(CASES);
  qemu = runOnQemu(CASES);
});

const at = (insn: string, a: bigint, b = 0n) =>
  ours[CASES.findIndex((c) => c.insn === insn && c.in!.x1 === a && (c.in!.x2 ?? 0n) === b)]!.regs.x0;

describe('multiply, divide, 1-source', () => {
  it(`agree with QEMU on ${CASES.length} cases`, () => {
    expect(differences(CASES, ours, qemu)).toEqual([]);
  });

  it('SDIV of INT_MIN by -1 gives INT_MIN; division by zero gives 0 (ARM ARM)', () => {
    expect(at('sdiv x0, x1, x2', 0x8000_0000_0000_0000n, M64)).toBe(0x8000_0000_0000_0000n);
    expect(at('sdiv w0, w1, w2', 0x8000_0000n, 0xffff_ffffn)).toBe(0x8000_0000n);
    expect(at('sdiv x0, x1, x2', 0x0123_4567_89ab_cdefn, 0n)).toBe(0n);
    expect(at('udiv w0, w1, w2', 0xffff_ffffn, 0x1_0000_0000n)).toBe(0n); // divisor's low word is zero
    expect(at('sdiv x0, x1, x2', M64, 0x7fff_ffff_ffff_ffffn)).toBe(0n); // -1 / max rounds toward zero
    expect(at('sdiv x0, x1, x2', 0xfedc_ba98_7654_3210n, 0x7fff_ffffn)).toBe(
      BigInt.asUintN(64, BigInt.asIntN(64, 0xfedc_ba98_7654_3210n) / 0x7fff_ffffn),
    );
  });

  it('high and long multiplies (independent BigInt arithmetic)', () => {
    const s = (v: bigint, w: number) => BigInt.asIntN(w, v);
    const a = 0xfedc_ba98_7654_3210n;
    const b = 0x0123_4567_89ab_cdefn;
    expect(at('smulh x0, x1, x2', a, b)).toBe(BigInt.asUintN(64, (s(a, 64) * s(b, 64)) >> 64n));
    expect(at('umulh x0, x1, x2', a, b)).toBe((a * b) >> 64n);
    expect(at('smaddl x0, w1, w2, x3', a, b)).toBe(
      BigInt.asUintN(64, 0x1111_2222_3333_4444n + s(a & 0xffff_ffffn, 32) * s(b & 0xffff_ffffn, 32)),
    );
    expect(at('mul w0, w1, w2', a, b)).toBe((a * b) & 0xffff_ffffn);
  });

  it('bit and byte reversal, leading zero and sign counts (hand-derived)', () => {
    expect(at('rbit x0, x1', 1n)).toBe(0x8000_0000_0000_0000n);
    expect(at('rbit w0, w1', 0xdead_beef_8000_0001n)).toBe(0x8000_0001n);
    expect(at('rev16 x0, x1', 0x0123_4567_89ab_cdefn)).toBe(0x2301_6745_ab89_efcdn);
    expect(at('rev32 x0, x1', 0x0123_4567_89ab_cdefn)).toBe(0x6745_2301_efcd_ab89n);
    expect(at('rev x0, x1', 0x0123_4567_89ab_cdefn)).toBe(0xefcd_ab89_6745_2301n);
    expect(at('rev w0, w1', 0x0123_4567_89ab_cdefn)).toBe(0xefcd_ab89n);
    expect(at('clz x0, x1', 0n)).toBe(64n);
    expect(at('clz w0, w1', 0x1_0000_0000n)).toBe(32n);
    expect(at('cls x0, x1', 0n)).toBe(63n);
    expect(at('cls w0, w1', 0xffff_ffffn)).toBe(31n);
    expect(at('cls x0, x1', 0x4000_0000_0000_0000n)).toBe(0n);
  });
});
