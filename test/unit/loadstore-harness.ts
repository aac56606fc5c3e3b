// Runs an assembled snippet at EL2 with a vector table that logs every synchronous
// exception (ESR_EL2, FAR_EL2, ELR_EL2) and resumes after the faulting instruction, so
// one snippet can exercise many loads and stores, faulting ones included.
// Registers x26 and x27 belong to the harness.
import { assemble } from '../helpers/asm.js';
import { Machine } from '../../src/board/machine.js';
import type { PeStop } from '../../src/cpu/cpu.js';

export interface Taken {
  esr: number;
  far: bigint;
  elr: bigint;
}

export interface Regs {
  x(n: number): bigint;
  sp: bigint;
}

export interface LsRun {
  machine: Machine;
  /** Registers at the end. */
  x(n: number): bigint;
  /** Registers when execution reached the label `snap_<name>`. */
  snap(name: string): Regs;
  /** `bytes` bytes of memory at a symbol (plus offset), little-endian, as one value. */
  mem(sym: string, offset: number, bytes: number): bigint;
  sym(name: string): bigint;
  /** The exceptions taken, in order. */
  taken: Taken[];
}

export const HEAD = `
	adr x27, __log
	adr x26, __vectors
	msr vbar_el2, x26
`;

export const TAIL = `
	.pushsection .text.vectors, "ax"
	.balign 2048
__vectors:
	.fill 128, 4, 0xd4200000 // brk #0: only the current-EL SPx synchronous vector is expected
	mrs x26, esr_el2
	str x26, [x27], #8
	mrs x26, far_el2
	str x26, [x27], #8
	mrs x26, elr_el2
	str x26, [x27], #8
	add x26, x26, #4
	msr elr_el2, x26
	eret
	.popsection
	.pushsection .data.log, "aw"
	.balign 16
__log: .fill 96, 8, 0
	.popsection
`;

/**
 * Runs `body` at EL2 (it may switch sections, but must end in .text) until it falls
 * off its end, snapshotting the registers at every label named `snap_<name>`. `prepare`
 * sees the loaded machine before it runs; `otherStop` sees any other stop (a watchpoint),
 * after which the run goes on.
 */
export function runLs(
  body: string,
  budget = 1_000_000,
  prepare?: (m: Machine, sym: (name: string) => bigint) => void,
  otherStop?: (m: Machine, stop: PeStop) => void,
): LsRun {
  const image = assemble(
    `#include "virt.inc"\n.text\n.global _start\n_start:\n${HEAD}\n${body}\n\t.text\n__end:\n\tb __end\n${TAIL}`,
  );
  const m = new Machine({ memory: 64 * 1024 * 1024 });
  m.load(image);
  // Labels may share an address (a snapshot at the very end is also __end).
  const stops = new Map<bigint, string[]>();
  for (const s of image.symbols) {
    if (s.name === '__end' || s.name.startsWith('snap_')) stops.set(s.value, [...(stops.get(s.value) ?? []), s.name]);
  }
  for (const pc of stops.keys()) m.cpu.debug.breakpoints.add(pc);
  const sym = (name: string): bigint => {
    const s = image.symbols.find((e) => e.name === name);
    if (s === undefined) throw new Error(`no symbol ${name}`);
    return s.value;
  };
  prepare?.(m, sym);
  const snaps = new Map<string, Regs>();
  let r: PeStop = m.run(budget);
  for (;;) {
    const names = r.kind === 'breakpoint' ? stops.get(r.pc) : undefined;
    if (names === undefined && otherStop !== undefined && r.kind !== 'budget') {
      otherStop(m, r);
      r = m.cpu.run(budget);
      continue;
    }
    if (names === undefined)
      throw new Error(
        `snippet stopped unexpectedly: ${JSON.stringify(r, (_, v: unknown) => (typeof v === 'bigint' ? v.toString(16) : v))}`,
      );
    const x = m.cpu.x.slice();
    const sp = m.cpu.getSp();
    for (const n of names) if (n !== '__end') snaps.set(n.slice(5), { x: (i) => x[i]!, sp });
    if (names.includes('__end')) break;
    r = m.cpu.run(budget, true);
  }
  const read = (pa: bigint, bytes: number): bigint => {
    let v = 0n;
    for (let i = bytes - 1; i >= 0; i--) v = (v << 8n) | m.bus.read(Number(pa) + i, 1);
    return v;
  };
  const log = sym('__log');
  const count = Number(m.cpu.x[27]! - log) / 24;
  const taken: Taken[] = [];
  for (let i = 0; i < count; i++) {
    const at = log + BigInt(24 * i);
    taken.push({ esr: Number(read(at, 8)), far: read(at + 8n, 8), elr: read(at + 16n, 8) });
  }
  return {
    machine: m,
    x: (n) => m.cpu.x[n]!,
    mem: (s, off, bytes) => read(sym(s) + BigInt(off), bytes),
    sym,
    taken,
    snap: (name) => {
      const s = snaps.get(name);
      if (s === undefined) throw new Error(`the snippet never reached snap_${name}`);
      return s;
    },
  };
}

/** The data the tests load from: known bytes, a literal, a store buffer, a stack. */
export const DATA = `
	.data
	.balign 16
data:
	.quad 0x8877665544332211   // +0
	.quad 0x00f0e0d0c0b0a090   // +8
	.quad 0x7fffffff80000000   // +16
	.quad 0x0123456789abcdef   // +24
lit_w:	.word 0x89abcdef
	.balign 16
buf:	.fill 96, 1, 0xff
	.balign 16
	.fill 256, 1, 0
stack_top:
	.text
`;

/** ESR_EL2 values at EL2 (IL=1). */
export const ESR = {
  UNDEFINED: 0x0200_0000,
  SP_ALIGN: ((0x26 << 26) | (1 << 25)) >>> 0,
  /** Data abort taken without a change in EL, alignment fault (DFSC 0x21); WnR for writes. */
  alignment: (write: boolean): number => ((0x25 << 26) | (1 << 25) | (write ? 1 << 6 : 0) | 0x21) >>> 0,
} as const;

/**
 * QEMU 7.2 reports an instruction syndrome (ISV=1, ISS[24:14]) for every data abort taken to
 * EL2, stage-1 ones included (QEMU issue #1057); the ARM ARM gives ESR_EL2 an ISV of 1 only
 * for stage-2 aborts. A data abort taken from EL2 to EL2 (EC 0x25) is never a stage-2 one, so
 * the ARM ARM's ESR is QEMU's with ISS[24:14] cleared: this maps a printed ESR (16 hex digits)
 * to it and leaves every other line alone.
 */
export function armArmEsrLine(line: string): string {
  const m = /^(E?)([0-9a-f]{16})$/.exec(line);
  if (m === null || Number.parseInt(m[2]!, 16) >>> 26 !== 0x25) return line;
  return `${m[1]}${(BigInt(`0x${m[2]}`) & ~0x01ff_c000n).toString(16).padStart(16, '0')}`;
}

/**
 * The start of a program that runs with the EL2 MMU on: vectors at `vectors`, an identity map whose
 * level-1 table the program defines at `l1_table` (MAIR attr0 Device-nGnRnE, attr1 Normal write-back),
 * so that unaligned accesses to RAM are architecturally permitted; x24 holds the UART's address.
 */
export const EL2_MMU_ON = `	adr x0, vectors
	msr vbar_el2, x0
	ldr x0, =0xff00              // MAIR_EL2: attr0 Device-nGnRnE, attr1 Normal write-back
	msr mair_el2, x0
	ldr x0, =(25 | (1 << 8) | (1 << 10) | (3 << 12) | (2 << 16) | (1 << 23) | (1 << 31))
	msr tcr_el2, x0              // 39-bit VA, 4 KiB granule, walk starts at level 1
	ldr x0, =l1_table
	msr ttbr0_el2, x0
	isb
	ldr x0, =0x30c51835          // SCTLR_EL2: RES1 bits, M, C, I; A=0, SA=0
	msr sctlr_el2, x0
	isb
	ldr x24, =UART_BASE`;

/**
 * The tables EL2_MMU_ON walks (in .data): the UART's gigabyte, then RAM's in 2 MiB blocks whose
 * descriptors are `blocks` (0x40000705: Normal memory at 0x4000_0000, AF), the rest unmapped.
 */
export function el2Tables(blocks: string[]): string {
  return `	.data
	.balign 4096
l1_table:
	.quad 0x00000401
	.quad l2_table + 3
	.fill 510, 8, 0
l2_table:
${blocks.map((b) => `\t.quad ${b}`).join('\n')}
	.fill ${512 - blocks.length}, 8, 0
`;
}

/** Prints the quads from `from` up to `to` (assembler expressions), one a line; uses x19, x25. */
export function printQuads(from: string, to: string): string {
  return `	ldr x19, =${from}
	ldr x25, =${to}
1:	ldr x20, [x19], #8
	bl puthex
	bl newline
	cmp x19, x25
	b.lo 1b`;
}

/** `dump`'s body for printing X0 to X<n-1>, one a line. */
export function printRegs(n: number): string {
  return [...Array(n).keys()].map((i) => `\tmov x20, x${i}\n\tbl puthex\n\tbl newline`).join('\n');
}

/**
 * The printing runtime of the programs compared with QEMU over the UART (x24 = its address): `puthex`
 * (x20 as 16 hex digits; uses x21-x23), `newline`, `dump` (the `body` given, which may call both;
 * x29 holds the return address) and the EL2 vectors whose current-EL synchronous handler prints
 * 'E', ESR and ELR (and FAR for a data abort) and resumes after the instruction.
 */
export function printing(dumpBody: string): string {
  return `puthex:	// x20 as 16 hex digits; uses x21, x22, x23
	UART_HEX 24, 20, 21, 22, 23
	ret
newline:
	mov w22, #10
	strb w22, [x24]
	ret
dump:
	mov x29, x30
${dumpBody}
	mov x30, x29
	ret

	.balign 2048
vectors:
	.fill 128, 4, 0xd4200000
	b handler
handler:	// 'E' ESR ELR [FAR for data aborts], then resume after the instruction
	mov x29, x30
	mov w22, #'E'
	strb w22, [x24]
	mrs x20, esr_el2
	bl puthex
	bl newline
	mrs x20, elr_el2
	bl puthex
	bl newline
	mrs x20, esr_el2
	lsr x20, x20, #26
	cmp x20, #0x25
	b.ne 1f
	mrs x20, far_el2
	bl puthex
	bl newline
1:	mrs x20, elr_el2
	add x20, x20, #4
	msr elr_el2, x20
	mov x30, x29
	eret
`;
}
