// LDTR/STTR and friends: unprivileged (EL0 permissions) at EL2 only in the VHE host
// (HCR_EL2.E2H=1, TGE=1); with TGE=0 or E2H=0 they are ordinary accesses. A page mapped
// for EL2 only (AP=00) and one also mapped for EL0 (AP=01) in the EL2&0 regime tell the two
// apart: an unprivileged access to the first is a permission fault. Run on QEMU and hypstep
// with identical output, and checked against the ARM ARM's fault syndrome.
import { describe, it, expect } from 'vitest';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assembleElf } from '../helpers/asm.js';
import { runQemu } from '../helpers/qemu.js';
import { runHypstep } from '../helpers/hypstep.js';
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

function program(): string {
  return `#include "virt.inc"
	.text
	.global _start
_start:
	adr x0, vectors
	msr vbar_el2, x0
	ldr x23, =hexdigits
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
	mov x20, x1
	bl puthex
	mov x20, x2
	bl puthex
	mov x20, x3
	bl puthex
	mov x20, x4
	bl puthex
	mov x20, x5
	bl puthex
	mov x20, x6
	bl puthex
	mov x20, x7
	bl puthex
	mov x20, x8
	bl puthex
	ldr x20, [x10, #16]
	bl puthex
	ldr x20, [x11]
	bl puthex
	mov x0, #0x18
	ldr x1, =exit_block
	hlt #0xf000

puthex:	// x20 as 16 hex digits and a newline; uses x22, x25
	mov x25, #60
1:	lsr x22, x20, x25
	and x22, x22, #15
	ldrb w22, [x23, x22]
	strb w22, [x24]
	subs x25, x25, #4
	b.ge 1b
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
	mrs x20, esr_el2
	bl puthex
	mrs x20, far_el2
	bl puthex
	mrs x20, elr_el2
	add x20, x20, #4
	msr elr_el2, x20
	mov x20, x26
	mov x30, x29
	eret

	.data
	.balign 4096
l1:	.quad 0x00000401              // 0-1 GiB: Device (the UART), EL2 only
	.quad l2 + 3                  // 1-2 GiB: a level-2 table
	.fill 510, 8, 0
l2:	.quad 0x40000705              // 0x4000_0000, 2 MiB: Normal, AP=00 (EL2 only)
	.quad 0x40200745              // 0x4020_0000, 2 MiB: Normal, AP=01 (EL0 too)
	.fill 510, 8, 0
hexdigits: .ascii "0123456789abcdef"
	.balign 8
exit_block: .quad 0x20026, 0
`;
}

describe('unprivileged loads and stores at EL2', () => {
  it('fault on an EL2-only page exactly in the VHE host with TGE=1, on QEMU and hypstep alike', () => {
    const dir = mkdtempSync(join(tmpdir(), 'hypstep-lsu-'));
    try {
      const elf = join(dir, 'u.elf');
      writeFileSync(elf, assembleElf(program()));
      const q = runQemu(elf);
      const h = runHypstep(elf);
      expect(h.stop).toBe('exit');
      // ESR lines as the ARM ARM has them (QEMU sets ISV for stage-1 aborts at EL2: see armArmEsrLine).
      expect(h.stdout.split('\n')).toEqual(q.stdout.split('\n').map(armArmEsrLine));
      // By the ARM ARM: a level-2 permission fault (DFSC 0b001110), EC 0x25, IL=1, ISV=0 (stage 1),
      // WnR for the store; FAR the address.
      const lines = h.stdout.trim().split('\n');
      const faults = STEPS.filter(([, f]) => f !== 'ok');
      const pa = (s: string) => 0x4010_0000 + Number(/#(\d+)/.exec(s)?.[1] ?? 0);
      const want = faults.flatMap(([s, f]) => [
        (((0x25 << 26) | (1 << 25) | (f === 'fault-write' ? 1 << 6 : 0) | 0b001110) >>> 0).toString(16).padStart(16, '0'),
        pa(s).toString(16).padStart(16, '0'),
      ]);
      expect(lines.slice(0, 2 * faults.length)).toEqual(want);
      const regs = lines.slice(2 * faults.length);
      expect(regs).toEqual([
        '1122334455667788', '0000000000000000', '0000000000000000', '1122334455660088', '0000000000005566',
        '1122334455667788', '0000000000000000', '0000000000007788', '0000000000007788', '1122334455660088',
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
