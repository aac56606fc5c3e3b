// Exactness of compiled traces: what a run through them does is what single-stepping the
// interpreter does (steps never run traces), instruction for instruction — the same registers,
// memory, instruction count and stops — through self-modifying code, a fault in a hot loop, a
// run cut into arbitrary slices, a debugger watchpoint and watched memory. The file runs in the
// jit-always project (everything compiled at once) and in jit-off (the interpreter alone).
import { describe, it, expect } from 'vitest';
import { assemble, program } from '../helpers/asm.js';
import { Machine } from '../../src/board/machine.js';
import { AUTO_LOOP_THRESHOLD, AUTO_THRESHOLD } from '../../src/cpu/code.js';
import type { Cpu, PeStop } from '../../src/cpu/cpu.js';
import { onPath } from '../../src/cpu/trace.js';
import type { Image } from '../../src/loader/elf.js';
import type { MemoryAccessed } from '../../src/cpu/events.js';
import { rng } from '../helpers/xorshift.js';
import { copyAccess } from '../helpers/events.js';

function machine(image: Image): Machine {
  const m = new Machine({ memory: 16 << 20, uartOut: () => {} });
  m.load(image);
  return m;
}

function state(c: Cpu): string {
  return [...c.x, ...c.spEl, BigInt(c.ps.nzcv), c.pcs[0]!, BigInt(c.icount)].map((v) => v.toString(16)).join(',');
}

/** Runs `image` to its end in slices of 1 to `most` instructions, each retiring exactly its slice. */
function runSliced(image: Image, seed: number, most: number): Machine {
  const m = machine(image);
  const next = rng(seed);
  for (;;) {
    const before = m.cpu.icount;
    const n = 1 + (next() % most);
    if (m.run(n).kind !== 'budget') return m;
    expect(m.cpu.icount - before).toBe(n);
  }
}

/** Single-steps to the first stop. */
function stepToStop(c: Cpu): PeStop {
  for (let n = 0; n < 10_000_000; n++) {
    const r = c.step();
    if (r !== null) return r;
  }
  throw new Error('no stop within 10M steps');
}

const VECTORS = `
	adr x20, vectors
	msr vbar_el2, x20
	isb
	b main
	.balign 2048
vectors:
	.fill 128, 4, 0xd4200000
	// current EL with SPx, synchronous: the syndrome, the return address and FAR, then exit
	mrs x21, esr_el2
	mrs x22, elr_el2
	mrs x23, far_el2
	SEMIHOSTING_EXIT
	.balign 2048
main:`;

describe('compiled traces', () => {
  it('see an instruction a hot loop rewrites in its own page at once', () => {
    const image = assemble(
      program(`
	adr x0, 2f
	ldr w1, [x0]            // movz x2, #0
	mov x3, #0
	mov x4, #100
1:	orr w5, w1, w4, lsl #5  // movz x2, #x4
	str w5, [x0]
	dc cvau, x0
	dsb ish
	ic ivau, x0
	dsb ish
	isb
2:	movz x2, #0
	add x3, x3, x2
	subs x4, x4, #1
	b.ne 1b
	SEMIHOSTING_EXIT`),
    );
    const run = machine(image);
    expect(run.run(10_000_000).kind).toBe('exit');
    expect(run.cpu.x[3]).toBe(5050n); // 100 + 99 + ... + 1
    const stepped = machine(image);
    expect(stepToStop(stepped.cpu).kind).toBe('exit');
    expect(state(run.cpu)).toBe(state(stepped.cpu));
  });

  it('take a fault in a hot loop at its instruction, with its instruction count', () => {
    // Loads walk off the end of RAM (0x4000_0000 + 16 MiB) with the MMU off: an external abort.
    const image = assemble(
      program(`${VECTORS}
	movq x0, 0x40f00000
	mov x1, #0
1:	ldr x2, [x0]
	add x0, x0, #4096
	add x1, x1, x2
	eor x1, x1, x1, ror #7
	b 1b`),
    );
    const run = machine(image);
    expect(run.run(10_000_000).kind).toBe('exit');
    expect(run.cpu.x[23]).toBe(0x4100_0000n); // FAR: the first byte past RAM
    expect(run.cpu.x[21]! >> 26n).toBe(0x25n); // a data abort taken without a change of EL
    const stepped = machine(image);
    expect(stepToStop(stepped.cpu).kind).toBe('exit');
    expect(state(run.cpu)).toBe(state(stepped.cpu));
  });

  it('run cut into arbitrary slices retires exactly each slice and ends as one run', () => {
    const image = assemble(
      program(`
	mov x0, #4000
	mov x1, #0x1234
	adr x9, buf
1:	add x1, x1, x0, lsl #3
	eor x2, x1, x1, lsr #11
	str x2, [x9, x0, lsl #3]
	tbz x2, #3, 2f
	ldr x3, [x9, #8]
	add x1, x1, x3
2:	cbz x3, 3f
	madd x3, x3, x2, x1
3:	subs x0, x0, #1
	b.ne 1b
	SEMIHOSTING_EXIT
	.balign 8
buf:	.fill 4100, 8, 0`),
    );
    const whole = machine(image);
    expect(whole.run(100_000_000).kind).toBe('exit');
    const sliced = runSliced(image, 0x511c, 157);
    const stepped = machine(image);
    expect(stepToStop(stepped.cpu).kind).toBe('exit');
    expect(state(sliced.cpu)).toBe(state(whole.cpu));
    expect(state(whole.cpu)).toBe(state(stepped.cpu));
    const ram = (m: Machine) => m.bus.ram;
    expect(Buffer.compare(ram(whole), ram(stepped))).toBe(0);
  });

  it('unroll a short loop, which leaves in any copy of its body or at the budget where the interpreter does', () => {
    // Back edges on each kind of condition: flags, a zero register, a bit.
    const loops = [
      ['subs x0, x0, #1', 'b.ne 1b'],
      ['sub x0, x0, #1', 'cbnz x0, 1b'],
      ['sub x0, x0, #1', 'tbnz x0, #9, 1b'], // x0 counts down from n | 512 while bit 9 is set
    ];
    for (const [i, [step, back]] of loops.entries())
      for (const n of [1, 2, 3, 4, 5, 6, 7, 8, 9, 500]) {
        const image = assemble(
          program(`
	mov x0, #${i === 2 ? n | 512 : n}
	mov x1, #7
	mov x2, #0
	adr x12, 1f
1:	add x1, x1, x0
	eor x2, x2, x1, ror #3
	${step}
	${back}
	adc x3, x1, x2
	SEMIHOSTING_EXIT`),
        );
        const whole = machine(image);
        expect(whole.run(10_000_000).kind).toBe('exit');
        if (whole.cpu.code.hot !== 0 && n === 500) {
          // Compiled: the trace at the head holds four copies of the 4-instruction body.
          const head = Number(whole.cpu.x[12]!);
          const t = whole.cpu.code.page(head).traces[(head & 4095) >>> 2];
          expect(t!.len).toBeGreaterThanOrEqual(16);
        }
        const sliced = runSliced(image, 0x4011 + n, 23);
        const stepped = machine(image);
        expect(stepToStop(stepped.cpu).kind).toBe('exit');
        expect(state(whole.cpu), `${back}, ${n}`).toBe(state(stepped.cpu));
        expect(state(sliced.cpu), `${back}, ${n}, sliced`).toBe(state(stepped.cpu));
      }
  });

  // Forward branches whose sides meet again compile as an if/else inside the trace: both sides
  // write registers, SP and the flags differently, load and store, and the join reads them.
  const JOINS = `
	mov x0, #3000
	mov x1, #0x1234
	mov w5, #-1
	movq x6, 0xedb88320
	mov x2, #0
	mov x3, #0
	adr x9, buf
	mov x10, sp
	adr x12, 1f
	cmp x0, #0
1:	tbz w5, #0, 2f
	eor w5, w6, w5, lsr #1
	add sp, sp, #16
	b 3f
2:	lsr w5, w5, #1
	sub sp, sp, #32
3:	tst x1, #4
	b.eq 4f
	adds x2, x2, x1, lsl #60
	str x2, [x9, x0, lsl #3]
4:	b.mi 5f
	add x1, x1, x5
	ldr x3, [x9, #8]
	b 6f
5:	cbnz x3, 6f
	ldr x3, [x9, x0, lsl #3]
	add x3, x3, #1
6:	eor x1, x1, x1, ror #9
	csel x4, x1, x3, cs
	add x2, x2, x4
	subs x0, x0, #1
	b.ne 1b
	mov x11, sp
	mov sp, x10
	SEMIHOSTING_EXIT
	.balign 4096 // not on the code's page: a store there would drop its traces
buf:	.fill 3002, 8, 0`;

  it('run forward branches whose sides meet as an if/else, whole or cut into slices, as the interpreter', () => {
    const image = assemble(program(JOINS));
    const whole = machine(image);
    expect(whole.run(100_000_000).kind).toBe('exit');
    if (whole.cpu.code.hot !== 0) {
      // Compiled: the loop's trace covers both sides of the first if/else (EOR, then LSR at 2:).
      const head = Number(whole.cpu.x[12]!);
      const t = whole.cpu.code.page(head).traces[(head & 4095) >>> 2];
      expect(t).toBeTruthy();
      expect([1, 4].map((i) => onPath(t!, ((head & 4095) >>> 2) + i))).toEqual([true, true]);
      // The first if/else only computes registers (SP among them): a blend, without a branch.
      expect(t!.blends).toBeGreaterThanOrEqual(1);
    }
    const sliced = runSliced(image, 0x10145, 61);
    const stepped = machine(image);
    expect(stepToStop(stepped.cpu).kind).toBe('exit');
    expect(state(whole.cpu)).toBe(state(stepped.cpu));
    expect(state(sliced.cpu)).toBe(state(stepped.cpu));
    expect(Buffer.compare(whole.bus.ram, stepped.bus.ram)).toBe(0);
  });

  // Inner loops that end by falling through run inside the outer loop's trace: a bitwise CRC's
  // loop (its if/else a blend, the flags written before they are read) and one whose CSEL reads
  // first the flags set before the loop, then its own SUBS's; a third leaves on the way.
  const NESTED = `
	mov x0, #700
	mov w5, #-1
	movq x6, 0xedb88320
	adr x9, buf
	mov x2, #0
	adr x12, 1f
	cmp x0, #0
1:	ldrb w3, [x9, x0]
	eor w5, w5, w3
	mov w4, #8
2:	tbz w5, #0, 3f
	eor w5, w6, w5, lsr #1
	b 4f
3:	lsr w5, w5, #1
4:	subs w4, w4, #1
	b.ne 2b
	and x4, x0, #7
5:	csel x7, x5, x2, mi
	eor x2, x2, x7, ror #5
	subs x4, x4, #1
	b.pl 5b
	and x4, x0, #3
6:	cbz x4, 7f
	sub x4, x4, #1
	str x2, [x9, x4, lsl #3]
	b.ne 6b
7:	adds x2, x2, x5, lsl #3
	subs x0, x0, #1
	b.ne 1b
	SEMIHOSTING_EXIT
	.balign 4096
buf:	.fill 800, 1, 0x5a`;

  it("run inner loops inside the outer loop's trace, whole or cut into slices, as the interpreter", () => {
    const image = assemble(program(NESTED));
    const whole = machine(image);
    expect(whole.run(100_000_000).kind).toBe('exit');
    if (whole.cpu.code.hot !== 0) {
      const head = Number(whole.cpu.x[12]!);
      const t = whole.cpu.code.page(head).traces[(head & 4095) >>> 2];
      expect(t!.inners).toBe(2);
      expect(t!.blends).toBe(1);
    }
    const sliced = runSliced(image, 0x2b0f, 41);
    const stepped = machine(image);
    expect(stepToStop(stepped.cpu).kind).toBe('exit');
    expect(state(whole.cpu)).toBe(state(stepped.cpu));
    expect(state(sliced.cpu)).toBe(state(stepped.cpu));
    expect(Buffer.compare(whole.bus.ram, stepped.bus.ram)).toBe(0);
  });

  it('take a fault in an inner loop at its instruction, with its instruction count', () => {
    const image = assemble(
      program(`${VECTORS}
	movq x0, 0x40f00000
	mov x1, #5
1:	mov x3, #3
2:	ldr x2, [x0]
	add x0, x0, #1024
	add x1, x1, x2
	subs x3, x3, #1
	b.ne 2b
	eor x1, x1, x1, ror #7
	b 1b`),
    );
    const run = machine(image);
    expect(run.run(10_000_000).kind).toBe('exit');
    expect(run.cpu.x[23]).toBe(0x4100_0000n); // FAR: the first byte past RAM
    expect(run.cpu.x[21]! >> 26n).toBe(0x25n);
    const stepped = machine(image);
    expect(stepToStop(stepped.cpu).kind).toBe('exit');
    expect(state(run.cpu)).toBe(state(stepped.cpu));
  });

  it('take a fault on one side of an if/else at its instruction, with its instruction count', () => {
    const image = assemble(
      program(`${VECTORS}
	movq x0, 0x40f00000
	mov x1, #5
1:	tbnz x1, #2, 2f
	ldr x2, [x0]
	add x1, x1, x2
	b 3f
2:	add x1, x1, #3
3:	add x0, x0, #4096
	eor x1, x1, x1, ror #7
	b 1b`),
    );
    const run = machine(image);
    expect(run.run(10_000_000).kind).toBe('exit');
    expect(run.cpu.x[23]! >= 0x4100_0000n).toBe(true); // FAR: past RAM
    expect(run.cpu.x[21]! >> 26n).toBe(0x25n);
    const stepped = machine(image);
    expect(stepToStop(stepped.cpu).kind).toBe('exit');
    expect(state(run.cpu)).toBe(state(stepped.cpu));
  });

  const STORES = program(`
	adr x9, buf
	mov x0, #300
1:	add x1, x0, #7
	str x1, [x9, x0, lsl #3]
	ldr x2, [x9, #16]
	subs x0, x0, #1
	b.ne 1b
	SEMIHOSTING_EXIT
	.balign 8
buf:	.fill 302, 8, 0`);

  it('stop at a debugger watchpoint inside a hot loop where the interpreter stops', () => {
    const image = assemble(STORES);
    const watch = (m: Machine): bigint => {
      const buf = m.cpu.x[9]!; // set after the first instruction below
      m.cpu.debug.watching = true;
      m.cpu.debug.watch = (va, size, write) => (write && va === buf + 8n * 40n ? { type: 'watch', addr: va } : null);
      return buf;
    };
    const run = machine(image);
    run.cpu.step();
    watch(run);
    const r = run.run(10_000_000);
    const stepped = machine(image);
    stepped.cpu.step();
    watch(stepped);
    const s = stepToStop(stepped.cpu);
    expect(r).toEqual(s);
    expect(r.kind).toBe('watchpoint');
    expect(state(run.cpu)).toBe(state(stepped.cpu));
    expect(run.cpu.x[0]).toBe(40n);
  });

  it('call a code hook on a hot page each time its instruction runs, and still compile the rest', () => {
    // f is on the loop's page: a trace whose path reaches it (the loop's head, through BL) must
    // not run, one that does not (after the return) may. Enough calls to pass auto's threshold.
    const calls = AUTO_THRESHOLD + 100;
    const image = assemble(
      program(`
	adr x9, f
	adr x10, 2f
	ldr x0, =${calls}
1:	bl f
2:	add x1, x1, #1
	subs x0, x0, #1
	b.ne 1b
	SEMIHOSTING_EXIT
f:	add x2, x2, #3
	ret`),
    );
    const hooked = (m: Machine): { calls: number } => {
      const seen = { calls: 0 };
      m.cpu.step();
      m.cpu.setCodeHook(m.cpu.x[9]!, () => seen.calls++);
      return seen;
    };
    const run = machine(image);
    const a = hooked(run);
    expect(run.run(10_000_000).kind).toBe('exit');
    const stepped = machine(image);
    const b = hooked(stepped);
    expect(stepToStop(stepped.cpu).kind).toBe('exit');
    expect(a.calls).toBe(calls);
    expect(b.calls).toBe(calls);
    expect(state(run.cpu)).toBe(state(stepped.cpu));
    if (run.code.hot !== 0) {
      // The instruction after the BL (2, in x10) heads a trace that was compiled.
      const after = Number(run.cpu.x[10]!);
      expect(run.code.page(after).traces[(after & 4095) >>> 2]).toBeTruthy();
    }
  });

  it('raise the same watched-memory events from a hot loop as the interpreter', () => {
    const image = assemble(STORES);
    const events = (m: Machine, go: (c: Cpu) => PeStop): MemoryAccessed[] => {
      const seen: MemoryAccessed[] = [];
      m.cpu.step();
      const pa = Number(m.cpu.x[9]);
      m.cpu.watchPhys(pa + 8 * 100, 16); // x0 = 100 and 101 store there; every load reads buf + 16
      m.cpu.watchPhys(pa + 16, 8);
      m.cpu.observer = { memoryAccessed: (e) => seen.push(copyAccess(e)) };
      expect(go(m.cpu).kind).toBe('exit');
      return seen;
    };
    const run = machine(image);
    const a = events(run, (c) => c.run(10_000_000));
    const stepped = machine(image);
    const b = events(stepped, stepToStop);
    expect(a.length).toBe(303); // 300 loads of buf + 16 (one stores there too), x0 = 100, 101
    expect(a).toEqual(b);
    expect(state(run.cpu)).toBe(state(stepped.cpu));
  });

  it('keep accesses to the unwatched bytes of a page with watched bytes on the compiled path', () => {
    // A vcpu context shares its page with other state: only the accesses of watched bytes leave the trace.
    // (The buffer has a page of its own: a store to a page of code always leaves.)
    const m = machine(assemble(STORES.replace('.balign 8', '.balign 4096')));
    m.cpu.step();
    const pa = Number(m.cpu.x[9]);
    m.cpu.watchPhys(pa + 8 * 100, 16);
    const seen: MemoryAccessed[] = [];
    m.cpu.observer = { memoryAccessed: (e) => seen.push(copyAccess(e)) };
    let compiled = 0;
    const ramOffset = m.cpu.ramOffset.bind(m.cpu);
    m.cpu.ramOffset = (lo, hi, type, unprivileged, size) => {
      const off = ramOffset(lo, hi, type, unprivileged, size);
      if (off >= 0 && m.cpu.pageWatched) compiled++;
      return off;
    };
    expect(m.run(10_000_000).kind).toBe('exit');
    expect(seen.map((e) => [e.pa - pa, e.write])).toEqual([
      [808, true],
      [800, true],
    ]);
    // Compiled from the first iteration (threshold 1): every access but the two watched stores takes
    // the inline path (the first, a TLB miss, walks there), asking for its bytes one access at a time
    // (a page with watched bytes is not remembered).
    if (m.code.hot === 1) expect(compiled).toBe(2 * 300 - 2);
    if (m.code.hot === 0) expect(compiled).toBe(0);
  });
});

describe('where traces start', () => {
  it('not on the straight line after a trace too long for the budget left (a slice ends there)', () => {
    const m = machine(assemble(program(`${'\tadd x2, x2, #1\n'.repeat(12)}\tSEMIHOSTING_EXIT`)));
    const entry = Number(m.cpu.pcs[0]!);
    const at = (i: number) => m.code.page(entry).traces[((entry & 4095) >>> 2) + i];
    // Compiled at its first arrival (threshold 1), the entry's trace does not fit in 3 instructions:
    // they are interpreted, and the two after the entry are no heads.
    expect(m.run(3).kind).toBe('budget');
    if (m.code.hot === 1) expect(at(0)).toBeTruthy();
    expect([at(1), at(2)]).toEqual([undefined, undefined]);
    // A slice starting there makes one.
    expect(m.run(1).kind).toBe('budget');
    if (m.code.hot === 1) expect(at(3)).toBeTruthy();
    expect(m.run(100).kind).toBe('exit');
    expect(m.cpu.x[2]).toBe(12n);
  });
});

describe('the compile policy (auto)', () => {
  // A loop's trace is compiled after AUTO_LOOP_THRESHOLD arrivals at its head; a trace that does
  // not come back to its head (at 2: the call, f's body, its return) after AUTO_THRESHOLD.
  const LOOP = AUTO_LOOP_THRESHOLD + 100;
  const CALLS = program(`
	adr x10, 1f
	adr x11, 2f
	ldr x0, =${LOOP}
1:	add x1, x1, x0
	subs x0, x0, #1
	b.ne 1b
	ldr x0, =${AUTO_THRESHOLD + 100}
2:	bl f
	subs x0, x0, #1
	b.ne 2b
	SEMIHOSTING_EXIT
f:	add x2, x2, #3
	eor x3, x3, x2, ror #7
	ret`);

  it('compiles a loop early and straight-line code late, with the same results', () => {
    const before = process.env.HYPSTEP_JIT;
    process.env.HYPSTEP_JIT = 'auto';
    const m = machine(assemble(CALLS));
    if (before === undefined) delete process.env.HYPSTEP_JIT;
    else process.env.HYPSTEP_JIT = before;
    const slot = (pc: bigint) => m.code.page(Number(pc)).traces[(Number(pc) & 4095) >>> 2];
    // Past the loop's threshold and as many calls: the loop's trace only.
    expect(m.run(3 * LOOP + 5 * LOOP).kind).toBe('budget');
    expect(slot(m.cpu.x[10]!)).toBeTruthy();
    expect(slot(m.cpu.x[11]!)).toBeUndefined();
    // Past the late threshold: the call's trace too.
    expect(m.run(100_000_000).kind).toBe('exit');
    expect(slot(m.cpu.x[11]!)).toBeTruthy();
    const stepped = machine(assemble(CALLS));
    expect(stepToStop(stepped.cpu).kind).toBe('exit');
    expect(state(m.cpu)).toBe(state(stepped.cpu));
  });
});
