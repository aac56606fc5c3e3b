// One source of semantics: an executor a row picks at decode for a hot shape of its operands
// (decode.ts `pick`) does what the row's own executor does, on random words of the row and
// random registers, stack pointers, flags and memory, cold and after enough calls for V8 to optimize it.
import { describe, it, expect } from 'vitest';
import { Cpu } from '../../src/cpu/cpu.js';
import { decodeA64 } from '../../src/cpu/disasm.js';
import { A64 } from '../../src/cpu/a64.js';
import { executorFor } from '../../src/cpu/decode.js';
import { rng } from '../helpers/xorshift.js';
import { encode } from '../helpers/asm.js';
import { MEMORY_ROWS, comparedPes, outcome, setState } from './random-state.js';

/** Registers, stack pointers, PSTATE's NZCV and the event register. */
function state(c: Cpu): string {
  return [...c.x, ...c.spEl, BigInt(c.ps.nzcv), c.eventRegister ? 1n : 0n].map((v) => v.toString(16)).join(',');
}

describe('executors picked at decode', () => {
  const rows = A64.filter((e) => e.pick !== undefined);

  it('are picked for the hot shapes of the rows that have them', () => {
    const picked = (line: string): boolean => {
      const w = encode([line])[0]!;
      const e = decodeA64(w)!;
      return executorFor(e, e.extract(w)) !== e.exec;
    };
    expect(rows.map((e) => e.name).sort()).toEqual([
      'ADD/SUB (immediate)',
      'ADD/SUB (shifted register)',
      'HINT',
      'LDP/LDNP/LDPSW',
      'LDR (immediate, 9-bit)',
      'LDR (unsigned offset)',
      'SBFM/BFM/UBFM',
      'STP/STNP',
      'STR (immediate, 9-bit)',
      'STR (unsigned offset)',
      'logical (shifted register)',
    ]);
    const hot = ['add x0, x1, x2', 'cmp w3, w4', 'mov x5, x6', 'tst x1, x2', 'subs x1, x2, #3', 'paciasp', 'bti c'];
    hot.push(
      'ldr x0, [x1, #8]',
      'ldrb w2, [x3, #1]',
      'stur w2, [x3, #-4]',
      'ldp x0, x1, [x2, #16]',
      'stp w3, w4, [x5]',
    );
    hot.push('ubfx x13, x14, #3, #7', 'lsl x1, x2, #3', 'lsr w1, w2, #5', 'ubfiz w3, w4, #8, #4', 'uxtb w0, w1');
    for (const line of hot) expect(picked(line), line).toBe(true);
    // Shapes left to the generic executor: a shift, an inversion, SP, a hint that does something,
    // writeback, a sign-extending load, SBFM and BFM.
    const cold = ['add x0, x1, x2, lsl #3', 'bic x1, x2, x3', 'add sp, sp, #16', 'mov x29, sp', 'wfi', 'yield'];
    cold.push(
      'ldr x0, [sp, #8]',
      'ldr x0, [x1], #8',
      'ldrsw x0, [x1]',
      'stp x29, x30, [sp, #-16]!',
      'ldpsw x0, x1, [x2]',
    );
    cold.push('sbfx x1, x2, #3, #4', 'asr x1, x2, #3', 'bfi x1, x2, #3, #4', 'sxtw x0, w1');
    for (const line of cold) expect(picked(line), line).toBe(false);
  });

  it('do what the row executor does, on random operands, cold and optimized', () => {
    const next = rng(0x91c4);
    const { a, b, value, address } = comparedPes(next);
    for (const row of rows) {
      let words = 0;
      for (let attempt = 0; attempt < 200_000 && words < 200; attempt++) {
        // Half the words with bits 15:10 clear (imm6 = 0 and the like).
        const raw = next() & (attempt % 2 === 0 ? ~0 : ~0xfc00);
        const w = ((raw & ~row.mask) | row.value) >>> 0;
        if (decodeA64(w) !== row) continue;
        const d = row.extract(w);
        const picked = executorFor(row, d);
        if (picked === row.exec) continue;
        words++;
        for (let rep = 0, reps = words % 20 === 1 ? 300 : 3; rep < reps; rep++) {
          const regs = Array.from({ length: 31 }, MEMORY_ROWS.has(row) ? address : value);
          const sps = [0, 1, 2].map(value);
          const nzcv = next() & 15;
          const el = 1 + (next() % 2);
          const sp = next() & 1;
          for (const c of [a, b]) {
            setState(c, { regs, sps, nzcv, el, sp });
            c.eventRegister = false;
          }
          const sa = `${outcome(() => row.exec(a, d as never))} ${state(a)}`;
          const sb = `${outcome(() => picked(b, d as never))} ${state(b)}`;
          if (Buffer.compare(a.bus.ram, b.bus.ram) !== 0) expect.fail(`${row.name} ${w.toString(16)}: memory differs`);
          if (sa !== sb)
            expect.fail(`${row.name} ${w.toString(16).padStart(8, '0')} rep ${rep}:\n row    ${sa}\n picked ${sb}`);
        }
      }
      expect(words, row.name).toBe(200);
    }
  });
});
