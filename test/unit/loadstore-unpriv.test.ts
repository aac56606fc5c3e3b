// LDTR/STTR and friends: always unprivileged (EL0 permissions) at EL1; at EL2 only in the
// VHE host (HCR_EL2.E2H=1, TGE=1), and ordinary accesses with TGE=0 or E2H=0. A page
// mapped for privileged accesses only (AP=00) and one also mapped for EL0 (AP=01) tell
// the two apart: an unprivileged access to the first is a permission fault. Each program
// runs on QEMU and hypstep with identical output, checked against the ARM ARM's syndrome.
import { describe, it, expect } from 'vitest';
import { program } from '../helpers/asm.js';
import { runSourceOnBoth } from '../helpers/both.js';
import { armArmEsrLine } from './loadstore-harness.js';

// x10: a privileged-only page, x11: a page EL0 may read and write.
const STEPS: [string, 'fault-read' | 'fault-write' | 'ok'][] = [
  ['ldr x1, [x10]', 'ok'],
  ['ldtr x2, [x10]', 'fault-read'],
  ['sttr x2, [x10, #8]', 'fault-write'],
  ['ldtrsw x3, [x10, #4]', 'fault-read'],
  ['sttrb w3, [x11, #1]', 'ok'],
  ['ldtr x4, [x11]', 'ok'],
  ['ldtrh w5, [x11, #2]', 'ok'],
  // HCR_EL2.TGE = 0: still the EL2&0 regime, but LDTR is an ordinary access at EL2.
  ['msr hcr_el2, x21', 'ok'],
  ['isb', 'ok'],
  ['ldtr x6, [x10]', 'ok'],
  ['sttrh w6, [x10, #16]', 'ok'],
  // back to TGE = 1
  ['msr hcr_el2, x20', 'ok'],
  ['isb', 'ok'],
  ['ldtr x7, [x10, #8]', 'fault-read'],
  ['ldr x8, [x10, #16]', 'ok'],
];

/**
 * The end of both programs: print `regs` (one per line, through x20), exit through
 * semihosting; puthex; and a vector table at EL`el` whose synchronous handler (current EL,
 * SPx) prints ESR and FAR and resumes after the instruction, keeping x20. Then the
 * translation tables (EL2&0 or EL1&0: the same descriptors).
 */
function ending(regs: string[], el: 1 | 2): string {
  return `${regs.map((r) => `${r.startsWith('[') ? 'ldr' : 'mov'} x20, ${r}\n\tbl puthex`).join('\n\t')}
	SEMIHOSTING_EXIT

puthex:	// x20 as 16 hex digits and a newline; uses x22, x23, x25
	UART_HEX 24, 20, 25, 22, 23
	mov w22, #10
	strb w22, [x24]
	ret

	.balign 2048
vectors:
	.fill 128, 4, 0xd4200000
	b handler                     // 0x200: current EL with SPx, synchronous
handler:
	mov x29, x30
	mov x26, x20
	mrs x20, esr_el${el}
	bl puthex
	mrs x20, far_el${el}
	bl puthex
	mrs x20, elr_el${el}
	add x20, x20, #4
	msr elr_el${el}, x20
	mov x20, x26
	mov x30, x29
	eret

	.data
	.balign 4096
l1:	.quad 0x00000401              // 0-1 GiB: Device (the UART), privileged only
	.quad l2 + 3                  // 1-2 GiB: a level-2 table
	.fill 510, 8, 0
l2:	.quad 0x40000705              // 0x4000_0000, 2 MiB: Normal, AP=00 (privileged only)
	.quad 0x40200745              // 0x4020_0000, 2 MiB: Normal, AP=01 (EL0 too)
	.fill 510, 8, 0
`;
}

/** At EL1 (EL1&0 regime, the same tables): LDTR/STTR always unprivileged. */
const EL1_STEPS: [string, 'fault-read' | 'fault-write' | 'ok'][] = [
  ['ldr x1, [x10]', 'ok'],
  ['ldtr x2, [x10]', 'fault-read'],
  ['sttrb w1, [x10, #24]', 'fault-write'],
  ['ldtrsb x3, [x11, #7]', 'ok'],
  ['sttr w1, [x11, #8]', 'ok'],
  ['ldtr x4, [x11, #8]', 'ok'],
  ['str x1, [x10, #32]', 'ok'],
  ['ldr x5, [x10, #32]', 'ok'],
];

function el1Program(): string {
  return program(`	ldr x24, =UART_BASE
	ldr x0, =0xff00
	msr mair_el1, x0
	ldr x0, =(25 | (1 << 8) | (1 << 10) | (3 << 12) | (1 << 23) | (2 << 32))
	msr tcr_el1, x0
	ldr x0, =l1
	msr ttbr0_el1, x0
	adr x0, vectors
	msr vbar_el1, x0
	ldr x0, =0x30d01805           // SCTLR_EL1: RES1, SPAN, M, C, I
	msr sctlr_el1, x0
	ldr x0, =(1 << 31)            // HCR_EL2: RW; no stage 2
	msr hcr_el2, x0
	mov x0, #0x3c5                // EL1h
	msr spsr_el2, x0
	adr x0, el1
	msr elr_el2, x0
	isb
	eret
el1:
	ldr x10, =0x40100000
	ldr x11, =0x40200000
	ldr x0, =0x1122334455667788
	str x0, [x10]
	ldr x0, =0x8877665544332211
	str x0, [x11]
${EL1_STEPS.map(([st]) => `\t${st}`).join('\n')}
	${ending(['x1', 'x2', 'x3', 'x4', 'x5'], 1)}`);
}

function el2Program(): string {
  return program(`	adr x0, vectors
	msr vbar_el2, x0
	ldr x24, =UART_BASE
	ldr x0, =0xff00               // MAIR: attr0 Device-nGnRnE, attr1 Normal write-back
	msr mair_el2, x0
	// TCR_EL2 in the E2H=1 layout: T0SZ=25, IRGN0/ORGN0 WB, SH0 inner, TG0 4K, EPD1, IPS 40 bits
	ldr x0, =(25 | (1 << 8) | (1 << 10) | (3 << 12) | (1 << 23) | (2 << 32))
	msr tcr_el2, x0
	ldr x0, =l1
	msr ttbr0_el2, x0
	ldr x20, =((1 << 34) | (1 << 31) | (1 << 27))   // HCR_EL2: E2H, RW, TGE
	ldr x21, =((1 << 34) | (1 << 31))               // E2H, RW
	msr hcr_el2, x20
	isb
	ldr x0, =0x30c51835           // SCTLR_EL2: M, C, I (SPAN set: PSTATE.PAN stays 0)
	msr sctlr_el2, x0
	isb
	ldr x10, =0x40100000
	ldr x11, =0x40200000
	ldr x0, =0x1122334455667788
	str x0, [x10]
	str x0, [x11]
	ldr x0, =0x8877665544332211
	str x0, [x10, #8]
${STEPS.map(([s]) => `\t${s}`).join('\n')}
	${ending(['x1', 'x2', 'x3', 'x4', 'x5', 'x6', 'x7', 'x8', '[x10, #16]', '[x11]'], 2)}`);
}

/**
 * The ESR and FAR lines the faulting steps print, by the ARM ARM: a level-2 permission fault
 * (DFSC 0b001110), EC 0x25, IL=1, ISV=0 (stage 1), WnR for a store; FAR the address (x10's page,
 * 0x4010_0000, plus the step's offset; VA = PA here).
 */
function faultLines(steps: typeof STEPS): string[] {
  const hex = (v: number) => v.toString(16).padStart(16, '0');
  return steps
    .filter(([, f]) => f !== 'ok')
    .flatMap(([st, f]) => [
      hex(((0x25 << 26) | (1 << 25) | (f === 'fault-write' ? 1 << 6 : 0) | 0b001110) >>> 0),
      hex(0x4010_0000 + Number(/#(\d+)/.exec(st)?.[1] ?? 0)),
    ]);
}

describe('unprivileged loads and stores', () => {
  it('fault on a privileged-only page at EL2 exactly in the VHE host with TGE=1, on QEMU and hypstep alike', () => {
    const { qemu: q, hypstep: h } = runSourceOnBoth(el2Program());
    expect(h.stop).toBe('exit');
    // ESR lines as the ARM ARM has them (QEMU sets ISV for stage-1 aborts at EL2: see armArmEsrLine).
    expect(h.stdout.split('\n')).toEqual(q.stdout.split('\n').map(armArmEsrLine));
    const lines = h.stdout.trim().split('\n');
    const want = faultLines(STEPS);
    expect(lines.slice(0, want.length)).toEqual(want);
    expect(lines.slice(want.length)).toEqual([
      '1122334455667788',
      '0000000000000000',
      '0000000000000000',
      '1122334455660088',
      '0000000000005566',
      '1122334455667788',
      '0000000000000000',
      '0000000000007788',
      '0000000000007788',
      '1122334455660088',
    ]);
  });

  it('fault on a privileged-only page at EL1, where they are always unprivileged', () => {
    const { qemu: q, hypstep: h } = runSourceOnBoth(el1Program());
    expect(h.stop).toBe('exit');
    expect(h.stdout).toBe(q.stdout);
    const lines = h.stdout.trim().split('\n');
    const want = faultLines(EL1_STEPS);
    expect(lines.slice(0, want.length)).toEqual(want);
    expect(lines.slice(want.length)).toEqual([
      '1122334455667788',
      '0000000000000000',
      'ffffffffffffff88',
      '0000000055667788',
      '1122334455667788',
    ]);
  });
});
