// One source of semantics: an executor a row picks at decode for a hot shape of its operands
// (decode.ts `pick`) does what the row's own executor does, on random words of the row and
// random registers, stack pointers and flags, cold and after enough calls for V8 to optimize it.
import { describe, it, expect } from 'vitest';
import { Cpu } from '../../src/cpu/cpu.js';
import { decodeA64 } from '../../src/cpu/disasm.js';
import { PhysBus } from '../../src/board/bus.js';
import { A64 } from '../../src/cpu/a64.js';
import { executorFor } from '../../src/cpu/decode.js';
import { rng } from '../helpers/xorshift.js';
import { encode } from '../helpers/asm.js';
import { BOUNDARY_VALUES } from './dataproc-harness.js';
import { outcome, setState } from './random-state.js';

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
      'logical (shifted register)',
    ]);
    for (const line of [
      'add x0, x1, x2',
      'cmp w3, w4',
      'mov x5, x6',
      'tst x1, x2',
      'subs x1, x2, #3',
      'paciasp',
      'bti c',
    ])
      expect(picked(line), line).toBe(true);
    // Shapes left to the generic executor: a shift, an inversion, SP, a hint that does something.
    for (const line of ['add x0, x1, x2, lsl #3', 'bic x1, x2, x3', 'add sp, sp, #16', 'mov x29, sp', 'wfi', 'yield'])
      expect(picked(line), line).toBe(false);
  });

  it('do what the row executor does, on random operands, cold and optimized', () => {
    const next = rng(0x91c4);
    const value = (): bigint =>
      next() % 4 === 0 ? BOUNDARY_VALUES[next() % BOUNDARY_VALUES.length]! : (BigInt(next()) << 32n) | BigInt(next());
    const a = new Cpu(new PhysBus(0x4000_0000, 1 << 16));
    const b = new Cpu(new PhysBus(0x4000_0000, 1 << 16));
    for (const row of rows) {
      let words = 0;
      for (let attempt = 0; attempt < 200_000 && words < 200; attempt++) {
        // Half the words with their low 16 bits of fields above the registers cleared (imm6 = 0 and the like).
        const raw = next() & (attempt % 2 === 0 ? ~0 : ~0xfc00);
        const w = ((raw & ~row.mask) | row.value) >>> 0;
        if (decodeA64(w) !== row) continue;
        const d = row.extract(w);
        const picked = executorFor(row, d);
        if (picked === row.exec) continue;
        words++;
        for (let rep = 0, reps = words % 20 === 1 ? 300 : 3; rep < reps; rep++) {
          const regs = Array.from({ length: 31 }, value);
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
          if (sa !== sb)
            expect.fail(`${row.name} ${w.toString(16).padStart(8, '0')} rep ${rep}:\n row    ${sa}\n picked ${sb}`);
        }
      }
      expect(words, row.name).toBe(200);
    }
  });
});
