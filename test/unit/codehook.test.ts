// Code hooks (the world layer's function-entry hooks): each fires once per execution of its
// instruction, whether it is reached by a branch or by falling through inside a hot run of
// data-processing instructions the block compiler would otherwise run as one block.
import { describe, expect, it } from 'vitest';
import { Machine } from '../../src/board/machine.js';
import { assemble, program } from '../helpers/asm.js';

describe('code hooks', () => {
  it('fire on every execution, by branch and by fall-through inside a hot straight-line run', () => {
    const img = assemble(
      program(`
	mov	x9, #1000
loop:
	add	x1, x1, #1
	add	x2, x2, #2
middle:
	add	x3, x3, #3
	add	x4, x4, #4
	add	x5, x5, #5
	bl	func
	subs	x9, x9, #1
	b.ne	loop
	POWER_OFF
func:
	add	x6, x6, #1
	ret
`),
    );
    const m = new Machine({ uartOut: () => {}, consoleOut: () => {} });
    m.load(img);
    const at = (name: string) => img.symbols.find((s) => s.name === name)!.value;
    let middle = 0,
      func = 0,
      before = 0;
    m.cpu.setCodeHook(at('middle'), () => middle++);
    m.cpu.setCodeHook(at('func'), () => {
      if (m.cpu.x[6] === BigInt(func)) before++; // the hooked instruction has not run yet
      func++;
    });
    m.run(1_000_000);
    expect([middle, func, before, m.cpu.x[3]]).toEqual([1000, 1000, 1000, 3000n]);
    m.cpu.setCodeHook(at('middle'), null);
    m.reset();
    m.run(1_000_000);
    expect([middle, func]).toEqual([1000, 2000]);
  });
});
