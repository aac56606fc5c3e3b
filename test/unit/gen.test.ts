// One source of semantics: every row the trace compiler inlines (a64.ts COMPILED) has a
// generator, and the code it generates leaves the state the row's own executor leaves — the
// registers, stack pointers, NZCV, memory, the next PC and the instruction count, or the same
// exception — on random operands, cold and after thousands of calls have made V8 optimize
// the generated function. End to end, a hot loop run through traces matches single-stepping.
import { describe, it, expect } from 'vitest';
import { Cpu } from '../../src/cpu/cpu.js';
import { decodeA64 } from '../../src/cpu/disasm.js';
import { PhysBus } from '../../src/board/bus.js';
import { COMPILED } from '../../src/cpu/a64.js';
import { compileTrace } from '../../src/cpu/trace.js';
import type { AnyEncoding } from '../../src/cpu/decode.js';
import { assemble, encode, program } from '../helpers/asm.js';
import { Machine } from '../../src/board/machine.js';
import { rng } from '../helpers/xorshift.js';
import { BOUNDARY_VALUES } from './dataproc-harness.js';
import { MEMORY_ROWS, comparedPes, outcome, setState } from './random-state.js';

/** The compiled path's next instruction everywhere but the one under test: it asks the run loop to stop. */
const STOP: AnyEncoding = {
  name: 'STOP',
  pattern: 'x',
  mask: 0,
  value: 0,
  extract: (raw: number) => ({ raw }),
  exec: (cpu: Cpu) => cpu.requestStop({ kind: 'requested', why: 'test' }),
};

/** Registers, stack pointers, NZCV and the PC (or `pc`: where the compiled path went on to). */
function state(c: Cpu, pc = c.pcs[0]!): string {
  return [...c.x, ...c.spEl, BigInt(c.ps.nzcv), pc].map((v) => v.toString(16)).join(',');
}

describe('generators on the table rows', () => {
  it('exist for every row of the compiled tables', () => {
    const missing = COMPILED.filter((e) => e.gen === undefined).map((e) => e.name);
    expect(missing).toEqual([]);
    expect(COMPILED.length).toBeGreaterThan(40);
  });

  it('generate what the executors do, on random operands, cold and optimized', () => {
    const next = rng(0x6e11);
    const { a, b, value, address } = comparedPes(next);
    const perRow = new Map<string, number>();
    for (const row of COMPILED) {
      let words = 0;
      for (let attempt = 0; attempt < 4000 && words < 25; attempt++) {
        const w = ((next() & ~row.mask) | row.value) >>> 0;
        if (decodeA64(w) !== row) continue; // an earlier row (a carve-out, an alias) claims it
        words++;
        const d = row.extract(w);
        const at = next() % 1024;
        const trace = compileTrace((i) => (i === at ? { e: row, d } : { e: STOP, d: {} }), at, 1024);
        expect(trace, row.name).not.toBeNull();
        // Pages low and high in the address space, so branches cross the page both ways.
        const hi = next() % 2 === 0 ? 0 : -1;
        const lo = (next() & ~0xfff) | (hi === 0 ? 0 : 0x8000_0000) | 0;
        const va = BigInt.asUintN(64, (BigInt(hi) << 32n) | BigInt(lo >>> 0)) + BigInt(at * 4);
        // Every twelfth word runs hot, so that V8 optimizes the generated function mid-way.
        for (let rep = 0, reps = words % 12 === 1 ? 500 : 3; rep < reps; rep++) {
          const memory = MEMORY_ROWS.has(row);
          const regs = Array.from({ length: 31 }, memory ? address : value);
          const sps = [0, 1, 2].map(() => (memory ? address() & (next() % 4 === 0 ? ~0n : ~15n) : value()));
          const nzcv = next() & 15;
          const el = 1 + (next() % 2);
          const sp = next() & 1;
          for (const c of [a, b]) {
            setState(c, { regs, sps, nzcv, el, sp });
            c.icount = 0;
            c.stopRequest = null;
            c.pcs[1] = va;
            c.pcs[0] = BigInt.asUintN(64, va + 4n);
          }
          const oa = outcome(() => row.exec(a, d as never));
          const ob = outcome(() => trace!.fn(b, b.x, b.ps, lo, hi, 1_000_000));
          // The compiled path ran the STOP row where it went on to (in the page): the PC is that row's.
          const ran = b.stopRequest !== null ? 2 : 1;
          const pcB = ran === 2 ? b.pcs[1]! : b.pcs[0]!;
          if (oa !== '') a.icount = 0;
          else a.icount = ran;
          if (rep < 3 || rep % 97 === 0) {
            const sa = `${oa} ${state(a)} icount ${a.icount}`;
            const sb = `${ob} ${state(b, pcB)} icount ${b.icount}`;
            if (Buffer.compare(a.bus.ram, b.bus.ram) !== 0)
              expect.fail(`${row.name} ${w.toString(16)}: memory differs`);
            if (sa !== sb)
              expect.fail(
                `${row.name} ${w.toString(16).padStart(8, '0')} rep ${rep}:\n interpreter ${sa}\n compiled    ${sb}`,
              );
            if (oa !== '') expect(b.pcs[1]).toBe(va);
          }
        }
      }
      perRow.set(row.name, words);
    }
    // Every row was reached by enough words to mean something (a few narrow carve-outs need luck).
    const thin = [...perRow].filter(([name, n]) => n < (name.startsWith('UNALLOCATED') ? 1 : 20));
    expect(thin).toEqual([]);
  });

  it('combine the flags one row sets with the condition or carry the next one reads, as the interpreter', () => {
    // Within a trace the flags stay symbolic (the operands of the row that set them): each
    // condition and the carry is computed from them, as int32 halves for a branch and as BigInt
    // masks for CSEL and ADC. Every condition after every kind of flag-setting row, on random
    // operands (equal ones too, for Z), cold and optimized; after a row that sets no flags they
    // come from PSTATE.
    const CONDS = ['eq', 'ne', 'cs', 'cc', 'mi', 'pl', 'vs', 'vc', 'hi', 'ls', 'ge', 'lt', 'gt', 'le', 'al', 'nv'];
    const setters = [
      ...['adds', 'subs', 'adcs', 'sbcs', 'ands', 'bics'].flatMap((op) => [`${op} x3, x1, x2`, `${op} w3, w1, w2`]),
      'cmp x1, #5',
      'cmn w1, #1',
      'ccmp x1, x2, #5, ne',
      'ccmn w1, w2, #10, lt',
      'orr x9, x1, x2', // sets no flags
    ];
    const consumers = [
      ...CONDS.flatMap((c) => [
        `csel x4, x1, x2, ${c}`,
        `csinc w4, w1, w2, ${c}`,
        `csinv x4, x2, x1, ${c}`,
        `csneg w4, w2, w1, ${c}`,
        `b.${c} .+64`,
      ]),
      ...['adc x4, x1, x2', 'sbc w4, w1, w2', 'adcs x4, x2, x1', 'ngc w4, w1'],
    ];
    const words = encode([...setters, ...consumers]);
    const rows = words.map((w) => ({ e: decodeA64(w)!, d: decodeA64(w)!.extract(w) }));
    const [set, use] = [rows.slice(0, setters.length), rows.slice(setters.length)];
    const next = rng(0xf1a9);
    const value = (): bigint =>
      next() % 4 === 0 ? BOUNDARY_VALUES[next() % BOUNDARY_VALUES.length]! : (BigInt(next()) << 32n) | BigInt(next());
    const a = new Cpu(new PhysBus(0x4000_0000, 1 << 16));
    const b = new Cpu(new PhysBus(0x4000_0000, 1 << 16));
    let pair = 0;
    for (const [i, s] of set.entries())
      for (const [j, u] of use.entries()) {
        const at = next() % 900;
        const trace = compileTrace((k) => (k === at ? s : k === at + 1 ? u : { e: STOP, d: {} }), at, 1024)!;
        const lo = (next() & ~0xfff) | 0;
        const va = BigInt(lo >>> 0) + BigInt(at * 4);
        for (let rep = 0, reps = pair++ % 40 === 0 ? 400 : 4; rep < reps; rep++) {
          const x1 = value();
          const x2 = next() % 4 === 0 ? x1 : value();
          const nzcv = next() & 15;
          for (const c of [a, b]) {
            c.x.fill(0n);
            [c.x[1], c.x[2]] = [x1, x2];
            c.ps.nzcv = nzcv;
            c.icount = 0;
            c.stopRequest = null;
          }
          [a.pcs[1], a.pcs[0]] = [va, va + 4n];
          s.e.exec(a, s.d as never);
          [a.pcs[1], a.pcs[0]] = [va + 4n, va + 8n];
          u.e.exec(a, u.d as never);
          a.icount = 2;
          [b.pcs[1], b.pcs[0]] = [va, va + 4n];
          trace.fn(b, b.x, b.ps, lo, 0, 1_000_000);
          // Where the compiled path went on in the page, it ran the STOP row there too.
          const ran = b.stopRequest !== null ? 1 : 0;
          const pcB = ran === 1 ? b.pcs[1] : b.pcs[0];
          b.icount -= ran;
          if (rep < 4 || rep % 97 === 0) {
            const sa = `${state(a)} icount ${a.icount}`;
            const sb = `${state(b, pcB)} icount ${b.icount}`;
            if (sa !== sb)
              expect.fail(
                `${setters[i]}; ${consumers[j]} on ${x1.toString(16)}, ${x2.toString(16)}, nzcv ${nzcv}:\n` +
                  ` interpreter ${sa}\n compiled    ${sb}`,
              );
          }
        }
      }
    expect(pair).toBe(setters.length * consumers.length);
  });

  it('compile CSEL and ADC after a flag-setting row without a branch', () => {
    // A branch on a data-dependent condition mispredicts about every other time: CSEL, its kin
    // and ADC choose and add with masks and the carry as a BigInt (the integer bench loop's
    // hot path), from symbolic flags and from PSTATE alike.
    for (const first of ['adds x3, x1, x2', 'orr x3, x1, x2']) {
      const lines = [first, 'csel x4, x1, x2, cs', 'csinc w5, w1, w2, hi', 'adc x6, x4, x5', 'csneg x7, x6, x5, lt'];
      const words = encode(lines);
      const trace = compileTrace(
        (k) =>
          k < words.length
            ? { e: decodeA64(words[k]!)!, d: decodeA64(words[k]!)!.extract(words[k]!) }
            : { e: STOP, d: {} },
        0,
        1024,
      )!;
      // Up to the STOP row's call (its PC synchronised first), which tests whether the run loop must look.
      const body = trace.fn.toString().split('p32[2] =')[0]!.split('for (;;) {')[1]!;
      expect(body, first).not.toMatch(/\bif\b|\?/);
    }
  });

  it('run a hot loop to the same result and count as single-stepping it', () => {
    // No breakpoints and a large budget: the run loop may use traces. Single steps never do.
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
      cbz x7, 2f
      tbnz x6, #5, 2f
      add x8, x8, #1
2:    subs x0, x0, #1
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
