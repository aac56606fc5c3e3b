// Code hooks (the world layer's function-entry hooks): each fires once per execution of its
// instruction, whether it is reached by a branch or by falling through inside a hot run of
// data-processing instructions the block compiler would otherwise run as one block.
import { describe, expect, it } from 'vitest';
import { Machine } from '../../src/board/machine.js';
import { assemble, program } from '../helpers/asm.js';
import { EL2_MMU_ON, el2Tables } from './loadstore-harness.js';

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

describe('code hooks, marked in the decoded pages', () => {
  // EL2 with its MMU on: RAM identity-mapped in 2 MiB blocks, and the first block again at
  // ALIAS above it (the code runs at both VAs). A hot loop with a hook in its middle, a function
  // called by BL and through the alias, an EL1 guest whose HVCs come back by ERET, and a hot loop
  // on a page of its own, with no hook: all run in both JIT modes.
  const ALIAS = 0x60_0000;
  const image = () =>
    assemble(
      program(`${EL2_MMU_ON}
	mov	x9, #1000
hot:
	add	x1, x1, #1
	add	x2, x2, #2
middle:
	add	x3, x3, #3
	add	x4, x4, #4
	subs	x9, x9, #1
	b.ne	hot
	mov	x9, #10
1:	bl	func
	subs	x9, x9, #1
	b.ne	1b
	ldr	x10, =func + ${ALIAS}
	mov	x9, #5
2:	blr	x10
	subs	x9, x9, #1
	b.ne	2b
	bl	far
	mov	x0, #(1 << 31)			// HCR_EL2.RW: EL1 is AArch64
	msr	hcr_el2, x0
	adr	x0, guest
	msr	elr_el2, x0
	mov	x0, #0x3c5
	msr	spsr_el2, x0
	mov	x9, #100
	isb
	eret
guest:
1:	hvc	#0
back:
	subs	x9, x9, #1
	b.ne	1b
	hvc	#1
func:
	add	x6, x6, #1
ret_:	ret
	.ltorg

	.balign 2048
vectors:
	.fill	256, 4, 0xd4200000
lower:						// lower EL, synchronous
	add	x21, x21, #1
	mrs	x0, esr_el2
	tbnz	x0, #0, done
	eret
done:
	POWER_OFF

	.balign 4096
far:
	mov	x11, #3000
3:	add	x12, x12, #1
	subs	x11, x11, #1
	b.ne	3b
	ret

${el2Tables(['0x40000705', '0x40200705', '0x40400705', '0x40000705 // ALIAS: the first block again'])}`),
    );

  it('fire once per arrival: in a hot loop, at branch targets, after an exception and its return, per VA', () => {
    const img = image();
    const at = (name: string) => img.symbols.find((s) => s.name === name)!.value;
    const m = new Machine({ uartOut: () => {}, consoleOut: () => {} });
    m.load(img);
    const cpu = m.cpu;
    const n = { middle: 0, unrun: 0, func: 0, returned: 0, alias: 0, lower: 0, back: 0 };
    cpu.setCodeHook(at('middle'), () => {
      if (cpu.x[3] === BigInt(3 * n.middle) && cpu.pcs[0] === at('middle')) n.unrun++;
      n.middle++;
    });
    // As the world layer's return hooks: set from inside a hook, removed from inside itself.
    cpu.setCodeHook(at('func'), () => {
      n.func++;
      const ret = cpu.x[30]!;
      cpu.setCodeHook(ret, () => {
        if (cpu.x[6] === BigInt(n.func)) n.returned++;
        cpu.setCodeHook(ret, null);
      });
    });
    cpu.setCodeHook(at('ret_') + BigInt(ALIAS), () => n.alias++);
    cpu.setCodeHook(at('lower'), () => n.lower++);
    cpu.setCodeHook(at('back'), () => {
      if (++n.back === 40) cpu.setCodeHook(at('back'), null);
    });
    expect(m.run(10_000_000).kind).toBe('exit');
    expect(n).toEqual({ middle: 1000, unrun: 1000, func: 10, returned: 10, alias: 5, lower: 101, back: 40 });
    expect([cpu.x[3], cpu.x[6], cpu.x[9], cpu.x[12], cpu.x[21]]).toEqual([3000n, 15n, 0n, 3000n, 101n]);
    if (m.code.hot === 1) {
      // Compiled: the loop on a page without hooks, and the hooked one (its count shows it never ran past the hook).
      const head = (name: string, skip: number) => {
        const pa = Number(at(name)) + skip;
        return m.code.page(pa).traces[(pa & 4095) >>> 2];
      };
      expect(head('far', 4)).toBeTruthy();
      expect(head('hot', 0)).toBeTruthy();
    }
  });
});
