// Unallocated encodings in the data-processing and branch groups take the UNDEFINED exception
// (EC 0x00, IL 1: ESR_EL2 = 0x02000000 at EL2) and leave the destination alone.
// Each is a valid instruction from the assembler with one field changed to a value the ARM ARM
// lists as unallocated (or reserved); the architecture-wide ones are also run on QEMU.
import { describe, it, expect } from 'vitest';
import { type Case, runOnHypstep, runOnQemu, differences, encodeWords } from './dataproc-harness.js';

const UNDEF_ESR = 0x0200_0000n;

/** [base instruction, bits to clear, bits to set, why]. */
const MUTATIONS: [string, number, number, string][] = [
  ['and w0, w1, #1', 0, 1 << 22, 'logical immediate, sf=0 N=1'],
  ['and x0, x1, #1', 0xfc00, 0x3f << 10, 'logical immediate, 64-bit element of all ones (N=1 imms=111111)'],
  ['and w0, w1, #1', 0xfc00, 0x1f << 10, 'logical immediate, 32-bit element of all ones (imms=011111)'],
  ['and w0, w1, #1', 0xfc00, 0x3d << 10, 'logical immediate, 2-bit element of all ones (imms=111101)'],
  ['and x0, x1, #1', (1 << 22) | 0xfc00, 0x3f << 10, 'logical immediate, N=0 imms=111111 (no element size)'],
  ['and w0, w1, #1', 0xfc00, 0x3e << 10, 'logical immediate, N=0 imms=111110 (no element size)'],
  ['add x0, x1, x2', 0, 3 << 22, 'add shifted register, shift=ROR'],
  ['subs w0, w1, w2', 0, 3 << 22, 'subs shifted register, shift=ROR'],
  ['add w0, w1, w2', 0, 32 << 10, 'add shifted register, sf=0 imm6=32'],
  ['orr w0, w1, w2', 0, 63 << 10, 'logical shifted register, sf=0 imm6=63'],
  ['add x0, x1, w2, uxtb', 0, 5 << 10, 'add extended register, imm3=5'],
  ['add x0, x1, w2, uxtb', 0, 7 << 10, 'add extended register, imm3=7'],
  ['add x0, x1, w2, uxtb', 0, 1 << 22, 'add extended register, opt=01'],
  ['movz x0, #0', 1 << 30, 1 << 29, 'move wide, opc=01'],
  ['movz w0, #0', 0, 2 << 21, 'move wide, sf=0 hw=2'],
  ['movz w0, #0', 0, 3 << 21, 'move wide, sf=0 hw=3'],
  ['sbfm x0, x1, #0, #0', 0, 3 << 29, 'bitfield, opc=11'],
  ['sbfm x0, x1, #0, #0', 1 << 22, 0, 'bitfield, sf=1 N=0'],
  ['sbfm w0, w1, #0, #0', 0, 1 << 22, 'bitfield, sf=0 N=1'],
  ['ubfm w0, w1, #0, #0', 0, 32 << 16, 'bitfield, sf=0 immr=32'],
  ['bfm w0, w1, #0, #0', 0, 32 << 10, 'bitfield, sf=0 imms=32'],
  ['extr x0, x1, x2, #0', 1 << 22, 0, 'extract, sf=1 N=0'],
  ['extr w0, w1, w2, #0', 0, 32 << 10, 'extract, sf=0 imms=32'],
  ['extr x0, x1, x2, #0', 0, 1 << 21, 'extract, o0=1'],
  ['rev w0, w1', 0, 1 << 10, 'data-processing 1 source, sf=0 opcode=000011'],
  ['smaddl x0, w1, w2, x3', 1 << 31, 0, 'data-processing 3 source, SMADDL with sf=0'],
  ['smulh x0, x1, x2', 0, 1 << 15, 'data-processing 3 source, SMULH with o0=1'],
  ['smulh x0, x1, x2', 0, 1 << 29, 'data-processing 3 source, op54=01'],
  ['csel x0, x1, x2, eq', 0, 1 << 29, 'conditional select, S=1'],
  ['csel x0, x1, x2, eq', 0, 2 << 10, 'conditional select, op2=10'],
  ['ccmp x1, x2, #0, eq', 0, 1 << 4, 'conditional compare, o3=1'],
  ['ccmp x1, #2, #0, eq', 0, 1 << 10, 'conditional compare, o2=1'],
  ['ccmp x1, x2, #0, eq', 1 << 29, 0, 'conditional compare, S=0'],
  ['udiv x0, x1, x2', 0x3f << 10, 0, 'data-processing 2 source, opcode=000000'],
  ['adc x0, x1, x2', 0, 1 << 10, 'add/sub with carry, bits 15:10 non-zero'],
  ['br x1', 1 << 16, 0, 'branch register, op2=11110'],
  ['br x1', 0, 1 << 0, 'branch register, op4 non-zero without PAC'],
  ['ret', 0, 0b0101 << 21, 'branch register, opc=0111'],
];

function cases(words: number[]): Case[] {
  return words.map((w) => ({
    insn: `.inst 0x${(w >>> 0).toString(16).padStart(8, '0')}`,
    in: { x0: 0x0123_4567_89ab_cdefn, x1: 0x4008_0000n, x2: 3n, x3: 4n },
    out: ['x25', 'x0'],
  }));
}

describe('unallocated data-processing and branch encodings', () => {
  const words = encodeWords(MUTATIONS.map((m) => m[0])).map(
    (w, i) => ((w & ~MUTATIONS[i]![1]) | MUTATIONS[i]![2]) >>> 0,
  );
  const list = cases(words);

  it('are UNDEFINED on hypstep: ESR_EL2 = 0x02000000, destination unchanged', () => {
    const r = runOnHypstep(list);
    const bad = r.flatMap((res, i) =>
      res.regs.x25 === UNDEF_ESR && res.regs.x0 === 0x0123_4567_89ab_cdefn
        ? []
        : [
            `${MUTATIONS[i]![3]} (${list[i]!.insn}): x25=0x${res.regs.x25!.toString(16)} x0=0x${res.regs.x0!.toString(16)}`,
          ],
    );
    expect(bad).toEqual([]);
    // And QEMU agrees on every one of them.
    expect(differences(list, r, runOnQemu(list))).toEqual([]);
  });

  it('the pointer-authentication and BC.cond forms are UNDEFINED (FEAT_PAuth, FEAT_HBC not implemented)', () => {
    // RETAA, BRAA x1, x2, BLRAAZ x1, RETAB, ERETAA, BC.EQ (b.cond with bit 4 set).
    const pac = cases([0xd65f0bff, 0xd71f0822, 0xd63f083f, 0xd65f0fff, 0xd69f0bff, 0x54000010]);
    const r = runOnHypstep(pac);
    expect(r.map((x) => x.regs.x25)).toEqual(pac.map(() => UNDEF_ESR));
  });
});
