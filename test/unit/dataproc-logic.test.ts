// Logical (immediate and shifted register), move wide, bitfield, extract and the variable shifts.
import { describe, it, expect, beforeAll } from 'vitest';
import {
  type Case,
  type Result,
  runOnHypstep,
  runOnQemu,
  differences,
  encodeWords,
  BOUNDARY_VALUES,
  N,
  Z,
} from './dataproc-harness.js';

const M64 = (1n << 64n) - 1n;
const M32 = (1n << 32n) - 1n;

/**
 * Every value a logical immediate can encode at `width` bits, built as strings of bits:
 * an element of `esize` bits holding a run of `ones` set bits rotated right by `rot`, repeated.
 */
function bitmaskImmediates(width: 32 | 64): { value: bigint; esize: number }[] {
  const seen = new Set<bigint>();
  const out: { value: bigint; esize: number }[] = [];
  for (const esize of [2, 4, 8, 16, 32, 64]) {
    if (esize > width) continue;
    for (let ones = 1; ones < esize; ones++) {
      for (let rot = 0; rot < esize; rot++) {
        const elem = '0'.repeat(esize - ones) + '1'.repeat(ones);
        const rotated = elem.slice(esize - rot) + elem.slice(0, esize - rot);
        const value = BigInt('0b' + rotated.repeat(width / esize));
        if (!seen.has(value)) {
          seen.add(value);
          out.push({ value, esize });
        }
      }
    }
  }
  return out;
}

const IMM64 = bitmaskImmediates(64);
const IMM32 = bitmaskImmediates(32);
const A = 0x0123_4567_89ab_cdefn;
const B = 0xf0e1_d2c3_b4a5_9687n;

// Every encodable immediate through EOR (x) / AND (w), with the expectation computed here.
const IMM_CASES: Case[] = [
  ...IMM64.map(({ value }) => ({ insn: `eor x0, x1, #0x${value.toString(16)}`, in: { x1: A }, out: ['x0'] })),
  ...IMM32.map(({ value }) => ({ insn: `and w0, w1, #0x${value.toString(16)}`, in: { x1: B }, out: ['x0'] })),
];
const IMM_EXPECT = [...IMM64.map(({ value }) => A ^ value), ...IMM32.map(({ value }) => B & M32 & value)];

const SHIFTS = ['lsl', 'lsr', 'asr', 'ror'];
const SAMPLE = [0, 1, 2, 7, 8, 15, 16, 31, 32, 33, 47, 62, 63];

const CASES: Case[] = [
  // A few immediates of each element size through every logical op, including the flag-setting ones and SP.
  ...[
    0x5555_5555_5555_5555n,
    0x3333_3333_3333_3333n,
    0x0f0f_0f0f_0f0f_0f0fn,
    0x00ff_00ff_00ff_00ffn,
    0x0000_ffff_0000_ffffn,
    0x0000_0000_ffff_ffffn,
    0x8000_0000_0000_0000n,
    0xfffe_0000_0000_0001n,
  ].flatMap((imm): Case[] => [
    { insn: `and x0, x1, #0x${imm.toString(16)}`, in: { x1: B }, out: ['x0'] },
    { insn: `orr x0, x1, #0x${imm.toString(16)}`, in: { x1: A }, out: ['x0'] },
    { insn: `ands x0, x1, #0x${imm.toString(16)}`, in: { x1: B }, nzcv: 3, out: ['x0'] },
    { insn: `tst x1, #0x${imm.toString(16)}`, in: { x1: 0n }, out: [] },
  ]),
  { insn: 'orr w0, w1, #0xf0f0f0f0', in: { x1: 0xffff_ffff_0000_000fn }, out: ['x0'] },
  { insn: 'eor w0, w1, #0x80000001', in: { x1: 0xffff_ffff_ffff_ffffn }, out: ['x0'] },
  { insn: 'ands w0, w1, #0x80000000', in: { x1: 0x8000_0000n }, out: ['x0'] },
  { insn: 'and sp, x1, #0xfffffffffffffff0', in: { x1: 0x4000_1237n }, out: ['sp'] },
  { insn: 'orr wsp, w1, #0xf', in: { x1: 0xffff_ffff_4000_0000n }, out: ['sp'] },
  { insn: 'mov x0, #0x5555555555555555\nmov w3, #0xff00ff00', in: {}, out: ['x0', 'x3'] },
  // Logical (shifted register): every operation and shift type, 64- and 32-bit.
  ...['and', 'bic', 'orr', 'orn', 'eor', 'eon', 'ands', 'bics'].flatMap((op): Case[] =>
    SHIFTS.flatMap((t): Case[] =>
      [0, 1, 31].flatMap((s): Case[] => [
        { insn: `${op} x0, x1, x2, ${t} #${s === 31 ? 63 : s}`, in: { x1: A, x2: B }, out: ['x0'] },
        { insn: `${op} w0, w1, w2, ${t} #${s}`, in: { x1: A, x2: 0x8000_0001_8000_0001n }, out: ['x0'] },
      ]),
    ),
  ),
  ...BOUNDARY_VALUES.flatMap((v): Case[] => [
    { insn: 'tst x1, x2', in: { x1: v, x2: 0x8000_0000_0000_0001n }, out: [] },
    { insn: 'mvn w0, w1', in: { x1: v }, out: ['x0'] },
    { insn: 'bics w0, w1, w2, asr #31', in: { x1: v, x2: 0x8000_0000n }, out: ['x0'] },
  ]),
  // Move wide: every halfword position, 64- and 32-bit.
  ...[0, 1, 2, 3].flatMap((hw): Case[] => [
    { insn: `movz x0, #0xbeef, lsl #${hw * 16}`, in: { x0: M64 }, out: ['x0'] },
    { insn: `movn x0, #0x1234, lsl #${hw * 16}`, in: {}, out: ['x0'] },
    { insn: `movk x0, #0xcafe, lsl #${hw * 16}`, in: { x0: A }, out: ['x0'] },
  ]),
  ...[0, 1].flatMap((hw): Case[] => [
    { insn: `movz w0, #0xbeef, lsl #${hw * 16}`, in: { x0: M64 }, out: ['x0'] },
    { insn: `movn w0, #0x1234, lsl #${hw * 16}`, in: {}, out: ['x0'] },
    { insn: `movk w0, #0xcafe, lsl #${hw * 16}`, in: { x0: A }, out: ['x0'] },
  ]),
  { insn: 'movn w0, #0', in: { x0: 0n }, out: ['x0'] },
  // Bitfield moves over a grid of immr/imms, every opc, 64- and 32-bit.
  ...['sbfm', 'bfm', 'ubfm'].flatMap((op): Case[] =>
    SAMPLE.flatMap((r): Case[] =>
      SAMPLE.flatMap((s): Case[] => {
        const c: Case[] = [
          { insn: `${op} x0, x1, #${r}, #${s}`, in: { x0: B, x1: 0x8123_4567_89ab_cdefn }, out: ['x0'] },
        ];
        if (r < 32 && s < 32)
          c.push({ insn: `${op} w0, w1, #${r}, #${s}`, in: { x0: B, x1: 0x89ab_cdefn }, out: ['x0'] });
        return c;
      }),
    ),
  ),
  ...[
    'sxtb x0, w1',
    'sxth w0, w1',
    'sxtw x0, w1',
    'uxtb w0, w1',
    'uxth w0, w1',
    'ubfx x0, x1, #60, #4',
    'sbfx w0, w1, #31, #1',
    'bfi x0, x1, #62, #2',
    'bfxil w0, w1, #3, #29',
    'ubfiz x0, x1, #1, #63',
    'sbfiz w0, w1, #30, #2',
    'lsl x0, x1, #63',
    'lsr w0, w1, #31',
    'asr x0, x1, #1',
    'asr w0, w1, #31',
    'bfi x0, xzr, #4, #56',
  ].map((insn) => ({ insn, in: { x0: A, x1: 0xffff_ff80_8000_ff80n }, out: ['x0'] })),
  // EXTR and its ROR alias.
  ...[0, 1, 31, 32, 63].map((lsb) => ({ insn: `extr x0, x1, x2, #${lsb}`, in: { x1: A, x2: B }, out: ['x0'] })),
  ...[0, 1, 16, 31].map((lsb) => ({ insn: `extr w0, w1, w2, #${lsb}`, in: { x1: A, x2: B }, out: ['x0'] })),
  { insn: 'ror x0, x1, #8\nror w3, w1, #4', in: { x1: A }, out: ['x0', 'x3'] },
  // Variable shifts: amounts at and beyond the width are taken modulo it.
  ...['lslv', 'lsrv', 'asrv', 'rorv'].flatMap((op): Case[] =>
    [0n, 1n, 31n, 32n, 33n, 63n, 64n, 65n, 127n, 0xffff_ffff_ffff_ffc1n].flatMap((amt): Case[] => [
      { insn: `${op} x0, x1, x2`, in: { x1: 0x8123_4567_89ab_cdefn, x2: amt }, out: ['x0'] },
      { insn: `${op} w0, w1, w2`, in: { x1: 0x1234_5678_89ab_cdefn, x2: amt }, out: ['x0'] },
    ]),
  ),
];

let ours: Result[];
let qemu: Result[];
beforeAll(() => {
  ours = runOnHypstep(CASES);
  qemu = runOnQemu(CASES);
});

describe('logical immediates (DecodeBitMasks)', () => {
  it(`covers every encodable value: ${IMM64.length} 64-bit and ${IMM32.length} 32-bit`, () => {
    // 5334 and 1302 are the architectural counts of distinct logical immediates.
    expect([IMM64.length, IMM32.length]).toEqual([5334, 1302]);
    const got = runOnHypstep(IMM_CASES).map((r) => r.regs.x0);
    const bad = IMM_CASES.filter((_, i) => got[i] !== IMM_EXPECT[i]).map(
      (c, i) => `${c.insn}: got 0x${got[i]!.toString(16)}`,
    );
    expect(bad).toEqual([]);
  });

  it('the assembler encodes immediates of every element size, in both N values', () => {
    // N:imms names the element size; check the assembler really produced each one we rely on.
    const lines = [2, 4, 8, 16, 32, 64].map(
      (e) => `and x0, x1, #0x${IMM64.find((i) => i.esize === e)!.value.toString(16)}`,
    );
    const words = encodeWords(lines);
    const sizes = words.map((w) => {
      const n = (w >>> 22) & 1;
      const imms = (w >>> 10) & 0x3f;
      return n ? 64 : 1 << (31 - Math.clz32(~imms & 0x3f));
    });
    expect(sizes).toEqual([2, 4, 8, 16, 32, 64]);
  });
});

describe('logical, move wide, bitfield, extract, variable shifts', () => {
  it(`agree with QEMU on ${CASES.length} cases`, () => {
    expect(differences(CASES, ours, qemu)).toEqual([]);
  });

  it('shift by the width or more in the V forms takes the amount modulo the width (hand-derived)', () => {
    const find = (insn: string, amt: bigint) =>
      ours[CASES.findIndex((c) => c.insn === insn && c.in!.x2 === amt)]!.regs.x0;
    expect(find('lslv x0, x1, x2', 64n)).toBe(0x8123_4567_89ab_cdefn); // 64 mod 64 = 0
    expect(find('lslv x0, x1, x2', 65n)).toBe((0x8123_4567_89ab_cdefn << 1n) & M64);
    expect(find('lsrv w0, w1, w2', 32n)).toBe(0x89ab_cdefn); // upper half of x1 ignored, result zero-extended
    expect(find('asrv w0, w1, w2', 63n)).toBe(0xffff_ffffn); // 63 mod 32 = 31 of a negative word
    expect(find('rorv x0, x1, x2', 0xffff_ffff_ffff_ffc1n)).toBe(0xc091_a2b3_c4d5_e6f7n); // amount 1
  });

  it('32-bit forms zero the upper half (hand-derived)', () => {
    const at = (insn: string) => ours[CASES.findIndex((c) => c.insn === insn)]!;
    expect(at('orr w0, w1, #0xf0f0f0f0').regs.x0).toBe(0xf0f0_f0ffn);
    expect(at('movk w0, #0xcafe, lsl #16').regs.x0).toBe(0xcafe_cdefn);
    expect(at('ands w0, w1, #0x80000000').nzcv).toBe(N);
    expect(at('tst x1, #0x5555555555555555').nzcv).toBe(Z);
  });
});
