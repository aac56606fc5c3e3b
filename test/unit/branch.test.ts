// Branches and PC-relative addressing: each case records which way it went (x0) and any link
// register, on hypstep and on QEMU from the same ELF, so addresses compare exactly.
import { describe, it, expect, beforeAll } from 'vitest';
import { type Case, type Result, runOnHypstep, runOnQemu, differences, N, Z, C, V } from './dataproc-harness.js';

const CONDS = ['eq', 'ne', 'cs', 'cc', 'mi', 'pl', 'vs', 'vc', 'hi', 'ls', 'ge', 'lt', 'gt', 'le', 'al', 'nv'];
/** x0 = 1 when the branch is taken, 2 when it falls through. */
const taken = (branch: string) => `${branch}\n\tmov x0, #2\n\tb 2f\n1:\tmov x0, #1\n2:`;

const CASES: Case[] = [
  // B.cond: every condition against flag settings that make each go both ways.
  ...CONDS.flatMap((cond) =>
    [0, N, Z, C, V, N | V, Z | C, N | Z | C | V].map((nzcv) => ({ insn: taken(`b.${cond} 1f`), nzcv, out: ['x0'] })),
  ),
  // CBZ/CBNZ: the 32-bit forms look only at the low word.
  ...[0n, 1n, 0x1_0000_0000n, 0x8000_0000_0000_0000n].flatMap((v) => [
    { insn: taken('cbz x1, 1f'), in: { x1: v }, out: ['x0'] },
    { insn: taken('cbnz x1, 1f'), in: { x1: v }, out: ['x0'] },
    { insn: taken('cbz w1, 1f'), in: { x1: v }, out: ['x0'] },
    { insn: taken('cbnz w1, 1f'), in: { x1: v }, out: ['x0'] },
  ]),
  // TBZ/TBNZ on bits 0, 31, 32, 63.
  ...[0, 31, 32, 63].flatMap((bit) =>
    [0x8000_0001_8000_0001n, 0x7fff_fffe_7fff_fffen].flatMap((v) => [
      { insn: taken(`tbz x1, #${bit}, 1f`), in: { x1: v }, out: ['x0'] },
      { insn: taken(`tbnz x1, #${bit}, 1f`), in: { x1: v }, out: ['x0'] },
    ]),
  ),
  { insn: taken('tbnz w1, #31, 1f'), in: { x1: 0x8000_0000n }, out: ['x0'] },
  // B and BL, forwards and backwards; BL links to the next instruction.
  { insn: 'b 1f\n\tmov x0, #2\n1:\tmov x3, #3', in: { x0: 7n }, out: ['x0', 'x3'] },
  { insn: 'b 2f\n1:\tmov x0, #1\n\tb 3f\n2:\tb 1b\n3:', out: ['x0'] },
  { insn: 'bl 1f\n0:\tmov x0, #2\n1:\tadr x1, 0b', out: ['x0', 'x1', 'x30'] },
  { insn: 'b 1f\n\t.space 0x10000\n1:\tmov x0, #1', out: ['x0'] },
  // BR, BLR (including BLR x30, which must branch to the old x30), RET.
  { insn: 'adr x1, 1f\n\tbr x1\n\tmov x0, #2\n1:', in: { x0: 1n }, out: ['x0'] },
  { insn: 'adr x1, 1f\n\tblr x1\n0:\tmov x0, #2\n1:\tadr x2, 0b', in: { x0: 1n }, out: ['x0', 'x2', 'x30'] },
  { insn: 'adr x30, 1f\n\tblr x30\n0:\tmov x0, #2\n1:\tadr x2, 0b', in: { x0: 1n }, out: ['x0', 'x2', 'x30'] },
  { insn: 'adr x30, 1f\n\tret\n\tmov x0, #2\n1:', in: { x0: 1n }, out: ['x0'] },
  { insn: 'adr x5, 1f\n\tret x5\n\tmov x0, #2\n1:', in: { x0: 1n }, out: ['x0'] },
  // ADR/ADRP, forwards and backwards, to page boundaries.
  {
    insn: 'adr x0, __vectors\n\tadrp x1, __vectors\n\tadrp x2, _start + 0x12345000\n\tadr x3, .',
    out: ['x0', 'x1', 'x2', 'x3'],
  },
  { insn: 'adr x0, 1f\n\tadrp x1, 1f\n\t.balign 4096\n1:', out: ['x0', 'x1'] },
  { insn: 'adrp x0, _start - 0x40000000', out: ['x0'] },
];

let ours: Result[];
let qemu: Result[];
beforeAll(() => {
  ours = runOnHypstep(CASES);
  qemu = runOnQemu(CASES);
});

describe('branches and PC-relative addressing', () => {
  it(`agree with QEMU on ${CASES.length} cases`, () => {
    expect(differences(CASES, ours, qemu)).toEqual([]);
  });

  it('ConditionHolds (hand-derived from the ARM ARM table)', () => {
    const holds = (cond: string, nzcv: number) =>
      ours[CASES.findIndex((c) => c.insn === taken(`b.${cond} 1f`) && c.nzcv === nzcv)]!.regs.x0 === 1n;
    expect(holds('hi', C)).toBe(true);
    expect(holds('hi', Z | C)).toBe(false);
    expect(holds('ge', N | V)).toBe(true);
    expect(holds('lt', N)).toBe(true);
    expect(holds('gt', N | Z | C | V)).toBe(false);
    expect(holds('le', Z)).toBe(true);
    expect(holds('nv', 0)).toBe(true); // NV behaves as AL
  });

  it('links and register branches (hand-derived)', () => {
    const at = (insn: string) => ours[CASES.findIndex((c) => c.insn === insn)]!.regs;
    const bl = at('bl 1f\n0:\tmov x0, #2\n1:\tadr x1, 0b');
    expect(bl.x30).toBe(bl.x1); // the return address is the instruction after BL
    expect(bl.x0).not.toBe(2n);
    const blr30 = at('adr x30, 1f\n\tblr x30\n0:\tmov x0, #2\n1:\tadr x2, 0b');
    expect([blr30.x0, blr30.x30]).toEqual([1n, blr30.x2]);
    expect(at('adr x0, 1f\n\tadrp x1, 1f\n\t.balign 4096\n1:').x1! & 0xfffn).toBe(0n);
  });
});
