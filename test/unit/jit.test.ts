// Compiled blocks (src/cpu/jit.ts) against the interpreter's own handlers: the same random
// straight-line runs of data-processing instructions, from the same random states, must leave
// the same registers, stack pointers and flags — cold, and after thousands of calls have made
// V8 optimize the generated function. An end-to-end run of a hot loop checks the run loop's use.
import { describe, it, expect } from 'vitest';
import { Cpu } from '../../src/cpu/cpu.js';
import { decodeA64 } from '../../src/cpu/disasm.js';
import { PhysBus } from '../../src/board/bus.js';
import { compileBlock, FLAG_SCRATCH, FLAG_SCRATCH32 } from '../../src/cpu/jit.js';
import { parsePattern } from '../../src/cpu/decode.js';
import { assemble, program } from '../helpers/asm.js';
import { Machine } from '../../src/board/machine.js';
import { rng } from '../helpers/xorshift.js';

/** The encodings the block compiler handles (as in the ARM ARM's diagrams). */
const PATTERNS = [
  'sf:1 op:1 S:1 100010 sh:1 imm12:12 Rn:5 Rd:5',
  'sf:1 opc:2 100100 N:1 immr:6 imms:6 Rn:5 Rd:5',
  'sf:1 opc:2 100101 hw:2 imm16:16 Rd:5',
  'sf:1 opc:2 100110 N:1 immr:6 imms:6 Rn:5 Rd:5',
  'sf:1 00 100111 N:1 0 Rm:5 imms:6 Rn:5 Rd:5',
  'sf:1 opc:2 01010 shift:2 N:1 Rm:5 imm6:6 Rn:5 Rd:5',
  'sf:1 op:1 S:1 01011 shift:2 0 Rm:5 imm6:6 Rn:5 Rd:5',
  'sf:1 op:1 S:1 11010000 Rm:5 000000 Rn:5 Rd:5',
  'sf:1 op:1 0 11010100 Rm:5 cond:4 0 o2:1 Rn:5 Rd:5',
  'sf:1 00 11011 000 Rm:5 o0:1 Ra:5 Rn:5 Rd:5',
].map(parsePattern);

const EDGE = [
  0n,
  1n,
  2n,
  0x7fff_ffffn,
  0x8000_0000n,
  0xffff_ffffn,
  0x1_0000_0000n,
  0x7fff_ffff_ffff_ffffn,
  0x8000_0000_0000_0000n,
  0xffff_ffff_ffff_ffffn,
  0xffff_ffff_ffff_fffen,
];

function state(c: Cpu): string {
  return [...c.x, ...c.spEl, BigInt(c.ps.nzcv)].map((v) => v.toString(16)).join(',');
}

describe('compiled blocks', () => {
  it('leave the state the interpreter leaves, cold and optimized', () => {
    const next = rng(0xb10c);
    const value = (): bigint =>
      next() % 4 === 0 ? EDGE[next() % EDGE.length]! : (BigInt(next()) << 32n) | BigInt(next());
    const a = new Cpu(new PhysBus(0x4000_0000, 1 << 16));
    const b = new Cpu(new PhysBus(0x4000_0000, 1 << 16));
    let compiled = 0;
    let compared = 0;
    for (let t = 0; t < 1500; t++) {
      const words: number[] = [];
      while (words.length < 2 + (t % 10)) {
        const p = PATTERNS[next() % PATTERNS.length]!;
        const w = ((next() & ~p.mask) | p.value) >>> 0;
        const e = decodeA64(w);
        if (e && !e.name.startsWith('UNALLOC') && !/unallocated|reserved/i.test(e.name)) words.push(w);
      }
      const blk = compileBlock(
        (raw) => decodeA64(raw),
        (i) => words[i]!,
        0,
        words.length,
      );
      if (blk === null) continue;
      compiled++;
      // Every tenth block runs hot, so that V8 optimizes the generated function mid-way.
      for (let rep = 0, reps = t % 10 === 0 ? 3000 : 4; rep < reps; rep++) {
        const regs = Array.from({ length: 31 }, value);
        const sps = [value(), value(), value()];
        const nzcv = next() & 15,
          el = 1 + (next() % 2),
          sp = next() & 1;
        for (const c of [a, b]) {
          regs.forEach((v, i) => {
            c.x[i] = v;
          });
          sps.forEach((v, i) => {
            c.spEl[i] = v;
          });
          c.ps.nzcv = nzcv;
          c.ps.el = el;
          c.ps.sp = sp;
        }
        for (let i = 0; i < blk.len; i++) {
          const e = decodeA64(words[i]!)!;
          e.exec(a, e.extract(words[i]!) as never);
        }
        blk.fn(b, b.x, b.ps, FLAG_SCRATCH, FLAG_SCRATCH32);
        if (rep % 97 === 0 || rep < 4) {
          compared++;
          const sa = state(a),
            sb = state(b);
          if (sa !== sb) {
            const words16 = words
              .slice(0, blk.len)
              .map((w) => w.toString(16).padStart(8, '0'))
              .join(' ');
            expect.fail(`block [${words16}] rep ${rep}: interpreter ${sa}\ncompiled ${sb}`);
          }
        }
      }
    }
    expect(compiled).toBeGreaterThan(1000);
    expect(compared).toBeGreaterThan(5000);
  });

  it('run a hot loop to the same result and count as single-stepping it', () => {
    // No breakpoints and a large budget: the run loop may use blocks. Single steps never do.
    const image = assemble(
      program(`
      movz x0, #3000
      mov x1, #0x1234
      mov x2, #-7
      mov x3, #0
1:    add x1, x1, x2, lsl #3
      eor x3, x3, x1, ror #13
      adds x4, x3, x0
      csinc x5, x4, x5, cc
      madd x6, x5, x1, x3
      ubfx x7, x6, #7, #19
      subs x0, x0, #1
      b.ne 1b
      SEMIHOSTING_EXIT`),
    );
    const machine = () => {
      const m = new Machine({ memory: 16 << 20, uartOut: () => {} });
      m.load(image);
      return m;
    };
    const fast = machine();
    expect(fast.run(10_000_000).kind).toBe('exit');
    const slow = machine();
    let steps = 0;
    while (slow.cpu.step() === null) steps++;
    expect(steps).toBeGreaterThan(20_000);
    expect(state(fast.cpu)).toBe(state(slow.cpu));
    expect(fast.cpu.icount).toBe(slow.cpu.icount);
  });
});
