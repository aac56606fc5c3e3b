// Watched physical memory (Cpu.watchPhys, the world layer's vcpu contexts): each access that
// touches watched bytes raises one event with its PA, VA, size, direction, the value loaded or
// stored (its `size` bytes) and the bytes' old value, and the PC of the instruction. Accesses to
// unwatched bytes of the same page raise none; page-crossing accesses are split into bytes.
import { describe, expect, it } from 'vitest';
import { Machine } from '../../src/board/machine.js';
import type { MemoryAccessed } from '../../src/cpu/events.js';
import { assemble, program } from '../helpers/asm.js';
import { copyAccess } from '../helpers/events.js';
import { EL2_MMU_ON, el2Tables } from './loadstore-harness.js';

const X1 = 0x8877_6655_4433_2211n;
const X2 = 0xffee_ddcc_bbaa_9988n;

const SOURCE = program(`${EL2_MMU_ON}
	ldr	x9, =buf
	add	x10, x9, #4096
	movq	x1, ${X1}
	movq	x2, ${X2}
a_str:	str	x1, [x9, #8]
a_ldr:	ldr	x3, [x9, #8]
a_strb:	strb	w2, [x9, #12]
a_ldrh:	ldrh	w4, [x9, #14]
a_strw:	str	w1, [x9, #20]
	ldr	w5, [x9, #16]			// unwatched bytes of the page
a_stp:	stp	x1, x2, [x9, #32]
a_ldp:	ldp	x6, x7, [x9, #32]
a_cross_st: str	x2, [x10, #-4]			// across the page boundary
a_cross_ld: ldr	x8, [x10, #-4]
	str	x1, [x9, #96]			// watched once, no longer
	str	x1, [x10, #64]			// likewise, on a page watched again since
	POWER_OFF
	.ltorg

	.balign 2048
vectors:
	.fill	512, 4, 0xd4200000

${el2Tables(['0x40000705', '0x40200705'])}	.balign 4096
buf:	.fill 2 * 4096, 1, 0
`);

describe('watched memory', () => {
  it('raises an event per access to watched bytes, with the values a plain reading of the access gives', () => {
    const img = assemble(SOURCE);
    const at = (name: string) => img.symbols.find((s) => s.name === name)!.value;
    const m = new Machine({ uartOut: () => {}, consoleOut: () => {} });
    m.load(img);
    const buf = Number(at('buf'));
    const cpu = m.cpu;
    cpu.watchPhys(buf + 8, 8);
    cpu.watchPhys(buf + 12, 2); // overlapping, then removed: bytes 12 and 13 stay watched by the first
    cpu.unwatchPhys(buf + 12, 2);
    cpu.watchPhys(buf + 22, 2);
    cpu.watchPhys(buf + 40, 8);
    cpu.watchPhys(buf + 4096 + 64, 8); // the second page's only range, gone before the next comes
    cpu.unwatchPhys(buf + 4096 + 64, 8);
    cpu.watchPhys(buf + 4094, 4);
    cpu.watchPhys(buf + 100, 4);
    cpu.unwatchPhys(buf + 100, 4);
    const seen: MemoryAccessed[] = [];
    cpu.observer = { memoryAccessed: (e) => seen.push(copyAccess(e)) };
    expect(m.run(1_000_000).kind).toBe('exit');

    // What each access reads or writes, from the registers and the bytes as the program leaves them.
    const byte = (v: bigint, i: number) => (v >> BigInt(8 * i)) & 0xffn;
    const ev = (label: string, off: number, size: number, write: boolean, value: bigint, before: bigint) => ({
      pa: buf + off,
      va: BigInt(buf + off),
      size,
      write,
      value,
      before,
      pc: at(label),
    });
    const crossing = (label: string, write: boolean) =>
      [2, 3, 4, 5].map((i) => ev(label, 4092 + i, 1, write, byte(X2, i), write ? 0n : byte(X2, i)));
    expect(seen).toEqual([
      ev('a_str', 8, 8, true, X1, 0n),
      ev('a_ldr', 8, 8, false, X1, X1),
      ev('a_strb', 12, 1, true, byte(X2, 0), byte(X1, 4)),
      ev('a_ldrh', 14, 2, false, (byte(X1, 7) << 8n) | byte(X1, 6), (byte(X1, 7) << 8n) | byte(X1, 6)),
      ev('a_strw', 20, 4, true, X1 & 0xffff_ffffn, 0n),
      ev('a_stp', 40, 8, true, X2, 0n),
      ev('a_ldp', 40, 8, false, X2, X2),
      ...crossing('a_cross_st', true),
      ...crossing('a_cross_ld', false),
    ]);
    expect([cpu.x[3], cpu.x[4], cpu.x[8]]).toEqual([X1, 0x8877n, X2]);
  });
});
