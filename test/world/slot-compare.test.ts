// The residency checks' comparison of a register with its slot, on the forms the access path
// compares as 32-bit words: a register with a write mask (bits outside it may differ), a 64-bit
// register whose slots differ only in the high word, a 4-byte slot of a 64-bit register (its
// neighbour in memory and the register's high word are not compared), and a saved register handed
// back to the host before the put clears its flag (saved until the next load, not after); and a
// flag word stored whole and in part.
import { describe, expect, it } from 'vitest';
import { Machine } from '../../src/board/machine.js';
import { assemble } from '../helpers/asm.js';
import { World } from '../../src/world/world.js';
import { parseLayout, bindLayout } from '../../src/world/layout.js';

// CSSELR_EL1 keeps bits [3:0]; TPIDR_EL0's slot is 4 bytes with 4 bytes of other data after it.
const LAYOUT = JSON.stringify({
  format: 'hypstep-vcpu-layout',
  version: 1,
  vcpus: [{ name: 'vcpu0', symbol: 'vcpu' }],
  sysregs: {
    CSSELR_EL1: { offset: 0 },
    TPIDR_EL1: { offset: 8 },
    TPIDR_EL0: { offset: 16, width: 4 },
  },
  flags: { LOADED: { offset: 24, mask: 1, governs: ['CSSELR_EL1', 'TPIDR_EL1', 'TPIDR_EL0'] } },
});

/** vcpu_load at EL2: the three registers from their slots, then the flag set (at `label`). */
function load(label: string): string {
  return `	ldr	x1, [x20]
	msr	csselr_el1, x1
	ldr	x1, [x20, #8]
	msr	tpidr_el1, x1
	ldr	w1, [x20, #16]
	msr	tpidr_el0, x1
	mov	x1, #1
${label}:
	str	x1, [x20, #24]`;
}

/** What the guest leaves: CSSELR_EL1 5 (written with bits its mask drops), 64-bit TPIDRs. */
const GUEST_RUNS = `	ldr	x1, =0xabcd000000000105
	msr	csselr_el1, x1
	ldr	x1, =0x123456789abcdef0
	msr	tpidr_el1, x1
	ldr	x1, =0xfeed000000000042
	msr	tpidr_el0, x1`;

function run(body: string, layoutText = LAYOUT): { w: World; sym: (n: string) => bigint } {
  const image = assemble(`.text
.global _start
_start:
	adr	x20, vcpu
${body}
__end:
	b	__end
	.balign 8
.global vcpu
vcpu:	.quad	3, 0x1111, 0x5555555500000007, 0
`);
  const m = new Machine({ memory: 64 * 1024 * 1024, uartOut: () => {} });
  m.load(image);
  const sym = (n: string) => image.symbols.find((s) => s.name === n)!.value;
  const w = new World(m.pes).attach();
  w.checking = true;
  const layout = parseLayout(layoutText);
  w.bind(
    layout,
    bindLayout(layout, { symbol: (n) => m.symbol(n), phys: Number, pointer: () => 0n, peOffset: () => 0n }),
  );
  m.cpu.debug.breakpoints.add(sym('__end'));
  for (let i = 0; i < 20; i++) {
    const r = m.run(100_000);
    if (r.kind === 'breakpoint') return { w, sym };
    if (r.kind !== 'requested') throw new Error(`stopped: ${r.kind}`);
  }
  throw new Error('did not reach __end');
}

const hazards = (w: World) => w.recent.hazards.toArray().map((h) => [h.kind, h.reg, h.pc, h.memory, h.cpu]);

describe('residency checks compare registers with their slots', () => {
  it('a put that saves every register is clean: bits outside the write mask, a 4-byte slot', () => {
    const { w, sym } = run(`${load('load_flag')}
${GUEST_RUNS}
	mrs	x1, csselr_el1
	orr	x1, x1, #0x100
	str	x1, [x20]
	mrs	x1, tpidr_el1
	str	x1, [x20, #8]
	mrs	x1, tpidr_el0
	str	w1, [x20, #16]
put_flag:
	str	xzr, [x20, #24]`);
    expect(hazards(w)).toEqual([]);
    expect(w.recent.loadPut.toArray().map((r) => [r.type, r.pc])).toEqual([
      ['load', sym('load_flag')],
      ['put', sym('put_flag')],
    ]);
    const rows = w.residency(w.vcpu('vcpu0')!).map((r) => [r.reg, r.authority, r.memory, r.verdict]);
    expect(rows).toEqual([
      ['CSSELR_EL1', 'memory', 0x105n, 'in sync'],
      ['TPIDR_EL1', 'memory', 0x123456789abcdef0n, 'in sync'],
      ['TPIDR_EL0', 'memory', 0x42n, 'in sync'],
    ]);
  });

  it('a value differing only in the high word is a lost write; a register not saved, a partial put', () => {
    const { w, sym } = run(`${load('load_flag')}
${GUEST_RUNS}
	ldr	x1, =0x223456789abcdef0
lost:
	str	x1, [x20, #8]
	mrs	x1, tpidr_el0
	str	w1, [x20, #16]
put_flag:
	str	xzr, [x20, #24]`);
    expect(hazards(w)).toEqual([
      ['lost-write', 'TPIDR_EL1', sym('lost'), 0x223456789abcdef0n, 0x123456789abcdef0n],
      ['partial-put', 'CSSELR_EL1', sym('put_flag'), 3n, 5n],
      ['partial-put', 'TPIDR_EL1', sym('put_flag'), 0x223456789abcdef0n, 0x123456789abcdef0n],
    ]);
  });

  it("a register saved and handed back to the host before the put is saved until the flag's next load", () => {
    // Both puts give TPIDR_EL0 back to the host (0x99) before clearing the flag; only the first saved it.
    const { w, sym } = run(`${load('load1')}
${GUEST_RUNS}
	mrs	x1, csselr_el1
	str	x1, [x20]
	mrs	x1, tpidr_el1
	str	x1, [x20, #8]
	mrs	x1, tpidr_el0
	str	w1, [x20, #16]
	mov	x1, #0x99
	msr	tpidr_el0, x1
put1:
	str	xzr, [x20, #24]
${load('load2')}
	mrs	x1, csselr_el1
	str	x1, [x20]
	mrs	x1, tpidr_el1
	str	x1, [x20, #8]
	mov	x1, #0x99
	msr	tpidr_el0, x1
put2:
	str	xzr, [x20, #24]`);
    expect(w.recent.loadPut.toArray().map((r) => r.pc)).toEqual([sym('load1'), sym('put1'), sym('load2'), sym('put2')]);
    expect(hazards(w)).toEqual([['partial-put', 'TPIDR_EL0', sym('put2'), 0x42n, 0x99n]]);
  });

  it('a flag changes with the bit its mask selects, stored with the whole word or a byte of it', () => {
    // LOADED is bit 8 of a 4-byte word: storing other bits changes nothing.
    const layout = JSON.stringify({
      ...JSON.parse(LAYOUT),
      flags: { LOADED: { offset: 24, width: 4, mask: '0x100', governs: ['CSSELR_EL1'] } },
    });
    const { w, sym } = run(
      `${load('other_bit')}
	mov	w1, #1
byte_store:
	strb	w1, [x20, #25]
	mov	w1, #0x101
	str	w1, [x20, #24]
	mov	w1, #0x1
word_store:
	str	w1, [x20, #24]`,
      layout,
    );
    expect(w.recent.loadPut.toArray().map((r) => [r.type, r.pc])).toEqual([
      ['load', sym('byte_store')],
      ['put', sym('word_store')],
    ]);
    expect(hazards(w)).toEqual([]);
  });
});
